"""The two ways a check can end without a verdict of OK.

VerificationFailed is a verdict: the log, a checkpoint or a published count is wrong. FetchError
is not: a document could not be had, so nothing was judged. The command line keeps them apart
(exit status 1 and 2).
"""

from __future__ import annotations

__all__ = ["FetchError", "VerificationFailed"]


class VerificationFailed(Exception):
    """The log does not verify; the message names what failed (sequence, signature, root...)."""


class FetchError(Exception):
    """A document could not be fetched (network, HTTP error, not JSON); nothing was judged.

    ``status`` is the HTTP status when the server answered with an error (404 also for a file
    missing from a mirror), else None.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
