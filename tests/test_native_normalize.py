"""The native English normaliser (``voxlite._native``, csrc/text/english_normalize.cpp, behind
``voxlite.text.english_normalize``) against its reference, the former Python implementation
(tests/reference/english_normalize.py): the output must be identical, character for character, on

(a) every line of recipes/default_voice/eval_sentences*.txt,
(b) every input of tests/test_english_normalize.py,
(c) 6,000 sentences from a seeded generator mixing words with numbers, dates, times, money, units, phone numbers,
    web addresses, abbreviations, Roman numerals, acronyms, accents, non-Latin letters, odd punctuation and
    whitespace, and numbers too large to read (a ValueError must be raised by both or by neither),
(d) and its regex engine must give re's matches for every pattern the reference compiles (and the G2P's few).

Plus each step function alone, the number readers and SSML's helpers, bad input (lone surrogates, invalid UTF-8),
inputs of 20,000 characters and concurrent calls.
"""
from __future__ import annotations

import ast
import importlib.util
import random
import re
import threading
from pathlib import Path

import pytest

from tests.reference import english_normalize as ref
from voxlite import _native
from voxlite.text import english_normalize as en

ROOT = Path(__file__).resolve().parents[1]
EVAL_FILES = sorted((ROOT / "recipes" / "default_voice").glob("eval_sentences*.txt"))
STEPS = ("fold_accents", "clean_layout", "read_web", "read_phone_numbers", "expand_abbreviations",
         "normalize_numbers", "read_roman_numerals", "read_acronyms", "read_symbols")


def outcome(fn, *args):
    """The result, or the exception type for a ValueError (both implementations must refuse the same inputs)."""
    try:
        return fn(*args)
    except ValueError:
        return ValueError


def eval_lines() -> list[str]:
    lines = []
    for path in EVAL_FILES:
        lines += path.read_text(encoding="utf-8").splitlines()
    return lines


def english_normalize_test_inputs() -> list[str]:
    """Every string literal in tests/test_english_normalize.py (its inputs, and its expected outputs too)."""
    tree = ast.parse((ROOT / "tests" / "test_english_normalize.py").read_text(encoding="utf-8"))
    return sorted({node.value for node in ast.walk(tree)
                   if isinstance(node, ast.Constant) and isinstance(node.value, str)})


# ----------------------------------------------------------------------------------------------- the generator

WORDS = ("the a an and or but of to in on at for with from by is was are were be it he she they we you I this that "
         "people apples cats dogs market street river city team game match final score lead won lost beat drew tied "
         "goals inning victory season chapter page volume book act scene part type model class grade mark table "
         "figure plate round level stage phase unit tier paid bought costs weighs runs call visit e-mail see read "
         "meet opens closes about around nearly only just over under between from to up down left right new old "
         "big small first last next half quarter sharp o'clock price speed weight temperature distance file report "
         "it's don't can't he'd I'm we'll they've").split()
NAMES = ("Smith Jones Lee Park Chen Baker Main Louis Henry Elizabeth George Charles Mary Victoria John Paul "
         "Nakamura-Oyelaran O'Brien McDonald Washington London Paris Boston Texas Google NASA NATO Apple Amazon "
         "Rameses Ptolemy Napoleon Alexander Pius Leo Gregory Olaf Stephen The His In On When Some").split()
ACCENTED = ("café naïve façade Ní Bhraonáin Łukasz Søndergaard Szczepański Dvořák Müller Straße Ærø Œuvre Þór "
            "đường İstanbul ıslak résumé Ångström ﬁnal ﬂow Ⅻ ½ ¾ x² H₂O ℃ ＡＢＣ １２３ ｶﾀｶﾅ "
            "Σωκράτης ΑΣ Москва Київ 東京 한국어 שלום مرحبا ٣٤ ١٢٣ ۱۲ १२ ፩ ፪ ๑๒ ⑤ 😀 ☃ ſ K Å").split()
