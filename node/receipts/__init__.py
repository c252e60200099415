"""Receipts: what proves a record was anchored, and the verifier that checks one against
the chain alone."""
