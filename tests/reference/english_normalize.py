"""English text normalisation: what is spoken for written English as people type it.

Shared by the runtime G2P (``voxlite.text.english_g2p``) and the default voice's corpus recipe, so training text and
synthesis text are read the same way. Rules are small and deterministic (no locale, no models, no lexicon), applied
in this order by ``normalize_text``:

1. layout (``fold_accents``, ``clean_layout``): letters with diacritics lose them ("Ní Bhraonáin" -> "Ni
   Bhraonain", "ł" -> "l"); quotes, dashes, ``&`` -> "and"; a dash between digits (``10–20``) and the minus sign
   ``−`` become ``-``.
2. web addresses and e-mail (``read_web``): ``https://`` is not read; ``www.example.com`` -> "w w w dot example dot
   com", ``example.org/docs`` -> "example dot org slash docs", ``info@example.com`` -> "info at example dot com";
   ``-`` "dash", ``_`` "underscore"; a query string (``?a=b``) is not read. Only hosts ending in a known top-level
   domain (or file names with a known extension, ``report.pdf``) count, so "e.g." or "3.14" never do. Two-letter
   domains and extensions are spelled ("dot I O", "dot P D F").
3. phone numbers (``read_phone_numbers``): ``555-0142``, ``(555) 123-4567``, ``555-123-4567``, ``555.123.4567``,
   ``+1 555 123 4567``, ``1-800-555-0199``: digit by digit, groups separated by commas ("five five five, zero one
   four two"); zero is "zero"; a group ending in "00" after the first is read as a number ("eight hundred").
   Ambiguity: any ``NNN-NNNN`` is a phone number, never a range.
4. abbreviations (``expand_abbreviations``): titles (Dr. Mr. Mrs. Ms. Prof. ...), e.g. / i.e. / etc. / vs. /
   approx., days (Fri.) and months (Jan., Sept.; "Jan 5" without the dot too); ``St.`` is "Street" after a
   capitalised word or a number ("Baker St.", "42nd St."), otherwise "Saint" before a capitalised word ("St.
   Louis"), otherwise "Street". "Sun." and "Sat." (which could be the words "sun" / "sat") only before a comma, a
   date or a month. Dotted initialisms are spelled: ``Ph.D.`` / ``PhD`` -> "P H D", ``F.B.I.`` -> "F B I" (but
   "U.S." -> "United States").
5. symbols that change how a number is read: ``#1`` -> "number one", ``#word`` -> "hashtag word"; ``+`` "plus",
   ``=`` "equals"; ``and/or`` "and or", ``w/`` "with".
6. numbers (``normalize_numbers``), in this order:
   - numeric dates: ISO ``2024-03-05`` and US ``3/5/2024`` (month/day/year; when the first number cannot be a month,
     ``25/12/2024``, it is day/month) -> "March fifth, twenty twenty-four"; ``05.03.2024`` (dots: European order,
     day.month.year) -> "the fifth of March, twenty twenty-four". Two-digit years: ``3/5/24`` -> 2024, 50-99 -> 19xx.
   - currencies ``$ € £ ¥`` before (or ``€`` after) the amount: ``$1`` "one dollar", ``$3.50`` "three dollars and
     fifty cents", ``$0.99`` "ninety-nine cents", ``£3.50`` "three pounds and fifty pence", ``¥500`` "five hundred
     yen", ``€2.5M`` / ``$1.2 billion`` / ``$5k`` "two point five million euros" (scale words: k thousand, M/m/mn
     million, B/bn billion, T/tn trillion).
   - percentages ``50%`` / ``-2.5 %`` -> "fifty percent", "minus two point five percent".
   - times: ``8:00`` "eight o'clock", ``14:45`` "fourteen forty-five", ``10:05`` "ten oh five"; with a.m./p.m.
     (``10:30 a.m.``, ``7pm``, ``7 PM``) -> "ten thirty A M", "seven P M" (no "o'clock" before A M / P M).
     A ratio (one digit after the colon, ``3:1``) is "three to one".
   - units after a number (``5 kg``, ``5kg``): kg g mg cm mm m km km/h kph mph m/s ml l L GB MB KB TB GHz MHz kHz Hz
     kW kWh W V lb lbs oz ft mi h hr hrs min sec ms °C °F ° -> "kilogram(s)", ... "degrees Celsius"; singular only
     for exactly 1 ("1 kg" "one kilogram", "1.5 kg" "one point five kilograms", "0.5 kg" "... kilograms"); before a
     hyphen the unit is an adjective and singular ("a 10-km run" "a ten-kilometer run"). ``/unit`` after an amount is
     "per unit" ("$3/lb" "three dollars per pound", "/hour", "/day", ...; after money any word: "$4/gallon" "four
     dollars per gallon"). ``°`` alone is "degree(s)".
   - fractions: ``1/2`` "one half", ``3/4`` "three quarters", ``2/3`` "two thirds", ``5/16`` "five sixteenths",
     ``2 1/2`` "two and a half"; ``24/7`` "twenty-four seven", ``9/11`` "nine eleven", ``50/50`` "fifty-fifty".
     Ambiguity: a two-part slash number is always a fraction, never a month/day date.
   - versions ``3.11.2`` "three point eleven point two"; thousands separators ``1,200`` "one thousand two hundred";
     decimals ``3.14`` "three point one four", ``.5`` "point five", ``1,234.5``.
   - ranges ``10-20`` "ten to twenty", ``1990-1995`` "nineteen ninety to nineteen ninety-five" (each side read as it
     would be alone, so four-digit years as years). Scores: the same pattern in a sports context (won, lost, beat,
     defeated, drew, tied, score, victory, win, loss, defeat, lead, final, game, match, goal(s), inning, half-time
     within the sentence) is read "three to two", with 0 read as "nothing" ("two to nothing"); no context: a range.
   - negative numbers: a ``-`` (or ``−``) before a number that does not follow a word or number: ``-5`` "minus five",
     ``−3.2°C`` "minus three point two degrees Celsius".
   - ordinals ``1st`` ``22nd`` ``103rd`` "first", "twenty-second", "one hundred third"; month dates ``March 3``
     "March third", ``3 March`` / ``3rd of March`` "the third of March"; decades ``1990s`` ``'90s``.
   - numbers inside words: a number glued to letters is read as a word of its own (``COVID-19`` "COVID-nineteen",
     ``MP3`` "MP three", ``4K`` "four K").
   - whole numbers: four-digit numbers 1100-2099 are read as years ("nineteen ninety-nine", "twenty twenty-four",
     2000 "two thousand", 2005 "two thousand five", 1500 "fifteen hundred"); others as cardinals. A number too large
     to read (10**12 and above) is read digit by digit by ``normalize_text`` (``normalize_numbers`` raises
     ValueError, which the corpus recipe uses to drop the sentence).
7. Roman numerals (``read_roman_numerals``): after a keyword (Chapter, Part, Volume, Book, Act, Scene, Section,
   Article, Appendix, Phase, Stage, Level, Class, Type, Title, Psalm, Episode, Season, Round, "World War", "Super
   Bowl", ...) any well-formed numeral is a cardinal: "Chapter IV" "Chapter four", "World War II" "World War two",
   "Super Bowl LVIII" "Super Bowl fifty-eight"; ``WWII`` "World War two". A single letter after a keyword is a
   numeral only when it is I or V, or X after a part of a book ("Chapter X"): "Model X", "Grade C", "Type D" stay
   letters. After a capitalised name a well-formed
   numeral of two or more letters made of I, V and X only (2-39) is a regnal ordinal: "Louis XIV" "Louis the
   fourteenth", "Henry VIII". The single letter "I" is a numeral only after a keyword or after a regnal name
   (Elizabeth, George, Henry, Louis, ...) when followed by punctuation, the end, "of", "and" or "'s" ("Elizabeth I of
   England"), so the pronoun stays a pronoun. Tokens with L, C, D or M ("MIX", "DC", "CD", "XL", "MD") are never
   numerals outside a keyword context.
8. acronyms (``read_acronyms``): an all-capitals token of two or more letters is spelled ("F B I") when it is in a
   list of acronyms people spell (US, UK, EU, FBI, CEO, DNA, ...) or has no vowel (A E I O U Y; "BBC", "HTML",
   "NYC"; interjections such as "HMM", "SHH" excepted); a plural ``CEOs`` is "C E O's". Every other all-capitals token
   is left to the G2P, which reads it as a word when its lexicon knows it ("NASA", "NATO", "MIX" as "mix") and spells
   it otherwise (up to five letters).
9. remaining symbols: ``@`` "at", ``/`` "slash", ``~`` "about", ``×`` "times", a lone ``%`` "percent", ``°``
   "degrees", ``$ € £ ¥`` "dollars" ...; other symbols are dropped, any digit left is read digit by digit.
"""
from __future__ import annotations

