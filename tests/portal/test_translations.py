"""The Spanish catalogue is complete, and the compiled catalogue the site loads matches it."""

import gettext
import re
from pathlib import Path

from django.conf import settings

PO = Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def _unquote(lines: list[str]) -> str:
    text = "".join(re.match(r'^(?:msg\w+(?:\[\d\])? )?"(.*)"$', line).group(1) for line in lines)
    return text.encode("latin-1", "backslashreplace").decode("unicode_escape")


def entries() -> list[dict]:
    """(msgctxt, msgid, msgid_plural, msgstr forms, flags) of every entry of the .po file."""
    found, current, key = [], None, None
    for raw in [*PO.read_text(encoding="utf-8").splitlines(), ""]:
        line = raw.strip()
        if not line:
            if current and current.get("msgid") is not None:
                found.append(current)
            current, key = None, None
            continue
        current = current or {"flags": "", "strs": {}}
        if line.startswith("#,"):
            current["flags"] += line
        elif line.startswith("#"):
            continue
        elif line.startswith("msgctxt"):
            key = "context"
            current[key] = [line]
        elif line.startswith("msgid_plural"):
            key = "plural"
            current[key] = [line]
        elif line.startswith("msgid"):
            key = "msgid"
            current[key] = [line]
        elif line.startswith("msgstr"):
            key = ("str", line.split(" ", 1)[0])
            current["strs"][key[1]] = [line]
        elif key and isinstance(key, tuple):
            current["strs"][key[1]].append(line)
        elif key:
            current[key].append(line)
    for entry in found:
        entry["msgid"] = _unquote(entry["msgid"])
        entry["plural"] = _unquote(entry["plural"]) if "plural" in entry else None
        entry["context"] = _unquote(entry["context"]) if "context" in entry else None
        entry["strs"] = {k: _unquote(v) for k, v in entry["strs"].items()}
    return found


def test_every_string_is_translated_and_none_is_fuzzy():
    problems = []
    for entry in entries():
        if entry["msgid"] == "":
            continue  # the header
        if "fuzzy" in entry["flags"]:
            problems.append(f"fuzzy: {entry['msgid']!r}")
        if any(not text for text in entry["strs"].values()):
            problems.append(f"untranslated: {entry['msgid']!r}")
    assert len(entries()) > 400
    assert problems == []


def test_placeholders_are_kept():
    placeholder = re.compile(r"%\(\w+\)[sd]|%[sd]")
    for entry in entries():
        if entry["msgid"] == "":
            continue
        expected = sorted(placeholder.findall(entry["msgid"]))
        for text in entry["strs"].values():
            assert sorted(placeholder.findall(text)) == expected, entry["msgid"]


def test_the_compiled_catalogue_matches_the_po_file():
    catalogue = gettext.GNUTranslations(MO.open("rb"))
    for entry in entries():
        if entry["msgid"] == "" or entry["plural"]:
            continue
        if entry["context"] is None:
            compiled = catalogue.gettext(entry["msgid"])
        else:
            compiled = catalogue.pgettext(entry["context"], entry["msgid"])
        assert compiled == entry["strs"]["msgstr"], (
            f"{entry['msgid']!r}: the .mo file is out of date (make messages)"
        )
