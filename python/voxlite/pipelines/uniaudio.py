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

Task methods, each reading what a user has (text, recordings, captions, scores) through the bundle's front ends
(``export/uniaudio_inputs.py``: a phone table + G2P, semantic units, a T5 encoder, singing tables), or ids / codes /
features directly:

- ``synthesize`` / ``stream`` (text-to-speech): ``tts`` with a voice recording, ``plain_tts`` without,
  ``InstructTTS`` with an ``instruction`` caption; text is spoken in chunks of whole sentences;
- ``generate`` (text-to-audio): ``TSS`` / ``TTM`` from a caption, ``seconds`` long;
- ``enhance`` (SE), ``dereverb`` (Speech_RIR), ``extract`` (Spex), ``convert`` (VC from a recording's semantic
  units, in a target voice), ``transform`` (the first three by name): speech-to-speech;
- ``sing`` (singing): a score's frame-level sing phones and MIDI notes, in a voice;
- ``run_task`` for any task the bundle declares.

Tasks whose target is aligned with an input (SE, Speech_RIR, Spex, VC, sing) generate exactly as many frames as that
input (``<audio_end>`` is forbidden until then), and a sound is exactly ``seconds`` long: a chosen length, where
UniAudio's own inference uses the length ratios, which fit TTS. Voice prompts are cut to their first
``prompt_seconds`` (3 s: what UniAudio was trained with). A task the bundle was not trained for, or whose front end
it lacks, raises CapabilityError; bad input InvalidInput.

Streaming (``stream``, ``stream_task``): each sampled frame goes through the codec's exact streaming decoder
(UniAudio's SoundStream is not causal and has an LSTM at its bottleneck: the convolutions before it are run with
their look-ahead, the LSTM with its state, the ones after it in windows; the chunks joined are the offline decode),
so audio comes a few frames after they are sampled. Bundles exported before that decoder existed decode at the end.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Iterator

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
MAX_TEXT_CHARS = 5000  # synthesize / stream: longer input is refused (voxlite say cuts long text into pieces)
MAX_CHUNK_PHONES = 160  # text is spoken in chunks of whole sentences of at most this many phones (~13 s of speech)
PREFIX_MARKER_FRAMES = 8  # frames of a TTS prefix that are not phones or prompt (<start>, the task, the markers)
MAX_SECONDS = 60.0  # generate: the longest sound or music asked for in one call
# frames handed to the streaming decoder at a time: at the released codec's size (1 thread; measured ad hoc on 5 s of
# random codes, no committed report) one at a time costs the decoder 5.5x its offline time (each push decodes its
# window's context again), 3 at a time 2.3-2.8x, 7 1.5x, 25 1.0x;
# with 7, the first audio comes 7 + 4 (look-ahead) frames into the run
STREAM_PUSH_FRAMES = 7
SING_PHONES, SING_MIDI = "sing_phones", "sing_midi"  # the lm component's singing tables (file roles)


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


@dataclass
class _SearchState:
    """What ``search_frames`` leaves behind: every generated id, whether <audio_end> came, the prefix's frames."""
    tokens: list[int] = field(default_factory=list)
    ended: bool = False
    prefix_frames: int = 0


