"""VibeVoice family (``model_type: "vibevoice"``): a multi-speaker script (+ a voice prompt per speaker) -> speech,
one 7.5 Hz acoustic latent per LM step, decoded and streamed as it is made.

Components: ``lm`` (kind ``vibevoice-lm``: graphs embed, acoustic_connector, feedback, prefill, step, diffusion,
semantic_stream; ``VibeVoiceLMHParams``), ``codec`` (the acoustic sigma-VAE: encoder for voice prompts,
decoder_stream) and, for text input, ``text`` (an ``hf-tokenizers`` tokenizer.json). The loop (NumPy, native
kernels, graphs on the chosen backend):

    prefill(script prompt; voice prompts' latents through acoustic_connector) -> hidden, control logits, K/V
    repeat: token = argmax of the control logits (speech start / end, diffusion, eos)
        diffusion: uncond = step of the unconditional branch (its own KV buffers: [speech_start, inputs ...])
                   latent = DPM-Solver++(2M) over the diffusion graph, CFG (kernels.solvers), from
                            kernels.noise.standard_normal(seed, latent index, (1, D))
                   audio = decoder_stream(latent / scale - bias); features = semantic_stream(audio)
                   next input = feedback(latent, features)
        speech start: the unconditional branch starts again; other tokens: next input = embed(token)
        eos (or the length limit): end; else step(next input) on the KV buffers

Memory: the KV buffers (both branches) grow with the positions filled (doubling, up to ``max_positions``); the
decoders carry fixed-size states; audio is yielded, not kept. So a long script costs the KV cache and nothing more.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Iterator, Mapping

import numpy as np

from ..audio import Audio, input_samples, resample
from ..errors import BundleError, InvalidInput
from ..hparams import VibeVoiceLMHParams
from .codec import Codec
from .generation import GenerationOptions, KVGroups, autoregress
from .graph import GraphModel, one_component

STEP_KV = "buffer"  # the step graph's cache contract this pipeline runs (fixed-size buffers + length)
MAX_SCRIPT_CHARS = 200_000  # about an hour of speech; longer scripts are refused (split them yourself)
MAX_PROMPT_SECONDS = 60.0  # per voice prompt
# The default length limit: latents per script token (7.5 latents a second, about 3 BPE tokens spoken a second,
# with room for slow speech and pauses) plus a floor. ``max_latents`` overrides it.
LATENTS_PER_TOKEN = 8
MIN_LATENTS = 75
# The model emits control tokens only at turn boundaries; a run of this many without a latent ends the generation
# (an untrained or confused model must not loop to the end of its KV cache).
MAX_CONTROL_RUN = 16
_LINE = re.compile(r"^speaker\s+(\d+)\s*:\s*(.*)$", re.IGNORECASE)


def _script_lines(script: str) -> list[tuple[int, str]]:
    """[(the number the script gives the speaker, " text")]."""
    if not isinstance(script, str):
        raise InvalidInput(f"script must be a string, got {type(script).__name__}")
    if len(script) > MAX_SCRIPT_CHARS:
        raise InvalidInput(f"script is too long: {len(script)} characters (at most {MAX_SCRIPT_CHARS})")
    parsed: list[tuple[int, str]] = []
    for number, line in enumerate(script.strip().split("\n"), 1):
        if not line.strip():
            continue
        m = _LINE.match(line.strip())
        if m is None:
            raise InvalidInput(f"script line {number} is not 'Speaker N: text': {line.strip()[:60]!r}")
        if not m.group(2).strip():
            raise InvalidInput(f"script line {number} has no text")
        parsed.append((int(m.group(1)), " " + m.group(2).strip()))
    if not parsed:
        raise InvalidInput("script is empty: write lines such as 'Speaker 1: Hello.'")
    return parsed


def script_numbering(script: str) -> int:
    """What is subtracted from the script's speaker numbers to index voices: 1 unless some line says Speaker 0."""
    return _numbering(_script_lines(script))


def _numbering(parsed: list[tuple[int, str]]) -> int:
    return 1 if min(s for s, _ in parsed) > 0 else 0


