"""VoxCPM family (``model_type: "voxcpm"``): text tokens (+ an optional voice prompt) -> speech, patch by patch.

The loop (NumPy and native kernels; the graphs run on the chosen backend):

    prefill(prompt tokens + target tokens + audio_start, prompt patches) -> mu, stop, K/V of every position
    for i in 0 .. max_len - 1:
        patch_i = Euler solve t: 1 -> 0 on the sway grid of locdit velocities (CFG-Zero*, kernels.solvers) from noise
            (bundles with a prior head and flow_start < 1: t: flow_start -> 0 from the prior patch mixed with noise)
        decode patch_i with the streaming AudioVAE decoder (its state carries the left context)
        stop when i > min_len and P(stop) of the state that produced patch_i > stop_threshold (0.5: argmax)
        step(patch_i, length, the KVCache buffers as they are) -> mu, stop, K/V of position length
            (written into the buffers: one position copied per step, whatever the length)

Noise: one ``np.random.default_rng(seed).standard_normal((1, P, D), float32)`` draw per patch, in order (the PyTorch
reference ``VoxCPM.generate(noise=...)`` replays it). Bundle contract: see ``export/voxcpm.py``.
"""
from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from ..audio import Audio, resample
from ..errors import BundleError, InvalidInput
from .graph import GraphModel

STEP_KV = "buffer"  # the step graph's cache contract this pipeline runs (export/voxcpm.py, hparams["step_kv"])


