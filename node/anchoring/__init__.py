"""This member's log of commitments, of every kind, and taking it to the chain."""
