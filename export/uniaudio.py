"""Export UniAudio (the MegaByte LM over a joint vocabulary + its 16 kHz SoundStream codec) to a voxlite bundle
(``model_type: "uniaudio"``).

    python -m export uniaudio --random-init --config tiny --seed 0 --out /tmp/tiny-uniaudio [--precision fp32 int8]
    python -m export uniaudio --checkpoint ~/models/uniaudio/ep1.checkpoint \\
        --codec-checkpoint ~/models/uniaudio/codec/ckpt_01135000.pth --out bundles/uniaudio --precision fp32 int8

Nothing is downloaded. With ``--checkpoint``: the LM's weights (a training checkpoint, its ``model`` entry, or a bare
state dict; ``voxlite.convert.uniaudio``), its constructor arguments and its token list from the training
``config.yaml`` beside it (or ``--lm-config``; ``--token-list``: a file with one token per line, or a JSON list, if
the config has none); the codec from ``--codec-checkpoint`` (``voxlite.convert.soundstream``: its config.yaml or the
weights' shapes). The codec's codebook size must be the token list's ``<audio_N>`` bins.

Graphs of component ``lm`` (each verified against the PyTorch reference before the bundle is written: fp32 within
1e-4 max abs, quantized variants within ``MIN_SNR_DB``):

- ``global_prefill``: ``frames`` (1, P, 3) int64 (the prefix up to and including the ``<audio_start>`` frame),
  ``features`` (1, P, continuous_dim) float32 and ``feature_mask`` (1, P) float32 (1 on frames holding T5
  placeholders, whose features replace their embedding; zeros elsewhere) -> ``g2l`` (1, P, 3, C) (global->local
  rows of every prefix position) and ``present.global.<i>.key|value`` (1, H, P, Dh).
- ``global_step``: ``frame`` (1, 3) int64 at global position ``length`` (1,) int64 and ``cache.global.<i>``
  (2, 1, H, capacity, Dh) (the runtime's buffers, ``length`` slots filled) -> ``g2l`` (1, 3, C), ``present.global.*``
  (1, H, 1, Dh).
- ``local_step``: ``token`` (1,) int64 (``<mega_local>`` at local position 0, else the previous id), ``index`` (1,)
  int64 the local position (= the codebook), ``g2l`` (1, C) that position's row, ``cache.local.<i>``
  (2, 1, H, 3, Dh) -> ``logits`` (1, bins + 1): codebook ``index``'s ids then ``<audio_end>`` (the only ids the
  step may emit), ``present.local.*``.

Component ``codec``: the SoundStream (``export.codec.write_codec_component``: encoder, decoder, codebooks, and the
exact streaming decoder's ``decoder_pre_lstm`` / ``decoder_post``: ``Codec.stream_decoder()``), all float.
Front ends (``export.uniaudio_inputs``), each optional: ``--tables CHECKOUT`` (or ``--phone-table`` /
``--sing-phone-table`` / ``--sing-midi-table``: the user's UniAudio tables; text in through voxlite's G2P, singing
scores), ``--semantic-units BUNDLE`` (a ``python -m export hubert`` bundle: voice conversion from recordings),
``--t5 DIR`` (a T5 checkpoint: captions for sound / music / instructed TTS). Each is checked against the token list
(a table of another size is refused). Capabilities follow the tasks and front ends: ``text-to-speech`` (+
``voice-cloning`` with ``tts``), ``text-to-audio``, ``speech-to-speech``, ``singing``.

    python -m export uniaudio --checkpoint ~/models/uniaudio/ep1.checkpoint \
        --codec-checkpoint ~/models/uniaudio/codec/ckpt_01135000.pth --tables ~/src/UniAudio \
        --semantic-units bundles/hubert-base-l9-km500 --t5 ~/models/t5-v1_1-base --out bundles/uniaudio
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

import torch
from torch import nn

from voxlite.bundle import BundleWriter
from voxlite.errors import InvalidInput
from voxlite.hparams import KVGroup, UniAudioLMHParams

from . import ExportError
from .codec import CODEC_BOUNDS, FP32_MAX_ABS, LSTM_STREAM_GRAPHS, CodecParts, write_codec_component
from .graphs import Bounds, add_source_arguments, check_precisions, jsonable, kv_buffers, spread_norms_and_biases, \
    weights_provenance, write_graphs
from .uniaudio_inputs import UniAudioInputs, check_inputs, copy_semantic_units, find_tables, write_sing_tables, \
    write_t5, write_text_component

# SNR (dB) of the quantized graphs' outputs against fp32 on the verify inputs. The LM graphs are exported with
# block-wise int8 (per-block weight scales): dynamic int8's one scale per activation tensor is too coarse at every
# width measured (tiny 72: as for VALL-E; the released 768: global_prefill's g2l at 20.0 dB, on the bound), where
# block-wise gives 42-44 dB on g2l and K/V, 56 dB on the local logits at the tiny width.
MIN_SNR_DB = {"fp16": {"logits": 25.0, "g2l": 25.0}, "int8": {"logits": 20.0, "g2l": 20.0}}
LM_GRAPHS = ("global_prefill", "global_step", "local_step")
# One-row graphs run per frame are too small to split across threads: at the released size (768 wide) on 2 threads
# the global steps took 17.4 s against 12.1 s on 1, the local steps 20.6 s against 16.1 s, the streaming decoder
# 1.1 s against 0.5 s (fp32, 250 frames; a run of benchmarks/uniaudio.py before this cap, whose report the
# committed one replaced). The prefill (a whole prefix)
# and the offline codec keep the model's threads.
MAX_GRAPH_THREADS = {"global_step": 1, "local_step": 1, "decoder_pre_lstm": 1, "decoder_post": 1}
# the codec stays float in int8 bundles: at the released size its int8 convolutions (ConvInteger) decode slower
# than fp32 (0.69 s against 0.44 s for 5 s of audio, 1 thread; a first run of benchmarks/uniaudio.py whose report
# the committed one replaced) and save 3.5 MB of 31.5; its streaming graphs too
CODEC_FLOAT_ONLY = ("encoder", "decoder", *LSTM_STREAM_GRAPHS)
UNIAUDIO_BOUNDS = Bounds(FP32_MAX_ABS, MIN_SNR_DB, graphs={g: CODEC_BOUNDS for g in ("encoder", "decoder")})

# UniAudio's special tokens in id order (its data loader's list); the rest of the first 128 ids are unused
SPECIAL_TOKENS = (
    "<pad>", "<continuous_token>", "<start>", "<end>", "<phone_start>", "<phone_end>", "<text_start>", "<text_end>",
    "<audio_start>", "<audio_end>", "<image_start>", "<image_end>", "<audio_prompt_start>", "<audio_prompt_end>",
    "<text_prompt_start>", "<text_prompt_end>", "<semantic_start>", "<semantic_end>", "<tts_task>",
    "<plain_tts_task>", "<lm_task>", "<phone_to_semantic_task>", "<semantic_to_acoustic_task>", "<mega_global>",
    "<mega_local>", "<text_emb_start>", "<text_emb_end>", "<asr_task>", "<VC_task>", "<AT_task>",
    "<class_event_start>", "<class_event_end>", "<Spex_task>", "<TTA_task>", "<rvq_start>", "<rvq_end>",
    "<TSS_task>", "<text_t5_start>", "<text_t5_end>", "<SV_task>", "<sv_bool_start>", "<sv_bool_end>", "<SE_task>",
    "<sing_task>", "<sing_phone_start>", "<sing_phone_end>", "<sing_midi_start>", "<sing_midi_end>", "<TTM_task>",
    "<Audit_task>", "<InstructTTS_task>", "<Speech_RIR_task>", "<speech_edit_task>")
N_SPECIAL_IDS = 128
# data-token runs after the audio range, per preset (the public recipe's tokenizers; tiny: the parity fixture's)
DATA_SIZES = {"v1": {"phone": 306, "semantic": 500, "sing_phone": 68, "sing_midi": 138},
              "tiny": {"phone": 13, "semantic": 17, "sing_phone": 5, "sing_midi": 8}}
# the tasks of the released UniAudio model (the paper's 11); a checkpoint declares these unless --tasks says
RELEASED_TASKS = ("tts", "VC", "SE", "Spex", "sing", "TTM", "TSS", "Audit", "Speech_RIR", "InstructTTS",
                  "speech_edit")


def make_token_list(bins: int, sizes: dict[str, int], codebooks: int = 3) -> list[str]:
    """A token list in UniAudio's layout: the specials (padded to 128 ids), ``<audio_0..>`` (codebooks x bins + 1
    mask id), then ``<{kind}_N>`` runs of ``sizes``."""
    tokens = list(SPECIAL_TOKENS) + ["<unused_special_token>"] * (N_SPECIAL_IDS - len(SPECIAL_TOKENS))
    tokens += [f"<audio_{i}>" for i in range(codebooks * bins + 1)]
    for kind, n in sizes.items():
        tokens += [f"<{kind}_{i}>" for i in range(n)]
    return tokens


def supported_tasks(token_list) -> tuple[str, ...]:
    """Tasks the token list can build and whose target is audio (what the graphs generate)."""
    from voxlite.errors import BundleError

    out = []
    for task in _task_formats():
        try:
            UniAudioLMHParams.check(_probe(token_list, (task,)))
        except (ValueError, BundleError):
            continue
        out.append(task)
    return tuple(out)


def _task_formats():
    from voxlite.pipelines.uniaudio_sequences import TASK_FORMATS

    return TASK_FORMATS


def _probe(token_list, tasks) -> UniAudioLMHParams:
    kv = {"global": KVGroup(1, 1, 1), "local": KVGroup(1, 1, 1)}
    return UniAudioLMHParams(token_list=tuple(token_list), n_ctx=1, n_state=3, na_repeat=3, continuous_dim=1, kv=kv,
                             tasks=tuple(tasks))


def check_layout(config, token_list) -> None:
    """The LM's configuration must agree with the token list (the runtime reads every offset from the list)."""
    from voxlite.errors import InvalidInput
    from voxlite.pipelines.uniaudio_sequences import UniAudioVocabulary

    try:
        vocab = UniAudioVocabulary.from_token_list(token_list)
        facts = {"n_vocab": len(vocab), "audio_offset": vocab.data_range("audio")[0], "audio_bins": vocab.bins,
                 "audio_start": vocab.special("<audio_start>"), "audio_end": vocab.special("<audio_end>"),
                 "local_sos": vocab.special("<mega_local>"), "global_sos": vocab.special("<mega_global>")}
    except InvalidInput as e:
        raise ExportError(f"token list: {e}") from None
    wrong = {k: (getattr(config, k), v) for k, v in facts.items() if getattr(config, k) != v}
    if wrong:
        raise ExportError(f"the LM configuration disagrees with the token list (config, list): {wrong}")