ABBREVS = ("Mr. Mrs. Ms. Dr. Prof. Jr. Sr. Gen. Capt. Col. Lt. Sgt. Rev. Gov. Sen. Pres. Mt. vs. Inc. Ltd. Corp. "
           "approx. U.S.A. U.S. U.K. e.g. i.e. etc. Mx. Rep. Supt. Ave. Blvd. Rd. Dept. Univ. Approx. Vs. E.g. I.e. "
           "Fig. fig. Vol. vol. Ch. ch. pp. Ph.D. Ph.D Jan. Feb. Mar. Apr. Jun. Jul. Aug. Sep. Sept. Oct. Nov. Dec. "
           "Mon. Tue. Tues. Wed. Thu. Thur. Thurs. Fri. Sat. Sun. St. No. a.m. p.m. PhD PhDs vs etc F.B.I. N.Y.C. "
           "M.D. a.b. Jan Feb Sept").split() + ["Ph. D."]
ACRONYMS = ("US USA UK EU FBI CIA CEO CEOs CFOs DNA HTML NYC BBC HMM SHH PSST NASA NATO STOP IT OK WHO MIX DC CD "
            "XL MD LA TV GPU GPUs API URL JSON FIFA ZZZ PFFT BRR XYZ QWRT").split()
KEYWORDS = ("Chapter Part Volume Book Act Scene Section Article Appendix Phase Stage Level Class Type Title Psalm "
            "Canto Episode Season Round Grade Schedule Unit Annex Division Tier Mark Mk Vatican Olympiad Amendment "
            "Stanza Lesson Exercise Figure Plate Table Model chapter part volume book act model").split() + [
    "World War", "Super Bowl", "world war"]
NUMERALS = ("I II III IV V VI VII VIII IX X XI XIV XIX XX XXX XL L LVIII XC C CD D DC M MCMXCIX MMXXIV IIII VX IC "
            "MIX").split()
UNITS = ("km/h kph mph m/s kWh kg mg g km cm mm m ml mL l L TB GB MB KB kB GHz MHz kHz Hz kW W V lbs lb oz ft mi "
         "hrs hr h min sec ms °C °F ° in yd").split() + ["° C", "° F"]
TLDS = "com org net edu io co ai dev uk de fr jp info biz xyz pdf txt html py json mp3 zip exe".split()
PUNCT = ["", "", "", ".", ",", "!", "?", ";", ":", "...", "!!!", "?!", " -", " --", " —", "–", ")", "'", '"', "”"]
SEPARATORS = [" "] * 12 + [", ", ". ", "; ", ": ", " - ", " -- ", " — ", "\t", "  ", "\n", "\u00a0", "\u2003", " & ",
                              " / ", " (", ") ", " \"", "\" ", " “", "” ", " '", "' ", " ``", "'' ", "\r\n"]
SPORTS = ["won", "lost", "beat", "defeated", "drew", "tied", "score", "victory", "final", "game", "match", "goals",
          "innings", "half-time", "lead", "WON"]


def _int(rng: random.Random) -> str:
    kind = rng.randrange(10)
    if kind < 3:
        return str(rng.randrange(0, 100))
    if kind < 5:
        return str(rng.randrange(100, 10000))
    if kind == 5:
        return str(rng.randrange(1100, 2100))
    if kind == 6:
        return f"{rng.randrange(1000, 10**10):,}"
    if kind == 7:
        return str(rng.randrange(10**11, 10**16))  # some too large to read
    if kind == 8:
        return f"{rng.randrange(10**12, 10**16):,}"
    return rng.choice(["0", "00", "007", "1", "12", "100", "1000", "2000", "2005", "1905", "1800", "999999999999"])


def _decimal(rng):
    return rng.choice([f"{rng.randrange(0, 1000)}.{rng.randrange(0, 1000)}", f".{rng.randrange(0, 100)}",
                       f"{rng.randrange(1000, 10**7):,}.{rng.randrange(0, 100):02d}", "3.14", "0.99", "1.5", "0.5"])


