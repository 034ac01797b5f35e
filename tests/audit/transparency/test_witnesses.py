"""Submitting checkpoints to witnesses (C2SP tlog-witness) and serving their cosignatures.

The witness here is a small one in a thread of the test process (tests/.../fake_witness.py),
reached over real HTTP; the verifier package's witness program has its own end-to-end tests.
"""

import base64
import logging
import re
import socket
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from sightline_verifier.checkpoint import open_checkpoint
from sightline_verifier.note import parse_vkey

from audit.models import Cosignature, SignedTreeHead, Witness
from audit.transparency import checkpoints, selectors, witnesses
from tests.audit.transparency.fake_witness import FakeWitness
from tests.audit.transparency.tlog import grow, log_verifier


@pytest.fixture
def clerk(db):
    with FakeWitness(checkpoints.verifier_key()) as fake:
        yield fake


def configure(fake: FakeWitness, *, vkey: str | None = None, **fields) -> Witness:
    return Witness.objects.create(
        name="City clerk",
        url=fake.url,
        vkey=vkey or fake.signer.cosignature_vkey,
        **fields,
    )


def latest() -> SignedTreeHead:
    return selectors.latest_tree_head()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/witness"


def test_a_witness_cosigns_and_the_checkpoint_carries_its_cosignature(client, integration, clerk):
    witness = configure(clerk)
    grow(integration, 5)
    outcome = witnesses.submit_checkpoint(witness=witness, head=latest())
    assert outcome.ok, outcome.problem
    assert clerk.requests[0].startswith(b"old 0\n\n")  # no proof from the empty tree
    stored = Cosignature.objects.get()
    assert (stored.witness, stored.tree_size) == (witness, 5)
    witness.refresh_from_db()
    assert (witness.cosigned_size, witness.last_error) == (5, "")
    assert witness.last_success_at is not None

    served = client.get("/tlog/checkpoint").content
    cosigner = parse_vkey(clerk.signer.cosignature_vkey)
    checkpoint, opened = open_checkpoint(served, [log_verifier(), cosigner])
    assert checkpoint.size == 5
    assert len(opened.verified) == 2
    assert opened.verified_by(cosigner).timestamp == clerk.time


def test_the_next_submission_carries_the_consistency_proof(integration, clerk):
    witness = configure(clerk)
    grow(integration, 5)
    witnesses.submit_checkpoint(witness=witness, head=latest())
    grow(integration, 12)
    witness.refresh_from_db()
    outcome = witnesses.submit_checkpoint(witness=witness, head=latest())
    assert outcome.ok, outcome.problem
    proof = [
        base64.b64encode(bytes.fromhex(h)).decode() for h in selectors.consistency_proof(5, 12)
    ]
    assert (
        clerk.requests[1].decode().startswith("old 5\n" + "".join(f"{p}\n" for p in proof) + "\n")
    )
    assert sorted(Cosignature.objects.values_list("tree_size", flat=True)) == [5, 12]


def test_a_witness_key_given_as_a_plain_ed25519_vkey_works(integration, clerk):
    witness = configure(clerk, vkey=clerk.signer.vkey)  # type 0x01, as some witnesses publish
    grow(integration, 3)
    assert witnesses.submit_checkpoint(witness=witness, head=latest()).ok


def test_a_409_is_retried_from_the_size_the_witness_names(integration, clerk):
    grow(integration, 4)
    head4 = latest()
    witness = configure(clerk)
    assert witnesses.submit_checkpoint(witness=witness, head=head4).ok
    grow(integration, 9)
    Witness.objects.filter(pk=witness.pk).update(cosigned_size=0)  # we lost track of it
    witness.refresh_from_db()
    outcome = witnesses.submit_checkpoint(witness=witness, head=latest())
    assert outcome.ok, outcome.problem
    assert [r.split(b"\n")[0] for r in clerk.requests] == [b"old 0", b"old 0", b"old 4"]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ((403, b"no trusted signature\n"), "does not trust this log's key"),
        ((404, b""), "does not know this log's origin"),
        ((422, b"bad proof\n"), "refused the consistency proof .*Investigate"),
        ((500, b"oops"), "answered 500: oops"),
        ((200, b"not a signature\n"), "without signature lines"),
        ((409, b"zero\n"), "409 without a size"),
        ((409, b"999999\n"), "larger than this checkpoint"),
    ],
)
def test_refusals_are_kept_for_administrators_and_logged(
    integration, clerk, caplog, answer, message
):
    witness = configure(clerk)
    grow(integration, 5)
    clerk.answer_with = answer
    with caplog.at_level(logging.ERROR, logger="audit.transparency.witnesses"):
        outcome = witnesses.submit_checkpoint(witness=witness, head=latest())
    assert not outcome.ok
    witness.refresh_from_db()
    assert re.search(message, witness.last_error), witness.last_error
    assert witness.last_error.startswith("Witness City clerk (http://127.0.0.1:")
    assert witness.cosigned_size == 0 and witness.last_success_at is None
    assert re.search(message, caplog.text)
    assert not Cosignature.objects.exists()
    assert witnesses.status_of(witness).startswith("FAILING")


