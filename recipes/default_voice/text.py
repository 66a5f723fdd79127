"""Sentence set for the default-voice teacher corpus: offline English text, cleaned and normalised.

Source: Debian's ``fortunes`` and ``fortunes-min`` packages (``/usr/share/games/fortunes``; BSD licence, see
README.md). Entries are split into sentences, attributions dropped, abbreviations and numbers written out by the
small normaliser below, and only clean single sentences of 4-14 words are kept: ASCII letters, apostrophes,
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

FORTUNE_DIR = Path("/usr/share/games/fortunes")
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


# ----------------------------------------------------------------------------------------------- numbers

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"))


def cardinal(n: int) -> str:
    """0 <= n < 10**12 in words: 1984 -> 'one thousand nine hundred eighty-four'."""
    if n < 0 or n >= 10**12:
        raise ValueError(f"number out of range: {n}")
    if n < 20:
        return _ONES[n]
    if n < 100:
        t, o = divmod(n, 10)
        return _TENS[t] + (f"-{_ONES[o]}" if o else "")
    if n < 1000:
        h, r = divmod(n, 100)
        return f"{_ONES[h]} hundred" + (f" {cardinal(r)}" if r else "")
    for value, name in _SCALES:
        if n >= value:
            q, r = divmod(n, value)
            return f"{cardinal(q)} {name}" + (f" {cardinal(r)}" if r else "")
    raise AssertionError


_ORDINAL_IRREGULAR = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                      "nine": "ninth", "twelve": "twelfth"}


def _ordinalize(word: str) -> str:
    if word in _ORDINAL_IRREGULAR:
        return _ORDINAL_IRREGULAR[word]
    if word.endswith("y"):
        return word[:-1] + "ieth"
    return word + "th"


def ordinal(n: int) -> str:
    words = cardinal(n)
    head, sep, last = words.rpartition(" ")
    last_head, hyphen, last_tail = last.rpartition("-")
    last = last_head + hyphen + _ordinalize(last_tail)
    return head + sep + last


def year(n: int) -> str:
    """How a year is read: 1984 -> 'nineteen eighty-four', 1905 -> 'nineteen oh five', 2005 -> 'two thousand five'."""
    hi, lo = divmod(n, 100)
    if n % 1000 < 10 and hi % 10 == 0:  # 2000-2009, 1000-1009
        return cardinal(n)
    if lo == 0:
        return f"{cardinal(hi)} hundred"
    if lo < 10:
        return f"{cardinal(hi)} oh {_ONES[lo]}"
    return f"{cardinal(hi)} {cardinal(lo)}"


def _plural(words: str) -> str:
    head, sep, last = words.rpartition(" ")
    last_head, hyphen, last_tail = last.rpartition("-")
    last_tail = last_tail[:-1] + "ies" if last_tail.endswith("y") else last_tail + "s"
    return head + sep + last_head + hyphen + last_tail


def _number(s: str) -> str:
    """A bare integer as read aloud: years as years, others as cardinals."""
    n = int(s)
    if len(s) == 4 and 1100 <= n <= 2099:
        return year(n)
    return cardinal(n)


def _money(m: re.Match) -> str:
    dollars = int(m.group(1).replace(",", ""))
    out = f"{cardinal(dollars)} dollar{'' if dollars == 1 else 's'}"
    if m.group(2):
        cents = int(m.group(2))
        if cents:
            out += f" and {cardinal(cents)} cent{'' if cents == 1 else 's'}"
    return out


def _decimal(m: re.Match) -> str:
    return f"{cardinal(int(m.group(1)))} point " + " ".join(_ONES[int(d)] for d in m.group(2))


def _time(m: re.Match) -> str:
    h, mi = int(m.group(1)), int(m.group(2))
    if not (0 <= h <= 24 and 0 <= mi < 60):
        return m.group(0)
    if mi == 0:
        return f"{cardinal(h)} o'clock"
    if mi < 10:
        return f"{cardinal(h)} oh {_ONES[mi]}"
    return f"{cardinal(h)} {cardinal(mi)}"


_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"


def normalize_numbers(text: str) -> str:
    text = re.sub(r"\$(\d[\d,]*)(?:\.(\d\d))?\b", _money, text)
    text = re.sub(r"\b(\d+(?:\.\d+)?)\s?%", lambda m: f"{m.group(1)} percent", text)
    text = re.sub(r"\b(\d{1,2}):(\d{2})\b", _time, text)
    # grouped with commas: a quantity, never a year ("1,200" -> one thousand two hundred)
    text = re.sub(r"\b(\d{1,3}(?:,\d{3})+)(?![.,]?\d)", lambda m: cardinal(int(m.group(1).replace(",", ""))), text)
    text = re.sub(r"\b(\d+)\.(\d+)\b", _decimal, text)
    text = re.sub(r"\b(\d+) ?(st|nd|rd|th)\b", lambda m: ordinal(int(m.group(1))), text)
    text = re.sub(rf"\b({_MONTHS}) (\d{{1,2}})\b", lambda m: f"{m.group(1)} {ordinal(int(m.group(2)))}", text)
    text = re.sub(r"\b(\d{4})'?s\b", lambda m: _plural(_number(m.group(1))), text)
    text = re.sub(r"(?<![\w'])'?\b(\d0)s\b", lambda m: _plural(cardinal(int(m.group(1)))), text)
    text = re.sub(r"\b\d+\b", lambda m: _number(m.group(0)) if len(m.group(0)) <= 12 else m.group(0), text)
    return text


# ----------------------------------------------------------------------------------------- abbreviations

# Expanded before sentence splitting, so their periods never end a sentence.
_ABBREVIATIONS = {
    "Mr.": "Mister", "Mrs.": "Missus", "Ms.": "Miz", "Dr.": "Doctor", "Prof.": "Professor", "Jr.": "Junior",
    "Sr.": "Senior", "Gen.": "General", "Capt.": "Captain", "Col.": "Colonel", "Lt.": "Lieutenant",
    "Sgt.": "Sergeant", "Rev.": "Reverend", "Gov.": "Governor", "Sen.": "Senator", "Pres.": "President",
    "Mt.": "Mount", "vs.": "versus", "Inc.": "Incorporated", "Ltd.": "Limited", "Corp.": "Corporation",
    "approx.": "approximately", "U.S.A.": "United States of America", "U.S.": "United States",
    "U.K.": "United Kingdom", "e.g.": "for example", "i.e.": "that is", "etc.": "et cetera",
}
_ABBREV_RE = re.compile(
    r"(?<![\w.])(" + "|".join(re.escape(a) for a in sorted(_ABBREVIATIONS, key=len, reverse=True)) + r")"
    r"(?=(\s+\S)?)"
)


def _abbrev(m: re.Match) -> str:
    word = _ABBREVIATIONS[m.group(1)]
    nxt = m.group(2)
    # A sentence-final "etc." keeps its period; mid-sentence ones (followed by a lower-case word) do not.
    if m.group(1) in ("etc.", "U.S.", "U.K.", "U.S.A.", "Inc.", "Ltd.", "Corp.", "Jr.", "Sr.") and (
            nxt is None or nxt.strip()[:1].isupper()):
        return word + "."
    return word


def expand_abbreviations(text: str) -> str:
    text = re.sub(r"(?<![\w.])St\.(?=\s+[A-Z])", "Saint", text)
    text = re.sub(r"(?<![\w.])St\.", "Street", text)
    text = re.sub(r"(?<![\w.])No\.(?=\s*\d)", "number", text)
    text = re.sub(r"(?<![\w.])([ap])\.m\.", lambda m: f"{m.group(1).upper()} M", text)
    return _ABBREV_RE.sub(_abbrev, text)


# ------------------------------------------------------------------------------------------ cleaning

_FINAL_OK = re.compile(r"[A-Z][A-Za-z' ,;!?.\-]*[.!?]")


def clean_layout(text: str) -> str:
    """Quotes, dashes and whitespace: the layout of a fortune entry, not its words."""
    text = re.sub(r".\x08", "", text)                       # overstrike (underlining) in the old files
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"[\"\u201c\u201d]|``|''", " ", text)
    text = re.sub(r"\s*(--+|\u2014|\u2013)\s*", ", ", text)  # a dash is a pause
    text = text.replace("&", " and ")
    text = re.sub(r"(?<![A-Za-z])'|'(?![A-Za-z])", " ", text)  # single quotes used as quotes
    text = re.sub(r"([!?])[!?]+", r"\1", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,;.!?])", r"\1", text)
    text = re.sub(r",\s*([,.!?;])", r"\1", text)
    return text.lstrip(", ")


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


EVAL_HEADER = """\
# voxlite default voice: held-out evaluation sentences. Never used for training.
# Made by recipes/default_voice/corpus.py --write-eval from Debian's fortunes / fortunes-min packages
# (fortune-mod 1.99.1; BSD licence: Copyright (c) 1991 The Regents of the University of California; see
# recipes/default_voice/README.md for the notice). Normalised text, one sentence a line.
"""


def write_eval_file(path: Path, sentences: list[Sentence]) -> None:
    body = "".join(f"{s.norm}\n" for s in sorted(sentences, key=lambda s: s.sid))
    Path(path).write_text(EVAL_HEADER + body, encoding="utf-8")


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
