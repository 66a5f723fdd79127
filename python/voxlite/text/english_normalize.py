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

Implementation: the C++ one in ``voxlite._native`` (csrc/text/english_normalize.cpp; the C API calls the same
code), so text is read the same way from Python and from C. It is a line-by-line port of the former Python
implementation, kept as ``tests/reference/english_normalize.py`` and held to it exactly by
tests/test_native_normalize.py. Text must be valid Unicode: a str with a lone surrogate raises UnicodeEncodeError
(a ValueError).
"""
from __future__ import annotations

from .. import _native

__all__ = ["cardinal", "ordinal", "year", "normalize_numbers", "expand_abbreviations", "clean_layout",
           "normalize_text", "fold_accents", "read_web", "read_phone_numbers", "read_roman_numerals", "read_acronyms",
           "read_symbols", "roman_value"]

# ----------------------------------------------------------------------------------------------- numbers

# Word lists other modules read (voxlite.text.ssml, the default voice's corpus recipe).
_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_MONTH_NAMES = ("January February March April May June July August September October November December").split()
_MONTHS = "|".join(_MONTH_NAMES)

_INT64 = 2**63


def _out_of_range(n: int) -> ValueError:
    return ValueError(f"number out of range: {n}")


def cardinal(n: int) -> str:
    """0 <= n < 10**12 in words: 1984 -> 'one thousand nine hundred eighty-four'."""
    if not -_INT64 <= n < _INT64:
        raise _out_of_range(n)
    return _native.en_cardinal(n)


def ordinal(n: int) -> str:
    if not -_INT64 <= n < _INT64:
        raise _out_of_range(n)
    return _native.en_ordinal(n)


def year(n: int) -> str:
    """How a year is read: 1984 -> 'nineteen eighty-four', 1905 -> 'nineteen oh five', 2005 -> 'two thousand five'."""
    if not -_INT64 <= n < _INT64:  # the number the Python reading would have refused
        raise _out_of_range(n if n % 1000 < 10 and n // 100 % 10 == 0 else n // 100)
    return _native.en_year(n)


def normalize_numbers(text: str) -> str:
    """Digits -> words (see the module docstring for the rules and their order). Raises ValueError for a number too
    large to read (10**12 and above)."""
    return _native.en_normalize_numbers(text)


def expand_abbreviations(text: str) -> str:
    return _native.en_expand_abbreviations(text)


def read_web(text: str) -> str:
    """E-mail and web addresses as people read them."""
    return _native.en_read_web(text)


def read_phone_numbers(text: str) -> str:
    """Phone numbers digit by digit, in their written groups."""
    return _native.en_read_phone_numbers(text)


def read_symbols(text: str) -> str:
    """What is left: symbols as words, anything unreadable dropped, stray digits read one by one."""
    return _native.en_read_symbols(text)


def roman_value(s: str) -> int | None:
    """The value of a well-formed (canonical) Roman numeral 1-3999, else None ("IIII", "VX", "MIX" -> 1009)."""
    return _native.en_roman_value(s)


def read_roman_numerals(text: str) -> str:
    return _native.en_read_roman_numerals(text)


def read_acronyms(text: str) -> str:
    return _native.en_read_acronyms(text)


def clean_layout(text: str) -> str:
    """Quotes, dashes and whitespace: the layout of a fortune entry, not its words."""
    return _native.en_clean_layout(text)


def fold_accents(text: str) -> str:
    """Latin letters with diacritics -> plain letters ("Szczepański" -> "Szczepanski"), so names stay one word for
    the G2P, which reads ASCII letters only."""
    return _native.en_fold_accents(text)


def normalize_text(text: str) -> str:
    """Written English -> what is spoken (module docstring); the result has no digits and no symbols but ``'`` and
    ``- , . ; : ! ?``."""
    return _native.en_normalize_text(text)


# ----------------------------------------------------------------------------------------------- SSML's helpers

def _amount(s: str) -> str:
    """A written quantity (``1,200``, ``3.14``, ``.5``, ``-2``) as a cardinal, never as a year."""
    return _native.en_amount(s)


def _date(y: int, mo: int, d: int, day_first: bool = False) -> str | None:
    if not (1 <= mo <= 12 and 1 <= d <= 31):
        return None
    if not -_INT64 <= y < _INT64:
        raise _out_of_range(y)
    return _native.en_date(y, mo, d, day_first)


def _phone_groups(*groups: str) -> str:
    return _native.en_phone_groups(list(groups))
