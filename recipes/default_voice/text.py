"""Sentence set for the default-voice teacher corpus: offline English text, cleaned and normalised.

Sources: Debian's ``fortunes`` and ``fortunes-min`` packages (``/usr/share/games/fortunes``; BSD licence, see
README.md), and WordNet 3.0's usage examples (``wordnet-base``, ``/usr/share/wordnet``; WordNet licence). Fortune
entries are split into sentences and attributions dropped; abbreviations and numbers are written out by the small
normaliser below, and only clean single sentences of 4-14 words are kept: ASCII letters, apostrophes,
hyphens inside words and the punctuation ``. , ; ! ?``; no all-capitals words, no colons, no leftover symbols.

Everything is deterministic: files are read in sorted order, duplicates (same words, ignoring case and
punctuation) keep their first occurrence, sentence ids are content hashes of the normalised text, and the
held-out evaluation bucket is a hash of the sentence's words, so a sentence's membership never depends on the
rest of the set.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from voxlite.text.english_normalize import (  # noqa: F401  (re-exported for the recipe)
    _ONES, cardinal, clean_layout, expand_abbreviations, normalize_numbers, ordinal, year)

FORTUNE_DIR = Path("/usr/share/games/fortunes")
WORDNET_DIR = Path("/usr/share/wordnet")
WORDNET_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
# Not used: pictures, non-English text, song lyrics (third-party texts), and the technical files (shell
# commands, Perl, distribution jargon) where hardly a sentence survives the filters.
EXCLUDED_FILES = frozenset({"ascii-art", "translate-me", "songs-poems", "debian", "linux", "linuxcookie", "perl"})

MIN_WORDS, MAX_WORDS = 4, 14
EVAL_SALT = "voxlite-eval-v1"
EVAL_PERMILLE = 15  # ~1.5 % of sentences are evaluation candidates

# A few words keep a sentence out of a default voice's training and evaluation text altogether.
_BLOCKED = re.compile(
    r"\b(fuck\w*|shit\w*|bitch\w*|cunt\w*|nigg\w*|fag\w*|whore\w*|slut\w*|bastard\w*|dick\w*|cock\w*|"
    r"puss(y|ies)|asshole\w*|rap(e|ed|es|ist|ing)|retard\w*|kike\w*|spic\w*|dyke\w*|tits?|penis\w*|"
    r"vagina\w*|orgasm\w*|porn\w*|sex\w*|nazi\w*|hitler)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Sentence:
    sid: str       # content hash of ``norm``
    text: str      # the sentence as found (cleaned of quotes and layout)
    norm: str      # normalised: what is spoken
    source: str    # fortune file name, or "text" / "eval"

    @property
    def key(self) -> str:
        return sentence_key(self.norm)


def sentence_key(text: str) -> str:
    """Words only, lower case: two sentences with the same key are duplicates."""
    return " ".join(re.findall(r"[a-z]+(?:'[a-z]+)?", text.lower()))


def sentence_id(norm: str) -> str:
    return "s" + hashlib.sha1(norm.encode("utf-8")).hexdigest()[:12]


def is_eval_candidate(key: str) -> bool:
    h = int(hashlib.sha1(f"{EVAL_SALT}:{key}".encode("utf-8")).hexdigest(), 16)
    return h % 1000 < EVAL_PERMILLE


_FINAL_OK = re.compile(r"[A-Z][A-Za-z' ,;!?.\-]*[.!?]")


def normalize(sentence: str) -> str | None:
    """One sentence -> its spoken form, or None when it is not a clean single sentence of 4-14 words."""
    s = clean_layout(sentence)
    s = expand_abbreviations(s)
    try:
        s = normalize_numbers(s)
    except ValueError:  # a number too large to read out
        return None
    s = re.sub(r"\s+", " ", s).strip()
    if not _FINAL_OK.fullmatch(s):
        return None
    if re.search(r"[.!?]", s[:-1]) or "'" in s and re.search(r"(^|\s)'|'(\s|$|[,;.!?])", s):
        return None
    words = s.split()
    if len(re.sub(r"[^A-Za-z]", "", words[-1])) == 1 and words[-1][0] != "I":  # "Robert H." from a split initial
        return None
    if not MIN_WORDS <= len(words) <= MAX_WORDS:
        return None
    for w in words:
        letters = re.sub(r"[^A-Za-z]", "", w)
        if not letters:
            return None
        if len(letters) >= 2 and letters.isupper():  # acronyms and shouting: read letter by letter or not at all
            return None
        if w.startswith("-") or w.rstrip(",;.!?").endswith("-") or "--" in w:
            return None
    if _BLOCKED.search(s):
        return None
    if re.search(r"[,;][,;.!?]", s):
        return None
    return s


def split_sentences(text: str) -> list[str]:
    # not after a single capital ("Robert H. Goddard"): initials do not end sentences
    return [p for p in re.split(r"(?<![\s(][A-Z]\.)(?<=[.!?])\s+(?=[A-Z0-9\"'`])", text) if p]


# ------------------------------------------------------------------------------------------- sources

def fortune_files(directory: Path = FORTUNE_DIR) -> list[Path]:
    if not directory.is_dir():
        raise FileNotFoundError(
            f"no fortune files in {directory}: `apt-get install fortunes fortunes-min`, or pass --text FILE")
    return sorted(p for p in directory.iterdir()
                  if p.is_file() and not p.suffix and p.name not in EXCLUDED_FILES)


def fortune_entries(path: Path) -> list[str]:
    raw = path.read_bytes().decode("utf-8", errors="replace")
    return [e for e in re.split(r"^%\s*$", raw, flags=re.MULTILINE) if e.strip()]


def _entry_text(entry: str) -> str | None:
    lines = entry.strip("\n").split("\n")
    out = []
    for line in lines:
        if re.match(r"^\s+--", line) or re.match(r"^\s*--\s*[A-Z]", line) and line is lines[-1]:
            break  # attribution: this line and what follows
        if line.strip() and sum(not (c.isalnum() or c.isspace()) for c in line) > 0.25 * len(line.strip()):
            return None  # pictures, code, tables
        out.append(line)
    return " ".join(out)


def entry_sentences(entry: str) -> list[str]:
    text = _entry_text(entry)
    if text is None:
        return []
    text = clean_layout(text)
    text = expand_abbreviations(text)
    return split_sentences(text)


def dedupe(sentences: list[Sentence]) -> list[Sentence]:
    seen, out = set(), []
    for s in sentences:
        if s.key not in seen:
            seen.add(s.key)
            out.append(s)
    return out


def fortune_sentences(directory: Path = FORTUNE_DIR) -> list[Sentence]:
    """All clean sentences of the fortune files, deduplicated, in file order."""
    found = []
    for path in fortune_files(directory):
        for entry in fortune_entries(path):
            for raw in entry_sentences(entry):
                norm = normalize(raw)
                if norm:
                    found.append(Sentence(sentence_id(norm), raw, norm, path.name))
    return dedupe(found)


def wordnet_examples(directory: Path = WORDNET_DIR) -> list[str]:
    """The quoted usage examples of WordNet 3.0's glosses (``data.*``: ``... | gloss; "example"; "example"``),
    in file order. Many are phrases without a capital or a full stop: they get both, so they read as sentences."""
    files = [Path(directory) / name for name in WORDNET_FILES]
    if not all(f.is_file() for f in files):
        raise FileNotFoundError(f"no WordNet data files in {directory}: `apt-get install wordnet-base`")
    found = []
    for path in files:
        for line in path.read_text(encoding="latin-1").splitlines():
            if line.startswith(" ") or "|" not in line:  # the licence header; synset lines have a gloss
                continue
            for example in re.findall(r'"([^"]+)"', line.split("|", 1)[1]):
                example = example.strip()
                if example:
                    example = example[0].upper() + example[1:]
                    found.append(example if example[-1] in ".!?" else example + ".")
    return found


def wordnet_sentences(directory: Path = WORDNET_DIR) -> list[Sentence]:
    """WordNet's usage examples that normalise to clean sentences, deduplicated, in file order."""
    found = []
    for raw in wordnet_examples(directory):
        norm = normalize(raw)
        if norm:
            found.append(Sentence(sentence_id(norm), raw, norm, "wordnet"))
    return dedupe(found)