class UniAudioModel(GraphModel):
    capabilities = ("text-to-speech", "voice-cloning", "text-to-audio", "speech-to-speech", "singing")
    prompt_needs_transcript = False  # a voice prompt is audio only

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
        # front ends (each optional; export/uniaudio_inputs.py), opened when first used
        self.text_component = one_component(bundle, "text", required=False)
        self.semantic_component = one_component(bundle, "semantic-units", required=False)
        self.t5_component = one_component(bundle, "t5-features", required=False)
        self._phones = self._units = self._t5 = self._sing_tables = None

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
               min_length: int | None = None, progress=None) -> UniAudioResult:
        """Generate audio frames after a prefix (``prefix``'s result). ``options.max_length`` / ``min_length``
        count frames (defaults: the bundle's ratios of the prefix's frames); <audio_end> is forbidden in frames
        0 .. min_length-2. ``progress(frames done, at most)`` is called after each frame."""
        run = _SearchState()
        whole = np.array(list(self.search_frames(sequence, options, min_length=min_length, progress=progress,
                                                 state=run)), np.int64).reshape(-1, FRAME)
        body = run.tokens[:-1] if run.ended else run.tokens
        return UniAudioResult(frames=whole, codes=(whole - self._codebase).T.copy(),
                              tokens=np.array(run.tokens, np.int64), ended=run.ended,
                              partial=np.array(body[whole.size:], np.int64), prefix_frames=run.prefix_frames)

    def search_frames(self, sequence: UniAudioSequence, options: GenerationOptions | None = None, *,
                      min_length: int | None = None, progress=None, state: "_SearchState | None" = None
                      ) -> Iterator[np.ndarray]:
        """``search`` one frame at a time: yields each complete frame (3,) of joint ids as soon as it is sampled
        (a frame <audio_end> cuts short is not yielded). ``state`` (a ``_SearchState``) receives every token, whether
        <audio_end> came, and the prefix's frame count."""
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
        state = state if state is not None else _SearchState()
        state.prefix_frames = P
        tokens = state.tokens
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
                    state.ended = True
                    break
                frame.append(token)
            if progress is not None:
                progress(i + 1, maxlen)
            if state.ended:
                return
            prev = np.array(frame, np.int64)
            yield prev

    def run_task(self, task: str, *, seed: int = 0, temperature=None, top_k=None, max_length=None,
                 min_length=None, progress=None, **inputs) -> UniAudioResult:
        """Any task the bundle declares, its inputs by the task format's keys (``TASK_FORMATS``): codes / ids /
        features, or recordings for audio keys."""
        options = self.options(seed=seed, temperature=temperature, top_k=top_k, max_length=max_length)
        return self.search(self.prefix(task, **inputs), options, min_length=min_length, progress=progress)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Codes (3, F) -> float32 samples at ``sample_rate`` (F hops long; any F >= 1: ``Codec.decode_frames``)."""
        return self.codec.decode_frames(codes, FRAME)

    def stream_task(self, task: str, sampling: dict, *, frames: int | None = None, fit: bool = False,
                    **inputs) -> Iterator[np.ndarray]:
        """``_audio``'s run, its audio yielded as the frames are sampled: each frame's codes go through the codec's
        streaming decoder (exact: the chunks joined are the offline decode), which releases samples once the frames
        they depend on are known. Bundles whose codec has no streaming decoder yield the whole decode at the end."""
        if not self.codec.streams:
            yield self._audio(task, sampling, frames=frames, fit=fit, **inputs).samples
            return
        sequence, sampling, min_length, progress = self._run_setup(task, sampling, frames, fit, inputs)
        decoder = self.codec.stream_decoder()
        pending: list[np.ndarray] = []
        count = 0

        def push():
            codes = (np.stack(pending, axis=1) - self._codebase[:, None])[None]  # (1, 3, n)
            pending.clear()
            return decoder.push(self.codec.latents_from_codes(codes, n_q=FRAME)[0])

        for frame in self.search_frames(sequence, self.options(**sampling), min_length=min_length,
                                        progress=progress):
            pending.append(frame)
            count += 1
            if len(pending) == STREAM_PUSH_FRAMES:
                yield from push()
        if count == 0:
            raise InvalidInput("the model ended the audio before its first frame (nothing to decode); try another "
                               "seed or a longer min_length")
        if pending:
            yield from push()
        yield from decoder.flush()

    def _run_setup(self, task: str, sampling: dict, frames: int | None, fit: bool, inputs: dict):
        """(prefix, search options, min_length, progress) of one run (``_audio`` / ``stream_task``)."""
        sampling = dict(sampling)
        progress = sampling.pop("progress", None)
        min_length = sampling.pop("min_length", None)
        sequence = self.prefix(task, **inputs)
        if frames is not None:  # <audio_end> forbidden through frame ``frames - 1``, and the run stops after it
            prefix_frames = len(sequence.ids) // FRAME
            if fit:
                frames = max(1, min(frames, self.hparams.n_ctx - prefix_frames))
            if prefix_frames + frames > self.hparams.n_ctx:
                raise InvalidInput(f"the input is too long: {task} needs {prefix_frames} + {frames} frames, the "
                                   f"model's context holds {self.hparams.n_ctx}; shorten it")
            sampling["max_length"], min_length = frames, frames + 1
        return sequence, sampling, min_length, progress

    def _audio(self, task: str, sampling: dict, *, frames: int | None = None, fit: bool = False, **inputs) -> Audio:
        """One run decoded. ``frames``: the output's exact length in codec frames (tasks whose target is aligned
        with an input: enhancement, extraction, conversion, singing; a sound's length); more than the context
        leaves is refused, or with ``fit`` (a default length, not the user's) cut to what it leaves."""
        sequence, sampling, min_length, progress = self._run_setup(task, sampling, frames, fit, inputs)
        result = self.search(sequence, self.options(**sampling), min_length=min_length, progress=progress)
        return Audio(self.decode(result.codes), self.sample_rate)

    @staticmethod
    def _refuse(**unsupported) -> None:
        for name, value in unsupported.items():
            if value is not None:
                raise InvalidInput(f"{name}: a UniAudio model has no such option (it samples codec tokens with "
                                   "top-k and a temperature)")

    def _sampling(self, seed, temperature, top_k, max_length=None) -> dict:
        return dict(seed=seed, temperature=temperature, top_k=top_k, max_length=max_length)

    def _voice(self, audio, what: str = "prompt_audio") -> np.ndarray:
        """A voice prompt's codes (3, T): a recording (cut to its first ``prompt_seconds``, the length UniAudio was
        trained with) or codes as given."""
        if isinstance(audio, (Audio, str, os.PathLike)):
            codes = self.encode_audio(audio, what=what)
            return codes[:, :max(1, int(round(self.hparams.prompt_seconds * self.frame_rate)))]
        return audio

    # -- text in ---------------------------------------------------------------------------------------------
    @property
    def phones(self):
        """The bundle's text front end (``UniAudioPhones``); CapabilityError when it has none."""
        if self._phones is None:
            if self.text_component is None:
                raise CapabilityError(f"bundle {self.bundle.name!r} has no text front end (export it with "
                                      "--tables or --phone-table): pass phones= (phone ids)")
            from ..text.frontends import load_front_end

            self._phones = load_front_end(self.bundle, self.text_component, self.sessions)
        return self._phones

    def add_lexicon(self, lexicon) -> int:
        """User pronunciations for the G2P (``EnglishG2P.add_lexicon``)."""
        return self.phones.add_lexicon(lexicon)

    def _chunk_phones(self, prompt_frames: int) -> int:
        """The most phones one chunk of text may have: at most ``MAX_CHUNK_PHONES``, and a prefix (markers, the
        prompt, the phones) of at most half the context, so the other half is left to the audio."""
        budget = self.hparams.n_ctx // 2 - prompt_frames - PREFIX_MARKER_FRAMES
        if budget < 1:
            raise InvalidInput(f"the voice prompt ({prompt_frames} frames) leaves no room for text in the model's "
                               f"{self.hparams.n_ctx}-frame context: use a shorter one")
        return min(MAX_CHUNK_PHONES, budget)

    def stream(self, text: str, prompt_audio=None, prompt_text: str | None = None, *, instruction=None,
               seed: int = 0, temperature=None, top_k=None, max_length=None, progress=None) -> Iterator[np.ndarray]:
        """Text -> audio (float32 at ``sample_rate``) as it is generated (``stream_task``), text spoken in groups of
        whole sentences (group k sampled with seed + k).
        ``prompt_audio``: a recording of the voice (``tts``; its first ``prompt_seconds`` are used; UniAudio reads
        no transcript, so ``prompt_text`` is not needed); without it ``plain_tts``; ``instruction``: T5 features or
        a caption describing the voice (``InstructTTS``, with the bundle's T5 component)."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("text is empty")
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidInput(f"text is {len(text)} characters; the limit is {MAX_TEXT_CHARS} (split it)")
        from ..text.sentences import chunk_text, split_sentences

        phones = self.phones
        if instruction is not None:
            if prompt_audio is not None:
                raise InvalidInput("InstructTTS takes no voice prompt (the instruction describes the voice)")
            task, extra = self.require_task("InstructTTS"), {"text_t5_seq": self._t5_rows(instruction)}
            overhead = len(extra["text_t5_seq"])  # one frame per T5 row
        elif prompt_audio is not None:
            task, extra = self.require_task("tts"), {"prompt_seq": self._voice(prompt_audio)}
            overhead = np.asarray(extra["prompt_seq"]).shape[-1]
        else:
            task, extra, overhead = self._plain_tts_task(), {}, 0
        limit = self._chunk_phones(overhead)
        chunks = [piece for sentence in split_sentences(text) if sentence.strip()
                  for piece in chunk_text(sentence, limit, phones.count) if phones.count(piece)]
        if not chunks:
            raise InvalidInput("text has nothing to say (no words)")
        for k, chunk in enumerate(chunks):
            if progress is not None:
                progress(k, len(chunks), chunk)
            yield from self.stream_task(task, self._sampling(seed + k, temperature, top_k, max_length),
                                        phone_seq=phones.indices(chunk), **extra)

    def synthesize(self, text=None, prompt_audio=None, prompt_text: str | None = None, *, phones=None,
                   instruction=None, prompt=None, seed: int = 0, temperature=None, top_k=None, max_length=None,
                   progress=None) -> Audio:
        """Speech: from ``text`` (the bundle's G2P onto UniAudio's phone table; ``stream``'s chunks joined) or from
        ``phones`` (phone indices of the bundle's table, one utterance). ``prompt_audio`` (or ``prompt``: a
        recording or codes (3, T)) gives the voice (``tts``), none ``plain_tts``, ``instruction`` (T5 features or a
        caption) ``InstructTTS``."""
        if prompt is not None:
            if prompt_audio is not None:
                raise InvalidInput("give the voice once: prompt_audio or prompt")
            prompt_audio = prompt
        sampling = self._sampling(seed, temperature, top_k, max_length)
        if phones is None:
            if text is None:
                raise InvalidInput("synthesize needs text (or phones=, phone ids)")
            chunks = list(self.stream(text, prompt_audio, prompt_text, instruction=instruction, progress=progress,
                                      **sampling))
            return Audio(np.concatenate(chunks).astype(np.float32), self.sample_rate)
        if text is not None:
            raise InvalidInput("give text or phones=, not both")
        if instruction is not None:
            if prompt_audio is not None:
                raise InvalidInput("InstructTTS takes no voice prompt (the instruction describes the voice)")
            return self._audio("InstructTTS", sampling, phone_seq=phones, text_t5_seq=self._t5_rows(instruction))
        if prompt_audio is not None:
            return self._audio("tts", sampling, phone_seq=phones, prompt_seq=self._voice(prompt_audio))
        return self._audio(self._plain_tts_task(), sampling, phone_seq=phones)

    def _plain_tts_task(self) -> str:
        if "plain_tts" not in self.tasks and "tts" in self.tasks:
            raise CapabilityError(f"bundle {self.bundle.name!r} speaks in the voice of a prompt (tts): give one "
                                  "(prompt_audio=, voxlite say --voice FILE)")
        return self.require_task("plain_tts")

    # -- captions in -----------------------------------------------------------------------------------------
    def _t5_rows(self, caption) -> np.ndarray:
        """T5 encoder rows (L, continuous_dim) of a caption (the bundle's T5 component), or rows as given."""
        if isinstance(caption, str):
            if self.t5_component is None:
                raise CapabilityError(f"bundle {self.bundle.name!r} has no T5 text encoder (export it with --t5): "
                                      f"pass the caption's T5 features (rows, {self.hparams.continuous_dim})")
            if self._t5 is None:
                from .t5_features import T5Features

                self._t5 = T5Features(self.bundle, self.sessions, self.t5_component)
            return self._t5.features(caption)
        return caption

    def generate(self, prompt, *, task: str = "TSS", seconds: float | None = None, seed: int = 0,
                 temperature=None, top_k=None, progress=None) -> Audio:
        """Sound (``task="TSS"`` / "sound") or music (``"TTM"`` / "music") from a caption (the bundle's T5
        component) or its T5 features (L, continuous_dim). ``seconds``: the length (default ``sound_seconds``, cut
        to what the context leaves; a longer length asked for is refused)."""
        task = self.require_task(task)
        if task not in ("TSS", "TTM"):
            raise InvalidInput(f"generate does sound (TSS) or music (TTM), not {task}")
        fit = seconds is None  # the default length is cut to what the context leaves; a length asked for is not
        seconds = self.hparams.sound_seconds if seconds is None else seconds
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds <= MAX_SECONDS:
            raise InvalidInput(f"seconds must be in (0, {MAX_SECONDS}], got {seconds!r}")
        frames = max(1, int(round(seconds * self.frame_rate)))
        return self._audio(task, dict(self._sampling(seed, temperature, top_k), progress=progress), frames=frames,
                           fit=fit, text_t5_seq=self._t5_rows(prompt))

    # -- audio in --------------------------------------------------------------------------------------------
    def transform(self, audio, *, task: str = "SE", enrolment=None, sample_rate: int | None = None, seed: int = 0,
                  temperature=None, top_k=None) -> Audio:
        """Speech to speech, as long as the input: ``SE`` (enhancement), ``Speech_RIR`` (dereverberation),
        ``Spex`` (target speaker extraction: ``enrolment`` a recording of the speaker)."""
        task = self.require_task(task)
        if task not in ("SE", "Speech_RIR", "Spex"):
            raise InvalidInput(f"transform does SE, Speech_RIR or Spex, not {task} (see run_task)")
        noisy = self.encode_audio(audio, sample_rate, what="audio")
        sampling = self._sampling(seed, temperature, top_k)
        if task == "Spex":
            if enrolment is None:
                raise InvalidInput("Spex needs enrolment= (a recording of the target speaker)")
            return self._audio(task, sampling, frames=noisy.shape[1], noise_seq=noisy,
                               prompt_seq=self._voice(enrolment, "enrolment"))
        if enrolment is not None:
            raise InvalidInput(f"{task} takes no enrolment")
        return self._audio(task, sampling, frames=noisy.shape[1], noise_seq=noisy)

    def enhance(self, audio, *, transcript: str | None = None, keep: str = "speech", seed: int = 0,
                temperature=None, top_k=None, top_p=None) -> Audio:
        """Noise suppression (``SE``). UniAudio reads no transcript and cannot keep the noise instead."""
        self._refuse(transcript=transcript, top_p=top_p)
        if keep != "speech":
            raise CapabilityError(f"UniAudio removes noise from speech; it cannot keep {keep!r} instead")
        return self.transform(audio, task="SE", seed=seed, temperature=temperature, top_k=top_k)

    def dereverb(self, audio, *, seed: int = 0, temperature=None, top_k=None, top_p=None) -> Audio:
        """Dereverberation (``Speech_RIR``)."""
        self._refuse(top_p=top_p)
        return self.transform(audio, task="Speech_RIR", seed=seed, temperature=temperature, top_k=top_k)

    def extract(self, mixture, enrolment, *, transcript: str | None = None, seed: int = 0, temperature=None,
                top_k=None, top_p=None) -> Audio:
        """Target speaker extraction (``Spex``): the speech of ``enrolment``'s speaker in ``mixture``."""
        self._refuse(transcript=transcript, top_p=top_p)
        return self.transform(mixture, task="Spex", enrolment=enrolment, seed=seed, temperature=temperature,
                              top_k=top_k)

    def semantic_units(self, audio, sample_rate: int | None = None) -> np.ndarray:
        """A recording's semantic unit ids (T,) (the bundle's semantic-units component, 50 per second)."""
        if self.semantic_component is None:
            raise CapabilityError(f"bundle {self.bundle.name!r} has no semantic tokenizer (export it with "
                                  "--semantic-units): pass the source's unit ids")
        if self._units is None:
            from .semantic_units import SemanticUnits

            self._units = SemanticUnits(self.bundle, self.sessions, self.semantic_component)
        samples, rate = input_samples(audio, sample_rate, what="source", max_seconds=self.hparams.max_prompt_seconds)
        return self._units.units(samples, rate)

    def convert(self, source, target_voice, *, sample_rate: int | None = None, seed: int = 0, temperature=None,
                top_k=None, top_p=None) -> Audio:
        """Voice conversion (``VC``): ``source`` (a recording, or its semantic unit ids) said in the voice of
        ``target_voice`` (a recording, or codes (3, T)); as long as the source."""
        self._refuse(top_p=top_p)
        self.require_task("VC")
        if isinstance(source, (Audio, str, os.PathLike)) or (sample_rate is not None and source is not None):
            source = self.semantic_units(source, sample_rate)
        units = np.asarray(source)
        if units.ndim != 1 or units.size == 0:
            raise InvalidInput(f"source must be a recording or 1-D unit ids, got shape {units.shape}")
        return self._audio("VC", self._sampling(seed, temperature, top_k), frames=units.size, semantic_seq=units,
                           prompt_seq=self._voice(target_voice, "target_voice"))

    # -- singing ---------------------------------------------------------------------------------------------
    def sing(self, score, prompt_audio=None, *, seed: int = 0, temperature=None, top_k=None, progress=None) -> Audio:
        """Singing (``sing``): a score (a path to its JSON, or the parsed object; ``voxlite.text.singing_score``)
        sung in the voice of ``prompt_audio`` (a recording or codes (3, T)); as long as the score."""
        from ..text.singing_score import load_score, score_to_frames

        task = self.require_task("sing")
        if prompt_audio is None:
            raise InvalidInput("singing needs a voice: prompt_audio= (a recording of the singer)")
        phone_table, midi_table = self.sing_tables
        phones, midi = score_to_frames(load_score(score), phone_table, midi_table, frame_rate=self.frame_rate)
        return self._audio(task, dict(self._sampling(seed, temperature, top_k), progress=progress), frames=len(phones),
                           sing_phone_seq=phones,
                           sing_midi_seq=midi, prompt_seq=self._voice(prompt_audio))

    @property
    def sing_tables(self):
        """(sing phone symbols, midi values) of the bundle's singing tables; CapabilityError without them."""
        if self._sing_tables is None:
            files = self.bundle.component(self.lm).files
            if SING_PHONES not in files or SING_MIDI not in files:
                raise CapabilityError(f"bundle {self.bundle.name!r} has no singing tables (export it with --tables)")
            from ..text.singing_score import read_midi_table, read_sing_phone_table

            self._sing_tables = (read_sing_phone_table(self.bundle.component_file(self.lm, SING_PHONES)),
                                 read_midi_table(self.bundle.component_file(self.lm, SING_MIDI)))
        return self._sing_tables
