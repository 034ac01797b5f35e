"""The record of truth: the append-only, verifiable query log and everything that writes it."""