def text_file_sentences(path: Path, source: str = "text") -> list[Sentence]:
    """One sentence a line (``#`` comments allowed); lines that do not normalise are skipped."""
    found = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        norm = normalize(line)
        if norm:
            found.append(Sentence(sentence_id(norm), line, norm, source))
    return dedupe(found)


def read_eval_file(path: Path) -> list[Sentence]:
    """The committed held-out set: normalised sentences, one a line."""
    if not Path(path).is_file():
        return []
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(Sentence(sentence_id(line), line, line, "eval"))
    return out


EVAL_HEADERS = {
    "fortunes": """\
# voxlite default voice: held-out evaluation sentences. Never used for training.
# Made by python -m recipes.default_voice.corpus --write-eval from Debian's fortunes / fortunes-min packages
# (fortune-mod 1.99.1; BSD licence: Copyright (c) 1991 The Regents of the University of California; see
# recipes/default_voice/README.md for the notice). Normalised text, one sentence a line.
""",
    "wordnet": """\
# voxlite default voice: held-out evaluation sentences. Never used for training.
# Made by python -m recipes.default_voice.corpus --write-eval --source wordnet from the usage examples in the glosses of
# WordNet 3.0 (Debian's wordnet-base package), normalised; the same hash bucket as the fortune set. One sentence a
# line. WordNet's licence, whose notice and disclaimer must appear on all copies:
#
# This software and database is being provided to you, the LICENSEE, by
# Princeton University under the following license.  By obtaining, using
# and/or copying this software and database, you agree that you have
# read, understood, and will comply with these terms and conditions.:
#
# Permission to use, copy, modify and distribute this software and
# database and its documentation for any purpose and without fee or
# royalty is hereby granted, provided that you agree to comply with
# the following copyright notice and statements, including the disclaimer,
# and that the same appear on ALL copies of the software, database and
# documentation, including modifications that you make for internal
# use or for distribution.
#
# WordNet 3.0 Copyright 2006 by Princeton University.  All rights reserved.
#
# THIS SOFTWARE AND DATABASE IS PROVIDED "AS IS" AND PRINCETON
# UNIVERSITY MAKES NO REPRESENTATIONS OR WARRANTIES, EXPRESS OR
# IMPLIED.  BY WAY OF EXAMPLE, BUT NOT LIMITATION, PRINCETON
# UNIVERSITY MAKES NO REPRESENTATIONS OR WARRANTIES OF MERCHANT-
# ABILITY OR FITNESS FOR ANY PARTICULAR PURPOSE OR THAT THE USE
# OF THE LICENSED SOFTWARE, DATABASE OR DOCUMENTATION WILL NOT
# INFRINGE ANY THIRD PARTY PATENTS, COPYRIGHTS, TRADEMARKS OR
# OTHER RIGHTS.
#
# The name of Princeton University or Princeton may not be used in
# advertising or publicity pertaining to distribution of the software
# and/or database.  Title to copyright in this software, database and
# any associated documentation shall at all times remain with
# Princeton University and LICENSEE agrees to preserve same.
""",
}


def write_eval_file(path: Path, sentences: list[Sentence], source: str = "fortunes") -> None:
    body = "".join(f"{s.norm}\n" for s in sorted(sentences, key=lambda s: s.sid))
    Path(path).write_text(EVAL_HEADERS[source] + body, encoding="utf-8")


def split_train_eval(sentences: list[Sentence], eval_set: list[Sentence]) -> tuple[list[Sentence], list[Sentence]]:
    """Train = every sentence that is neither in the committed eval set nor an eval candidate by hash.

    Returns (train, eval candidates found in ``sentences``); both sorted by sid.
    """
    eval_keys = {s.key for s in eval_set}
    train, candidates = [], []
    for s in sentences:
        if s.key in eval_keys or is_eval_candidate(s.key):
            if is_eval_candidate(s.key):
                candidates.append(s)
            continue
        train.append(s)
    return sorted(train, key=lambda s: s.sid), sorted(candidates, key=lambda s: s.sid)


def shuffled(sentences: list[Sentence], seed: int) -> list[Sentence]:
    """A fixed pseudo-random order that depends only on each sentence and the seed."""
    return sorted(sentences, key=lambda s: hashlib.sha1(f"{seed}:{s.sid}".encode()).hexdigest())
