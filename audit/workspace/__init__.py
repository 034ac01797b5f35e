"""The auditor workspace: searching the raw log, the review queue, random samples, reviews,
exports, and the record of who looked at what. Pages only, for auditors and administrators.

May import: every other package of `audit`. Nothing in `audit` imports it but `audit.urls`.
"""