# -- export wrappers ---------------------------------------------------------------------------------------------
class _Prefill(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, frames, features, feature_mask):
        g2l, kv = self.model.prefill_frames(frames, features, feature_mask)
        return (g2l, *kv)


class _GlobalStep(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, frame, length, *cache):
        g2l, kv = self.model.global_step_buffer(frame, length, tuple(cache))
        return (g2l, *kv)


class _LocalStep(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, token, index, g2l, *cache):
        logits, kv = self.model.local_step_buffer(token, index, g2l, tuple(cache))
        return (logits, *kv)


def _names(group: str, n_layers: int) -> tuple[list[str], list[str]]:
    return ([f"cache.{group}.{i}" for i in range(n_layers)],
            [f"present.{group}.{i}.{kv}" for i in range(n_layers) for kv in ("key", "value")])


randomize = spread_norms_and_biases  # the name other modules import


def uniaudio_specs(model, token_list, tasks, *, defaults: dict | None = None) -> tuple[dict, UniAudioLMHParams]:
    c = model.config
    r = c.na_repeat
    g = torch.Generator().manual_seed(4321)
    P = 9
    frames = torch.randint(0, c.n_vocab, (1, P, 1), generator=g).repeat(1, 1, r)
    frames[0, 3] = torch.randint(c.audio_offset, c.audio_offset + c.audio_bins, (r,), generator=g)
    features = torch.randn(1, P, c.continuous_dim, generator=g)
    feature_mask = torch.zeros(1, P)
    feature_mask[0, 4:7] = 1.0  # a continuous segment (its frames' features replace their embeddings)
    features = features * feature_mask[..., None]
    with torch.no_grad():
        _, gkv = model.prefill_frames(frames, features, feature_mask)
        g2l, _ = model.global_step_buffer(frames[:, -1], torch.tensor([P]), tuple(kv_buffers(gkv, P, g, 0)))
        # two local positions filled: the verify step is position 2 (the last codebook)
        token = torch.tensor([c.local_sos])
        local_past = None
        for l in range(2):
            _, present = model.local_step(token, g2l[:, l], l, local_past)
            local_past = present if local_past is None else tuple(torch.cat((a, b), 2)
                                                                   for a, b in zip(local_past, present))
            token = torch.tensor([c.audio_offset + c.audio_bins * l + l])
    gcache = kv_buffers(gkv, P, g)
    lcache = kv_buffers(local_past, 2, g, spare=r - 2)  # capacity r: the local cache is fixed-size
    gin, gout = _names("global", c.n_layer)
    lin, lout = _names("local", c.n_local_layers)
    frame = frames[:, -1]
    specs = {
        "global_prefill": (_Prefill(model), (frames, features, feature_mask), ["frames", "features", "feature_mask"],
                           ["g2l", *gout], {"frames": {1: "frames"}, "features": {1: "frames"},
                                            "feature_mask": {1: "frames"}, "g2l": {1: "frames"},
                                            **{n: {2: "frames"} for n in gout}}),
        "global_step": (_GlobalStep(model), (frame, torch.tensor([P]), *gcache), ["frame", "length", *gin],
                        ["g2l", *gout], {n: {3: "capacity"} for n in gin}),
        "local_step": (_LocalStep(model), (token, torch.tensor([2]), g2l[:, 2], *lcache),
                       ["token", "index", "g2l", *lin], ["logits", *lout], {}),
    }
    head_dim = c.n_state // c.n_head
    hparams = UniAudioLMHParams(
        token_list=tuple(token_list), n_ctx=c.n_ctx, n_state=c.n_state, na_repeat=r, continuous_dim=c.continuous_dim,
        kv={"global": KVGroup(n_layers=c.n_layer, n_kv_heads=c.n_head, head_dim=head_dim),
            "local": KVGroup(n_layers=c.n_local_layers, n_kv_heads=c.n_head, head_dim=head_dim)},
        tasks=tuple(tasks), config=jsonable(c.to_dict()), **(defaults or {}))
    hparams.check()
    return specs, hparams


