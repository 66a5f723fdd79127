"""Codec language models (``model_type: "valle"``): VALL-E / VALL-E X text-to-speech with zero-shot cloning, and
SpeechX's task prompting (enhancement, speech removal, target speaker extraction, editing) on the same graphs.

    text -> phoneme ids (the bundle's text component)      voice prompt -> EnCodec codes (P, 8) (codec component)
    AR   : ar_prefill([prompt phonemes ; phonemes], [BOS ; prompt codebook 1]) -> logits
           then per frame: native seeded sampler -> token; stop at end-of-speech or 16 frames per phoneme;
           ar_step(token, position, KV buffers) -> logits                      (KV cache: ``KVGroups``)
    NAR  : for stage 1..7: nar(text, prompt, codes so far, stage) -> greedy codebook stage + 1
    codec: native RVQ decode of the 8 codebooks -> EnCodec decoder -> waveform

Generation is reproducible: token i is ``sampling.sample(logits, seed=seed, step=i)``, a pure function of its
inputs, so the same seed gives the same codes on every backend whose logits agree. Long text is split into
sentences, each generated with the same prompt; ``stream`` yields each sentence's audio when it is decoded (coarser
than VoxCPM's per-patch streaming: the NAR needs the whole sentence's first codebook).
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Iterator

import numpy as np

from ..audio import Audio, input_samples, resample
from ..errors import BundleError, InvalidInput
from ..hparams import VallELMHParams
from .codec import Codec
from .generation import GenerationOptions, KVGroups, autoregress
from .graph import GraphModel, one_component

MAX_TEXT_CHARS = 5000  # synthesize / stream: longer input is refused (split it yourself)
KV_START_FRAMES = 128  # the AR cache starts with this many free slots and doubles when full


class VallEModel(GraphModel):
    capabilities = ("text-to-speech", "voice-cloning", "speech-to-speech")

    def __init__(self, bundle, **kwargs):
        super().__init__(bundle, **kwargs)
        self.lm = one_component(bundle, "valle-lm")
        hp = self.hparams = VallELMHParams.from_json(bundle.component(self.lm).hparams,
                                                     f"bundle {bundle.name!r}: components.{self.lm}.hparams")
        self.codec = Codec(self.sessions, one_component(bundle, "codec"))
        self.text_component = one_component(bundle, "text", required=False)
        if self.codec.kind != "rvq" or self.codec.n_q < hp.n_quantizers or self.codec.codebook_size != hp.n_audio_tokens:
            raise BundleError(f"bundle {bundle.name!r}: the lm models {hp.n_quantizers} codebooks of "
                              f"{hp.n_audio_tokens} codes; its codec has {self.codec.n_q} of {self.codec.codebook_size}")
        if "text-to-speech" in bundle.capabilities and self.text_component is None:
            raise BundleError(f"bundle {bundle.name!r} declares text-to-speech but has no text component")
        if "speech-to-speech" in bundle.capabilities and not hp.tasks:
            raise BundleError(f"bundle {bundle.name!r} declares speech-to-speech but its lm names no SpeechX task")
        step_inputs = {t.name for t in bundle.graph(f"{self.lm}/ar_step").inputs}
        expected = {"token", "position", "length", *KVGroups.input_names(hp.kv)}
        if step_inputs != expected:
            raise BundleError(f"valle ar_step inputs {sorted(step_inputs)} do not match hparams "
                              f"(expected {sorted(expected)})")
        self.sample_rate = self.codec.sample_rate
        self.frame_rate = self.codec.frame_rate
        self.defaults = {"temperature": hp.temperature, "top_k": hp.top_k, "top_p": hp.top_p,
                         "repetition_penalty": hp.repetition_penalty}
        self._tokenizer = None

    # -- inputs -------------------------------------------------------------------------------------
    @property
    def tokenizer(self):
        if self._tokenizer is None:
            if self.text_component is None:
                raise InvalidInput(f"bundle {self.bundle.name!r} has no text front end: it takes no text")
            from ..text.frontends import load_front_end

            self._tokenizer = load_front_end(self.bundle, self.text_component, self.sessions)
        return self._tokenizer

    def add_lexicon(self, lexicon) -> int:
        """User pronunciations for the G2P (see ``VoxCPMModel.add_lexicon``)."""
        tokenizer = self.tokenizer
        if not getattr(tokenizer, "supports_phonemes", False):
            raise InvalidInput(f"lexicon: bundle {self.bundle.name!r}'s text front end takes no user lexicon")
        return tokenizer.add_lexicon(lexicon)

    def _ids(self, ids, what: str, allow_empty: bool = False) -> np.ndarray:
        arr = np.asarray([] if ids is None else ids)
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise InvalidInput(f"{what} must be a 1-D sequence of integer token ids, got shape {arr.shape}")
        if arr.size == 0 and not allow_empty:
            raise InvalidInput(f"{what} is empty")
        if arr.size and (arr.min() < 0 or arr.max() >= self.hparams.n_text_tokens):
            raise InvalidInput(f"{what} has ids outside the text vocabulary [0, {self.hparams.n_text_tokens})")
        return arr.astype(np.int64)

    def _codes(self, codes, what: str) -> np.ndarray:
        hp = self.hparams
        arr = np.asarray(codes)
        if arr.ndim != 2 or arr.shape[1] != hp.n_quantizers or not np.issubdtype(arr.dtype, np.integer):
            raise InvalidInput(f"{what} must be integer codes (frames, {hp.n_quantizers}), got {arr.dtype} "
                               f"{arr.shape}")
        if arr.size and (arr.min() < 0 or arr.max() >= hp.n_audio_tokens + 2 + hp.n_task_tokens):
            raise InvalidInput(f"{what} has ids outside 0..{hp.n_audio_tokens + 1 + hp.n_task_tokens}")
        return arr.astype(np.int64)

    def encode_audio(self, audio, sample_rate: int | None = None, *, what: str = "prompt audio") -> np.ndarray:
        """Audio (an Audio, samples with ``sample_rate``, or a path) -> codes (frames, n_q) int64; longer than the
        bundle's ``max_prompt_seconds`` is refused before it is processed."""
        samples, rate = input_samples(audio, sample_rate, what=what, max_seconds=self.hparams.max_prompt_seconds)
        if samples.size / rate > self.hparams.max_prompt_seconds:
            raise InvalidInput(f"{what} is {samples.size / rate:.1f} s long; the limit is "
                               f"{self.hparams.max_prompt_seconds:g} s")
        x = resample(samples, rate, self.sample_rate)
        codes = self.codec.encode(x, self.sample_rate, n_q=self.hparams.n_quantizers)  # (1, n_q, T)
        return np.ascontiguousarray(codes[0].T)

    def options(self, *, seed=0, temperature=None, top_k=None, top_p=None, repetition_penalty=None,
                max_length=None) -> GenerationOptions:
        return GenerationOptions(seed=seed, temperature=temperature, top_k=top_k, top_p=top_p,
                                 repetition_penalty=repetition_penalty,
                                 max_length=max_length).resolved(self.defaults)

    # -- generation ---------------------------------------------------------------------------------
    def _lm(self, graph: str, feeds: dict) -> dict[str, np.ndarray]:
        return self.sessions.get(f"{self.lm}/{graph}").run(feeds)

    def _text_feeds(self, text: np.ndarray) -> dict[str, np.ndarray]:
        feeds = {"text": text[None]}
        if self.hparams.languages:  # every phoneme is English: the text front ends read English
            feeds["language"] = np.full((1, text.size), self.hparams.language_id("en")
                                        if "en" in self.hparams.languages else 0, np.int64)
        return feeds

    def first_codebook(self, text: np.ndarray, prompt: np.ndarray, options: GenerationOptions,
                       forced: np.ndarray | None = None, max_frames: int | None = None) -> Iterator[int]:
        """The AR loop: codebook-1 tokens of the frames after ``prompt`` (P, n_q) for phoneme ids ``text`` (S,)
        (prompt transcript first). Ends at end-of-speech (not yielded), at ``max_frames`` (default
        ``frames_per_text_token * S``), at ``options.max_length``, or where the cache would pass ``max_positions``.
        ``forced`` (F, n_q): the first F tokens are given (SpeechX editing), not sampled."""
        hp = self.hparams
        S, P = text.size, prompt.shape[0]
        cap = hp.frames_per_text_token * S if max_frames is None else int(max_frames)
        if cap < 1:
            raise InvalidInput("nothing to generate: no text and no frame budget")
        if options.max_length is not None:
            cap = min(cap, options.max_length)
        room = hp.max_positions - (S + 1 + P)
        if room < 1:
            raise InvalidInput(f"text ({S} phonemes) and prompt ({P} frames) fill the model's {hp.max_positions} "
                               "positions: shorten them")
        cap = min(cap, room)
        n_forced = 0 if forced is None else forced.shape[0]
        history: list[int] = []

        def prefill():
            audio = np.concatenate(([hp.bos], prompt[:, 0])).astype(np.int64)[None]
            out = self._lm("ar_prefill", {**self._text_feeds(text), "audio": audio})
            kv = KVGroups(hp.kv, capacity=S + 1 + P + KV_START_FRAMES, limit=S + 1 + P + cap)
            kv.append(out)
            return {"logits": out["logits"], "kv": kv}

        def emit(state, i):
            if i < n_forced:
                token = int(forced[i, 0])
            else:
                from ..kernels import sampling

                window = np.asarray(history, np.int64)[None] if history else None
                token = int(sampling.sample(state["logits"], history=window,
                                            repetition_penalty=options.repetition_penalty,
                                            temperature=options.temperature, top_k=options.top_k,
                                            top_p=options.top_p, seed=options.seed, step=i)[0])
            state["token"] = token
            return token

        def step(state, token, i):
            kv = state["kv"]
            kv.make_room(1)
            if "step" not in state:
                state["step"] = self.sessions.get(f"{self.lm}/ar_step")
            out = state["step"].run({**kv.feeds(), "token": np.array([[token]], np.int64),
                                     "position": np.array([1 + P + i], np.int64),
                                     "length": np.array([kv.length], np.int64)})
            kv.append(out)
            state["logits"] = out["logits"]
            return state

        for token in autoregress(prefill, emit, lambda state, i: state["token"] == hp.eos, step, cap):
            if token == hp.eos:
                return
            history.append(token)
            yield token

    def remaining_codebooks(self, text: np.ndarray, prompt: np.ndarray, first: np.ndarray,
                            forced: np.ndarray | None = None) -> np.ndarray:
        """The NAR stages, greedy: codebook 1 (T,) -> codes (T, n_q). ``forced`` frames keep all their codes."""
        hp = self.hparams
        codes = np.zeros((1, first.size, hp.n_quantizers), np.int64)
        codes[0, :, 0] = first
        n_forced = 0 if forced is None else min(forced.shape[0], first.size)
        nar = self.sessions.get(f"{self.lm}/nar")
        base = {**self._text_feeds(text), "prompt": np.ascontiguousarray(prompt[None])}
        for stage in range(1, hp.n_quantizers):
            logits = nar.run({**base, "codes": codes, "stage": np.array([stage], np.int64)})["logits"]
            codes[0, :, stage] = logits[0].argmax(-1)
            if n_forced:
                codes[0, :n_forced, stage] = forced[:n_forced, stage]
        return codes[0]

    def _generate(self, text: np.ndarray, prompt: np.ndarray, options: GenerationOptions,
                  forced: np.ndarray | None = None, max_frames: int | None = None) -> np.ndarray:
        first = np.fromiter(self.first_codebook(text, prompt, options, forced, max_frames), np.int64)
        if first.size == 0:
            raise InvalidInput("the model ended the speech before its first frame (it produced no audio); try "
                               "another seed or a longer text")
        return self.remaining_codebooks(text, prompt, first, forced)

    def generate_codes(self, text_ids, prompt_text_ids=None, prompt_codes=None, *,
                       options: GenerationOptions | None = None) -> np.ndarray:
        """Phoneme ids (and a prompt: its transcript's ids and its codes (P, n_q)) -> generated codes (T, n_q)
        int64."""
        hp = self.hparams
        text = np.concatenate((self._ids(prompt_text_ids, "prompt transcript ids", allow_empty=True),
                               self._ids(text_ids, "text ids")))
        prompt = (np.zeros((0, hp.n_quantizers), np.int64) if prompt_codes is None
                  else self._codes(prompt_codes, "prompt codes"))
        return self._generate(text, prompt, options or self.options())

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Codes (T, n_q) -> float32 samples at ``sample_rate`` (T hops long). Fewer frames than the codec's decoder
        takes are padded with the last frame and the padding's samples cut off."""
        T = codes.shape[0]
        if T < self.codec.min_frames:
            codes = np.concatenate((codes, np.repeat(codes[-1:], self.codec.min_frames - T, axis=0)))
        samples = self.codec.decode(np.ascontiguousarray(codes.T[None]), n_q=self.hparams.n_quantizers).samples
        return samples[:T * self.codec.hop_length] if T < self.codec.min_frames else samples

    # -- text to speech -----------------------------------------------------------------------------
    def _refuse(self, **unsupported) -> None:
        for name, value in unsupported.items():
            if value is not None:
                raise InvalidInput(f"{name}: a VALL-E model has no such option (it samples codec tokens)")

    def _prompt(self, prompt_audio, prompt_text):
        if prompt_audio is None and prompt_text is None:
            return None, None
        if prompt_audio is None or prompt_text is None or not str(prompt_text).strip():
            raise InvalidInput("a voice prompt needs both its recording and its transcript (prompt_audio and "
                               "prompt_text)")
        return self.tokenizer.encode_pair(str(prompt_text))[0], self.encode_audio(prompt_audio)

    def stream(self, text: str, prompt_audio=None, prompt_text: str | None = None, *, seed: int = 0,
               temperature=None, top_k=None, top_p=None, repetition_penalty=None, max_length=None,
               progress: Callable[[int, int, str], object] | None = None, cfg=None, steps=None,
               flow_start=None) -> Iterator[np.ndarray]:
        """Text -> audio (float32 at ``sample_rate``), one chunk per sentence (sentence k samples with seed + k).
        ``prompt_audio`` (3-10 s is best; at most ``max_prompt_seconds``) with its transcript ``prompt_text``
        clones a voice; without them the model speaks in a voice of its own choosing."""
        from ..text.sentences import chunk_text, split_sentences

        self._refuse(cfg=cfg, steps=steps, flow_start=flow_start)
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("text is empty")
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidInput(f"text is {len(text)} characters; the limit is {MAX_TEXT_CHARS} (split it)")
        base = self.options(seed=seed, temperature=temperature, top_k=top_k, top_p=top_p,
                            repetition_penalty=repetition_penalty, max_length=max_length)
        prompt_ids, prompt_codes = self._prompt(prompt_audio, prompt_text)
        hp = self.hparams
        # a sentence's phonemes S need S + 16 S cache positions after the prompt: longer sentences are cut
        used = 1 + (0 if prompt_codes is None else prompt_codes.shape[0]) + len(prompt_ids or ())
        max_tokens = (hp.max_positions - used) // (1 + hp.frames_per_text_token)
        if max_tokens < 4:
            raise InvalidInput(f"the voice prompt fills the model's {hp.max_positions} positions: use a shorter one")
        count = self.tokenizer.count
        sentences = [piece for sentence in split_sentences(text) if sentence.strip()
                     for piece in chunk_text(sentence, max_tokens, count) if count(piece)]
        if not sentences:
            raise InvalidInput("text has nothing to say (no words)")
        for k, sentence in enumerate(sentences):
            if progress is not None:
                progress(k, len(sentences), sentence)
            ids = self.tokenizer.encode_pair(sentence)[0]
            options = dataclasses.replace(base, seed=base.seed + k)
            codes = self.generate_codes(ids, prompt_ids, prompt_codes, options=options)
            yield self.decode(codes)

    def synthesize(self, text: str, prompt_audio=None, prompt_text: str | None = None, **options) -> Audio:
        """Text -> Audio: ``stream``'s sentences joined."""
        pieces = list(self.stream(text, prompt_audio, prompt_text, **options))
        return Audio(np.ascontiguousarray(np.concatenate(pieces), dtype=np.float32), self.sample_rate)

    # -- SpeechX tasks --------------------------------------------------------------------------------
    def _require_task(self, task: str) -> None:
        from ..errors import CapabilityError

        if task not in self.hparams.tasks:
            raise CapabilityError(f"bundle {self.bundle.name!r} was not trained for {task} (its tasks: "
                                  f"{', '.join(self.hparams.tasks) or 'none: it is a text-to-speech model'})")

    def _transcript_ids(self, transcript: str | None) -> np.ndarray | None:
        if transcript is None or not str(transcript).strip():
            return None
        return np.asarray(self.tokenizer.encode_pair(str(transcript))[0], np.int64)

    def run_task(self, sequence, *, max_frames: int, options: GenerationOptions | None = None) -> np.ndarray:
        """A SpeechX ``TaskSequence`` (``voxlite.pipelines.speechx``) -> output codes (T, n_q): the AR after
        [text ; task prompt] (forced frames first), then the NAR stages."""
        if sequence.n_q != self.hparams.n_quantizers:
            raise InvalidInput(f"the task sequence has {sequence.n_q} codebooks; the model {self.hparams.n_quantizers}")
        text = self._ids(sequence.text_ids, "task text ids", allow_empty=True)
        prompt = self._codes(sequence.prompt, "task prompt")
        forced = self._codes(sequence.forced, "forced frames") if sequence.forced.shape[0] else None
        return self._generate(text, prompt, options or self.options(), forced, max_frames)

    def _audio_task(self, task: str, build, inputs: dict, transcript, sampling: dict, budget) -> Audio:
        self._require_task(task)
        codes = {k: self.encode_audio(v, what=k) for k, v in inputs.items()}
        sequence = build(codes, self._transcript_ids(transcript))
        out = self.run_task(sequence, max_frames=budget(codes, sequence), options=self.options(**sampling))
        return Audio(self.decode(out), self.sample_rate)

    def transform(self, audio, *, task: str, **options) -> Audio:
        """The speech-to-speech capability: ``task`` one of the bundle's SpeechX tasks; ``options`` those of
        ``enhance`` / ``extract`` (``enrolment=``) / ``edit`` (``transcript=``, ``replace=``, ``with_=``)."""
        if task in ("noise-suppression", "speech-removal"):
            return self.enhance(audio, keep="speech" if task == "noise-suppression" else "noise", **options)
        if task == "target-speaker-extraction":
            if "enrolment" not in options:
                raise InvalidInput("target-speaker-extraction needs enrolment= (a recording of the target speaker)")
            return self.extract(audio, options.pop("enrolment"), **options)
        if task == "speech-editing":
            return self.edit(audio, options.pop("transcript", None), **options)
        self._require_task(task)  # names the bundle's tasks
        raise InvalidInput(f"unknown task {task!r}")

    def enhance(self, audio, *, transcript: str | None = None, keep: str = "speech", seed: int = 0,
                **sampling) -> Audio:
        """Noise suppression (``keep="speech"``) or speech removal (``keep="noise"``) of a noisy recording; a
        transcript, if known, helps (SpeechX: WER 2.5 with it, 6.8 without)."""
        from . import speechx

        if keep not in ("speech", "noise"):
            raise InvalidInput(f"keep must be 'speech' or 'noise', got {keep!r}")
        task, build = (("noise-suppression", speechx.noise_suppression) if keep == "speech"
                       else ("speech-removal", speechx.speech_removal))
        hp = self.hparams
        return self._audio_task(
            task, lambda c, t: build(c["audio"], t, n_q=hp.n_quantizers, n_audio_tokens=hp.n_audio_tokens),
            {"audio": audio}, transcript, dict(seed=seed, **sampling),
            lambda c, s: _same_length_budget(c["audio"].shape[0], self.frame_rate))

    def extract(self, mixture, enrolment, *, transcript: str | None = None, seed: int = 0, **sampling) -> Audio:
        """Target speaker extraction: the speech of the speaker of ``enrolment`` (a clean recording of them) out of
        ``mixture``."""
        from . import speechx

        hp = self.hparams
        return self._audio_task(
            "target-speaker-extraction",
            lambda c, t: speechx.target_speaker_extraction(c["enrolment"], c["mixture"], t, n_q=hp.n_quantizers,
                                                           n_audio_tokens=hp.n_audio_tokens),
            {"mixture": mixture, "enrolment": enrolment}, transcript, dict(seed=seed, **sampling),
            lambda c, s: _same_length_budget(c["mixture"].shape[0], self.frame_rate))

    def edit(self, audio, transcript: str, *, replace: str, with_: str, span: tuple[float, float] | None = None,
             occurrence: int | None = None, seed: int = 0, **sampling) -> Audio:
        """Speech editing: ``audio`` says ``transcript``; the words ``replace`` become ``with_``. ``span`` (start,
        end) in seconds says where the old words are; without it the span is estimated from the words' share of
        the transcript's phonemes (``speechx.edit_span_from_words``: an estimate; give the span when it matters)."""
        from . import speechx

        hp = self.hparams
        if not isinstance(transcript, str) or not transcript.strip():
            raise InvalidInput("edit needs the recording's transcript")
        if not isinstance(with_, str):
            raise InvalidInput("with_ must be a string (the new words; empty deletes the old ones)")
        new_transcript = _replace_words(transcript, replace, with_, occurrence)

        def build(codes, text_ids):
            frames = codes["audio"].shape[0]
            if span is not None:
                start, end = speechx.edit_span_from_seconds(*span, frames, frame_rate=self.frame_rate)
            else:
                start, end = speechx.edit_span_from_words(transcript, replace, frames, occurrence=occurrence,
                                                          count_units=self.tokenizer.count)
            return speechx.speech_editing(codes["audio"], start, end, text_ids, n_q=hp.n_quantizers,
                                          n_audio_tokens=hp.n_audio_tokens)

        def budget(codes, sequence):  # the kept frames, plus the cap's frames per phoneme of the new words
            new = self.tokenizer.count(with_) if with_.strip() else 0
            return codes["audio"].shape[0] + hp.frames_per_text_token * max(new, 1)

        return self._audio_task("speech-editing", build, {"audio": audio}, new_transcript,
                                dict(seed=seed, **sampling), budget)


