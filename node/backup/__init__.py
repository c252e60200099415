"""Backups of a node and their restore."""
