"""System checks of the transparency log's settings (run by every manage.py command)."""

from django.conf import settings
from django.core.checks import Error, register
from sightline_verifier.note import ED25519, NoteError, Verifier


@register()
def log_origin_is_a_key_name(app_configs=None, **kwargs) -> list[Error]:
    """SIGHTLINE_LOG_ORIGIN names the signing key, so it must be a valid note key name."""
    origin = settings.SIGHTLINE_LOG_ORIGIN
    try:
        Verifier(name=origin, key_type=ED25519, public_key=bytes(32))  # checks the name
    except NoteError as problem:
        return [
            Error(
                f"SIGHTLINE_LOG_ORIGIN {origin!r} cannot name the log's key: {problem}.",
                hint="Use a schema-less URL without spaces or '+', e.g. example.org/sightline.",
                id="audit.E101",
            )
        ]
    return []