def export_uniaudio(model, codec: CodecParts, token_list, out: str | Path, *, tasks=None, precisions=("fp32",),
                    name: str | None = None, provenance: dict | None = None, overwrite: bool = False,
                    int8_blockwise=LM_GRAPHS, defaults: dict | None = None, inputs: UniAudioInputs | None = None,
                    log=print) -> Path:
    """Write the bundle: ``lm`` (kind ``uniaudio-lm``), ``codec`` and the front ends of ``inputs``
    (``export.uniaudio_inputs``). ``tasks``: the UniAudio tasks the weights were trained for (None: every task the
    token list can build with an audio target)."""
    precisions = check_precisions(precisions)
    c = model.config
    check_layout(c, token_list)
    if codec.kind != "rvq" or codec.config.get("codebook_size") != c.audio_bins or \
            codec.config.get("n_q", 0) < c.na_repeat:
        raise ExportError(f"the codec must be an RVQ codec with >= {c.na_repeat} codebooks of {c.audio_bins} codes "
                          f"(the token list's <audio_N> bins); got {codec.family} {codec.config.get('n_q')} x "
                          f"{codec.config.get('codebook_size')}")
    available = supported_tasks(token_list)
    tasks = available if tasks is None else tuple(tasks)
    missing = [t for t in tasks if t not in available]
    if missing:
        raise ExportError(f"tasks {missing}: the token list cannot build them, or their target is not audio "
                          f"(buildable: {', '.join(available)})")
    if not tasks:
        raise ExportError("the bundle would do nothing: no task")
    inputs = inputs or UniAudioInputs()
    check_inputs(inputs, token_list, frame_rate=codec.sample_rate / codec.hop_length, continuous_dim=c.continuous_dim)
    capabilities = inputs.capabilities(tasks)
    with BundleWriter(out, model_type="uniaudio", name=name or "uniaudio", sample_rate=codec.sample_rate,
                      default_precision="fp32", capabilities=capabilities, provenance=provenance or {},
                      overwrite=overwrite) as writer:
        if inputs.semantic_units is not None:  # first: it brings its own files (graphs with shared data come later)
            copy_semantic_units(writer, inputs.semantic_units)
        writer.component("lm", kind="uniaudio-lm")
        if inputs.sing_phone_table is not None:
            write_sing_tables(writer, inputs)
        if inputs.phone_table is not None:
            write_text_component(writer, inputs)
        metadata = {"family": "uniaudio", "sample_rate": codec.sample_rate}
        with tempfile.TemporaryDirectory() as tmp:
            write_uniaudio_lm(writer, model, token_list, tasks, tmp, component="lm", precisions=precisions,
                              defaults=defaults, int8_blockwise=int8_blockwise, log=log)
            # shared: the streaming graphs (decoder_pre_lstm, decoder_post) hold the decoder's tensors again
            write_codec_component(writer, codec, tmp, precisions=precisions, log=log, metadata=metadata,
                                  float_only=CODEC_FLOAT_ONLY, shared_data="weights",
                                  graph_metadata=_threads(CODEC_FLOAT_ONLY))
            write_t5(writer, inputs, tmp, precisions=precisions, log=log)
        return writer.finish()


