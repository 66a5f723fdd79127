"""Codec family (``model_type: "codec"``): waveform <-> codes (RVQ: SoundStream / EnCodec / DAC), latents
(WaveVAE) or log-mel frames (vocoders: Vocos, HiFi-GAN, BigVGAN behind the shared mel front end), with RVQ done
by the native kernel and a streaming decoder for causal codecs.

Bundle contract (written by ``export/codec.py``):
- graphs ``encoder`` (``audio`` (B, C, S), S a multiple of the hop -> ``latents`` (B, D, S / hop)), ``decoder``
  (``latents`` -> ``audio``), and for causal codecs ``decoder_stream`` (``latents`` chunk + ``state_*`` ->
  ``audio`` chunk + ``new_state_*``) with, when the initial state depends on the stream's start (reflect
  padding), ``decoder_stream_init`` (first ``latents`` chunk -> ``state_*``).
- tensors (RVQ): ``codebooks`` (n_q, K, D) in latent space (decode); ``search_codebooks`` (n_q, K, Dc) and, for
  factorized codes, ``in_proj_weight`` (n_q, Dc, D) / ``in_proj_bias`` (n_q, Dc) (encode).
- hparams: ``kind`` ("rvq" | "vae" | "mel"), ``hop_length``, ``latent_dim``, ``channels``, ``decoder_min_frames``; RVQ:
  ``n_q``, ``codebook_size``, ``normalize``; streaming: ``stream_states`` [{name, shape (batch dim "batch")}],
  ``stream_min_first_frames``, ``stream_init`` ("zeros" | "graph").
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from ..audio import Audio, resample
from ..errors import BundleError, InvalidInput
from .graph import GraphModel

MAX_SECONDS = 3600.0


class CodecModel(GraphModel):
    def __init__(self, bundle, **kwargs):
        super().__init__(bundle, **kwargs)
        hp = bundle.hparams
        self.kind = hp.get("kind")
        if self.kind not in ("rvq", "vae", "mel"):
            raise BundleError(f"codec bundle hparams.kind must be 'rvq', 'vae' or 'mel', got {self.kind!r}")
        try:
            self.hop_length = int(hp["hop_length"])
            self.latent_dim = int(hp["latent_dim"])
            self.channels = int(hp.get("channels", 1))
            self.min_frames = int(hp.get("decoder_min_frames", 1))
        except (KeyError, TypeError, ValueError):
            raise BundleError("codec bundle hparams need integer hop_length, latent_dim, channels") from None
        if bundle.sample_rate is None:
            raise BundleError("codec bundle has no sample_rate")
        self.sample_rate = bundle.sample_rate
        if self.kind == "rvq":
            self.codebooks = np.ascontiguousarray(bundle.tensor("codebooks"), dtype=np.float32)
            self.n_q, self.codebook_size, dim = self.codebooks.shape
            if dim != self.latent_dim:
                raise BundleError(f"codebooks are {dim}-d, hparams.latent_dim is {self.latent_dim}")
            self.normalize = bool(hp.get("normalize", False))

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    # -- audio -> codes / latents ---------------------------------------------------------------------
    def _audio_array(self, audio: Audio | np.ndarray, sample_rate: int | None) -> np.ndarray:
        if isinstance(audio, Audio):
            samples, rate = audio.samples, audio.sample_rate
        else:
            if sample_rate is None:
                raise InvalidInput("pass sample_rate with a raw sample array")
            samples, rate = np.asarray(audio), sample_rate
        if samples.ndim != 1:
            raise InvalidInput(f"expected mono samples (N,), got shape {samples.shape}")
        if samples.size == 0:
            raise InvalidInput("audio is empty")
        if samples.size > MAX_SECONDS * rate:
            raise InvalidInput(f"audio longer than {MAX_SECONDS:.0f} s; split it")
        if not np.isfinite(samples).all():
            raise InvalidInput("audio contains NaN or infinite samples")
        return resample(samples.astype(np.float32), rate, self.sample_rate)

    def encode_latents(self, audio: Audio | np.ndarray, sample_rate: int | None = None) -> np.ndarray:
        """Audio -> continuous latents (1, D, T) before quantization."""
        x = self._audio_array(audio, sample_rate)
        # whole frames, and at least the decoder's minimum (zero padding at the end, as DAC/VoxCPM preprocess)
        frames = max(-(-len(x) // self.hop_length), self.min_frames)
        x = np.pad(x, (0, frames * self.hop_length - len(x)))
        x = np.repeat(x[None, None, :], self.channels, axis=1)  # mono source for multi-channel codecs
        return self.run("encoder", audio=np.ascontiguousarray(x))["latents"]

    def encode(self, audio: Audio | np.ndarray, sample_rate: int | None = None, *, n_q: int | None = None) -> np.ndarray:
        """Audio -> codes (1, n_q, T) int64 (RVQ), or latents / log-mel frames (1, D, T)."""
        latents = self.encode_latents(audio, sample_rate)
        if self.kind != "rvq":
            return latents
        from ..kernels import rvq

        b = self.bundle
        in_w = b.tensor("in_proj_weight") if "in_proj_weight" in b.manifest.tensors else None
        in_b = b.tensor("in_proj_bias") if "in_proj_bias" in b.manifest.tensors else None
        search = b.tensor("search_codebooks") if "search_codebooks" in b.manifest.tensors else self.codebooks
        if n_q is not None and not 1 <= n_q <= self.n_q:
            raise InvalidInput(f"n_q must be in 1..{self.n_q}, got {n_q}")
        return rvq.rvq_encode(latents, search, n_stages=n_q or self.n_q, in_proj=in_w, in_bias=in_b,
                              normalize=self.normalize, out_codebooks=self.codebooks)

    # -- codes / latents -> audio ---------------------------------------------------------------------
    def latents_from_codes(self, codes: np.ndarray, n_q: int | None = None) -> np.ndarray:
        from ..kernels import rvq

        codes = np.asarray(codes)
        if codes.ndim != 3:
            raise InvalidInput(f"codes must be (B, n_q, T), got shape {codes.shape}")
        if codes.shape[1] > self.n_q or codes.shape[1] == 0:
            raise InvalidInput(f"codes have {codes.shape[1]} stages, the codec has {self.n_q}")
        if not np.issubdtype(codes.dtype, np.integer):
            raise InvalidInput(f"codes must be integers, got {codes.dtype}")
        if n_q is not None and not 1 <= n_q <= codes.shape[1]:
            raise InvalidInput(f"n_q must be in 1..{codes.shape[1]}, got {n_q}")
        try:
            return rvq.rvq_decode(codes.astype(np.int64, copy=False), self.codebooks, n_stages=n_q or codes.shape[1])
        except ValueError as e:  # e.g. a code outside the codebook: the kernel names the position
            raise InvalidInput(f"invalid codes: {e}") from None

    def _latents(self, codes_or_latents: np.ndarray, n_q: int | None) -> np.ndarray:
        x = np.asarray(codes_or_latents)
        if self.kind == "rvq":
            return self.latents_from_codes(x, n_q)
        if x.ndim != 3 or x.shape[1] != self.latent_dim:
            raise InvalidInput(f"latents must be (B, {self.latent_dim}, T), got shape {x.shape}")
        if not np.isfinite(x).all():
            raise InvalidInput("latents contain NaN or infinite values")
        return np.ascontiguousarray(x, dtype=np.float32)

    def _check_length(self, latents: np.ndarray) -> None:
        if latents.shape[-1] < self.min_frames:
            raise InvalidInput(f"{latents.shape[-1]} frames is shorter than this codec's minimum of "
                               f"{self.min_frames} ({self.min_frames / self.frame_rate * 1000:.0f} ms)")

    def decode(self, codes_or_latents: np.ndarray, *, n_q: int | None = None) -> Audio:
        """Codes (RVQ) or latents (VAE) of one item -> Audio."""
        latents = self._latents(codes_or_latents, n_q)
        if latents.shape[0] != 1:
            raise InvalidInput("decode takes one item (batch 1); loop over a batch")
        self._check_length(latents)
        audio = self.run("decoder", latents=latents)["audio"]
        return Audio(np.ascontiguousarray(audio[0].mean(axis=0)), self.sample_rate)

    @property
    def streams(self) -> bool:
        return "decoder_stream" in self.bundle.manifest.graphs

    def decode_stream(self, codes_or_latents: np.ndarray, *, chunk_frames: int = 4,
                      n_q: int | None = None) -> Iterator[np.ndarray]:
        """Yield audio chunks (chunk_frames * hop samples each) as soon as each is decoded."""
        if not self.streams:
            raise InvalidInput(f"bundle {self.bundle.name!r} has no streaming decoder (non-causal codec)")
        if isinstance(chunk_frames, bool) or not isinstance(chunk_frames, int) or chunk_frames < 1:
            raise InvalidInput(f"chunk_frames must be a positive integer, got {chunk_frames!r}")
        latents = self._latents(codes_or_latents, n_q)
        if latents.shape[0] != 1:
            raise InvalidInput("decode_stream takes one item (batch 1)")
        self._check_length(latents)
        hp = self.bundle.hparams
        first = max(chunk_frames, int(hp.get("stream_min_first_frames", 1)))
        if hp.get("stream_init", "zeros") == "graph":
            init = self.session("decoder_stream_init").run({"latents": np.ascontiguousarray(latents[..., :first])})
            states = {s["name"]: init[s["name"]] for s in hp["stream_states"]}
        else:
            states = {s["name"]: np.zeros([1 if d == "batch" else d for d in s["shape"]], np.float32)
                      for s in hp.get("stream_states", [])}
        session = self.session("decoder_stream")
        total = latents.shape[-1]
        start, size = 0, first
        while start < total:
            chunk = np.ascontiguousarray(latents[..., start:start + size])
            out = session.run({"latents": chunk, **states})
            states = {name: out[f"new_{name}"] for name in states}
            yield out["audio"][0].mean(axis=0)
            start += size
            size = chunk_frames
