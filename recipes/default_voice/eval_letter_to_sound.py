"""How well the letter-to-sound model reads words it never saw, and whether it beats the G2P's compound rule.

    python -m recipes.default_voice.eval_letter_to_sound --checkpoint recipes/default_voice/checkpoints/letter_to_sound.pt

On the held-out words of ``train_letter_to_sound.py`` (one in 50 of the lexicon, never trained on), each taken out of
the lexicon in turn: symbol error rate (edit distance / reference symbols) and exact words of

- the model (torch, greedy CTC: what the exported graph decodes);
- the compound rule (``EnglishG2P._compound``: the fewest lexicon pieces) where it finds 2 pieces, and where it
  finds more, against the model on the same words: this sets ``COMPOUND_PIECES_WITH_MODEL``;
- spelling the letters out (what the G2P did before the model).

Words the suffix rules read (a known stem + -s / -ed / -ing / -ly) never reach either: they are tallied apart.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]

from recipes.default_voice.train_letter_to_sound import LEXICON, held_out, word_pairs
from voxlite.models.letter_to_sound import load_checkpoint
from voxlite.text.english_g2p import EnglishG2P
from voxlite.text.letter_to_sound import edit_distance
from voxlite.text.lexicon import load as load_lexicon


class Tally:
    def __init__(self):
        self.errors = self.symbols = self.exact = self.words = 0

    def add(self, got: str, want: str) -> None:
        self.errors += edit_distance(got, want)
        self.symbols += len(want)
        self.exact += got == want
        self.words += 1

    def row(self) -> dict:
        return {"words": self.words, "symbol_error_rate": round(self.errors / max(self.symbols, 1), 4),
                "word_accuracy": round(self.exact / max(self.words, 1), 4)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", type=Path, required=True)
    ap.add_argument("--lexicon", type=Path, default=LEXICON)
    ap.add_argument("--limit", type=int, default=None, help="first N held-out words only")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    model = load_checkpoint(args.checkpoint)
    lexicon = load_lexicon(args.lexicon)
    words = [(w, ps) for w, ps in word_pairs(lexicon, model.config.upsample) if held_out(w)][:args.limit]
    g2p = EnglishG2P(lexicon)
    tallies = {k: Tally() for k in ("model", "spelled", "suffix_rule", "model_on_suffix_rule", "compound_2",
                                    "model_on_compound_2", "compound_3plus", "model_on_compound_3plus")}
    for word, want in words:
        got = model.read(word) or ""  # as the exported graph decodes it
        tallies["model"].add(got, want)
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
    report = {"checkpoint": str(args.checkpoint), "held_out_words": len(words),
              **{k: t.row() for k, t in tallies.items()}}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
