"""The transparency log: the Merkle tree's stored state, roots and proofs, signed tree heads
and the full verification of the stored log (verify_log).

May import: `audit.log` models, `sightline_verifier` (leaf and tree). Never `audit.log`'s
services (the log calls into this package, not the reverse), `audit.workspace`, `reports`.
"""
