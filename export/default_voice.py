"""Export the default voice (a small VoxCPM over log-mel + its Vocos) to a ``voxcpm`` bundle.

    python -m export default-voice --acoustic ~/.cache/voxlite/train/acoustic/model.pt \\
        --vocoder ~/.cache/voxlite/train/vocoder/generator --out bundles/default --precision int8 fp32

The bundle is an ordinary voxcpm bundle (``export.voxcpm``), so ``pipelines/voxcpm.py`` runs it:

- ``prefill`` / ``step`` (with its ``position`` input: the model uses rate-scaled audio positions) / ``locdit``;
- the vocoder as the "AudioVAE": its latents are the *normalised* log-mel the acoustic model generates, so the
  ``decoder`` graph is ``Vocos(mel * std + mean)`` and the ``encoder`` graph ``(log_mel(audio) - mean) / std``.
  Vocos is not causal, so there is no ``decoder_stream``: the pipeline streams by decoding overlapping windows
  (the codec component's ``window``: left context and look-ahead frames, ``WINDOW``: the decoder's receptive field);
- the text component: the lexicon of the G2P front end (``voxlite.text.english_g2p``, type ``voxlite-g2p-en``) and the
  letter-to-sound graph for words it lacks.

Voice prompts are off (``voice_prompt: false``, no ``voice-cloning`` capability): the default voice is one speaker
and was never trained to continue another.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
from torch import nn

from voxlite.models.letter_to_sound import load_checkpoint as load_letter_to_sound

from . import ExportError
from .codec import vocos_parts
from .graphs import PRECISIONS
from .letter_to_sound import export_letter_to_sound
from .voxcpm import export_voxcpm

# Streaming windows of the non-causal vocoder, in mel frames: the decoder's receptive field, so that a streamed
# window decodes every emitted sample from the frames the offline decode uses (pipelines/streaming.py). Vocos: the
# kernel-7 embed conv and 8 kernel-7 depthwise convs see +-27 frames, and the iSTFT (n_fft 1024 = 4 hops, "center")
# adds frames -1 .. +2 around each hop of samples: output hop k reads frames k - 28 .. k + 29 (checked by perturbing
# one frame of the float decoder: tests/test_stream_equals_offline.py). With a float decoder the stream then equals
# the offline decode to float rounding; the int8 decoder's dynamic activation scales (one per tensor, per decoded
# span) still differ, at the int8 noise level (stream vs offline 22-42 dB SNR, both 25-33 dB from float). The old
# {"left": 16, "right": 8} cut the look-ahead short: 14-20 dB. Cost against it (embedded voice, 4 sentences, 1-2
# threads): vocoder time x1.17-1.23, stream time and time to first audio (~40 ms at 1 thread) unchanged.
WINDOW = {"left": 28, "right": 29}
# Generation defaults of the default voice. flow_start 0: each patch is the prior head's, no LocDiT solve. At step
# 10,974 on 30 held-out sentences (Whisper tiny.en WER, fp32): prior 18.4 %, shallow solves from t = 0.1 / 0.25 / 0.5
# 18.0 / 19.5 / 21.1 %, a solve from noise (8 steps) 26.3 %; speaker similarity 0.895 -> 0.929 along the same line;
# RTF 0.050 for the prior against 0.082-0.133 with solves. steps (8) and cfg apply when a caller asks for
# flow_start > 0. README "Default voice" has the full table.
GENERATION = {"cfg": 2.0, "steps": 8, "flow_start": 0.0, "min_len": 2, "max_len_ratio": 4.0, "max_len_offset": 10,
              "max_len_cap": 1500}


# The per-patch graphs of a 5.9M-parameter model are too small to split: at 2 intra-op threads a sentence took
# RTF 0.266 against 0.140 at 1 (int8, this 2-core machine, 12 held-out sentences). The vocoder keeps them all.
MAX_GRAPH_THREADS = {"prefill": 1, "step": 1, "locdit": 1}
# The acoustic graphs' int8 variants scale weights and activations per block of 32 (``to_int8_blockwise``):
# dynamic int8 (one scale per activation tensor) cost the voice 1.9 WER points against fp32 on the 633 held-out
# sentences (README "Default voice").
INT8_BLOCKWISE = ("prefill", "step", "locdit")
# The vocoder decoder's int8 variant keeps its activations float (block-wise int8 weights, ``to_int8_blockwise``
# with ``weight_only``). Dynamic int8 gives each activation tensor one scale from the decoded span's range, so a
# streamed span rounds differently from the whole utterance: with the session-18 vocoder the stream strayed 11.7 dB
# from the offline render, and the offline render 12.8-25 dB from the float decode (five sentences). Per-block
# activation scales came to 24-31 dB from float, weight-only to 49-54 dB with the stream equal to the offline render
# to float rounding, no slower than per-block activations but 2.1x dynamic int8's time and ~30 MB more peak RSS
# (ONNX Runtime, a 2-core AVX-512 CPU: 90 ms per 10 s of audio at 2 threads, against 81 fp32 and 42 dynamic).
INT8_WEIGHT_ONLY = ("decoder",)


class _MelNormalisation(nn.Module):
    """A vocoder part behind the acoustic model's per-bin normalisation: the encoder's mel normalised on the way out
    (``out=True``: audio (B, 1, S) -> (B, n_mels, F)), the decoder's de-normalised on the way in (normalised mel ->
    audio)."""

    def __init__(self, inner: nn.Module, mean: torch.Tensor, std: torch.Tensor, *, out: bool):
        super().__init__()
        self.inner, self.out = inner, out
        self.register_buffer("mean", mean.reshape(1, -1, 1))
        self.register_buffer("std", std.reshape(1, -1, 1))

    def forward(self, x):
        if self.out:
            return (self.inner(x) - self.mean) / self.std
        return self.inner(x * self.std + self.mean)


def generation_defaults(payload: dict) -> dict:
    """GENERATION, with the sampling the checkpoint was trained for (``train_acoustic.py --head energy`` saves
    ``generation``: flow_start t0, 1 step, CFG 1) taking precedence."""
    own = payload.get("generation") or {}
    unknown = set(own) - {"flow_start", "steps", "cfg"}
    if unknown:
        raise ExportError(f"the checkpoint's generation settings {sorted(unknown)} are not bundle defaults")
    return {**GENERATION, **own}


def load_acoustic(path: str | Path):
    from voxlite.models.voxcpm import VoxCPM, VoxCPMConfig

    payload = torch.load(path, map_location="cpu", weights_only=False)
    model = VoxCPM(VoxCPMConfig.from_dict(payload["config"]))
    model.load_state_dict(payload["state_dict"])
    return model.eval(), payload


def vocoder_parts(generator_dir: str | Path, mean, std, mel_preset: str):
    parts = vocos_parts(str(generator_dir), None, 0)
    if parts.config.get("mel") and parts.config["mel"].get("n_mels") != len(mean):
        raise ExportError(f"vocoder mel bins {parts.config['mel'].get('n_mels')} != acoustic model's {len(mean)}")
    mean = torch.as_tensor(mean, dtype=torch.float32)
    std = torch.as_tensor(std, dtype=torch.float32)
    parts.encoder = _MelNormalisation(parts.encoder, mean, std, out=True)
    parts.decoder = _MelNormalisation(parts.decoder, mean, std, out=False)
    parts.family = "vocos-normalized"
    parts.config = {**parts.config, "mel_preset": mel_preset, "normalized": True}
    return parts


def export_default_voice(acoustic: str | Path, vocoder: str | Path, out: str | Path, *, precisions=("fp32",),
                         name: str = "voxlite-default", overwrite: bool = False, keep_fp32: bool = True,
                         float_only=(), int8_keep_float=(), int8_blockwise=INT8_BLOCKWISE,
                         int8_weight_only=INT8_WEIGHT_ONLY, letter_to_sound: str | Path | None = None,
                         letter_to_sound_precision: str = "fp32", log=print) -> Path:
    """``letter_to_sound``: the G2P's model for words the lexicon lacks (``train_letter_to_sound.py``'s model.pt;
    default: ``letter_to_sound.pt`` beside the acoustic checkpoint, if there is one), exported (fp32 by default)
    into the tokenizer. fp32 because its argmax decides phonemes: with dynamic int8 activations the engines' float
    rounding moves quantization steps, and ONNX Runtime (Python) and OpenVINO (the C API) read 7 of 802 held-out
    sentences differently; in fp32 they agree on all (tests/test_c_api.py). It costs 2.5 MB."""
    model, payload = load_acoustic(acoustic)
    parts = vocoder_parts(vocoder, payload["mel_mean"], payload["mel_std"], payload["mel"])
    lexicon = Path(acoustic).parent / payload.get("lexicon_file", "lexicon.json")
    if not lexicon.is_file():
        raise ExportError(f"{lexicon} not found: the bundle must carry the lexicon the model was trained with")
    provenance = {"family": "voxcpm", "voice": "voxlite default (student of Piper en_US-joe-medium)",
                  "acoustic_step": int(payload.get("step", 0)), "lexicon": "misaki 0.9.4 us_gold + us_silver "
                  "(Apache-2.0)", "inventory_version": int(payload.get("inventory_version", 0))}
    provenance["int8_blockwise"] = list(int8_blockwise)
    provenance["int8_weight_only"] = list(int8_weight_only)
    if letter_to_sound is None and (Path(acoustic).parent / "letter_to_sound.pt").is_file():
        letter_to_sound = Path(acoustic).parent / "letter_to_sound.pt"
    with tempfile.TemporaryDirectory() as tmp:
        lts_graph = None
        if letter_to_sound is not None:
            lts = load_letter_to_sound(letter_to_sound)
            lts_graph = export_letter_to_sound(lts, Path(tmp) / "letter_to_sound.onnx",
                                               precision=letter_to_sound_precision)
            provenance["letter_to_sound_step"] = int(torch.load(letter_to_sound, map_location="cpu",
                                                                weights_only=False).get("step", 0))
        return export_voxcpm(model, parts, out, precisions=precisions, name=name, provenance=provenance,
                             overwrite=overwrite, log=log, tokenizer=lexicon, tokenizer_kind="voxlite-g2p-en",
                             letter_to_sound=lts_graph, voice_cloning=False,
                             lm_hparams={**generation_defaults(payload), "voice_prompt": False},
                             codec_hparams={"window": WINDOW},
                             graph_metadata={g: {"max_threads": n} for g, n in MAX_GRAPH_THREADS.items()},
                             keep_fp32=keep_fp32, float_only=float_only, int8_keep_float=int8_keep_float,
                             int8_blockwise=int8_blockwise, int8_weight_only=int8_weight_only)


def main(argv=None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--acoustic", required=True, help="model.pt written by recipes.default_voice.train_acoustic")
    parser.add_argument("--vocoder", required=True, help="generator/ directory written by train_vocoder.py")
    parser.add_argument("--out", required=True)
    parser.add_argument("--precision", nargs="+", default=["fp32"], choices=PRECISIONS)
    parser.add_argument("--name", default="voxlite-default")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--no-fp32", action="store_true",
                        help="store only the quantized variant of graphs that have one (the embedded voice)")
    parser.add_argument("--float-graphs", nargs="*", default=[], choices=["prefill", "step", "locdit", "decoder"],
                        help="graphs kept float (no int8 variant), e.g. the small acoustic model's")
    parser.add_argument("--int8-keep-float", nargs="*", default=[], metavar="SUBSTRING",
                        help="node-name substrings of the acoustic graphs left float in their int8 variants")
    parser.add_argument("--int8-blockwise", nargs="*", default=list(INT8_BLOCKWISE),
                        choices=["prefill", "step", "locdit", "decoder"],
                        help="graphs whose int8 variant has block-wise scales (none: dynamic int8 everywhere)")
    parser.add_argument("--int8-weight-only", nargs="*", default=list(INT8_WEIGHT_ONLY),
                        choices=["prefill", "step", "locdit", "decoder"],
                        help="graphs whose int8 variant has block-wise int8 weights and float activations")
    parser.add_argument("--letter-to-sound", type=Path, default=None,
                        help="train_letter_to_sound.py's model.pt (default: letter_to_sound.pt beside --acoustic)")
    args = parser.parse_args(argv)
    out = export_default_voice(args.acoustic, args.vocoder, args.out, precisions=tuple(args.precision),
                               name=args.name, overwrite=args.overwrite, keep_fp32=not args.no_fp32,
                               float_only=tuple(args.float_graphs), int8_keep_float=tuple(args.int8_keep_float),
                               int8_blockwise=tuple(args.int8_blockwise),
                               int8_weight_only=tuple(args.int8_weight_only), letter_to_sound=args.letter_to_sound)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
