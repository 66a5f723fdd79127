"""Train the default voice's acoustic model: a small VoxCPM (``voxlite.models.voxcpm``) from phonemes to log-mel.

    text --(voxlite.text.english_g2p, misaki lexicon)--> phoneme ids + audio_start
         --> TSLM / FSQ / RALM (causal, RoPE with rate-scaled audio positions) --> mu per patch
         --> LocDiT flow matching (CFG dropout) over patches of P normalised log-mel frames;  stop head
    log-mel: ``voxlite.dsp.mel`` preset "vocos-24khz" (100 bins, hop 256, 24 kHz), normalised per bin; the
    default voice's Vocos (``train_vocoder.py``) turns it back into audio.

Losses as the official VoxCPM trainer: MSE between the LocDiT velocity and ``z - x1`` at ``x_t = (1 - t) x1 + t z``
(t ~ sigmoid(N(0, 1))), the condition ``mu`` zeroed for 10 % of patches (CFG), and cross-entropy on the stop head
(1 on the state that produces the last patch), plus the prior head's L1 loss (``losses``). The data is the teacher
corpus (``corpus.py``, Piper rows); the held-out sentences (``eval_manifest.jsonl``) are only used for validation.

Resumable: ``--out`` holds ``state.pt`` (model, optimiser, step, RNG, data statistics) written atomically every
``--ckpt-minutes``; running the same command continues. ``model.pt`` (weights, config, mel statistics) is what
``python -m export default-voice`` reads. The dataset is re-read from the manifest at every epoch, so a corpus that is still
growing is picked up. Logs: ``train.jsonl`` (a row per ``--log-every`` steps) and ``valid.jsonl``.

    python -m recipes.default_voice.train_acoustic --max-minutes 120           # ~/.cache/voxlite/train/acoustic
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]

from recipes.default_voice.energy_score import energy_score
from recipes.default_voice.stop import StopOnSignal
from voxlite.dsp.mel import MEL_PRESETS, log_mel_spectrogram
from voxlite.models.voxcpm import LMConfig, LocalConfig, VoxCPM, VoxCPMConfig
from voxlite.text import lexicon as lexicon_mod
from voxlite.text.english_g2p import INVENTORY_VERSION, EnglishG2P

CORPUS = Path.home() / ".cache" / "voxlite" / "corpus"
OUT = Path.home() / ".cache" / "voxlite" / "train" / "acoustic"
LETTER_TO_SOUND = ROOT / "recipes" / "default_voice" / "checkpoints" / "letter_to_sound.pt"


def read_unknown_words(path: Path | None):
    """The G2P's ``letter_to_sound`` callable from a checkpoint, or None (unknown words spelled out) without one."""
    if path is None or not Path(path).is_file():
        return None
    from voxlite.models.letter_to_sound import load_checkpoint

    return load_checkpoint(path).read
MEL = "vocos-24khz"
ENERGY_T0 = 0.5  # --head energy: the shallow start the one-step sampler reads (prior and noise, half and half)
SMALL_T_MAX = 0.3  # --small-t-share draws the LocDiT's t from U(0, SMALL_T_MAX): the range shallow solves use
# frames per LM step: 11.7 steps/s of audio, ~1.7 phonemes per patch (8-frame chunks aligned fast in the
# feasibility run: README.md, "The feasibility run behind these choices")
PATCH = 8


