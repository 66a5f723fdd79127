"""English text normalisation: what is spoken for numbers, money, times, abbreviations and layout characters.

Shared by the runtime G2P (``voxlite.text.english_g2p``) and the default voice's corpus recipe, so training text and
synthesis text are read the same way. Rules are small and deterministic (no locale, no models):
``$3.50`` -> "three dollars and fifty cents", ``1984`` -> "nineteen eighty-four", ``Dr.`` -> "Doctor".
"""
from __future__ import annotations

import re

__all__ = ["cardinal", "ordinal", "year", "normalize_numbers", "expand_abbreviations", "clean_layout",
           "normalize_text"]

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


def normalize_text(text: str) -> str:
    """Layout, abbreviations, numbers (numbers too large to read are left as digits)."""
    text = expand_abbreviations(clean_layout(text))
    try:
        text = normalize_numbers(text)
    except ValueError:
        pass
    return re.sub(r"\s+", " ", text).strip()
