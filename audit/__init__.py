"""The record of truth: the append-only, verifiable query log and everything that writes it.

One Django app in rooms, one concern each (docs/architecture.md draws them):
- `log`: the log itself (models, recording service, parsing of queries, append-only triggers);
- `transparency`: the Merkle tree's state, proofs, signed heads and verify_log;
- `flags`: policy findings on entries;
- `workspace`: the auditor's pages, reviews and exports;
- `api`: the machine API;
- `imports`: vendors' audit exports and their reconciliation with the log.
`models.py` lists every model for Django. The canonical leaf and the tree are defined once, in
the `sightline_verifier` package (verifier/), which the server imports. Nothing in `audit`
imports `reports`.
"""