import re
import unicodedata

__all__ = ["cardinal", "ordinal", "year", "normalize_numbers", "expand_abbreviations", "clean_layout",
           "normalize_text", "fold_accents", "read_web", "read_phone_numbers", "read_roman_numerals", "read_acronyms",
           "read_symbols", "roman_value"]

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


def _digits(s: str) -> str:
    return " ".join(_ONES[int(d)] for d in s if d.isdigit())


def _amount(s: str) -> str:
    """A written quantity (``1,200``, ``3.14``, ``.5``, ``-2``) as a cardinal, never as a year."""
    s = s.replace(",", "")
    sign = ""
    if s[:1] in "-\u2212":
        sign, s = "minus ", s[1:]
    whole, _, frac = s.partition(".")
    out = cardinal(int(whole)) if whole else ""
    if frac:
        out = (out + " " if out else "") + "point " + _digits(frac)
    return sign + out


_MONTH_NAMES = ("January February March April May June July August September October November December").split()
_MONTHS = "|".join(_MONTH_NAMES)


def _date(y: int, mo: int, d: int, day_first: bool = False) -> str | None:
    if not (1 <= mo <= 12 and 1 <= d <= 31):
        return None
    if y < 100:
        y += 2000 if y < 50 else 1900
    month = _MONTH_NAMES[mo - 1]
    if day_first:
        return f"the {ordinal(d)} of {month}, {year(y) if 1000 <= y < 10000 else cardinal(y)}"
    return f"{month} {ordinal(d)}, {year(y) if 1000 <= y < 10000 else cardinal(y)}"


def _iso_date(m: re.Match) -> str:
    return _date(int(m.group(1)), int(m.group(2)), int(m.group(3))) or m.group(0)


def _slash_date(m: re.Match) -> str:
    a, b, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if a > 12 and b <= 12:  # 25/12/2024: the day comes first
        return _date(y, b, a) or m.group(0)
    return _date(y, a, b) or m.group(0)


def _dotted_date(m: re.Match) -> str:
    return _date(int(m.group(3)), int(m.group(2)), int(m.group(1)), day_first=True) or m.group(0)


