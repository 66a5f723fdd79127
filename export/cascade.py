"""Export a semantic-token cascade (Spear-TTS, Make-A-Voice, MVoice) to a voxlite bundle (``model_type: "cascade"``).

    python -m export cascade --system make-a-voice --random-init --config tiny --seed 0 --out /tmp/mav
    python -m export cascade --system spear-tts --checkpoint spear.pt --codec-checkpoint soundstream.pth \\
        --semantic-units bundles/w2v-bert-l7-k512 --out bundles/spear-tts --precision fp32 int8

No public code or weights exist for any of the three systems. A trained model is brought as a ``voxlite-cascade``
checkpoint (``save_checkpoint`` writes one; ``load_checkpoint`` reads it): a torch file holding ``format``,
``system``, ``vocabulary`` (``UnitVocabulary`` fields), ``plan`` (``CascadeHParams`` fields besides the components'
names: rates, caps, prompt length, sampling defaults, tasks, singing phones), and for each stage (``s1``, ``s2``,
``vocoder``) its ``config`` (the stage model's config as a dict) and ``state_dict`` (the stage model's parameter
names: ``models/unit_seq2seq.py``, ``models/unit_lm.py``, ``models/uniaudio.py`` with ``token_list`` for MVoice's S2,
``models/unit_vocoder.py``). A training script in another layout converts by renaming its keys to those.

Components: ``cascade`` (kind ``cascade``: the plan, ``voxlite.hparams.CascadeHParams``), ``text`` (the English G2P;
``--lexicon`` / ``--letter-to-sound``, default the misaki lexicon), ``s1`` / ``s2`` (the stage LMs, each verified
against its PyTorch reference), ``codec`` (UniAudio's 16 kHz SoundStream layout: ``--codec-checkpoint``, or random),
``vocoder`` (Make-A-Voice's / MVoice's unit vocoder), ``semantic`` (the semantic tokenizer: ``--semantic-units`` copies
the component of a ``python -m export hubert`` / ``w2v-bert`` bundle; random-init bundles get a random one of the
system's kind: w2v-BERT for Spear-TTS, HuBERT for Make-A-Voice, wav2vec 2.0 / XLSR-53 for MVoice).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from voxlite.bundle import BundleWriter
from voxlite.hparams.cascade import SYSTEMS, CascadeHParams, UnitVocabulary
from voxlite.hparams.text import TextHParams
from voxlite.text.english_g2p import inventory

from . import ExportError
from .codec import CodecParts, soundstream_parts, write_codec_component
from .english_g2p_files import add_english_g2p
from .graphs import add_source_arguments, check_precisions, weights_provenance

FORMAT = "voxlite-cascade"
CAPABILITIES = {"tts": ("text-to-speech", "voice-cloning"), "vc": ("speech-to-speech",), "sing": ("singing",)}
# per-config sizes of random-init bundles: tiny for tests; base at the papers' token sizes (stage widths ours)
SIZES = {
    "tiny": dict(n_units=17, codebook_size=23, f0_bins=16, lm=dict(dim=32, n_heads=2, n_layers=2, n_ctx=512),
                 seq2seq=dict(dim=32, n_heads=2, n_enc_layers=2, n_dec_layers=2, n_src_ctx=256, n_tgt_ctx=256),
                 plan=dict(units_per_phone=3, frames_per_unit=1.5, prompt_seconds=0.2, max_prompt_seconds=5.0),
                 units_layer=2),
    "base": dict(n_units=None, codebook_size=1024, f0_bins=256,
                 lm=dict(dim=1024, n_heads=16, n_layers=12, n_ctx=4096),
                 seq2seq=dict(dim=768, n_heads=12, n_enc_layers=6, n_dec_layers=6, n_src_ctx=512, n_tgt_ctx=2048),
                 plan=dict(), units_layer=None),
}
PAPER_UNITS = {"spear-tts": 512, "make-a-voice": 1000, "mvoice": 1000}  # k-means clusters of each paper
PAPER_LAYERS = {"w2v-bert": 7, "hubert": 12, "wav2vec2": 12}  # the semantic tokenizers' layers


@dataclass
class CascadeParts:
    """What a cascade bundle is written from: the plan and the stage models (PyTorch references)."""
    plan: CascadeHParams
    s1: torch.nn.Module
    s2: torch.nn.Module
    vocoder: torch.nn.Module | None
    sing_vocoder: torch.nn.Module | None = None
    token_list: list[str] | None = None  # MVoice's S2 (UniAudio's vocabulary)
    extra: dict = field(default_factory=dict)


def _plan(system: str, vocabulary: UnitVocabulary, *, sing_phones=(), tasks=None, **fields) -> CascadeHParams:
    spec = SYSTEMS[system]
    tasks = tuple(tasks) if tasks is not None else tuple(t for t in spec.tasks if t != "sing" or sing_phones)
    plan = CascadeHParams(system=system, vocabulary=vocabulary, s1="s1", s2="s2",
                          vocoder="vocoder" if spec.vocoder == "unit-vocoder" else "codec",
                          sing_vocoder="sing_vocoder" if "sing" in tasks else "", semantic_units="semantic",
                          n_phones=len(inventory()), sing_phones=tuple(sing_phones), tasks=tasks, **fields)
    try:
        plan.check()
    except ValueError as e:
        raise ExportError(f"cascade plan: {e}") from None
    return plan


def build_stage(kind: str, config: dict, seed: int) -> torch.nn.Module:
    """A stage model of ``kind`` from its config dict, with random weights (seeded; not flat)."""
    if kind == "unit-seq2seq":
        from voxlite.models.unit_seq2seq import UnitSeq2SeqConfig

        from .unit_seq2seq import random_unit_seq2seq

        return random_unit_seq2seq(UnitSeq2SeqConfig(**config), seed)
    if kind == "unit-lm":
        from voxlite.models.unit_lm import UnitLMConfig

        from .unit_lm import random_unit_lm

        return random_unit_lm(UnitLMConfig(**config), seed)
    if kind == "unit-vocoder":
        from voxlite.models.unit_vocoder import UnitVocoderConfig

        from .unit_vocoder import random_unit_vocoder

        return random_unit_vocoder(UnitVocoderConfig.from_dict(config), seed)
    raise ExportError(f"unknown stage kind {kind!r}")


def _vocoder_config(config: str, vocabulary: UnitVocabulary, hop: int, f0_bins: int = 0) -> dict:
    from voxlite.models.unit_vocoder import UnitVocoderConfig

    base = UnitVocoderConfig.tiny() if config == "tiny" else UnitVocoderConfig.make_a_voice()
    cfg = dataclasses.replace(base, n_codebooks=vocabulary.n_codebooks, codebook_size=vocabulary.codebook_size,
                              f0_bins=f0_bins)
    if cfg.bigvgan.upsample_factor != hop:
        raise ExportError(f"the unit vocoder's {config} preset upsamples by {cfg.bigvgan.upsample_factor}; the codec's "
                          f"hop is {hop}")
    return cfg.to_dict()


def build_random(system: str, config: str, seed: int, *, sing_phones=(), hop: int = 320,
                 sample_rate: int = 16000) -> CascadeParts:
    """A cascade of random stage models at a preset's sizes (``SIZES``)."""
    if system not in SYSTEMS:
        raise ExportError(f"unknown --system {system!r} (known: {', '.join(SYSTEMS)})")
    if config not in SIZES:
        raise ExportError(f"unknown --config {config!r} (presets: {', '.join(SIZES)})")
    spec, size = SYSTEMS[system], SIZES[config]
    n_units = size["n_units"] or PAPER_UNITS[system]
    singing = bool(sing_phones) and "sing" in spec.tasks
    vocab = UnitVocabulary(n_units=n_units, codebook_size=size["codebook_size"],
                           f0_bins=size["f0_bins"] if singing else 0,
                           n_text=len(inventory()) + len(sing_phones) if spec.s1 == "unit-lm" else 0)
    plan = _plan(system, vocab, sing_phones=sing_phones if singing else (), **size["plan"])
    if spec.s1 == "unit-seq2seq":
        s1 = build_stage("unit-seq2seq", dict(n_src_vocab=plan.src_vocab, n_units=n_units, **size["seq2seq"]), seed)
    else:
        s1 = build_stage("unit-lm", dict(n_vocab=vocab.size, **size["lm"]), seed)
    token_list = None
    if spec.s2 == "unit-lm":
        s2 = build_stage("unit-lm", dict(n_vocab=vocab.size, **size["lm"]), seed + 1)
    else:
        s2, token_list = _uniaudio_s2(config, n_units, seed + 1)
    vocoder = sing_vocoder = None
    if spec.vocoder == "unit-vocoder":
        vocoder = build_stage("unit-vocoder", _vocoder_config(config, vocab, hop), seed + 2).eval()
    if singing:
        sing_vocoder = build_stage("unit-vocoder", _vocoder_config(config, vocab, hop, vocab.f0_bins), seed + 3).eval()
    return CascadeParts(plan, s1.eval(), s2.eval(), vocoder, sing_vocoder, token_list)