def voice_config(vocab_size: int, rate: float, size: str = "small") -> VoxCPMConfig:
    """The default voice's sizes. ``tiny`` is for tests."""
    if size == "tiny":
        dim, ffn, layers, heads, kv, enc, dit, res, fsq = 32, 48, 1, 2, 1, (32, 48, 2, 1), (64, 64, 2, 1), 1, 16
    else:  # ~5M parameters, ~30 GFLOP a step at 1,600 positions: a size that trains on 2 cores within a session
        # (README.md, "The feasibility run behind these choices": ~110 GFLOP/s). The LocDiT runs 2 x steps times a
        # patch at synthesis (CFG), so it is kept small: 128 wide, 2 layers, ~13 MFLOP a call (192 x 3: 45)
        dim, ffn, layers, heads, kv, enc, dit, res, fsq = 256, 768, 4, 4, 2, (128, 384, 2, 1), (128, 384, 2, 2), 1, 64
    head_dim = dim // heads
    ones = (1.0,) * (head_dim // 2)  # plain RoPE: LongRoPE factors of 1, equal context lengths
    lm = LMConfig(hidden_size=dim, intermediate_size=ffn, num_hidden_layers=layers, num_attention_heads=heads,
                  num_key_value_heads=kv, vocab_size=vocab_size, rope_theta=10000.0, max_position_embeddings=4096,
                  rope_short_factor=ones, rope_long_factor=ones, rope_original_max_position_embeddings=4096,
                  use_mup=False)
    return VoxCPMConfig(lm=lm, encoder=LocalConfig(enc[0], enc[1], enc[2], enc[3], kv_channels=head_dim),
                        dit=LocalConfig(dit[0], dit[1], dit[2], dit[3], kv_channels=head_dim), patch_size=PATCH,
                        feat_dim=MEL_PRESETS[MEL].n_mels, residual_lm_num_layers=res,
                        scalar_quantization_latent_dim=fsq, scalar_quantization_scale=9, max_length=4096,
                        audio_start_token=vocab_size - 2, audio_end_token=vocab_size - 1, audio_position_rate=rate,
                        prior_head=True)


# ----------------------------------------------------------------------------------------------------- data

def read_rows(manifest: Path, teacher: str = "piper") -> list[dict]:
    if not manifest.exists():
        return []
    rows = []
    for line in manifest.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if row.get("teacher") == teacher:
                rows.append(row)
    return rows


class FeatureStore:
    """Phoneme ids and log-mel of each utterance, computed once and cached as .npz under ``cache``."""

    def __init__(self, corpus: Path, cache: Path, g2p: EnglishG2P):
        self.corpus, self.cache, self.g2p = corpus, cache, g2p
        cache.mkdir(parents=True, exist_ok=True)
        self.mel = MEL_PRESETS[MEL]

    def get(self, row: dict) -> tuple[np.ndarray, np.ndarray]:
        ids = np.asarray(self.g2p.encode(row["norm"]), dtype=np.int32)  # cheap: recomputed, never stale
        path = self.cache / f"{row['id']}.npz"
        if path.exists():
            with np.load(path) as z:
                return ids, z["mel"]
        wav, rate = sf.read(self.corpus / row["path"], dtype="float32")
        if rate != self.mel.sample_rate:
            raise ValueError(f"{row['path']}: {rate} Hz, expected {self.mel.sample_rate}")
        mel = log_mel_spectrogram(wav, self.mel).astype(np.float16)  # (n_mels, F)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, mel=mel)
        os.replace(tmp, path)
        return ids, mel


def mel_stats(items: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    cat = np.concatenate([m.astype(np.float32) for _, m in items], axis=1)  # (n_mels, frames)
    return cat.mean(axis=1), np.maximum(cat.std(axis=1), 1e-3)


def to_patches(mel: np.ndarray, mean: np.ndarray, std: np.ndarray, floor: float, patch: int = PATCH) -> np.ndarray:
    """(n_mels, F) log-mel -> (N, P, n_mels) normalised patches; the last one padded with silence (the log floor)."""
    n = -(-mel.shape[1] // patch)
    pad = n * patch - mel.shape[1]
    full = np.pad(mel.astype(np.float32), ((0, 0), (0, pad)), constant_values=floor)
    return ((full.T - mean) / std).reshape(n, patch, -1).astype(np.float32)


def make_batch(items: list[tuple[np.ndarray, np.ndarray]], audio_start: int) -> dict[str, torch.Tensor]:
    """[ids ; audio_start ; patches] per item, padded at the end (causal: padding never reaches a real position)."""
    lengths = [len(ids) + 1 + len(p) for ids, p in items]
    B, T = len(items), max(lengths)
    P, D = items[0][1].shape[1:]
    tokens = np.zeros((B, T), np.int64)
    tmask = np.zeros((B, T), np.float32)
    amask = np.zeros((B, T), np.float32)
    feats = np.zeros((B, T, P, D), np.float32)
    stop = np.zeros((B, T), np.int64)
    for b, (ids, patches) in enumerate(items):
        n_text = len(ids) + 1
        tokens[b, :len(ids)] = ids
        tokens[b, len(ids)] = audio_start
        tmask[b, :n_text] = 1
        amask[b, n_text:n_text + len(patches)] = 1
        feats[b, n_text:n_text + len(patches)] = patches
        stop[b, n_text + len(patches) - 1] = 1
    return {k: torch.from_numpy(v) for k, v in
            dict(tokens=tokens, text_mask=tmask, audio_mask=amask, feats=feats, stop=stop).items()}


def batches(items: list, max_tokens: int, rng: random.Random) -> list[list]:
    """Length-bucketed batches of at most ``max_tokens`` (padded) positions, in random order."""
    order = sorted(range(len(items)), key=lambda i: (len(items[i][0]) + len(items[i][1]), rng.random()))
    out, cur, longest = [], [], 0
    for i in order:
        n = len(items[i][0]) + 1 + len(items[i][1])
        if cur and max(longest, n) * (len(cur) + 1) > max_tokens:
            out.append(cur)
            cur, longest = [], 0
        cur.append(items[i])
        longest = max(longest, n)
    if cur:
        out.append(cur)
    rng.shuffle(out)
    return out


# ----------------------------------------------------------------------------------------------------- model

def losses(model: VoxCPM, batch: dict[str, torch.Tensor], *, cfg_dropout: float = 0.1, dit_fraction: float = 1.0,
           audio_dropout: float = 0.0, cond_noise: float = 0.0, small_t_share: float = 0.0,
           head: str = "flow", energy_t0: float = ENERGY_T0,
           generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Flow-matching and stop losses of a batch (official VoxCPM trainer's formulation). ``dit_fraction``: the
    LocDiT loss on a random subset of the patches (an unbiased estimate at a fraction of the cost: the LocDiT runs
    on 1 + 2P tokens per patch, more than the LM spends on it).

    ``audio_dropout`` (dropout on the LM's audio inputs, as Tacotron's prenet) and ``cond_noise`` (Gaussian noise of
    this scale on the LocDiT's previous-patch condition, on half of the patches, as the official trainer's noisy
    cond) make the previous audio an unreliable shortcut, so the model must read the text: without them a small
    model learns to continue the audio and ignores the text (teacher-forced loss with the wrong text was within 1 %
    of the right text's after 1,750 steps).

    A model with a prior head (``config.prior_head``: a linear map from the DiT condition ``mu`` to the patch) also
    gets its L1 loss (key "prior"). Its gradient reaches the LM directly and on every patch, so ``mu`` must carry the
    patch's content, which the audio so far does not fully give: the regression loss under which the feasibility
    run's LM aligned (README.md). The flow-matching loss alone gives the LM a weak signal the LocDiT can meet from
    ``cond``. At synthesis the prior is where a shallow solve starts (``flow_start``).

    ``small_t_share``: that share of the LocDiT's patches draw t from U(0, SMALL_T_MAX) instead of sigmoid(N(0, 1))
    (P(t < 0.15) ~ 4 %), so the LocDiT learns the small-t end of the flow that a shallow solve runs on.

    ``head="energy"`` (needs the prior head) trains the LocDiT as a one-step sampler instead of a velocity field: from
    the shallow start ``x0 = (1 - t0) prior(mu) + t0 z``, one Euler step ``x0 - t0 v(x0, t0 | mu, cond)`` is a draw
    of the patch, and two draws per patch are scored with the energy score (key "energy"; ``energy_score.py``), whose
    gradient reaches the LM through ``mu`` too. At synthesis this is the bundle's shallow solve with ``flow_start``
    t0, 1 step and CFG 1: the same graphs, one LocDiT call a patch. It commits to one future per patch where the
    prior head's L1 gives their median. No CFG dropout (CFG 1 never reads the unconditional branch)."""
    tokens, tmask, amask, feats = batch["tokens"], batch["text_mask"], batch["audio_mask"], batch["feats"]
    lm_feats = feats
    if audio_dropout > 0:
        keep_mask = (torch.rand(feats.shape, generator=generator) >= audio_dropout).to(feats.dtype)
        lm_feats = feats * keep_mask / (1 - audio_dropout)
    h, r, _ = model.lm_states(tokens, tmask, lm_feats, amask)
    # the state at position j - 1 produces the patch at j
    h_prev = torch.cat((torch.zeros_like(h[:, :1]), h[:, :-1]), dim=1)
    r_prev = torch.cat((torch.zeros_like(r[:, :1]), r[:, :-1]), dim=1)
    sel = amask > 0  # (B, T)
    mu, stop_logits = model.heads(h_prev[sel], r_prev[sel])  # (M, H), (M, 2)
    x1 = feats[sel]  # (M, P, D)
    cond = torch.cat((torch.zeros_like(feats[:, :1]), feats[:, :-1]), dim=1)[sel]  # previous patch (zeros first)
    if cond_noise > 0:
        noisy = (torch.rand(cond.shape[0], generator=generator) < 0.5).to(cond.dtype)[:, None, None]
        cond = cond + noisy * cond_noise * torch.randn(cond.shape, generator=generator)
    stop = F.cross_entropy(stop_logits, batch["stop"][sel])
    extra = {}
    if model.prior_proj is not None:
        extra["prior"] = F.l1_loss(model.prior(mu), x1)
    if dit_fraction < 1.0:
        n = max(1, int(round(x1.shape[0] * dit_fraction)))
        pick = torch.randperm(x1.shape[0], generator=generator)[:n]
        mu, x1, cond = mu[pick], x1[pick], cond[pick]
    M = x1.shape[0]
    if head == "energy":
        z = torch.randn((2, *x1.shape), generator=generator)
        x0 = (1 - energy_t0) * model.prior(mu) + energy_t0 * z  # (2, M, P, D)
        v = model.velocity(x0.flatten(0, 1), torch.full((2 * M,), energy_t0), mu.repeat(2, 1), cond.repeat(2, 1, 1))
        draws = x0 - energy_t0 * v.unflatten(0, (2, M))
        with torch.no_grad():
            sample_l1 = F.l1_loss(draws[0], x1)
        return {"energy": energy_score(draws, x1), "sample_l1": sample_l1, "stop": stop, **extra}
    if head != "flow":
        raise ValueError(f"unknown head {head!r} (expected 'flow' or 'energy')")
    keep = (torch.rand(M, generator=generator) >= cfg_dropout).to(mu.dtype)[:, None]
    t = torch.sigmoid(torch.randn(M, generator=generator))
    if small_t_share > 0:  # shallow solves (flow_start t0 <= SMALL_T_MAX) start where sigmoid(N(0,1)) rarely looks
        small = torch.rand(M, generator=generator) < small_t_share
        t = torch.where(small, SMALL_T_MAX * torch.rand(M, generator=generator), t)
    z = torch.randn(x1.shape, generator=generator)
    xt = (1 - t)[:, None, None] * x1 + t[:, None, None] * z
    v = model.velocity(xt, t, mu * keep, cond)
    diff = F.mse_loss(v, z - x1)
    with torch.no_grad():
        last = batch["stop"][sel] == 1
        stop_acc = (stop_logits.argmax(-1) == batch["stop"][sel]).float()
        recall = stop_acc[last].mean() if last.any() else torch.tensor(0.0)
    return {"diff": diff, "stop": stop, "stop_recall": recall, **extra}


def lr_at(step: int, base: float, warmup: int, total: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    decay_from = int(total * 0.75)
    if step < decay_from:
        return base
    return base * max(0.05, 1 - (step - decay_from) / max(1, total - decay_from))


def atomic_save(obj, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def export_payload(model: VoxCPM, stats: dict, extra: dict) -> dict:
    return {"config": model.config.to_dict(), "state_dict": model.state_dict(), "mel": MEL, **stats, **extra}


# ----------------------------------------------------------------------------------------------------- main

def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--size", default="small", choices=["small", "tiny"])
    ap.add_argument("--max-tokens", type=int, default=1600, help="padded positions per batch")
    ap.add_argument("--dit-fraction", type=float, default=0.35, help="patches per step in the LocDiT loss")
    ap.add_argument("--audio-dropout", type=float, default=0.5, help="dropout on the LM's audio inputs")
    ap.add_argument("--cond-noise", type=float, default=0.5, help="noise on the LocDiT's previous-patch condition")
    ap.add_argument("--small-t-share", type=float, default=0.3,
                    help=f"share of LocDiT patches with t ~ U(0, {SMALL_T_MAX}) instead of sigmoid(N(0, 1))")
    ap.add_argument("--head", default="flow", choices=["flow", "energy"],
                    help="the LocDiT's objective: flow matching (a velocity field) or the energy score of a one-step "
                         "draw from the prior-and-noise start at --energy-t0 (synthesis: flow_start t0, 1 step, CFG 1)")
    ap.add_argument("--energy-t0", type=float, default=ENERGY_T0)
    ap.add_argument("--prior-weight", type=float, default=1.0, help="weight of the prior head's L1 loss")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--total-steps", type=int, default=12000, help="schedule length (decay over the last quarter)")
    ap.add_argument("--max-steps", type=int, default=None, help="stop after this step (checkpoint first)")
    ap.add_argument("--max-minutes", type=float, default=None, help="stop after this long (checkpoint first)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ckpt-minutes", type=float, default=5.0)
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--valid-every", type=int, default=500)
    ap.add_argument("--valid-items", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--letter-to-sound", type=Path, default=LETTER_TO_SOUND,
                    help="the G2P's model for words the lexicon lacks, as the exported voice reads them (a missing "
                         "file: such words are spelled out, as before session 9)")
    ap.add_argument("--init", type=Path, default=None,
                    help="with no state in --out: start from these weights (checkpoints/acoustic.pt), fresh optimiser")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    state_path, model_path = args.out / "state.pt", args.out / "model.pt"
    lex_path = args.out / "lexicon.json"
    init = None
    if not state_path.exists() and args.init is not None:  # a committed checkpoint: weights, statistics, lexicon
        init = torch.load(args.init, map_location="cpu", weights_only=False)
        lex = args.init.parent / init.get("lexicon_file", "lexicon.json")
        if lex.is_file() and not lex_path.exists():
            lex_path.write_bytes(lex.read_bytes())
    if not lex_path.exists():
        entries, source = lexicon_mod.from_misaki("us")
        lexicon_mod.save(lex_path, entries, source)
    g2p = EnglishG2P(lexicon_mod.load(lex_path), letter_to_sound=read_unknown_words(args.letter_to_sound))
    store = FeatureStore(args.corpus, args.out / "features", g2p)
    floor = float(np.log(MEL_PRESETS[MEL].log_floor))

    def load_items(manifest: Path, limit: int | None = None) -> list:
        rows = [r for r in read_rows(manifest) if r.get("split", "train") in ("train", "eval")]
        return [store.get(r) for r in rows[:limit]]

    state = torch.load(state_path, weights_only=False) if state_path.exists() else None
    raw = load_items(args.corpus / "manifest.jsonl")
    if not raw:
        print(f"no Piper rows in {args.corpus / 'manifest.jsonl'}", file=sys.stderr)
        return 2
    if init is not None:
        stats = {k: init[k] for k in ("mel_mean", "mel_std", "position_rate")}
    elif state is None:
        mean, std = mel_stats(raw[:2000])
        rate = float(np.mean([len(i) + 1 for i, _ in raw]) / np.mean([-(-m.shape[1] // PATCH) for _, m in raw]))
        stats = {"mel_mean": mean, "mel_std": std, "position_rate": rate}
    else:
        stats = state["stats"]
    vocab = g2p.vocab_size + 2  # + audio_start, audio_end
    if init is not None:  # its own sizes (an older patch size included); checkpoints before the prior head get one
        config = replace(VoxCPMConfig.from_dict(init["config"]), prior_head=True)
    else:
        config = voice_config(vocab, round(float(stats["position_rate"]), 4), args.size)
    torch.manual_seed(args.seed)
    model = VoxCPM(config)
    params = list(model.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.98), weight_decay=0.01)
    step, restart, rng = 0, None, random.Random(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    if init is not None:
        missing, unexpected = model.load_state_dict({k: v.float() for k, v in init["state_dict"].items()},
                                                    strict=False)
        if unexpected or any(not k.startswith("prior_proj.") for k in missing):
            raise SystemExit(f"{args.init} does not fit the model: missing {missing}, unexpected {unexpected}")
        step = restart = int(init.get("step", 0))  # fresh AdamW moments: a short warm-up from here
        print(f"initialised from {args.init} (step {step})", flush=True)
    if state is not None:
        weights = dict(state["model"])
        if state.get("aux") is not None and "prior_proj.weight" not in weights:  # states from before the prior
            weights.update({f"prior_proj.{k}": v for k, v in state["aux"].items()})  # head: its training-only aux
        if state.get("head", "flow") != args.head:  # states from before --head were all "flow"
            raise SystemExit(f"{state_path} trained the {state.get('head', 'flow')!r} head; resuming it with "
                             f"--head {args.head} would switch the objective mid-run (use another --out)")
        model.load_state_dict(weights)
        opt.load_state_dict(state["opt"])
        step = state["step"]
        rng.setstate(state["rng"])
        gen.set_state(state["torch_rng"])
        print(f"resumed at step {step}", flush=True)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{n_params / 1e6:.2f}M parameters, {len(raw)} utterances, position rate {config.audio_position_rate}",
          flush=True)
    mean, std = stats["mel_mean"], stats["mel_std"]
    prep = lambda items: [(ids, to_patches(m, mean, std, floor, config.patch_size)) for ids, m in items]  # noqa: E731
    valid = prep(load_items(args.corpus / "eval_manifest.jsonl", args.valid_items))
    extra = {"inventory_version": INVENTORY_VERSION, "lexicon_file": lex_path.name, "corpus": str(args.corpus)}
    head_key = "energy" if args.head == "energy" else "diff"
    if args.head == "energy":  # how this model is meant to be sampled: the exporter's generation defaults
        extra["generation"] = {"flow_start": args.energy_t0, "steps": 1, "cfg": 1.0}

    def checkpoint():
        atomic_save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "rng": rng.getstate(),
                     "torch_rng": gen.get_state(), "stats": stats, "head": args.head}, state_path)
        atomic_save(export_payload(model, stats, {**extra, "step": step}), model_path)

    stop = StopOnSignal()  # SIGTERM / Ctrl-C: checkpoint at the end of the step, then exit
    t_start = last_ckpt = time.time()
    train_log = open(args.out / "train.jsonl", "a")
    valid_log = open(args.out / "valid.jsonl", "a")
    acc: dict[str, float] = {}
    n_acc, t_log = 0, time.time()
    done = False
    while not done:
        items = prep(load_items(args.corpus / "manifest.jsonl"))
        for batch_items in batches(items, args.max_tokens, rng):
            for group in opt.param_groups:
                group["lr"] = lr_at(step, args.lr, args.warmup, args.total_steps)
                if restart is not None:
                    group["lr"] *= min(1.0, (step - restart + 1) / 100)
            model.train()
            out = losses(model, make_batch(batch_items, config.audio_start_token), dit_fraction=args.dit_fraction,
                         audio_dropout=args.audio_dropout, cond_noise=args.cond_noise,
                         small_t_share=args.small_t_share, head=args.head, energy_t0=args.energy_t0, generator=gen)
            loss = out[head_key] + out["stop"] + args.prior_weight * out.get("prior", 0.0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            step += 1
            for k, v in {**out, "gnorm": gnorm}.items():
                acc[k] = acc.get(k, 0.0) + float(v.detach() if torch.is_tensor(v) else v)
            n_acc += 1
            if step % args.log_every == 0:
                row = {"step": step, "lr": lr_at(step, args.lr, args.warmup, args.total_steps),
                       "steps_per_s": n_acc / (time.time() - t_log), "minutes": (time.time() - t_start) / 60,
                       "utterances": len(items), **{k: v / n_acc for k, v in acc.items()}}
                train_log.write(json.dumps(row) + "\n")
                train_log.flush()
                print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
                      flush=True)
                acc, n_acc, t_log = {}, 0, time.time()
            if valid and step % args.valid_every == 0:
                model.eval()
                vgen = torch.Generator().manual_seed(1234)
                with torch.no_grad():
                    vs = [losses(model, make_batch(b, config.audio_start_token), cfg_dropout=0.0,
                                 head=args.head, energy_t0=args.energy_t0, generator=vgen)
                          for b in batches(valid, args.max_tokens, random.Random(0))]
                    # the same audio with another item's text: a model that reads the text does worse here
                    wrong = [(valid[(k + 1) % len(valid)][0], valid[k][1]) for k in range(len(valid))]
                    ws = [losses(model, make_batch(b, config.audio_start_token), cfg_dropout=0.0,
                                 head=args.head, energy_t0=args.energy_t0, generator=vgen)
                          for b in batches(wrong, args.max_tokens, random.Random(0))]
                row = {"step": step, **{k: float(np.mean([float(v[k]) for v in vs])) for k in vs[0]}}
                row[f"{head_key}_wrong_text"] = float(np.mean([float(v[head_key]) for v in ws]))
                row["text_gap"] = row[f"{head_key}_wrong_text"] / row[head_key] - 1  # ~0: the text is ignored
                if "prior" in row:
                    row["prior_text_gap"] = float(np.mean([float(v["prior"]) for v in ws])) / row["prior"] - 1
                valid_log.write(json.dumps(row) + "\n")
                valid_log.flush()
                print("valid", row, flush=True)
            elapsed = (time.time() - t_start) / 60
            done = bool(stop) or (args.max_steps is not None and step >= args.max_steps) or (
                args.max_minutes is not None and elapsed >= args.max_minutes)
            if done or time.time() - last_ckpt > args.ckpt_minutes * 60:
                checkpoint()
                last_ckpt = time.time()
            if done:
                break
    stop.restore()
    if stop:
        print(f"stopped by signal {stop.signum} at step {step}; checkpoint in {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
