"""Pure crypto: canonical JSON, subject keys, commitments, Merkle proofs, sealing at rest."""
