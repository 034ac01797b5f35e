"""Uploaded export files held between their preview and their import, then deleted.

An export holds raw plates, so it is never stored with the import: between the preview page
and the import the upload waits in a private directory (mode 0700) under the data directory,
is readable only by the user who uploaded it, and is deleted when the import ends, when the
user cancels, or an hour after upload, whichever comes first.
"""

import json
import secrets
import time
from pathlib import Path

from django.conf import settings

MAX_AGE_SECONDS = 3600
_TOKEN_LENGTH = 32


def _directory() -> Path:
    directory = Path(settings.SIGHTLINE_DATA_DIR) / "import-staging"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return directory


def _valid(token: str) -> bool:
    return len(token) == _TOKEN_LENGTH and all(c in "0123456789abcdef" for c in token)


def purge_stale() -> None:
    """Delete uploads older than MAX_AGE_SECONDS (abandoned previews)."""
    limit = time.time() - MAX_AGE_SECONDS
    for path in _directory().iterdir():
        try:
            if path.stat().st_mtime < limit:
                path.unlink(missing_ok=True)
        except FileNotFoundError:  # another request finished with it meanwhile
            continue


def stage(*, upload, user_id: int, options: dict, mapping_text: str) -> str:
    """Keep an uploaded file (a Django UploadedFile) for its import; returns its token."""
    purge_stale()
    token = secrets.token_hex(_TOKEN_LENGTH // 2)
    directory = _directory()
    path = directory / token
    with path.open("xb") as out:
        path.chmod(0o600)
        for chunk in upload.chunks():
            out.write(chunk)
    meta = {
        "user": user_id,
        "file_name": Path(upload.name or "export").name,
        "options": options,
        "mapping_text": mapping_text,
    }
    meta_path = directory / f"{token}.json"
    meta_path.write_text(json.dumps(meta))
    meta_path.chmod(0o600)
    return token


def staged(token: str, user_id: int) -> tuple[Path, dict] | None:
    """The staged file and what was said about it, if `token` is this user's and still held."""
    if not _valid(token):
        return None
    directory = _directory()
    path, meta_path = directory / token, directory / f"{token}.json"
    if not path.is_file() or not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    if meta.get("user") != user_id:
        return None
    return path, meta


def discard(token: str) -> None:
    if _valid(token):
        directory = _directory()
        (directory / token).unlink(missing_ok=True)
        (directory / f"{token}.json").unlink(missing_ok=True)