def _number(rng):
    n = rng.choice([_int, _int, _decimal])(rng)
    sign = rng.choice(["", "", "", "-", "−", "+", "~", "#"])
    return sign + n


def _date(rng):
    y, m, d = rng.randrange(1, 2100), rng.randrange(0, 14), rng.randrange(0, 33)
    month = rng.choice(en._MONTH_NAMES)
    return rng.choice([
        f"{y:04d}-{m:02d}-{d:02d}", f"{m}/{d}/{y}", f"{d}/{m}/{y % 100:02d}", f"{d:02d}.{m:02d}.{y:04d}",
        f"{month} {d}", f"{month} {d}, {y}", f"{d} {month}", f"{d} {month} {y}", f"the {d}th of {month}",
        f"{month} {d}{rng.choice(['st', 'nd', 'rd', 'th'])}", f"{rng.choice(['Jan', 'Feb', 'Sept', 'Dec'])} {d}",
        f"{y}s", f"'{rng.randrange(0, 10)}0s", f"{y}'s", f"{rng.randrange(1, 40)}/{rng.randrange(1, 40)}",
    ])


def _time(rng):
    h, mi = rng.randrange(0, 27), rng.randrange(0, 62)
    return rng.choice([f"{h}:{mi:02d}", f"{h}:{mi:02d}:{rng.randrange(0, 61):02d}", f"{h}:{rng.randrange(10)}",
                       f"{h}:{mi:02d} a.m.", f"{h}{rng.choice(['pm', 'am', ' PM', ' AM', ' p.m.', 'a. m.', 'Pm'])}",
                       f"{h}:{mi:02d}pm", f"{h}:{mi:02d} " + rng.choice(["o'clock", "sharp", "A.M."])])


def _money(rng):
    sym = rng.choice("$€£¥")
    amount = rng.choice([_int, _decimal])(rng)
    scale = rng.choice(["", "", "", "k", "K", "M", "m", "mn", "B", "bn", "T", "tn", " million", " billion",
                        " thousand", " trillion", " k"])
    per = rng.choice(["", "", "", "/lb", "/gallon", " / hour", "/person", "/day", "/kg"])
    if rng.random() < 0.15:
        return f"{amount}{rng.choice(['', ' '])}{rng.choice(['M', 'k', ''])}{rng.choice('€£¥')}"
    return f"{sym}{rng.choice(['', '', ' '])}{amount}{scale}{per}"


def _unit(rng):
    amount = rng.choice([_int, _decimal, lambda r: "1", lambda r: "-3.2", lambda r: "−5", lambda r: "1,200"])(rng)
    sep = rng.choice(["", " ", "-", " "])
    unit = rng.choice(UNITS)
    per = rng.choice(["", "", "", "/h", " / kg", "/day", "/s"])
    return f"{amount}{sep}{unit}{per}" + rng.choice(["", "", " run", " warmer"])


def _percent(rng):
    return f"{_number(rng)}{rng.choice(['%', ' %', '%%', ' percent'])}"


def _phone(rng):
    def digits(n):
        return "".join(rng.choice("0123456789") for _ in range(n))
    return rng.choice([
        f"{digits(3)}-{digits(4)}", f"({digits(3)}) {digits(3)}-{digits(4)}", f"{digits(3)}-{digits(3)}-{digits(4)}",
        f"{digits(3)}.{digits(3)}.{digits(4)}", f"+1 {digits(3)} {digits(3)} {digits(4)}",
        f"1-800-{digits(3)}-{digits(4)}", f"+44 20 {digits(4)} {digits(4)}", f"+{digits(2)}.{digits(3)}.{digits(5)}",
        f"+{digits(3)} ({digits(3)}) {digits(3)}-{digits(4)}", f"{digits(3)}-{digits(4)}-{digits(2)}",
        f"1 {digits(3)} {digits(3)} {digits(4)}", f"+{digits(1)}\t{digits(3)} {digits(2)}",
    ])


