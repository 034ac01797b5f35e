"""Sightline's log, checkable by anyone: the canonical leaf, the RFC 6962 tree and a verifier.

Standard library plus `cryptography`; never Django. The Sightline server imports `leaf` and
`merkle` from here, so the server and every verifier share one definition of both.
"""
