"""`sightline-verify`: check a Sightline log yourself, from the live site or a static mirror.

Ends with one verdict line: ``OK: ...`` (exit 0), ``FAILED: ...`` (1: the log, a checkpoint, a
cosignature or a published count is wrong) or ``ERROR: ...`` (2: the check could not be made,
which says nothing about the log).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from sightline_verifier import jsonapi
from sightline_verifier.client import Source, open_source, parse_json
from sightline_verifier.errors import FetchError, VerificationFailed
from sightline_verifier.note import NoteError, parse_vkey
from sightline_verifier.progress import wants_bar
from sightline_verifier.stats import CSV_COLUMNS, Tally, format_counts
from sightline_verifier.verify import (
    NoTiles,
    Options,
    check_statistics,
    verify_tiles,
    witness_verifiers,
)

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_UNAVAILABLE", "main", "run"]

EXIT_OK = 0
EXIT_FAILED = 1  # the log does not verify
EXIT_UNAVAILABLE = 2  # the check could not be made (network, bad input file, usage)

# Checkpoints, heads and leaves are public: files written are readable like any other
# (mkstemp gives 0600).
_PUBLIC_FILE_MODE = 0o644


class _Unavailable(Exception):
    """The check cannot be made (bad input, unusable option); exit 2."""


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(tmp, _PUBLIC_FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class _CsvOutput:
    """A CSV of verified leaves that only appears at ``path`` once the whole log verified."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Written beside the target and renamed at the end, so a failed run never leaves a
        # file of unverified leaves behind.
        fd, self._tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        self._file = os.fdopen(fd, "w", encoding="utf-8", newline="")
        os.chmod(self._tmp, _PUBLIC_FILE_MODE)
        self._writer = csv.DictWriter(self._file, fieldnames=CSV_COLUMNS)
        self._writer.writeheader()
        self.rows = 0

    def write(self, leaf: dict[str, Any]) -> None:
        self._writer.writerow(leaf)
        self.rows += 1

    def write_bytes(self, sequence: int, data: bytes) -> None:
        self.write(json.loads(data))

    def commit(self) -> None:
        self._file.close()
        os.replace(self._tmp, self.path)

    def discard(self) -> None:
        """Remove the temporary file unless it was committed (safe to call twice)."""
        self._file.close()
        Path(self._tmp).unlink(missing_ok=True)