def _same_length_budget(frames: int, frame_rate: float) -> int:
    """Frames an enhancement may produce: its input's length, plus a tenth and one second of slack for an end token
    that comes late."""
    return int(frames * 1.1 + frame_rate)


def _replace_words(transcript: str, old: str, new: str, occurrence: int | None) -> str:
    """``transcript`` with the whole words ``old`` (case-insensitive) replaced by ``new``; InvalidInput if absent,
    or present several times without ``occurrence`` (0 for the first, as ``speechx.edit_span_from_words``)."""
    import re

    if not isinstance(old, str) or not old.strip():
        raise InvalidInput("replace: give the words to replace")
    pattern = re.compile(r"(?<!\w)" + r"\s+".join(re.escape(w) for w in old.split()) + r"(?!\w)", re.IGNORECASE)
    matches = list(pattern.finditer(transcript))
    if not matches:
        raise InvalidInput(f"replace: {old!r} is not in the transcript {transcript!r}")
    if len(matches) > 1 and occurrence is None:
        raise InvalidInput(f"replace: {old!r} occurs {len(matches)} times in the transcript; say which "
                           "(occurrence, 0 for the first)")
    index = 0 if occurrence is None else occurrence
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(matches):
        raise InvalidInput(f"occurrence {occurrence}: {old!r} occurs {len(matches)} times")
    m = matches[index]
    return " ".join((transcript[:m.start()] + new + transcript[m.end():]).split())
