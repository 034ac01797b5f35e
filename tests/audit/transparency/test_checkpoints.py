"""Every published head is also a C2SP checkpoint signed by the same key, served at /tlog/."""

import base64

import pytest
from django.test import override_settings
from sightline_verifier.checkpoint import open_checkpoint
from sightline_verifier.note import UnverifiedNote, parse_vkey

from audit.models import SignedTreeHead
from audit.transparency import checkpoints, signing
from audit.transparency.checks import log_origin_is_a_key_name
from tests.audit.transparency.tlog import grow, log_verifier

API = "/api/v1/log"


@pytest.fixture
def heads(integration):
    for size in (1, 2, 3, 256, 257, 300):
        grow(integration, size)
    return list(SignedTreeHead.objects.order_by("tree_size"))


def test_the_origin_is_the_setting_and_names_the_key(settings, db):
    assert settings.SIGHTLINE_LOG_ORIGIN.endswith("/sightline")
    verifier = log_verifier()
    assert verifier.name == settings.SIGHTLINE_LOG_ORIGIN
    assert verifier.public_key == signing.public_key_raw()  # the key that signs the JSON heads


def test_the_json_head_and_the_checkpoint_agree_on_every_head(anon_client, heads):
    vkey = anon_client.get(f"{API}/public-key").json()["verifier_key"]
    verifier = parse_vkey(vkey)
    for head in heads:
        json_head = anon_client.get(f"{API}/tree-head", {"tree_size": head.tree_size}).json()
        checkpoint, opened = open_checkpoint(
            checkpoints.checkpoint_note(head), [verifier], origin=verifier.name
        )
        assert checkpoint.size == json_head["tree_size"] == head.tree_size
        assert checkpoint.root_hash.hex() == json_head["root_hash"]
        assert [s.name for s in opened.verified] == [verifier.name]


def test_a_checkpoint_is_the_same_bytes_every_time(heads):
    # Ed25519 is deterministic: the checkpoint derived from a stored head never changes.
    head = heads[2]
    assert checkpoints.checkpoint_note(head) == checkpoints.checkpoint_note(head)


def test_the_served_checkpoint_is_the_latest_head(anon_client, heads):
    response = anon_client.get("/tlog/checkpoint")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Cache-Control"] == "no-store"
    assert response["Access-Control-Allow-Origin"] == "*"
    checkpoint, _ = open_checkpoint(response.content, [log_verifier()])
    latest = anon_client.get(f"{API}/tree-head").json()
    assert (checkpoint.size, checkpoint.root_hash.hex()) == (300, latest["root_hash"])
    text = response.content.decode()
    origin = checkpoints.log_origin()
    assert text.startswith(f"{origin}\n300\n{base64.b64encode(checkpoint.root_hash).decode()}\n\n")
    assert text.endswith("\n") and text.count("\u2014 ") == 1


def test_another_key_does_not_open_the_checkpoint(anon_client, heads):
    other = parse_vkey("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
    with pytest.raises(UnverifiedNote):
        open_checkpoint(anon_client.get("/tlog/checkpoint").content, [other])


def test_a_tampered_checkpoint_is_rejected(anon_client, heads):
    text = anon_client.get("/tlog/checkpoint").content.decode()
    with pytest.raises(Exception, match="does not verify"):
        open_checkpoint(text.replace("\n300\n", "\n301\n"), [log_verifier()])


def test_the_checkpoint_is_read_only(anon_client, heads):
    assert anon_client.post("/tlog/checkpoint").status_code == 405


def test_public_key_document_carries_the_verifier_key(anon_client, db):
    document = anon_client.get(f"{API}/public-key").json()
    verifier = parse_vkey(document["verifier_key"])
    assert base64.b64decode(document["public_key"]) == verifier.public_key
    assert document["verifier_key"] == checkpoints.verifier_key()


@override_settings(SIGHTLINE_LOG_ORIGIN="sightline.example.org/sightline")
def test_the_origin_setting_changes_the_key_name_not_the_key(anon_client, heads):
    document = anon_client.get(f"{API}/public-key").json()
    assert document["verifier_key"].startswith("sightline.example.org/sightline+")
    text = anon_client.get("/tlog/checkpoint").content.decode()
    assert text.startswith("sightline.example.org/sightline\n300\n")


def test_the_log_page_shows_the_verifier_key_and_the_tlog_links(client, heads):
    page = client.get("/log/").content.decode()
    assert checkpoints.verifier_key() in page
    assert 'href="/tlog/checkpoint"' in page
    client.get("/language/es/?next=/log/")
    page = client.get("/log/").content.decode()
    assert "Checkpoints, teselas y testigos" in page
    assert checkpoints.verifier_key() in page


# --- the list of heads ------------------------------------------------------------------------


def test_tree_heads_are_listed_oldest_first_with_pages(anon_client, heads):
    sizes = []
    url = f"{API}/tree-heads?page_size=4"
    pages = 0
    while url:
        response = anon_client.get(url)
        assert response.status_code == 200
        assert response["Cache-Control"] == "public, max-age=30"
        body = response.json()
        for item in body["results"]:
            assert item == anon_client.get(f"{API}/tree-head?tree_size={item['tree_size']}").json()
            sizes.append(item["tree_size"])
        url = body["next"]
        pages += 1
    assert sizes == [1, 2, 3, 256, 257, 300]
    assert pages == 2


def test_tree_heads_of_an_empty_log(anon_client, db):
    body = anon_client.get(f"{API}/tree-heads").json()
    assert body["results"] == [] and body["next"] is None


def test_tree_heads_are_in_the_openapi_schema(anon_client, db):
    schema = anon_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/log/tree-heads"]["get"]
    assert operation["operationId"] == "log_tree_heads"
    assert "cursor" in {p["name"] for p in operation["parameters"]}


def test_an_origin_that_cannot_name_a_key_fails_the_system_check(settings):
    settings.SIGHTLINE_LOG_ORIGIN = "our log+1"
    (error,) = log_origin_is_a_key_name()
    assert error.id == "audit.E101"
    assert "'our log+1' cannot name the log's key" in error.msg
    settings.SIGHTLINE_LOG_ORIGIN = "city.example/sightline"
    assert log_origin_is_a_key_name() == []