def parse_script(script: str, max_speakers: int = 4) -> list[tuple[int, str]]:
    """"Speaker N: text" lines -> [(speaker index, " text")], blank lines skipped, each text stripped and given one
    leading space (as the official processor). Speaker numbers are 0-based if any line uses 0, else 1-based: the
    index is N - 1 (so "Speaker 1" and "Speaker 2" are voices 0 and 1). A line that is not "Speaker N: ..." is
    refused (the official processor drops it with a warning)."""
    parsed = _script_lines(script)
    shift = _numbering(parsed)
    lines = [(s - shift, text) for s, text in parsed]
    speakers = sorted({s for s, _ in lines})
    if len(speakers) > max_speakers:
        raise InvalidInput(f"script has {len(speakers)} speakers; this model takes at most {max_speakers}")
    return lines


VOICE_DBFS = -25.0  # voice prompts are scaled to this RMS level first, as the official processor does


def normalize_voice(samples: np.ndarray, target_dbfs: float = VOICE_DBFS, eps: float = 1e-6) -> np.ndarray:
    """The official processor's loudness step: scale to ``target_dbfs`` RMS, then divide by the peak if that
    clips."""
    x = np.asarray(samples, np.float32)
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    x = x * np.float32(10 ** (target_dbfs / 20) / (rms + eps))
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return x / np.float32(peak + eps) if peak > 1.0 else x


@dataclasses.dataclass
class Prompt:
    """A laid-out prompt: ids (T,), the voice placeholders' mask (T,) and their LM-scale latents (T, D)."""

    ids: np.ndarray
    speech_mask: np.ndarray
    latents: np.ndarray


def build_prompt(lines: list[tuple[int, str]], voices: Mapping[int, np.ndarray] | None, encode, template,
                 control_ids, acoustic_dim: int) -> Prompt:
    """The official processor's layout (``ScriptTemplate``) of parsed ``lines`` with ``voices`` ({speaker index:
    LM-scale latents (n, D)}): every speaker of a script with voices needs one. ``encode(str) -> ids``."""
    start_id, end_id, diffusion_id, _ = control_ids
    voices = dict(voices or {})
    speakers = sorted({s for s, _ in lines})
    if voices:
        missing = [s for s in speakers if s not in voices]
        if missing:
            raise InvalidInput(f"no voice prompt for speaker index {missing} (each speaker of the script needs one)")
        extra = sorted(set(voices) - set(speakers))
        if extra:
            raise InvalidInput(f"voice prompts for speaker index {extra}, who say nothing in the script")
    ids: list[int] = []
    speech: list[bool] = []
    latents: list[np.ndarray] = []

    def text(s: str) -> None:
        new = encode(s)
        ids.extend(new)
        speech.extend([False] * len(new))

    text(template.system)
    if voices:
        text(template.voice_header)
        for s in speakers:
            z = voices[s]
            text(template.speaker.format(s))
            ids.extend([start_id, *[diffusion_id] * len(z), end_id])
            speech.extend([False] + [True] * len(z) + [False])
            latents.append(z)
            text(template.newline)
    text(template.text_header)
    for s, line in lines:
        text(template.line.format(s, line))
    text(template.speech_header)
    ids.append(start_id)
    speech.append(False)
    mask = np.array(speech, bool)
    full = np.zeros((len(ids), acoustic_dim), np.float32)
    if latents:
        full[mask] = np.concatenate(latents)
    return Prompt(np.array(ids, np.int64), mask, full)


