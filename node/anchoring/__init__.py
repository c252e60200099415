"""Taking pending commitments to the chain: the flow between the records store and the chain."""
