"""A consortium on one machine: anvil and one node per member, and its commands."""
