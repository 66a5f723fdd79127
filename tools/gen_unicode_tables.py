#!/usr/bin/env python3
"""Generate csrc/text/unicode_tables.inc: the Unicode properties the native text front end needs.

The tables reproduce what CPython's ``str`` methods and ``re`` (for ``str`` patterns) do, so the C++ English
normaliser (csrc/text/english_normalize.cpp) gives the same output as the Python one it replaces. They are taken
from the running interpreter, which must be CPython 3.11 (Unicode 14.0.0, its ``unicodedata``); another version
ships another Unicode version and would silently change the output.

    python tools/gen_unicode_tables.py            # writes csrc/text/unicode_tables.inc
    python tools/gen_unicode_tables.py --check    # exit 1 if the committed file differs

Every property is computed per code point (0 ... 0x10FFFF) from the same function Python itself uses:

- ``\\w`` of ``re``: ``ch.isalnum() or ch == "_"``; ``\\d``: ``ch.isdecimal()`` (category Nd), with the value
  ``int(ch)``; ``\\s``: ``ch.isspace()``. Each is checked against ``re`` itself.
- ``str.isdigit``, ``str.isalpha``, ``str.isupper``, ``str.islower`` of one character.
- the simple lower case and "cased" test of ``re``'s IGNORECASE (``_sre.unicode_tolower``,
  ``_sre.unicode_iscased``) and ``re``'s extra case equivalences (``re._casefix._EXTRA_CASES``).
- the full case mappings of ``str.upper`` / ``str.lower`` of one character (one to three characters).
- the NFKD decomposition of one character (``unicodedata.normalize("NFKD", ch)``, Hangul syllables excluded:
  they are decomposed algorithmically) and the canonical combining class (``unicodedata.combining``).

Boolean properties are stored as sorted inclusive ranges; mappings as runs ``(first, last, stride, delta)``.
"""
from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from pathlib import Path

import _sre
from re._casefix import _EXTRA_CASES

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "csrc" / "text" / "unicode_tables.inc"
UNICODE_VERSION = "14.0.0"  # what CPython 3.11 ships
MAX = 0x110000
HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3


def ranges(pred) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    start = None
    for c in range(MAX):
        if pred(c):
            if start is None:
                start = c
        elif start is not None:
            out.append((start, c - 1))
            start = None
    if start is not None:
        out.append((start, MAX - 1))
    return out


def mapping_runs(mapping: dict[int, int]) -> list[tuple[int, int, int, int]]:
    """{cp: target} (cp != target) -> runs (first, last, stride, delta) covering exactly the keys: every
    first + k * stride <= last maps to itself + delta, and no other code point in [first, last] is a key."""
    keys = sorted(mapping)
    runs = []
    i = 0
    while i < len(keys):
        first = keys[i]
        delta = mapping[first] - first
        best = (first, 1, i + 1)  # last, stride, next index
        for stride in (1, 2):
            j = i + 1
            last = first
            while j < len(keys) and keys[j] == last + stride and mapping[keys[j]] - keys[j] == delta:
                last = keys[j]
                j += 1
            if j > best[2]:
                best = (last, stride, j)
        last, stride, j = best
        runs.append((first, last, stride if last > first else 1, delta))
        i = j
    return runs


def fmt_rows(rows, per_line: int) -> str:
    lines = []
    for k in range(0, len(rows), per_line):
        lines.append("    " + " ".join(rows[k:k + per_line]))
    return "\n".join(lines)


def range_table(name: str, comment: str, rs) -> str:
    rows = [f"{{0x{a:X}, 0x{b:X}}}," for a, b in rs]
    return (f"// {comment} ({len(rs)} ranges)\nstatic const CodeRange {name}[] = {{\n{fmt_rows(rows, 6)}\n}};\n")


