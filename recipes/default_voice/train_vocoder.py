"""Train the default voice's vocoder: a small Vocos from the runtime log-mel (``vocos-24khz`` preset) to 24 kHz audio
of the teacher voice, on CPU, resumably.

    python -m recipes.default_voice.train_vocoder --max-minutes 130          # resumes if --out has a state
    python -m export codec --family vocos --checkpoint ~/.cache/voxlite/train/vocoder/generator --out bundle

Data: rows of ``<corpus>/manifest.jsonl`` with the chosen teacher and split "train" (re-read at every checkpoint, so
rows a running corpus build adds are used); random fixed-length segments, a random gain, and their log-mel through
the torch twin of the preset: the same features the acoustic model is trained to produce. Validation: mel L1 of
whole held-out utterances (``eval_manifest.jsonl``, never trained on).

Losses: 45 x mel L1 + multi-resolution STFT (spectral convergence + log magnitude) alone for ``--gan-start``
steps (cheap, and it gets the spectral envelope right), then also hinge adversarial losses and feature matching
from a multi-period and a multi-resolution discriminator (vocoder_losses.py), whose steps cost several times a
generator-only step. AdamW (0.8, 0.9) as Vocos, linear warm-up then cosine decay to a floor.

``--out`` holds ``state.pt`` (everything needed to resume: models, optimizers, schedulers, step, RNG states),
``generator/`` (config.yaml + pytorch_model.bin: the official Vocos layout ``python -m export codec`` loads), ``train.jsonl``
and ``val.jsonl``. Both are written atomically every ``--ckpt-minutes`` and when ``--max-minutes`` /
``--max-steps`` / SIGTERM / SIGINT stop the run.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
import types
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parents[2]

from recipes.default_voice.stop import StopOnSignal
from recipes.default_voice.vocoder_losses import (DiscriminatorConfig, MultiPeriodDiscriminator,
                                                  MultiResolutionDiscriminator, MultiResolutionSTFTLoss,
                                                  discriminator_loss, feature_matching_loss, generator_loss)
from voxlite.convert.vocos import save_official
from voxlite.dsp.mel import MEL_PRESETS
from voxlite.models.blocks.mel import MelSpectrogram
from voxlite.models.vocos import Vocos, VocosConfig

CORPUS = Path("~/.cache/voxlite/corpus").expanduser()
OUT = Path("~/.cache/voxlite/train/vocoder").expanduser()


# -- data ---------------------------------------------------------------------------------------------------
def read_manifest(path: Path, teacher: str | None, split: str) -> list[dict]:
    rows = []
    if path.exists():
        with open(path) as f:
            for line in f:
                if line.strip():
                    row = json.loads(line)
                    if row.get("split") == split and (teacher is None or row.get("teacher") == teacher):
                        rows.append(row)
    return rows


def read_wav(path: Path, sample_rate: int, start: int = 0, frames: int = -1) -> np.ndarray:
    wav, rate = sf.read(str(path), start=start, frames=frames, dtype="float32", always_2d=True)
    if rate != sample_rate:
        raise ValueError(f"{path}: {rate} Hz, expected {sample_rate}")
    return wav.mean(axis=1)


class SegmentSampler:
    """Random (B, segment) batches: an utterance drawn with probability by length (uniform over audio), a random
    start, zero padding for shorter ones, a random gain. Its RNG state is part of the checkpoint."""

    def __init__(self, rows: list[dict], root: Path, segment: int, sample_rate: int, seed: int,
                 gain_db: tuple[float, float] = (-6.0, 0.0)):
        self.root, self.segment, self.sample_rate, self.gain_db = root, segment, sample_rate, gain_db
        self.rng = np.random.default_rng(seed)
        self.set_rows(rows)

    def set_rows(self, rows: list[dict]) -> None:
        if not rows:
            raise SystemExit("no training rows: check --corpus / --teacher")
        self.rows = sorted(rows, key=lambda r: r["id"])  # manifest order must not matter
        lengths = np.array([max(int(r["num_samples"]), 1) for r in self.rows], dtype=np.float64)
        self.p = lengths / lengths.sum()

    def batch(self, batch_size: int) -> torch.Tensor:
        return self.batch_with_sources(batch_size)[0]

    def batch_with_sources(self, batch_size: int, hop: int = 1) -> tuple[torch.Tensor, list[tuple[dict, int, float]]]:
        """The batch and, per item, (row, start sample, gain). ``hop`` > 1: starts on whole hops, so the segment's
        frames are frames of the whole utterance's mel (for GTA input)."""
        out = np.zeros((batch_size, self.segment), dtype=np.float32)
        sources = []
        for b in range(batch_size):
            row = self.rows[self.rng.choice(len(self.rows), p=self.p)]
            n = int(row["num_samples"])
            start = hop * int(self.rng.integers(0, max(n - self.segment, 0) // hop + 1))
            wav = read_wav(self.root / row["path"], self.sample_rate, start, self.segment)
            gain = 10.0 ** (self.rng.uniform(*self.gain_db) / 20.0)
            out[b, :len(wav)] = wav * gain
            sources.append((row, start, gain))
        return torch.from_numpy(out), sources

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]


class FFTISTFT(torch.nn.Module):
    """Training twin of the head's conv-transpose iSTFT (padding "center"): torch.istft, ~4x cheaper here. Same
    output (tests/models/test_vocos_parity.py: center iSTFT == torch.istft); the exported model keeps the conv."""

    def __init__(self, n_fft: int, hop_length: int):
        super().__init__()
        self.n_fft, self.hop_length = n_fft, hop_length
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, real: torch.Tensor, imag: torch.Tensor) -> torch.Tensor:  # (B, F, T) -> (B, (T - 1) * hop)
        return torch.istft(torch.complex(real, imag), self.n_fft, self.hop_length, window=self.window, center=True)


