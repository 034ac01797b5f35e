"""Leaves checked byte for byte, counts and the published statistics recomputed from them."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from sightline_verifier import merkle
from sightline_verifier.errors import FetchError, VerificationFailed
from sightline_verifier.stats import (
    LeafError,
    Tally,
    check_statistics,
    compare_statistics,
    format_counts,
)

from tests.verifier.logs import leaf


def tally_of(leaves: list[dict]) -> Tally:
    tally = Tally()
    for sequence, item in enumerate(leaves):
        tally.add_bytes(sequence, merkle.canonical_json(item))
    return tally


def published(tally: Tally, size: int, hide_below: int = 0) -> dict:
    """The document /api/v1/stats/ would serve for these leaves."""

    def rows(counter, column):
        out = []
        for (tech, value), n in sorted(counter.items()):
            shown = f"fewer than {hide_below}" if 0 < n < hide_below else n
            out.append({"technology": tech, column: value, "queries": shown})
        return out

    stats = tally.statistics()
    return {
        "tree_size": size,
        "tree_head": {},
        "by_technology_month": rows(stats["by_technology_month"], "month"),
        "by_offense_category": rows(stats["by_offense_category"], "offense_category"),
        "by_agency": rows(stats["by_agency"], "agency"),
    }


LEAVES = [leaf(n) for n in range(500)]


def test_bytes_and_decoded_leaves_tally_alike():
    by_bytes = tally_of(LEAVES)
    by_dict = Tally()
    for item in LEAVES:
        by_dict.add_leaf(item)

    assert by_bytes.statistics() == by_dict.statistics()
    assert by_bytes.counts() == by_dict.counts()
    assert by_bytes.leaves == 500


def test_counts_follow_the_leaves_and_the_period():
    counts = tally_of(LEAVES).counts(since=date(2026, 3, 1), until=date(2026, 3, 31))
    in_march = [x for x in LEAVES if x["date"].startswith("2026-03")]

    assert counts.total == len(in_march)
    assert counts.by_technology == {
        t: sum(1 for x in in_march if x["technology"] == t)
        for t in {x["technology"] for x in in_march}
    }
    assert counts.without_case_number["face-recognition"] == sum(
        1
        for x in in_march
        if x["technology"] == "face-recognition" and not x["case_number_present"]
    )
    assert format_counts(counts)[0] == (
        f"Entries recomputed from the verified leaves (dated 2026-03-01 to 2026-03-31): "
        f"{len(in_march)}"
    )


def test_strings_with_escapes_are_read_and_must_be_canonical():
    odd = {**leaf(0), "agency": 'Say "hi"\\ Agencia Ñ\n'}
    tally = tally_of([odd])
    assert tally.statistics()["by_agency"] == {("face-recognition", 'Say "hi"\\ Agencia Ñ\n'): 1}
    escaped = merkle.canonical_json(odd).replace("Ñ".encode(), b"\\u00d1")
    with pytest.raises(LeafError, match=r"^sequence 0: the leaf is not in canonical JSON form"):
        Tally().add_bytes(0, escaped)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff", r"not valid UTF-8"),
        (b"[1]", r"the leaf is not a JSON object"),
        (b"{", r"the leaf is not JSON"),
        (merkle.canonical_json({**leaf(0), "sequence": 1}), r"the leaf says it is sequence 1"),
        (merkle.canonical_json({**leaf(0), "v": 2}), r"leaf version 2 is not known"),
        (merkle.canonical_json({**leaf(0), "scope": None}), r"'scope' is not a string"),
        (merkle.canonical_json({**leaf(0), "supervisor_present": 1}), r"is not true or false"),
        (merkle.canonical_json({**leaf(0), "private_commitment": "AB"}), r"private_commitment"),
    ],
)
def test_leaves_of_another_shape_are_refused(data, message):
    with pytest.raises(LeafError, match=r"^sequence 0: .*" + message):
        Tally().add_bytes(0, data)


def test_published_statistics_equal_to_the_leaves_compare_clean():
    tally = tally_of(LEAVES)
    assert compare_statistics(published(tally, 500), tally, 500) == []
    assert compare_statistics(published(tally, 500, hide_below=10), tally, 500) == []


def test_a_changed_count_is_found():
    tally = tally_of(LEAVES)
    document = published(tally, 500)
    row = document["by_agency"][0]
    row["queries"] += 1

    problems = compare_statistics(document, tally, 500)

    assert problems == [
        f"by_agency {row['technology']} agency {row['agency']!r}: published {row['queries']}, "
        f"the leaves give {row['queries'] - 1}"
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["by_offense_category"].pop(), r"not published, the leaves give"),
        (lambda d: d["by_technology_month"].append(dict(d["by_technology_month"][0])), "twice"),
        (
            lambda d: d["by_technology_month"].append(
                {"technology": "nibin", "month": "1999-01", "queries": 3}
            ),
            r"'1999-01': published 3, the leaves give 0",
        ),
        (lambda d: d["by_agency"][1].update(queries="fewer than 2"), r"published 'fewer than 2'"),
        (lambda d: d["by_agency"][1].update(queries="many"), r"published 'many'"),
        (lambda d: d.update(tree_size=499), r"the statistics are for size 499, not 500"),
        (lambda d: d.pop("by_agency"), r"by_agency is missing"),
    ],
    ids=[
        "missing-row",
        "duplicate-row",
        "invented-row",
        "fewer-than-wrong",
        "text",
        "size",
        "gone",
    ],
)
def test_statistics_the_leaves_do_not_support_are_found(change, expected):
    tally = tally_of(LEAVES)
    document = published(tally, 500)
    change(document)

    problems = compare_statistics(document, tally, 500)

    assert problems
    assert any(re.search(expected, p) for p in problems), problems


class StatsSite:
    has_api = True

    def __init__(self, document=None, status=None):
        self.document, self.status, self.paths = document, status, []

    def get_json(self, path):
        self.paths.append(path)
        if self.status:
            raise FetchError(f"HTTP {self.status}", status=self.status)
        return json.loads(json.dumps(self.document))


def test_check_statistics_asks_for_the_signed_size_and_fails_on_a_mismatch():
    tally = tally_of(LEAVES)
    lines = []
    site = StatsSite(published(tally, 500))

    assert check_statistics(site, tally, 500, lines.append) is True
    assert site.paths == ["/api/v1/stats/?tree_size=500"]
    assert lines == ["Statistics: every count at /api/v1/stats/ for size 500 matches the leaves."]

    wrong = published(tally, 500)
    wrong["by_agency"][0]["queries"] = 0
    with pytest.raises(VerificationFailed, match=r"^statistics: the counts published at"):
        check_statistics(StatsSite(wrong), tally, 500, lines.append)


def test_no_statistics_for_the_size_is_said_but_not_a_failure():
    lines = []
    assert check_statistics(StatsSite(status=404), Tally(), 5, lines.append) is False
    assert lines == ["Statistics: the site publishes none for size 5; not compared."]
    with pytest.raises(FetchError):
        check_statistics(StatsSite(status=500), Tally(), 5, lines.append)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace('"private_commitment":"', '"private_commitment":"A', 1)[:-1], "hex"),
        (lambda t: t.replace('"private_commitment":"', '"private_commitment":"g', 1)[:-1], "hex"),
        (lambda t: t.replace('"sequence":500', '"sequence":0500'), "canonical"),
        (lambda t: t.replace('"date":"2026-05-09"', '"date":"2026-02-30"'), "calendar date"),
        (lambda t: t.replace('"date":"2026-05-09"', '"date":"2026-05-9 "'), "YYYY-MM-DD"),
        (lambda t: t.replace('"scope":"regional"', '"scope":"regiona\\u006c"'), "canonical"),
    ],
    ids=["uppercase-hex", "not-hex", "leading-zero", "calendar", "date-shape", "escape"],
)
def test_a_leaf_shaped_like_one_seen_before_is_still_checked_in_full(change, message):
    """The fast path (a known shape) must refuse what the full pattern refuses."""
    tally = tally_of(LEAVES)  # every shape of these leaves is now known
    good = merkle.canonical_json({**leaf(400), "sequence": 500}).decode()
    assert '"date":"2026-05-09"' in good and '"scope":"regional"' in good
    bad = change(good)
    assert bad != good

    with pytest.raises(LeafError):
        tally.add_bytes(500, bad.encode())
    tally.add_bytes(500, good.encode())
    assert tally.leaves == 501