def _uniaudio_s2(config: str, n_units: int, seed: int):
    from .uniaudio import build_random as uniaudio_random

    if config == "tiny":
        return uniaudio_random("tiny", seed, sizes={"semantic": n_units})
    return uniaudio_random("v1", seed, sizes={"semantic": n_units})


# -- checkpoints -----------------------------------------------------------------------------------------------
def save_checkpoint(parts: CascadeParts, path: str | Path) -> Path:
    """Write ``parts`` as a ``voxlite-cascade`` checkpoint (the layout a trained cascade is brought in)."""
    plan = parts.plan
    kinds = _kinds(plan.system)
    state = {"format": FORMAT, "system": plan.system, "vocabulary": dataclasses.asdict(plan.vocabulary),
             "plan": {f.name: getattr(plan, f.name) for f in dataclasses.fields(plan) if f.name in _PLAN_FIELDS}}
    for stage, model in (("s1", parts.s1), ("s2", parts.s2), ("vocoder", parts.vocoder),
                         ("sing_vocoder", parts.sing_vocoder)):
        if model is None:
            continue
        config = model.cfg if hasattr(model, "cfg") else model.config  # vocoders name it cfg, as BigVGAN
        entry = {"config": config.to_dict(), "state_dict": model.state_dict(), "kind": kinds[stage]}
        if stage == "s2" and parts.token_list is not None:
            entry["token_list"] = list(parts.token_list)
        state[stage] = entry
    path = Path(path)
    torch.save(state, path)
    return path


