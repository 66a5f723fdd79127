"""The native JSON parser (csrc/json.h, through voxlite._native): valid documents read as Python's json reads them,
every kind of malformed text refused with the byte offset and what was expected, exact integers, the accessors'
type errors, and the default voice's 5 MB lexicon."""
from __future__ import annotations

import json
import math
import random
import re
import time
from pathlib import Path

import pytest

from voxlite import _native

LEXICON = Path(__file__).resolve().parent.parent / "python" / "voxlite" / "voices" / "default" / "tokenizer" / \
    "lexicon.json"

VALID = [
    "null", "true", "false", "0", "-0", "1", "-1", "123456789", "1.5", "-0.0", "1e5", "1E5", "1e+5", "1e-5", "2.5E-3",
    "0.1", "1.7976931348623157e308", "5e-324", "1e-400", "-1e-400", "123.456e-7", '""', '"a"',
    '"\\"\\\\\\/\\b\\f\\n\\r\\t"',
    '"\\u0041\\u00e9\\u4e2d\\ud83d\\ude00"', '"é中😀"', '"\\u0000"', '"\x7f"', "[]", "{}", "[1, 2, 3]", ' \t\r\n[ ] \n',
    '{"a": 1, "b": [true, false, null], "c": {"d": "e"}}', '[[[[[]]]]]', '{"": ""}', '[1.0, 2, "3", [4], {"5": 6}]',
    '{"a": 1, "a": 2}', '"\\uD834\\uDD1E"', "9223372036854775807", "-9223372036854775808", "9223372036854775808",
    "18446744073709551616", "100000000000000000000000000000", "0.000001", "1.0e0",
]

# (text, the offset of the error, a piece of the message)
INVALID = [
    ("", 0, "a JSON value"), ("   ", 3, "a JSON value"), ("tru", 3, "'true'"), ("nul", 3, "'null'"),
    ("True", 0, "a JSON value"), ("[1,]", 3, "a JSON value"), ('{"a":1,}', 7, "object key"), ("[1 2]", 3, "',' or ']'"),
    ('{"a" 1}', 5, "':'"), ("{a:1}", 1, "object key"), ("01", 1, "leading 0"), ("1.", 2, "digit after '.'"),
    (".5", 0, "a JSON value"), ("+1", 0, "a JSON value"), ("-", 1, "a digit"), ("-a", 1, "a digit"),
    ("1e", 2, "exponent"), ("1e+", 3, "exponent"), ("NaN", 0, "a JSON value"), ("Infinity", 0, "a JSON value"),
    ("-Infinity", 1, "a digit"), ('"\\x"', 1, "escape"), ('"\\u12"', 5, "4 hex digits"), ('"\\u12g4"', 5, "4 hex"),
    ('"\\ud800"', 7, "low-surrogate"), ('"\\udc00"', 1, "lone low surrogate"), ('"\\ud800\\u0041"', 7, "low-surrogate"),
    ('"\\ud800\\ud800"', 7, "low-surrogate"), ('"a\nb"', 2, "control character U+000A"), ('"a\x00"', 2, "U+0000"),
    ('"\t"', 1, "U+0009"), ('"abc', 4, "close the string"), ("[1] x", 4, "end of the text"), ("{} {}", 3, "end of"),
    ("'a'", 0, "a JSON value"), ("[1,,2]", 3, "a JSON value"), ("// c\n1", 0, "a JSON value"), ("1 /* */", 2, "end"),
    ("\f1", 0, "a JSON value"), ("\u00a01", 0, "a JSON value"), ("[", 1, "a JSON value"), ("{", 1, "object key"),
    ('{"a"', 4, "':'"), ('{"a":', 5, "a JSON value"), ("1e400", 0, "range of a double"), ("-1e400", 0, "range"),
    ("[" * 513 + "]" * 513, 512, "nested at most 512"), ('{"a":1}}', 7, "end of the text"), ("0x10", 1, "end"),
    ("1.5.", 3, "end of the text"), ("[1]]", 3, "end of the text"), ('"\\', 2, "escape character"),
]