def _logit(p: float) -> float:
    """log(p / (1 - p)): the stop logits' difference at which P(stop) = p; p must lie in (0, 1)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"stop_threshold must lie in (0, 1), got {p}")
    return math.log(p / (1.0 - p))


MAX_STEPS = 1000
MAX_CFG = 100.0
MAX_TEXT_CHARS = 5000  # synthesize / stream: longer input is refused (split it yourself)
MAX_PROMPT_SECONDS = 30.0  # voice prompt recordings: longer ones are refused (the official demos use 3-10 s)
MAX_CHUNK_TOKENS = 150  # sentences are merged into chunks of at most this many text tokens


class VoxCPMModel(GraphModel):
    def __init__(self, bundle, **kwargs):
        super().__init__(bundle, **kwargs)
        hp = bundle.hparams
        try:
            self.patch_size = int(hp["patch_size"])
            self.feat_dim = int(hp["feat_dim"])
            self.dit_dim = int(hp["dit_dim"])
            self.vocab_size = int(hp["vocab_size"])
            self.audio_start_token = int(hp["audio_start_token"])
            self.max_positions = int(hp["max_positions"])
            self.kv_specs = {lm: dict(hp["kv"][lm]) for lm in ("base", "residual")}
            self.vae = dict(hp["audio_vae"])
            self.hop_length = int(self.vae["hop_length"])
            self.defaults = {k: hp[k] for k in ("cfg", "steps", "sway_coef", "zero_init_ratio", "min_len",
                                                "max_len_ratio", "max_len_offset", "max_len_cap")}
            self.defaults["flow_start"] = hp.get("flow_start", 1.0)  # bundles before shallow solves: from noise
            # stop once P(stop) exceeds this (0.5: the official argmax); a bundle may ask for more certainty
            self.stop_logit = _logit(float(hp.get("stop_threshold", 0.5)))
            self.position_rate = float(hp.get("audio_position_rate", 0.0))  # > 0: the step takes its position
            self.voice_prompt = bool(hp.get("voice_prompt", True))
            window = self.vae.get("window")  # non-causal decoders: streamed in overlapping windows
            self.window = None if window is None else (int(window["left"]), int(window["right"]))
        except (KeyError, TypeError, ValueError) as e:
            raise BundleError(f"voxcpm bundle hparams are incomplete or malformed: {e!r}") from None
        step_kv = hp.get("step_kv")
        if step_kv != STEP_KV:
            raise BundleError(f"voxcpm bundle {bundle.name!r} has a step graph with the "
                              f"{step_kv or 'past K/V (current length)'!r} cache contract; this voxlite runs "
                              f"{STEP_KV!r} (fixed-size cache buffers + length): re-export it with export/voxcpm.py")
        # a prior head (shallow solves, flow_start < 1): prefill and step both output its patch
        self.has_prior = all("prior" in {t.name for t in bundle.graph(g).outputs} for g in ("prefill", "step"))
        try:
            self._check_scalars(self.defaults["cfg"], self.defaults["steps"], 0, None, self.defaults["flow_start"])
            self._check_flow_start(self.defaults["flow_start"])
        except InvalidInput as e:
            raise BundleError(f"voxcpm bundle {bundle.name!r} has bad generation defaults: {e}") from None
        if bundle.sample_rate is None:
            raise BundleError("voxcpm bundle has no sample_rate")
        if int(self.vae.get("latent_dim", -1)) != self.feat_dim:
            raise BundleError(f"audio_vae latent_dim {self.vae.get('latent_dim')} != feat_dim {self.feat_dim}")
        self.sample_rate = bundle.sample_rate
        self._kv_names = {}
        for lm in ("base", "residual"):
            for i in range(int(self.kv_specs[lm]["n_layers"])):
                self._kv_names.setdefault(lm, []).append((f"{lm}.{i}.key", f"{lm}.{i}.value"))
        step_inputs = {t.name for t in bundle.graph("step").inputs}
        expected = {"patch", "length", *(f"cache.{lm}.{i}" for lm, names in self._kv_names.items()
                                         for i in range(len(names)))}
        if self.position_rate:
            expected.add("position")
        if step_inputs != expected:
            raise BundleError(f"voxcpm step graph inputs {sorted(step_inputs)} do not match hparams "
                              f"(expected {sorted(expected)})")

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

    def encode_prompt(self, audio: Audio | np.ndarray, sample_rate: int | None = None, *,
                      max_patches: int | None = None) -> np.ndarray:
        """Prompt audio -> patches (N, P, D): left-padded to whole patches (official), AudioVAE-encoded.
        ``max_patches``: refuse longer audio before encoding it."""
        if isinstance(audio, Audio):
            samples, rate = audio.samples, audio.sample_rate
        else:
            if sample_rate is None:
                raise InvalidInput("pass sample_rate with a raw sample array")
            samples, rate = np.asarray(audio), sample_rate
        if samples.ndim != 1 or samples.size == 0:
            raise InvalidInput(f"prompt audio must be non-empty mono samples (N,), got shape {samples.shape}")
        if not np.isfinite(samples).all():
            raise InvalidInput("prompt audio contains NaN or infinite samples")
        patch_len = self.patch_size * self.hop_length
        if max_patches is not None and samples.size * self.sample_rate / rate > (max_patches + 1) * patch_len:
            raise InvalidInput(f"input is too long: the prompt audio alone is longer than this model's "
                               f"{self.max_positions} positions ({self.max_positions * patch_len / self.sample_rate:.1f} s)")
        x = resample(samples.astype(np.float32), rate, self.sample_rate)
        x = np.pad(x, ((-len(x)) % patch_len, 0))
        latents = self.run("encoder", audio=np.ascontiguousarray(x[None, None]))["latents"]  # (1, D, T)
        n = latents.shape[-1] // self.patch_size
        return np.ascontiguousarray(latents[0].reshape(self.feat_dim, n, self.patch_size).transpose(1, 2, 0))

    def _options(self, cfg, steps, seed, max_patches, n_target: int, prefix: int) -> tuple[float, int, int, int]:
        self._check_scalars(cfg, steps, seed, max_patches)
        room = self.max_positions - prefix + 1  # the last patch needs no step: N patches use N - 1 positions
        if room < 1:
            raise InvalidInput(f"input is too long: {prefix} positions (text + prompt patches); this model holds "
                               f"{self.max_positions}")
        d = self.defaults
        max_len = min(int(n_target * float(d["max_len_ratio"]) + int(d["max_len_offset"])), int(d["max_len_cap"]))
        if max_patches is not None:
            max_len = int(max_patches)
        return float(cfg), int(steps), int(seed), min(max_len, room)

    def _check_flow_start(self, flow_start) -> None:
        if flow_start is not None and float(flow_start) < 1.0 and not self.has_prior:
            raise InvalidInput(f"flow_start {flow_start!r} < 1 starts the solve from the prior head's patch; bundle "
                               f"{self.bundle.name!r} has no prior head (its prefill / step graphs output no prior)")

    @staticmethod
    def _check_scalars(cfg, steps, seed, max_patches, flow_start=None) -> None:
        """None for cfg / steps / flow_start: the bundle's defaults (checked at load)."""
        if cfg is not None and (isinstance(cfg, bool) or not isinstance(cfg, (int, float, np.floating, np.integer))
                                or not math.isfinite(float(cfg)) or not 0.0 <= float(cfg) <= MAX_CFG):
            raise InvalidInput(f"cfg must be a finite number in [0, {MAX_CFG:g}], got {cfg!r}")
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, (int, np.integer))
                                  or not 1 <= steps <= MAX_STEPS):
            raise InvalidInput(f"steps must be an integer in 1..{MAX_STEPS}, got {steps!r}")
        if flow_start is not None and (isinstance(flow_start, bool)
                                       or not isinstance(flow_start, (int, float, np.floating, np.integer))
                                       or not 0.0 <= float(flow_start) <= 1.0):
            raise InvalidInput(f"flow_start must be a number in [0, 1] (1: the solve starts from noise; 0: the "
                               f"prior head's patch, no solve), got {flow_start!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise InvalidInput(f"seed must be a non-negative integer, got {seed!r}")
        if max_patches is not None and (isinstance(max_patches, bool) or not isinstance(max_patches, (int, np.integer))
                                        or max_patches < 1):
            raise InvalidInput(f"max_patches must be a positive integer, got {max_patches!r}")

    # -- generation ---------------------------------------------------------------------------------
    def generate_patches(self, text_tokens, prompt_tokens=None, prompt_audio=None, *, cfg: float | None = None,
                         steps: int | None = None, seed: int = 0, max_patches: int | None = None,
                         prompt_sample_rate: int | None = None, prompt_patches: np.ndarray | None = None,
                         flow_start: float | None = None) -> Iterator[np.ndarray]:
        """Yield each generated latent patch (P, D) as soon as it is solved. ``prompt_patches``: an
        ``encode_prompt`` result, instead of ``prompt_audio`` (to encode a prompt once for many sentences).
        ``flow_start`` < 1 (bundles with a prior head): each solve starts at that time from the prior head's patch
        mixed with the noise (``solvers.shallow_start``) instead of from noise: cheaper, and closer to the prior;
        0: the prior head's patch is the patch (no LocDiT call)."""
        from ..kernels import solvers
        from ..kernels.kvcache import KVCache

        text = self._tokens(text_tokens, "text_tokens")
        prompt_text = self._tokens(prompt_tokens, "prompt_tokens", allow_empty=True)
        P, D = self.patch_size, self.feat_dim
        cfg = self.defaults["cfg"] if cfg is None else cfg  # the bundle's own (tuned at export)
        steps = int(self.defaults["steps"]) if steps is None else steps
        flow_start = self.defaults["flow_start"] if flow_start is None else flow_start
        self._check_scalars(cfg, steps, seed, max_patches, flow_start)
        self._check_flow_start(flow_start)
        flow_start = float(flow_start)
        room = self.max_positions - prompt_text.size - text.size - 1
        if prompt_patches is not None:
            prompt = np.asarray(prompt_patches, np.float32).reshape(-1, P, D)
        elif prompt_audio is not None:
            prompt = self.encode_prompt(prompt_audio, prompt_sample_rate, max_patches=max(room, 0))
        else:
            prompt = np.zeros((0, P, D), np.float32)
        n_text = prompt_text.size + text.size + 1
        T = n_text + prompt.shape[0]
        cfg, steps, seed, max_len = self._options(cfg, steps, seed, max_patches, text.size, T)

        tokens = np.zeros((1, T), np.int64)
        tokens[0, :n_text] = np.concatenate((prompt_text, text, [self.audio_start_token]))
        text_mask = np.zeros((1, T), np.float32)
        text_mask[0, :n_text] = 1
        feats = np.zeros((1, T, P, D), np.float32)
        feats[0, n_text:] = prompt
        out = self.run("prefill", text_tokens=tokens, text_mask=text_mask, audio_feats=feats,
                       audio_mask=1 - text_mask)
        # The step graph reads the caches' fixed-size buffers in place (slots >= length ignored): no per-step copy,
        # but it pays for every slot (default voice, int8, 1 thread: 0.95 ms a step at 128 slots, 1.9 at 360, 2.7
        # at 700). So the caches start with room for KV_START_PATCHES patches and double when full.
        full = T + max_len
        caches = {lm: KVCache.from_spec(self.kv_specs[lm], max_len=min(full, T + self.KV_START_PATCHES))
                  for lm in ("base", "residual")}
        self._append(caches, out)
        feeds = self._cache_feeds(caches)
        mu, stop_logits, prior = out["mu"], out["stop_logits"], out.get("prior")
        cond = np.ascontiguousarray(feats[:, -1])  # last prompt patch, zeros without a prompt

        if flow_start > 0:  # flow_start 0 never runs (or loads) the LocDiT
            ts = solvers.shallow_timesteps(steps, flow_start, schedule="sway",
                                           sway_coef=float(self.defaults["sway_coef"]))
            # CFG-Zero*'s zero-velocity steps are for a start at pure noise
            zero_init = max(1, int(len(ts) * float(self.defaults["zero_init_ratio"]))) if flow_start >= 1 else 0
            locdit = self.session("locdit")
        min_len = int(self.defaults["min_len"])
        rng = np.random.default_rng(seed)
        for i in range(max_len):
            z = rng.standard_normal((1, P, D), dtype=np.float32)
            if flow_start == 0:  # the prior head's patch as it is: no LocDiT call
                patch = np.array(prior, np.float32)
            else:
                if flow_start < 1:
                    z = solvers.shallow_start(prior, z, flow_start)

                def velocity(x, t, mu=mu, cond=cond):
                    v = locdit.run({"x": x, "t": np.full((1,), t, np.float32), "mu": mu, "cond": cond})["velocity"]
                    return v[:1], v[1:]

                patch = solvers.integrate_flow(velocity, z, ts, cfg_scale=cfg, cfg_mode="zero_star",
                                               zero_init_steps=zero_init)  # (1, P, D)
            yield patch[0].copy()  # the caller may keep or modify it; the loop keeps patch as cond
            cond = patch
            if i > min_len and float(stop_logits[0, 1] - stop_logits[0, 0]) > self.stop_logit:
                break
            if i + 1 < max_len:
                if any(c.length == c.capacity for c in caches.values()):  # the step adds a position to each
                    caches = {lm: c.grown(min(full, 2 * c.capacity)) if c.length == c.capacity else c
                              for lm, c in caches.items()}
                    feeds.update(self._cache_feeds(caches))
                feeds["patch"] = patch
                feeds["length"] = np.array([caches["base"].length], np.int64)
                if self.position_rate:  # rate-scaled RoPE position of this patch: audio patches before it + 0.5
                    feeds["position"] = np.array([(prompt.shape[0] + i + 0.5) * self.position_rate], np.float32)
                out = self.run("step", feeds)
                self._append(caches, out)
                mu, stop_logits, prior = out["mu"], out["stop_logits"], out.get("prior")

    KV_START_PATCHES = 64  # KV cache slots for generated patches before the first doubling (~5.5 s of audio)

    @staticmethod
    def _cache_feeds(caches) -> dict[str, np.ndarray]:
        return {f"cache.{lm}.{i}": cache.buffer(i) for lm, cache in caches.items() for i in range(cache.shape[0])}

    def _append(self, caches, out) -> None:
        for lm, cache in caches.items():
            names = self._kv_names[lm]
            cache.append([out[f"present.{k}"] for k, _ in names], [out[f"present.{v}"] for _, v in names])

    def generate_latents(self, text_tokens, prompt_tokens=None, prompt_audio=None, **options) -> np.ndarray:
        """All generated patches as AudioVAE latents (1, D, N * P)."""
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
        audio = self.run("decoder", latents=latents)["audio"]
        return Audio(np.ascontiguousarray(audio[0, 0]), self.sample_rate)

    def stream_tokens(self, text_tokens, prompt_tokens=None, prompt_audio=None, *, cfg: float | None = None,
                      steps: int | None = None, seed: int = 0, max_patches: int | None = None,
                      prompt_sample_rate: int | None = None, flow_start: float | None = None
                      ) -> Iterator[np.ndarray]:
        """Yield audio chunks (P * hop samples each), one per patch as it is generated; they concatenate to
        ``synthesize_tokens``'s samples (the causal AudioVAE decoder carries its state across patches)."""
        patches = self.generate_patches(text_tokens, prompt_tokens, prompt_audio, cfg=cfg, steps=steps, seed=seed,
                                        max_patches=max_patches, prompt_sample_rate=prompt_sample_rate,
                                        flow_start=flow_start)
        if self.window is not None:
            yield from self._decode_windows(patches)
            return
        states = {s["name"]: np.zeros([1 if d == "batch" else d for d in s["shape"]], np.float32)
                  for s in self.vae.get("stream_states", [])}
        session = self.session("decoder_stream")
        for patch in patches:
            out = session.run({"latents": np.ascontiguousarray(patch.T[None]), **states})
            states = {name: out[f"new_{name}"] for name in states}
            yield out["audio"][0, 0]

    # -- text in --------------------------------------------------------------------------------------
    @property
    def tokenizer(self):
        """The bundle's tokenizer (official VoxCPM tokenization), loaded on first use."""
        if getattr(self, "_tokenizer", None) is None:
            from ..text.voxcpm_tokenizer import VoxCPMTokenizer

            spec = self.bundle.manifest.tokenizer
            if spec and spec.get("type") == "voxlite-g2p-en" and "file" in spec:
                from ..text.english_g2p import EnglishG2P

                letter_to_sound = None
                if "letter_to_sound" in spec:
                    from ..backends import open_session
                    from ..text.letter_to_sound import LetterToSound

                    # ONNX Runtime's CPU, one thread, whatever backend the acoustic graphs use: a word is a few
                    # dozen positions, and only words the lexicon lacks reach it
                    letter_to_sound = LetterToSound(open_session(self.bundle.root / spec["letter_to_sound"],
                                                                 backend="cpu", threads=1))
                self._tokenizer = EnglishG2P.from_file(self.bundle.root / spec["file"], letter_to_sound)
                return self._tokenizer
            if not spec or spec.get("type") != "hf-tokenizers" or "file" not in spec:
                raise BundleError(f"bundle {self.bundle.name!r} has no hf-tokenizers tokenizer: text input needs one "
                                  "(re-export it from a checkpoint directory with tokenizer.json)")
            self._tokenizer = VoxCPMTokenizer.from_file(self.bundle.root / spec["file"])
        return self._tokenizer

    def _prepare(self, text, prompt_audio, prompt_text, cfg, steps, seed, flow_start):
        """Checks -> (chunks of text, prompt transcript or None, prompt patches or None)."""
        from ..audio import read_audio
        from ..text.sentences import chunk_text

        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("text is empty")
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidInput(f"text is too long: {len(text)} characters; the limit is {MAX_TEXT_CHARS}")
        if not self.voice_prompt and (prompt_audio is not None or prompt_text is not None):
            raise InvalidInput(f"bundle {self.bundle.name!r} is a single voice and takes no voice prompt")
        if (prompt_audio is None) != (prompt_text is None):
            raise InvalidInput("a voice prompt needs both prompt_audio (the recording) and prompt_text "
                               "(its transcript)")
        self._check_scalars(cfg, steps, seed, None, flow_start)
        self._check_flow_start(flow_start)
        patches, n_prompt = None, 0
        if prompt_audio is not None:
            if not isinstance(prompt_text, str) or not prompt_text.strip():
                raise InvalidInput("prompt_text (the transcript of the prompt audio) is empty")
            if len(prompt_text) > MAX_TEXT_CHARS:
                raise InvalidInput(f"prompt_text is too long: {len(prompt_text)} characters; the limit is "
                                   f"{MAX_TEXT_CHARS}")
            if isinstance(prompt_audio, Audio):
                audio = prompt_audio
                if audio.duration > MAX_PROMPT_SECONDS:
                    raise InvalidInput(f"prompt audio lasts {audio.duration:.1f} s; the limit is "
                                       f"{MAX_PROMPT_SECONDS:g} s")
            else:
                from ..errors import AudioError

                try:
                    audio = read_audio(prompt_audio, max_seconds=MAX_PROMPT_SECONDS)
                except AudioError as e:
                    if "the limit is" in str(e):  # over MAX_PROMPT_SECONDS: an input limit, not a bad file
                        raise InvalidInput(f"prompt audio {e}") from None
                    raise
            n_prompt = self.tokenizer.count(prompt_text)
            room = self.max_positions - n_prompt - 1
            patches = self.encode_prompt(audio, max_patches=max(room, 0))
            n_prompt += patches.shape[0]
        # room for text tokens: the rest of the positions, most of them left to the generated audio
        available = self.max_positions - n_prompt - 1
        limit = min(MAX_CHUNK_TOKENS, available // 3)
        if limit < 1:
            raise InvalidInput(f"the voice prompt fills this model's {self.max_positions} positions; use a shorter one")
        chunks = chunk_text(text, limit, self.tokenizer.count)
        if not chunks:
            raise InvalidInput("text is empty")
        return chunks, prompt_text, patches

    def _chunk_patches(self, chunk, prompt_text, patches, cfg, steps, seed, flow_start):
        ids, n_target = self.tokenizer.encode_pair(chunk, prompt_text)
        if n_target == 0:
            raise InvalidInput(f"text {chunk!r} has no tokens")
        d = self.defaults
        max_len = min(int(n_target * float(d["max_len_ratio"]) + int(d["max_len_offset"])), int(d["max_len_cap"]))
        return self.generate_patches(ids, None, None, cfg=cfg, steps=steps, seed=seed, max_patches=max_len,
                                     prompt_patches=patches, flow_start=flow_start)

    PROMPT_CONTEXT_PATCHES = 2  # official streaming_prefix_len - 1

    def _context(self, patches) -> np.ndarray:
        """The prompt's last patches, decoded before the generated ones and their audio dropped (as voxcpm 2.0.3:
        the decoder starts from the voice's left context, not from silence). (N, P, D), N <= 2."""
        if patches is None:
            return np.zeros((0, self.patch_size, self.feat_dim), np.float32)
        return patches[-self.PROMPT_CONTEXT_PATCHES:]

    def stream(self, text: str, prompt_audio=None, prompt_text: str | None = None, *, cfg: float | None = None,
               steps: int | None = None, seed: int = 0, progress=None, flow_start: float | None = None
               ) -> Iterator[np.ndarray]:
        """Text -> audio chunks (float32 (P * hop,) at ``sample_rate``), one per patch as soon as it is decoded.

        Long text is split at sentence ends (. ! ? 。！？) into chunks of at most ``MAX_CHUNK_TOKENS`` tokens, each
        generated in turn with the same voice prompt; chunk i uses seed ``seed + i``. ``prompt_audio``: a path or an
        ``Audio`` (at most ``MAX_PROMPT_SECONDS``), with ``prompt_text`` its transcript (both or neither).
        ``progress(i, n, chunk_text)`` is called before chunk i (0-based) of n. With a prompt, each chunk's decoder
        starts from the prompt's last two patches (their audio is not output), as the official pipeline does (it
        always trims two patches' audio, even when a one-patch prompt gave one: there it drops a generated patch;
        here it does not)."""
        chunks, prompt_text, patches = self._prepare(text, prompt_audio, prompt_text, cfg, steps, seed, flow_start)
        if self.window is not None:
            for i, chunk in enumerate(chunks):
                if progress is not None:
                    progress(i, len(chunks), chunk)
                yield from self._decode_windows(self._chunk_patches(chunk, prompt_text, patches, cfg, steps,
                                                                    seed + i, flow_start))
            return
        session = self.session("decoder_stream")
        specs = self.vae.get("stream_states", [])
        for i, chunk in enumerate(chunks):
            if progress is not None:
                progress(i, len(chunks), chunk)
            states = {s["name"]: np.zeros([1 if d == "batch" else d for d in s["shape"]], np.float32) for s in specs}
            for patch in self._context(patches):  # warm the decoder on the prompt's last patches, audio dropped
                out = session.run({"latents": np.ascontiguousarray(patch.T[None]), **states})
                states = {name: out[f"new_{name}"] for name in states}
            for patch in self._chunk_patches(chunk, prompt_text, patches, cfg, steps, seed + i, flow_start):
                out = session.run({"latents": np.ascontiguousarray(patch.T[None]), **states})
                states = {name: out[f"new_{name}"] for name in states}
                yield out["audio"][0, 0]

    STREAM_CHUNK_FRAMES = 32  # the largest windowed-stream chunk (~0.34 s of 24 kHz audio at hop 256)

    def _decode_windows(self, patches) -> Iterator[np.ndarray]:
        """Stream a non-causal decoder: decode the frames whose right context (``window`` right frames) exists,
        with ``left`` frames of left context, and yield their audio. The first chunk goes out as soon as it can
        (time to first audio); each later one waits for twice the previous one's frames, up to
        ``STREAM_CHUNK_FRAMES``, because every decode repeats its context: 8-frame chunks with 16 + 8 context frames
        cost 4x the offline decode, 32-frame ones 1.75x. Offline decoding of the same frames differs only by the
        context cut at the window edges."""
        left, right = self.window
        frames, emitted, wanted = [], 0, 1
        for patch in patches:
            frames.append(patch)
            ready = len(frames) * self.patch_size - right
            if ready - emitted >= wanted:
                yield self._decode_span(frames, emitted, ready, left, right)
                wanted = min(2 * (ready - emitted), self.STREAM_CHUNK_FRAMES)
                emitted = ready
        total = len(frames) * self.patch_size
        if total > emitted:
            yield self._decode_span(frames, emitted, total, left, right)

    def _decode_span(self, patches: list, start: int, end: int, left: int, right: int) -> np.ndarray:
        """Audio of mel frames [start, end), decoded from frames [start - left, end + right) (clipped)."""
        mel = np.concatenate(patches).reshape(-1, self.feat_dim)  # (F, D)
        lo, hi = max(0, start - left), min(mel.shape[0], end + right)
        audio = self.run("decoder", latents=np.ascontiguousarray(mel[lo:hi].T[None]))["audio"][0, 0]
        a = (start - lo) * self.hop_length
        b = (end - lo) * self.hop_length if end < mel.shape[0] else len(audio)
        return np.ascontiguousarray(audio[a:b])

    def synthesize(self, text: str, prompt_audio=None, prompt_text: str | None = None, *, cfg: float | None = None,
                   steps: int | None = None, seed: int = 0, progress=None, flow_start: float | None = None) -> Audio:
        """Text -> Audio: ``stream``'s chunks, each sentence chunk decoded whole by the offline decoder
        (same samples as concatenating ``stream``'s output, up to float rounding)."""
        chunks, prompt_text, patches = self._prepare(text, prompt_audio, prompt_text, cfg, steps, seed, flow_start)
        pieces = []
        for i, chunk in enumerate(chunks):
            if progress is not None:
                progress(i, len(chunks), chunk)
            context = self._context(patches)
            latent = np.concatenate([context, *(p[None] for p in self._chunk_patches(chunk, prompt_text, patches,
                                                                                     cfg, steps, seed + i,
                                                                                     flow_start))])
            latent = np.ascontiguousarray(latent.reshape(-1, self.feat_dim).T[None])
            audio = self.run("decoder", latents=latent)["audio"][0, 0]
            pieces.append(audio[len(context) * self.patch_size * self.hop_length:])
        return Audio(np.ascontiguousarray(np.concatenate(pieces), dtype=np.float32), self.sample_rate)