_CURRENCY = {"$": ("dollar", "dollars", "cent", "cents"), "€": ("euro", "euros", "cent", "cents"),
             "£": ("pound", "pounds", "penny", "pence"), "¥": ("yen", "yen", None, None)}
_MONEY_SCALE = {"k": "thousand", "K": "thousand", "thousand": "thousand", "M": "million", "m": "million",
                "mn": "million", "million": "million", "B": "billion", "bn": "billion", "billion": "billion",
                "T": "trillion", "tn": "trillion", "trillion": "trillion"}
_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
_SCALE_RE = r"(?:\s?(k|K|M|m|mn|B|bn|T|tn)|\s(thousand|million|billion|trillion))\b"


def _money_words(symbol: str, num: str, scale: str | None) -> str:
    one, many, sub_one, sub_many = _CURRENCY[symbol]
    if scale:
        return f"{_amount(num)} {_MONEY_SCALE[scale]} {many}"
    whole, _, frac = num.replace(",", "").partition(".")
    units = int(whole) if whole else 0
    if frac and (len(frac) != 2 or sub_one is None):
        return f"{_amount(num)} {many}"
    cents = int(frac) if frac else 0
    parts = []
    if units or not cents:
        parts.append(f"{cardinal(units)} {one if units == 1 else many}")
    if cents:
        parts.append(f"{cardinal(cents)} {sub_one if cents == 1 else sub_many}")
    return " and ".join(parts)


def _money(m: re.Match) -> str:
    return _money_words(m.group(1), m.group(2), m.group(3) or m.group(4))


def _money_after(m: re.Match) -> str:
    return _money_words(m.group(3), m.group(1), m.group(2))


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


def _clock_time(m: re.Match) -> str:
    h, mi = int(m.group(1)), int(m.group(2) or 0)
    if not (0 <= h <= 24 and 0 <= mi < 60):
        return m.group(0)
    spoken = cardinal(h) + ("" if mi == 0 else f" oh {_ONES[mi]}" if mi < 10 else f" {cardinal(mi)}")
    return f"{spoken} {m.group(3).upper()} M"


# abbreviation -> (singular, plural); longest first when matched
_UNITS = {
    "km/h": ("kilometer per hour", "kilometers per hour"), "kph": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"), "m/s": ("meter per second", "meters per second"),
    "kWh": ("kilowatt hour", "kilowatt hours"),
    "kg": ("kilogram", "kilograms"), "mg": ("milligram", "milligrams"), "g": ("gram", "grams"),
    "km": ("kilometer", "kilometers"), "cm": ("centimeter", "centimeters"), "mm": ("millimeter", "millimeters"),
    "m": ("meter", "meters"), "ml": ("milliliter", "milliliters"), "mL": ("milliliter", "milliliters"),
    "l": ("liter", "liters"), "L": ("liter", "liters"),
    "TB": ("terabyte", "terabytes"), "GB": ("gigabyte", "gigabytes"), "MB": ("megabyte", "megabytes"),
    "KB": ("kilobyte", "kilobytes"), "kB": ("kilobyte", "kilobytes"),
    "GHz": ("gigahertz", "gigahertz"), "MHz": ("megahertz", "megahertz"), "kHz": ("kilohertz", "kilohertz"),
    "Hz": ("hertz", "hertz"), "kW": ("kilowatt", "kilowatts"), "W": ("watt", "watts"), "V": ("volt", "volts"),
    "lbs": ("pound", "pounds"), "lb": ("pound", "pounds"), "oz": ("ounce", "ounces"), "ft": ("foot", "feet"),
    "mi": ("mile", "miles"), "hrs": ("hour", "hours"), "hr": ("hour", "hours"), "h": ("hour", "hours"),
    "min": ("minute", "minutes"), "sec": ("second", "seconds"), "ms": ("millisecond", "milliseconds"),
    "°C": ("degree Celsius", "degrees Celsius"), "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "° C": ("degree Celsius", "degrees Celsius"), "° F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"),
}
_UNIT_ALT = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
_PER = {**{u: s for u, (s, _) in _UNITS.items() if "/" not in u and not u.startswith("°")},
        "hour": "hour", "day": "day", "week": "week", "month": "month", "mo": "month", "year": "year", "yr": "year",
        "night": "night", "person": "person", "unit": "unit", "piece": "piece", "kilo": "kilo", "page": "page"}
_PER_ALT = "|".join(re.escape(u) for u in sorted(_PER, key=len, reverse=True))


def _unit(m: re.Match) -> str:
    num, hyphen, unit = m.group(1), m.group(2), m.group(3)
    one, many = _UNITS[unit]
    if hyphen:  # "a 10-km run": an adjective, singular
        return f"{_amount(num)}-{one}"
    value = num.replace(",", "").lstrip("-\u2212")
    return f"{_amount(num)} {one if value == '1' else many}"


_FRACTION_DENOMS = {2: ("half", "halves"), 4: ("quarter", "quarters")}
_SPECIAL_SLASH = {"24/7": "twenty-four seven", "9/11": "nine eleven", "50/50": "fifty-fifty", "20/20": "twenty-twenty"}


def _fraction_words(num: int, den: int, article: bool = False) -> str:
    one, many = _FRACTION_DENOMS.get(den) or (ordinal(den), _plural(ordinal(den)))
    if num == 1:
        return f"{'a' if article else 'one'} {one}"
    return f"{cardinal(num)} {many}"


