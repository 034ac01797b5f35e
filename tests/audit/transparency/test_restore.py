"""A database restored from a backup older than the latest published head (issue 8, "Restore").

The published heads live in the database, so a restored database loses them too. Each head is
therefore also written, once committed, to a witness file outside the database, beside the
signing key (`SIGHTLINE_WITNESS_FILE`); verify_log checks the database against it, and
publishing refuses to sign a head that would fork from it. Restores are simulated as in
test_verify_log: rows deleted past the triggers and the state row put back as it was.
"""

import base64
import json
import stat
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from sightline_verifier.errors import VerificationFailed
from sightline_verifier.jsonapi import verify

from audit.log.db import create_append_only_triggers, drop_append_only_triggers
from audit.models import LogState, MerkleNode, SignedTreeHead
from audit.transparency import selectors, services, signing
from audit.transparency.verification import LogVerificationError, verify_log
from tests.audit.transparency.test_verifier_against_server import DjangoLogClient
from tests.audit.transparency.test_verify_log import delete_entries, execute, q, record


@pytest.fixture
def publish(django_capture_on_commit_callbacks):
    """Publish a head and run its on-commit work (the witness write), as a real commit would."""

    def _publish() -> SignedTreeHead:
        with django_capture_on_commit_callbacks(execute=True):
            head = services.publish_tree_head(force=True)
        assert head is not None
        return head

    return _publish


def witness() -> dict:
    return json.loads(signing.witness_path().read_text())


def restore_to(size: int, state: dict) -> None:
    """Put the database back as a backup taken at `size` entries would have it."""
    drop_append_only_triggers(connection)  # rolled back with the test's transaction
    delete_entries("sequence >= %s", [size])
    for level, index in MerkleNode.objects.values_list("level", "index"):
        if (index + 1) << level > size:
            sql = f"DELETE FROM audit_merklenode WHERE {q('level')} = %s AND {q('index')} = %s"
            execute(sql, [level, index])
    execute("DELETE FROM audit_signedtreehead WHERE tree_size > %s", [size])
    LogState.objects.filter(id=1).update(**state)
    create_append_only_triggers(connection)


def fails(pattern: str) -> str:
    with pytest.raises(LogVerificationError, match=pattern) as raised:
        verify_log()
    with pytest.raises(CommandError) as command_error:
        call_command("verify_log", "--no-progress", stdout=StringIO(), stderr=StringIO())
    assert str(command_error.value) == f"FAILED: {raised.value}"
    return str(raised.value)


@pytest.fixture
def restored(integration, publish):
    """Heads at 8 and 12 published; the database then restored from the backup taken at 8."""
    record(integration, 8)
    publish()
    backup = LogState.objects.values("size", "frontier").get(id=1)
    record(integration, 4)
    latest = publish()
    assert witness()["tree_size"] == 12
    restore_to(8, backup)
    assert LogState.objects.get(id=1).size == 8
    assert list(SignedTreeHead.objects.values_list("tree_size", flat=True)) == [8]
    return latest


# --- the witness file --------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_committed_head_is_written_to_the_witness_file_with_mode_0600(integration, publish):
    path = signing.witness_path()
    assert path == settings.SIGHTLINE_WITNESS_FILE and not path.exists()
    record(integration, 3)
    services.publish_tree_head()  # not committed yet (the test's transaction): no witness
    assert not path.exists()

    record(integration, 2)
    head = publish()
    assert witness() == {
        "tree_size": 5,
        "root_hash": head.root_hash,
        "timestamp": head.timestamp,
        "signature": head.signature,
        "key_id": signing.key_id(),
    }
    assert signing.verify_tree_head(witness(), signing.public_key_raw())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lock = path.with_name(path.name + ".lock")
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(
        [lock.name, path.name]
    )  # no temp

    # It never goes back to a smaller head (two publishers committing out of order).
    older = SignedTreeHead.objects.get(tree_size=3)
    assert not signing.write_witness({f: getattr(older, f) for f in signing.WITNESS_FIELDS})
    assert witness()["tree_size"] == 5


@pytest.mark.django_db
def test_the_witness_file_is_never_served(integration, publish, anon_client):
    record(integration, 2)
    publish()
    secret = witness()["signature"]
    for url in (
        "/latest-tree-head.json",
        "/static/latest-tree-head.json",
        "/var/latest-tree-head.json",
        "/media/latest-tree-head.json",
    ):
        response = anon_client.get(url)
        assert response.status_code == 404, url
    # The public API serves the head from the database, never by reading the file.
    signing.witness_path().write_text("not json")
    response = anon_client.get("/api/v1/log/tree-head")
    assert response.status_code == 200 and response.json()["signature"] == secret
    static_dirs = [str(d) for d in settings.STATICFILES_DIRS] + [str(settings.STATIC_ROOT)]
    assert not any(str(signing.witness_path()).startswith(d) for d in static_dirs)


