"""The consortium as this node sees it: members, roles and governance, read from the chain."""