INVALID_BYTES = [
    (b'\xef\xbb\xbf{}', 0, "byte-order mark"), (b'"\xff"', 1, "cannot start a UTF-8"), (b'"\x80"', 1, "cannot start"),
    (b'"\xc0\xaf"', 1, "cannot start"), (b'"\xe0\x80\xaf"', 1, "broken"), (b'"\xed\xa0\x80"', 1, "broken"),
    (b'"\xf4\x90\x80\x80"', 1, "broken"), (b'"\xf5\x80\x80\x80"', 1, "cannot start"), (b'"\xe2\x82"', 1, "broken"),
    (b'"\xe2\x82\x41"', 1, "broken"), (b'"a\xc3"', 2, "broken"), (b"\xc3\xa9", 0, "a JSON value"),
]


@pytest.mark.parametrize("text", VALID)
def test_valid_documents_read_as_python_reads_them(text):
    got, want = _native.json_loads(text), json.loads(text)
    assert got == want and type(got) is type(want) or _big_integer(text)
    assert _native.json_loads(text.encode("utf-8")) == got


def _big_integer(text):
    """Integer literals beyond int64 read as the nearest double (Python reads them as exact ints)."""
    return _native.json_loads(text) == float(json.loads(text)) and isinstance(_native.json_loads(text), float)


def test_duplicate_keys_last_wins():
    assert _native.json_loads('{"a": 1, "b": 2, "a": 3}') == {"a": 3, "b": 2}
    v = _native.json_parse('{"a": 1, "b": 2, "a": 3}')
    assert v.find("a").integer() == 3 and v.keys() == ["a", "b", "a"] and v.size() == 3  # members kept in order
    assert v.find("zz") is None and _native.json_parse("[1]").find("a") is None


def test_random_documents_round_trip():
    rng = random.Random(0)

    def value(depth=0):
        k = rng.random()
        if depth > 4 or k < 0.4:
            return rng.choice([None, True, False, rng.randint(-2**63, 2**63 - 1), rng.randint(-1000, 1000),
                               rng.uniform(-1e6, 1e6), rng.random() * 10 ** rng.randint(-300, 300), 0.1, -0.0,
                               "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0x80, 0xd800),
                                                       rng.randrange(0xe000, 0x110000), rng.randrange(0, 32)]))
                                       for _ in range(rng.randint(0, 12)))])
        if k < 0.7:
            return [value(depth + 1) for _ in range(rng.randint(0, 5))]
        return {"".join(rng.choice("abcé\"\\\n") for _ in range(rng.randint(0, 4))): value(depth + 1)
                for _ in range(rng.randint(0, 5))}

    for i in range(1500):
        v = value()
        text = json.dumps(v, ensure_ascii=bool(i % 2), indent=(i % 3) or None)
        assert _native.json_loads(text) == json.loads(text), text


@pytest.mark.parametrize("text,offset,expected", INVALID)
def test_malformed_text_is_refused(text, offset, expected):
    with pytest.raises(_native.JSONError, match=re.escape(expected)) as e:
        _native.json_loads(text)
    assert e.value.offset == offset and f"at byte {offset} " in str(e.value)
    assert isinstance(e.value, ValueError) and str(e.value).startswith("JSON: expected ")


@pytest.mark.parametrize("data,offset,expected", INVALID_BYTES)
def test_invalid_utf8_is_refused(data, offset, expected):
    with pytest.raises(_native.JSONError, match=re.escape(expected)) as e:
        _native.json_loads(data)
    assert e.value.offset == offset


