"""Checking what a member holds against the chain, trusting nothing else."""
