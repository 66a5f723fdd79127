"""MELA-TTS family (``model_type: "mela_tts"``): text tokens + a speaker embedding (+ a prompt's mel) -> log-mel
chunks -> the bundle's vocoder.

Components: ``lm`` (kind ``mela-tts-lm``: graphs utterance, prefill, text, step, locdit; ``MelaTTSLMHParams``),
``codec`` (a vocoder over the model's log-mel: a ``Codec`` of kind "mel") and, for text input, ``text``. The loop
(``generation.autoregress``; NumPy and native kernels, graphs on the chosen backend):

    utterance = utterance(prompt mel) (zeros without a prompt); speaker = the caller's embedding (zeros without)
    prefill([speaker, utterance, text group 0 (+ TOS when it is the last)]) -> mu, stop, K/V
    for i in 0 .. max_len - 1:
        chunk_i = Euler solve t: 1 -> 0 (uniform grid) of locdit velocities, standard CFG, from
                  kernels.noise.standard_normal(seed, i, (1, P, n_mels)), conditioned on mu and chunk_{i-1}
        stop when all text is read, i + 1 >= min_len and P(stop) of the state that produced chunk_i > threshold
        step(chunk_i, length, the KV buffers as they are) -> mu, stop, K/V
        streaming, after every M chunks while text remains: text(next N tokens (+ TOS), ...) -> mu, stop, K/V

Modes: ``"offline"`` reads all text before the first chunk; ``"streaming"`` interleaves N text tokens and M chunks
(the bundle's ``text_per_group`` / ``chunks_per_group``), so the first chunk needs only N tokens. ``stream`` decodes
each chunk as soon as it is solved (the vocoder is non-causal: windows covering its receptive field,
``streaming.WindowedStreamDecoder``). Graph contract: see ``export.mela_tts``; reference: ``MelaTTS.generate``.
"""
from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from ..audio import Audio, input_samples, resample
from ..errors import BundleError, InvalidInput
from ..hparams import MelaTTSLMHParams
from .codec import Codec
from .generation import GenerationOptions, KVGroups, autoregress
from .graph import GraphModel, one_component

STEP_KV = "buffer"  # the cache contract of the step / text graphs this pipeline runs
MODES = ("offline", "streaming")
MAX_TEXT_CHARS = 2000  # synthesize / stream: longer input is refused (split it yourself)
MAX_PROMPT_SECONDS = 30.0
N_COND = 2  # leading LM positions: speaker, utterance


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def text_groups(n_text: int, text_per_group: int | None) -> list[tuple[int, int]]:
    """The text slices fed before each group of chunks: [(start, end), ...]; offline (``None``) one slice. TOS
    follows the last slice. The reference (``models.mela_tts``) uses this same function."""
    if n_text < 1:
        raise ValueError("no text tokens")
    n = n_text if text_per_group is None else text_per_group
    return [(s, min(s + n, n_text)) for s in range(0, n_text, n)]