def safe_spectrum(head, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """ISTFTHead.spectrum with the same forward but finite gradients: the runtime head's exp().clamp(max=100) has
    a 0 * inf = NaN gradient once a log-magnitude passes ~88 (exp overflows); clamping before exp does not."""
    log_mag, phase = head.out(x).transpose(1, 2).chunk(2, dim=1)
    mag = log_mag.clamp(max=math.log(1e2)).exp()
    return mag * torch.cos(phase), mag * torch.sin(phase)


def log_mel_for_loss(mel: MelSpectrogram, wav: torch.Tensor) -> torch.Tensor:
    """The preset's log-mel of generated audio, with finite gradients: sqrt(re^2 + im^2) has a 0 / 0 = NaN
    gradient where the generated spectrum is exactly 0 (exp underflow in the head: it learns digital silence).
    The tiny floor changes nothing above the log floor."""
    cfg = mel.cfg
    assert cfg.power == 1.0 and cfg.log == "ln", "written for magnitude, natural-log mels (the Vocos preset)"
    real, imag = mel.stft(wav)
    mag = (real.square() + imag.square() + cfg.mag_eps).clamp(min=1e-20).sqrt()  # (B, F, T)
    return torch.matmul(mel.fb, mag).clamp(min=cfg.log_floor).log()


class GTAMels:
    """The acoustic model's ground-truth-aligned mels (``gta_mels.py``): (n_mels, F) log-mel per utterance id, the
    frames of the real mel of the same audio."""

    def __init__(self, directory: Path, floor: float):
        self.dir, self.floor = directory, floor
        if not (directory / "gta.json").is_file():
            raise SystemExit(f"{directory}: no gta.json; run python -m recipes.default_voice.gta_mels first")

    def has(self, row: dict) -> bool:
        return (self.dir / f"{row['id']}.npz").is_file()

    def utterance(self, row: dict) -> np.ndarray:
        with np.load(self.dir / f"{row['id']}.npz") as z:
            return z["mel"].astype(np.float32)

    def segment(self, row: dict, start_frame: int, frames: int, gain: float) -> np.ndarray:
        """Frames [start, start + frames) of the utterance's GTA mel (log floor past its end), as the real mel of
        the audio scaled by ``gain`` (log-magnitude mel: + ln gain)."""
        mel = self.utterance(row)[:, start_frame:start_frame + frames]
        mel = np.pad(mel, ((0, 0), (0, frames - mel.shape[1])), constant_values=self.floor)
        return np.maximum(mel + np.log(gain), self.floor)


# -- schedule -----------------------------------------------------------------------------------------------
def lr_factor(step: int, warmup: int, decay_steps: int, floor: float) -> float:
    """Linear warm-up, cosine decay from 1 to ``floor`` at ``decay_steps``, then ``floor``."""
    if step < warmup:
        return (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, decay_steps - warmup))
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * t))


