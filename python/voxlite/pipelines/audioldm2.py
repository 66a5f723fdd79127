"""AudioLDM 2 (``model_type: "audioldm2"``): text to sound and music (T5 checkpoints) or to speech (VITS
checkpoints, which read a transcription) by latent diffusion, the denoising loop on the native solvers.

    prompt -> CLAP text features (1, P)             prompt (T5) or transcription (VITS) -> hidden (1, S, D)
    lm: projection + GPT-2 prefill, then 7 KV-cached steps -> 8 "language of audio" (LOA) vectors (1, 8, C)
    the same for the negative prompt (CFG's unconditional branch; "" unless given)
    unet: x_T ~ N(0, 1) (seeded); per step t: one UNet call on [uncond ; cond] -> eps_u, eps_c;
          eps = eps_u + g (eps_c - eps_u); DDIM (or DPM-Solver++(2M)) step in voxlite's native kernels
    decoder: latents -> mel (VAE) -> waveform (HiFi-GAN), cut to the asked duration
    ranker (optional, several waveforms per prompt): CLAP audio embedding . text embedding -> order

This follows diffusers' ``AudioLDM2Pipeline`` step for step, including its padding: the negative prompt's T5 tokens
are padded (or cut) to the prompt's length, and the language model's positions count the padding while its
attention skips it (the runtime drops the masked keys from the KV cache after the prefill). Given the same initial
noise (``noise=``) the audio equals diffusers' (fp32 within 1e-4; see tests/test_audioldm2_bundle.py). The seed
draws that noise with NumPy's PCG64 (not torch's generator), so a seed gives the same audio on every backend but
not diffusers' audio for the same torch seed.
"""
from __future__ import annotations

import logging
import math
from typing import Callable

import numpy as np

from ..audio import Audio
from ..errors import BundleError, InvalidInput
from ..hparams import (AudioLDM2DecoderHParams, AudioLDM2LMHParams, AudioLDM2PromptHParams, AudioLDM2UNetHParams,
                       ClapAudioHParams)
from ..kernels import solvers
from .generation import KVGroups
from .graph import GraphModel, one_component

log = logging.getLogger("voxlite")

MAX_PROMPT_CHARS = 2000  # longer prompts are refused (the encoders read at most max_length tokens anyway)
MAX_TEXT_CHARS = 400  # speech bundles: one utterance per call (VITS reads at most its max_length symbols);
# ``voxlite say`` cuts longer text at sentence ends
MAX_WAVEFORMS = 16
SOLVERS = ("ddim", "dpmpp-2m")
DEFAULT_SPEECH_PROMPT = "A person speaking clearly."


def _hp(cls, bundle, component):
    return cls.from_json(bundle.component(component).hparams, f"bundle {bundle.name!r}: components.{component}.hparams")


