"""Pronunciation lexicons for ``voxlite.text.english_g2p``: build one from misaki's data, save it, load it.

A bundle carries its lexicon as a JSON file (``{"format": "voxlite-lexicon", "version": 1, "source": ...,
"entries": {word: phonemes}}``), so synthesis needs no G2P package and reads words exactly as training did.
``from_misaki`` is the build step (export and training recipes): misaki (Apache-2.0, ``pip install misaki
--no-deps``) ships US "gold" and "silver" dictionaries; gold wins, heteronyms keep their DEFAULT reading, entries
without a reading are dropped. Only the data files are read; misaki's code (which wants spaCy) is not imported.
"""
from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

from ..errors import BundleError, InvalidInput

FORMAT = "voxlite-lexicon"
VERSION = 1


def from_misaki(dialect: str = "us") -> tuple[dict[str, str], dict]:
    """(entries, source info) from misaki's ``{dialect}_gold.json`` + ``{dialect}_silver.json``."""
    if dialect not in ("us", "gb"):
        raise InvalidInput(f"misaki dialect must be 'us' or 'gb', got {dialect!r}")
    try:
        from importlib.metadata import version
        data = resources.files("misaki") / "data"
        misaki_version = version("misaki")
    except (ModuleNotFoundError, ImportError) as e:
        raise InvalidInput("building a lexicon needs misaki's data: pip install --no-deps misaki==0.9.4") from e
    entries: dict[str, str] = {}
    for tier in ("silver", "gold"):  # gold last: it overrides silver
        raw = json.loads((data / f"{dialect}_{tier}.json").read_text(encoding="utf-8"))
        for word, value in raw.items():
            ps = value.get("DEFAULT") if isinstance(value, dict) else value
            if isinstance(ps, str) and ps:
                entries[word] = ps
            elif tier == "gold":
                entries.pop(word, None)
    source = {"package": "misaki", "version": misaki_version, "license": "Apache-2.0",
              "files": [f"{dialect}_gold.json", f"{dialect}_silver.json"]}
    return dict(sorted(entries.items())), source


def save(path: str | os.PathLike, entries: dict[str, str], source: dict) -> None:
    doc = {"format": FORMAT, "version": VERSION, "source": source, "entries": entries}
    Path(path).write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def load(path: str | os.PathLike) -> dict[str, str]:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(f"unreadable lexicon {path}: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("entries"), dict):
        raise BundleError(f"{path} is not a {FORMAT} file")
    if doc.get("version") != VERSION:
        raise BundleError(f"lexicon version {doc.get('version')!r} is not supported (this voxlite reads {VERSION})")
    entries = doc["entries"]
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in entries.items()):
        raise BundleError(f"{path}: lexicon entries must map strings to strings")
    return entries