def generate() -> str:
    chars = [chr(c) for c in range(MAX)]

    # --- re's classes, checked against re itself
    word = [ch.isalnum() or ch == "_" for ch in chars]
    decimal = [ch.isdecimal() for ch in chars]
    space = [ch.isspace() for ch in chars]
    w_re, d_re, s_re = re.compile(r"\w"), re.compile(r"\d"), re.compile(r"\s")
    for c, ch in enumerate(chars):
        assert bool(w_re.match(ch)) == word[c], hex(c)
        assert bool(d_re.match(ch)) == decimal[c], hex(c)
        assert bool(s_re.match(ch)) == space[c], hex(c)

    # decimal digits: runs with a value; check that the value is (first value + offset) within each run
    dec_runs = []
    for a, b in ranges(lambda c: decimal[c]):
        start = a
        for c in range(a, b + 1):
            v = unicodedata.decimal(chars[c])
            assert int(chars[c]) == v
            if c > start and v != (unicodedata.decimal(chars[start]) + c - start):
                dec_runs.append((start, c - 1, unicodedata.decimal(chars[start])))
                start = c
        dec_runs.append((start, b, unicodedata.decimal(chars[start])))
    for a, b, v0 in dec_runs:
        assert v0 + (b - a) <= 9

    # --- re IGNORECASE: simple lower case, "cased", and the extra equivalences
    sre_lower = {c: _sre.unicode_tolower(c) for c in range(MAX) if _sre.unicode_tolower(c) != c}
    sre_cased = ranges(lambda c: _sre.unicode_iscased(c))
    fixes = _EXTRA_CASES
    fix_rows = []
    for lo in sorted(fixes):
        others = sorted(fixes[lo])
        assert 1 <= len(others) <= 3
        fix_rows.append((lo, others + [0] * (3 - len(others))))

    # --- str case mappings of one character (full: 1 to 3 characters)
    upper_simple, lower_simple, upper_special, lower_special = {}, {}, {}, {}
    for c, ch in enumerate(chars):
        u, lo = ch.upper(), ch.lower()
        if u != ch:
            (upper_simple if len(u) == 1 else upper_special)[c] = u
        if lo != ch:
            (lower_simple if len(lo) == 1 else lower_special)[c] = lo
    upper_simple = {c: ord(s) for c, s in upper_simple.items()}
    lower_simple = {c: ord(s) for c, s in lower_simple.items()}
    assert all(len(s) <= 3 for s in list(upper_special.values()) + list(lower_special.values()))

    # --- NFKD and combining classes
    decomp_rows, pool = [], []
    for c, ch in enumerate(chars):
        if HANGUL_FIRST <= c <= HANGUL_LAST or 0xD800 <= c <= 0xDFFF:
            continue
        d = unicodedata.normalize("NFKD", ch)
        if d != ch:
            decomp_rows.append((c, len(pool), len(d)))
            pool.extend(ord(x) for x in d)
    assert len(pool) < 1 << 16 and max(n for _, _, n in decomp_rows) < 256
    ccc_runs = []
    for c in range(MAX):
        k = unicodedata.combining(chars[c])
        if k:
            if ccc_runs and ccc_runs[-1][1] == c - 1 and ccc_runs[-1][2] == k:
                ccc_runs[-1][1] = c
            else:
                ccc_runs.append([c, c, k])

    out = []
    py = f"{sys.version_info[0]}.{sys.version_info[1]}"
    out.append(f"// Generated by tools/gen_unicode_tables.py from CPython {py}'s unicodedata: "
               f"Unicode {unicodedata.unidata_version}.\n// Do not edit; regenerate with Python 3.11.\n"
               "// Included by csrc/text/unicode.cpp only (the types are declared there).\n")
    out.append(f'#define VOXLITE_UNICODE_VERSION "{unicodedata.unidata_version}"\n')
    out.append(range_table("kWordRanges", "re \\w: str.isalnum() or '_'", ranges(lambda c: word[c])))
    out.append(range_table("kSpaceRanges", "re \\s and str.isspace()", ranges(lambda c: space[c])))
    rows = [f"{{0x{a:X}, 0x{b:X}, {v}}}," for a, b, v in dec_runs]
    out.append(f"// re \\d, str.isdecimal(): Unicode decimal digits (category Nd) and their value int(ch) "
               f"({len(dec_runs)} runs)\nstatic const DigitRange kDecimalRanges[] = {{\n{fmt_rows(rows, 5)}\n}};\n")
    out.append(range_table("kDigitRanges", "str.isdigit()", ranges(lambda c: chars[c].isdigit())))
    out.append(range_table("kAlphaRanges", "str.isalpha()", ranges(lambda c: chars[c].isalpha())))
    out.append(range_table("kUpperRanges", "str.isupper() of one character", ranges(lambda c: chars[c].isupper())))
    out.append(range_table("kLowerRanges", "str.islower() of one character", ranges(lambda c: chars[c].islower())))
    out.append(range_table("kSreCasedRanges", "re IGNORECASE: _sre.unicode_iscased", sre_cased))

    def run_table(name, comment, mapping):
        runs = mapping_runs(mapping)
        for a, b, stride, delta in runs:  # self-check
            for c in range(a, b + 1):
                if (c - a) % stride == 0:
                    assert mapping[c] == c + delta
                else:
                    assert c not in mapping
        rows = [f"{{0x{a:X}, 0x{b:X}, {s}, {d}}}," for a, b, s, d in runs]
        return (f"// {comment} ({len(runs)} runs: first, last, stride, delta)\n"
                f"static const CaseRun {name}[] = {{\n{fmt_rows(rows, 4)}\n}};\n")

    out.append(run_table("kSreLowerRuns", "re IGNORECASE: _sre.unicode_tolower (simple lower case)", sre_lower))
    out.append(run_table("kUpperRuns", "str.upper() of one character, when it is one character", upper_simple))
    out.append(run_table("kLowerRuns", "str.lower() of one character, when it is one character", lower_simple))

    def special_table(name, comment, mapping):
        rows = []
        for c in sorted(mapping):
            s = [ord(x) for x in mapping[c]] + [0] * (3 - len(mapping[c]))
            rows.append(f"{{0x{c:X}, {{0x{s[0]:X}, 0x{s[1]:X}, 0x{s[2]:X}}}}},")
        return (f"// {comment} ({len(rows)})\nstatic const SpecialCase {name}[] = {{\n{fmt_rows(rows, 3)}\n}};\n")

    out.append(special_table("kUpperSpecial", "str.upper() of one character, when it is 2-3 characters",
                             upper_special))
    out.append(special_table("kLowerSpecial", "str.lower() of one character, when it is 2-3 characters",
                             lower_special))
    rows = [f"{{0x{lo:X}, {{0x{o[0]:X}, 0x{o[1]:X}, 0x{o[2]:X}}}}}," for lo, o in fix_rows]
    out.append(f"// re IGNORECASE: characters equal to a lower-case one beyond lower() (re._casefix._EXTRA_CASES)"
               f"\nstatic const SpecialCase kIgnoreCaseFixes[] = {{\n{fmt_rows(rows, 3)}\n}};\n")
    rows = [f"{{0x{a:X}, 0x{b:X}, {k}}}," for a, b, k in ccc_runs]
    out.append(f"// unicodedata.combining: canonical combining class != 0 ({len(ccc_runs)} runs)\n"
               f"static const CombiningRange kCombiningRanges[] = {{\n{fmt_rows(rows, 5)}\n}};\n")
    rows = [f"{{0x{c:X}, {o}, {n}}}," for c, o, n in decomp_rows]
    out.append(f"// NFKD of one character, Hangul syllables excepted: (code point, offset in kDecompPool, length) "
               f"({len(rows)})\nstatic const Decomposition kDecompositions[] = {{\n{fmt_rows(rows, 5)}\n}};\n")
    rows = [f"0x{c:X}," for c in pool]
    out.append(f"static const char32_t kDecompPool[] = {{\n{fmt_rows(rows, 10)}\n}};\n")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the existing file instead of writing it")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    if unicodedata.unidata_version != UNICODE_VERSION:
        print(f"gen_unicode_tables: needs Unicode {UNICODE_VERSION} (CPython 3.11), this Python has "
              f"{unicodedata.unidata_version}", file=sys.stderr)
        return 2
    text = generate()
    if args.check:
        same = args.out.exists() and args.out.read_text(encoding="utf-8") == text
        print("up to date" if same else f"{args.out} differs from the generated tables")
        return 0 if same else 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