def _fraction(m: re.Match) -> str:
    if m.group(0) in _SPECIAL_SLASH:
        return _SPECIAL_SLASH[m.group(0)]
    num, den = int(m.group(1)), int(m.group(2))
    if den < 2 or den > 100:
        return f"{cardinal(num)} over {cardinal(den)}"
    return _fraction_words(num, den)


def _mixed_fraction(m: re.Match) -> str:
    whole, num, den = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not (0 < num < den <= 100):
        return m.group(0)
    return f"{cardinal(whole)} and {_fraction_words(num, den, article=True)}"


_SPORTS = re.compile(r"\b(won|win|wins|winning|lost|lose|loses|beat|beats|defeat(?:ed|s)?|drew|draw|tied?|scored?|"
                     r"victory|loss|lead|led|final|game|match|goals?|innings?|half-time|halftime|scoreline)\b",
                     re.IGNORECASE)


def _range_part(s: str) -> str:
    s = s.replace(",", "")
    if "." in s:
        return _amount(s)
    return _number(s)


def _range_or_score(m: re.Match, text: str) -> str:
    a, b = m.group(1), m.group(2)
    start, end = m.span()
    sentence_start = max(text.rfind(". ", 0, start), text.rfind("! ", 0, start), text.rfind("? ", 0, start))
    sentence_end = min((i for i in (text.find(". ", end), text.find("! ", end), text.find("? ", end)) if i >= 0),
                       default=len(text))
    sports = (_SPORTS.search(text, max(0, sentence_start), sentence_end) is not None and "." not in a + b
              and "," not in a + b and int(a) < 100 and int(b) < 100)
    if sports:
        def score(x):
            return "nothing" if int(x) == 0 else cardinal(int(x))
        return f"{score(a)} to {score(b)}"
    return f"{_range_part(a)} to {_range_part(b)}"


def _sub_with_text(pattern: str, fn, text: str) -> str:
    return re.sub(pattern, lambda m: fn(m, text), text)


def _version(m: re.Match) -> str:
    return " point ".join(cardinal(int(p)) for p in m.group(0).split("."))


def normalize_numbers(text: str) -> str:
    """Digits -> words (see the module docstring for the rules and their order). Raises ValueError for a number too
    large to read (10**12 and above)."""
    # numeric dates
    text = re.sub(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", _iso_date, text)
    text = re.sub(r"(?<![\d/])\b(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})\b(?!/)", _slash_date, text)
    text = re.sub(r"(?<![\d.])\b(\d{1,2})\.(\d{1,2})\.(\d{4})\b(?!\.\d)", _dotted_date, text)
    # money
    text = re.sub(rf"([$€£¥])\s?({_NUM})(?:{_SCALE_RE})?", _money, text)
    text = re.sub(rf"(?<![\w.])({_NUM})(?:\s?(k|K|M|m|mn|B|bn))?\s?([€£¥])(?!\w)", _money_after, text)
    # percentages
    text = re.sub(rf"(?<![\w.])([-\u2212]?(?:{_NUM}))\s?%", lambda m: f"{_amount(m.group(1))} percent", text)
    # times with a.m. / p.m., then clock times
    text = re.sub(r"\b(\d{1,2})(?::(\d{2}))?\s?([AaPp])(?:\.\s?[Mm]\.|\s?[Mm]\b|\s[Mm]\b)", _clock_time, text)
    text = re.sub(r"\b(\d{1,2}):(\d{2})\b(?!:\d)", _time, text)
    text = re.sub(r"(?<![\w:.])(\d+):(\d)\b(?![:.]\d)", lambda m: f"{_number(m.group(1))} to {_number(m.group(2))}",
                  text)  # a ratio: one digit after the colon is never minutes
    text = re.sub(r"\b(\d{1,2}):(\d{2}):(\d{2})\b",
                  lambda m: f"{cardinal(int(m.group(1)))} {cardinal(int(m.group(2)))} and {cardinal(int(m.group(3)))}"
                            f" second{'' if int(m.group(3)) == 1 else 's'}", text)
    # units
    text = re.sub(rf"(?<![\w.])((?:(?<!\w)[-\u2212])?(?:{_NUM}))(?:\s?|(-))({_UNIT_ALT})(?![\w/]|\s[CF]\b)",
                  _unit, text)
    text = re.sub(rf"(?<=[a-z]) ?/ ?({_PER_ALT})\b", lambda m: f" per {_PER[m.group(1)]}", text)
    text = re.sub(r"\b(dollars?|cents?|euros?|pounds?|penny|pence|yen) ?/ ?([a-z]+)\b", r"\1 per \2", text)
    # fractions
    text = re.sub(r"(?<![\w/.,])(\d+) (\d+)/(\d+)(?![\w/]|\.\d)", _mixed_fraction, text)
    text = re.sub(r"(?<![\w/.,])(\d+)/(\d+)(?![\w/]|\.\d)", _fraction, text)
    # versions, thousands separators, decimals
    text = re.sub(r"(?<![\w.])\d+(?:\.\d+){2,}\b", _version, text)
    text = _sub_with_text(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)[-\u2013]"
                          r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![\w-]|[.,]\d)", _range_or_score, text)
    text = re.sub(r"(?<![\w.,])[-\u2212](?=(?:\d|\.\d))", "minus ", text)
    # grouped with commas: a quantity, never a year ("1,200" -> one thousand two hundred)
    text = re.sub(r"\b(\d{1,3}(?:,\d{3})+(?:\.\d+)?)(?![.,]?\d)", lambda m: _amount(m.group(1)), text)
    text = re.sub(r"\b(\d+)\.(\d+)\b", _decimal, text)
    text = re.sub(r"(?<![\w.])\.(\d+)\b", lambda m: "point " + _digits(m.group(1)), text)
    text = re.sub(r"\b(\d+) ?(st|nd|rd|th)\b", lambda m: ordinal(int(m.group(1))), text)
    text = re.sub(rf"\b(\d{{1,2}}) (?:of )?({_MONTHS})\b", lambda m: f"the {ordinal(int(m.group(1)))} of {m.group(2)}",
                  text)
    text = re.sub(rf"\b({_MONTHS}) (\d{{1,2}})\b(?!,\d)", lambda m: f"{m.group(1)} {ordinal(int(m.group(2)))}", text)
    text = re.sub(r"\b(\d{4})'?s\b", lambda m: _plural(_number(m.group(1))), text)
    text = re.sub(r"(?<![\w'])'?\b(\d0)s\b", lambda m: _plural(cardinal(int(m.group(1)))), text)
    # numbers glued to letters: "MP3", "4K", "COVID19"
    text = re.sub(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])", " ", text)
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
    # written-form additions
    "Mx.": "Mix", "Rep.": "Representative", "Supt.": "Superintendent", "Ave.": "Avenue", "Blvd.": "Boulevard",
    "Rd.": "Road", "Dept.": "Department", "Univ.": "University", "Approx.": "Approximately", "Vs.": "Versus",
    "E.g.": "For example", "I.e.": "That is", "Fig.": "Figure", "fig.": "figure", "Vol.": "Volume", "vol.": "volume",
    "Ch.": "Chapter", "ch.": "chapter", "pp.": "pages", "Ph.D.": "P H D", "Ph.D": "P H D", "Ph. D.": "P H D",
    "Jan.": "January", "Feb.": "February", "Mar.": "March", "Apr.": "April", "Jun.": "June", "Jul.": "July",
    "Aug.": "August", "Sep.": "September", "Sept.": "September", "Oct.": "October", "Nov.": "November",
    "Dec.": "December", "Mon.": "Monday", "Tue.": "Tuesday", "Tues.": "Tuesday", "Wed.": "Wednesday",
    "Thu.": "Thursday", "Thur.": "Thursday", "Thurs.": "Thursday", "Fri.": "Friday",
}
# a sentence-final one keeps its period; so does one followed by a capitalised word (as before for these)
_KEEPS_PERIOD = frozenset({"etc.", "U.S.", "U.K.", "U.S.A.", "Inc.", "Ltd.", "Corp.", "Jr.", "Sr."})
# day and month names: keep the period only at the end of the text
_CALENDAR = frozenset(a for a, w in _ABBREVIATIONS.items() if w in _MONTH_NAMES or w.endswith("day"))
_ABBREV_RE = re.compile(
    r"(?<![\w.])(" + "|".join(re.escape(a) for a in sorted(_ABBREVIATIONS, key=len, reverse=True)) + r")"
    r"(?=(\s+\S)?)"
)
_MONTH_ABBR = r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec"
_MONTH_BY_ABBR = {a: m for m in _MONTH_NAMES for a in (m[:3], m[:4]) if a.lower() != "may"}


