"""Export VALL-E / VALL-E X (and SpeechX-style task prompting) to a voxlite bundle (``model_type: "valle"``).

    python -m export valle --checkpoint ~/models/vallex-checkpoint.pt --codec-checkpoint \\
        ~/models/encodec_24khz-d7cc33bc.th --vocab ~/models/bpe_69.json --out bundles/vallex --precision fp32 int8
    python -m export valle --random-init --config tiny --seed 0 --out /tmp/tiny-valle [--speechx]

Nothing is downloaded: the checkpoint (``vallex-checkpoint.pt``: its ``model`` state dict), the EnCodec 24 kHz
weights and VALL-E X's phoneme table (``bpe_69.json``) are files the user already has.

Graphs of component ``lm`` (each verified against the PyTorch reference before the bundle is written; fp32 within
1e-4 max abs; int8 logits within the SNR bounds in ``MIN_SNR_DB``; KV outputs logged):

- ``ar_prefill``: ``text`` (1, S) int64, ``language`` (1, S) int64 (models with language embeddings), ``audio``
  (1, T) int64 (BOS, then the prompt's codebook 1) -> ``logits`` (1, N + 1) after the last position and
  ``present.ar.<i>.key|value`` (1, H, S + T, Dh).
- ``ar_step``: ``token`` (1, 1) int64 at audio position ``position`` (1,) int64, ``length`` (1,) int64 and
  ``cache.ar.<i>`` (2, 1, H, capacity, Dh) (the runtime's fixed buffers, read in place) -> ``logits``,
  ``present.ar.<i>.key|value`` (1, H, 1, Dh).
- ``nar``: ``text``, ``language``, ``prompt`` (1, P, n_q), ``codes`` (1, T, n_q) (codebooks below the stage
  filled), ``stage`` (1,) int64 in 1..n_q-1 -> ``logits`` (1, T, N) of codebook stage + 1.

Components: ``lm`` (kind ``valle-lm``, ``voxlite.hparams.VallELMHParams``), ``codec`` (EnCodec: encodes the voice
prompt, decodes the result) and, with a vocab, ``text`` (``vallex-phonemes``).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
from torch import nn

from voxlite.bundle import BundleWriter
from voxlite.hparams import SPEECHX_TASKS, KVGroup, VallELMHParams

from . import ExportError
from .codec import CODEC_BOUNDS, FP32_MAX_ABS, CodecParts, encodec_parts, write_codec_component
from .graphs import (Bounds, add_source_arguments, check_precisions, jsonable, kv_buffers, weights_provenance,
                     write_graphs)

# Quantized bounds: SNR (dB) of the logits against fp32 on the verify inputs. The default int8 is dynamic (int8
# weights, activations quantized per run: MLAS's u8s8 kernels, the fast path on AVX2 CPUs): at VALL-E X's size with
# random weights it measured 31-34 dB. At the tiny random test width (32) dynamic's one activation scale per tensor
# gives only 10-21 dB, so the tests export block-wise int8 (``int8_blockwise``: per-block weight and activation
# scales, ``to_int8_blockwise``; 45-49 dB there, but no faster than fp32 on AVX2-only CPUs).
MIN_SNR_DB = {"fp16": {"logits": 25.0}, "int8": {"logits": 25.0}}
LM_GRAPHS = ("ar_prefill", "ar_step", "nar")
VALLE_BOUNDS = Bounds(FP32_MAX_ABS, MIN_SNR_DB, graphs={g: CODEC_BOUNDS for g in ("encoder", "decoder",
                                                                                   "decoder_stream")})
TASK_TOKENS = 6  # <ns> <sr> <tse> <soe> <mask> <eoe>


class _Prefill(nn.Module):
    def __init__(self, model, languages: bool):
        super().__init__()
        self.model, self.languages = model, languages

    def forward(self, text, *rest):
        language, audio = rest if self.languages else (None, rest[0])
        logits, kv = self.model.ar_prefill(text, language, audio)
        return (logits, *kv)


class _Step(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, token, position, length, *cache):
        logits, kv = self.model.ar_step_buffer(token, position, length, tuple(cache))
        return (logits, *kv)


class _NAR(nn.Module):
    def __init__(self, model, languages: bool):
        super().__init__()
        self.model, self.languages = model, languages

    def forward(self, text, *rest):
        language, prompt, codes, stage = rest if self.languages else (None, *rest)
        return self.model.nar_logits(text, language, prompt, codes, stage)


def randomize(model: nn.Module, seed: int) -> None:
    """Random-init export: norm gains / position scales start at 1 and biases at 0: spread them so a wrong graph
    cannot hide behind them."""
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("alpha") or "norm" in name:
                p.add_(0.3 * torch.randn(p.shape, generator=g))


def build(checkpoint: str | None, config: str, seed: int, *, speechx: bool = False, n_heads: int = 16):
    from voxlite.models.valle import VallE, VallEConfig

    if checkpoint:
        from voxlite.convert.common import read_state_dict
        from voxlite.convert.valle import load_official

        if speechx:
            raise ExportError("--speechx builds random task-token rows; a checkpoint brings its own (n_task_tokens)")
        return load_official(read_state_dict(checkpoint, nested_key="model"), n_heads=n_heads)
    presets = {"tiny": lambda **kw: VallEConfig.tiny(n_audio_tokens=32, n_quantizers=4, **kw),
               "vallex": VallEConfig.vallex}
    if config not in presets:
        raise ExportError(f"unknown --config {config!r} (presets: {', '.join(presets)})")
    torch.manual_seed(seed)
    model = VallE(presets[config](n_task_tokens=TASK_TOKENS if speechx else 0))
    randomize(model, seed)
    return model.eval()


def cache_names(n_layers: int) -> list[str]:
    return [f"cache.ar.{i}" for i in range(n_layers)]


def present_names(n_layers: int) -> list[str]:
    return [f"present.ar.{i}.{kv}" for i in range(n_layers) for kv in ("key", "value")]


def valle_specs(model, *, max_positions: int = 4096, tasks=()) -> tuple[dict, VallELMHParams]:
    c = model.config
    g = torch.Generator().manual_seed(4321)
    n_prompt_text, n_text, n_prompt = 4, 5, 6
    S = n_prompt_text + n_text
    text = torch.randint(0, c.n_text_tokens, (1, S), generator=g)
    language = torch.cat((torch.ones(1, n_prompt_text, dtype=torch.long), torch.zeros(1, n_text, dtype=torch.long)),
                         dim=1) % max(c.n_languages, 1)
    prompt = torch.randint(0, c.n_audio_tokens, (1, n_prompt, c.n_quantizers), generator=g)
    audio = torch.cat((torch.tensor([[c.bos]]), prompt[..., 0]), dim=1)
    with torch.no_grad():
        _, kv = model.ar_prefill(text, language if c.n_languages else None, audio)
    T = S + audio.shape[1]
    cache = kv_buffers(kv, T, g)
    token = torch.randint(0, c.n_audio_tokens, (1, 1), generator=g)
    position = torch.tensor([audio.shape[1]])
    length = torch.tensor([T])
    codes = torch.randint(0, c.n_audio_tokens, (1, 7, c.n_quantizers), generator=g)
    stage = torch.tensor([2])

    languages = c.n_languages > 0
    lang_in = ["language"] if languages else []
    lang_arg = (language,) if languages else ()
    seq = {"text": {1: "text"}, **({"language": {1: "text"}} if languages else {})}
    present = present_names(c.n_layers)
    caches = cache_names(c.n_layers)
    specs = {
        "ar_prefill": (_Prefill(model, languages), (text, *lang_arg, audio), ["text", *lang_in, "audio"],
                       ["logits", *present], {**seq, "audio": {1: "audio"}, **{n: {2: "positions"} for n in present}}),
        "ar_step": (_Step(model), (token, position, length, *cache), ["token", "position", "length", *caches],
                    ["logits", *present], {n: {3: "capacity"} for n in caches}),
        "nar": (_NAR(model, languages), (text, *lang_arg, prompt, codes, stage),
                ["text", *lang_in, "prompt", "codes", "stage"], ["logits"],
                {**seq, "prompt": {1: "prompt"}, "codes": {1: "frames"}, "logits": {1: "frames"}}),
    }
    from voxlite.models.valle import LANGUAGES

    hparams = VallELMHParams(
        n_text_tokens=c.n_text_tokens, n_audio_tokens=c.n_audio_tokens, n_quantizers=c.n_quantizers,
        kv={"ar": KVGroup(n_layers=c.n_layers, n_kv_heads=c.n_heads, head_dim=c.dim // c.n_heads)},
        max_positions=max_positions, languages=LANGUAGES[:c.n_languages] if c.n_languages == 3 else
        tuple(f"lang{i}" for i in range(c.n_languages)), n_task_tokens=c.n_task_tokens, tasks=tuple(tasks),
        prefix_mode=c.prefix_mode, config=jsonable(c.to_dict()))
    hparams.check()
    return specs, hparams


def export_valle(model, codec: CodecParts, out: str | Path, *, precisions=("fp32",), name: str | None = None,
                 vocab: str | Path | bytes | None = None, lexicon: str | Path | None = None,
                 letter_to_sound: str | Path | None = None, tasks=(), provenance: dict | None = None,
                 overwrite: bool = False, lm_hparams: dict | None = None, int8_blockwise=(), log=print) -> Path:
    """Write the bundle: ``lm``, ``codec`` and, with ``vocab`` (VALL-E X's phoneme table), ``text``. Capabilities:
    text-to-speech and voice-cloning with a text component; speech-to-speech when ``tasks`` (SpeechX) are named."""
    precisions = check_precisions(precisions)
    c = model.config
    if codec.kind != "rvq" or codec.config.get("n_q", 0) < c.n_quantizers or \
            codec.config.get("codebook_size") != c.n_audio_tokens:
        raise ExportError(f"the codec must be an RVQ codec with >= {c.n_quantizers} codebooks of "
                          f"{c.n_audio_tokens} codes (got {codec.family} {codec.config.get('n_q')} x "
                          f"{codec.config.get('codebook_size')})")
    if tasks and not c.n_task_tokens:
        raise ExportError("SpeechX tasks need a model with task tokens (--speechx / a SpeechX checkpoint)")
    specs, hparams = valle_specs(model, tasks=tasks)
    if lm_hparams:
        hparams = VallELMHParams.from_json({**hparams.to_json(), **lm_hparams}, "lm hparams")
    capabilities = (["text-to-speech", "voice-cloning"] if vocab is not None else []) + \
        (["speech-to-speech"] if tasks else [])
    if not capabilities:
        raise ExportError("the bundle would do nothing: give a phoneme vocab (text input) or SpeechX tasks")
    # the writer aborts (nothing half-written stays) if anything in the block raises
    with BundleWriter(out, model_type="valle", name=name or "valle", sample_rate=codec.sample_rate,
                      default_precision="fp32", capabilities=capabilities, provenance=provenance or {},
                      overwrite=overwrite) as writer:
        if vocab is not None:
            from .vallex_text import write_vallex_text_component

            write_vallex_text_component(writer, vocab, lexicon=lexicon, letter_to_sound=letter_to_sound)
        writer.component("lm", kind="valle-lm", hparams=hparams.to_json())
        metadata = {"family": "valle", "sample_rate": codec.sample_rate}
        with tempfile.TemporaryDirectory() as tmp:
            write_graphs(writer, specs, tmp, precisions=precisions, bounds=VALLE_BOUNDS, log=log,
                         shared_data="weights", metadata=metadata, component="lm",
                         int8_blockwise=tuple(int8_blockwise))
            write_codec_component(writer, codec, tmp, precisions=precisions, log=log, metadata=metadata)
        return writer.finish()


def main(argv=None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    add_source_arguments(parser, checkpoint_help="VALL-E X checkpoint (vallex-checkpoint.pt; its 'model' entry)",
                         config_default="tiny", config_help="preset for --random-init (tiny, vallex)")
    parser.add_argument("--codec-checkpoint", help="EnCodec 24 kHz weights (encodec_24khz-d7cc33bc.th); "
                        "without it (random-init only) a random codec of the matching size")
    parser.add_argument("--vocab", help="VALL-E X's phoneme table (bpe_69.json); without it the bundle takes no text")
    parser.add_argument("--lexicon", help="English lexicon for the G2P (default: the default voice's)")
    parser.add_argument("--heads", type=int, default=16, help="attention heads (not in the weights; VALL-E X: 16)")
    parser.add_argument("--int8-blockwise", action="store_true",
                        help="block-wise int8 lm graphs (per-block scales: more accurate for narrow models, slower "
                             "than the default dynamic int8 on CPUs without VNNI)")
    parser.add_argument("--speechx", action="store_true",
                        help="random-init only: add the SpeechX task tokens and declare its tasks")
    args = parser.parse_args(argv)
    weights = weights_provenance(parser, args)
    model = build(args.checkpoint, args.config, args.seed, speechx=args.speechx, n_heads=args.heads)
    c = model.config
    if args.codec_checkpoint:
        codec = encodec_parts(args.codec_checkpoint, None, args.seed)
    elif args.checkpoint:
        parser.error("a checkpoint needs its codec: give --codec-checkpoint")
    else:
        codec = encodec_parts(None, "tiny" if c.n_audio_tokens == 32 else "encodec_24khz", args.seed)
    vocab = args.vocab
    if vocab is None and args.random_init:
        from .vallex_text import tiny_vocab_json

        vocab = tiny_vocab_json().encode()
    provenance = {"family": "valle", "config": "checkpoint" if args.checkpoint else args.config, "weights": weights}
    out = export_valle(model, codec, args.out, precisions=tuple(args.precision), name=args.name, vocab=vocab,
                       lexicon=args.lexicon, tasks=SPEECHX_TASKS if args.speechx else (), provenance=provenance,
                       overwrite=args.overwrite,
                       # narrow models (the tiny preset) need per-block scales to stay within the int8 bound
                       int8_blockwise=LM_GRAPHS if args.int8_blockwise or c.dim < 256 else ())
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
