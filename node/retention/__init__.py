"""Retention: records expire on schedule and are erased by destroying their data keys."""

from node.chain.index import register_projection
from node.retention.clock import RETENTION_CLOCK

register_projection(RETENTION_CLOCK)