_PLAN_FIELDS = ("sing_phones", "f0_min", "f0_max", "unit_rate", "frame_rate", "units_per_phone", "frames_per_unit",
                "prompt_seconds", "max_prompt_seconds", "temperature", "top_k", "tasks")


def _kinds(system: str) -> dict[str, str]:
    spec = SYSTEMS[system]
    return {"s1": spec.s1, "s2": spec.s2, "vocoder": "unit-vocoder", "sing_vocoder": "unit-vocoder"}


def load_checkpoint(path: str | Path) -> CascadeParts:
    """A ``voxlite-cascade`` checkpoint -> ``CascadeParts`` (weights only: ``torch.load(weights_only=True)``)."""
    try:
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the user's input error
        raise ExportError(f"--checkpoint {path}: not a readable torch checkpoint ({e})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ExportError(f"--checkpoint {path}: not a {FORMAT} checkpoint (see `python -m export cascade --help`)")
    system = state.get("system")
    if system not in SYSTEMS:
        raise ExportError(f"--checkpoint {path}: unknown system {system!r}")
    kinds = _kinds(system)
    missing = [s for s in ("s1", "s2") + (("vocoder",) if SYSTEMS[system].vocoder == "unit-vocoder" else ())
               if s not in state]
    if missing:
        raise ExportError(f"--checkpoint {path}: {system} needs stages {missing}")
    try:
        plan = _plan(system, UnitVocabulary(**state["vocabulary"]), **state.get("plan", {}))
    except TypeError as e:
        raise ExportError(f"--checkpoint {path}: {e}") from None
    models, token_list = {}, None
    for stage in ("s1", "s2", "vocoder", "sing_vocoder"):
        if stage not in state:
            continue
        entry = state[stage]
        if kinds[stage] == "uniaudio-lm":
            from voxlite.models.uniaudio import UniAudioConfig, UniAudioLM

            model = UniAudioLM(UniAudioConfig(**entry["config"]))
            token_list = list(entry["token_list"])
        else:
            model = build_stage(kinds[stage], entry["config"], 0)
        try:
            model.load_state_dict(entry["state_dict"])
        except RuntimeError as e:
            raise ExportError(f"--checkpoint {path}: {stage}'s weights do not fit its config: {e}") from None
        models[stage] = model.eval()
    return CascadeParts(plan, models["s1"], models["s2"], models.get("vocoder"), models.get("sing_vocoder"),
                        token_list)


# -- the bundle ------------------------------------------------------------------------------------------------
def _semantic_random(system: str, config: str, n_units: int, seed: int):
    """(writer function) a random semantic tokenizer of the system's kind at the tiny or released size."""
    kind = SYSTEMS[system].semantic
    layer = SIZES[config]["units_layer"] or PAPER_LAYERS[kind]
    if kind == "w2v-bert":
        from voxlite.models.w2v_bert import W2VBertConfig

        from .w2v_bert import random_centroids, random_model, write_w2v_bert_component

        model = random_model(W2VBertConfig.tiny() if config == "tiny" else W2VBertConfig(), seed)
        centroids = random_centroids(model, layer, n_units, seed, normalize_features=True)
        return lambda writer, tmp, precisions, log: write_w2v_bert_component(
            writer, model, centroids, tmp, layer=layer, component="semantic", precisions=precisions,
            normalize_features=True, log=log)
    from voxlite.models.hubert import HubertConfig

    from .hubert import random_centroids, random_model, write_semantic_units_component

    # tiny: strides 5 x 8 x 8 = hop 320, the codec's 50 frames/s (the aligned systems need one unit per frame)
    cfg = HubertConfig.tiny(conv_kernel=(10, 8, 8), conv_stride=(5, 8, 8)) if config == "tiny" else HubertConfig()
    model = random_model(cfg, seed)
    centroids = random_centroids(model, layer, n_units, seed)
    normalize = kind == "wav2vec2"  # XLSR-53 was trained on normalised waveforms
    return lambda writer, tmp, precisions, log: write_semantic_units_component(
        writer, model, centroids, tmp, layer=layer, component="semantic", precisions=precisions,
        normalize=normalize, family=kind, log=log)


def export_cascade(parts: CascadeParts, codec: CodecParts, out: str | Path, *, semantic=None, precisions=("fp32",),
                   name: str | None = None, provenance: dict | None = None, overwrite: bool = False,
                   lexicon=None, letter_to_sound=None, seed: int = 0, log=print) -> Path:
    """Write the bundle. ``semantic``: a path to a semantic-units bundle (its component is copied) or a writer
    function (random-init); ``codec``: the SoundStream whose codes S2 models."""
    from .uniaudio import write_uniaudio_lm
    from .uniaudio_inputs import copy_semantic_units, semantic_units_hparams
    from .unit_lm import write_unit_lm_component
    from .unit_seq2seq import write_unit_seq2seq_component
    from .unit_vocoder import write_unit_vocoder_component

    precisions = check_precisions(precisions)
    plan = parts.plan
    spec, vocab = plan.spec, plan.vocabulary
    if codec.kind != "rvq" or codec.config.get("codebook_size") != vocab.codebook_size or \
            codec.config.get("n_q", 0) < vocab.n_codebooks:
        raise ExportError(f"the codec must be an RVQ codec with >= {vocab.n_codebooks} codebooks of "
                          f"{vocab.codebook_size} codes; got {codec.family} {codec.config.get('n_q')} x "
                          f"{codec.config.get('codebook_size')}")
    frame_rate = codec.sample_rate / codec.hop_length
    plan = plan.replace(frame_rate=frame_rate, unit_rate=plan.unit_rate if not spec.aligned else frame_rate)
    if isinstance(semantic, (str, Path)):
        units_hp = semantic_units_hparams(semantic)
        if units_hp.n_clusters != vocab.n_units:
            raise ExportError(f"--semantic-units {semantic}: {units_hp.n_clusters} clusters; the LMs were trained on "
                              f"{vocab.n_units} units")
        if units_hp.model != spec.semantic:
            log(f"note: {plan.system} was published with {spec.semantic} units; this tokenizer is {units_hp.model}")
        if spec.aligned and abs(units_hp.frame_rate - frame_rate) > 1e-6:
            raise ExportError(f"--semantic-units {semantic}: {units_hp.frame_rate:g} units/s; {plan.system} aligns "
                              f"units with the codec's {frame_rate:g} frames/s")
        plan = plan.replace(unit_rate=units_hp.frame_rate, semantic_units=_component_of(semantic))
    elif semantic is None:
        plan = plan.replace(semantic_units="", tasks=tuple(t for t in plan.tasks if t != "vc"))
    try:
        plan.check()
    except ValueError as e:
        raise ExportError(f"cascade plan: {e}") from None
    capabilities = sorted({c for t in plan.tasks for c in CAPABILITIES[t]})
    metadata = {"family": "cascade", "system": plan.system, "sample_rate": codec.sample_rate}
    with BundleWriter(out, model_type="cascade", name=name or plan.system, sample_rate=codec.sample_rate,
                      default_precision="fp32", capabilities=capabilities, provenance=provenance or {},
                      overwrite=overwrite) as writer:
        if isinstance(semantic, (str, Path)):  # first: it brings its own files
            copy_semantic_units(writer, semantic)
        writer.component("cascade", kind="cascade", hparams=plan.to_json())
        writer.component("text", kind="text", hparams=TextHParams(type="voxlite-g2p-en").to_json())
        add_english_g2p(writer, "text", lexicon=lexicon, letter_to_sound=letter_to_sound)
        with tempfile.TemporaryDirectory() as tmp:
            if callable(semantic):
                semantic(writer, tmp, precisions, log)
            if spec.s1 == "unit-seq2seq":
                write_unit_seq2seq_component(writer, "s1", parts.s1, tmp, precisions=precisions, seed=seed)
            else:
                write_unit_lm_component(writer, "s1", parts.s1, tmp, precisions=precisions, seed=seed)
            if spec.s2 == "unit-lm":
                write_unit_lm_component(writer, "s2", parts.s2, tmp, precisions=precisions, seed=seed)
            else:
                write_uniaudio_lm(writer, parts.s2, parts.token_list, ("VC",), tmp, component="s2",
                                  precisions=precisions, log=log)
            write_codec_component(writer, codec, tmp, precisions=precisions, log=log, metadata=metadata,
                                  float_only=("encoder", "decoder", "decoder_pre_lstm", "decoder_post"))
            for component, vocoder in (("vocoder", parts.vocoder), ("sing_vocoder", parts.sing_vocoder)):
                if vocoder is not None:
                    write_unit_vocoder_component(writer, component, vocoder, tmp, sample_rate=codec.sample_rate,
                                                 precisions=precisions, seed=seed, f0_min=plan.f0_min,
                                                 f0_max=plan.f0_max, log=log)
        return writer.finish()


def _component_of(path) -> str:
    """The name of the semantic-units component of the bundle at ``path`` (copied under that name)."""
    from voxlite.bundle import open_bundle
    from voxlite.pipelines.graph import one_component
    from voxlite.pipelines.semantic_units import KIND

    return one_component(open_bundle(path), KIND)


def main(argv=None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    add_source_arguments(parser, checkpoint_help=f"a {FORMAT} checkpoint (see below)", config_default="tiny",
                         config_help=f"preset for --random-init: {', '.join(SIZES)}")
    parser.add_argument("--system", choices=tuple(SYSTEMS), help="random-init: which cascade (a checkpoint says)")
    parser.add_argument("--codec-checkpoint", help="the SoundStream whose codes S2 models (UniAudio's codec "
                        "trainer .pth); default: random (with --random-init)")
    parser.add_argument("--semantic-units", help="a semantic-units bundle (python -m export hubert / w2v-bert) with "
                        "the k-means the LMs were trained on; random-init: a random tokenizer of the system's kind")
    parser.add_argument("--sing-phone-table", help="random-init Make-A-Voice: singing phone symbols, one per line "
                        "(must hold SP and AP), for the singing task")
    parser.add_argument("--lexicon", help="the English G2P's lexicon (default: built from misaki's)")
    parser.add_argument("--letter-to-sound", help="an exported letter-to-sound graph for words the lexicon lacks")
    args = parser.parse_args(argv)
    weights = weights_provenance(parser, args)
    if args.checkpoint:
        parts = load_checkpoint(args.checkpoint)
        if args.system and args.system != parts.plan.system:
            parser.error(f"--system {args.system}: the checkpoint is {parts.plan.system}")
    else:
        if not args.system:
            parser.error("--system is required with --random-init")
        sing = ()
        if args.sing_phone_table:
            from voxlite.text.singing_score import read_sing_phone_table

            sing = read_sing_phone_table(args.sing_phone_table)
        parts = build_random(args.system, args.config, args.seed, sing_phones=sing)
    if args.codec_checkpoint:
        codec = soundstream_parts(args.codec_checkpoint, None, args.seed)
    elif args.checkpoint:
        parser.error("--codec-checkpoint is required with --checkpoint (the codec S2 was trained on)")
    else:
        from .uniaudio import random_codec

        codec = random_codec(parts.plan.vocabulary.codebook_size, args.config, args.seed)
    semantic = args.semantic_units
    if semantic is None and not args.checkpoint:
        semantic = _semantic_random(parts.plan.system, args.config, parts.plan.vocabulary.n_units, args.seed)
    provenance = {"system": parts.plan.system, "weights": weights,
                  "codec": Path(args.codec_checkpoint).name if args.codec_checkpoint else "random",
                  "semantic_units": Path(args.semantic_units).name if args.semantic_units else
                  ("random" if semantic is not None else "none")}
    out = export_cascade(parts, codec, args.out, semantic=semantic, precisions=tuple(args.precision), name=args.name,
                         provenance=provenance, overwrite=args.overwrite, lexicon=args.lexicon,
                         letter_to_sound=args.letter_to_sound, seed=args.seed)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
