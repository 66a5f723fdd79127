"""UniAudio (``model_type: "uniaudio"``): one MegaByte LM over a joint vocabulary for many audio tasks, driven frame
by frame with native kernels; torch-free.

    inputs -> prefix ids (``uniaudio_sequences``: the task's segments, then <audio_start>)      audio -> codec codes
    global_prefill(prefix frames, T5 features of its placeholder frames) -> global KV        (KVGroups "global")
    per frame i:  global_step(previous frame, position P + i) -> g2l (3, C)
                  for codebook l = 0, 1, 2:  local_step(previous id, l, g2l[l]) -> logits of codebook l's ids and
                  <audio_end> (local KV: 3 fixed slots) -> native sampler (top-k, temperature; seed, step 3 i + l)
                  <audio_end> (forbidden before frame minlen - 1) ends the run; a cut frame is dropped
    codes (3, F) -> codec decoder -> Audio

The loop is the reference's ``UniAudioLM.generate``: the same forbidden ids per local step, top-k over the allowed
ids (the reference's full-vocabulary log-softmax is a constant per row, which top-k and the temperature softmax
ignore), the same frame limits. Draw k of a run is ``sampling.sample(logits, seed=seed, step=k)``, a pure function
of its inputs: the same seed gives the same tokens on every backend whose logits agree. Defaults come from the
bundle (UniAudio's top-k 30; at most ``maxlen_ratio`` and at least ``minlen_ratio`` times the prefix's frames,
its <audio_start> frame not counted).

Task methods: ``synthesize`` (tts / plain_tts / InstructTTS from phone ids), ``convert`` (VC from semantic ids and
a target voice), ``generate`` (TSS / TTM from T5 features), ``transform`` (SE, Speech_RIR, Spex: audio in, audio
out), and ``run_task`` for any task the bundle declares. A task the bundle was not trained for raises
CapabilityError; bad input InvalidInput.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..audio import Audio, input_samples, resample
from ..errors import BundleError, CapabilityError, InvalidInput
from ..hparams import UniAudioLMHParams
from .codec import Codec
from .generation import GenerationOptions, KVGroups, _integer
from .graph import GraphModel, one_component
from .uniaudio_sequences import AUDIO_TYPES, FRAME, TASK_FORMATS, TASKS, UniAudioSequence

KV_START_FRAMES = 128  # the global cache starts with this many free slots and doubles when full
TASK_ALIASES = {"sound": "TSS", "music": "TTM"}


@dataclass
class UniAudioResult:
    """One run: ``frames`` (F, 3) complete generated frames (joint ids), ``codes`` (3, F) their codec codes,
    ``tokens`` every generated id (up to and including the first <audio_end>), ``ended`` whether <audio_end>
    came (else the frame limit), ``partial`` the ids of a frame <audio_end> cut short (dropped from ``frames``)."""
    frames: np.ndarray
    codes: np.ndarray
    tokens: np.ndarray
    ended: bool
    partial: np.ndarray
    prefix_frames: int


class UniAudioModel(GraphModel):
    capabilities = ("speech-to-speech",)

    def __init__(self, bundle, **kwargs):
        super().__init__(bundle, **kwargs)
        self.lm = one_component(bundle, "uniaudio-lm")
        hp = self.hparams = UniAudioLMHParams.from_json(bundle.component(self.lm).hparams,
                                                        f"bundle {bundle.name!r}: components.{self.lm}.hparams")
        self.vocab = hp.vocabulary()
        self.codec = Codec(self.sessions, one_component(bundle, "codec"))
        if self.codec.kind != "rvq" or self.codec.n_q < FRAME or self.codec.codebook_size != self.vocab.bins:
            raise BundleError(f"bundle {bundle.name!r}: the lm models {FRAME} codebooks of {self.vocab.bins} codes; "
                              f"its codec has {self.codec.n_q} of {self.codec.codebook_size}")
        expected = {
            "global_prefill": {"frames", "features", "feature_mask"},
            "global_step": {"frame", "length", *KVGroups.input_names({"global": hp.kv["global"]})},
            "local_step": {"token", "index", "g2l", *KVGroups.input_names({"local": hp.kv["local"]})},
        }
        for graph, names in expected.items():
            got = {t.name for t in bundle.graph(f"{self.lm}/{graph}").inputs}
            if got != names:
                raise BundleError(f"uniaudio {graph} inputs {sorted(got)} do not match hparams "
                                  f"(expected {sorted(names)})")
        self.sample_rate = self.codec.sample_rate
        self.frame_rate = self.codec.frame_rate
        self.tasks = hp.tasks
        self.defaults = {"temperature": hp.temperature, "top_k": hp.top_k}
        self._codebase = np.array([self.vocab.codebook_range(c)[0] for c in range(FRAME)], np.int64)

    # -- options / tasks -------------------------------------------------------------------------------------
    def options(self, *, seed=0, temperature=None, top_k=None, max_length=None) -> GenerationOptions:
        """Sampling options (None: the bundle's defaults). ``temperature=0``: greedy. ``max_length``: frames."""
        return GenerationOptions(seed=seed, temperature=temperature, top_k=top_k,
                                 max_length=max_length).resolved(self.defaults)

    def require_task(self, task: str) -> str:
        """The task's canonical name; InvalidInput for an unknown task, CapabilityError for one the bundle lacks."""
        if not isinstance(task, str):
            raise InvalidInput(f"task must be a string, got {type(task).__name__}")
        task = TASK_ALIASES.get(task, task)
        if task not in TASK_FORMATS:
            raise InvalidInput(f"unknown UniAudio task {task!r}; tasks: {', '.join(TASKS)}")
        if task not in self.tasks:
            raise CapabilityError(f"bundle {self.bundle.name!r} was not trained for {task}; its tasks: "
                                  f"{', '.join(self.tasks)}")
        return task

    # -- inputs ----------------------------------------------------------------------------------------------
    def encode_audio(self, audio, sample_rate: int | None = None, *, what: str = "audio") -> np.ndarray:
        """Audio (an Audio, samples with ``sample_rate``, or a path) -> codec codes (3, T) int64."""
        limit = self.hparams.max_prompt_seconds
        samples, rate = input_samples(audio, sample_rate, what=what, max_seconds=limit)
        if samples.size / rate > limit:
            raise InvalidInput(f"{what} is {samples.size / rate:.1f} s long; the limit is {limit:g} s")
        x = resample(samples, rate, self.sample_rate)
        return np.ascontiguousarray(self.codec.encode(x, self.sample_rate, n_q=FRAME)[0]).astype(np.int64)

    def _input(self, task: str, key: str, value):
        """Audio-typed inputs may be recordings (encoded here) or codes (3, T) / flat tokens; the rest as given."""
        kind = dict(zip(TASK_FORMATS[task].keys, TASK_FORMATS[task].types)).get(key)
        if kind in AUDIO_TYPES and (isinstance(value, (Audio, str, os.PathLike))):
            return self.encode_audio(value, what=key)
        return value

    def prefix(self, task: str, **inputs) -> UniAudioSequence:
        """The inference prefix of ``task`` (checked against the bundle's tasks) from its inputs."""
        task = self.require_task(task)
        inputs = {k: self._input(task, k, v) for k, v in inputs.items()}
        return self.vocab.build_prefix(task, **inputs)

    # -- the search ------------------------------------------------------------------------------------------
    def _lm(self, graph: str):
        return self.sessions.get(f"{self.lm}/{graph}")

    def search(self, sequence: UniAudioSequence, options: GenerationOptions | None = None, *,
               min_length: int | None = None) -> UniAudioResult:
        """Generate audio frames after a prefix (``prefix``'s result). ``options.max_length`` / ``min_length``
        count frames (defaults: the bundle's ratios of the prefix's frames); <audio_end> is forbidden in frames
        0 .. min_length-2."""
        from ..kernels import sampling
        from ..kernels.kvcache import KVCache

        hp, vocab = self.hparams, self.vocab
        options = options or self.options()
        ids = np.asarray(sequence.ids, np.int64).reshape(-1)
        if ids.size == 0 or ids.size % FRAME:
            raise InvalidInput(f"the prefix must be whole frames of {FRAME} ids, got {ids.size}")
        P = ids.size // FRAME
        room = hp.n_ctx - P
        if room < 1:
            raise InvalidInput(f"the input is too long: its prefix is {P} frames, the model's context {hp.n_ctx} "
                               "frames leaves no room to generate; shorten it")
        if ids.min() < 0 or ids.max() >= len(vocab):
            raise InvalidInput(f"prefix ids must be in 0..{len(vocab) - 1}")
        cond = P - 1  # the conditioning frames (the <audio_start> frame not counted), as the official ratios
        maxlen = options.max_length if options.max_length is not None else max(1, int(hp.maxlen_ratio * cond))
        maxlen = min(maxlen, room)
        if min_length is None:
            min_length = int(hp.minlen_ratio * cond)
        _integer(min_length, "min_length", 0, 1_000_000)
        frames = ids.reshape(1, P, FRAME)
        features = np.zeros((1, P, hp.continuous_dim), np.float32)
        mask = np.zeros((1, P), np.float32)
        for seg in sequence.continuous_segments:
            rows = np.asarray(seg.features, np.float32)[::FRAME]
            if rows.ndim != 2 or rows.shape[1] != hp.continuous_dim:
                raise InvalidInput(f"{seg.type} features must have {hp.continuous_dim} columns (the model's T5 "
                                   f"width), got shape {np.asarray(seg.features).shape}")
            f0 = seg.start // FRAME
            features[0, f0:f0 + rows.shape[0]] = rows
            mask[0, f0:f0 + rows.shape[0]] = 1.0

        out = self._lm("global_prefill").run({"frames": frames, "features": features, "feature_mask": mask})
        kv = KVGroups({"global": hp.kv["global"]}, capacity=P + KV_START_FRAMES, limit=P + maxlen)
        kv.append(out)
        spec = hp.kv["local"]
        local = KVCache(spec.n_layers, 1, spec.n_kv_heads, FRAME, spec.head_dim, spec.dtype)
        local_feeds = {f"cache.local.{i}": local.buffer(i) for i in range(spec.n_layers)}
        local_present = ([f"present.local.{i}.key" for i in range(spec.n_layers)],
                         [f"present.local.{i}.value" for i in range(spec.n_layers)])
        global_step, local_step = self._lm("global_step"), self._lm("local_step")
        local_sos, audio_end, bins = vocab.special("<mega_local>"), vocab.special("<audio_end>"), vocab.bins
        greedy = not options.temperature

        prev = frames[0, -1]
        tokens: list[int] = []
        ended = False
        for i in range(maxlen):
            kv.make_room(1)
            g = global_step.run({**kv.feeds(), "frame": prev[None], "length": np.array([kv.length], np.int64)})
            kv.append(g)
            g2l = g["g2l"]  # (1, 3, C)
            local.reset()
            token = local_sos
            frame: list[int] = []
            for l in range(FRAME):
                o = local_step.run({**local_feeds, "token": np.array([token], np.int64),
                                    "index": np.array([l], np.int64), "g2l": np.ascontiguousarray(g2l[:, l])})
                local.append([o[k] for k in local_present[0]], [o[v] for v in local_present[1]])
                logits = np.array(o["logits"], np.float32)  # (1, bins + 1): codebook l's ids, then <audio_end>
                if i + 1 < min_length:
                    logits[0, bins] = -np.inf
                j = int((sampling.greedy(logits) if greedy else
                         sampling.sample(logits, temperature=options.temperature, top_k=options.top_k,
                                         seed=options.seed, step=FRAME * i + l))[0])
                token = audio_end if j == bins else int(self._codebase[l]) + j
                tokens.append(token)
                if token == audio_end:
                    ended = True
                    break
                frame.append(token)
            if ended:
                break
            prev = np.array(frame, np.int64)
        body = tokens[:-1] if ended else tokens
        n_whole = len(body) // FRAME
        whole = np.array(body[:n_whole * FRAME], np.int64).reshape(n_whole, FRAME)
        return UniAudioResult(frames=whole, codes=(whole - self._codebase).T.copy(), tokens=np.array(tokens, np.int64),
                              ended=ended, partial=np.array(body[n_whole * FRAME:], np.int64), prefix_frames=P)

    def run_task(self, task: str, *, seed: int = 0, temperature=None, top_k=None, max_length=None,
                 min_length=None, **inputs) -> UniAudioResult:
        """Any task the bundle declares, its inputs by the task format's keys (``TASK_FORMATS``): codes / ids /
        features, or recordings for audio keys."""
        options = self.options(seed=seed, temperature=temperature, top_k=top_k, max_length=max_length)
        return self.search(self.prefix(task, **inputs), options, min_length=min_length)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Codes (3, F) -> float32 samples at ``sample_rate`` (F hops long; fewer frames than the decoder takes are
        padded with the last frame and the padding's samples cut off)."""
        codes = np.asarray(codes, np.int64)
        F = codes.shape[1]
        if F == 0:
            raise InvalidInput("the model ended the audio before its first frame (nothing to decode); try another "
                               "seed or a longer min_length")
        if F < self.codec.min_frames:
            codes = np.concatenate((codes, np.repeat(codes[:, -1:], self.codec.min_frames - F, axis=1)), axis=1)
        samples = self.codec.decode(np.ascontiguousarray(codes[None]), n_q=FRAME).samples
        return samples[:F * self.codec.hop_length] if F < self.codec.min_frames else samples

    def _audio(self, task: str, sampling: dict, **inputs) -> Audio:
        result = self.run_task(task, **sampling, **inputs)
        return Audio(self.decode(result.codes), self.sample_rate)

    # -- task methods ----------------------------------------------------------------------------------------
    def synthesize(self, text=None, *, phones=None, prompt=None, instruction=None, seed: int = 0,
                   **sampling) -> Audio:
        """Speech from phone ids (``phones``: indices into the bundle's phone table): ``tts`` with a voice
        ``prompt`` (a recording or codes (3, T)), ``plain_tts`` without, ``InstructTTS`` with ``instruction``
        (T5 features (L, D) of the style description)."""
        if text is not None:
            raise InvalidInput("this bundle has no text-to-phone front end yet: pass phones= (phone ids)")
        if phones is None:
            raise InvalidInput("synthesize needs phones= (phone ids)")
        if instruction is not None:
            if prompt is not None:
                raise InvalidInput("InstructTTS takes no voice prompt (the instruction describes the voice)")
            return self._audio("InstructTTS", dict(seed=seed, **sampling), phone_seq=phones,
                               text_t5_seq=instruction)
        if prompt is not None:
            return self._audio("tts", dict(seed=seed, **sampling), phone_seq=phones, prompt_seq=prompt)
        return self._audio("plain_tts", dict(seed=seed, **sampling), phone_seq=phones)

    def convert(self, source, target_voice, *, seed: int = 0, **sampling) -> Audio:
        """Voice conversion: ``source`` the semantic (HuBERT unit) ids of the speech to convert, ``target_voice``
        a recording (or codes (3, T)) of the voice to speak it in."""
        if isinstance(source, (Audio, str, os.PathLike)):
            raise InvalidInput("convert takes the source's semantic unit ids (this bundle has no semantic "
                               "tokenizer yet), not a recording")
        return self._audio("VC", dict(seed=seed, **sampling), semantic_seq=source, prompt_seq=target_voice)

    def generate(self, prompt, *, task: str = "TSS", seed: int = 0, **sampling) -> Audio:
        """Sound (``task="TSS"`` / "sound") or music (``"TTM"`` / "music") from a description's T5 encoder
        features ``prompt`` (L, continuous_dim)."""
        if isinstance(prompt, str):
            raise InvalidInput("this bundle has no T5 text encoder yet: pass the description's T5 features "
                               f"(rows, {self.hparams.continuous_dim})")
        task = self.require_task(task)
        if task not in ("TSS", "TTM"):
            raise InvalidInput(f"generate does sound (TSS) or music (TTM), not {task}")
        return self._audio(task, dict(seed=seed, **sampling), text_t5_seq=prompt)

    def transform(self, audio, *, task: str = "SE", enrolment=None, sample_rate: int | None = None, seed: int = 0,
                  **sampling) -> Audio:
        """Speech to speech: ``SE`` (enhancement), ``Speech_RIR`` (dereverberation), ``Spex`` (target speaker
        extraction: ``enrolment`` a recording of the speaker)."""
        task = self.require_task(task)
        if task not in ("SE", "Speech_RIR", "Spex"):
            raise InvalidInput(f"transform does SE, Speech_RIR or Spex, not {task} (see run_task)")
        noisy = self.encode_audio(audio, sample_rate, what="audio")
        if task == "Spex":
            if enrolment is None:
                raise InvalidInput("Spex needs enrolment= (a recording of the target speaker)")
            return self._audio(task, dict(seed=seed, **sampling), noise_seq=noisy, prompt_seq=enrolment)
        if enrolment is not None:
            raise InvalidInput(f"{task} takes no enrolment")
        return self._audio(task, dict(seed=seed, **sampling), noise_seq=noisy)