def _web(rng):
    def label():
        return rng.choice(["example", "mail", "github", "my-site", "a", "x1", "data_set", "docs", "v2", "WWW",
                           "b-c-d", "cafe", "io", "me"])
    host = ".".join(label() for _ in range(rng.randrange(1, 4))) + "." + rng.choice(TLDS)
    path = rng.choice(["", "", "/", "/docs", "/a/b-c_d.html", "/index.php", "/~user/x.pdf", "/2024/03/05",
                       "/über/ß", "/007/12345", "/file.tar.gz", "/x.", "/a)", "/CamelCase/ab", "/፩", "/x²"])
    return rng.choice([
        host + path, "www." + host + path, rng.choice(["http://", "https://", "ftp://"]) + host + path,
        host + ":" + str(rng.randrange(1, 70000)) + path, host + ":" + str(rng.randrange(10**11, 10**14)),
        host + path + "?q=1&b=" + label() + rng.choice(["", ".", ")"]),
        f"{label()}.{label()}+tag@{host}", f"{label()}_{rng.randrange(100)}@{host}", "info@" + host,
        "@" + label(), "#" + label(), "e.g." + rng.choice(TLDS), "3.14.com", label() + "." + rng.choice(["exe", "zip"]),
    ])


def _abbrev(rng):
    a = rng.choice(ABBREVS)
    follow = rng.choice(["", " " + rng.choice(NAMES), " " + rng.choice(WORDS), ",", " 5", " 1st",
                         " " + rng.choice(en._MONTH_NAMES), " St.", " Then", ".", " 12:30"])
    return (rng.choice(NAMES) + " " if rng.random() < 0.3 else "") + a + follow


def _roman(rng):
    numeral = rng.choice(NUMERALS)
    return rng.choice([
        f"{rng.choice(KEYWORDS)} {numeral}", f"{rng.choice(NAMES)} {numeral}", f"{rng.choice(NAMES)} {numeral}'s",
        f"{rng.choice(NAMES)} I {rng.choice(['of', 'and', 'think', ',', '.', 'was', ''])}",
        rng.choice(["WWII", "WWI", "WWIII", "World War I", "Super Bowl LVIII", "Louis XIV", "Henry VIII's"]),
        f"{rng.choice(KEYWORDS)} {numeral}-{rng.randrange(9)}",
    ])


def _acronym(rng):
    a = rng.choice(ACRONYMS)
    return rng.choice([a, a + "s", a + "'s", a + "-" + str(rng.randrange(30)), a + str(rng.randrange(10)),
                       "the " + a, a.lower()])


def _symbol(rng):
    return rng.choice(["#1", "# 2", "#blessed", "C++", "50+", "2 + 2 = 4", "a+b", "1920x1080", "3 x 4", "~5", "~$20",
                       "w/", "w/o", "W/ sugar", "and/or", "And/or", "he/she", "a/b/c", "@john", "Tom & Jerry", "&amp;",
                       "3 × 4", "10 ÷ 2", "§ 5", "© 2024", "*", "^", "|", "<b>", "\\", "_x_", "{1}", "[2]", "`x`",
                       "_\x08a", "a\x08", "''hi''", "``hi''", "'quoted'", "rock 'n' roll", "...", "!?!", "—", "--",
                       "10–20", "10—20", "−3", "5 − 2", "1/2", "3/4", "2 1/2", "5/16", "24/7", "9/11", "50/50",
                       "20/20", "1/0", "7/200", "1 5/3", "10-20", "1990-1995", "2024-25", "1,000-2,000", "1.5-2.5",
                       "3.11.2", "1.2.3.4", "v2.0", "MP3", "4K", "COVID-19", "F-16", "B2B", "A4", "3D", "1a2b3c"])


def _large(rng):
    return rng.choice([str(rng.randrange(10**12, 10**25)), f"{rng.randrange(10**12, 10**20):,}",
                       "1" + "0" * rng.randrange(12, 30), f"${rng.randrange(10**12, 10**14):,}",
                       f"{rng.randrange(10**12, 10**14)}th", f"{rng.randrange(10**12, 10**13)}/{rng.randrange(2, 9)}",
                       f"{rng.randrange(10**12, 10**13)}-{rng.randrange(10)}"])


