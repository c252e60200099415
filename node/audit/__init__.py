"""The audit: a member's signed export of everything it anchored, and its check against the
chain alone (node/audit/core.py holds the per-record check; node/audit/service.py the rest)."""