def write_uniaudio_lm(writer: BundleWriter, model, token_list, tasks, tmp, *, component: str = "lm",
                      precisions=("fp32",), defaults: dict | None = None, int8_blockwise=LM_GRAPHS,
                      log=print) -> UniAudioLMHParams:
    """The LM component (kind ``uniaudio-lm``; declared here unless the caller already has) with its three graphs,
    verified; in a UniAudio bundle and as MVoice's S2 in a cascade's."""
    specs, hparams = uniaudio_specs(model, token_list, tasks, defaults=defaults)
    if writer.has_component(component):
        writer.set_hparams(component, hparams.to_json())
    else:
        writer.component(component, kind="uniaudio-lm", hparams=hparams.to_json())
    write_graphs(writer, specs, tmp, precisions=check_precisions(precisions), bounds=UNIAUDIO_BOUNDS, log=log,
                 shared_data="weights", metadata={"family": "uniaudio"}, component=component,
                 int8_blockwise=tuple(int8_blockwise), graph_metadata=_threads(specs))
    return hparams


def _threads(graphs) -> dict:
    """The manifest metadata that caps each of ``graphs``' intra-op threads (``MAX_GRAPH_THREADS``)."""
    return {g: {"max_threads": MAX_GRAPH_THREADS[g]} for g in graphs if g in MAX_GRAPH_THREADS}