def _abbrev(m: re.Match) -> str:
    abbr = m.group(1)
    word = _ABBREVIATIONS[abbr]
    nxt = m.group(2)
    if abbr in _KEEPS_PERIOD and (nxt is None and m.string[m.end():m.end() + 1] not in (",", ";", ":")
                                  or nxt is not None and nxt.strip()[:1].isupper()):
        return word + "."
    if (abbr in _CALENDAR or abbr.endswith("D.") or abbr == "Ph.D") and not m.string[m.end():].strip():
        return word + "."
    return word


def _initialism(m: re.Match) -> str:
    letters = " ".join(c.upper() for c in m.group(1) if c.isalpha())
    nxt = m.group(2)
    end = nxt is None and m.string[m.end():m.end() + 1] not in (",", ";", ":")
    return letters + ("." if end or nxt is not None and nxt.strip()[:1].isupper() else "")


def expand_abbreviations(text: str) -> str:
    # "St.": Street after a capitalised word or a number ("Baker St.", "5th St."), Saint before a capitalised word
    text = _saint_or_street(text)
    text = re.sub(r"(?<![\w.])No\.(?=\s*\d)", "number", text)
    # "a.m." / "p.m.": its period also ends a sentence at the end of the text or before a capitalised word
    text = re.sub(r"(?<![\w.])([ap])\.m\.(?=(\s+[A-Z])|(\s*$))?",
                  lambda m: f"{m.group(1).upper()} M" + ("." if m.group(2) or m.group(3) is not None else ""), text)
    text = re.sub(r"(?<![\w.])(Sun|Sat)\.(?=,|\s+(?:\d|" + _MONTHS + "|" + _MONTH_ABBR + r")\b)",
                  lambda m: {"Sun": "Sunday", "Sat": "Saturday"}[m.group(1)], text)
    text = re.sub(rf"\b({_MONTH_ABBR})\b(?=\s+\d)", lambda m: _MONTH_BY_ABBR[m.group(1)], text)
    text = _ABBREV_RE.sub(_abbrev, text)
    text = re.sub(r"(?<![\w.])PhDs\b", "P H D's", text)
    text = re.sub(r"(?<![\w.])PhD\b", "P H D", text)
    text = re.sub(r"(?<![\w.])(?:vs|Vs)\b(?!\.)", "versus", text)
    text = re.sub(r"(?<![\w.])etc\b(?!\.)", "et cetera", text)
    # dotted initialisms: "F.B.I." "M.D." "N.Y.C."
    text = re.sub(r"(?<![\w.])((?:[A-Za-z]\.){2,})(?=(\s+\S)?)", _initialism, text)
    return text


