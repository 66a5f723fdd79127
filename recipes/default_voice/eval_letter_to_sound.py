"""How well the letter-to-sound model reads words it never saw, and whether it beats the G2P's compound rule.

    python -m recipes.default_voice.eval_letter_to_sound --checkpoint recipes/default_voice/checkpoints/letter_to_sound.pt

On the held-out words of ``train_letter_to_sound.py`` (one in 50 of the lexicon, never trained on), each taken out of
the lexicon in turn: symbol error rate (edit distance / reference symbols) and exact words of

- the model (torch, greedy CTC: what the exported graph decodes);
- the compound rule (``EnglishG2P._compound``: the fewest lexicon pieces) where it finds 2 pieces, and where it
  finds more, against the model on the same words: this sets ``COMPOUND_PIECES_WITH_MODEL``;
- spelling the letters out (what the G2P did before the model).

Words the suffix rules read (a known stem + -s / -ed / -ing / -ly) never reach either: they are tallied apart.

``--names`` also reads the held-out names (``names_held_out.tsv``: census names the lexicon lacks, CMUdict's reading
converted to the lexicon's symbols by ``names.py``; never trained on). Each row then splits the errors: symbol
errors with the stress marks dropped (``segment_error_rate``, ``segments_exact``) and the words whose segments are
right but whose stress is not (``stress_only_wrong``). ``--no-rules`` skips the G2P rule tallies (faster).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]

from recipes.default_voice.names import HELD_OUT_FILE, read_held_out, strip_stress
from recipes.default_voice.train_letter_to_sound import LEXICON, held_out, word_pairs
from voxlite.models.letter_to_sound import load_checkpoint
from voxlite.text.english_g2p import EnglishG2P
from voxlite.text.letter_to_sound import edit_distance
from voxlite.text.lexicon import load as load_lexicon


class Tally:
    def __init__(self):
        self.errors = self.symbols = self.exact = self.words = 0
        self.seg_errors = self.seg_symbols = self.seg_exact = self.stress_only = 0

    def add(self, got: str, want: str) -> None:
        self.errors += edit_distance(got, want)
        self.symbols += len(want)
        self.exact += got == want
        self.words += 1
        g, w = strip_stress(got), strip_stress(want)
        self.seg_errors += edit_distance(g, w)
        self.seg_symbols += len(w)
        self.seg_exact += g == w
        self.stress_only += g == w and got != want

    def row(self) -> dict:
        n = max(self.words, 1)
        return {"words": self.words, "symbol_error_rate": round(self.errors / max(self.symbols, 1), 4),
                "word_accuracy": round(self.exact / n, 4),
                "segment_error_rate": round(self.seg_errors / max(self.seg_symbols, 1), 4),
                "segments_exact": round(self.seg_exact / n, 4), "stress_only_wrong": round(self.stress_only / n, 4)}


def evaluate(model, lexicon, words, names, no_rules: bool) -> tuple[dict, dict]:
    """One checkpoint -> (report rows, per-word edit distances of the model: {"lexicon": [...], "names": [...]})."""
    g2p = EnglishG2P(lexicon)
    tallies = {k: Tally() for k in ("model", "spelled", "suffix_rule", "model_on_suffix_rule", "compound_2",
                                    "model_on_compound_2", "compound_3plus", "model_on_compound_3plus")}
    per_word: dict[str, list[int]] = {"lexicon": [], "names": []}
    for word, want in words:
        got = model.read(word) or ""  # as the exported graph decodes it
        tallies["model"].add(got, want)
        per_word["lexicon"].append(edit_distance(got, want))
        if no_rules:
            continue
        removed = {k: g2p.lexicon.pop(k) for k in (word, word.capitalize(), word.upper()) if k in g2p.lexicon}
        try:
            tallies["spelled"].add(g2p._spell(word).replace(" ", ""), want)
            two = g2p._compound(word, max_pieces=2)
            if (suffixed := g2p._suffixed(word)) is not None:
                tallies["suffix_rule"].add(suffixed, want)
                tallies["model_on_suffix_rule"].add(got, want)
            elif two is not None:
                tallies["compound_2"].add(two.replace(" ", ""), want)
                tallies["model_on_compound_2"].add(got, want)
            elif (more := g2p._compound(word)) is not None:
                tallies["compound_3plus"].add(more.replace(" ", ""), want)
                tallies["model_on_compound_3plus"].add(got, want)
        finally:
            g2p.lexicon.update(removed)
    report = {"held_out_words": len(words), **{k: t.row() for k, t in tallies.items() if t.words}}
    if names:
        tally = Tally()
        for name, want in names:
            got = model.read(name) or ""
            tally.add(got, want)
            per_word["names"].append(edit_distance(got, want))
        report["names"] = tally.row()
    return report, per_word


def paired_difference(errors_a, errors_b, symbols, resamples: int = 2000, seed: int = 0) -> dict:
    """Symbol error rate of b minus a over the same words, with a percentile-bootstrap 95 % interval (words
    resampled)."""
    a, b, n = (np.asarray(x, dtype=np.float64) for x in (errors_a, errors_b, symbols))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(n), size=(resamples, len(n)))
    diffs = (b[idx].sum(1) - a[idx].sum(1)) / n[idx].sum(1)
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return {"difference": round(float((b.sum() - a.sum()) / n.sum()), 4), "ci95": [round(float(lo), 4),
                                                                                 round(float(hi), 4)]}


def markdown_table(results: dict, differences: dict, agreement: dict | None) -> str:
    lines = ["| checkpoint | lexicon held-out: symbol errors | words exact | segment errors | stress-only wrong "
             "| names held-out: symbol errors | words exact | segment errors | stress-only wrong |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    pct = lambda x: f"{100 * x:.1f} %"  # noqa: E731
    for label, r in results.items():
        m, nm = r["model"], r.get("names")
        cells = [pct(m["symbol_error_rate"]), pct(m["word_accuracy"]), pct(m["segment_error_rate"]),
                 pct(m["stress_only_wrong"])]
        cells += [pct(nm["symbol_error_rate"]), pct(nm["word_accuracy"]), pct(nm["segment_error_rate"]),
                  pct(nm["stress_only_wrong"])] if nm else ["—"] * 4
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    first = next(iter(results.values()))
    lines += ["", f"{first['held_out_words']:,} held-out lexicon words (one in 50 by SHA-1, never trained on), "
              f"{first['names']['words']:,} held-out names" if "names" in first else "", ""]
    if differences:
        lines += ["Symbol error rate minus the first checkpoint's, paired over the same words (points; 95 % CI: "
                  "percentile bootstrap over words, 2000 resamples):", "",
                  "| checkpoint | set | difference | 95 % CI |", "|---|---|---:|---:|"]
        for (label, part), d in differences.items():
            lines.append(f"| {label} | {part} | {100 * d['difference']:+.2f} | {100 * d['ci95'][0]:+.2f} to "
                         f"{100 * d['ci95'][1]:+.2f} |")
        lines.append("")
    if agreement:
        lines += [f"The ARPAbet -> lexicon converter (`names.arpabet_to_misaki`) against the lexicon on the "
                  f"{agreement['shared_words']:,} words both dictionaries hold: "
                  f"{100 * agreement['symbol_error_rate']:.1f} % symbol errors, "
                  f"{100 * agreement['word_accuracy']:.1f} % words exact (segments alone: "
                  f"{100 * agreement['segment_error_rate']:.1f} % / {100 * agreement['segments_exact']:.1f} %).", ""]
    lines.append("Symbol errors: edit distance / reference symbols (stress marks are symbols). Segment errors: the same "
                 "with the stress marks dropped. Stress-only wrong: words whose segments are right and stress is not.")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", type=str, nargs="+", required=True,
                    help="one or more checkpoints (LABEL=PATH to name one in a report); the first is the baseline "
                         "the others are compared with")
    ap.add_argument("--lexicon", type=Path, default=LEXICON)
    ap.add_argument("--limit", type=int, default=None, help="first N held-out words only")
    ap.add_argument("--names", nargs="?", type=Path, const=HELD_OUT_FILE, default=None,
                    help="also read the held-out names (default file: names_held_out.tsv)")
    ap.add_argument("--no-rules", action="store_true", help="the model alone: skip the G2P rule tallies")
    ap.add_argument("--agreement", action="store_true",
                    help="also measure the ARPAbet converter against the lexicon (needs cmudict installed)")
    ap.add_argument("--report", type=Path, default=None, help="write report.json / report.md here")
    args = ap.parse_args(argv)
    run = None
    if args.report is not None:
        from benchmarks.report import start_run
        run = start_run(("torch",))
    torch.set_num_threads(1)
    lexicon = load_lexicon(args.lexicon)
    names = read_held_out(args.names)[:args.limit] if args.names is not None else []
    results, per_word, symbols = {}, {}, {}
    for spec in args.checkpoint:
        label, _, path = spec.rpartition("=")
        path = Path(path)
        label = label or str(path)
        model = load_checkpoint(path)
        words = [(w, ps) for w, ps in word_pairs(lexicon, model.config.upsample) if held_out(w)][:args.limit]
        report, per_word[label] = evaluate(model, lexicon, words, names, args.no_rules)
        results[label] = {"checkpoint": str(path), "step": torch.load(path, weights_only=False).get("step"),
                          **report}
        symbols = {"lexicon": [len(ps) for _, ps in words], "names": [len(ps) for _, ps in names]}
    base = next(iter(results))
    differences = {}
    for label in list(results)[1:]:
        for part in ("lexicon", "names"):
            if per_word[label][part] and len(per_word[label][part]) == len(per_word[base][part]):
                differences[(label, part)] = paired_difference(per_word[base][part], per_word[label][part],
                                                               symbols[part])
    out = results[base] if len(results) == 1 else dict(results)
    if args.names is not None:
        out = {**out, "names_file": str(args.names)} if len(results) == 1 else {"results": out,
                                                                                "names_file": str(args.names)}
    if differences:
        out["symbol_error_difference"] = {f"{label} - {base} ({part})": d for (label, part), d in differences.items()}
    agreement = None
    if args.agreement:
        from recipes.default_voice.names import agreement as converter_agreement
        agreement = converter_agreement(lexicon)
        out["converter_agreement"] = agreement
    print(json.dumps(out, indent=2))
    if args.report is not None:
        from benchmarks.report import write_report
        figures = {label: {"lexicon_held_out": r["model"], **({"names_held_out": r["names"]} if "names" in r else {})}
                   for label, r in results.items()}
        if differences:
            figures["symbol_error_difference"] = out["symbol_error_difference"]
        if agreement:
            figures["converter_agreement"] = agreement
        notes = ["Held-out names: recipes/default_voice/names_held_out.tsv (US census first / last names the lexicon "
                 "lacks, CMUdict's first reading converted to the lexicon's symbols by recipes/default_voice/names.py).",
                 "Converted CMUdict is itself an imperfect reference: the converter's agreement with the lexicon on "
                 "shared words bounds how far a names figure can be read."]
        write_report(args.report, args.report.name, run.command, figures, notes, run=run,
                     markdown=markdown_table(results, differences, agreement), details={"results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
