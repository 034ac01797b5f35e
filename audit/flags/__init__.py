"""Policy flags: the compliance findings derived from an entry and the policy in force
(`rules`), and the writes that store and recompute them (`services`).

May import: `audit.log` models and signals. Never `audit.workspace`, `audit.api`, `reports`.
"""
