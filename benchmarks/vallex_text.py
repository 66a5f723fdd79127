"""How close voxlite's VALL-E X front end reads to the official one: per-symbol similarity with VALL-E X's
``english_to_ipa2`` (eng_to_ipa + its post-processing) on plain sentences, over misaki's real lexicon.

    python -m benchmarks.vallex_text [--report benchmarks/results/vallex-text]

Needs eng-to-ipa (a test-only reference) and misaki's data (the test extra). The sentences and the official
post-processing are the test's (``tests/test_vallex_text.py``); this writes the figure as a report.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def measure() -> dict:
    from tests.test_vallex_text import SENTENCES, _english_to_ipa2, _vocab_json, VALLEX_SYMBOLS
    from voxlite.text import lexicon
    from voxlite.text.english_g2p import EnglishG2P
    from voxlite.text.letter_to_sound import edit_distance
    from voxlite.text.vallex_phonemes import VallEXPhonemes

    import json

    entries, source = lexicon.from_misaki()
    vocab = json.loads(_vocab_json(VALLEX_SYMBOLS))["model"]["vocab"]
    front = VallEXPhonemes(EnglishG2P(entries), vocab)
    rows, errors, total, exact = [], 0, 0, 0
    for text in SENTENCES:
        want, got = _english_to_ipa2(text), front.phonemes(text)
        e = edit_distance(got, want)
        errors, total, exact = errors + e, total + len(want), exact + (got == want)
        rows.append({"text": text, "official": want, "voxlite": got, "edits": e})
    return {"sentences": len(SENTENCES), "symbols": total, "edits": errors, "identical": exact,
            "similarity": 1 - errors / total, "lexicon": str(source), "rows": rows}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=Path)
    args = parser.parse_args(argv)
    from benchmarks.report import start_run, write_report

    started = start_run(("eng-to-ipa", "misaki"), argv=[__file__] + list(argv or sys.argv[1:]))
    r = measure()
    table = (f"VALL-E X front end vs the official english_to_ipa2 on {r['sentences']} plain sentences: "
             f"{r['similarity']:.1%} per-symbol similarity ({r['edits']} edits in {r['symbols']} symbols; "
             f"{r['identical']}/{r['sentences']} sentences identical).")
    print(table)
    if args.report:
        write_report(args.report, args.report.name, started.command, r,
                     ["What differs is the dictionaries' readings (misaki vs CMUdict) and stress."],
                     run=started, markdown=table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
