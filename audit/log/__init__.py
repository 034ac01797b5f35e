"""The log itself: technologies and their policies, agencies, operators, integrations, the
append-only query log and its outcomes, and the one service that records queries.

May import: `audit.flags` (flags new entries), `audit.transparency` (appends to the tree),
`sightline_verifier` (the canonical leaf). Never `audit.workspace`, `audit.api`, `reports`.
"""