def _saint_or_street(text: str) -> str:
    def repl(m: re.Match) -> str:
        before = text[:m.start()].rstrip()
        prev = before.split()[-1] if before.split() else ""
        after = text[m.end():]
        next_cap = re.match(r"\s+[A-Z][a-z]", after) is not None
        after_name = bool(re.fullmatch(r"[A-Z][\w'-]*|\d+(?:st|nd|rd|th)?", prev)) and not re.search(r"[.!?]$", prev)
        at_end = not after.strip()
        if after_name:
            return "Street." if next_cap or at_end else "Street"
        return "Saint" if next_cap else "Street." if at_end else "Street"
    return re.sub(r"(?<![\w.])St\.", repl, text)


# ----------------------------------------------------------------------------------------- web, phones

_TLDS = ("com|org|net|edu|gov|mil|int|io|co|ai|dev|app|info|biz|xyz|tech|me|tv|us|uk|ca|au|de|fr|es|it|nl|jp|in|eu|"
         "ly|gl|ru|ch|se|no|nz|ie|be|at|pl|br|cn")
_FILE_EXTS = "pdf|txt|doc|docx|csv|jpg|jpeg|png|gif|zip|html|py|mp4|mp3|wav|json|xml|xlsx|pptx|exe"
# read as words, not spelled
_SAID_AS_WORDS = frozenset({"com", "org", "net", "gov", "info", "biz", "dev", "app", "tech", "co", "me", "int",
                            "edu", "mil", "zip", "json", "gif", "wav", "exe"})
_URL_RE = re.compile(
    r"(?<![\w@.])((?:https?|ftp)://)?((?:www\.)?[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    rf"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.(?:{_TLDS}|{_FILE_EXTS}))(?![\w-]|\.[A-Za-z0-9])"
    r"(:\d+)?((?:/[^\s?#]*)?)(\?[^\s]*)?"
)
_EMAIL_RE = re.compile(r"(?<![\w.+-])([A-Za-z0-9][\w.+-]*)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})\b")


def _read_name_part(part: str, spell_short: bool = False) -> str:
    """One piece of a host, path or user name: separators spoken, two-letter pieces (``io``) spelled."""
    out = []
    for piece in re.split(r"([-_.+~])", part):
        if not piece:
            continue
        if piece in "-_.+~":
            out.append({"-": "dash", "_": "underscore", ".": "dot", "+": "plus", "~": "tilde"}[piece])
        elif piece.isdigit():
            out.append(_digits(piece) if len(piece) > 4 or piece[0] == "0" else _number(piece))
        elif spell_short and piece.isalpha() and piece.lower() not in _SAID_AS_WORDS and (
                len(piece) <= 2 or piece.lower() in _FILE_EXTS.split("|")):
            out.append(" ".join(piece.upper()))
        else:
            out.append(piece)
    return " ".join(out)


def _read_host(host: str) -> str:
    labels = host.split(".")
    spoken = []
    for i, label in enumerate(labels):
        if label.lower() == "www":
            spoken.append("w w w")
        else:
            spoken.append(_read_name_part(label, spell_short=i == len(labels) - 1 or len(label) <= 2))
    return " dot ".join(spoken)


def _url(m: re.Match) -> str:
    host, port, path = m.group(2), m.group(3), m.group(4)
    trail = ""
    stripped = path.rstrip(".,;:!?)")
    trail, path = path[len(stripped):], stripped
    if m.group(5):  # a query string is not read; its trailing punctuation is kept
        q = m.group(5)
        trail = q[len(q.rstrip(".,;:!?)")):]
    out = _read_host(host)
    if port:
        out += " colon " + _number(port[1:])
    for seg in path.split("/")[1:]:
        out += " slash" + (" " + _read_name_part(seg, spell_short=True) if seg else "")
    return " " + out + " " + trail


def _email(m: re.Match) -> str:
    return f"{_read_name_part(m.group(1))} at {_read_host(m.group(2))}"


def read_web(text: str) -> str:
    """E-mail and web addresses as people read them."""
    text = _EMAIL_RE.sub(_email, text)
    return _URL_RE.sub(_url, text)


def _phone_groups(*groups: str) -> str:
    spoken = []
    for i, g in enumerate(groups):
        if i > 0 and len(g) == 3 and g.endswith("00") and g[0] != "0" and i < len(groups) - 1:
            spoken.append(cardinal(int(g)))  # 1-800-...
        else:
            spoken.append(_digits(g))
    return ", ".join(spoken)


def read_phone_numbers(text: str) -> str:
    """Phone numbers digit by digit, in their written groups."""
    text = re.sub(r"(?<![\w+])\+(\d{1,3})[\s.-]?\(?(\d{3})\)?[\s.-]?(\d{3})[\s.-]?(\d{4})\b",
                  lambda m: "plus " + _phone_groups(*m.groups()), text)
    text = re.sub(r"(?<![\w+])\+(\d{1,3})((?:[\s.-]\d{2,5}){2,5})\b",
                  lambda m: "plus " + _phone_groups(m.group(1), *re.split(r"[\s.-]", m.group(2).strip(" .-"))), text)
    text = re.sub(r"(?<![\w-])1[-. ](\d{3})[-. ](\d{3})[-. ](\d{4})\b",
                  lambda m: _phone_groups("1", *m.groups()), text)
    text = re.sub(r"(?<![\w)])\((\d{3})\)\s?(\d{3})[-. ](\d{4})\b", lambda m: _phone_groups(*m.groups()), text)
    text = re.sub(r"(?<![\w.-])(\d{3})([-.])(\d{3})\2(\d{4})\b", lambda m: _phone_groups(m.group(1), m.group(3),
                                                                                        m.group(4)), text)
    text = re.sub(r"(?<![\w.,-])(\d{3})-(\d{4})\b(?![-.]\d)", lambda m: _phone_groups(*m.groups()), text)
    return text