def _word(rng):
    return rng.choice(WORDS + NAMES + SPORTS)


def _accented(rng):
    return rng.choice(ACCENTED)


def _soup(rng):
    alphabet = "aZ09 .,;:!?-_/+~@#$%&*()[]{}'\"`^|<>=€£¥°×−–—’‘“”\t\n\xa0éß٣²ﬁΣ中😀İıK"
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 25)))


PIECES = [(_word, 30), (_number, 8), (_date, 5), (_time, 4), (_money, 5), (_unit, 5), (_percent, 2), (_phone, 3),
          (_web, 4), (_abbrev, 5), (_roman, 4), (_acronym, 3), (_symbol, 6), (_large, 1), (_accented, 3), (_soup, 2)]


def generated_sentences(n: int, seed: int = 20240607) -> list[str]:
    rng = random.Random(seed)
    makers = [f for f, _ in PIECES]
    weights = [w for _, w in PIECES]
    out = []
    for _ in range(n):
        parts = [rng.choices(makers, weights)[0](rng) for _ in range(rng.randrange(1, 9))]
        text = parts[0]
        for p in parts[1:]:
            text += rng.choice(SEPARATORS) + p
        if rng.random() < 0.5:
            text = text[:1].upper() + text[1:]
        out.append(text + rng.choice(PUNCT))
    return out


GENERATED = generated_sentences(6000)


# ----------------------------------------------------------------------------------------------- normalize_text

def _assert_same(inputs, fn_name="normalize_text"):
    ref_fn, nat_fn = getattr(ref, fn_name), getattr(en, fn_name)
    if fn_name == "normalize_text":
        expected = _reference_run()
        ref_fn = lambda s: expected[s] if s in expected else outcome(ref.normalize_text, s)  # noqa: E731
    mismatches = [(s, outcome(ref_fn, s), outcome(nat_fn, s)) for s in inputs]
    mismatches = [m for m in mismatches if m[1] != m[2]]
    assert not mismatches, f"{len(mismatches)} of {len(inputs)} differ, e.g. {mismatches[:3]}"


def test_eval_sentence_files():
    lines = eval_lines()
    assert len(lines) > 700
    _assert_same(lines)


def test_inputs_of_the_english_normalize_tests():
    inputs = english_normalize_test_inputs()
    assert len(inputs) > 150
    _assert_same(inputs)


def test_generated_sentences():
    assert len(GENERATED) >= 5000
    refused = sum(_reference_run()[s] is ValueError for s in GENERATED)
    assert 0 < refused < len(GENERATED) // 10  # a few (a number too large in a port, a digit int() refuses)
    _assert_same(GENERATED)


@pytest.mark.parametrize("step", STEPS)
def test_each_step_alone(step):
    _assert_same(eval_lines()[::3] + english_normalize_test_inputs() + GENERATED[:1500], step)


def test_the_port_uses_the_reference_patterns():
    """Every pattern the reference compiles is compiled by the port too, verbatim, with the same flags."""
    patterns = _reference_patterns()
    for s in _reference_run():
        outcome(en.normalize_text, s)
    native = {(p, f) for p, f in _native.normalize_regex_patterns()}
    assert native == set(patterns)


# ----------------------------------------------------------------------------------------------- numbers, SSML

def test_numbers():
    rng = random.Random(7)
    values = list(range(-3, 2200)) + [rng.randrange(10**13) for _ in range(3000)] + [
        10**12 - 1, 10**12, 10**12 + 5, 10**14 - 1, 10**14, -10**12, 2**63 - 1, -2**63, 2**63, 10**30, -10**30]
    for fn in ("cardinal", "ordinal", "year"):
        for v in values:
            a, b = outcome(getattr(ref, fn), v), outcome(getattr(en, fn), v)
            assert a == b, (fn, v, a, b)
    with pytest.raises(ValueError, match=r"number out of range: 1000000000000$"):
        en.cardinal(10**12)


