"""VoxCPM family (``model_type: "voxcpm"``): text tokens (+ an optional voice prompt) -> speech, patch by patch.

Components: ``lm`` (kind ``voxcpm-lm``: graphs prefill, step, locdit; ``VoxCPMLMHParams``), ``codec`` (the AudioVAE,
or for the default voice a Vocos over log-mel: a ``Codec``) and, for text input, ``text`` (a front end from
``voxlite.text.frontends``). The loop (``generation.autoregress``; NumPy and native kernels, graphs on the chosen
backend):

    prefill(prompt tokens + target tokens + audio_start, prompt patches) -> mu, stop, K/V of every position
    for i in 0 .. max_len - 1:
        patch_i = Euler solve t: 1 -> 0 on the sway grid of locdit velocities (CFG-Zero*, kernels.solvers) from noise
            (bundles with a prior head and flow_start < 1: t: flow_start -> 0 from the prior patch mixed with noise)
        stop when i > min_len and P(stop) of the state that produced patch_i > stop_threshold (0.5: argmax)
        step(patch_i, length, the KV buffers as they are) -> mu, stop, K/V of position length
            (written into the buffers: one position copied per step, whatever the length)

Each patch is decoded by the codec's streaming decoder as soon as it is solved (``stream``).
Noise: patch i starts from ``kernels.noise.standard_normal(seed, i, (1, P, D))`` (counter-based, so the C API draws
the very same; the PyTorch reference ``VoxCPM.generate(noise=...)`` replays it). Graph contract: see ``export.voxcpm``.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Iterator

import numpy as np

from ..audio import Audio, input_samples, resample
from ..errors import BundleError, InvalidInput
from ..hparams import VoxCPMLMHParams
from .codec import Codec
from .generation import GenerationOptions, KVGroups, autoregress
from .graph import GraphModel, one_component

STEP_KV = "buffer"  # the step graph's cache contract this pipeline runs (fixed-size buffers + length)
MAX_TEXT_CHARS = 5000  # synthesize / stream: longer input is refused (split it yourself)
MAX_PROMPT_SECONDS = 30.0  # voice prompt recordings: longer ones are refused (the official demos use 3-10 s)
MAX_CHUNK_TOKENS = 150  # sentences are merged into chunks of at most this many text tokens


def _logit(p: float) -> float:
    """log(p / (1 - p)): the stop logits' difference at which P(stop) = p."""
    return math.log(p / (1.0 - p))


