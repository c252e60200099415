"""Requests between member nodes: signed with the member key, checked against the chain."""