# -- trainer ------------------------------------------------------------------------------------------------
class Trainer:
    def __init__(self, args: argparse.Namespace, saved: dict | None = None):
        self.args = args
        if saved is not None:  # the model sizes are the checkpoint's, whatever the command line says
            self.cfg = VocosConfig.from_dict(saved["config"])
            self.dcfg = DiscriminatorConfig.from_dict(saved["disc_config"])
        else:
            mel = MEL_PRESETS[args.mel] if args.mel != "tiny" else VocosConfig.tiny().mel
            n_fft = args.n_fft or mel.n_fft
            self.cfg = VocosConfig(n_mels=mel.n_mels, dim=args.dim, intermediate_dim=args.intermediate_dim,
                                   num_layers=args.layers, n_fft=n_fft, hop_length=mel.hop_length,
                                   padding="center", sample_rate=mel.sample_rate, mel=mel)
            self.dcfg = DiscriminatorConfig(mpd_channels=tuple(args.mpd_channels), mrd_channels=args.mrd_channels,
                                            mrd_windows=tuple(args.mrd_windows))
        torch.manual_seed(args.seed)
        self.gen = Vocos(self.cfg)
        self.gen.head.istft = FFTISTFT(self.cfg.n_fft, self.cfg.hop_length)  # buffers only: state dict unchanged
        self.gen.head.spectrum = types.MethodType(safe_spectrum, self.gen.head)
        self.mpd = MultiPeriodDiscriminator(self.dcfg)
        self.mrd = MultiResolutionDiscriminator(self.dcfg)
        self.mel = MelSpectrogram(self.cfg.mel, use_fft=True)  # the mel loss' (float32, differentiable)
        # The input: the preset's log-mel exactly as voxlite.dsp.mel.log_mel_spectrogram computes it (float64).
        # In float32, near-silent frames (mel energy ~1e-7, next to the log floor) differ by up to ~2 in log units.
        self.mel_in = MelSpectrogram(self.cfg.mel, use_fft=True).double()
        res = [(w, w // 4) for w in args.stft_resolutions]
        self.stft_loss = MultiResolutionSTFTLoss(res)
        self.opt_g = torch.optim.AdamW(self.gen.parameters(), lr=args.lr, betas=(0.8, 0.9), weight_decay=0.01)
        disc_params = [*self.mpd.parameters(), *self.mrd.parameters()]
        self.opt_d = torch.optim.AdamW(disc_params, lr=args.lr, betas=(0.8, 0.9), weight_decay=0.01)
        a = args
        self.sched_g = torch.optim.lr_scheduler.LambdaLR(
            self.opt_g, lambda s: lr_factor(s, a.warmup, a.decay_steps, a.lr_floor))
        self.sched_d = torch.optim.lr_scheduler.LambdaLR(  # D starts at gan_start, on the same decay clock
            self.opt_d, lambda s: min(lr_factor(s, a.d_warmup, a.decay_steps, 1.0),
                                      lr_factor(s + a.gan_start, a.warmup, a.decay_steps, a.lr_floor)))
        self.step = 0
        self.bad_steps = 0
        self.sampler = SegmentSampler(self._train_rows(), args.corpus, args.segment_frames * self.cfg.hop_length,
                                      self.cfg.sample_rate, args.seed)
        self.autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if args.bf16 else nullcontext
        self.gta = GTAMels(args.gta, math.log(self.cfg.mel.log_floor)) if args.gta else None
        if saved is not None:
            self.load_state_dict(saved)
        elif args.init is not None:
            self.init_from(args.init)

    def init_from(self, path: Path) -> None:
        """Fine-tuning start: a trainer's state.pt (generator and discriminators) or an official-layout generator
        directory (the generator; its discriminators too when ``discriminators.pt`` lies beside it, as
        ``checkpoints.py pack`` writes them, else fresh ones). Optimizers, schedules and the step start afresh."""
        from voxlite.convert.vocos import load_official_dir

        if path.is_dir():
            try:
                self.gen.load_state_dict(load_official_dir(path).state_dict())
            except RuntimeError as e:
                raise SystemExit(f"{path}: another generator size than this run's ({e})") from None
            if (path / "discriminators.pt").is_file():
                try:
                    d = torch.load(path / "discriminators.pt", map_location="cpu", weights_only=True)
                    self.mpd.load_state_dict({k: v.float() for k, v in d["mpd"].items()})
                    self.mrd.load_state_dict({k: v.float() for k, v in d["mrd"].items()})
                except (RuntimeError, EOFError, KeyError, OSError) as e:
                    raise SystemExit(f"{path / 'discriminators.pt'} does not fit this run's discriminators (sizes "
                                     f"or file): {e}") from None
            return
        s = torch.load(path, map_location="cpu", weights_only=False)
        if VocosConfig.from_dict(s["config"]) != self.cfg:
            raise SystemExit(f"{path}: another generator size than this run's")
        self.gen.load_state_dict(s["generator"])
        self.mpd.load_state_dict(s["mpd"])
        self.mrd.load_state_dict(s["mrd"])

    def batch(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(audio, vocoder input or None): with ``--gta``, a ``--gta-share`` of the items read the acoustic model's
        mel of their segment instead of the real one."""
        if self.gta is None:
            return self.sampler.batch(batch_size), None
        hop = self.cfg.hop_length
        wav, sources = self.sampler.batch_with_sources(batch_size, hop)
        mel = self.features(wav)  # (B, n_mels, frames + 1)
        for b, (row, start, gain) in enumerate(sources):
            if self.sampler.rng.random() < self.args.gta_share and self.gta.has(row):
                mel[b] = torch.from_numpy(self.gta.segment(row, start // hop, mel.shape[-1], gain))
        return wav, mel

    def _train_rows(self) -> list[dict]:
        rows = read_manifest(self.args.corpus / "manifest.jsonl", self.args.teacher, "train")
        held_out = {r.get("sentence_id") for r in read_manifest(self.args.corpus / "eval_manifest.jsonl", None, "eval")}
        return [r for r in rows if r.get("sentence_id") not in held_out]  # belt and braces: eval never trains

    @torch.no_grad()
    def features(self, wav: torch.Tensor) -> torch.Tensor:  # (B, N) -> (B, n_mels, T) float32
        return self.mel_in(wav.double()).float()

    def refresh_rows(self) -> int:
        self.sampler.set_rows(self._train_rows())
        return len(self.sampler.rows)

    # -- one optimizer step ---------------------------------------------------------------------------------
    def train_step(self, wav: torch.Tensor, mel_in: torch.Tensor | None = None) -> dict[str, float]:
        """One step on ``wav``; ``mel_in``: the vocoder's input when it is not the real mel (GTA)."""
        a = self.args
        gan = self.step >= a.gan_start
        with torch.no_grad():
            mel = self.features(wav)  # (B, n_mels, T): the mel loss' target (and the input without mel_in)
            y_mags = self.stft_loss.target_magnitudes(wav)
        with self.autocast():
            y_hat = self.gen(mel if mel_in is None else mel_in)  # (B, N)
        y_hat = y_hat.float()
        logs = {}
        if gan:
            self.mpd.requires_grad_(True)
            self.mrd.requires_grad_(True)
            with self.autocast():
                fake = y_hat.detach()
                loss_mp = discriminator_loss(self.mpd(wav)[0], self.mpd(fake)[0])
                loss_mr = discriminator_loss(self.mrd(wav)[0], self.mrd(fake)[0])
            loss_d = loss_mp + a.mrd_weight * loss_mr
            self.opt_d.zero_grad(set_to_none=True)
            if torch.isfinite(loss_d):
                loss_d.backward()
                dnorm = torch.nn.utils.clip_grad_norm_(self.opt_d.param_groups[0]["params"], a.clip)
                if torch.isfinite(dnorm):
                    self.opt_d.step()
                else:
                    self.bad_steps += 1
            else:
                self.bad_steps += 1
            self.sched_d.step()
            logs.update(d_mp=loss_mp.item(), d_mr=loss_mr.item())

        mel_hat = log_mel_for_loss(self.mel, y_hat)
        loss_mel = (mel_hat - mel).abs().mean()
        sc, mag = self.stft_loss(y_hat, wav, y_mags)
        loss = a.mel_weight * loss_mel + a.stft_weight * (sc + mag)
        logs.update(mel=loss_mel.item(), sc=sc.item(), mag=mag.item())
        if gan:
            self.mpd.requires_grad_(False)  # the generator step needs gradients w.r.t. the audio only
            self.mrd.requires_grad_(False)
            with self.autocast():
                with torch.no_grad():
                    fm_real_mp, fm_real_mr = self.mpd(wav)[1], self.mrd(wav)[1]
                out_mp, fm_mp = self.mpd(y_hat)
                out_mr, fm_mr = self.mrd(y_hat)
                adv_mp, adv_mr = generator_loss(out_mp), generator_loss(out_mr)
                fmp, fmr = feature_matching_loss(fm_real_mp, fm_mp), feature_matching_loss(fm_real_mr, fm_mr)
            loss = loss + adv_mp + a.mrd_weight * adv_mr + a.fm_weight * (fmp + a.mrd_weight * fmr)
            logs.update(g_mp=adv_mp.item(), g_mr=adv_mr.item(), fm_mp=fmp.item(), fm_mr=fmr.item())
        self.opt_g.zero_grad(set_to_none=True)
        if torch.isfinite(loss):
            loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(self.gen.parameters(), a.clip)
            if torch.isfinite(gnorm):  # a non-finite step would poison every weight: skip it, count it
                logs["gnorm"] = gnorm.item()
                self.opt_g.step()
            else:
                self.bad_steps += 1
        else:
            self.bad_steps += 1
        self.sched_g.step()
        self.step += 1
        logs["loss"] = loss.item()
        return logs

    def finite(self) -> bool:
        return all(torch.isfinite(p).all() for m in (self.gen, self.mpd, self.mrd) for p in m.parameters())

    # -- validation -----------------------------------------------------------------------------------------
    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        rows = sorted(read_manifest(self.args.corpus / "eval_manifest.jsonl", self.args.teacher, "eval"),
                      key=lambda r: r["id"])[:self.args.val_count]
        if not rows:
            return {}
        self.gen.eval()
        hop, total, frames, mags = self.cfg.hop_length, 0.0, 0, 0.0
        for row in rows:
            wav = read_wav(self.args.corpus / row["path"], self.cfg.sample_rate)
            wav = np.pad(wav, (0, -len(wav) % hop))  # whole frames, as the runtime's codec pipeline
            x = torch.from_numpy(wav)[None]
            mel = self.features(x)
            if self.gta is not None and self.gta.has(row):  # validate on what the vocoder will be given
                gta = self.gta.utterance(row)[:, :mel.shape[-1]]
                mel_in = torch.from_numpy(np.pad(gta, ((0, 0), (0, mel.shape[-1] - gta.shape[1])),
                                                 constant_values=self.gta.floor))[None]
            else:
                mel_in = mel
            y_hat = self.gen(mel_in)
            mel_hat = self.mel(y_hat)
            total += (mel_hat - mel).abs().sum().item() / mel.shape[1]
            frames += mel.shape[-1]
            mags += self.stft_loss(y_hat, x)[1].item()
        self.gen.train()
        return {"val_mel_l1": total / frames, "val_stft_mag": mags / len(rows), "val_utts": len(rows)}

    # -- state ----------------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"step": self.step, "bad_steps": self.bad_steps, "config": self.cfg.to_dict(),
                "disc_config": self.dcfg.to_dict(), "generator": self.gen.state_dict(),
                "mpd": self.mpd.state_dict(), "mrd": self.mrd.state_dict(), "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(), "sched_g": self.sched_g.state_dict(),
                "sched_d": self.sched_d.state_dict(), "sampler": self.sampler.state_dict(),
                "torch_rng": torch.get_rng_state(), "py_rng": random.getstate(),
                "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(self.args).items()}}

    def load_state_dict(self, s: dict) -> None:
        self.step, self.bad_steps = s["step"], s["bad_steps"]
        self.gen.load_state_dict(s["generator"])
        self.mpd.load_state_dict(s["mpd"])
        self.mrd.load_state_dict(s["mrd"])
        self.opt_g.load_state_dict(s["opt_g"])
        self.opt_d.load_state_dict(s["opt_d"])
        self.sched_g.load_state_dict(s["sched_g"])
        self.sched_d.load_state_dict(s["sched_d"])
        self.sampler.load_state_dict(s["sampler"])
        torch.set_rng_state(s["torch_rng"])
        random.setstate(s["py_rng"])

    def save(self, out: Path) -> None:
        if not self.finite():  # never overwrite a good checkpoint with a poisoned one
            raise SystemExit(f"non-finite weights at step {self.step}; {out / 'state.pt'} left as it was")
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / ".state.pt.tmp"
        torch.save(self.state_dict(), tmp)
        os.replace(tmp, out / "state.pt")
        save_official(self.gen, out / "generator")


def load_saved(out: Path) -> dict | None:
    path = out / "state.pt"
    if not path.exists():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)  # our own file: optimizer + RNG states


def append_jsonl(path: Path, row: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, default=CORPUS)
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--teacher", default="piper")
    p.add_argument("--mel", default="vocos-24khz", help="MEL_PRESETS name ('tiny': tests)")
    # generator (ignored on resume: the checkpoint's sizes win)
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--intermediate-dim", type=int, default=1152)
    p.add_argument("--layers", type=int, default=8)
    p.add_argument("--n-fft", type=int, default=0, help="iSTFT size (0: the mel's n_fft)")
    # discriminators
    p.add_argument("--mpd-channels", type=int, nargs="+", default=[16, 32, 64, 128, 128])
    p.add_argument("--mrd-channels", type=int, default=8)
    p.add_argument("--mrd-windows", type=int, nargs="+", default=[2048, 1024, 512])
    # optimisation
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--segment-frames", type=int, default=64, help="segment length in hops (64 x 256 = 0.68 s)")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--decay-steps", type=int, default=12000, help="cosine decay to --lr-floor x lr at this step")
    p.add_argument("--lr-floor", type=float, default=0.1)
    p.add_argument("--d-warmup", type=int, default=50, help="discriminator warm-up steps after --gan-start")
    p.add_argument("--gan-start", type=int, default=3000, help="generator-only steps before the discriminators")
    p.add_argument("--mel-weight", type=float, default=45.0)
    p.add_argument("--stft-weight", type=float, default=2.5)
    p.add_argument("--stft-resolutions", type=int, nargs="+", default=[512, 1024, 2048])
    p.add_argument("--mrd-weight", type=float, default=0.1, help="MRD's share of adversarial + FM losses (Vocos)")
    p.add_argument("--fm-weight", type=float, default=1.0)
    p.add_argument("--clip", type=float, default=1000.0, help="generator gradient-norm clip (a guard, not a knob)")
    p.add_argument("--gta", type=Path, default=None,
                   help="fine-tune on the acoustic model's ground-truth-aligned mels (gta_mels.py's --out)")
    p.add_argument("--gta-share", type=float, default=0.8, help="with --gta: share of items with GTA input")
    p.add_argument("--init", type=Path, default=None,
                   help="new run: start from a trainer state.pt (generator + discriminators) or a generator dir")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (pays off only with avx512_bf16 / AMX)")
    p.add_argument("--seed", type=int, default=0)
    # run control
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-steps", type=int, default=0, help="stop after this global step (0: no limit)")
    p.add_argument("--max-minutes", type=float, default=0.0, help="stop after this many minutes of this process")
    p.add_argument("--ckpt-minutes", type=float, default=5.0)
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--val-every", type=int, default=500)
    p.add_argument("--val-count", type=int, default=20)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    args.corpus, args.out = args.corpus.expanduser(), args.out.expanduser()
    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set in this process (tests)
        pass
    saved = load_saved(args.out)
    trainer = Trainer(args, saved)
    t = trainer
    n_g = sum(p.numel() for p in t.gen.parameters())
    n_d = sum(p.numel() for p in [*t.mpd.parameters(), *t.mrd.parameters()])
    print(f"{'resumed at step ' + str(t.step) if saved else 'new run'}: generator {n_g / 1e6:.2f} M params "
          f"(dim {t.cfg.dim}, {t.cfg.intermediate_dim}, {t.cfg.num_layers} layers), discriminators "
          f"{n_d / 1e6:.2f} M; {len(t.sampler.rows)} train rows; threads {torch.get_num_threads()}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)

    stop = StopOnSignal()

    start = last_ckpt = time.time()
    window, window_t, window_steps = {}, time.time(), 0
    reason = None
    while True:
        if args.max_steps and t.step >= args.max_steps:
            reason = "max-steps"
        elif args.max_minutes and time.time() - start >= args.max_minutes * 60:
            reason = "max-minutes"
        elif stop:
            reason = f"signal {stop.signum}"
        if reason:
            break
        logs = t.train_step(*t.batch(args.batch_size))
        for k, v in logs.items():
            window[k] = window.get(k, 0.0) + v
        window_steps += 1
        if t.step % args.log_every == 0:
            dt = time.time() - window_t
            row = {"step": t.step, "time": round(time.time() - start, 1), "steps_per_s": window_steps / dt,
                   "lr": t.sched_g.get_last_lr()[0], **{k: v / window_steps for k, v in window.items()},
                   "bad_steps": t.bad_steps}
            append_jsonl(args.out / "train.jsonl", row)
            print(" ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()),
                  flush=True)
            window, window_t, window_steps = {}, time.time(), 0
            if not t.finite():  # guarded steps should prevent it; if not, go back to the last checkpoint
                saved = load_saved(args.out)
                if saved is None:
                    raise SystemExit(f"non-finite weights at step {t.step} and no checkpoint to go back to")
                print(f"non-finite weights at step {t.step}: back to the checkpoint of step {saved['step']}",
                      flush=True)
                t.load_state_dict(saved)
                t.sampler.rng = np.random.default_rng([args.seed, t.step, t.bad_steps])  # not the same batches
                t.bad_steps += 1
                continue
        if args.val_every and t.step % args.val_every == 0:
            v = t.validate()
            if v:
                append_jsonl(args.out / "val.jsonl", {"step": t.step, **v})
                print(f"val step {t.step}: " + " ".join(f"{k} {x:.4g}" for k, x in v.items()), flush=True)
        if time.time() - last_ckpt >= args.ckpt_minutes * 60:
            t.save(args.out)
            last_ckpt = time.time()
            rows = t.refresh_rows()
            print(f"checkpoint at step {t.step} ({rows} train rows)", flush=True)
    t.save(args.out)
    stop.restore()
    print(f"stopped ({reason}) at step {t.step}; checkpoint in {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