class VoxCPMModel(GraphModel):
    capabilities = ("text-to-speech", "voice-cloning")

    def __init__(self, bundle, **kwargs):
        super().__init__(bundle, **kwargs)
        self.lm = one_component(bundle, "voxcpm-lm")
        hp = self.hparams = VoxCPMLMHParams.from_json(bundle.component(self.lm).hparams,
                                                      f"bundle {bundle.name!r}: components.{self.lm}.hparams")
        self.codec = Codec(self.sessions, one_component(bundle, "codec"))
        self.text_component = one_component(bundle, "text", required=False)
        if hp.step_kv != STEP_KV:
            raise BundleError(f"voxcpm bundle {bundle.name!r} has a step graph with the "
                              f"{hp.step_kv or 'past K/V (current length)'!r} cache contract; this voxlite runs "
                              f"{STEP_KV!r} (fixed-size cache buffers + length): re-export it (python -m export voxcpm)")
        if self.codec.latent_dim != hp.feat_dim:
            raise BundleError(f"codec latent_dim {self.codec.latent_dim} != lm feat_dim {hp.feat_dim}")
        if "voice-cloning" in bundle.capabilities and not hp.voice_prompt:
            raise BundleError(f"bundle {bundle.name!r} declares voice-cloning but its lm takes no voice prompt")
        self.patch_size, self.feat_dim, self.vocab_size = hp.patch_size, hp.feat_dim, hp.vocab_size
        self.max_positions, self.voice_prompt = hp.max_positions, "voice-cloning" in bundle.capabilities
        self.sample_rate, self.hop_length = self.codec.sample_rate, self.codec.hop_length
        self.stop_logit = _logit(hp.stop_threshold)
        # a prior head (shallow solves, flow_start < 1): prefill and step both output its patch
        self.has_prior = all("prior" in {t.name for t in self._graph(g).outputs} for g in ("prefill", "step"))
        self.defaults = {"cfg": hp.cfg, "steps": hp.steps, "flow_start": hp.flow_start}
        self._check_flow_start(hp.flow_start, "the bundle's default flow_start")
        expected = {"patch", "length", *KVGroups.input_names(hp.kv)} | ({"position"} if hp.audio_position_rate else set())
        step_inputs = {t.name for t in self._graph("step").inputs}
        if step_inputs != expected:
            raise BundleError(f"voxcpm step graph inputs {sorted(step_inputs)} do not match hparams "
                              f"(expected {sorted(expected)})")

    def _graph(self, name: str):
        return self.bundle.graph(f"{self.lm}/{name}")

    def _run(self, graph: str, feeds: dict) -> dict[str, np.ndarray]:
        return self.sessions.get(f"{self.lm}/{graph}").run(feeds)

    # -- inputs -------------------------------------------------------------------------------------
    def _tokens(self, tokens, what: str, allow_empty: bool = False) -> np.ndarray:
        if tokens is None:
            return np.zeros(0, np.int64)
        arr = np.asarray(tokens)
        if arr.ndim != 1:
            raise InvalidInput(f"{what} must be a 1-D sequence of token ids, got shape {arr.shape}")
        if arr.size == 0:
            if allow_empty:
                return np.zeros(0, np.int64)
            raise InvalidInput(f"{what} is empty")
        if not np.issubdtype(arr.dtype, np.integer):
            raise InvalidInput(f"{what} must be integers, got {arr.dtype}")
        if arr.min() < 0 or arr.max() >= self.vocab_size:
            raise InvalidInput(f"{what} has ids outside the vocabulary [0, {self.vocab_size})")
        return arr.astype(np.int64)

    def encode_prompt(self, audio, sample_rate: int | None = None, *, max_patches: int | None = None) -> np.ndarray:
        """Prompt audio (an Audio, samples with ``sample_rate``, or a path) -> patches (N, P, D): left-padded to
        whole patches (official), encoded by the codec. ``max_patches``: refuse longer audio before encoding it."""
        samples, rate = input_samples(audio, sample_rate, what="prompt audio", max_seconds=MAX_PROMPT_SECONDS)
        patch_len = self.patch_size * self.hop_length
        if max_patches is not None and samples.size * self.sample_rate / rate > (max_patches + 1) * patch_len:
            raise InvalidInput(f"input is too long: the prompt audio alone is longer than this model's "
                               f"{self.max_positions} positions ({self.max_positions * patch_len / self.sample_rate:.1f} s)")
        x = resample(samples, rate, self.sample_rate)
        latents = self.codec.latents_of(np.pad(x, ((-len(x)) % patch_len, 0)))  # (1, D, T)
        n = latents.shape[-1] // self.patch_size
        return np.ascontiguousarray(latents[0].reshape(self.feat_dim, n, self.patch_size).transpose(1, 2, 0))

    def _check_flow_start(self, flow_start, what: str = "flow_start") -> None:
        if flow_start is not None and float(flow_start) < 1.0 and not self.has_prior:
            raise InvalidInput(f"{what} {flow_start!r} < 1 starts the solve from the prior head's patch; bundle "
                               f"{self.bundle.name!r} has no prior head (its prefill / step graphs output no prior)")

    def options(self, *, cfg=None, steps=None, seed=0, flow_start=None, max_patches=None) -> GenerationOptions:
        """The call's options, validated once (InvalidInput naming the field), the bundle's defaults filled in."""
        try:
            options = GenerationOptions(seed=seed, cfg=cfg, steps=steps, flow_start=flow_start, max_length=max_patches)
        except InvalidInput as e:  # this family calls the length limit max_patches
            raise InvalidInput(str(e).replace("max_length", "max_patches")) from None
        self._check_flow_start(options.flow_start)
        return options.resolved(self.defaults)

    # -- generation ---------------------------------------------------------------------------------
    KV_START_PATCHES = 64  # KV cache slots for generated patches before the first doubling (~5.5 s of audio)

    def generate_patches(self, text_tokens, prompt_tokens=None, prompt_audio=None, *, cfg: float | None = None,
                         steps: int | None = None, seed: int = 0, max_patches: int | None = None,
                         prompt_sample_rate: int | None = None, prompt_patches: np.ndarray | None = None,
                         flow_start: float | None = None, options: GenerationOptions | None = None
                         ) -> Iterator[np.ndarray]:
        """Yield each generated latent patch (P, D) as soon as it is solved. ``prompt_patches``: an
        ``encode_prompt`` result, instead of ``prompt_audio`` (to encode a prompt once for many sentences).
        ``flow_start`` < 1 (bundles with a prior head): each solve starts at that time from the prior head's patch
        mixed with the noise (``solvers.shallow_start``) instead of from noise: cheaper, and closer to the prior;
        0: the prior head's patch is the patch (no LocDiT call). ``options``: instead of the separate arguments."""
        from ..kernels import noise, solvers

        hp = self.hparams
        opts = options or self.options(cfg=cfg, steps=steps, seed=seed, flow_start=flow_start, max_patches=max_patches)
        text = self._tokens(text_tokens, "text_tokens")
        prompt_text = self._tokens(prompt_tokens, "prompt_tokens", allow_empty=True)
        P, D = self.patch_size, self.feat_dim
        room = self.max_positions - prompt_text.size - text.size - 1
        if prompt_patches is not None:
            prompt = np.asarray(prompt_patches, np.float32).reshape(-1, P, D)
        elif prompt_audio is not None:
            prompt = self.encode_prompt(prompt_audio, prompt_sample_rate, max_patches=max(room, 0))
        else:
            prompt = np.zeros((0, P, D), np.float32)
        n_text = prompt_text.size + text.size + 1
        T = n_text + prompt.shape[0]
        positions = self.max_positions - T + 1  # the last patch needs no step: N patches use N - 1 positions
        if positions < 1:
            raise InvalidInput(f"input is too long: {T} positions (text + prompt patches); this model holds "
                               f"{self.max_positions}")
        max_len = min(int(text.size * hp.max_len_ratio + hp.max_len_offset), hp.max_len_cap)
        max_len = min(opts.max_length if opts.max_length is not None else max_len, positions)
        flow_start = float(opts.flow_start)
        if flow_start > 0:  # flow_start 0 never runs (or loads) the LocDiT
            ts = solvers.shallow_timesteps(opts.steps, flow_start, schedule="sway", sway_coef=hp.sway_coef)
            # CFG-Zero*'s zero-velocity steps are for a start at pure noise
            zero_init = max(1, int(len(ts) * hp.zero_init_ratio)) if flow_start >= 1 else 0
            locdit = self.sessions.get(f"{self.lm}/locdit")

        def prefill():
            tokens = np.zeros((1, T), np.int64)
            tokens[0, :n_text] = np.concatenate((prompt_text, text, [hp.audio_start_token]))
            text_mask = np.zeros((1, T), np.float32)
            text_mask[0, :n_text] = 1
            feats = np.zeros((1, T, P, D), np.float32)
            feats[0, n_text:] = prompt
            out = self._run("prefill", {"text_tokens": tokens, "text_mask": text_mask, "audio_feats": feats,
                                        "audio_mask": 1 - text_mask})
            # The step graph reads the caches' fixed-size buffers in place (slots >= length ignored): no per-step
            # copy, but it pays for every slot (default voice, int8, 1 thread: 0.95 ms a step at 128 slots, 1.9 at
            # 360, 2.7 at 700). So the caches start with room for KV_START_PATCHES patches and double when full.
            kv = KVGroups(hp.kv, capacity=T + self.KV_START_PATCHES, limit=T + max_len)
            kv.append(out)
            return {"out": out, "kv": kv, "cond": np.ascontiguousarray(feats[:, -1])}  # last prompt patch or zeros

        def emit(state, i):
            out = state["out"]
            if flow_start == 0:  # the prior head's patch as it is: no LocDiT call (and no noise)
                patch = np.array(out["prior"], np.float32)
            else:
                z = noise.standard_normal(opts.seed, i, (1, P, D))
                if flow_start < 1:
                    z = solvers.shallow_start(out["prior"], z, flow_start)
                mu, cond = out["mu"], state["cond"]

                def velocity(x, t):
                    v = locdit.run({"x": x, "t": np.full((1,), t, np.float32), "mu": mu, "cond": cond})["velocity"]
                    return v[:1], v[1:]

                patch = solvers.integrate_flow(velocity, z, ts, cfg_scale=opts.cfg, cfg_mode="zero_star",
                                               zero_init_steps=zero_init)  # (1, P, D)
            state["cond"] = patch
            return patch

        def stop(state, i):
            logits = state["out"]["stop_logits"]
            return i > hp.min_len and float(logits[0, 1] - logits[0, 0]) > self.stop_logit

        def step(state, patch, i):
            kv = state["kv"]
            kv.make_room(1)
            feeds = {**kv.feeds(), "patch": patch, "length": np.array([kv.length], np.int64)}
            if hp.audio_position_rate:  # rate-scaled RoPE position of this patch: audio patches before it + 0.5
                feeds["position"] = np.array([(prompt.shape[0] + i + 0.5) * hp.audio_position_rate], np.float32)
            if "step" not in state:  # looked up once per generation, not per patch
                state["step"] = self.sessions.get(f"{self.lm}/step")
            state["out"] = state["step"].run(feeds)
            kv.append(state["out"])
            return state

        for patch in autoregress(prefill, emit, stop, step, max_len):
            yield patch[0].copy()  # the caller may keep or modify it; the loop keeps patch as cond

    def generate_latents(self, text_tokens, prompt_tokens=None, prompt_audio=None, **options) -> np.ndarray:
        """All generated patches as codec latents (1, D, N * P)."""
        patches = np.stack(list(self.generate_patches(text_tokens, prompt_tokens, prompt_audio, **options)))
        return np.ascontiguousarray(patches.reshape(-1, self.feat_dim).T[None])

    def synthesize_tokens(self, text_tokens, prompt_tokens=None, prompt_audio=None, *, cfg: float | None = None,
                          steps: int | None = None, seed: int = 0, max_patches: int | None = None,
                          prompt_sample_rate: int | None = None, flow_start: float | None = None) -> Audio:
        """Token ids (the bundle's tokenizer) -> Audio at the bundle's sample rate. ``prompt_tokens`` /
        ``prompt_audio``: the transcript and recording of a voice prompt (either may be given alone)."""
        latents = self.generate_latents(text_tokens, prompt_tokens, prompt_audio, cfg=cfg, steps=steps, seed=seed,
                                        max_patches=max_patches, prompt_sample_rate=prompt_sample_rate,
                                        flow_start=flow_start)
        return Audio(self.codec.decode_samples(latents), self.sample_rate)

    def stream_tokens(self, text_tokens, prompt_tokens=None, prompt_audio=None, *, cfg: float | None = None,
                      steps: int | None = None, seed: int = 0, max_patches: int | None = None,
                      prompt_sample_rate: int | None = None, flow_start: float | None = None
                      ) -> Iterator[np.ndarray]:
        """Yield audio chunks as patches are generated (one per patch for causal codecs); they concatenate to
        ``synthesize_tokens``'s samples: exactly for causal codecs; for a windowed (non-causal) codec to float rounding
        when the window covers the decoder's receptive field and the decoder is local (the default voice's int8
        vocoder scales each window's activations by itself: 22-42 dB SNR; see ``streaming.WindowedStreamDecoder``)."""
        patches = self.generate_patches(text_tokens, prompt_tokens, prompt_audio, cfg=cfg, steps=steps, seed=seed,
                                        max_patches=max_patches, prompt_sample_rate=prompt_sample_rate,
                                        flow_start=flow_start)
        yield from self._decode_stream(patches, context=None)

    def _decode_stream(self, patches, context) -> Iterator[np.ndarray]:
        """Each patch through the codec's streaming decoder; ``context`` patches warm it first, their audio
        dropped (a causal decoder's left context; a windowed stream takes none)."""
        decoder = self.codec.stream_decoder()
        if context is not None and not self.codec.hparams.window:
            for patch in context:
                decoder.push(patch.T)
        for patch in patches:
            yield from decoder.push(patch.T)
        yield from decoder.flush()

    # -- text in --------------------------------------------------------------------------------------
    @property
    def tokenizer(self):
        """The bundle's text front end, loaded on first use."""
        if getattr(self, "_tokenizer", None) is None:
            if self.text_component is None:
                raise BundleError(f"bundle {self.bundle.name!r} has no text front end: text input needs one "
                                  "(re-export it from a checkpoint directory with tokenizer.json)")
            from ..text.frontends import load_front_end

            self._tokenizer = load_front_end(self.bundle, self.text_component, self.sessions)
        return self._tokenizer

    def add_lexicon(self, lexicon) -> int:
        """User pronunciations (a lexicon file's path or a mapping word -> phonemes) for the text front end; they win
        over the bundle's lexicon for every later call. Front ends with a phoneme inventory only (the default
        voice's G2P); see ``voxlite.text.phonemes``. Returns the number of entries added."""
        tokenizer = self.tokenizer
        if not getattr(tokenizer, "supports_phonemes", False):
            raise InvalidInput(f"lexicon: bundle {self.bundle.name!r} reads text with a {type(tokenizer).__name__}, "
                               "which has no phoneme inventory (user lexicons are for the G2P front end)")
        return tokenizer.add_lexicon(lexicon)

    def _check_speed(self, speed, what: str = "speed") -> float:
        from ..audio import check_speed

        speed = check_speed(speed, what)
        if speed != 1.0 and self.codec.kind != "mel":
            raise InvalidInput(f"{what} {speed:g}: bundle {self.bundle.name!r} decodes {self.codec.kind!r} codec "
                               "latents, which cannot be time-stretched without changing the voice (speed works "
                               "with mel-vocoder voices, such as the default voice, whose frames are spectra)")
        return speed

    def _prepare(self, text, prompt_audio, prompt_text, *, ssml=None, speed=1.0, pause=None):
        """Checks -> (plan, prompt transcript or None, prompt patches or None). The plan: ``("speak", chunk text,
        speed)`` and ``("pause", seconds)`` items in order; between two spoken chunks with no pause item between
        them, ``pause`` seconds (if any) go in."""
        from ..audio import check_pause
        from ..text.sentences import chunk_text, split_sentences

        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("text is empty")
        if ssml not in (None, True, False):
            raise InvalidInput(f"ssml must be True, False or None (detect a leading <speak>), got {ssml!r}")
        speed = self._check_speed(speed)
        pause = check_pause(pause)
        if ssml is None:
            from ..text.ssml import looks_like_ssml

            ssml = looks_like_ssml(text)
        text_limit = 4 * MAX_TEXT_CHARS if ssml else MAX_TEXT_CHARS  # SSML: markup included
        if len(text) > text_limit:
            raise InvalidInput(f"text is too long: {len(text)} characters; the limit is {text_limit}"
                               f"{' for an SSML document' if ssml else ''}")
        if ssml:
            from ..text import ssml as ssml_module

            segments = ssml_module.parse(text)
            spoken = sum(len(item.text) for item in segments if isinstance(item, ssml_module.Speech))
            if spoken > MAX_TEXT_CHARS:
                raise InvalidInput(f"text is too long: {spoken} characters to speak; the limit is {MAX_TEXT_CHARS}")
            items = [("speak", item.text, self._check_speed(item.speed * speed, "speed (with <prosody rate>)"))
                     if isinstance(item, ssml_module.Speech) else ("pause", item.seconds) for item in segments]
        else:
            items = [("speak", text, speed)]
        if not any(item[0] == "speak" for item in items):
            raise InvalidInput("text is empty")
        if "[[" in text and not getattr(self.tokenizer, "supports_phonemes", False):
            raise InvalidInput(f"phonemes ([[...]] or SSML <phoneme>): bundle {self.bundle.name!r}'s text front end "
                               f"({type(self.tokenizer).__name__}) has no phoneme inventory")
        if not self.voice_prompt and (prompt_audio is not None or prompt_text is not None):
            raise InvalidInput(f"bundle {self.bundle.name!r} is a single voice and takes no voice prompt")
        if (prompt_audio is None) != (prompt_text is None):
            raise InvalidInput("a voice prompt needs both prompt_audio (the recording) and prompt_text "
                               "(its transcript)")
        patches, n_prompt = None, 0
        if prompt_audio is not None:
            if not isinstance(prompt_text, str) or not prompt_text.strip():
                raise InvalidInput("prompt_text (the transcript of the prompt audio) is empty")
            if len(prompt_text) > MAX_TEXT_CHARS:
                raise InvalidInput(f"prompt_text is too long: {len(prompt_text)} characters; the limit is "
                                   f"{MAX_TEXT_CHARS}")
            samples, rate = input_samples(prompt_audio, None, what="prompt audio", max_seconds=MAX_PROMPT_SECONDS)
            n_prompt = self.tokenizer.count(prompt_text)
            room = self.max_positions - n_prompt - 1
            patches = self.encode_prompt(samples, rate, max_patches=max(room, 0))
            n_prompt += patches.shape[0]
        # room for text tokens: the rest of the positions, most of them left to the generated audio
        available = self.max_positions - n_prompt - 1
        limit = min(MAX_CHUNK_TOKENS, available // 3)
        if limit < 1:
            raise InvalidInput(f"the voice prompt fills this model's {self.max_positions} positions; use a shorter one")
        plan, spoken_before, paused = [], False, False
        for item in items:
            if item[0] == "pause":
                if item[1] > 0:
                    plan.append(item)
                paused = True
                continue
            # with a pause, every sentence is its own chunk (the pause goes between sentences); without, sentences
            # are merged into chunks of up to `limit` tokens (as they always were)
            count = self.tokenizer.count
            chunks = [c for sentence in split_sentences(item[1]) for c in chunk_text(sentence, limit, count)] \
                if pause > 0 else chunk_text(item[1], limit, count)
            for chunk in chunks:
                if spoken_before and not paused and pause > 0:
                    plan.append(("pause", pause))
                plan.append(("speak", chunk, item[2]))
                spoken_before, paused = True, False
        if not any(item[0] == "speak" for item in plan):
            raise InvalidInput("text is empty")
        return plan, prompt_text, patches

    def _chunk_patches(self, chunk, prompt_text, patches, options: GenerationOptions):
        ids, n_target = self.tokenizer.encode_pair(chunk, prompt_text)
        if n_target == 0:
            raise InvalidInput(f"text {chunk!r} has no tokens")
        hp = self.hparams
        max_len = min(int(n_target * hp.max_len_ratio + hp.max_len_offset), hp.max_len_cap)
        return self.generate_patches(ids, prompt_patches=patches, options=dataclasses.replace(options, max_length=max_len))

    PROMPT_CONTEXT_PATCHES = 2  # official streaming_prefix_len - 1

    def _context(self, patches) -> np.ndarray:
        """The prompt's last patches, decoded before the generated ones and their audio dropped (as voxcpm 2.0.3:
        the decoder starts from the voice's left context, not from silence). (N, P, D), N <= 2."""
        if patches is None:
            return np.zeros((0, self.patch_size, self.feat_dim), np.float32)
        return patches[-self.PROMPT_CONTEXT_PATCHES:]

    def _sentences(self, text, prompt_audio, prompt_text, cfg, steps, seed, flow_start, progress, ssml=None,
                   speed=1.0, pause=None):
        """The plan in order: (patches of each sentence chunk, its prompt context, its speed) or (None, seconds of
        silence, None); spoken chunk i uses seed + i."""
        options = self.options(cfg=cfg, steps=steps, seed=seed, flow_start=flow_start)
        plan, prompt_text, patches = self._prepare(text, prompt_audio, prompt_text, ssml=ssml, speed=speed,
                                                   pause=pause)
        n = sum(item[0] == "speak" for item in plan)
        i = 0
        for item in plan:
            if item[0] == "pause":
                yield None, item[1], None
                continue
            _, chunk, chunk_speed = item
            if progress is not None:
                progress(i, n, chunk)
            chunk_options = dataclasses.replace(options, seed=options.seed + i)
            yield self._chunk_patches(chunk, prompt_text, patches, chunk_options), self._context(patches), chunk_speed
            i += 1

    @staticmethod
    def _stretched(patches, speed: float) -> Iterator[np.ndarray]:
        """Patches (P, D) -> frame blocks (T, D) time-stretched by ``speed`` (as they come; speed 1: as they are)."""
        if speed == 1.0:
            yield from patches
            return
        from ..audio import FrameStretcher

        stretcher = FrameStretcher(speed)
        for patch in patches:
            frames = stretcher.push(patch)
            if len(frames):
                yield frames
        frames = stretcher.flush()
        if len(frames):
            yield frames

    def stream(self, text: str, prompt_audio=None, prompt_text: str | None = None, *, cfg: float | None = None,
               steps: int | None = None, seed: int = 0, progress=None, flow_start: float | None = None,
               speed: float = 1.0, pause: float | None = None, volume=1.0, ssml: bool | None = None
               ) -> Iterator[np.ndarray]:
        """Text -> audio chunks (float32 at ``sample_rate``) as soon as each is decoded (one per patch for causal
        codecs; growing windows for the default voice's vocoder).

        Long text is split at sentence ends (. ! ? 。！？) into chunks of at most ``MAX_CHUNK_TOKENS`` tokens, each
        generated in turn with the same voice prompt; chunk i uses seed ``seed + i``. ``prompt_audio``: a path or an
        ``Audio`` (at most ``MAX_PROMPT_SECONDS``), with ``prompt_text`` its transcript (both or neither).
        ``progress(i, n, chunk_text)`` is called before chunk i (0-based) of n. With a prompt, each chunk's decoder
        starts from the prompt's last two patches (their audio is not output), as the official pipeline does (it
        always trims two patches' audio, even when a one-patch prompt gave one: there it drops a generated patch;
        here it does not).

        User control (defaults: the audio as generated): ``speed`` 0.5..2 (2: twice as fast), pitch kept: the
        generated mel frames are time-stretched (linear interpolation) before the vocoder (mel-vocoder voices only;
        other codecs refuse speed != 1). ``pause``: seconds of silence (0..10) between sentences (with a pause each
        sentence is generated on its own; without one, short sentences share a chunk, as always).
        ``volume``: a linear gain 0..4 or decibels ("-6dB"), the output clipped to [-1, 1]. ``ssml``: True: ``text``
        is an SSML document (``voxlite.text.ssml``: speak, break, prosody rate, say-as, phoneme, sub); None (the
        default): SSML when it starts with ``<speak``; False: plain text. Phonemes inline in text: ``[[həlˈO]]``
        (``voxlite.text.phonemes``)."""
        from ..audio import apply_gain, silence, volume_gain

        gain = volume_gain(volume)
        for patches, context, chunk_speed in self._sentences(text, prompt_audio, prompt_text, cfg, steps, seed,
                                                             flow_start, progress, ssml, speed, pause):
            if patches is None:
                yield silence(context, self.sample_rate)
                continue
            for audio in self._decode_stream(self._stretched(patches, chunk_speed), context):
                yield apply_gain(audio, gain)

    def synthesize(self, text: str, prompt_audio=None, prompt_text: str | None = None, *, cfg: float | None = None,
                   steps: int | None = None, seed: int = 0, progress=None, flow_start: float | None = None,
                   speed: float = 1.0, pause: float | None = None, volume=1.0, ssml: bool | None = None) -> Audio:
        """Text -> Audio: ``stream``'s sentence chunks, each decoded whole by the offline decoder (the same samples as
        concatenating ``stream``'s output, up to float rounding, for causal codecs and for windowed codecs whose
        window covers a local decoder's receptive field; the default voice's int8 vocoder differs by int8 rounding,
        22-42 dB SNR). ``speed``, ``pause``, ``volume``, ``ssml``: as ``stream``."""
        from ..audio import apply_gain, silence, stretch_frames, volume_gain

        gain = volume_gain(volume)
        pieces = []
        for patches, context, chunk_speed in self._sentences(text, prompt_audio, prompt_text, cfg, steps, seed,
                                                             flow_start, progress, ssml, speed, pause):
            if patches is None:
                pieces.append(silence(context, self.sample_rate))
                continue
            frames = np.concatenate([p[None] for p in patches]).reshape(-1, self.feat_dim)
            if chunk_speed != 1.0:
                frames = stretch_frames(frames, chunk_speed)
            latent = np.concatenate([context.reshape(-1, self.feat_dim), frames])
            audio = self.codec.decode_samples(np.ascontiguousarray(latent.T[None]))
            pieces.append(audio[len(context) * self.patch_size * self.hop_length:])
        samples = np.ascontiguousarray(np.concatenate(pieces), dtype=np.float32)
        return Audio(apply_gain(samples, gain), self.sample_rate)
