"""A subset of SSML 1.1, parsed with the standard library, turned into what the pipeline speaks: text segments
(each with a speaking rate) and pauses, in order.

Supported (anything else, element or attribute, is refused naming it and listing these):

- ``<speak>`` (attributes ``version``, ``xml:lang``; the SSML namespace may be declared): the root.
- ``<break time="500ms|1.5s" strength="none|x-weak|weak|medium|strong|x-strong"/>``: a pause (time wins over
  strength; neither: medium). Strengths: 0, 0.1, 0.25, 0.4, 0.75, 1.2 s. At most 10 s each.
- ``<prosody rate="...">``: the speaking rate of its content: x-slow 0.5, slow 0.75, medium / default 1,
  fast 1.25, x-fast 1.5; ``150%`` (x 1.5), ``+20%`` / ``-20%`` (x 1.2 / x 0.8) or a bare factor ``1.3``. Nested
  prosody multiplies; the result must be within the voice's speed range (0.5 to 2). A rate change starts a new
  segment (generated separately: the voice's intonation restarts there).
- ``<say-as interpret-as="cardinal|ordinal|characters|spell-out|date|telephone" format="...">``: numbers read as
  cardinals (``1,234.5``, ``-3``) or ordinals (``3``, ``3rd``), text spelled letter by letter, dates
  (``format`` mdy (default; ymd when written YYYY-MM-DD), dmy, ymd, md, dm, ym, my, y, m, d), phone numbers digit
  by digit in their groups. These reuse ``english_normalize``'s readings.
- ``<phoneme alphabet="ipa" ph="...">word</phoneme>``: ``ph`` (the inventory, or common IPA:
  ``voxlite.text.phonemes``) is spoken instead of the word (the G2P front end only).
- ``<sub alias="...">text</sub>``: the alias is spoken instead of the text.

Silence between two spoken chunks: the breaks between them (summed), or where there is none the pipeline's
``pause``. Safety: documents with ``<!DOCTYPE`` or ``<!ENTITY`` are refused before parsing (no DTDs, no entity
expansion); only the five predefined XML entities and character references are read.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from ..errors import InvalidInput
from . import english_normalize as en

SSML_NS = "http://www.w3.org/2001/10/synthesis"
XML_NS = "http://www.w3.org/XML/1998/namespace"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MAX_BREAK_SECONDS = 10.0

ELEMENTS = {  # element -> its attributes
    "speak": {"version", "xml:lang", "xsi:schemaLocation"},
    "break": {"time", "strength"},
    "prosody": {"rate"},
    "say-as": {"interpret-as", "format"},
    "phoneme": {"ph", "alphabet"},
    "sub": {"alias"},
}
BREAK_STRENGTHS = {"none": 0.0, "x-weak": 0.1, "weak": 0.25, "medium": 0.4, "strong": 0.75, "x-strong": 1.2}
RATES = {"x-slow": 0.5, "slow": 0.75, "medium": 1.0, "default": 1.0, "fast": 1.25, "x-fast": 1.5}
SAY_AS = ("cardinal", "ordinal", "characters", "spell-out", "date", "telephone")
DATE_FORMATS = ("mdy", "dmy", "ymd", "md", "dm", "ym", "my", "y", "m", "d")
SPEED_RANGE = (0.5, 2.0)


@dataclass
class Speech:
    text: str
    speed: float = 1.0


@dataclass
class Break:
    seconds: float


def looks_like_ssml(text: str) -> bool:
    """Whether ``text`` is an SSML document: it starts (after whitespace / an XML declaration) with ``<speak``."""
    s = text.lstrip()
    if s.startswith("<?xml"):
        s = s[s.find("?>") + 2:].lstrip() if "?>" in s else s
    return s.startswith("<speak")


def _supported() -> str:
    return "; ".join(f"<{e}> ({', '.join(sorted(a)) or 'no attributes'})" for e, a in ELEMENTS.items())


def _name(tag: str, what: str) -> str:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        if ns == SSML_NS:
            return local
        if ns == XML_NS:
            return f"xml:{local}"
        if ns == XSI_NS:
            return f"xsi:{local}"
        raise InvalidInput(f"SSML: {what} {{{ns}}}{local} is not supported (namespace {ns!r}); supported: "
                           f"{_supported()}")
    return tag


def parse(document: str) -> list[Speech | Break]:
    """An SSML document -> [Speech | Break] in order (adjacent text of one rate merged, adjacent breaks summed,
    blank text dropped, punctuation alone joined to the text before it). InvalidInput for malformed XML, DTDs / entities and anything unsupported."""
    if not isinstance(document, str):
        raise InvalidInput(f"SSML must be a str, got {type(document).__name__}")
    low = document.lower()
    for bad in ("<!doctype", "<!entity"):
        if bad in low:
            raise InvalidInput(f"SSML: {bad.upper()[:2] + bad[2:].upper()} declarations are refused (no DTDs or "
                               "entity definitions)")
    try:
        root = ET.fromstring(document)
    except ET.ParseError as e:
        raise InvalidInput(f"SSML is not well-formed XML: {e}") from None
    if _name(root.tag, "element") != "speak":
        raise InvalidInput(f"SSML: the root element must be <speak>, got <{_name(root.tag, 'element')}>")
    _attrs(root, "speak")
    items: list[Speech | Break] = []
    _walk(root, 1.0, items)
    return _tidy(items)


def _attrs(el, name: str) -> dict[str, str]:
    allowed = ELEMENTS[name]
    out = {}
    for key, value in el.attrib.items():
        k = _name(key, f"attribute of <{name}>")
        if k not in allowed:
            raise InvalidInput(f"SSML: <{name}> attribute {k!r} is not supported (<{name}> takes "
                               f"{', '.join(sorted(allowed)) or 'no attributes'}); supported: {_supported()}")
        out[k] = value.strip()
    return out


def _add_text(items: list, text: str | None, speed: float) -> None:
    if not text:
        return
    if items and isinstance(items[-1], Speech) and items[-1].speed == speed:
        items[-1].text += text
    else:
        items.append(Speech(text, speed))


def _inner_text(el, name: str) -> str:
    """The plain text content of an element that may hold no elements."""
    for child in el:
        raise InvalidInput(f"SSML: <{name}> holds text only, not <{_name(child.tag, 'element')}>")
    return (el.text or "").strip()


def _walk(el, speed: float, items: list) -> None:
    _add_text(items, el.text, speed)
    for child in el:
        name = _name(child.tag, "element")
        if name not in ELEMENTS or name == "speak":
            raise InvalidInput(f"SSML: element <{name}> is not supported{' here' if name == 'speak' else ''}; "
                               f"supported: {_supported()}")
        attrs = _attrs(child, name)
        if name == "break":
            _inner_text(child, name)
            items.append(Break(_break_seconds(attrs)))
        elif name == "prosody":
            rate = speed * _rate(attrs["rate"]) if "rate" in attrs else speed
            if not SPEED_RANGE[0] - 1e-9 <= rate <= SPEED_RANGE[1] + 1e-9:
                raise InvalidInput(f"SSML: <prosody rate={attrs['rate']!r}> gives a speaking rate of {rate:g}; "
                                   f"the voice takes {SPEED_RANGE[0]} to {SPEED_RANGE[1]}")
            _walk(child, round(rate, 9), items)
        elif name == "say-as":
            _add_text(items, f" {say_as(_inner_text(child, name), attrs)} ", speed)
        elif name == "phoneme":
            from .phonemes import to_inventory

            if "ph" not in attrs:
                raise InvalidInput("SSML: <phoneme> needs a ph attribute (the phonemes)")
            alphabet = attrs.get("alphabet", "ipa").lower()
            if alphabet not in ("ipa", "x-voxlite"):
                raise InvalidInput(f"SSML: <phoneme alphabet={attrs['alphabet']!r}> is not supported (ipa: the "
                                   "voice's inventory or common IPA symbols)")
            _inner_text(child, name)
            _add_text(items, f" [[{to_inventory(attrs['ph'], f'<phoneme ph={attrs[chr(112) + chr(104)]!r}>')}]] ",
                      speed)
        elif name == "sub":
            if "alias" not in attrs:
                raise InvalidInput("SSML: <sub> needs an alias attribute (what to say)")
            _inner_text(child, name)
            _add_text(items, f" {attrs['alias']} ", speed)
        _add_text(items, child.tail, speed)


def _tidy(items: list) -> list:
    out: list = []
    for item in items:
        if isinstance(item, Speech):
            text = re.sub(r"\s+", " ", item.text).strip()
            if not text:
                continue
            item = Speech(text, item.speed)
            if not any(c.isalnum() for c in text) and "[[" not in text:  # punctuation only ("</prosody>."): it
                if out and isinstance(out[-1], Speech):  # ends the text before it
                    out[-1] = Speech(out[-1].text + text, out[-1].speed)
                continue
            if out and isinstance(out[-1], Speech) and out[-1].speed == item.speed:
                out[-1] = Speech(f"{out[-1].text} {text}", item.speed)
                continue
        elif out and isinstance(out[-1], Break):
            out[-1] = Break(out[-1].seconds + item.seconds)
            continue
        out.append(item)
    return out


def _break_seconds(attrs: dict) -> float:
    if "time" in attrs:
        m = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|s)", attrs["time"].lower())
        if not m:
            raise InvalidInput(f"SSML: <break time={attrs['time']!r}>: give a time such as '500ms' or '1.5s'")
        seconds = float(m.group(1)) / (1000.0 if m.group(2) == "ms" else 1.0)
        if seconds > MAX_BREAK_SECONDS:
            raise InvalidInput(f"SSML: <break time={attrs['time']!r}> is longer than {MAX_BREAK_SECONDS:g} s")
        return seconds
    strength = attrs.get("strength", "medium").lower()
    if strength not in BREAK_STRENGTHS:
        raise InvalidInput(f"SSML: <break strength={attrs['strength']!r}>: one of {', '.join(BREAK_STRENGTHS)}")
    return BREAK_STRENGTHS[strength]


def _rate(value: str) -> float:
    v = value.lower()
    if v in RATES:
        return RATES[v]
    m = re.fullmatch(r"([+-]?)(\d+(?:\.\d*)?|\.\d+)(%?)", v)
    if m:
        x = float(m.group(2))
        if m.group(3):
            return 1.0 + (x if m.group(1) == "+" else -x) / 100.0 if m.group(1) else x / 100.0
        if not m.group(1):
            return x
    raise InvalidInput(f"SSML: <prosody rate={value!r}>: one of {', '.join(RATES)}, a percentage ('150%', '+20%') "
                       "or a factor ('1.2')")


# -- say-as ---------------------------------------------------------------------------------------------------------
def say_as(text: str, attrs: dict) -> str:
    kind = attrs.get("interpret-as", "").lower()
    if kind not in SAY_AS:
        raise InvalidInput(f"SSML: <say-as interpret-as={attrs.get('interpret-as', '')!r}> is not supported; "
                           f"supported: {', '.join(SAY_AS)}")
    if "format" in attrs and kind != "date":
        raise InvalidInput(f"SSML: <say-as> format is for interpret-as='date', not {kind!r}")
    if not text:
        raise InvalidInput(f"SSML: <say-as interpret-as={kind!r}> is empty")
    bad = InvalidInput(f"SSML: <say-as interpret-as={kind!r}> cannot read {text!r}")
    try:
        if kind == "cardinal":
            if not re.fullmatch(r"[-−]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?|[-−]?\.\d+", text):
                raise bad
            return en._amount(text)
        if kind == "ordinal":
            m = re.fullmatch(r"(\d[\d,]*)(st|nd|rd|th)?", text, re.I)
            if not m:
                raise bad
            return en.ordinal(int(m.group(1).replace(",", "")))
        if kind in ("characters", "spell-out"):
            names = [c.upper() if c.isalpha() else en._ONES[int(c)] for c in text if c.isalnum() and c.isascii()]
            if not names:
                raise bad
            return " ".join(names)
        if kind == "date":
            return _say_date(text, attrs.get("format"), bad)
        return _say_telephone(text, bad)
    except InvalidInput:
        raise
    except ValueError:  # out of range numbers
        raise bad from None


def _say_date(text: str, fmt: str | None, bad: InvalidInput) -> str:
    if fmt is not None and fmt.lower() not in DATE_FORMATS:
        raise InvalidInput(f"SSML: <say-as format={fmt!r}>: one of {', '.join(DATE_FORMATS)}")
    parts = [p for p in re.split(r"[-/.\s]+", text) if p]
    if not parts or not all(p.isdigit() for p in parts):
        raise bad
    if fmt is None:
        fmt = "ymd" if len(parts) == 3 and len(parts[0]) == 4 else "mdy"[:len(parts)] if len(parts) >= 2 else "y"
    fmt = fmt.lower()
    if fmt not in DATE_FORMATS:
        raise InvalidInput(f"SSML: <say-as format={fmt!r}>: one of {', '.join(DATE_FORMATS)}")
    if len(parts) != len(fmt):
        raise InvalidInput(f"SSML: <say-as interpret-as='date' format={fmt!r}> wants {len(fmt)} fields, got {text!r}")
    v = {k: int(p) for k, p in zip(fmt, parts)}
    y, mo, d = v.get("y"), v.get("m"), v.get("d")
    if mo is not None and not 1 <= mo <= 12 or d is not None and not 1 <= d <= 31:
        raise bad
    if y is not None and y < 100 and len(parts[fmt.index("y")]) == 2:
        y += 2000 if y < 50 else 1900
    year = (en.year(y) if 1000 <= y < 10000 else en.cardinal(y)) if y is not None else None
    month = en._MONTH_NAMES[mo - 1] if mo is not None else None
    if fmt in ("mdy", "dmy", "ymd"):
        return en._date(y, mo, d, day_first=fmt == "dmy") or ""
    if fmt == "md":
        return f"{month} {en.ordinal(d)}"
    if fmt == "dm":
        return f"the {en.ordinal(d)} of {month}"
    if fmt in ("ym", "my"):
        return f"{month} {year}"
    return {"y": year, "m": month, "d": f"the {en.ordinal(d)}" if d is not None else None}[fmt]


def _say_telephone(text: str, bad: InvalidInput) -> str:
    read = en.read_phone_numbers(text)
    if read != text and not re.search(r"\d", read):
        return read
    plus = text.lstrip().startswith("+")
    groups = re.findall(r"\d+", text)
    if not groups or re.search(r"[^\d\s+().\-]", text):
        raise bad
    return ("plus " if plus else "") + en._phone_groups(*groups)
