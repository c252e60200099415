"""Staff access inside one node: accounts with roles, bearer tokens kept only as hashes,
lockout after repeated failures, and the append-only operator log."""
