"""creditchain node: one process per member, sharing credit records over a permissioned chain."""
