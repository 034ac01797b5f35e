"""`python -m sightline_verifier`: the same command as `sightline-verify`."""

from sightline_verifier.cli import run

run()
