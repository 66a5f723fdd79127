"""The semantic-token cascades (``model_type: "cascade"``): Spear-TTS, Make-A-Voice and MVoice on one pipeline.

    text --G2P--> phone ids --S1--> semantic units --S2 (+ voice prompt, + F0)--> codec codes --S3--> waveform
    recording --semantic tokenizer--> units ------^                                   (voice conversion)
    score --frames--> phone ids per frame (exact length), F0 bins ----^               (singing)

The bundle's ``cascade`` component (``CascadeHParams``) names the system and each stage's component; ``SYSTEMS``
says which model runs where (``unit-seq2seq`` / ``unit-lm`` S1; ``unit-lm`` / UniAudio's multi-scale S2; the codec
or a unit vocoder as S3). Every stage's tokens come from the shared loops (``UnitSeq2SeqRunner``, ``UnitLMRunner``,
``UniAudioModel.search_frames``) under ``unit_rules`` (which ids each position may take); the S2 sequences are
``cascade_sequences``. For one seed the stages draw from separate streams: S2 with steps 0.., S1 with steps
``STAGE_STEPS``.. (UniAudio's S2 counts its own steps from 0).

Streaming: S2's frames go to S3 as they are sampled: the codec's streaming decoder (exact) or the unit vocoder's
windowed one; the audio of a sentence group starts before its last frame is sampled. S1 runs whole first (its units
set the target's length).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..audio import Audio, input_samples, resample
from ..errors import BundleError, CapabilityError, InvalidInput
from ..hparams.cascade import CascadeHParams
from .cascade_sequences import (codes_array, s1_lm_prefix, s1_rules, s1_units, s2_lm_prefix, s2_rules, target_frames,
                                unflatten_codes)
from .codec import Codec
from .generation import GenerationOptions
from .graph import GraphModel, one_component
from .unit_rules import STAGE_STEPS

MAX_TEXT_CHARS = 5000  # synthesize / stream: longer input is refused (voxlite say cuts long text into pieces)
MAX_CHUNK_PHONES = 160  # text is spoken in groups of whole sentences of at most this many phones
STREAM_PUSH_FRAMES = 7  # frames handed to the streaming decoder at a time (as UniAudio's, same codec family)
S1_STAGE, S2_STAGE = 1, 0  # sampling step offsets, in STAGE_STEPS


@dataclass
class VoicePrompt:
    """A voice prompt as S2 reads it: its codes (k, P) and, for systems that prompt with them, its units (U,)."""
    codes: np.ndarray
    units: np.ndarray | None = None


class CascadeModel(GraphModel):
    capabilities = ("text-to-speech", "voice-cloning", "speech-to-speech", "singing")
    prompt_needs_transcript = False  # voices are prompted by audio alone

    def __init__(self, bundle, **kwargs):
        super().__init__(bundle, **kwargs)
        plan = one_component(bundle, "cascade")
        hp = self.hparams = CascadeHParams.from_json(bundle.component(plan).hparams,
                                                     f"bundle {bundle.name!r}: components.{plan}.hparams")
        spec = hp.spec
        self.vocab = hp.vocabulary
        vocoder_kind = "codec" if spec.vocoder == "codec" else "unit-vocoder"
        for name, kind in ((hp.s1, spec.s1), (hp.s2, spec.s2), (hp.codec, "codec"), (hp.vocoder, vocoder_kind)):
            if name not in bundle.manifest.components:
                raise BundleError(f"bundle {bundle.name!r}: the cascade names component {name!r}, which it lacks")
            if bundle.component(name).kind != kind:
                raise BundleError(f"bundle {bundle.name!r}: {hp.system} runs a {kind!r} as {name!r}, the bundle has "
                                  f"a {bundle.component(name).kind!r}")
        self.s1 = self._runner(spec.s1, hp.s1)
        if spec.s2 == "unit-lm":
            self.s2 = self._runner("unit-lm", hp.s2)
            self.codec = Codec(self.sessions, hp.codec)
        else:  # UniAudio's multi-scale model, run by its own family over these sessions
            from .uniaudio import UniAudioModel

            self.s2 = UniAudioModel(bundle, sessions=self.sessions)
            self.codec = self.s2.codec
            if self.s2.vocab.data_range("semantic")[1] - self.s2.vocab.data_range("semantic")[0] != self.vocab.n_units:
                raise BundleError(f"bundle {bundle.name!r}: S2's token list holds a different number of semantic "
                                  f"units than the cascade's {self.vocab.n_units}")
            if "VC" not in self.s2.tasks:
                raise BundleError(f"bundle {bundle.name!r}: MVoice's S2 is UniAudio's VC task; its LM lacks it")
        k = self.vocab.n_codebooks
        if self.codec.kind != "rvq" or self.codec.n_q < k or self.codec.codebook_size != self.vocab.codebook_size:
            raise BundleError(f"bundle {bundle.name!r}: S2 models {k} codebooks of {self.vocab.codebook_size} codes; "
                              f"its codec has {self.codec.n_q} of {self.codec.codebook_size}")
        if abs(self.codec.frame_rate - hp.frame_rate) > 1e-6:
            raise BundleError(f"bundle {bundle.name!r}: the codec runs at {self.codec.frame_rate:g} frames/s, the "
                              f"cascade at {hp.frame_rate:g}")
        if vocoder_kind == "unit-vocoder":
            from ..hparams.unit_vocoder import UnitVocoderHParams
            from .unit_vocoder import UnitVocoderRunner

            vhp = UnitVocoderHParams.from_json(bundle.component(hp.vocoder).hparams,
                                               f"bundle {bundle.name!r}: components.{hp.vocoder}.hparams")
            if vhp.n_codebooks != k or vhp.codebook_size != self.vocab.codebook_size:
                raise BundleError(f"bundle {bundle.name!r}: the unit vocoder reads {vhp.n_codebooks} codebooks of "
                                  f"{vhp.codebook_size}; S2 makes {k} of {self.vocab.codebook_size}")
            if vhp.f0_bins:
                raise BundleError(f"bundle {bundle.name!r}: the speech vocoder {hp.vocoder!r} reads F0")
            self.vocoder = UnitVocoderRunner(self.sessions, hp.vocoder, vhp)
            self.sample_rate = vhp.sample_rate
        else:
            self.vocoder = None
            self.sample_rate = self.codec.sample_rate
        self.sing_vocoder = None
        if hp.sing_vocoder:
            from .unit_vocoder import UnitVocoderRunner

            self.sing_vocoder = UnitVocoderRunner.from_bundle(self.sessions, hp.sing_vocoder)
            if self.sing_vocoder.f0_bins != self.vocab.f0_bins or self.sing_vocoder.hparams.sample_rate != \
                    self.sample_rate:
                raise BundleError(f"bundle {bundle.name!r}: the singing vocoder reads {self.sing_vocoder.f0_bins} F0 "
                                  f"bins at {self.sing_vocoder.hparams.sample_rate} Hz; S2 has {self.vocab.f0_bins}, "
                                  f"the speech path {self.sample_rate} Hz")
        self.frame_rate = hp.frame_rate
        self.tasks = hp.tasks
        self.defaults = {"temperature": hp.temperature, "top_k": hp.top_k}
        self._text = self._units = None

    def _runner(self, kind: str, component: str):
        spec = self.bundle.component(component)
        where = f"bundle {self.bundle.name!r}: components.{component}.hparams"
        if kind == "unit-seq2seq":
            from ..hparams.unit_seq2seq import UnitSeq2SeqHParams
            from .unit_seq2seq import UnitSeq2SeqRunner

            hp = UnitSeq2SeqHParams.from_json(spec.hparams, where)
            if hp.n_src_vocab != self.hparams.src_vocab or hp.n_units != self.vocab.n_units:
                raise BundleError(f"{where}: S1 reads {hp.n_src_vocab} source ids and makes {hp.n_units} units; the "
                                  f"cascade has {self.hparams.src_vocab} and {self.vocab.n_units}")
            return UnitSeq2SeqRunner(self.sessions, component, hp)
        from ..hparams.unit_lm import UnitLMHParams
        from .unit_lm import UnitLMRunner

        hp = UnitLMHParams.from_json(spec.hparams, where)
        if hp.n_vocab != self.vocab.size:
            raise BundleError(f"{where}: the LM has {hp.n_vocab} ids; the cascade's vocabulary {self.vocab.size}")
        return UnitLMRunner(self.sessions, component, hp)

    # -- options and inputs --------------------------------------------------------------------------------
    def options(self, *, seed=0, temperature=None, top_k=None, top_p=None, max_length=None) -> GenerationOptions:
        """Sampling options of both LM stages (None: the bundle's defaults; ``temperature=0``: greedy).
        ``max_length``: codec frames at most."""
        return GenerationOptions(seed=seed, temperature=temperature, top_k=top_k, top_p=top_p,
                                 max_length=max_length).resolved(self.defaults)

    def require_task(self, task: str) -> None:
        if task not in self.tasks:
            names = {"tts": "text-to-speech", "vc": "voice conversion", "sing": "singing"}
            raise CapabilityError(f"bundle {self.bundle.name!r} ({self.hparams.system}) was not built for "
                                  f"{names[task]}; it does {', '.join(names[t] for t in self.tasks)}")

    @property
    def phones(self):
        """The English G2P front end (text -> S1's source ids)."""
        if self._text is None:
            from ..text.frontends import load_front_end

            self._text = load_front_end(self.bundle, self.hparams.text, self.sessions)
            if self._text.vocab_size != self.hparams.n_phones:
                raise BundleError(f"bundle {self.bundle.name!r}: the text front end makes {self._text.vocab_size} "
                                  f"ids; S1 reads {self.hparams.n_phones}")
        return self._text

    def add_lexicon(self, lexicon) -> int:
        """User pronunciations for the G2P (``EnglishG2P.add_lexicon``)."""
        return self.phones.add_lexicon(lexicon)

    @property
    def semantic_tokenizer(self):
        if not self.hparams.semantic_units:
            raise CapabilityError(f"bundle {self.bundle.name!r} has no semantic tokenizer")
        if self._units is None:
            from .semantic_units import SemanticUnits

            self._units = SemanticUnits(self.bundle, self.sessions, self.hparams.semantic_units)
            if self._units.hparams.n_clusters != self.vocab.n_units:
                raise BundleError(f"bundle {self.bundle.name!r}: the semantic tokenizer has "
                                  f"{self._units.hparams.n_clusters} clusters, the LMs {self.vocab.n_units} units")
        return self._units

    def semantic_units(self, audio, sample_rate: int | None = None) -> np.ndarray:
        """A recording -> its semantic units (T,) (the bundle's tokenizer)."""
        return self.semantic_tokenizer.units(audio, sample_rate)

    def voice(self, audio, sample_rate: int | None = None) -> VoicePrompt:
        """A recording of the voice -> the prompt S2 reads: its first ``prompt_seconds`` as codes (and units, for
        systems prompted with both). Longer than ``max_prompt_seconds`` is refused."""
        hp = self.hparams
        samples, rate = input_samples(audio, sample_rate, what="prompt audio", max_seconds=hp.max_prompt_seconds)
        if samples.size / rate > hp.max_prompt_seconds:
            raise InvalidInput(f"prompt audio is {samples.size / rate:.1f} s long; the limit is "
                               f"{hp.max_prompt_seconds:g} s")
        samples = samples[:int(round(hp.prompt_seconds * rate))]
        x = resample(samples, rate, self.codec.sample_rate)
        codes = np.ascontiguousarray(self.codec.encode(x, self.codec.sample_rate,
                                                       n_q=self.vocab.n_codebooks)[0]).astype(np.int64)
        units = self.semantic_units(samples, rate) if "prompt_semantic" in hp.spec.s2_order else None
        return VoicePrompt(codes, units)

    def _prompt(self, prompt) -> VoicePrompt | None:
        if prompt is None or isinstance(prompt, VoicePrompt):
            return prompt
        if isinstance(prompt, np.ndarray) and prompt.dtype.kind in "iu":  # codes (k, P)
            if "prompt_semantic" in self.hparams.spec.s2_order:
                raise InvalidInput(f"{self.hparams.system} is prompted with the voice's semantic units too: give a "
                                   "recording or a VoicePrompt")
            return VoicePrompt(codes_array(prompt, self.vocab, "prompt codes"))
        return self.voice(prompt)

    # -- the stages ----------------------------------------------------------------------------------------
    def semantic(self, src, options: GenerationOptions | None = None, *, exact: int | None = None) -> np.ndarray:
        """S1: source ids (phones; singing phones at ``n_phones + i``) -> semantic units (U,); ``exact``: exactly
        that many units (one per frame of a score)."""
        hp, options = self.hparams, options or self.options()
        src = np.asarray(src, np.int64).reshape(-1)
        if src.size == 0:
            raise InvalidInput("nothing to say: no phones")
        lm = hp.spec.s1 == "unit-lm"
        rules = s1_rules(src.size, hp, exact=exact, lm=lm)
        s1_options = GenerationOptions(seed=options.seed, temperature=options.temperature, top_k=options.top_k,
                                       top_p=options.top_p)
        if lm:
            tokens = self.s1.generate(s1_lm_prefix(src, hp), rules, s1_options, step_offset=S1_STAGE * STAGE_STEPS)
        else:  # the runner checks the ids against its source vocabulary
            tokens = self.s1.generate(src, rules, s1_options, step_offset=S1_STAGE * STAGE_STEPS)
        units = s1_units(list(tokens), hp, lm=lm)
        if units.size == 0:
            raise InvalidInput("S1 ended before its first unit (nothing to voice); try another seed")
        if exact is not None and units.size != exact:
            raise InvalidInput(f"S1 made {units.size} units where the score has {exact} frames: its context "
                               f"({hp.system}'s S1) is too short for this score; shorten it")
        return units

    def acoustic_frames(self, units, options: GenerationOptions | None = None, *, prompt=None, f0=None
                        ) -> Iterator[np.ndarray]:
        """S2: semantic units (+ a voice prompt, + F0 bins per frame) -> codec frames, each (k,) codes, yielded as
        sampled. Aligned systems make exactly one frame per unit; the others stop at ``<end>``."""
        hp, options = self.hparams, options or self.options()
        units = np.asarray(units, np.int64).reshape(-1)
        prompt = self._prompt(prompt)
        if hp.spec.s2 == "uniaudio-lm":
            if prompt is None:
                raise InvalidInput("MVoice speaks in the voice of a prompt: give prompt audio (a few seconds)")
            if f0 is not None:
                raise InvalidInput("this model takes no F0")
            frames = target_frames(units.size, hp)
            if options.max_length is not None and options.max_length < frames:
                raise InvalidInput(f"max_length {options.max_length} is shorter than the {frames} frames the units "
                                   "cover (the target is aligned with them)")
            model = self.s2
            sequence = model.prefix("VC", semantic_seq=units, prompt_seq=prompt.codes)
            if len(sequence.ids) // 3 + frames > model.hparams.n_ctx:
                raise InvalidInput(f"the input is too long: {len(sequence.ids) // 3} + {frames} frames, S2's context "
                                   f"holds {model.hparams.n_ctx}; shorten it")
            search = GenerationOptions(seed=options.seed, temperature=options.temperature, top_k=options.top_k,
                                       max_length=frames)
            base = np.array([model.vocab.codebook_range(c)[0] for c in range(self.vocab.n_codebooks)], np.int64)
            for frame in model.search_frames(sequence, search, min_length=frames + 1):
                yield frame - base
            return
        prefix = s2_lm_prefix(hp, units, prompt_units=None if prompt is None else prompt.units,
                              prompt_codes=None if prompt is None else prompt.codes, f0=f0)
        rules = s2_rules(units.size, hp)
        if options.max_length is not None:
            if hp.spec.aligned and options.max_length < rules.max_frames:
                raise InvalidInput(f"max_length {options.max_length} is shorter than the {rules.max_frames} frames "
                                   "the units cover (the target is aligned with them)")
            rules = type(rules)(rules.ranges, rules.end, min(rules.min_frames, options.max_length),
                                min(rules.max_frames, options.max_length))
        k = self.vocab.n_codebooks
        room = self.s2.hparams.n_ctx - prefix.size
        if hp.spec.aligned and room < k * rules.min_frames:
            raise InvalidInput(f"the input is too long: S2 needs {prefix.size} + {k * rules.min_frames} positions for "
                               f"{units.size} units, its context holds {self.s2.hparams.n_ctx}; shorten the text (or "
                               "the source recording)")
        pending: list[int] = []
        tokens = self.s2.generate(prefix, rules, dataclasses.replace(options, max_length=None),  # in the rules
                                  step_offset=S2_STAGE * STAGE_STEPS)
        for token in tokens:
            pending.append(token)
            if len(pending) == k:
                yield unflatten_codes(pending, self.vocab)[:, 0]
                pending.clear()

    def acoustic(self, units, options: GenerationOptions | None = None, *, prompt=None, f0=None) -> np.ndarray:
        """``acoustic_frames`` collected: codes (k, F)."""
        frames = list(self.acoustic_frames(units, options, prompt=prompt, f0=f0))
        if not frames:
            raise InvalidInput("S2 ended the audio before its first frame (nothing to decode); try another seed")
        return np.stack(frames, axis=1)

    def vocode(self, codes, f0=None) -> np.ndarray:
        """S3: codes (k, F) -> float32 samples at ``sample_rate``; with F0 bins (F,) by the singing vocoder."""
        codes = codes_array(codes, self.vocab)
        if f0 is not None:
            if self.sing_vocoder is None:
                raise InvalidInput(f"bundle {self.bundle.name!r} has no vocoder that reads F0")
            return self.sing_vocoder.decode(codes, f0)
        if self.vocoder is not None:
            return self.vocoder.decode(codes)
        return self.codec.decode_frames(codes, self.vocab.n_codebooks)

    def _stream_vocode(self, frames: Iterator[np.ndarray], f0=None) -> Iterator[np.ndarray]:
        """S3 over frames as they come: the streaming decoder of the codec or the unit vocoder, ``STREAM_PUSH_FRAMES``
        at a time; without one, the whole decode once the frames are in."""
        k = self.vocab.n_codebooks
        vocoder = self.vocoder if f0 is None else self.sing_vocoder
        if vocoder is not None:
            decoder = vocoder.stream_decoder(f0) if vocoder.streams else None
        else:
            decoder = self.codec.stream_decoder() if self.codec.streams else None
        if decoder is None:
            codes = [f for f in frames]
            if not codes:
                raise InvalidInput("S2 ended the audio before its first frame (nothing to decode); try another seed")
            yield self.vocode(np.stack(codes, axis=1), f0)
            return
        pending: list[np.ndarray] = []
        count = 0

        def push():
            codes = np.stack(pending, axis=1)
            pending.clear()
            if vocoder is not None:
                return decoder.push(codes)
            return decoder.push(self.codec.latents_from_codes(codes[None], n_q=k)[0])

        for frame in frames:
            pending.append(frame)
            count += 1
            if len(pending) == STREAM_PUSH_FRAMES:
                yield from push()
        if count == 0:
            raise InvalidInput("S2 ended the audio before its first frame (nothing to decode); try another seed")
        if pending:
            yield from push()
        yield from decoder.flush()

    # -- tasks ---------------------------------------------------------------------------------------------
    def _check_text(self, text) -> None:
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("text is empty")
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidInput(f"text is {len(text)} characters; the limit is {MAX_TEXT_CHARS} (split it)")

    def _chunks(self, text: str) -> list[str]:
        from ..text.sentences import chunk_text, split_sentences

        phones = self.phones
        limit = MAX_CHUNK_PHONES
        chunks = [piece for sentence in split_sentences(text) if sentence.strip()
                  for piece in chunk_text(sentence, limit, phones.count) if phones.count(piece)]
        if not chunks:
            raise InvalidInput("text has nothing to say (no words)")
        return chunks

    def stream(self, text: str, prompt_audio=None, prompt_text: str | None = None, *, seed: int = 0,
               temperature=None, top_k=None, top_p=None, max_length=None, progress=None) -> Iterator[np.ndarray]:
        """Text -> float32 audio at ``sample_rate`` as it is generated, in groups of whole sentences (group k
        sampled with seed + k). ``prompt_audio``: a recording of the voice (its first ``prompt_seconds``; no
        transcript needed, so ``prompt_text`` is ignored)."""
        self.require_task("tts")
        self._check_text(text)
        options = self.options(seed=seed, temperature=temperature, top_k=top_k, top_p=top_p, max_length=max_length)
        prompt = None if prompt_audio is None else self._prompt(prompt_audio)
        chunks = self._chunks(text)
        for k, chunk in enumerate(chunks):
            if progress is not None:
                progress(k, len(chunks), chunk)
            o = dataclasses.replace(options, seed=seed + k)
            units = self.semantic(self.phones.encode(chunk), o)
            yield from self._stream_vocode(self.acoustic_frames(units, o, prompt=prompt))

    def synthesize(self, text: str, prompt_audio=None, prompt_text: str | None = None, *, seed: int = 0,
                   temperature=None, top_k=None, top_p=None, max_length=None, progress=None) -> Audio:
        """``stream``'s chunks joined."""
        chunks = list(self.stream(text, prompt_audio, prompt_text, seed=seed, temperature=temperature, top_k=top_k,
                                  top_p=top_p, max_length=max_length, progress=progress))
        return Audio(np.concatenate(chunks).astype(np.float32), self.sample_rate)

    def convert(self, source, target_voice, *, sample_rate: int | None = None, seed: int = 0, temperature=None,
                top_k=None, top_p=None) -> Audio:
        """Voice conversion: what ``source`` says (its semantic units; no transcript) in the voice of
        ``target_voice`` (a recording), as long as the source (aligned systems) or as S2 ends it."""
        self.require_task("vc")
        units = self.semantic_units(source, sample_rate)
        if units.size == 0:
            raise InvalidInput("the source recording is too short to hold any speech")
        options = self.options(seed=seed, temperature=temperature, top_k=top_k, top_p=top_p)
        return Audio(self.vocode(self.acoustic(units, options, prompt=self._prompt(target_voice))), self.sample_rate)

    def transform(self, audio, *, task: str = "vc", target_voice=None, **options) -> Audio:
        """Speech to speech; the cascades' one such task is voice conversion (``convert``)."""
        if task != "vc":
            raise InvalidInput(f"a cascade transforms speech by voice conversion (task 'vc'), not {task!r}")
        if target_voice is None:
            raise InvalidInput("voice conversion needs target_voice (a recording of the voice)")
        return self.convert(audio, target_voice, **options)

    def sing(self, score, prompt_audio=None, *, seed: int = 0, temperature=None, top_k=None, top_p=None,
             progress=None) -> Audio:
        """Singing: a score (its JSON's path or the parsed object; ``voxlite.text.singing_score``) sung in the
        voice of ``prompt_audio``. Its phones per frame go to S1 (exactly one unit per frame), its notes become F0
        bins (log scale) for S2 and the unit vocoder."""
        from ..dsp.f0 import midi_to_hz, quantize_log_f0
        from ..text.singing_score import load_score, score_to_frames

        self.require_task("sing")
        hp = self.hparams
        phones, midi = score_to_frames(load_score(score), hp.sing_phones, tuple(range(128)), frame_rate=self.frame_rate)
        hz = np.where(midi > 0, midi_to_hz(midi.astype(np.float64)), 0.0)
        f0 = quantize_log_f0(hz, bins=self.vocab.f0_bins, f_min=hp.f0_min, f_max=hp.f0_max)
        options = self.options(seed=seed, temperature=temperature, top_k=top_k, top_p=top_p)
        if progress is not None:
            progress(0, 1, "score")
        units = self.semantic(hp.n_phones + phones, options, exact=phones.size)
        codes = self.acoustic(units, options, prompt=None if prompt_audio is None else self._prompt(prompt_audio),
                              f0=f0)
        return Audio(self.vocode(codes, f0), self.sample_rate)