def test_every_position_in_a_string():
    """The scanner reads strings 8 bytes at a time where it can: specials at every offset of those words."""
    for k in range(18):
        for special in ('\\"', "\\\\", "\\n", "\\u00e9", "é", "中", "😀", "\x7f"):
            text = '"' + "a" * k + special + "b" * (17 - k) + '"'
            assert _native.json_loads(text) == json.loads(text)
        for raw, what in ((b"\x01", "U+0001"), (b"\xff", "cannot start"), (b"\xc3", "broken")):
            data = b'"' + b"a" * k + raw + b"b" * 9 + b'"'
            with pytest.raises(_native.JSONError, match=re.escape(what)) as e:
                _native.json_loads(data)
            assert e.value.offset == 1 + k


def test_error_names_line_and_column():
    with pytest.raises(_native.JSONError, match=r"at byte 14 \(line 3, column 4\), found '}'"):
        _native.json_loads('{\n "a": 1,\n   }')


def test_nesting_limit():
    assert _native.json_loads("[" * 512 + "]" * 512) is not None
    with pytest.raises(_native.JSONError, match="512"):
        _native.json_loads('{"a":' * 513 + "1" + "}" * 513)


def test_integers_stay_exact():
    for text, want in (("9007199254740993", 9007199254740993), ("9223372036854775807", 2**63 - 1),
                       ("-9223372036854775808", -2**63), ("1e3", 1000), ("1.0", 1), ("-0", 0), ("2.5e1", 25)):
        assert _native.json_parse(text).integer() == want
    assert _native.json_loads("9007199254740993") == 9007199254740993  # not via a double (2**53 + 1)
    for text in ("1.5", "9223372036854775808", "1e19", "-9.3e18", "1e-5"):
        with pytest.raises(_native.JSONError, match="expected an integer in int64 range"):
            _native.json_parse(text).integer()


def test_accessors_name_the_expected_type():
    v = _native.json_parse('{"s": "x", "n": 2.5, "b": true, "z": null, "a": [1]}')
    assert v.type == "object" and v.find("s").str() == "x" and v.find("n").number() == 2.5
    assert v.find("b").boolean() is True and v.find("a")[0].integer() == 1 and v.find("z").type == "null"
    for getter, expected, got in ((lambda: v.find("s").number(), "a number", "a string"),
                                  (lambda: v.find("n").str(), "a string", "a number"),
                                  (lambda: v.find("b").integer(), "an integer", "a boolean"),
                                  (lambda: v.find("z").boolean(), "a boolean", "null"),
                                  (lambda: v.find("a").keys(), "an object", "an array"),
                                  (lambda: v.find("s").size(), "an array or an object", "a string"),
                                  (lambda: v[0], "an array", "an object")):
        with pytest.raises(_native.JSONError, match=f"expected {expected}, got {got}") as e:
            getter()
        assert e.value.offset == 0
    with pytest.raises(_native.JSONError, match="index 1 out of range"):
        v.find("a")[1]


def test_files(tmp_path):
    missing = tmp_path / "missing.json"
    with pytest.raises(_native.JSONError, match=f"cannot read {missing}: No such file"):
        _native.json_load_file(str(missing))
    with pytest.raises(_native.JSONError, match="cannot read .*: Is a directory"):
        _native.json_load_file(str(tmp_path))
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": }')
    with pytest.raises(_native.JSONError, match=f"{bad}: JSON: expected a JSON value at byte 6") as e:
        _native.json_load_file(str(bad))
    assert e.value.offset == 6


def test_the_default_voices_lexicon():
    data = LEXICON.read_bytes()
    assert _native.json_loads(data) == json.loads(data)
    best = math.inf
    for _ in range(3):
        t = time.perf_counter()
        doc = _native.json_parse(data)
        best = min(best, time.perf_counter() - t)
    print(f"\nparsed {len(data) / 1e6:.1f} MB in {best * 1e3:.0f} ms")
    assert doc.find("entries").size() > 180_000 and best < 0.5  # ~30 ms here; generous for loaded CI machines