def test_a_witness_holding_another_history_refuses_and_nothing_is_stored(integration, clerk):
    witness = configure(clerk)
    grow(integration, 5)
    clerk.size, clerk.root = 5, bytes(32)  # it saw a different tree of size 5: a fork
    Witness.objects.filter(pk=witness.pk).update(cosigned_size=5)
    witness.refresh_from_db()
    grow(integration, 8)
    outcome = witnesses.submit_checkpoint(witness=witness, head=latest())
    assert "refused the consistency proof" in outcome.problem
    assert not Cosignature.objects.exists()


def test_a_cosignature_by_another_key_is_not_stored(integration, clerk):
    witness = configure(clerk)
    grow(integration, 5)
    impostor = FakeWitness(checkpoints.verifier_key(), name="witness.example/clerk", seed=6)
    clerk.answer_with = (
        200,
        impostor.signer.cosign(checkpoints.checkpoint_of(latest()).body, 1).line().encode(),
    )
    outcome = witnesses.submit_checkpoint(witness=witness, head=latest())
    assert "without a valid cosignature by its key" in outcome.problem
    assert not Cosignature.objects.exists()


def other_vkey(seed: int = 9) -> str:
    return FakeWitness(checkpoints.verifier_key(), name="paper.example/w", seed=seed).signer.vkey


def test_an_unreachable_witness_is_reported(integration, db):
    witness = Witness.objects.create(name="Newspaper", url=closed_port_url(), vkey=other_vkey())
    grow(integration, 2)
    outcome = witnesses.submit_checkpoint(witness=witness, head=latest())
    assert "unreachable" in outcome.problem
    witness.refresh_from_db()
    assert "unreachable" in witness.last_error


def test_only_http_urls_are_contacted(integration, db):
    witness = Witness.objects.create(name="Odd", url="ftp://witness.example/", vkey=other_vkey())
    grow(integration, 2)
    assert "not http(s)" in witnesses.submit_checkpoint(witness=witness, head=latest()).problem


# --- never in the way of ingest ------------------------------------------------------------------


def test_publishing_hands_the_submission_to_the_background(
    integration, clerk, monkeypatch, django_capture_on_commit_callbacks
):
    started = []
    monkeypatch.setattr(witnesses, "_in_background", started.append)
    with django_capture_on_commit_callbacks(execute=True):
        grow(integration, 3)
    assert started == []  # no witness configured: nothing to do
    configure(clerk)
    with django_capture_on_commit_callbacks(execute=True):
        grow(integration, 6)
    assert len(started) == 1
    assert clerk.requests == []  # nothing was sent while publishing