# -- sources ----------------------------------------------------------------------------------------------------
def random_codec(bins: int, config: str, seed: int) -> CodecParts:
    """A random SoundStream whose codebooks have ``bins`` codes (the LM's): the parity fixture's size for ``tiny``,
    the released codec's otherwise."""
    from voxlite.models.soundstream import PRESETS, SoundStream

    from .codec import _randomize, soundstream_model_parts

    name = "tiny" if config == "tiny" else "uniaudio_16khz"
    cfg = dataclasses.replace(PRESETS[name](), codebook_size=bins)
    torch.manual_seed(seed)
    model = SoundStream(cfg)
    _randomize(model, seed)
    return soundstream_model_parts(model, f"preset {name}, {bins} codes per codebook")


def build_random(config: str, seed: int, sizes: dict[str, int] | None = None):
    """(model, token list) of a preset with random weights. ``sizes``: data-token runs that replace the preset's
    (e.g. the sizes of the tables a bundle will carry; the vocabulary grows or shrinks to fit)."""
    from voxlite.models.uniaudio import UniAudioConfig, UniAudioLM

    presets = {"tiny": UniAudioConfig.tiny, "v1": UniAudioConfig.v1}
    if config not in presets:
        raise ExportError(f"unknown --config {config!r} (presets: {', '.join(presets)})")
    cfg = presets[config]()
    tokens = make_token_list(cfg.audio_bins, {**DATA_SIZES[config], **(sizes or {})}, cfg.na_repeat)
    cfg = dataclasses.replace(cfg, n_vocab=len(tokens))
    torch.manual_seed(seed)
    model = UniAudioLM(cfg)
    randomize(model, seed)
    return model.eval(), tokens


