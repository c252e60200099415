"""Borrowers' objections (异议) to records and blacklist entries, with the deadline the
Disputes contract keeps: filing, answers, regulators' rulings, and the regulator's SLA view.

Importing the package has every event index keep the objections' derived table in step
(projection.py), so no index can be made that leaves it behind.
"""

from node.chain.index import register_projection
from node.disputes.projection import DISPUTES_PROJECTION

register_projection(DISPUTES_PROJECTION)
