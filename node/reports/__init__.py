"""The borrower's own report: what each member holds about their subject, free twice a year."""