def table_sizes(inputs: UniAudioInputs) -> dict[str, int]:
    """The data-token runs the front ends of ``inputs`` need (for random-init bundles that carry them)."""
    from voxlite.text.singing_score import read_midi_table, read_sing_phone_table
    from voxlite.text.uniaudio_phones import read_phone_table

    from .uniaudio_inputs import semantic_units_hparams

    sizes = {}
    if inputs.phone_table is not None:
        sizes["phone"] = len(read_phone_table(inputs.phone_table)) + 1
    if inputs.sing_phone_table is not None:
        sizes["sing_phone"] = len(read_sing_phone_table(inputs.sing_phone_table))
    if inputs.sing_midi_table is not None:
        sizes["sing_midi"] = len(read_midi_table(inputs.sing_midi_table))
    if inputs.semantic_units is not None:
        sizes["semantic"] = semantic_units_hparams(inputs.semantic_units).n_clusters
    return sizes


_ALIASES = {"n_embd": "n_state", "non_acoustic_repeat": "na_repeat", "non-acoustic-repeat": "na_repeat"}


def read_lm_config(checkpoint: str | Path, lm_config: str | None, token_list_file: str | None
                   ) -> tuple[dict, list[str]]:
    """(MegaByteModel constructor kwargs, token list) of a checkpoint: its training ``config.yaml`` (beside the
    checkpoint or in its directory, or ``lm_config``) gives n_layer / n_head / n_embd / ... and the token list."""
    import yaml

    path = Path(lm_config) if lm_config else None
    if path is None:
        ck = Path(checkpoint)
        for cand in ((ck / "config.yaml",) if ck.is_dir() else (ck.with_name("config.yaml"),
                                                                 ck.parent.parent / "config.yaml")):
            if cand.is_file():
                path = cand
                break
    if path is None or not path.is_file():
        raise ExportError(f"{checkpoint}: no config.yaml beside it; give --lm-config (the training config.yaml)")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ExportError(f"{path}: not a mapping")
    kwargs = {}
    for key, value in raw.items():
        key = _ALIASES.get(key, key)
        if key in ("n_vocab", "n_ctx", "n_state", "n_head", "n_layer", "prefix_lm", "na_repeat", "local_sos",
                   "global_sos"):
            kwargs[key] = value
    tokens = raw.get("token_list")
    if token_list_file:
        text = Path(token_list_file).read_text(encoding="utf-8")
        tokens = json.loads(text) if text.lstrip().startswith("[") else [t for t in text.splitlines() if t.strip()]
    if not isinstance(tokens, list) or not tokens:
        raise ExportError(f"{path}: no token_list; give --token-list (one token per line, or a JSON list)")
    missing = {"n_state", "n_head", "n_layer"} - set(kwargs)
    if missing:
        raise ExportError(f"{path}: missing {sorted(missing)} (n_embd, n_head, n_layer of the training config)")
    kwargs.setdefault("n_vocab", len(tokens))
    for key, name in (("local_sos", "<mega_local>"), ("global_sos", "<mega_global>")):
        if key not in kwargs and name in tokens:
            kwargs[key] = tokens.index(name)
    return kwargs, tokens


def build_checkpoint(checkpoint: str, lm_config: str | None, token_list_file: str | None):
    from voxlite.convert.common import read_state_dict
    from voxlite.convert.uniaudio import load_official

    kwargs, tokens = read_lm_config(checkpoint, lm_config, token_list_file)
    ck = Path(checkpoint)
    if ck.is_dir():
        found = sorted(ck.glob("*.checkpoint")) or sorted(ck.glob("*.pt")) or sorted(ck.glob("*.pth"))
        if not found:
            raise ExportError(f"{ck}: no *.checkpoint / *.pt / *.pth weights")
        ck = found[-1]
    try:
        model = load_official(read_state_dict(str(ck)), kwargs, tokens)
    except ValueError as e:
        raise ExportError(f"{ck}: {e}") from None
    return model, tokens


