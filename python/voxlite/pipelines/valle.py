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
                       forced: np.ndarray | None = None) -> Iterator[int]:
        """The AR loop: codebook-1 tokens of the frames after ``prompt`` (P, n_q) for phoneme ids ``text`` (S,)
        (prompt transcript first). Ends at end-of-speech (not yielded), at ``frames_per_text_token * S`` frames, at
        ``options.max_length``, or where the cache would pass ``max_positions``. ``forced`` (F, n_q): the first F
        tokens are given (SpeechX editing), not sampled."""
        hp = self.hparams
        S, P = text.size, prompt.shape[0]
        cap = hp.frames_per_text_token * S
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

    def remaining_codebooks(self, text: np.ndarray, prompt: np.ndarray, first: np.ndarray) -> np.ndarray:
        """The NAR stages, greedy: codebook 1 (T,) -> codes (T, n_q)."""
        hp = self.hparams
        codes = np.zeros((1, first.size, hp.n_quantizers), np.int64)
        codes[0, :, 0] = first
        nar = self.sessions.get(f"{self.lm}/nar")
        base = {**self._text_feeds(text), "prompt": np.ascontiguousarray(prompt[None])}
        for stage in range(1, hp.n_quantizers):
            logits = nar.run({**base, "codes": codes, "stage": np.array([stage], np.int64)})["logits"]
            codes[0, :, stage] = logits[0].argmax(-1)
        return codes[0]

    def generate_codes(self, text_ids, prompt_text_ids=None, prompt_codes=None, *, forced=None,
                       options: GenerationOptions | None = None) -> np.ndarray:
        """Phoneme ids (and a prompt: its transcript's ids and its codes (P, n_q)) -> generated codes (T, n_q)
        int64. ``forced``: output frames known in advance (their codebook 1 is not sampled)."""
        hp = self.hparams
        options = options or self.options()
        text = np.concatenate((self._ids(prompt_text_ids, "prompt transcript ids", allow_empty=True),
                               self._ids(text_ids, "text ids", allow_empty=prompt_codes is not None)))
        if text.size == 0:
            raise InvalidInput("text ids are empty")
        prompt = (np.zeros((0, hp.n_quantizers), np.int64) if prompt_codes is None
                  else self._codes(prompt_codes, "prompt codes"))
        forced = None if forced is None else self._codes(forced, "forced frames")
        first = np.fromiter(self.first_codebook(text, prompt, options, forced), np.int64)
        if first.size == 0:
            raise InvalidInput("the model ended the speech before its first frame (it produced no audio); try "
                               "another seed or a longer text")
        return self.remaining_codebooks(text, prompt, first)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Codes (T, n_q) -> float32 samples at ``sample_rate``."""
        return self.codec.decode(np.ascontiguousarray(codes.T[None]), n_q=self.hparams.n_quantizers).samples

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
        from ..text.sentences import split_sentences

        self._refuse(cfg=cfg, steps=steps, flow_start=flow_start)
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("text is empty")
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidInput(f"text is {len(text)} characters; the limit is {MAX_TEXT_CHARS} (split it)")
        base = self.options(seed=seed, temperature=temperature, top_k=top_k, top_p=top_p,
                            repetition_penalty=repetition_penalty, max_length=max_length)
        prompt_ids, prompt_codes = self._prompt(prompt_audio, prompt_text)
        sentences = [s for s in split_sentences(text) if s.strip()]
        for k, sentence in enumerate(sentences):
            if progress is not None:
                progress(k, len(sentences), sentence)
            ids = self.tokenizer.encode_pair(sentence)[0]
            options = base if k == 0 else GenerationOptions(**{**base.__dict__, "seed": base.seed + k})
            codes = self.generate_codes(ids, prompt_ids, prompt_codes, options=options)
            yield self.decode(codes)

    def synthesize(self, text: str, prompt_audio=None, prompt_text: str | None = None, **options) -> Audio:
        """Text -> Audio: ``stream``'s sentences joined."""
        pieces = list(self.stream(text, prompt_audio, prompt_text, **options))
        return Audio(np.ascontiguousarray(np.concatenate(pieces), dtype=np.float32), self.sample_rate)
