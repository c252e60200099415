"""The borrower's page: static files served at /borrower/, and what they ask the node."""