class AudioLDM2Model(GraphModel):
    capabilities = ("text-to-audio", "text-to-speech")

    def __init__(self, bundle, **kwargs):
        super().__init__(bundle, **kwargs)
        self.text = one_component(bundle, "audioldm2-prompt")
        self.lm = one_component(bundle, "audioldm2-lm")
        self.unet = one_component(bundle, "audioldm2-unet")
        self.decoder = one_component(bundle, "audioldm2-decoder")
        self.ranker = one_component(bundle, "clap-audio", required=False)
        self.prompt_hp: AudioLDM2PromptHParams = _hp(AudioLDM2PromptHParams, bundle, self.text)
        self.lm_hp: AudioLDM2LMHParams = _hp(AudioLDM2LMHParams, bundle, self.lm)
        self.unet_hp: AudioLDM2UNetHParams = _hp(AudioLDM2UNetHParams, bundle, self.unet)
        self.decoder_hp: AudioLDM2DecoderHParams = _hp(AudioLDM2DecoderHParams, bundle, self.decoder)
        self.ranker_hp = _hp(ClapAudioHParams, bundle, self.ranker) if self.ranker else None
        step_inputs = {t.name for t in bundle.graph(f"{self.lm}/step").inputs}
        expected = {"embed", "position", "length", *KVGroups.input_names(self.lm_hp.kv)}
        if step_inputs != expected:
            raise BundleError(f"audioldm2 lm/step inputs {sorted(step_inputs)} do not match hparams "
                              f"(expected {sorted(expected)})")
        self.speech = self.prompt_hp.second_encoder == "vits"
        self.sample_rate = self.decoder_hp.sample_rate
        u = self.unet_hp
        self._alphas_cumprod = solvers.alphas_cumprod(solvers.betas(u.n_train_timesteps, schedule=u.beta_schedule,
                                                                    beta_start=u.beta_start, beta_end=u.beta_end))
        self._tokenizers = None

    # -- prompt encoding ------------------------------------------------------------------------------
    @property
    def tokenizers(self):
        if self._tokenizers is None:
            from ..text.prompt_tokens import PromptTokens

            hp = self.prompt_hp
            clap = PromptTokens.from_file(self.bundle.component_file(self.text, "clap_tokenizer"),
                                          hp.clap_max_length)
            if self.speech:
                from pathlib import Path

                from ..text.vits_chars import VitsCharTokenizer

                second = VitsCharTokenizer.from_dir(Path(self.bundle.component_file(self.text, "vits_vocab")).parent)
            else:
                second = PromptTokens.from_file(self.bundle.component_file(self.text, "second_tokenizer"),
                                                hp.second_max_length)
            self._tokenizers = (clap, second)
        return self._tokenizers

    def _run(self, graph: str, **feeds) -> dict[str, np.ndarray]:
        return self.sessions.get(graph).run(feeds)

    def _tokens(self, which: int, text: str) -> np.ndarray:
        """Prompt ids; over the encoder's limit (max_length tokens, 512 for the published checkpoints) the end is
        cut, as diffusers does, and logged."""
        tokenizer = self.tokenizers[which]
        ids = tokenizer.encode(text)
        if ids.size == tokenizer.max_length and tokenizer.untruncated_length(text) > ids.size:
            log.warning("prompt cut to its first %d tokens (the %s encoder's limit)", ids.size,
                        "CLAP" if which == 0 else self.prompt_hp.second_encoder.upper())
        return ids

    def _clap(self, text: str) -> np.ndarray:  # (1, P)
        ids = self._tokens(0, text)[None]
        return self._run(f"{self.text}/clap_text", input_ids=ids, attention_mask=np.ones_like(ids))["embedding"]

    def _second(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:  # (1, S, D)
        return self._run(f"{self.text}/second_encoder", input_ids=ids[None], attention_mask=mask[None])["hidden"]

    def _speech_ids(self, transcription: str) -> tuple[np.ndarray, np.ndarray]:
        """VITS ids padded to the tokenizer's max length; diffusers marks the end by writing ``vits_end_id`` over
        the first pad (and unmasking it)."""
        from ..text.vits_chars import mark_end

        hp = self.prompt_hp
        out = self.tokenizers[1](transcription, padding="max_length", max_length=hp.second_max_length)
        ids, mask = mark_end(out["input_ids"], out["attention_mask"], hp.vits_end_id)
        return np.asarray(ids[0], np.int64), np.asarray(mask[0], np.int64)

    def _loa(self, clap: np.ndarray, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The language model's LOA vectors (1, n, C) for one framed prompt: prefill, then n - 1 steps on the KV
        buffers. Masked prompt keys are never attended: they are dropped from the cache, positions still count
        them."""
        hp = self.lm_hp
        out = self._run(f"{self.lm}/prefill", clap=clap, hidden=hidden.astype(np.float32), mask=mask[None])
        keep = np.concatenate(([1, 1, 1, 1], mask, [1])).astype(bool)  # [sos, clap, eos, sos_1, ..., eos_1]
        n_prompt = keep.size
        if n_prompt + hp.max_new_tokens > hp.max_positions:
            raise InvalidInput(f"the prompt makes {n_prompt} language-model positions; with {hp.max_new_tokens} "
                               f"generated vectors that exceeds its {hp.max_positions}")
        kv = KVGroups(hp.kv, capacity=int(keep.sum()) + hp.max_new_tokens, limit=n_prompt + hp.max_new_tokens)
        kv.append({k: (v[:, :, keep] if k.startswith("present.") else v) for k, v in out.items()})
        vectors = [out["last"]]
        for i in range(1, hp.max_new_tokens):
            step = self._run(f"{self.lm}/step", embed=vectors[-1], position=np.array([n_prompt + i - 1]),
                             length=np.array([kv.length]), **kv.feeds())
            kv.append(step)
            vectors.append(step["last"])
        return np.concatenate(vectors, axis=1)

    def encode(self, prompt: str, negative: str | None = None, transcription: str | None = None,
               guidance: bool = True) -> dict[str, np.ndarray]:
        """Conditioning for the UNet: ``loa`` (k, n, C), ``text`` (k, S, D), ``text_mask`` (k, S), k = 2 (negative
        first, as CFG batches it) with guidance, else 1."""
        clap = self._clap(prompt)
        if self.speech:
            ids, mask = self._speech_ids(transcription)
        else:
            ids = self._tokens(1, prompt)
            mask = np.ones_like(ids)
        hidden = self._second(ids, mask)
        loa = self._loa(clap, hidden, mask)
        if not guidance:
            return {"loa": loa, "text": hidden, "text_mask": mask[None]}
        neg_clap = self._clap(negative or "")
        if self.speech:  # diffusers: zeros, fully masked
            neg_mask = np.zeros_like(mask)
            neg_hidden = np.zeros_like(hidden)
        else:  # padded or cut to the prompt's length, as diffusers' max_length=prompt length does
            S = ids.size
            neg_ids = self.tokenizers[1].encode(negative or "")[:S]
            neg_mask = (np.arange(S) < neg_ids.size).astype(np.int64)
            neg_ids = np.concatenate((neg_ids, np.full(S - neg_ids.size, self.prompt_hp.second_pad_id, np.int64)))
            neg_hidden = self._second(neg_ids, neg_mask)
        neg_loa = self._loa(neg_clap, neg_hidden, neg_mask)
        return {"loa": np.concatenate((neg_loa, loa)), "text": np.concatenate((neg_hidden, hidden)),
                "text_mask": np.stack((neg_mask, mask))}

    # -- checks ---------------------------------------------------------------------------------------
    def _check_text(self, text, what: str, allow_empty: bool = False) -> str:
        if not isinstance(text, str):
            raise InvalidInput(f"{what} must be a string, got {type(text).__name__}")
        if not text.strip() and not allow_empty:
            raise InvalidInput(f"{what} is empty")
        if len(text) > MAX_PROMPT_CHARS:
            raise InvalidInput(f"{what} is {len(text)} characters; the limit is {MAX_PROMPT_CHARS} (the encoders "
                               f"read at most {self.prompt_hp.clap_max_length} tokens)")
        return text

    def _options(self, seconds, steps, guidance, solver, waveforms) -> tuple[float, int, float, str, int]:
        u = self.unet_hp
        seconds = u.default_seconds if seconds is None else seconds
        steps = u.default_steps if steps is None else steps
        guidance = u.default_guidance if guidance is None else guidance
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) \
                or not 0 < seconds <= u.max_seconds:
            raise InvalidInput(f"seconds must lie in (0, {u.max_seconds:g}], got {seconds!r}")
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= u.max_steps:
            raise InvalidInput(f"steps must be an integer in [1, {u.max_steps}], got {steps!r}")
        if isinstance(guidance, bool) or not isinstance(guidance, (int, float)) or not math.isfinite(guidance) \
                or not 0 <= guidance <= 50:
            raise InvalidInput(f"guidance (cfg) must lie in [0, 50] (1 or less: no guidance), got {guidance!r}")
        if solver not in SOLVERS:
            raise InvalidInput(f"solver must be one of {', '.join(SOLVERS)}, got {solver!r}")
        if isinstance(waveforms, bool) or not isinstance(waveforms, int) or not 1 <= waveforms <= MAX_WAVEFORMS:
            raise InvalidInput(f"waveforms must be an integer in [1, {MAX_WAVEFORMS}], got {waveforms!r}")
        if waveforms > 1 and self.ranker is None:
            raise InvalidInput(f"bundle {self.bundle.name!r} has no ranker (CLAP audio tower): ask for one waveform")
        return float(seconds), steps, float(guidance), solver, waveforms

    def latent_shape(self, seconds: float) -> tuple[int, int, int, int]:
        """(frames, latent rows, samples): diffusers' height, rounded up to the VAE's factor."""
        u, d = self.unet_hp, self.decoder_hp
        frames = int(seconds * u.frames_per_second)
        frames = int(math.ceil(frames / u.vae_factor)) * u.vae_factor
        if frames < u.vae_factor:
            raise InvalidInput(f"seconds={seconds:g} is shorter than one latent frame")
        return frames, frames // u.vae_factor, int(seconds * d.sample_rate), u.latent_width

    # -- generation -----------------------------------------------------------------------------------
    def _timesteps(self, steps: int, solver: str) -> np.ndarray:
        u = self.unet_hp
        # DPM-Solver++ as diffusers' DPMSolverMultistepScheduler.from_config(the checkpoint's DDIM config) lays them
        variant = "ddim" if solver == "ddim" else "dpmsolver"
        return solvers.diffusion_timesteps(u.n_train_timesteps, steps, u.timestep_spacing, u.steps_offset,
                                           variant=variant)

    def denoise(self, cond: dict[str, np.ndarray], x: np.ndarray, steps: int, guidance: float, solver: str,
                progress: Callable[[int, int], object] | None = None) -> np.ndarray:
        """The denoising loop from the initial noise ``x`` (n, C, h, w): one batched UNet call per step (CFG's two
        branches side by side), the update in the native solver kernels."""
        u = self.unet_hp
        abar = self._alphas_cumprod
        final = 1.0 if u.set_alpha_to_one else float(abar[0])
        n = x.shape[0]
        guided = cond["loa"].shape[0] == 2
        rep = (lambda a: np.repeat(a, n, axis=0))
        feeds = {"loa": rep(cond["loa"]), "text": rep(cond["text"]).astype(np.float32),
                 "text_mask": rep(cond["text_mask"]).astype(np.int64)}
        ts = self._timesteps(steps, solver)
        x = np.ascontiguousarray(x, dtype=np.float32)
        prev_x0 = None
        for i, t in enumerate(ts):
            sample = np.concatenate((x, x)) if guided else x
            noise = self._run(f"{self.unet}/unet", sample=sample, timestep=np.array([t], np.float32), **feeds)["noise"]
            if guided:
                noise = solvers.cfg_velocity(noise[n:], noise[:n], guidance)
            if solver == "ddim":
                # diffusers' DDIM steps to t - T / steps (the next timestep with leading spacing)
                prev_t = int(t) - u.n_train_timesteps // steps
                solvers.ddim_step(noise, x, int(t), prev_t, abar, prediction_type=u.prediction_type,
                                  final_alpha_cumprod=final, out=x)
            else:
                x0, _ = solvers.convert_prediction(noise, x, float(abar[int(t)]), u.prediction_type)
                solvers.dpmpp_2m_step(x, x0, ts, i, abar, prev_x0_pred=prev_x0, final_alpha_cumprod=1.0,
                                      lower_order_final=steps < 15, out=x)
                prev_x0 = x0
            if progress is not None:
                progress(i + 1, len(ts))
        return x

    def decode(self, latents: np.ndarray, n_samples: int) -> np.ndarray:  # (n, C, h, w) -> (n, samples)
        return self._run(f"{self.decoder}/decode", latents=latents)["waveform"][:, :n_samples]

    def rank(self, prompt: str, waveforms: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Order (best first) and cosine similarities of CLAP's text and audio embeddings (the order of diffusers'
        ``logits_per_text``). Clips longer than CLAP's 10 s are cropped at a random offset, as diffusers does; the
        offset is drawn from ``seed``."""
        from ..dsp.clap_features import clap_features_for_scoring

        hp = self.ranker_hp
        feats = clap_features_for_scoring(waveforms, self.sample_rate, hp.feature,
                                          rng=np.random.default_rng(seed))
        emb = self._run(f"{self.ranker}/clap_audio", features=feats)["embedding"]
        text = self._clap(prompt)[0]
        emb = emb / np.linalg.norm(emb, axis=-1, keepdims=True)
        sims = emb @ (text / np.linalg.norm(text))
        return np.argsort(-sims, kind="stable"), sims

    def generate_all(self, prompt: str, *, seconds: float | None = None, steps: int | None = None,
                     guidance: float | None = None, negative: str | None = None, seed: int = 0,
                     solver: str = "ddim", waveforms: int = 1, transcription: str | None = None,
                     noise: np.ndarray | None = None,
                     progress: Callable[[int, int], object] | None = None) -> list[Audio]:
        """``waveforms`` generations for ``prompt`` (ranked best first by CLAP when more than one)."""
        prompt = self._check_text(prompt, "prompt")
        if negative is not None:
            negative = self._check_text(negative, "negative prompt", allow_empty=True)
        if self.speech:
            if transcription is None:
                raise InvalidInput(f"bundle {self.bundle.name!r} is a speech model: give the words to say "
                                   "(transcription)")
            transcription = self._check_text(transcription, "transcription")
        elif transcription is not None:
            raise InvalidInput(f"bundle {self.bundle.name!r} generates sound from a prompt; it takes no "
                               "transcription")
        seconds, steps, guidance, solver, waveforms = self._options(seconds, steps, guidance, solver, waveforms)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise InvalidInput(f"seed must be a non-negative integer, got {seed!r}")
        _, rows, n_samples, width = self.latent_shape(seconds)
        shape = (waveforms, self.unet_hp.latent_channels, rows, width)
        if noise is None:
            noise = np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)
        elif np.shape(noise) != shape:
            raise InvalidInput(f"noise must have shape {shape}, got {np.shape(noise)}")
        cond = self.encode(prompt, negative, transcription, guidance=guidance > 1.0)
        latents = self.denoise(cond, np.asarray(noise, np.float32), steps, guidance, solver, progress)
        audio = self.decode(latents, n_samples)
        if waveforms > 1:
            order, _ = self.rank(prompt, audio, seed)
            audio = audio[order]
        return [Audio(np.ascontiguousarray(a, dtype=np.float32), self.sample_rate) for a in audio]

    def generate(self, prompt: str, *, seconds: float | None = None, steps: int | None = None,
                 guidance: float | None = None, negative: str | None = None, seed: int = 0, solver: str = "ddim",
                 waveforms: int = 1, transcription: str | None = None, noise: np.ndarray | None = None,
                 progress: Callable[[int, int], object] | None = None) -> Audio:
        """Text -> sound or music (``voxlite generate``): the best of ``waveforms`` generations."""
        if self.speech:
            raise InvalidInput(f"bundle {self.bundle.name!r} is a speech model: use synthesize(text, prompt=...)")
        return self.generate_all(prompt, seconds=seconds, steps=steps, guidance=guidance, negative=negative,
                                 seed=seed, solver=solver, waveforms=waveforms, transcription=transcription,
                                 noise=noise, progress=progress)[0]

    def synthesize(self, text: str, *, prompt: str | None = None, cfg: float | None = None,
                   flow_start: float | None = None, progress=None, **options) -> Audio:
        """Speech bundles: say ``text`` in the manner ``prompt`` describes (``voxlite say``; ``cfg`` is the guidance
        scale). ``progress(i, n, text)`` is called once before the utterance, as for the other speech families."""
        if not self.speech:
            raise InvalidInput(f"bundle {self.bundle.name!r} generates sound, not speech: use generate(prompt)")
        for unsupported in ("prompt_audio", "prompt_text", "speed", "pause", "volume", "ssml"):
            if options.pop(unsupported, None) not in (None, False, 1.0):
                raise InvalidInput(f"{unsupported}: AudioLDM 2's speech model does not take it")
        if flow_start is not None:
            raise InvalidInput("flow_start: AudioLDM 2 is a diffusion model, not a flow-matching one")
        if progress is not None:
            progress(0, 1, text)
        if cfg is not None:
            options["guidance"] = cfg
        return self.generate_all(prompt or DEFAULT_SPEECH_PROMPT, transcription=text, **options)[0]

    def stream(self, text: str, **options):
        """The whole utterance as one chunk (diffusion produces it at once)."""
        yield self.synthesize(text, **options).samples