class MelaTTSModel(GraphModel):
    capabilities = ("text-to-speech", "voice-cloning")

    def __init__(self, bundle, **kwargs):
        super().__init__(bundle, **kwargs)
        self.lm = one_component(bundle, "mela-tts-lm")
        hp = self.hparams = MelaTTSLMHParams.from_json(bundle.component(self.lm).hparams,
                                                       f"bundle {bundle.name!r}: components.{self.lm}.hparams")
        self.codec = Codec(self.sessions, one_component(bundle, "codec"))
        self.text_component = one_component(bundle, "text", required=False)
        if hp.step_kv != STEP_KV:
            raise BundleError(f"mela_tts bundle {bundle.name!r}: step cache contract {hp.step_kv!r}, this voxlite "
                              f"runs {STEP_KV!r}: re-export it (python -m export mela-tts)")
        if self.codec.kind != "mel" or self.codec.latent_dim != hp.n_mels:
            raise BundleError(f"bundle {bundle.name!r}: the codec must be a vocoder over {hp.n_mels}-bin mel, got a "
                              f"{self.codec.kind!r} codec of {self.codec.latent_dim} channels")
        caches = KVGroups.input_names(hp.kv)
        for graph, first in (("step", "chunk"), ("text", "text_tokens")):
            inputs = {t.name for t in self._graph(graph).inputs}
            if inputs != {first, "length", *caches}:
                raise BundleError(f"mela_tts {graph} graph inputs {sorted(inputs)} do not match hparams (expected "
                                  f"{sorted({first, 'length', *caches})})")
        self.chunk_size, self.n_mels, self.vocab_size = hp.chunk_size, hp.n_mels, hp.vocab_size
        self.sample_rate, self.hop_length = self.codec.sample_rate, self.codec.hop_length
        self.stop_logit = _logit(hp.stop_threshold)
        self.defaults = {"cfg": hp.cfg, "steps": hp.steps}

    def _graph(self, name: str):
        return self.bundle.graph(f"{self.lm}/{name}")

    def _run(self, graph: str, feeds: dict) -> dict[str, np.ndarray]:
        return self.sessions.get(f"{self.lm}/{graph}").run(feeds)

    # -- inputs -------------------------------------------------------------------------------------
    def _tokens(self, tokens) -> np.ndarray:
        arr = np.asarray([] if tokens is None else tokens)
        if arr.ndim != 1:
            raise InvalidInput(f"text_tokens must be a 1-D sequence of token ids, got shape {arr.shape}")
        if arr.size == 0:
            raise InvalidInput("text_tokens is empty")
        if not np.issubdtype(arr.dtype, np.integer):
            raise InvalidInput(f"text_tokens must be integers, got {arr.dtype}")
        if arr.min() < 0 or arr.max() >= self.vocab_size:
            raise InvalidInput(f"text_tokens has ids outside the vocabulary [0, {self.vocab_size})")
        if (arr == self.hparams.tos_token).any():
            raise InvalidInput(f"text_tokens contains the turn-of-speech token {self.hparams.tos_token} (reserved)")
        return arr.astype(np.int64)

    def _speaker(self, speaker) -> np.ndarray:
        dim = self.hparams.speaker_dim
        if speaker is None:
            return np.zeros((1, dim), np.float32)
        try:
            arr = np.asarray(speaker, dtype=np.float32)
        except (TypeError, ValueError):
            raise InvalidInput(f"speaker must be a ({dim},) array of numbers") from None
        if arr.shape not in ((dim,), (1, dim)):
            raise InvalidInput(f"speaker must be a ({dim},) embedding, got shape {arr.shape}")
        if not np.isfinite(arr).all():
            raise InvalidInput("speaker contains NaN or infinite values")
        return np.ascontiguousarray(arr.reshape(1, dim))

    def _prompt_mel(self, prompt_mel) -> np.ndarray:
        try:
            arr = np.asarray(prompt_mel, dtype=np.float32)
        except (TypeError, ValueError):
            raise InvalidInput(f"prompt_mel must be an (frames, {self.n_mels}) array of numbers") from None
        if arr.ndim == 3 and arr.shape[0] == 1:
            arr = arr[0]
        if arr.ndim != 2 or arr.shape[1] != self.n_mels:
            raise InvalidInput(f"prompt_mel must be (frames, {self.n_mels}) log-mel, got shape {arr.shape}")
        limit = int(MAX_PROMPT_SECONDS * self.codec.frame_rate)
        if not 1 <= arr.shape[0] <= limit:
            raise InvalidInput(f"prompt_mel must have 1..{limit} frames ({MAX_PROMPT_SECONDS:g} s), got {arr.shape[0]}")
        if not np.isfinite(arr).all():
            raise InvalidInput("prompt_mel contains NaN or infinite values")
        return np.ascontiguousarray(arr)

    def encode_prompt(self, audio, sample_rate: int | None = None) -> np.ndarray:
        """A prompt recording (an Audio, samples with ``sample_rate``, or a path) -> its log-mel (frames, n_mels),
        by the codec's mel front end (the features the model and its vocoder share)."""
        samples, rate = input_samples(audio, sample_rate, what="prompt audio", max_seconds=MAX_PROMPT_SECONDS)
        x = resample(samples, rate, self.sample_rate)
        x = np.pad(x, (0, (-len(x)) % self.hop_length))
        return np.ascontiguousarray(self.codec.latents_of(x)[0].T)

    def _conditions(self, speaker, prompt_mel, prompt_audio, prompt_sample_rate) -> tuple[np.ndarray, np.ndarray]:
        """(speaker (1, S), utterance embedding (1, H)); without a prompt the utterance embedding is zeros."""
        if prompt_mel is not None and prompt_audio is not None:
            raise InvalidInput("give prompt_mel or prompt_audio, not both")
        spk = self._speaker(speaker)
        if prompt_audio is not None:
            prompt_mel = self.encode_prompt(prompt_audio, prompt_sample_rate)
        if prompt_mel is None:
            return spk, np.zeros((1, self.hparams.lm_dim), np.float32)
        mel = self._prompt_mel(prompt_mel)
        return spk, self._run("utterance", {"prompt_mel": mel[None]})["utterance"]

    def options(self, *, cfg=None, steps=None, seed=0, max_chunks=None) -> GenerationOptions:
        try:
            options = GenerationOptions(seed=seed, cfg=cfg, steps=steps, max_length=max_chunks)
        except InvalidInput as e:
            raise InvalidInput(str(e).replace("max_length", "max_chunks")) from None
        return options.resolved(self.defaults)

    @staticmethod
    def _mode(mode) -> str:
        if mode not in MODES:
            raise InvalidInput(f"mode must be one of {MODES}, got {mode!r}")
        return mode

    # -- generation ---------------------------------------------------------------------------------
    KV_START_CHUNKS = 64  # KV slots for generated chunks before the first doubling (~10 s of audio)

    def generate_chunks(self, text_tokens, speaker=None, prompt_mel=None, *, prompt_audio=None,
                        prompt_sample_rate: int | None = None, mode: str = "offline", cfg: float | None = None,
                        steps: int | None = None, seed: int = 0, max_chunks: int | None = None,
                        options: GenerationOptions | None = None) -> Iterator[np.ndarray]:
        """Yield each generated mel chunk (P, n_mels) as soon as it is solved. ``speaker``: the caller's speaker
        embedding (speaker_dim,) (None: zeros); ``prompt_mel`` (frames, n_mels) or ``prompt_audio``: the
        utterance prompt (None: a zero utterance embedding). ``mode``: "offline" or "streaming" (interleaved)."""
        from ..kernels import noise, solvers

        hp = self.hparams
        mode = self._mode(mode)
        opts = options or self.options(cfg=cfg, steps=steps, seed=seed, max_chunks=max_chunks)
        text = self._tokens(text_tokens)
        spk, utterance = self._conditions(speaker, prompt_mel, prompt_audio, prompt_sample_rate)
        P, M = self.chunk_size, self.n_mels
        fixed = N_COND + text.size + 1  # conditions, text, TOS
        room = hp.max_positions - fixed + 1  # the last chunk needs no step
        if room < 1:
            raise InvalidInput(f"input is too long: {text.size} text tokens; this model holds {hp.max_positions} "
                               f"positions ({hp.max_positions - N_COND - 2} text tokens at most)")
        max_len = min(int(text.size * hp.max_len_ratio + hp.max_len_offset), hp.max_len_cap)
        max_len = min(opts.max_length if opts.max_length is not None else max_len, room)
        groups = text_groups(text.size, hp.text_per_group if mode == "streaming" else None)
        ts = solvers.fm_timesteps(opts.steps, schedule="uniform")
        locdit = self.sessions.get(f"{self.lm}/locdit")

        def tokens(g: int) -> np.ndarray:
            s, e = groups[g]
            ids = text[s:e] if g + 1 < len(groups) else np.append(text[s:e], hp.tos_token)
            return np.ascontiguousarray(ids[None], dtype=np.int64)

        def prefill():
            out = self._run("prefill", {"speaker": spk, "utterance": utterance, "text_tokens": tokens(0)})
            # the step reads every slot of the buffers: start small, double when full (as VoxCPM)
            kv = KVGroups(hp.kv, capacity=fixed + self.KV_START_CHUNKS, limit=fixed + max_len)
            kv.append(out)
            return {"out": out, "kv": kv, "cond": np.zeros((1, P, M), np.float32), "group": 0, "in_group": 0,
                    "step": self.sessions.get(f"{self.lm}/step")}

        def emit(state, i):
            mu, cond = state["out"]["mu"], state["cond"]

            def velocity(x, t):
                v = locdit.run({"x": x, "t": np.full((1,), t, np.float32), "mu": mu, "cond": cond})["velocity"]
                return v[:1], v[1:]

            return solvers.integrate_flow(velocity, noise.standard_normal(opts.seed, i, (1, P, M)), ts,
                                          cfg_scale=opts.cfg)  # (1, P, M)

        def stop(state, i):
            text_done = state["group"] + 1 == len(groups)
            return (text_done and i + 1 >= hp.min_len
                    and float(state["out"]["stop_logit"][0, 0]) > self.stop_logit)

        def extend(state, graph, feeds, n):
            kv = state["kv"]
            kv.make_room(n)
            run = state["step"].run if graph == "step" else self.sessions.get(f"{self.lm}/text").run
            state["out"] = run({**kv.feeds(), **feeds, "length": np.array([kv.length], np.int64)})
            kv.append(state["out"])

        def step(state, chunk, i):
            extend(state, "step", {"chunk": chunk}, 1)
            state["cond"] = chunk
            state["in_group"] += 1
            if state["group"] + 1 < len(groups) and state["in_group"] == hp.chunks_per_group:
                state["group"] += 1  # the filling position: the next text group comes in
                ids = tokens(state["group"])
                extend(state, "text", {"text_tokens": ids}, ids.shape[1])
                state["in_group"] = 0
            return state

        for chunk in autoregress(prefill, emit, stop, step, max_len):
            yield chunk[0].copy()

    def generate_mel(self, text_tokens, speaker=None, prompt_mel=None, **options) -> np.ndarray:
        """All generated chunks as log-mel (1, n_mels, N * P)."""
        chunks = np.stack(list(self.generate_chunks(text_tokens, speaker, prompt_mel, **options)))
        return np.ascontiguousarray(chunks.reshape(-1, self.n_mels).T[None])

    def synthesize_tokens(self, text_tokens, speaker=None, prompt_mel=None, **options) -> Audio:
        """Token ids -> Audio (the vocoder's offline decode of all chunks); options as ``generate_chunks``."""
        return Audio(self.codec.decode_samples(self.generate_mel(text_tokens, speaker, prompt_mel, **options)),
                     self.sample_rate)

    def stream_tokens(self, text_tokens, speaker=None, prompt_mel=None, *, mode: str = "streaming",
                      **options) -> Iterator[np.ndarray]:
        """Token ids -> audio pieces as chunks are generated (windowed vocoder decodes; they concatenate to the
        offline decode of the same chunks, to float rounding). Default mode: streaming (interleaved)."""
        decoder = self.codec.stream_decoder()
        for chunk in self.generate_chunks(text_tokens, speaker, prompt_mel, mode=mode, **options):
            yield from decoder.push(chunk.T)
        yield from decoder.flush()

    # -- text in --------------------------------------------------------------------------------------
    @property
    def tokenizer(self):
        if getattr(self, "_tokenizer", None) is None:
            if self.text_component is None:
                raise BundleError(f"bundle {self.bundle.name!r} has no text front end: text input needs one")
            from ..text.frontends import load_front_end

            self._tokenizer = load_front_end(self.bundle, self.text_component, self.sessions)
        return self._tokenizer

    def _text_ids(self, text) -> list[int]:
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("text is empty")
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidInput(f"text is too long: {len(text)} characters; the limit is {MAX_TEXT_CHARS}")
        ids, n = self.tokenizer.encode_pair(text, None)
        if n == 0:
            raise InvalidInput(f"text {text!r} has no tokens")
        return ids

    def synthesize(self, text: str, prompt_audio=None, prompt_text: str | None = None, *, speaker=None,
                   prompt_mel=None, mode: str = "offline", cfg: float | None = None, steps: int | None = None,
                   seed: int = 0, max_chunks: int | None = None) -> Audio:
        """Text -> Audio. ``speaker``: a speaker embedding from the caller's speaker model (speaker_dim,);
        ``prompt_audio`` (or ``prompt_mel``): a recording of the voice for the utterance embedding. ``prompt_text``
        is accepted for the voice-cloning protocol and not used (MELA-TTS reads no prompt transcript)."""
        return self.synthesize_tokens(self._text_ids(text), speaker, prompt_mel, prompt_audio=prompt_audio,
                                      mode=mode, cfg=cfg, steps=steps, seed=seed, max_chunks=max_chunks)

    def stream(self, text: str, prompt_audio=None, prompt_text: str | None = None, *, speaker=None,
               prompt_mel=None, mode: str = "streaming", cfg: float | None = None, steps: int | None = None,
               seed: int = 0, max_chunks: int | None = None) -> Iterator[np.ndarray]:
        """Text -> audio pieces as they are generated (default: the interleaved streaming mode, first audio after
        ``text_per_group`` tokens). Arguments as ``synthesize``."""
        ids = self._text_ids(text)
        yield from self.stream_tokens(ids, speaker, prompt_mel, prompt_audio=prompt_audio, mode=mode, cfg=cfg,
                                      steps=steps, seed=seed, max_chunks=max_chunks)