class VibeVoiceModel(GraphModel):
    capabilities = ("text-to-speech", "voice-cloning", "multi-speaker")
    prompt_needs_transcript = False  # voices are recordings only

    def __init__(self, bundle, **kwargs):
        super().__init__(bundle, **kwargs)
        self.lm = one_component(bundle, "vibevoice-lm")
        hp = self.hparams = VibeVoiceLMHParams.from_json(bundle.component(self.lm).hparams,
                                                         f"bundle {bundle.name!r}: components.{self.lm}.hparams")
        self.codec = Codec(self.sessions, one_component(bundle, "codec"))
        self.text_component = one_component(bundle, "text", required=False)
        if self.codec.latent_dim != hp.acoustic_dim:
            raise BundleError(f"codec latent_dim {self.codec.latent_dim} != lm acoustic_dim {hp.acoustic_dim}")
        if self.codec.hop_length != hp.semantic_hop:
            raise BundleError(f"codec hop {self.codec.hop_length} != the semantic encoder's {hp.semantic_hop}")
        if hp.step_kv != STEP_KV:
            raise BundleError(f"vibevoice bundle {bundle.name!r} has a step graph with the {hp.step_kv!r} cache "
                              f"contract; this voxlite runs {STEP_KV!r} (fixed-size buffers + length): re-export it")
        expected = {"embeds", "length", *KVGroups.input_names(hp.kv)}
        step_inputs = {t.name for t in bundle.graph(f"{self.lm}/step").inputs}
        if step_inputs != expected:
            raise BundleError(f"vibevoice step graph inputs {sorted(step_inputs)} do not match hparams "
                              f"(expected {sorted(expected)})")
        self.sample_rate, self.hop_length = self.codec.sample_rate, self.codec.hop_length
        self.start_id, self.end_id, self.diffusion_id, self.eos_id = hp.control_ids
        self.defaults = {"cfg": hp.cfg, "steps": hp.steps}
        self._tokenizer = None

    def _run(self, graph: str, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self.sessions.get(f"{self.lm}/{graph}").run(feeds)

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            if self.text_component is None:
                raise InvalidInput(f"bundle {self.bundle.name!r} has no text front end: it takes token ids only "
                                   "(re-export it with --tokenizer)")
            from ..text.frontends import FILE_ROLES
            from ..text.voxcpm_tokenizer import read_tokenizer

            self._tokenizer = read_tokenizer(self.bundle.component_file(self.text_component,
                                                                        FILE_ROLES["hf-tokenizers"]))
        return self._tokenizer

    def _encode(self, text: str) -> list[int]:
        ids = self.tokenizer.encode(text, add_special_tokens=False).ids
        if any(i >= self.hparams.vocab_size for i in ids):
            raise BundleError(f"bundle {self.bundle.name!r}: its tokenizer makes ids beyond the LM's vocabulary")
        return ids

    # -- inputs -------------------------------------------------------------------------------------
    def options(self, *, cfg=None, steps=None, seed=0, max_latents=None) -> GenerationOptions:
        try:
            options = GenerationOptions(seed=seed, cfg=cfg, steps=steps, max_length=max_latents)
        except InvalidInput as e:  # this family calls the length limit max_latents
            raise InvalidInput(str(e).replace("max_length", "max_latents")) from None
        return options.resolved(self.defaults)

    def encode_voice(self, audio, sample_rate: int | None = None, *, seed: int = 0, index: int = 0) -> np.ndarray:
        """A voice prompt (Audio, samples with ``sample_rate``, or a path) -> LM-scale latents (n, D): the codec's
        mean of the prompt at the bundle's rate and -25 dBFS (``normalize_voice``), a sigma-VAE draw added as the official processor does ("gaussian": one sigma per
        prompt, N(0, (std / 0.8)^2), times unit noise per value; noise ``kernels.noise.standard_normal(seed,
        2**20 + index, ...)``, a stream the latents' noise never uses), then (z + bias) * scale."""
        from ..kernels import noise

        hp = self.hparams
        samples, rate = input_samples(audio, sample_rate, what=f"voice prompt {index}",
                                      max_seconds=MAX_PROMPT_SECONDS)
        x = normalize_voice(resample(samples, rate, self.sample_rate))
        pad = (-len(x)) % self.hop_length  # ragged tail: zeros to a whole frame, as the encoder does
        mean = self.codec.latents_of(np.pad(x, (0, pad)))[0].T  # (n, D)
        n, d = mean.shape
        if hp.prompt_noise != "none":
            draw = noise.standard_normal(seed, 2 ** 20 + index, (1 + n * d,))
            sigma = draw[0] * hp.prompt_std / 0.8 if hp.prompt_noise == "gaussian" else hp.prompt_std
            mean = mean + np.float32(sigma) * draw[1:].reshape(n, d)
        return ((mean + hp.latent_bias) * hp.latent_scale).astype(np.float32)

    def layout(self, script: str, voices: Mapping[int, np.ndarray] | None = None) -> Prompt:
        """The prompt of ``script`` with ``voices`` ({speaker index: encode_voice latents})."""
        hp = self.hparams
        return build_prompt(parse_script(script, hp.max_speakers), voices, self._encode, hp.template,
                            hp.control_ids, hp.acoustic_dim)

    # -- generation ---------------------------------------------------------------------------------
    KV_START = 256  # KV slots for generated latents before the first doubling (~34 s of audio)

    def generate_steps(self, prompt: Prompt, *, options: GenerationOptions) -> Iterator[tuple[int, np.ndarray | None]]:
        """Yield (token, audio chunk or None) per step: the chunk (hop samples) of each latent as soon as it is
        decoded. Ends at eos, at ``options.max_length`` latents (default: ``LATENTS_PER_TOKEN`` per prompt token,
        at least ``MIN_LATENTS``), after ``MAX_CONTROL_RUN`` control tokens in a row, or when the KV cache is full."""
        from ..kernels import noise, solvers

        hp = self.hparams
        T = prompt.ids.size
        if T >= hp.max_positions:
            raise InvalidInput(f"input is too long: the prompt takes {T} positions; this model holds "
                               f"{hp.max_positions}")
        abar = solvers.alphas_cumprod(solvers.betas(hp.n_train, schedule=hp.beta_schedule))
        ts = solvers.diffusion_timesteps(hp.n_train, options.steps, "linspace", variant="dpmsolver")
        step = self.sessions.get(f"{self.lm}/step")
        diffusion = self.sessions.get(f"{self.lm}/diffusion")
        semantic = self.sessions.get(f"{self.lm}/semantic_stream")
        control = {i: self._run("embed", {"input_ids": np.array([[i]], np.int64)})["embeds"] for i in hp.control_ids}
        max_latents = options.max_length
        if max_latents is None:
            max_latents = max(MIN_LATENTS, LATENTS_PER_TOKEN * int((~prompt.speech_mask).sum()))

        def zero_states() -> dict[str, np.ndarray]:
            return {s.name: np.zeros([1 if d == "batch" else d for d in s.shape], np.float32)
                    for s in hp.semantic_states}

        def lm_step(kv: KVGroups, embeds: np.ndarray) -> dict[str, np.ndarray]:
            kv.make_room(1)
            out = step.run({**kv.feeds(), "embeds": embeds, "length": np.array([kv.length], np.int64)})
            kv.append(out)
            return out

        def prefill():
            embeds = self._run("embed", {"input_ids": prompt.ids[None]})["embeds"]
            if prompt.speech_mask.any():
                voice = self._run("acoustic_connector", {"latents": prompt.latents[None]})["embeds"]
                embeds[0, prompt.speech_mask] = voice[0, prompt.speech_mask]
            out = self._run("prefill", {"embeds": embeds})
            kv = KVGroups(hp.kv, capacity=T + self.KV_START, limit=hp.max_positions)
            kv.append(out)
            return {"out": out, "kv": kv, "neg_input": control[self.start_id], "neg": self._negative(),
                    "decoder": self.codec.stream_decoder(), "semantic": zero_states(), "latents": 0, "run": 0}

        def emit(state, i):
            token = hp.control_ids[int(np.argmax(state["out"]["control_logits"][0]))]
            state["token"] = token
            if token == self.start_id:  # a new speech segment: the unconditional branch starts again
                state["neg"], state["neg_input"] = self._negative(), control[self.start_id]
            if token == self.end_id:  # a speech segment ends: the decoders start again from zero states
                state["decoder"], state["semantic"] = self.codec.stream_decoder(), zero_states()
            if token != self.diffusion_id:
                state["next"] = control[token]
                state["run"] += 1
                return token, None
            cond = state["out"]["hidden"]
            uncond = lm_step(state["neg"], state["neg_input"])["hidden"]

            def model_fn(x, t):
                v = diffusion.run({"x": x, "t": np.full((1,), t, np.float32), "cond": cond, "uncond": uncond})
                return v["output"][:1], v["output"][1:]

            z = noise.standard_normal(options.seed, state["latents"], (1, hp.acoustic_dim))
            latent = solvers.sample_dpmpp_2m(model_fn, z, ts, abar, prediction_type=hp.prediction_type,
                                             guidance_scale=options.cfg)
            state["latents"] += 1
            state["run"] = 0
            audio = state["decoder"].push((latent / np.float32(hp.latent_scale) - np.float32(hp.latent_bias)).T)[0]
            sem = semantic.run({"audio": audio[None, None].astype(np.float32), **state["semantic"]})
            state["semantic"] = {name: sem[f"new_{name}"] for name in state["semantic"]}
            state["next"] = self._run("feedback", {"latent": latent,
                                                   "semantic": sem["features"][:, :, -1]})["embeds"][:, None]
            return token, audio

        def stop(state, i):
            return (state["token"] == self.eos_id or state["latents"] >= max_latents
                    or state["run"] >= MAX_CONTROL_RUN)

        def advance(state, frame, i):
            state["out"] = lm_step(state["kv"], state["next"])
            state["neg_input"] = state["next"]  # what the unconditional branch reads at the next latent
            return state

        # T prompt positions, then one per step: the last step needs no LM call
        yield from autoregress(prefill, emit, stop, advance, hp.max_positions - T + 1)

    def _negative(self) -> KVGroups:
        """The unconditional branch's KV buffers, empty."""
        return KVGroups(self.hparams.kv, capacity=self.KV_START, limit=self.hparams.max_positions)

    def _prepare(self, script: str, voices, voice_rate: int | None, seed: int) -> Prompt:
        """``voices`` keyed by the script's own speaker numbers -> the laid-out prompt."""
        encoded = {}
        if voices:
            if not isinstance(voices, Mapping):
                raise InvalidInput("voices must map speaker numbers (as the script writes them) to audio")
            shift = script_numbering(script)
            for number, audio in voices.items():
                if isinstance(number, bool) or not isinstance(number, (int, np.integer, str)) \
                        or not str(number).isdigit():
                    raise InvalidInput(f"voices: {number!r} is not a speaker number")
                index = int(number) - shift
                if index < 0:
                    raise InvalidInput(f"voices: speaker {number} is not in the script")
                encoded[index] = self.encode_voice(audio, voice_rate, seed=seed, index=index)
        return self.layout(script, encoded)

    def _as_script(self, text: str, prompt_audio, voices):
        """Plain text (not "Speaker n:" lines) is one speaker's script; ``prompt_audio`` is that speaker's voice."""
        if not isinstance(text, str):
            raise InvalidInput(f"text must be a string, got {type(text).__name__}")
        if prompt_audio is not None and voices:
            raise InvalidInput("give either prompt_audio (one voice) or voices (one per speaker), not both")
        first = next((ln.strip() for ln in text.strip().split("\n") if ln.strip()), "")
        if not _LINE.match(first):
            if not first:
                raise InvalidInput("text is empty")
            text = "Speaker 1: " + " ".join(ln.strip() for ln in text.split("\n") if ln.strip())
        if prompt_audio is not None:
            numbers = {n for n, _ in _script_lines(text)}  # as the script writes them
            if len(numbers) > 1:
                raise InvalidInput("prompt_audio is one voice; a script with several speakers needs voices={n: audio}")
            voices = {numbers.pop(): prompt_audio}
        return text, voices

    def stream(self, text: str, prompt_audio=None, prompt_text: str | None = None, *, voices=None,
               prompt_sample_rate: int | None = None, cfg: float | None = None, steps: int | None = None,
               seed: int = 0, max_latents: int | None = None, volume=None, progress=None, flow_start=None,
               speed: float = 1.0, pause=None, ssml: bool = False) -> Iterator[np.ndarray]:
        """Yield audio chunks (one latent's hop each, float32 at ``sample_rate``) as they are made.

        ``text``: a script of "Speaker n: text" lines (up to ``hparams.max_speakers`` speakers), or plain text (one
        speaker). ``voices``: a voice prompt per speaker, keyed by the number the script gives the speaker
        (``{1: "alice.wav", 2: bob_audio}``); ``prompt_audio``: the one voice of a single-speaker text. VibeVoice
        needs no transcript of a voice prompt: ``prompt_text`` is accepted and not used. ``volume``: a gain (dB
        string such as "-6dB", or a factor). ``progress(0, 1, script)``: called once, as the script is one piece.
        What other families take and this one cannot do (``flow_start``, ``speed``, ``pause``, ``ssml``) is refused
        with InvalidInput."""
        from ..audio import apply_gain, volume_gain

        del prompt_text  # the model reads voices without transcripts
        for name, value, neutral in (("flow_start", flow_start, None), ("speed", speed, 1.0), ("pause", pause, None),
                                     ("ssml", ssml, False)):
            if value != neutral:
                raise InvalidInput(f"{name}: bundle {self.bundle.name!r} (VibeVoice) does not take it")
        gain = volume_gain(volume)
        options = self.options(cfg=cfg, steps=steps, seed=seed, max_latents=max_latents)
        script, voices = self._as_script(text, prompt_audio, voices)
        prompt = self._prepare(script, voices, prompt_sample_rate, options.seed)
        if progress is not None:
            progress(0, 1, script)
        for _, audio in self.generate_steps(prompt, options=options):
            if audio is not None:
                yield apply_gain(audio, gain)

    def synthesize(self, text: str, prompt_audio=None, prompt_text: str | None = None, **options) -> Audio:
        """The whole script as one Audio (``stream``'s chunks joined)."""
        chunks = list(self.stream(text, prompt_audio, prompt_text, **options))
        return Audio(np.concatenate(chunks) if chunks else np.zeros(0, np.float32), self.sample_rate)