def test_a_witness_that_is_down_never_fails_publishing(
    integration, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(witnesses, "_in_background", lambda work: work())  # run it right here
    monkeypatch.setattr(witnesses.connection, "close", lambda: None)  # keep the test's one
    witness = Witness.objects.create(name="Down", url=closed_port_url(), vkey=other_vkey())
    with django_capture_on_commit_callbacks(execute=True):
        head = grow(integration, 4)
    assert head is not None and SignedTreeHead.objects.filter(tree_size=4).exists()
    witness.refresh_from_db()
    assert "unreachable" in witness.last_error


def test_the_background_submission_reaches_the_witness(
    integration, clerk, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(witnesses, "_in_background", lambda work: work())
    monkeypatch.setattr(witnesses.connection, "close", lambda: None)
    configure(clerk)
    with django_capture_on_commit_callbacks(execute=True):
        grow(integration, 7)
    assert Cosignature.objects.get().tree_size == 7


# --- the retry command ---------------------------------------------------------------------------


def run_witness_command() -> str:
    out = StringIO()
    call_command("witness_checkpoints", stdout=out)
    return out.getvalue()


def test_the_command_retries_and_fails_loudly(integration, clerk):
    grow(integration, 5)
    witness = configure(clerk)
    clerk.answer_with = (503, b"busy\n")
    with pytest.raises(CommandError, match=r"City clerk .* answered 503: busy") as raised:
        run_witness_command()
    assert raised.value.returncode != 0
    clerk.answer_with = None
    assert "City clerk: cosigned the checkpoint of size 5." in run_witness_command()
    assert "Every active witness has cosigned" in run_witness_command()
    witness.refresh_from_db()
    assert witness.last_error == ""
    assert witnesses.status_of(witness) == "cosigning (size 5)"


def test_inactive_witnesses_are_left_alone(integration, clerk):
    grow(integration, 5)
    configure(clerk, active=False)
    assert "Every active witness has cosigned" in run_witness_command()
    assert clerk.requests == []


# --- what is served and kept ---------------------------------------------------------------------


def test_cosignatures_are_append_only(integration, clerk):
    grow(integration, 5)
    witnesses.submit_checkpoint(witness=configure(clerk), head=latest())
    table = Cosignature._meta.db_table
    for sql in (f"UPDATE {table} SET tree_size = 6", f"DELETE FROM {table}"):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)
    assert Cosignature.objects.count() == 1


def test_a_cosignature_that_no_longer_verifies_is_not_served(client, integration, clerk):
    witness = configure(clerk)
    grow(integration, 5)
    witnesses.submit_checkpoint(witness=witness, head=latest())
    assert client.get("/tlog/checkpoint").content.decode().count("\u2014 ") == 2
    # The witness's key was replaced in the admin: the old line no longer verifies under the
    # configured key, so it is left out rather than served.
    Witness.objects.filter(pk=witness.pk).update(vkey=other_vkey())
    served = client.get("/tlog/checkpoint").content.decode()
    assert served.count("\u2014 ") == 1
    _, opened = open_checkpoint(served, [log_verifier()])
    assert opened.unverified == ()


def test_the_checkpoint_of_an_older_size_keeps_its_own_cosignatures(client, integration, clerk):
    witness = configure(clerk)
    grow(integration, 5)
    witnesses.submit_checkpoint(witness=witness, head=latest())
    grow(integration, 9)
    text = client.get("/tlog/checkpoint").content.decode()
    assert "\n9\n" in text and text.count("\u2014 ") == 1  # size 9 not cosigned yet


# --- the admin -----------------------------------------------------------------------------------


def test_administrators_see_the_witness_status(client, users, integration, clerk):
    witness = configure(clerk)
    grow(integration, 5)
    clerk.answer_with = (403, b"")
    witnesses.submit_checkpoint(witness=witness, head=latest())
    client.force_login(users["administrator"])
    page = client.get("/admin/audit/witness/")
    assert page.status_code == 200
    assert "FAILING" in page.content.decode()
    clerk.answer_with = None
    response = client.post(
        "/admin/audit/witness/",
        {"action": "submit_latest_checkpoint", "_selected_action": [witness.pk]},
        follow=True,
    )
    assert "City clerk cosigned the checkpoint of size 5." in response.content.decode()
    assert client.get("/admin/audit/cosignature/").status_code == 200
    assert client.get("/admin/audit/cosignature/add/").status_code == 403


@pytest.mark.parametrize("role", ["auditor", "council", "no_role"])
def test_only_administrators_manage_witnesses(client, users, role):
    client.force_login(users[role])
    response = client.get("/admin/audit/witness/")
    assert response.status_code in (302, 403)


def test_the_admin_refuses_a_malformed_vkey(client, users):
    client.force_login(users["administrator"])
    response = client.post(
        "/admin/audit/witness/add/",
        {
            "name": "Clerk",
            "url": "https://witness.example/",
            "vkey": "clerk+1234+AAAA",
            "active": "on",
        },
    )
    assert response.status_code == 200
    assert "Not a verifier key" in response.content.decode()
    assert not Witness.objects.exists()
