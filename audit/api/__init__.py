"""The machine API: integrations post queries and outcomes with hashed keys; anyone reads the
public log (leaves, heads, proofs). Thin DRF views over the other packages' services and
selectors, with their serializers, authentication and OpenAPI schema.

May import: `audit.log`, `audit.transparency`, `audit.flags`, `audit.workspace`'s search form.
"""