def test_roman_value():
    rng = random.Random(8)
    tokens = NUMERALS + ["", "i", "MMMM", "MMMCMXCIX", "ABC"] + [
        "".join(rng.choice("IVXLCDMi") for _ in range(rng.randrange(1, 8))) for _ in range(3000)]
    for s in tokens:
        assert ref.roman_value(s) == en.roman_value(s), s


def test_ssml_helpers():
    rng = random.Random(9)
    amounts = ["", "-", "−", ".5", "-.5", "−2.25", "1,200", "1,234,567.089", "0", "007", "10**12", "1000000000000",
               "999999999999.5"] + [_number(rng).lstrip("+~#") for _ in range(500)]
    for s in amounts:
        assert outcome(ref._amount, s) == outcome(en._amount, s), s
    for y in (-5, 0, 5, 24, 49, 50, 99, 100, 999, 1000, 1905, 2024, 9999, 10000, 10**12, 10**13, 2**64):
        for mo in (-1, 0, 1, 12, 13):
            for d in (0, 1, 31, 32):
                for day_first in (False, True):
                    a = outcome(ref._date, y, mo, d, day_first)
                    assert a == outcome(en._date, y, mo, d, day_first), (y, mo, d, day_first)
    for groups in (["555", "0142"], ["1", "800", "555", "0199"], ["44", "20", "7946", "0000"], ["", "12", "800"],
                   ["800"], ["1", "080", "555"], ["٨٠٠", "٥٥٥", "1"], ["1", "900", "00"]):
        assert ref._phone_groups(*groups) == en._phone_groups(*groups), groups


# ----------------------------------------------------------------------------------------------- bad input

def test_lone_surrogates_raise_a_clear_error():
    for fn in [en.normalize_text, _native.en_normalize_text] + [getattr(en, s) for s in STEPS]:
        with pytest.raises(UnicodeEncodeError, match="surrogates not allowed"):
            fn("Dr. Smith \ud800 paid $5")
    with pytest.raises(TypeError):
        en.normalize_text(b"bytes")


def test_utf8_entry_point():
    for s in eval_lines()[:50] + GENERATED[:200]:
        expected = outcome(ref.normalize_text, s)
        got = outcome(_native.en_normalize_text_utf8, s.encode("utf-8"))
        assert got == (expected if expected is ValueError else expected.encode("utf-8")), s
    rng = random.Random(10)
    samples = [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\xf4\x90\x80\x80", b"ok \xf0\x9f\x98"] + [
        bytes(rng.randrange(256) for _ in range(rng.randrange(1, 12))) for _ in range(500)]
    for b in samples:
        try:
            text = b.decode("utf-8")
        except UnicodeDecodeError:
            with pytest.raises(ValueError, match="invalid UTF-8 at byte"):
                _native.en_normalize_text_utf8(b)
        else:
            expected = outcome(ref.normalize_text, text)
            got = outcome(_native.en_normalize_text_utf8, b)
            assert got == (expected if expected is ValueError else expected.encode("utf-8")), b


def test_long_whitespace():
    assert en.normalize_text(" \t\n" * 6667) == ""  # 20,001 characters (the reference needs seconds: quadratic)
    text = " " * 3000 + "a + b - c" + "\n " * 1000
    assert en.normalize_text(text) == ref.normalize_text(text)


@pytest.mark.parametrize("text", [
    "7" * 20000, "a" * 20000, " +" * 10000, "a" * 19990 + "@b.com", "a." * 10000, "1," * 10000,
    "Dr. Smith paid $3.50 at 10:30 a.m. on Fri., Jan. 5th! " * 370, "x" + "\u0301" * 19999, "-" * 20000,
    ("St. " * 2500)[:10000], "I" * 20000,
], ids=["digits", "letters", "plus", "email", "dots", "commas", "sentences", "combining", "dashes",
        "saints", "numeral"])