# ----------------------------------------------------------------------------------------- symbols

def _hash_and_signs(text: str) -> str:
    text = re.sub(r"(?<![\w&])#\s?(?=\d)", "number ", text)
    text = re.sub(r"(?<![\w&])#(?=[A-Za-z])", "hashtag ", text)
    text = re.sub(r"\b[Aa]nd/or\b", lambda m: m.group(0)[0] + "nd or", text)
    text = re.sub(r"(?<![\w/])[Ww]/o(?=\s)", "without", text)
    text = re.sub(r"(?<![\w/])[Ww]/(?=\s)", "with", text)
    text = re.sub(r"(?<=\w)\+\+", " plus plus", text)                 # C++
    text = re.sub(r"(?<![\w+])\+(?=\s?(?:\d|\.\d))", "plus ", text)  # +5
    text = re.sub(r"(?<=\d)\+(?!\w)", " plus", text)                  # 50+
    text = re.sub(r"\s*\+\s*", " plus ", text)
    text = re.sub(r"\s*=\s*", " equals ", text)
    text = re.sub(r"\s*[×]\s*", " times ", text)
    text = re.sub(r"(?<=\d)\s?x\s?(?=\d)", " by ", text)              # 1920x1080, 3 x 4
    text = re.sub(r"(?<![\w~])~\s?(?=[\d$€£¥.])", "about ", text)
    return text


_SYMBOL_WORDS = {"@": "at", "/": "slash", "~": "about", "%": "percent", "°": "degrees", "$": "dollars",
                 "€": "euros", "£": "pounds", "¥": "yen", "+": "plus", "=": "equals", "#": "number", "&": "and",
                 "×": "times", "\u2212": "minus"}


def read_symbols(text: str) -> str:
    """What is left: symbols as words, anything unreadable dropped, stray digits read one by one."""
    text = re.sub(r"(?<=\w)/(?=\w)", " slash ", text)
    text = re.sub("|".join(re.escape(s) for s in _SYMBOL_WORDS), lambda m: f" {_SYMBOL_WORDS[m.group(0)]} ", text)
    text = re.sub(r"[*^|<>\\_{}\[\]`]", " ", text)
    text = re.sub(r"\d+", lambda m: " " + _digits(m.group(0)) + " ", text)
    return text


# ----------------------------------------------------------------------------------------- Roman numerals

_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def roman_value(s: str) -> int | None:
    """The value of a well-formed (canonical) Roman numeral 1-3999, else None ("IIII", "VX", "MIX" -> 1009)."""
    if not s or any(c not in _ROMAN for c in s):
        return None
    total, prev = 0, 0
    for c in reversed(s):
        v = _ROMAN[c]
        total += -v if v < prev else v
        prev = max(prev, v)
    return total if 0 < total < 4000 and _to_roman(total) == s else None