def _date_arg(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a YYYY-MM-DD date") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sightline-verify",
        description=(
            "Check a Sightline public log yourself: open its signed checkpoint, count the "
            "cosignatures of the witnesses you name, download every entry and hash tile, "
            "recompute the root and compare the published statistics with the leaves; with "
            "--previous prove the log only grew since a checkpoint you saved. Works from the "
            "live site (--url) or a static mirror of its tiles (--mirror)."
        ),
        epilog=(
            "Exit status: 0 the log verifies (a line starting OK:); 1 it does not (a line "
            "starting FAILED: says what); 2 the check could not be made (ERROR: network, "
            "unreadable file, bad option), which is not a verdict on the log."
        ),
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="the live site, e.g. https://sightline.example.org")
    where.add_argument(
        "--mirror",
        metavar="DIR_OR_URL",
        help="a static mirror written by `manage.py export_tiles` (directory, file:// or "
        "http(s) URL of the directory holding `checkpoint` and `tile/`); needs --log-key",
    )
    parser.add_argument(
        "--log-key",
        metavar="VKEY",
        help="the log's verifier key (name+id+key), from a record you trust; without it the "
        "site's own published key is used",
    )
    parser.add_argument(
        "--witness",
        action="append",
        default=[],
        metavar="VKEY",
        help="a witness's verifier key whose cosignature is required (repeatable)",
    )
    parser.add_argument(
        "--quorum",
        type=int,
        metavar="K",
        help="how many of the --witness keys must have cosigned (default: all)",
    )
    parser.add_argument(
        "--entry",
        action="append",
        type=int,
        default=[],
        metavar="N",
        help="prove entry N is in the log and show its leaf (repeatable)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="check the checkpoint, cosignatures, --previous and --entry from tiles only, "
        "without downloading every entry",
    )
    parser.add_argument(
        "--previous", type=Path, metavar="FILE", help="a checkpoint (or head) saved with --save"
    )
    parser.add_argument(
        "--save", type=Path, metavar="FILE", help="save the verified checkpoint for next time"
    )
    parser.add_argument(
        "--key-id",
        metavar="HEX",
        help="(JSON API) the SHA-256 key id you expect, published somewhere you trust",
    )
    parser.add_argument(
        "--api",
        choices=("auto", "tiles", "json"),
        default="auto",
        help="tiles (C2SP), json (the older /api/v1/log/ API) or auto: tiles when the site "
        "serves them (default)",
    )
    parser.add_argument(
        "--csv", type=Path, metavar="FILE", help="also write every verified leaf to a CSV file"
    )
    parser.add_argument(
        "--since", type=_date_arg, metavar="YYYY-MM-DD", help="count from this date"
    )
    parser.add_argument("--until", type=_date_arg, metavar="YYYY-MM-DD", help="count to this date")
    parser.add_argument(
        "--no-stats",
        action="store_true",
        help="do not compare /api/v1/stats/ with the counts of the leaves",
    )
    parser.add_argument(
        "--parallel", type=int, default=4, metavar="N", help="requests in flight (default 4)"
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, metavar="SECONDS", help="per request (default 30)"
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="draw a progress bar (default: only when stderr is a terminal)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def _options(args: argparse.Namespace, say: Callable[[str], None]) -> Options:
    try:
        log_key = parse_vkey(args.log_key) if args.log_key else None
        witnesses = witness_verifiers(args.witness)
    except NoteError as error:
        raise _Unavailable(f"a key you gave is not a verifier key: {error}") from None
    if args.quorum is not None and not 0 <= args.quorum <= len(witnesses):
        raise _Unavailable(f"--quorum must be between 0 and the {len(witnesses)} --witness keys")
    previous = None
    if args.previous is not None:
        try:
            previous = args.previous.read_bytes()
        except OSError as error:
            raise _Unavailable(f"cannot read the saved head {args.previous}: {error}") from None
    return Options(
        log_key=log_key,
        witnesses=witnesses,
        quorum=args.quorum,
        previous=previous,
        entries=args.entry,
        full=not args.quick,
        statistics=not args.no_stats,
        since=args.since,
        until=args.until,
        bar=not args.quiet and wants_bar(args.progress),
        say=say,
    )


def _json_fallback(
    source: Source, args: argparse.Namespace, options: Options, csv_out: _CsvOutput | None
) -> tuple[list[str], str]:
    """Verify over the JSON API; return (output lines, saved text)."""
    if options.witnesses:
        raise _Unavailable(
            "the site serves no C2SP checkpoint, so no witness cosignature can be checked."
        )
    if options.entries or not options.full:
        raise _Unavailable("--entry and --quick need a site that serves C2SP tiles.")
    previous = None
    if options.previous is not None:
        try:
            previous = parse_json(options.previous)
        except ValueError as error:
            raise _Unavailable(f"cannot read the saved head {args.previous}: {error}") from None
    expected = args.key_id
    if options.log_key is not None:
        expected = hashlib.sha256(options.log_key.public_key).hexdigest()
    tally = Tally()

    def on_leaf(leaf: dict[str, Any]) -> None:
        tally.add_leaf(leaf)
        if csv_out is not None:
            csv_out.write(leaf)

    result = jsonapi.verify(
        source,
        previous,
        expected_key_id=expected,
        since=args.since,
        until=args.until,
        progress=options.say,
        on_leaf=on_leaf,
        bar=options.bar,
    )
    if options.statistics and getattr(source, "has_api", False):
        check_statistics(source, tally, result.tree_size, options.say)
    saved = json.dumps(result.head, indent=2, sort_keys=True) + "\n"
    lines = format_counts(result.counts)
    lines.append(f"OK: {result.tree_size} entries, root {result.root_hash}")
    return lines, saved


def _tiles(source: Source, options: Options, csv_out: _CsvOutput | None) -> tuple[list[str], str]:
    if csv_out is not None:
        options.on_leaf = csv_out.write_bytes
    result = verify_tiles(source, options)
    lines = format_counts(result.counts) if result.counts is not None else []
    for index, leaf in result.entries.items():
        lines.append(f"Entry {index}: {json.dumps(leaf, sort_keys=True, ensure_ascii=False)}")
    details = []
    if options.witnesses:
        details.append(f"cosigned by {len(result.cosigned_by)} of {len(options.witnesses)}")
    if result.previous_size is not None:
        details.append(f"extends your checkpoint of {result.previous_size}")
    if result.entries:
        count = len(result.entries)
        details.append(f"{count} {'entry' if count == 1 else 'entries'} proved included")
    if result.statistics_checked:
        details.append("statistics match")
    extra = f" ({'; '.join(details)})" if details else ""
    if options.full:
        lines.append(f"OK: {result.tree_size} entries, root {result.root_hash}{extra}")
    else:
        lines.append(
            f"OK: checkpoint of {result.tree_size} entries, root {result.root_hash}{extra}; "
            "quick check, the entries were not all downloaded"
        )
    return lines, result.checkpoint


def main(
    argv: Sequence[str] | None = None,
    *,
    client_factory: Callable[[str, float], Source] | None = None,
) -> int:
    """Run the command line; return the exit status (0 OK, 1 FAILED, 2 could not check).

    ``client_factory(url, timeout)`` builds the source of ``--url`` (HttpSource by default).
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if args.quick and (args.csv or args.since or args.until):
        parser.error(
            "--quick downloads no entries: it cannot be combined with --csv, --since or --until"
        )
    if any(n < 0 for n in args.entry):
        parser.error("--entry takes an entry's sequence number: 0 or more")

    def say(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    def unavailable(message: str) -> int:
        print(f"ERROR: {message}", file=sys.stderr)
        print("Nothing was verified: this is not a verdict on the log.", file=sys.stderr)
        return EXIT_UNAVAILABLE

    location = args.url or args.mirror
    try:
        options = _options(args, say)
        if client_factory is not None and args.url:
            source = client_factory(args.url, args.timeout)
        else:
            source = open_source(
                location, mirror=bool(args.mirror), timeout=args.timeout, parallel=args.parallel
            )
    except _Unavailable as error:
        return unavailable(str(error))
    except ValueError as error:
        return unavailable(str(error))

    say(f"Verifying the log at {location}")
    csv_out = None
    try:
        if args.csv is not None:
            csv_out = _CsvOutput(args.csv)
        if args.api == "json":
            lines, saved = _json_fallback(source, args, options, csv_out)
        else:
            try:
                lines, saved = _tiles(source, options, csv_out)
            except NoTiles as missing:
                if args.api == "tiles":
                    raise
                say(f"No C2SP tiles here ({missing}); verifying over the older JSON API.")
                lines, saved = _json_fallback(source, args, options, csv_out)
        if csv_out is not None:
            csv_out.commit()
    except VerificationFailed as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        return EXIT_FAILED
    except (FetchError, _Unavailable) as error:
        return unavailable(str(error))
    except OSError as error:
        return unavailable(f"cannot write {args.csv}: {error}")
    finally:
        if csv_out is not None:
            csv_out.discard()
        source.close()

    if args.save is not None:
        try:
            _write_atomically(args.save, saved)
        except OSError as error:
            return unavailable(f"the log verified, but it could not be saved: {error}")
        say(f"Saved the verified checkpoint to {args.save}; use --previous {args.save} next time.")
    if csv_out is not None:
        say(f"Wrote {csv_out.rows:,} verified leaves to {args.csv}.")
    for line in lines:
        print(line)
    return EXIT_OK


def run() -> None:
    """Entry point of the `sightline-verify` command."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("Interrupted: nothing was verified.", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    run()
