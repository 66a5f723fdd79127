"""Ground-truth-aligned (GTA) mels for fine-tuning the default voice's vocoder on what the acoustic model says.

The default voice speaks the acoustic model's prior-head patches (``flow_start`` 0): a regression output, smoother
than the teacher's mel. A vocoder trained on real mels has never seen such input (held-out DNSMOS 2.2 against the
teacher's 3.3). As Tacotron 2 / HiFi-GAN do, this writes, for every corpus utterance, the acoustic model's
teacher-forced prediction of its mel (the LM reads the real previous patches, as in training, and the prior head
predicts each patch): the same frames as the real mel, so ``train_vocoder.py --gta DIR`` can learn the audio of
the real utterance from it.

    python -m recipes.default_voice.gta_mels --acoustic ~/.cache/voxlite/train/acoustic/model.pt

Output (``--out``, default ``~/.cache/voxlite/train/gta``): ``<row id>.npz`` with ``mel`` (n_mels, F) float16 log-mel,
F the real mel's frame count (the patch padding cut off), for the Piper rows of ``manifest.jsonl`` (split train)
and ``eval_manifest.jsonl`` (split eval: validation only); ``gta.json`` names the acoustic model (its step and
SHA-256) and its mel normalisation (``mel_mean`` / ``mel_std``: ``benchmarks/quality.py``'s ``vocode:`` systems
feed these mels to a bundle's decoder). Resumable: utterances with a file are skipped; files are written atomically. A different acoustic model
needs another ``--out`` (checked).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]

from export.default_voice import load_acoustic
from recipes.default_voice.train_acoustic import (CORPUS, LETTER_TO_SOUND, MEL, PATCH, FeatureStore,
                                                  make_batch, read_rows, read_unknown_words, to_patches)
from voxlite.dsp.mel import MEL_PRESETS
from voxlite.text import lexicon as lexicon_mod
from voxlite.text.english_g2p import EnglishG2P

OUT = Path.home() / ".cache" / "voxlite" / "train" / "gta"
FEATURES = Path.home() / ".cache" / "voxlite" / "train" / "acoustic" / "features"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@torch.no_grad()
def predict(model, items: list[tuple[np.ndarray, np.ndarray]], mean: np.ndarray, std: np.ndarray,
            floor: float) -> list[np.ndarray]:
    """(phoneme ids, real log-mel (n_mels, F)) per utterance -> the prior head's teacher-forced log-mel, same shape."""
    patches = [(ids, to_patches(mel, mean, std, floor)) for ids, mel in items]
    batch = make_batch(patches, model.config.audio_start_token)
    h, r, _ = model.lm_states(batch["tokens"], batch["text_mask"], batch["feats"], batch["audio_mask"])
    # the state at position j - 1 produces the patch at j (as train_acoustic.losses)
    h_prev = torch.cat((torch.zeros_like(h[:, :1]), h[:, :-1]), dim=1)
    r_prev = torch.cat((torch.zeros_like(r[:, :1]), r[:, :-1]), dim=1)
    out = []
    for b, (ids, mel) in enumerate(items):
        sel = batch["audio_mask"][b] > 0
        mu, _ = model.heads(h_prev[b][sel], r_prev[b][sel])
        prior = model.prior(mu).numpy().reshape(-1, mel.shape[0])  # (N * P, n_mels), normalised
        out.append((prior[:mel.shape[1]] * std + mean).T.astype(np.float32))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--acoustic", type=Path, required=True,
                    help="train_acoustic.py's model.pt (or checkpoints/acoustic.pt)")
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--features", type=Path, default=FEATURES, help="train_acoustic.py's mel cache (filled if missing)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--limit", type=int, default=None, help="the first N training rows (by id) only")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, payload = load_acoustic(args.acoustic)
    if model.prior_proj is None:
        raise SystemExit(f"{args.acoustic}: no prior head (config.prior_head): nothing to predict the mel with")
    if payload.get("mel", MEL) != MEL:
        raise SystemExit(f"{args.acoustic}: mel {payload.get('mel')!r}, this recipe's is {MEL!r}")
    lexicon = args.acoustic.parent / payload.get("lexicon_file", "lexicon.json")
    if not lexicon.is_file():
        raise SystemExit(f"{lexicon} not found: the lexicon the model was trained with")
    g2p = EnglishG2P(lexicon_mod.load(lexicon), letter_to_sound=read_unknown_words(LETTER_TO_SOUND))
    store = FeatureStore(args.corpus, args.features, g2p)
    mean, std = np.asarray(payload["mel_mean"], np.float32), np.asarray(payload["mel_std"], np.float32)
    floor = float(np.log(MEL_PRESETS[MEL].log_floor))

    args.out.mkdir(parents=True, exist_ok=True)
    about = {"acoustic_sha256": sha256(args.acoustic), "acoustic_step": int(payload.get("step", 0)), "mel": MEL,
             "patch": PATCH,  # and the normalisation, for the quality harness's vocode: systems
             "mel_mean": [float(v) for v in mean], "mel_std": [float(v) for v in std]}
    meta = args.out / "gta.json"
    if meta.exists() and json.loads(meta.read_text())["acoustic_sha256"] != about["acoustic_sha256"]:
        raise SystemExit(f"{args.out} holds another acoustic model's mels: use another --out")
    meta.write_text(json.dumps(about, indent=2) + "\n")

    train = sorted((r for r in read_rows(args.corpus / "manifest.jsonl") if r.get("split", "train") == "train"),
                   key=lambda r: r["id"])[:args.limit]
    rows = train + sorted(read_rows(args.corpus / "eval_manifest.jsonl"), key=lambda r: r["id"])
    todo = [r for r in rows if not (args.out / f"{r['id']}.npz").exists()]
    print(f"{len(rows)} utterances, {len(rows) - len(todo)} done, {len(todo)} to predict "
          f"(acoustic step {about['acoustic_step']})", flush=True)
    todo.sort(key=lambda r: int(r.get("num_samples", 0)))  # similar lengths batch with little padding
    t0 = time.time()
    for i in range(0, len(todo), args.batch):
        part = todo[i:i + args.batch]
        items = [store.get(r) for r in part]
        for row, mel in zip(part, predict(model, items, mean, std, floor)):
            path = args.out / f"{row['id']}.npz"
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, mel=mel.astype(np.float16))
            os.replace(tmp, path)
        if (i // args.batch) % 50 == 0:
            print(f"  {i + len(part)}/{len(todo)} in {time.time() - t0:.0f} s", flush=True)
    print(f"done: {len(todo)} predicted in {time.time() - t0:.0f} s -> {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