def test_long_inputs(text):
    assert outcome(en.normalize_text, text) == outcome(ref.normalize_text, text)


def test_concurrent_calls():
    """Four threads at once (the GIL is released while the native code runs), in different orders."""
    inputs = GENERATED[:400]
    expected = {s: _reference_run()[s] for s in inputs}
    results: dict[int, list] = {}

    def work(t):
        order = inputs[t % 2::2] + inputs[1 - t % 2::2]
        results[t] = [(s, outcome(en.normalize_text, s)) for s in (order if t < 2 else order[::-1])]

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 1, 2, 3]
    for got in results.values():
        assert all(out == expected[s] for s, out in got)


# ----------------------------------------------------------------------------------------------- the regex engine

G2P_PATTERNS = [(r"[A-Za-z]+(?:['’][A-Za-z]+)*|[0-9]+|[,.?!;:]", 0), (r"\[\[(.*?)\]\]", re.S),
                (r"[A-Za-z]+(?:['’][A-Za-z]+)*", 0), (r"\s*([,.?!;:])", 0)]

_PATTERNS: list[tuple[str, int]] = []
_OUTCOMES: dict[str, object] = {}


def _reference_run() -> dict[str, object]:
    """The reference's normalize_text of every test text (eval files, test inputs, generated), computed once by a
    fresh copy of the reference loaded and run with re._compile recorded: that also gives the (pattern, flags) of
    every re call it makes (_reference_patterns)."""
    if _OUTCOMES:
        return _OUTCOMES
    seen: dict[tuple[str, int], None] = {}
    compile_ = re._compile

    def record(pattern, flags):
        if isinstance(pattern, str):
            seen[(pattern, int(flags))] = None
        return compile_(pattern, flags)

    re._compile = record
    try:
        spec = importlib.util.spec_from_file_location("_english_normalize_patterns",
                                                      ROOT / "tests" / "reference" / "english_normalize.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        outcomes = {s: outcome(module.normalize_text, s)
                    for s in eval_lines() + english_normalize_test_inputs() + GENERATED}
    finally:
        re._compile = compile_
    _PATTERNS.extend(seen)
    _OUTCOMES.update(outcomes)
    return _OUTCOMES


def _reference_patterns() -> list[tuple[str, int]]:
    _reference_run()
    return _PATTERNS


def _spans(m):
    return [m.span(g) if m.group(g) is not None else None for g in range(m.re.groups + 1)]


def _native_spans(spans):
    return [tuple(s) if s is not None else None for s in spans]