def main(argv=None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    add_source_arguments(parser, checkpoint_help="UniAudio LM checkpoint (training checkpoint or state dict; a "
                         "directory: its newest *.checkpoint), with its training config.yaml beside it",
                         config_default="tiny", config_help="preset for --random-init (tiny, v1)")
    parser.add_argument("--codec-checkpoint", help="UniAudio's SoundStream checkpoint (codec .pth, config.yaml "
                        "beside it); required with --checkpoint")
    parser.add_argument("--lm-config", help="the LM's training config.yaml (default: beside the checkpoint)")
    parser.add_argument("--token-list", help="the joint token list (one per line, or JSON), if config.yaml has none")
    parser.add_argument("--tasks", nargs="+", help="UniAudio tasks to declare (default: random-init every "
                        "buildable task; a checkpoint the released model's 11)")
    parser.add_argument("--int8-dynamic", action="store_true", help="dynamic int8 lm graphs (one scale per "
                        "activation tensor) instead of block-wise; fails the bounds at the published size")
    front = parser.add_argument_group("front ends (what the bundle reads user input with; each optional)")
    front.add_argument("--tables", metavar="CHECKOUT", help="a UniAudio checkout: its phone table and singing "
                       "tables (tools/tokenizer/phone/phone_dict, Sing/dict_phone.txt, Sing/f0_dict.txt)")
    front.add_argument("--phone-table", help="UniAudio's phone_dict (text in: text-to-speech)")
    front.add_argument("--sing-phone-table", help="UniAudio's Sing/dict_phone.txt (singing)")
    front.add_argument("--sing-midi-table", help="UniAudio's Sing/f0_dict.txt (singing)")
    front.add_argument("--lexicon", help="English lexicon for the G2P (default: misaki's US data)")
    front.add_argument("--letter-to-sound", help="an exported letter-to-sound graph for words the lexicon lacks")
    front.add_argument("--semantic-units", metavar="BUNDLE", help="a bundle of python -m export hubert (HuBERT "
                       "layer 9 + k-means 500 for UniAudio): voice conversion from recordings")
    front.add_argument("--t5", metavar="DIR", help="a T5 checkpoint directory in transformers' layout "
                       "(google/t5-v1_1-base for UniAudio): sound and music from captions")
    args = parser.parse_args(argv)
    weights = weights_provenance(parser, args)
    tables = find_tables(args.tables) if args.tables else {}
    inputs = UniAudioInputs(phone_table=args.phone_table or tables.get("phone_table"), lexicon=args.lexicon,
                            letter_to_sound=args.letter_to_sound,
                            sing_phone_table=args.sing_phone_table or tables.get("sing_phone_table"),
                            sing_midi_table=args.sing_midi_table or tables.get("sing_midi_table"),
                            semantic_units=args.semantic_units, t5=args.t5)
    if args.checkpoint:
        if not args.codec_checkpoint:
            parser.error("a checkpoint needs its codec: give --codec-checkpoint")
        from .codec import soundstream_parts

        model, tokens = build_checkpoint(args.checkpoint, args.lm_config, args.token_list)
        codec = soundstream_parts(args.codec_checkpoint, None, args.seed)
        tasks = args.tasks or tuple(t for t in RELEASED_TASKS if t in supported_tasks(tokens))
    else:
        try:
            sizes = table_sizes(inputs)
        except InvalidInput as e:
            raise ExportError(str(e)) from None
        model, tokens = build_random(args.config, args.seed, sizes)
        codec = random_codec(model.config.audio_bins, args.config, args.seed)
        tasks = args.tasks
    provenance = {"family": "uniaudio", "config": "checkpoint" if args.checkpoint else args.config,
                  "weights": weights, "codec": codec.config_source}
    out = export_uniaudio(model, codec, tokens, args.out, tasks=tasks, precisions=tuple(args.precision),
                          name=args.name, provenance=provenance, overwrite=args.overwrite,
                          int8_blockwise=() if args.int8_dynamic else LM_GRAPHS,
                          inputs=inputs)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
