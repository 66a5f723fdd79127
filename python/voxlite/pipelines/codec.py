"""Codec components (kind ``codec``) and the codec family (``model_type: "codec"``): waveform <-> codes (RVQ:
SoundStream / EnCodec / DAC), latents (WaveVAE) or log-mel frames (vocoders: Vocos, HiFi-GAN, BigVGAN behind the
shared mel front end), with RVQ done by the native kernel and streaming decoders.

A ``Codec`` is one component of a bundle: a codec bundle's only one, and the audio part of a speech model's bundle
(VoxCPM's AudioVAE, a vocoder) alike; ``voxlite codec`` and the language-model families use the same object.

Component contract (written by ``export.codec``; hparams: ``voxlite.hparams.CodecHParams``):
- graphs ``encoder`` (``audio`` (B, C, S), S a multiple of the hop -> ``latents`` (B, D, S / hop)), ``decoder``
  (``latents`` -> ``audio``), and for causal codecs ``decoder_stream`` (``latents`` chunk + ``state_*`` ->
  ``audio`` chunk + ``new_state_*``) with, when the initial state depends on the stream's start (reflect
  padding), ``decoder_stream_init`` (first ``latents`` chunk -> ``state_*``). Non-causal decoders with a
  ``window`` stream in overlapping windows: the same samples as the offline decode, to float rounding, when the
  window covers the decoder's receptive field and the decoder is local (dynamic int8 activation scales are not:
  see ``streaming.WindowedStreamDecoder``). Non-causal decoders with a bottleneck LSTM (``lstm_stream``: UniAudio's
  SoundStream) are split at it: ``decoder_pre_lstm`` (``latents`` with the first conv's context + the LSTM's
  ``state``s -> ``hidden`` + ``new_`` states) and ``decoder_post`` (``hidden`` -> ``audio``), streamed exactly by
  ``streaming.LSTMSplitStreamDecoder``.
- tensors (RVQ): ``codebooks`` (n_q, K, D) in latent space (decode); ``search_codebooks`` (n_q, K, Dc) and, for
  factorized codes, ``in_proj_weight`` (n_q, Dc, D) / ``in_proj_bias`` (n_q, Dc) (encode).
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from ..audio import Audio, input_samples, resample
from ..errors import BundleError, InvalidInput
from ..hparams import CodecHParams
from .graph import GraphModel
from .sessions import GraphSessions
from .streaming import LSTMSplitStreamDecoder, StatefulStreamDecoder, WindowedStreamDecoder

LSTM_STREAM_GRAPHS = ("decoder_pre_lstm", "decoder_post")

MAX_SECONDS = 3600.0


class Codec:
    """One codec component of a bundle, run through the model's sessions."""

    def __init__(self, sessions: GraphSessions, component: str = "codec"):
        bundle = sessions.bundle
        spec = bundle.component(component)
        if spec.kind != "codec":
            raise BundleError(f"component {component!r} of bundle {bundle.name!r} is a {spec.kind!r}, not a codec")
        self.sessions, self.component = sessions, component
        self.hparams = hp = CodecHParams.from_json(spec.hparams, f"bundle {bundle.name!r}: components.{component}.hparams")
        if bundle.sample_rate is None:
            raise BundleError(f"bundle {bundle.name!r} has a codec but no sample_rate")
        self.sample_rate = bundle.sample_rate
        self.kind, self.hop_length, self.latent_dim = hp.kind, hp.hop_length, hp.latent_dim
        self.channels, self.min_frames = hp.channels, hp.decoder_min_frames
        self.streams = "decoder_stream" in spec.graphs or hp.window is not None or hp.lstm_stream is not None
        missing = [g for g in LSTM_STREAM_GRAPHS if g not in spec.graphs]
        if hp.lstm_stream is not None and missing:
            raise BundleError(f"bundle {bundle.name!r}: codec hparams declare lstm_stream but it has no graph "
                              f"{', '.join(missing)}")
        if "decoder_stream" in spec.graphs and hp.stream_init == "graph" and "decoder_stream_init" not in spec.graphs:
            raise BundleError(f"bundle {bundle.name!r}: codec stream_init is 'graph' but it has no decoder_stream_init")
        if hp.kind == "rvq":
            self.codebooks = np.ascontiguousarray(bundle.tensor("codebooks", component), dtype=np.float32)
            self.n_q, self.codebook_size, dim = self.codebooks.shape
            if dim != self.latent_dim:
                raise BundleError(f"codebooks are {dim}-d, hparams.latent_dim is {self.latent_dim}")
            self.normalize = hp.normalize

    def graph(self, name: str) -> str:
        return f"{self.component}/{name}"

    def run(self, graph: str, **feeds: np.ndarray) -> dict[str, np.ndarray]:
        return self.sessions.get(self.graph(graph)).run(feeds)

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    # -- audio -> codes / latents ---------------------------------------------------------------------
    def latents_of(self, samples: np.ndarray) -> np.ndarray:
        """Samples at the codec's rate, a whole number of hops long -> latents (1, D, T)."""
        x = np.repeat(np.asarray(samples, np.float32)[None, None, :], self.channels, axis=1)  # mono source
        return self.run("encoder", audio=np.ascontiguousarray(x))["latents"]

    def encode_latents(self, audio: Audio | np.ndarray, sample_rate: int | None = None) -> np.ndarray:
        """Audio -> continuous latents (1, D, T) before quantization."""
        samples, rate = input_samples(audio, sample_rate, max_seconds=MAX_SECONDS)
        x = resample(samples, rate, self.sample_rate)
        # whole frames, and at least the decoder's minimum (zero padding at the end, as DAC/VoxCPM preprocess)
        frames = max(-(-len(x) // self.hop_length), self.min_frames)
        return self.latents_of(np.pad(x, (0, frames * self.hop_length - len(x))))

    def encode(self, audio: Audio | np.ndarray, sample_rate: int | None = None, *, n_q: int | None = None) -> np.ndarray:
        """Audio -> codes (1, n_q, T) int64 (RVQ), or latents / log-mel frames (1, D, T)."""
        if self.kind == "rvq" and n_q is not None and (isinstance(n_q, bool) or not isinstance(n_q, (int, np.integer))
                                                       or not 1 <= n_q <= self.n_q):
            raise InvalidInput(f"n_q must be in 1..{self.n_q}, got {n_q!r}")
        latents = self.encode_latents(audio, sample_rate)
        if self.kind != "rvq":
            return latents
        from ..kernels import rvq

        b, c = self.sessions.bundle, self.component
        in_w = b.tensor("in_proj_weight", c) if b.has_tensor("in_proj_weight", c) else None
        in_b = b.tensor("in_proj_bias", c) if b.has_tensor("in_proj_bias", c) else None
        search = b.tensor("search_codebooks", c) if b.has_tensor("search_codebooks", c) else self.codebooks
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
        if not np.issubdtype(x.dtype, np.number) or not np.isfinite(x).all():
            raise InvalidInput("latents contain NaN or infinite values")
        return np.ascontiguousarray(x, dtype=np.float32)

    def _one_item(self, codes_or_latents, n_q, what: str) -> np.ndarray:
        latents = self._latents(codes_or_latents, n_q)
        if latents.shape[0] != 1:
            raise InvalidInput(f"{what} takes one item (batch 1); loop over a batch")
        if latents.shape[-1] < self.min_frames:
            raise InvalidInput(f"{latents.shape[-1]} frames is shorter than this codec's minimum of "
                               f"{self.min_frames} ({self.min_frames / self.frame_rate * 1000:.0f} ms)")
        return latents

    def decode_samples(self, latents: np.ndarray) -> np.ndarray:
        """Latents (1, D, T), already checked -> mono samples (the offline decoder)."""
        return np.ascontiguousarray(self.run("decoder", latents=latents)["audio"][0].mean(axis=0))

    def decode(self, codes_or_latents: np.ndarray, *, n_q: int | None = None) -> Audio:
        """Codes (RVQ) or latents (VAE) of one item -> Audio."""
        return Audio(self.decode_samples(self._one_item(codes_or_latents, n_q, "decode")), self.sample_rate)

    def decode_frames(self, codes: np.ndarray, n_q: int) -> np.ndarray:
        """Codes (n_q, F) of any length F >= 1 -> float32 samples, F hops long. Fewer frames than the offline decoder
        takes go through the streaming decoder, which takes any length exactly (codecs without one: padded with the
        last frame, the padding's samples cut off)."""
        codes = np.asarray(codes, np.int64)
        F = codes.shape[1]
        if F == 0:
            raise InvalidInput("the model ended the audio before its first frame (nothing to decode); try another "
                               "seed or a longer minimum length")
        if F < self.min_frames and self.streams:
            decoder = self.stream_decoder()
            latents = self.latents_from_codes(np.ascontiguousarray(codes[None]), n_q=n_q)[0]
            return np.concatenate([*decoder.push(latents), *decoder.flush()]).astype(np.float32)
        if F < self.min_frames:
            codes = np.concatenate((codes, np.repeat(codes[:, -1:], self.min_frames - F, axis=1)), axis=1)
        samples = self.decode(np.ascontiguousarray(codes[None]), n_q=n_q).samples
        return samples[:F * self.hop_length] if F < self.min_frames else samples

    STREAM_CHUNK_FRAMES = 32  # a windowed stream's largest chunk (~0.34 s of 24 kHz audio at hop 256)

    def stream_decoder(self, first: np.ndarray | None = None
                       ) -> StatefulStreamDecoder | WindowedStreamDecoder | LSTMSplitStreamDecoder:
        """A streaming decoder for this codec. ``first``: the first latent chunk (1, D, T), needed by decoders whose
        initial state depends on the stream's start (``stream_init: graph``).

        Causal codecs (``decoder_stream``): the concatenated chunks are the offline decode. Non-causal ones
        (``window``): each chunk is decoded from ``window.left`` frames before it and ``window.right`` after it;
        with a window covering the receptive field (the default voice's: 28 / 29 frames) the chunks are the offline
        decode to float rounding, except for what a non-local decoder adds: the default voice's int8 vocoder
        quantizes activations with one scale per decoded span (stream vs offline 22-42 dB SNR). Non-causal decoders
        split at a bottleneck LSTM (``lstm_stream``): the chunks are the offline decode to float rounding, the audio
        ``lstm_stream.lookahead`` frames behind the latents (UniAudio's codec: 4 frames, 80 ms)."""
        if not self.streams:
            raise InvalidInput(f"codec {self.component!r} of bundle {self.sessions.bundle.name!r} has no streaming "
                               "decoder (a non-causal codec exported without a window)")
        hp = self.hparams
        if hp.lstm_stream is not None:
            ls = hp.lstm_stream
            states = {s.name: np.zeros([1 if d == "batch" else d for d in s.shape], np.float32) for s in ls.states}
            pre, post = (self.sessions.get(self.graph(g)).run for g in LSTM_STREAM_GRAPHS)
            return LSTMSplitStreamDecoder(
                pre, post, states, hop_length=self.hop_length, latent_dim=self.latent_dim, pad_left=ls.pad_left,
                pad_right=ls.pad_right, pad_mode=ls.pad_mode, left=ls.left, right=ls.right,
                early_samples=ls.early_samples)
        if hp.window is not None and "decoder_stream" not in self.sessions.bundle.component(self.component).graphs:
            return WindowedStreamDecoder(self.decode_samples, self.hop_length, hp.window.left, hp.window.right,
                                         self.STREAM_CHUNK_FRAMES)
        if hp.stream_init == "graph":
            if first is None:
                raise InvalidInput("this codec's streaming decoder starts from the first latent chunk: pass it")
            init = self.run("decoder_stream_init", latents=np.ascontiguousarray(first, dtype=np.float32))
            states = {s.name: init[s.name] for s in hp.stream_states}
        else:
            states = {s.name: np.zeros([1 if d == "batch" else d for d in s.shape], np.float32)
                      for s in hp.stream_states}
        return StatefulStreamDecoder(self.sessions.get(self.graph("decoder_stream")).run, states)

    def decode_stream(self, codes_or_latents: np.ndarray, *, chunk_frames: int = 4,
                      n_q: int | None = None) -> Iterator[np.ndarray]:
        """Yield audio chunks as soon as each is decoded, ``chunk_frames`` frames pushed at a time (a causal
        decoder gives chunk_frames * hop samples per push; windowed and LSTM-split decoders hold back the samples
        that still depend on frames to come, and release them on later pushes or at the end)."""
        if isinstance(chunk_frames, bool) or not isinstance(chunk_frames, int) or chunk_frames < 1:
            raise InvalidInput(f"chunk_frames must be a positive integer, got {chunk_frames!r}")
        if not self.streams:
            self.stream_decoder()  # the clear error
        latents = self._one_item(codes_or_latents, n_q, "decode_stream")
        first = max(chunk_frames, self.hparams.stream_min_first_frames)
        decoder = self.stream_decoder(latents[..., :first])
        total = latents.shape[-1]
        start, size = 0, first
        while start < total:
            yield from decoder.push(latents[0, :, start:start + size])
            start += size
            size = chunk_frames
        yield from decoder.flush()


class CodecModel(GraphModel):
    """A codec bundle: its one codec component, with the component's API on the model."""

    capabilities = ("codec",)
    _CODEC_API = frozenset({"encode", "encode_latents", "decode", "decode_stream", "latents_from_codes", "streams",
                            "kind", "hop_length", "latent_dim", "channels", "min_frames", "frame_rate", "sample_rate",
                            "n_q", "codebook_size", "codebooks", "normalize", "hparams", "stream_decoder"})

    def __init__(self, bundle, **kwargs):
        super().__init__(bundle, **kwargs)
        codecs = bundle.manifest.components_of_kind("codec")
        if len(codecs) != 1:
            raise BundleError(f"a codec bundle has one codec component; {bundle.name!r} has {len(codecs)}")
        self.codec = Codec(self.sessions, codecs[0].name)

    def __getattr__(self, name: str):
        if name in CodecModel._CODEC_API and "codec" in self.__dict__:
            return getattr(self.__dict__["codec"], name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