@pytest.mark.django_db
def test_a_log_matching_its_witness_verifies(integration, publish):
    record(integration, 5)
    publish()
    record(integration, 6)
    publish()
    record(integration, 2)  # entries after the latest head are fine
    result = verify_log()
    assert (result.size, result.witness_size, result.heads_checked) == (13, 11, 2)
    out = StringIO()
    call_command("verify_log", "--no-progress", stdout=out, stderr=StringIO())
    assert out.getvalue() == f"OK: 13 entries, root {selectors.root_at(13).hex()}\n"


# --- restores ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_database_restored_from_an_older_backup_is_reported(restored):
    message = fails(r"^The database holds 8 entries but tree head 12 was published at ")
    assert restored.timestamp in message
    assert "it was restored from a backup older than that head. Published entries were lost." in (
        message
    )
    assert str(signing.witness_path()) in message


@pytest.mark.django_db
def test_no_head_is_signed_over_a_restored_database(restored, integration):
    record(integration, 2)  # new queries arrive at the restored database
    with pytest.raises(signing.WitnessConflict, match=r"^Not publishing: the database holds 10 "):
        services.publish_tree_head()
    # It grows past the lost head: its entries 8-11 differ from the lost ones.
    record(integration, 4)
    with pytest.raises(signing.WitnessConflict, match=r"^Not publishing: the log does not match"):
        services.publish_tree_head()
    assert witness()["tree_size"] == 12  # the evidence is kept
    fails(r"^The database's log does not match the published head of size 12 .*: entries were "
          r"changed or the database is another log\.$")  # fmt: skip


@pytest.mark.django_db
def test_another_log_signed_with_the_same_key_is_reported(integration, publish):
    """A witness of a different history (e.g. the database of another deployment)."""
    record(integration, 6)
    publish()
    forged = signing.sign_tree_head(tree_size=4, root_hash="ab" * 32)
    signing.witness_path().write_text(json.dumps(forged))
    fails(r"^The database's log does not match the published head of size 4 ")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        {"root_hash": "cd" * 32},
        {"tree_size": 7},
        {"signature": base64.b64encode(bytes(64)).decode()},
        {"key_id": "00" * 32},
    ],
)
def test_an_altered_witness_is_reported(integration, publish, change):
    record(integration, 6)
    publish()
    signing.witness_path().write_text(json.dumps({**witness(), **change}))
    fails(r"^The witness head in .* is not validly signed by this log's key")


@pytest.mark.django_db
@pytest.mark.parametrize("content", ["", "{", "[]", '{"tree_size": "5"}', '{"tree_size": 5}'])
def test_an_unreadable_witness_is_reported(integration, publish, content):
    record(integration, 2)
    publish()
    signing.witness_path().write_text(content)
    fails(r"^The witness file .* (cannot be read|does not hold a signed tree head)")


@pytest.mark.django_db
def test_the_public_verifier_catches_a_restore_from_a_saved_head(restored):
    """Anyone who saved head 12 (`--save`) sees the log shrink, or fork, after the restore."""
    saved = {f: getattr(restored, f) for f in signing.WITNESS_FIELDS}
    with pytest.raises(VerificationFailed, match=r"^consistency: the log shrank: .* 12 .* 8"):
        verify(DjangoLogClient(), previous=saved)


@pytest.mark.django_db
def test_the_public_verifier_catches_a_restored_log_that_grew_again(
    restored, integration, django_capture_on_commit_callbacks, settings, tmp_path
):
    record(integration, 6)
    # The operator ignores the witness (points it elsewhere) and publishes head 14.
    settings.SIGHTLINE_WITNESS_FILE = tmp_path / "elsewhere.json"
    with django_capture_on_commit_callbacks(execute=True):
        assert services.publish_tree_head().tree_size == 14
    saved = {f: getattr(restored, f) for f in signing.WITNESS_FIELDS}
    with pytest.raises(VerificationFailed, match=r"^consistency: the proof does not show"):
        verify(DjangoLogClient(), previous=saved)


# --- the key -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_missing_key_is_not_replaced_when_heads_were_published(
    integration, publish, settings, tmp_path
):
    record(integration, 2)
    publish()
    lost = tmp_path / "moved" / "signing_key.pem"
    settings.SIGHTLINE_SIGNING_KEY_FILE = lost
    with pytest.raises(signing.SigningKeyMissing, match=r"^The signing key .* is missing, but "):
        signing.public_key_raw()
    assert not lost.exists()
    message = fails(r"^The signing key .* is missing, but .* Restore the key file")
    assert str(lost) in message and str(signing.witness_path()) in message
    assert not lost.exists()


@pytest.mark.django_db
def test_a_new_deployment_still_creates_its_key(settings, tmp_path):
    settings.SIGHTLINE_SIGNING_KEY_FILE = tmp_path / "keys" / "signing_key.pem"
    assert not signing.witness_path().exists()
    assert len(signing.public_key_raw()) == 32
    assert stat.S_IMODE(settings.SIGHTLINE_SIGNING_KEY_FILE.stat().st_mode) == 0o600