def test_regex_engine_against_re():
    patterns = _reference_patterns()
    assert len(patterns) >= 90
    rng = random.Random(11)
    alphabet = list("aAbeIiKkMmsSVXxyY019 \t\n.,;:!?-_/+~@#$%&*()[]{}'\"`^|<>=€£¥°×−–—’“\x08\xa0") + list(
        "éß٣²ﬁΣσİıſK中") + ["www.", ".com", "://", "a.m.", "St.", "Ph.D.", "3:45", "10-20", "555-0142", "$3.50",
                           "Jan ", "IV", "World War", "won ", "and/or", "[[", "]]", "1,000", "\r\n"]
    texts = eval_lines()[::4] + GENERATED[:300] + [
        "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 30))) for _ in range(400)]
    for pattern, flags in patterns + G2P_PATTERNS:
        p, q = re.compile(pattern, flags), _native.normalize_regex(pattern, flags)
        assert q.groups == p.groups
        template = "<" + "|".join(f"\\g<{g}>" for g in range(p.groups + 1)) + ">"
        for t in texts:
            assert [_native_spans(s) for s in q.finditer(t)] == [_spans(m) for m in p.finditer(t)], (pattern, t)
            assert q.sub(template, t) == p.sub(template, t), (pattern, t)
            assert q.split(t) == p.split(t), (pattern, t)
            assert q.findall(t) == p.findall(t), (pattern, t)
            if len(t) > 3:
                m = p.search(t, 2, len(t) - 1)
                assert q.search(t, 2, len(t) - 1) == (_spans(m) if m else None), (pattern, t)


@pytest.mark.parametrize("pattern,flags", [
    (r"x*", 0), (r"", 0), (r"a|", 0), (r"(a*)*", 0), (r"(a|b)*?c", 0), (r"(?:a|ab)(c|bcd)(d*)", 0), (r"^a", 0),
    (r"a$", 0), (r"$", 0), (r"\b", 0), (r"\B", 0), (r"(?i)k", 0), (r"[a-z]+", re.I), (r"[^a-z]+", re.I),
    (r"(a)(?:b(c)|d)\2?", 0), (r"(\w)\1", re.I), (r"(?P<x>a)(?P=x)", 0), (r".+", re.S), (r"a{2,3}?", 0),
    (r"(ab){1,2}?", 0), (r"x{,2}", 0), (r"x{}", 0), (r"(?=(a+))a", 0), (r"(?<=ab|cd)e", 0), (r"^\s*$", re.M),
    (r"(a?)+?b", 0), (r"(?:(a)|(b))+", 0), (r"[]a]+", 0), (r"\x41\u0042\101\0", 0), (r"(|a)+", 0),
    (r"ſ|ß|ǅ", re.I), (r"[ǆ-ǌ]", re.I), (r"[^İ]", re.I), (r"(?i)ΣΑΣ", 0), (r"(a*)+b", 0), (r"a*b", 0),
    (r"a+?c", 0), (r"[ab]*c", 0), (r"a{2,}b", 0), (r"a*(?<=b)", 0), (r"a*$", 0), (r"a+\b", 0), (r"a*?", 0),
    (r"\s*(--|-|b)\s*", 0), (r"[ab]+(?=c)|d", 0), (r"a*(b|)", 0), (r"a*(?!b)", 0),
])
def test_regex_engine_semantics(pattern, flags):
    """Empty matches, laziness, backreferences, IGNORECASE and anchors as re, beyond the normaliser's patterns."""
    rng = random.Random(12)
    alphabet = list("aabbcdeksSKſßǅǆǉ ıİiIΣσςαΑ\n_-xyz0٣") + ["ab", "cd"]
    texts = ["", "a", "ab", "abcd", "\n", "a\n", "ba\n\n"] + [
        "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12))) for _ in range(300)]
    p, q = re.compile(pattern, flags), _native.normalize_regex(pattern, flags)
    template = "[" + "|".join(f"\\g<{g}>" for g in range(p.groups + 1)) + "]"
    for t in texts:
        assert [_native_spans(s) for s in q.finditer(t)] == [_spans(m) for m in p.finditer(t)], t
        assert q.sub(template, t) == p.sub(template, t), t
        assert q.split(t) == p.split(t) and q.findall(t) == p.findall(t), t
        for fn in ("match", "fullmatch"):
            m = getattr(p, fn)(t)
            assert getattr(q, fn)(t) == (_spans(m) if m else None), (fn, t)
        for i in range(0, len(t) + 2, 3):
            for j in (len(t), max(0, len(t) - 2), 1):
                m = p.search(t, i, j)
                assert q.search(t, i, j) == (_spans(m) if m else None), (t, i, j)


@pytest.mark.parametrize("pattern", ["(", ")", "a**", "*a", "[a", "a{3,2}", r"\q", r"(?<=a+)b", r"(?<=a|bc)d",
                                     r"\1(a)", "(?P<1>a)", "a(?i)b", "[b-a]", r"[\d-z]", "(?z)", "^*", r"\b+"])
def test_invalid_patterns_are_refused(pattern):
    with pytest.raises(re.error):
        re.compile(pattern)
    with pytest.raises(ValueError):
        _native.normalize_regex(pattern)


def test_unicode_version():
    assert _native.normalize_unicode_version() == "14.0.0"
