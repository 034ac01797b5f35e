"""`sightline-verify` on static mirrors: verdict lines, exit codes, saved checkpoints, progress."""

from __future__ import annotations

import csv
import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sightline_verifier import cli

from tests.verifier.logs import TestLog, leaf, serve_directory, signer

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def log() -> TestLog:
    return TestLog(1200)


@pytest.fixture
def mirror(tmp_path, log) -> Path:
    return log.write_mirror(tmp_path / "mirror", 1000)


def run(*args: str) -> int:
    return cli.main(list(args))


def key() -> list[str]:
    return ["--log-key", signer().vkey]


def test_a_mirror_directory_verifies_with_an_ok_line(mirror, log, capsys):
    assert run("--mirror", str(mirror), *key()) == cli.EXIT_OK

    out, err = capsys.readouterr()
    assert out.splitlines()[-1] == f"OK: 1000 entries, root {log.root(1000).hex()}"
    assert out.splitlines()[0] == "Entries recomputed from the verified leaves (all dates): 1,000"
    assert "Checkpoint: sightline.test/log, 1,000 entries" in err
    assert "(pinned by you)" in err
    assert "\r" not in err  # no bar: stderr is not a terminal here


def test_the_same_mirror_over_http_and_as_a_file_url(mirror, log, capsys):
    with serve_directory(mirror) as url:
        assert run("--mirror", url, *key(), "--parallel", "3") == cli.EXIT_OK
    assert run("--mirror", mirror.as_uri(), *key()) == cli.EXIT_OK
    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if line.startswith("OK:")] == [
        f"OK: 1000 entries, root {log.root(1000).hex()}"
    ] * 2


def test_a_gzipped_mirror_verifies(mirror, capsys):
    for path in [p for p in (mirror / "tile").rglob("*") if p.is_file()]:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(path.read_bytes()))
        path.unlink()

    assert run("--mirror", str(mirror), *key()) == cli.EXIT_OK


def test_a_progress_bar_only_when_asked_or_on_a_terminal(mirror, capsys):
    assert run("--mirror", str(mirror), *key(), "--progress") == cli.EXIT_OK
    err = capsys.readouterr().err
    assert "\rEntries [" in err
    assert "100% 1,000/1,000 entries" in err

    assert run("--mirror", str(mirror), *key(), "--progress", "--quiet") == cli.EXIT_OK
    assert capsys.readouterr().err == ""


def test_a_tampered_bundle_exits_1_with_a_failed_line_and_no_csv(mirror, tmp_path, capsys):
    bundle = mirror / "tile" / "entries" / "002"
    data = bundle.read_bytes()
    bundle.write_bytes(data.replace(b'"scope":"local"', b'"scope":"lOcal"', 1))
    out = tmp_path / "leaves.csv"

    status = run("--mirror", str(mirror), *key(), "--csv", str(out), "--save", str(tmp_path / "s"))

    assert status == cli.EXIT_FAILED
    stdout, err = capsys.readouterr()
    assert "OK:" not in stdout
    assert err.splitlines()[-1].startswith("FAILED: sequence 513: its entry hashes to")
    assert not out.exists() and not (tmp_path / "s").exists()


def test_a_mirror_without_a_pinned_key_is_an_error_not_a_verdict(mirror, capsys):
    assert run("--mirror", str(mirror)) == cli.EXIT_UNAVAILABLE

    err = capsys.readouterr().err
    assert "ERROR: a mirror cannot vouch for the log's key: give it with --log-key" in err
    assert "not a verdict" in err and "FAILED" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--log-key", "not-a-key"], "ERROR: a key you gave is not a verifier key"),
        (["--witness", "x+00000000+AAAA"], "ERROR: a key you gave is not a verifier key"),
        (["--quorum", "2"], "ERROR: --quorum must be between 0 and the 0 --witness keys"),
        (["--previous", "/nonexistent/head"], "ERROR: cannot read the saved head"),
        (["--entry", "1000"], "ERROR: entry 1000 is not in the log (it has 1,000 entries)"),
        (["--previous", str(Path(__file__))], "ERROR: cannot read the saved checkpoint"),
    ],
)
def test_bad_input_exits_2(mirror, args, message, capsys):
    assert run("--mirror", str(mirror), *key(), *args) == cli.EXIT_UNAVAILABLE
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--quick", "--csv", "leaves.csv"], "--quick downloads no entries"),
        (["--quick", "--since", "2026-01-01"], "--quick downloads no entries"),
        (["--entry", "-1"], "--entry takes an entry's sequence number: 0 or more"),
    ],
)
def test_options_that_contradict_each_other_are_refused_before_any_download(
    mirror, args, message, capsys, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        run("--mirror", str(mirror), *key(), *args)
    assert stopped.value.code == cli.EXIT_UNAVAILABLE
    err = capsys.readouterr().err
    assert message in err
    assert "Verifying" not in err
    assert not (tmp_path / "leaves.csv").exists()


def test_save_then_previous_proves_the_mirror_only_grew(tmp_path, log, capsys):
    saved = tmp_path / "checkpoint.txt"
    early = log.write_mirror(tmp_path / "early", 300)
    assert run("--mirror", str(early), *key(), "--save", str(saved)) == cli.EXIT_OK
    assert saved.read_text() == log.checkpoint(300)
    assert oct(saved.stat().st_mode & 0o777) == "0o644"

    later = log.write_mirror(tmp_path / "later", 1200)
    for quick in ([], ["--quick"]):
        status = run("--mirror", str(later), *key(), "--previous", str(saved), *quick)
        assert status == cli.EXIT_OK
    out, err = capsys.readouterr()
    assert f"OK: 1200 entries, root {log.root().hex()} (extends your checkpoint of 300)" in out
    assert "Consistency: the first 300 entries still hash to the root" in err
    assert "Consistency: the log of 1,200 entries extends your saved checkpoint of 300" in err
    assert "quick check, the entries were not all downloaded" in out


def test_a_forked_mirror_fails_against_a_saved_checkpoint(tmp_path, log, capsys):
    saved = tmp_path / "checkpoint.txt"
    saved.write_text(log.checkpoint(500))
    fork = TestLog(0, key=log.key)
    fork.grow(800, lambda n: {**leaf(n), "agency": "XYZ"} if n == 499 else leaf(n))
    forked = fork.write_mirror(tmp_path / "fork")

    assert run("--mirror", str(forked), *key(), "--previous", str(saved)) == cli.EXIT_FAILED
    assert "FAILED: consistency: the first 500 entries of the log now hash to" in (
        capsys.readouterr().err
    )


def test_entries_are_shown_and_written_to_csv(mirror, tmp_path, capsys):
    out = tmp_path / "leaves.csv"

    assert run("--mirror", str(mirror), *key(), "--entry", "7", "--csv", str(out)) == cli.EXIT_OK

    stdout = capsys.readouterr().out
    assert 'Entry 7: {"agency": "' in stdout
    assert "(1 entry proved included)" in stdout
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["sequence"]) for r in rows] == list(range(1000))
    assert rows[7]["technology"] == leaf(7)["technology"]


def test_the_installed_command_runs_without_django(mirror):
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE",)}
    done = subprocess.run(
        [sys.executable, "-m", "sightline_verifier", "--mirror", str(mirror), *key(), "--quick"],
        capture_output=True, text=True, env=env, cwd=mirror, timeout=120, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("OK: checkpoint of 1000 entries")
    assert (REPO / "verifier" / "pyproject.toml").read_text().count("sightline-witness") == 1