def _to_roman(n: int) -> str:
    out = []
    for value, sym in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"),
                       (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out.append(sym)
            n -= value
    return "".join(out)


_ROMAN_KEYWORDS = ("Chapter|Part|Volume|Book|Act|Scene|Section|Article|Appendix|Phase|Stage|Level|Class|Type|"
                   "Title|Psalm|Canto|Episode|Season|Round|Grade|Schedule|Unit|Annex|Division|Tier|Mark|Mk|Vatican|"
                   "World War|Super Bowl|Olympiad|Amendment|Stanza|Lesson|Exercise|Figure|Plate|Table|Model")
_BOOK_PARTS = "Chapter|Part|Volume|Book|Act|Scene|Section|Article|Appendix|Psalm|Canto|Stanza|Lesson"
_REGNAL_NAMES = ("Elizabeth|George|Henry|Louis|Charles|James|Edward|William|Richard|Mary|Peter|Catherine|Napoleon|"
                 "Alexander|Nicholas|Philip|Frederick|Francis|John|Paul|Pius|Leo|Benedict|Gregory|Innocent|Clement|"
                 "Urban|Ferdinand|Isabella|Victor|Emmanuel|Umberto|Wilhelm|Ludwig|Otto|Rudolf|Carl|Gustav|Olaf|"
                 "Harald|Haakon|Christian|Frederik|Juan|Carlos|Felipe|Alfonso|Anne|Victoria|Ivan|Selim|Mehmed|"
                 "Rameses|Ramesses|Amenhotep|Thutmose|Ptolemy|Cyrus|Darius|Xerxes|Constantine|Justinian|Stephen")

# capitalised words that are not names: "The IV drip", "In II Kings" stay as they are
_NOT_NAMES = ("The|A|An|This|That|These|Those|His|Her|Its|Our|Their|My|Your|In|On|At|For|With|By|From|To|Of|And|But|"
              "Or|If|When|No|Every|Each|Some|Any|Is|Was|Are|Were|Not|See|Use|Get|Give|Take")


def read_roman_numerals(text: str) -> str:
    text = re.sub(r"\bWWII\b", "World War two", text)
    text = re.sub(r"\bWWI\b", "World War one", text)

    def keyword(m: re.Match) -> str:
        word, numeral = m.group(1), m.group(2)
        v = roman_value(numeral)
        if v is None or len(numeral) == 1 and not (
                numeral in "IV" or numeral == "X" and re.fullmatch(_BOOK_PARTS, word, re.IGNORECASE)):
            return m.group(0)  # "Model X", "Grade C", "Type D": letters
        return f"{word} {cardinal(v)}"
    text = re.sub(rf"\b({_ROMAN_KEYWORDS}|{_ROMAN_KEYWORDS.lower()}) ([IVXLCDM]+)\b(?!['\w-])", keyword, text)
    text = re.sub(rf"\b({_REGNAL_NAMES}) I\b(?=\s*(?:[,.;:!?)]|$)|\s+(?:of|and)\b|'s\b)",
                  lambda m: f"{m.group(1)} the first", text)

    def regnal(m: re.Match) -> str:
        v = roman_value(m.group(2))
        if v is None or not 2 <= v <= 39:
            return m.group(0)
        suffix = m.group(3) or ""
        return f"{m.group(1)} the {ordinal(v)}" + suffix
    return re.sub(rf"\b(?!(?:{_NOT_NAMES})\b)([A-Z][a-z][\w'-]*) ([IVX]{{2,}})\b('s)?(?![\w-])", regnal, text)


# ----------------------------------------------------------------------------------------- acronyms

_SPELLED = frozenset(
    "US USA UK EU UN UAE FBI CIA NSA IRS DOJ CDC WHO_ BBC CNN NBC CBS ABC HBO CEO CFO CTO COO VP HR PR IT_ AI ML "
    "DNA RNA HIV ATM PIN_ ID IQ OK_ TV PC CPU GPU RAM_ USB URL API SDK PDF HTML CSS SQL JSON_ XML IBM HP AMD BMW VW "
    "NYC LA DC NY NJ BC AD BCE CE MIT UCLA_ NHS MP MD EU ETA FAQ VIP DIY ASAP_ RSVP UFO IOU GDP CPI IPO CV RV SUV "
    "ICU ER UV LED_ LCD DVD CD MVP NBA NFL MLB NHL FIFA_ UEFA_ EPA FDA FAA NTSB SEC_ ECB IMF OECD ESA JPL".split())
_SPELLED = frozenset(a for a in _SPELLED if not a.endswith("_"))
_NOT_SPELLED = frozenset("HMM HM MM SHH SH PSST GRR BRR ZZZ TSK PFFT NTH".split())


def _spelled(letters: str) -> str:
    return " ".join(letters)


def read_acronyms(text: str) -> str:
    def repl(m: re.Match) -> str:
        word, plural = m.group(1), m.group(2)
        if word in _NOT_SPELLED:
            return m.group(0)
        if word in _SPELLED or not re.search(r"[AEIOUY]", word):
            spelled = _spelled(word)
            return spelled + ("'s" if plural else "")
        return m.group(0)
    return re.sub(r"(?<![\w'-])([A-Z]{2,})(s)?\b(?!['\w])", repl, text)


# ------------------------------------------------------------------------------------------ cleaning

def clean_layout(text: str) -> str:
    """Quotes, dashes and whitespace: the layout of a fortune entry, not its words."""
    text = re.sub(r".\x08", "", text)                       # overstrike (underlining) in the old files
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"[\"\u201c\u201d]|``|''", " ", text)
    text = re.sub(r"(?<=\d)[\u2013\u2014](?=\d)", "-", text)  # 10–20: a range, not a pause
    text = re.sub(r"\u2212\s?(?=\.?\d)", "-", text)          # the minus sign
    text = re.sub(r"\s*(--+|\u2014|\u2013)\s*", ", ", text)  # a dash is a pause
    text = text.replace("&", " and ")
    text = re.sub(r"(?<![A-Za-z])'|'(?![A-Za-z])", " ", text)  # single quotes used as quotes
    text = re.sub(r"([!?])[!?]+", r"\1", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,;.!?])(?!\d)", r"\1", text)  # not before a decimal: ".5"
    text = re.sub(r",\s*([,.!?;])(?!\d)", r"\1", text)
    return text.lstrip(", ")


_FOLDED = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "Æ": "Ae", "œ": "oe",
                         "Œ": "Oe", "đ": "d", "Đ": "D", "þ": "th", "Þ": "Th", "ð": "d", "ı": "i"})


def fold_accents(text: str) -> str:
    """Latin letters with diacritics -> plain letters ("Szczepański" -> "Szczepanski"), so names stay one word for
    the G2P, which reads ASCII letters only."""
    text = unicodedata.normalize("NFKD", text.translate(_FOLDED))
    return "".join(c for c in text if not unicodedata.combining(c))


def normalize_text(text: str) -> str:
    """Written English -> what is spoken (module docstring); the result has no digits and no symbols but ``'`` and
    ``- , . ; : ! ?``."""
    text = clean_layout(fold_accents(text))
    text = read_web(text)
    text = read_phone_numbers(text)
    text = expand_abbreviations(text)
    text = _hash_and_signs(text)
    try:
        text = normalize_numbers(text)
    except ValueError:  # a number too large to read: the others are read, it is read digit by digit
        text = re.sub(r"\d[\d,]{12,}", lambda m: _digits(m.group(0)), text)
        text = normalize_numbers(text)
    text = read_roman_numerals(text)
    text = read_acronyms(text)
    text = read_symbols(text)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,;.!?])", r"\1", text)
    return text
