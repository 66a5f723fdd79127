"""UniAudio end to end: the official implementation (a checkout of github.com/yangdongchao/UniAudio: ``MegaByteModel``
driven by ``infer.py``'s ``InferenceImp``, then ``AudioTokenizer.detokenize`` of its SoundStream; PyTorch eager fp32)
against voxlite bundles of the same weights (ONNX Runtime CPU; fp32 / int8), the same TTS prefix, the same number
of frames, measured in one run.

    python -m benchmarks.uniaudio --official-repo PATH [--config v1] [--phones 60] [--prompt-frames 150]
                                  [--frames 250] [--threads 1 2] [--precisions fp32 int8] [--rounds 2] [--repeats 1]
                                  [--work-dir ~/.cache/voxlite/bench/uniaudio-v1] [--json out.json]
                                  [--report benchmarks/results/uniaudio] [--official-commit SHA]
    python -m benchmarks.uniaudio --no-official --config tiny ...   # voxlite rows only (no checkout needed)
    python -m benchmarks.uniaudio --table out.json                  # a saved run's table again (--json FILE or a
                                                                    # --report DIR's report.json)

``PATH`` is the user's checkout (the repository root or its ``UniAudio/`` directory); nothing of it is copied into
voxlite, it is imported at run time. Nothing is downloaded.

What runs:

1. Setup, in a subprocess (its peak RSS is reported): ``export.uniaudio.build_random(config, seed)`` (the LM:
   ``UniAudioConfig.v1()`` is the released checkpoint's size: 16 global layers + 8 local, 12 heads, width 768,
   8000 frame positions, 4213 ids; 184.6 M parameters) and ``random_codec`` (the released SoundStream's size:
   n_filters 32, D 256, 12 codebooks of 1024), exported by ``export.uniaudio.export_uniaudio`` exactly as
   ``python -m export uniaudio --random-init --config v1 --seed 0 --precision fp32 int8`` does (block-wise int8
   lm graphs, the codec in float; ``--int8-dynamic`` as the exporter's flag, which fails its verification at v1
   with these weights: ``global_prefill.int8`` g2l at SNR 20.0 dB against a 20 dB bound). The same tensors are written in the official layouts: the LM's state
   dict renamed back through ``voxlite.convert.uniaudio``'s tables (``lm.checkpoint``, ``{"model": state}`` as
   ``resume_for_inference`` reads it) and the codec's with each folded conv weight W stored as weight norm
   (``weight_v = W``, ``weight_g = |W|`` over every axis but 0, so ``g v / |v| = W``) and the RVQ codebooks as
   ``quantizer.vq.layers.<q>._codebook.embed`` (``codec.pth``, ``{"codec_model": state}``). Both renamings are
   checked to round-trip through voxlite's own converters, and with a checkout the official classes load them
   strictly and reproduce voxlite's PyTorch reference (teacher-forced logits, decoded audio; the differences are
   in the report).
2. ``--rounds`` rounds; in each, every configuration (system, precision, threads) runs in a fresh subprocess: load
   (official: ``MegaByteModel(**kwargs)`` + ``load_state_dict`` + ``SoundStream(**kwargs)`` + its state dict;
   voxlite: ``voxlite.load`` with sha256 verification + opening the 4 graphs a run uses), one short warm-up
   generation (8 phones, a 20-frame prompt, 4 frames), then ``--repeats`` timed generations.

   The generation: task ``tts``: ``--phones`` phone ids (seeded, no two neighbours equal, so the phone tokenizer's
   merge of repeats keeps them all) and a voice prompt of ``--prompt-frames`` codec frames (seeded random codes;
   150 = 3 s), laid out by voxlite's ``UniAudioVocabulary.build_prefix`` (<start> <tts_task> <phone_start> phones
   <phone_end> <audio_prompt_start> prompt <audio_prompt_end> <audio_start>: 217 frames at the defaults); the
   official side is given these very ids and the loss mask (True on the <audio_start> frame), as its data loader
   would hand them to ``InferenceImp``. Top-k 30 sampling at temperature 1 (UniAudio's defaults), ``--frames``
   frames (250 = 5 s at 50 frames/s). Equal work: <audio_end> is never allowed on either side, through each
   side's own minimum length: official ``maxlen_ratio = (frames + 0.5) / cond`` and ``minlen_ratio = (frames +
   1.5) / cond`` (cond = the prefix's frames before <audio_start>; ``int()`` of them gives ``frames`` and
   ``frames + 1``, so its ``g_idx < minlen - 1`` masks <audio_end> at every step); voxlite ``max_length = frames,
   min_length = frames + 1``. The run fails if either side made another number of frames. Seeds: the official
   side ``torch.manual_seed(seed)`` (its ``torch.multinomial``), voxlite ``seed`` (its native sampler): the same
   seed, different generators, so the tokens differ; the work does not.

   - official: ``InferenceImp(model, token_list, mode="sampling", target="audio", topk, temperature, ...)(seq,
     mask, [[]])`` (a prefix forward through the whole model with the global K/V hooks installed, then per frame
     ``global_forward`` on the previous frame and 3 ``local_forward`` with their own hooks, full-vocabulary
     log-softmax, top-k, multinomial), then ``chunk_after_end`` and ``AudioTokenizer.detokenize`` (the tokenizer
     object is built without its ``__init__``, which loads a checkpoint from a fixed path: ``soundstream``,
     ``n_codebook``, ``dim_codebook`` set by hand), as ``infer.py``'s ``main`` does (outside ``no_grad``, as there).
     ``torch.set_num_threads(n)``.
   - voxlite: ``model.run_task("tts", phone_seq, prompt_seq, seed, top_k, temperature, max_length, min_length)``
     then ``model.decode(result.codes)``.

   Each child times its parts (wrappers around the official model's ``forward`` / ``global_forward`` /
   ``local_forward`` / ``detokenize``, and around voxlite's graph sessions / ``decode``): prefill (the prefix pass;
   the official one also runs the local stack and the full-vocabulary head over every prefix frame), global steps,
   local steps (3 per frame; the official head is the whole 4213-id vocabulary, voxlite's the 1025 ids a step may
   emit), decode (RVQ + SoundStream decoder), other (sampling, masking, cache bookkeeping, Python).

RTF = wall seconds / audio seconds (lower is faster). voxlite streams (``UniAudioModel.stream_task``: the frames go
to the codec's exact streaming decoder as they are sampled), so its TTFA is the time until the first audio chunk;
the official inference decodes once the search ends, so its TTFA is its wall time. "first frame" is the time until
the first frame's 3 codes are sampled. Ratios are against the official run
at the same thread count in the same round, median over rounds; times are medians over every round and repeat; peak
RSS is the largest of the rounds.

Stand-ins for the official import (``official_modules``; each raises if anything calls it): ``torchaudio``
(``infer.py`` imports it to save wavs in ``main``; only when not installed), ``omegaconf`` (the SoundStream's
quantizer imports ``tools.tokenizer.soundstream.utils.ddp_utils``, which imports ``OmegaConf`` for DDP logging;
only when not installed),
``utils.train_utils`` / ``utils.dataloader`` / ``utils.arguments`` (``infer.py``'s checkpoint resume, data loader
and CLI helpers, used by its ``main`` only; the real modules pull tensorboard, FSDP and every tokenizer: fairseq,
transformers' T5, sentencepiece, encodec, a g2p module), and the name ``model.DecoderOnlyModel`` (``infer.py``
imports it; the checkout's ``model.py`` no longer defines it). The packages ``utils`` and ``tools`` are bound to the
checkout's directories (voxlite's repository has a ``tools/`` of its own).

The bundle and the official-layout files are kept under ``--work-dir`` and reused (v1: a 1.07 GB bundle with fp32 +
int8, 0.83 GB of official files; the export's peak RSS was 2.6 GB). Random weights make no sound worth hearing but
cost the same to run.
"""
from __future__ import annotations

import argparse
import datetime
import importlib
import importlib.machinery
import importlib.util
import json
import re
import sys
import time
import types
from pathlib import Path

from benchmarks import subprocess_runs as runs
from benchmarks.subprocess_runs import (SAMPLES, ChildRuns, PartTimer, bundle_mb, cell, check_run_args, dir_mb, log,
                                        machine, machine_span, median, median_parts, merge_rounds, peak_rss_mb,
                                        print_saved_table, publish, row_line, split_parts, x_cell)

DEFAULT_WORK_DIR = Path("~/.cache/voxlite/bench/uniaudio-v1").expanduser()
CHILD = ChildRuns("benchmarks.uniaudio", "UNIAUDIO_BENCH_RESULT ")
TASK = "tts"
PARTS = ("prefill", "global", "local", "decode", "other")
PRECISIONS = ("fp32", "int8")
LM_GRAPHS = ("lm/global_prefill", "lm/global_step", "lm/local_step")
VOXLITE_PART = {"lm/global_prefill": "prefill", "lm/global_step": "global", "lm/local_step": "local",
                "codec/decoder_pre_lstm": "decode", "codec/decoder_post": "decode"}
RUN_GRAPHS = ("global_prefill", "global_step", "local_step", "decoder")  # short names, for the size column
WARMUP = dict(phones=8, prompt_frames=20, frames=4)
SETUP_VERSION = 4  # 2: codec float in int8, one constant head; 3: streaming codec; 4: per-frame graphs on 1 thread


# ------------------------------------------------------------------------------------------------ official import

class _StandIn:
    """A name the official import needs and the benchmarked path never uses: calling it, or anything on it,
    raises."""

    def __init__(self, what: str):
        self._what = what

    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"benchmark stand-in {self._what} was called: the benchmarked path should not need it")

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise RuntimeError(f"benchmark stand-in {self._what}.{name} was used: the benchmarked path should not "
                           "need it")


def _standin_module(name: str, *names: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    for attr in names:
        setattr(module, attr, _StandIn(f"{name}.{attr}"))
    return module


def _package(name: str, path: Path) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__path__ = [str(path)]
    module.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
    module.__spec__.submodule_search_locations = [str(path)]
    return module


def official_root(repo) -> Path:
    """The checkout's ``UniAudio/`` directory (given the repository root or that directory)."""
    root = Path(repo).expanduser().resolve()
    if (root / "UniAudio" / "model.py").is_file():
        root = root / "UniAudio"
    missing = [f for f in ("model.py", "infer.py", "tools/tokenizer/soundstream/AudioTokenizer.py")
               if not (root / f).is_file()]
    if missing:
        raise SystemExit(f"--official-repo {repo}: not a UniAudio checkout (missing {', '.join(missing)})")
    return root


def official_modules(repo) -> types.SimpleNamespace:
    """The checkout's ``model``, ``infer`` and ``AudioTokenizer`` modules (the stand-ins: the module docstring).
    Meant for a benchmark child process: the modules stay in ``sys.modules``."""
    root = official_root(repo)
    stand_ins = {
        "utils": _package("utils", root / "utils"),  # the real utils.task_definition loads from here
        "tools": _package("tools", root / "tools"),
        "utils.train_utils": _standin_module("utils.train_utils", "to_device", "resume_for_inference", "str2bool",
                                             "setup_logging"),
        "utils.dataloader": _standin_module("utils.dataloader", "get_data_iterator_tokenizer_vocabulary"),
        "utils.arguments": _standin_module("utils.arguments", "add_tokenizer_arguments"),
    }
    for name, attr in (("torchaudio", "save"), ("omegaconf", "OmegaConf")):
        if importlib.util.find_spec(name) is None:
            stand_ins[name] = _standin_module(name, attr)
    for name in ("model", "infer", "utils", "tools"):
        if name in sys.modules and name not in stand_ins:
            raise RuntimeError(f"a module named {name!r} is already imported; run the official side in a fresh "
                               "process")
    sys.modules.update(stand_ins)

    def load(name: str, path: Path):
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    model = load("model", root / "model.py")
    if not hasattr(model, "DecoderOnlyModel"):
        model.DecoderOnlyModel = _StandIn("model.DecoderOnlyModel")
    infer = load("infer", root / "infer.py")
    tokenizer = importlib.import_module("tools.tokenizer.soundstream.AudioTokenizer")
    return types.SimpleNamespace(root=root, model=model, infer=infer, AudioTokenizer=tokenizer.AudioTokenizer,
                                 SoundStream=tokenizer.SoundStream, stand_ins=sorted(stand_ins))


def official_detokenizer(modules, codec, bins: int, codebooks: int = 3):
    """An ``AudioTokenizer`` around ``codec`` without its ``__init__`` (which loads a checkpoint from a fixed
    path): the attributes ``detokenize`` reads, set as ``__init__`` sets them."""
    import torch

    tok = modules.AudioTokenizer.__new__(modules.AudioTokenizer)
    torch.nn.Module.__init__(tok)
    tok.device, tok.soundstream = torch.device("cpu"), codec
    tok.sr, tok.dim_codebook, tok.n_codebook = codec.sample_rate, bins, codebooks
    return tok


# ------------------------------------------------------------------------------------------------ weights

_LAYER = re.compile(r"^(global|local)_stack\.layers\.(\d+)\.(.+)$")


def to_official_lm(state: dict) -> dict:
    """voxlite ``UniAudioLM`` state dict -> the official ``MegaByteModel`` layout (``voxlite.convert.uniaudio``'s
    renaming reversed; the same tensors). Checked to convert back to ``state`` exactly."""
    from voxlite.convert import uniaudio as conv

    top = sorted(((new, old) for old, new in conv._TOP.items()), key=lambda t: -len(t[0]))
    block = [(new, old) for old, new in conv._BLOCK.items()]
    out = {}
    for key, value in state.items():
        m = _LAYER.match(key)
        if m:
            side, i, rest = m.groups()
            new = next((o + rest[len(n):] for n, o in block if rest.startswith(n)), None)
            if new is None:
                raise ValueError(f"no official name for {key}")
            out[f"{side[0]}_layers.{i}.{new}"] = value
            continue
        new = next((o + key[len(n):] for n, o in top if key.startswith(n)), None)
        if new is None:
            raise ValueError(f"no official name for {key}")
        out[new] = value
    back = conv.convert_state_dict(out)
    if set(back) != set(state) or any(back[k] is not state[k] for k in state):
        raise RuntimeError("the reversed LM renaming does not convert back to the same state dict")
    return out


def to_official_codec(state: dict) -> dict:
    """voxlite ``SoundStream`` (``RVQCodec``) state dict -> the official SoundStream layout: conv weights as
    torch weight norm (``weight_v = W``, ``weight_g = |W|`` over all axes but 0), the codebooks as the official
    RVQ's ``_codebook`` buffers (``embed_avg = embed``, ``cluster_size = 1``, ``inited = 1``). Checked to convert
    back through ``voxlite.convert.soundstream`` within float rounding."""
    import torch

    from voxlite.convert.soundstream import convert_state_dict

    out = {}
    for key, value in state.items():
        if key == "quantizer.codebooks":
            for q, embed in enumerate(value):
                base = f"quantizer.vq.layers.{q}._codebook."
                out[base + "inited"] = torch.ones(1)
                out[base + "cluster_size"] = torch.ones(embed.shape[0])
                out[base + "embed"] = embed.clone()
                out[base + "embed_avg"] = embed.clone()
            continue
        m = re.match(r"^(.*)\.(conv|convtr)\.(weight|bias)$", key)
        if m is None:
            if key.startswith("quantizer."):
                raise ValueError(f"unexpected codec key {key}")
            out[key] = value  # LSTM weights: the same names
            continue
        prefix, kind, what = m.groups()
        name = f"{prefix}.{kind}.{kind}"
        if what == "bias":
            out[f"{name}.bias"] = value
        else:
            out[f"{name}.weight_g"] = torch.norm_except_dim(value, 2, 0)
            out[f"{name}.weight_v"] = value.clone()
    back = convert_state_dict(out)
    if set(back) != set(state):
        raise RuntimeError(f"the reversed codec renaming does not convert back: {sorted(set(back) ^ set(state))[:5]}")
    worst = max(float((back[k] - state[k]).abs().max()) for k in state)
    if worst > 1e-5:
        raise RuntimeError(f"the codec's weight norm does not fold back to the same weights (max diff {worst})")
    return out


def official_lm_kwargs(config) -> dict:
    return dict(n_vocab=config.n_vocab, n_ctx=config.n_ctx, n_state=config.n_state, n_head=config.n_head,
                n_layer=config.n_layer, prefix_lm=config.prefix_lm, na_repeat=config.na_repeat,
                local_sos=config.local_sos, global_sos=config.global_sos)


def official_codec_kwargs(config: dict) -> dict:
    return dict(n_filters=config["n_filters"], D=config["dimension"], target_bandwidths=list(config[
        "target_bandwidths"]), ratios=list(config["ratios"]), sample_rate=config["sample_rate"],
        bins=config["codebook_size"])


def codec_state(parts) -> dict:
    """The voxlite SoundStream state dict of an ``export.codec.CodecParts`` (encoder, decoder, RVQ codebooks)."""
    state = {f"encoder.{k}": v for k, v in parts.encoder.state_dict().items()}
    state.update({f"decoder.{k}": v for k, v in parts.decoder.state_dict().items()})
    state.update({f"quantizer.{k}": v for k, v in parts.rvq.state_dict().items()})
    return state


# ------------------------------------------------------------------------------------------------ setup

def _setup_key(config: str, seed: int, int8_blockwise: bool) -> dict:
    return dict(version=SETUP_VERSION, config=config, seed=seed, int8_blockwise=int8_blockwise)


def setup_child(job: dict) -> dict:
    """Export the bundle (if ``job["export"]``), write the official-layout files, and with a checkout check that
    the official classes reproduce voxlite's reference on them. Returns sizes, times, peak RSS and the checks."""
    import torch

    from export.uniaudio import LM_GRAPHS as EXPORT_LM_GRAPHS, build_random, export_uniaudio, random_codec

    work = Path(job["work_dir"])
    bundle = work / "bundle"
    result = {}
    t0 = time.perf_counter()
    model, tokens = build_random(job["config"], job["seed"])
    codec = random_codec(model.config.audio_bins, job["config"], job["seed"])
    result["lm_params_m"] = sum(p.numel() for p in model.parameters()) / 1e6
    result["codec_params_m"] = sum(p.numel() for m in (codec.encoder, codec.decoder) for p in m.parameters()) / 1e6
    if job["export"]:
        blockwise = job["int8_blockwise"]  # the exporter's default; False: its --int8-dynamic
        provenance = {"family": "uniaudio", "config": job["config"], "weights": f"random (seed {job['seed']})",
                      "codec": codec.config_source}
        export_uniaudio(model, codec, tokens, bundle, precisions=tuple(job["precisions"]),
                        name=f"uniaudio-bench-{job['config']}", provenance=provenance, overwrite=True,
                        int8_blockwise=EXPORT_LM_GRAPHS if blockwise else (), log=log)
        result["export_s"] = time.perf_counter() - t0
        result["export_peak_rss_mb"] = peak_rss_mb()
        result["int8_mode"] = "block-wise" if blockwise else "dynamic"
    if not job["official_files"]:
        return result
    official = work / "official"
    official.mkdir(parents=True, exist_ok=True)
    lm_state = to_official_lm(model.state_dict())
    ours_codec = codec_state(codec)
    codec_official = to_official_codec(ours_codec)
    torch.save({"model": lm_state}, official / "lm.checkpoint")
    torch.save({"codec_model": codec_official}, official / "codec.pth")
    meta = dict(lm_kwargs=official_lm_kwargs(model.config), codec_kwargs=official_codec_kwargs(codec.config),
                token_list=list(tokens), audio_offset=model.config.audio_offset, audio_bins=model.config.audio_bins,
                audio_end=model.config.audio_end)
    (official / "official.json").write_text(json.dumps(meta))
    if job.get("official_repo"):
        result["parity"] = parity_check(job["official_repo"], model, lm_state, ours_codec, codec_official, meta)
    return result


def parity_check(repo, model, lm_state, ours_codec, codec_official, meta) -> dict:
    """The official classes, loaded strictly with the official-layout tensors, against voxlite's PyTorch reference:
    teacher-forced logits of a short sequence and the decoded audio of a few frames (max abs differences)."""
    import torch

    from voxlite.models.soundstream import SoundStream, config_from_official

    mods = official_modules(repo)
    c = model.config
    g = torch.Generator().manual_seed(7)
    official = mods.model.MegaByteModel(**meta["lm_kwargs"]).eval()
    official.load_state_dict(lm_state, strict=True)
    frames = 6
    x = torch.randint(c.audio_offset, c.audio_offset + c.audio_bins, (1, frames, c.na_repeat), generator=g)
    x = (x + c.audio_bins * torch.arange(c.na_repeat)).reshape(1, -1)
    with torch.no_grad():
        want = official(x, torch.zeros_like(x, dtype=torch.bool))
        got = model(x)
    lm_diff = float((want - got).abs().max())
    del official
    ours = SoundStream(config_from_official(meta["codec_kwargs"])).eval()
    ours.load_state_dict(ours_codec, strict=True)
    codec = mods.SoundStream(**meta["codec_kwargs"]).eval()
    codec.load_state_dict(codec_official, strict=True)
    codes = torch.randint(0, meta["audio_bins"], (3, 1, 12), generator=g)
    with torch.no_grad():
        want = codec.decode(codes)
        got = ours.decode(codes.transpose(0, 1))
    codec_diff = float((want - got).abs().max())
    log(f"official vs voxlite reference on the same weights: LM logits max |diff| {lm_diff:.2e}, codec audio max "
        f"|diff| {codec_diff:.2e}")
    if lm_diff > 1e-3 or codec_diff > 1e-3:
        raise RuntimeError(f"the official model does not reproduce voxlite's reference on the benchmark weights "
                           f"(LM {lm_diff}, codec {codec_diff})")
    return dict(lm_logits_max_abs_diff=lm_diff, codec_audio_max_abs_diff=codec_diff, stand_ins=mods.stand_ins)


def _setup_child_process(job: dict, work_dir: Path) -> dict:
    """The setup job in a fresh process (its peak RSS is the export's), its log in ``work_dir/setup.log``."""
    import os

    env = dict(os.environ)
    env.setdefault("VOXLITE_CACHE_DIR", str(work_dir / "cache"))
    log_path = work_dir / "setup.log"
    with open(log_path, "w") as err:
        proc = CHILD.spawn(job, env, stderr=err)
    got = CHILD.result(proc)
    if got is None:
        tail = log_path.read_text(errors="replace").splitlines()[-30:]
        raise RuntimeError(f"setup failed ({proc.returncode}); {log_path}:\n" + "\n".join(tail))
    return got


def setup(work_dir: Path, *, config: str, seed: int, precisions, int8_blockwise: bool, official_repo) -> dict:
    """The bundle, and with ``official_repo`` the official-layout files, under ``work_dir`` (reused when they
    match); the setup record."""
    record_path = work_dir / "setup.json"
    key = _setup_key(config, seed, int8_blockwise)
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    bundle = work_dir / "bundle"
    have = set(record.get("precisions", ())) if record.get("key") == key and (bundle / "manifest.json").is_file() \
        else set()
    need_export = not set(precisions) <= have
    official_ok = not official_repo or all((work_dir / "official" / f).is_file()
                                           for f in ("lm.checkpoint", "codec.pth", "official.json"))
    need_parity = bool(official_repo) and "parity" not in record
    if not need_export and official_ok and not need_parity:
        return record
    want = sorted(set(precisions) | (have if not need_export else set()) | {"fp32"}, key=PRECISIONS.index)
    if need_export:
        log(f"setup: exporting {config} ({' + '.join(want)}) to {bundle}")
        record = {}
    job = dict(system="setup", threads=2, work_dir=str(work_dir), config=config, seed=seed, precisions=want,
               int8_blockwise=int8_blockwise, export=need_export, official_files=bool(official_repo),
               official_repo=official_repo)
    got = _setup_child_process(job, work_dir)
    got.pop("peak_rss_mb", None)
    record = {**record, **got, "key": key, "precisions": want if need_export else record["precisions"]}
    record_path.write_text(json.dumps(record, indent=1))
    return record


# ------------------------------------------------------------------------------------------------ inputs

def inputs(n_phones: int, prompt_frames: int, phone_table: int, bins: int, seed: int = 0):
    """Seeded phone ids (no two neighbours equal: the tts phone tokenizer merges repeats) and prompt codes
    (3, prompt_frames)."""
    import numpy as np

    g = np.random.default_rng(seed + 1000)
    steps = g.integers(1, phone_table, n_phones)
    phones = np.cumsum(steps) % phone_table  # consecutive ids differ (steps in 1 .. table-1)
    prompt = g.integers(0, bins, (3, prompt_frames))
    return phones.astype(np.int64), prompt.astype(np.int64)


def prompt_layout(bundle: Path, *, phones: int, prompt_frames: int, seed: int) -> dict:
    """voxlite's prefix (ids and loss mask) for the benchmark's inputs and for the warm-up (no graph opened)."""
    from voxlite.bundle import open_bundle
    from voxlite.pipelines import family_class

    opened = open_bundle(bundle, verify=False)
    model = family_class(opened.model_type)(opened, backend="cpu")
    vocab = model.vocab
    table = vocab.data_range("phone")[1] - vocab.data_range("phone")[0]
    out = {}
    warmup = (min(phones, WARMUP["phones"]), min(prompt_frames, WARMUP["prompt_frames"]))
    for name, (n, p) in {"run": (phones, prompt_frames), "warmup": warmup}.items():
        ph, pr = inputs(n, p, table, vocab.bins, seed)
        prefix = model.prefix(TASK, phone_seq=ph, prompt_seq=pr)
        out[name] = dict(phones=ph.tolist(), prompt=pr.tolist(), ids=prefix.ids.tolist(),
                         loss_mask=prefix.loss_mask.tolist(), frames=int(prefix.ids.size // 3))
    out["phone_table"] = table
    out["n_ctx"] = model.hparams.n_ctx
    return out


def check_room(layout: dict, frames: int) -> None:
    """Both searches must be able to make ``frames`` frames after the prefix: voxlite's context is n_ctx frames;
    the official loop cuts maxlen to ``n_ctx - prefix_tokens // 3 - 1`` when ``maxlen + prefix_tokens > n_ctx - 1``
    (it compares frames with tokens), which would make the two sides' work differ."""
    cond = layout["run"]["frames"] - 1
    if frames + 3 * cond > layout["n_ctx"] - 1:
        raise SystemExit(f"{frames} frames after a {cond + 1}-frame prefix exceed what the official loop allows at "
                         f"n_ctx {layout['n_ctx']} (it caps maxlen when frames + 3 x {cond} > n_ctx - 1); use fewer "
                         "frames or a shorter prefix")


# ------------------------------------------------------------------------------------------------ children

class _Timer(PartTimer):
    """Seconds per part, accumulated by wrappers; the time of the first frame's end."""

    def reset(self):
        super().reset()
        self.steps = 0
        self.first_frame = None

    def global_step(self):
        """Called as a global step starts: the second one starts once frame 0's codes are sampled."""
        self.steps += 1
        if self.steps == 2:
            self.first_frame = time.perf_counter()


def child_official(job: dict) -> dict:
    import torch

    torch.set_num_threads(job["threads"])
    mods = official_modules(job["official_repo"])
    files = Path(job["work_dir"]) / "official"
    meta = json.loads((files / "official.json").read_text())
    t0 = time.perf_counter()
    model = mods.model.MegaByteModel(**meta["lm_kwargs"])
    state = torch.load(files / "lm.checkpoint", map_location="cpu")["model"]  # as resume_for_inference
    model.load_state_dict(state)
    model = model.eval()
    codec = mods.SoundStream(**meta["codec_kwargs"])
    codec.load_state_dict(torch.load(files / "codec.pth", map_location="cpu")["codec_model"])
    codec = codec.eval()
    del state
    load_s = time.perf_counter() - t0
    detok = official_detokenizer(mods, codec, meta["audio_bins"])
    tokens, audio_end, offset = meta["token_list"], meta["audio_end"], meta["audio_offset"]
    timer = _Timer()
    inside = {"prefill": False}
    forward, global_forward, local_forward = model.forward, model.global_forward, model.local_forward

    def prefill(*args, **kwargs):
        inside["prefill"] = True
        start = time.perf_counter()
        try:
            return forward(*args, **kwargs)
        finally:
            timer.add("prefill", time.perf_counter() - start)
            inside["prefill"] = False

    def global_step(*args, **kwargs):
        if not inside["prefill"]:
            timer.global_step()
        return global_forward(*args, **kwargs)

    stepping = lambda: not inside["prefill"]  # noqa: E731
    model.forward = prefill
    model.global_forward = timer.wrap(global_step, "global", stepping)
    model.local_forward = timer.wrap(local_forward, "local", stepping)
    detokenize = timer.wrap(detok.detokenize, "decode")

    def run(layout: dict, frames: int):
        seq = torch.tensor(layout["ids"], dtype=torch.long)
        mask = torch.tensor(layout["loss_mask"], dtype=torch.bool)
        cond = layout["frames"] - 1
        imp = mods.infer.InferenceImp(model=model, token_list=tokens, mode="sampling", target="audio", n_samples=1,
                                      maxlen_ratio=(frames + 0.5) / cond, minlen_ratio=(frames + 1.5) / cond,
                                      topk=job["top_k"], temperature=job["temperature"], fixed_length=False)
        torch.manual_seed(job["seed"])
        timer.reset()
        start = time.perf_counter()
        results = imp(seq, mask, [[]])  # infer.py: conti_segs[i_idx: i_idx + 1] of a batch without T5 segments
        searched = mods.infer.chunk_after_end(results[0]["tokens"], audio_end)
        searched -= offset  # type_bias["audio"]
        wav = detokenize(searched)
        wall = time.perf_counter() - start
        first = timer.first_frame - start if timer.first_frame else wall
        # ended early: its own <audio_end> (no frames x 3 tokens + the 3 <audio_end> the loop appends at maxlen)
        return dict(wall=wall, first=first, frames=int(searched.numel() // 3), samples=int(wav.shape[-1]),
                    parts=split_parts(timer.parts, wall, PARTS), ended=len(results[0]["tokens"]) != 3 * frames + 3)

    run(job["warmup"], min(WARMUP["frames"], job["frames"]))
    return _repeats(job, run, load_s, load_s, codec.sample_rate)


def child_voxlite(job: dict) -> dict:
    import numpy as np

    import voxlite

    t0 = time.perf_counter()
    model = voxlite.load(job["bundle"], backend=job["backend"], precision=job["precision"], threads=job["threads"])
    verify_s = time.perf_counter() - t0
    timer = _Timer()
    streams = model.codec.streams
    codec_graphs = ("codec/decoder_pre_lstm", "codec/decoder_post") if streams else ("codec/decoder",)
    for graph in (*LM_GRAPHS, *codec_graphs):
        session = model.session(graph)  # opened here: loading is part of load_s
        if graph in VOXLITE_PART:
            run_fn = session.run
            if graph == "lm/global_step":
                def counted(*args, _run=run_fn, **kwargs):
                    timer.global_step()
                    return _run(*args, **kwargs)
                run_fn = counted
            session.run = timer.wrap(run_fn, VOXLITE_PART[graph])
    load_s = time.perf_counter() - t0
    decode = timer.wrap(model.decode, "decode")

    def run(layout: dict, frames: int):
        phones, prompt = np.array(layout["phones"], np.int64), np.array(layout["prompt"], np.int64)
        prefix = model.prefix(TASK, phone_seq=phones, prompt_seq=prompt)
        if prefix.ids.tolist() != layout["ids"]:
            raise RuntimeError("the prefix differs from the one the official side is given")
        timer.reset()
        start = time.perf_counter()
        sampling = dict(seed=job["seed"], top_k=job["top_k"], temperature=job["temperature"])
        if streams:  # what a user of stream() gets: audio as the frames are sampled
            ttfa, n = None, 0
            for chunk in model.stream_task(TASK, sampling, frames=frames, phone_seq=phones, prompt_seq=prompt):
                if ttfa is None and chunk.size:
                    ttfa = time.perf_counter() - start
                n += chunk.size
            wall = time.perf_counter() - start
            got = dict(frames=n // model.codec.hop_length, samples=n, ended=False, ttfa=ttfa)
        else:
            result = model.run_task(TASK, phone_seq=phones, prompt_seq=prompt, max_length=frames,
                                    min_length=frames + 1, **sampling)
            samples = decode(result.codes)
            wall = time.perf_counter() - start
            got = dict(frames=int(result.frames.shape[0]), samples=int(samples.size), ended=bool(result.ended))
        first = timer.first_frame - start if timer.first_frame else wall
        return dict(wall=wall, first=first, parts=split_parts(timer.parts, wall, PARTS), **got)

    run(job["warmup"], min(WARMUP["frames"], job["frames"]))
    out = _repeats(job, run, load_s, verify_s, model.sample_rate)
    out["precisions"] = sorted(set(model.graph_precisions.values()))
    return out


def _repeats(job: dict, run, load_s: float, verify_s: float, sample_rate: int) -> dict:
    walls, firsts, parts, ttfa_list = [], [], [], []
    frames = samples = 0
    ended = False
    for _ in range(job["repeats"]):
        got = run(job["layout"], job["frames"])
        walls.append(got["wall"])
        firsts.append(got["first"])
        ttfa_list.append(got.get("ttfa"))
        parts.append(got["parts"])
        frames, samples, ended = got["frames"], got["samples"], ended or got["ended"]
    ttfas = [t if t is not None else w for t, w in zip(ttfa_list, walls)]
    return dict(load_s=load_s, verify_s=verify_s, wall_s=median(walls), walls=walls, ttfas=ttfas,
                ttfa_s=median(ttfas), first_s=median(firsts), firsts=firsts, frames=frames, ended=ended,
                audio_s=samples / sample_rate,
                parts=median_parts(parts, PARTS), prefix_frames=job["layout"]["frames"])


# ------------------------------------------------------------------------------------------------ driver

def check_args(*, frames: int, phones: int, prompt_frames: int, threads, precisions, backends, rounds: int,
               repeats: int, top_k: int, temperature: float, official_repo, official: bool) -> None:
    """Refuse settings the benchmark cannot measure (raises SystemExit with the reason)."""
    if frames < 1:
        raise SystemExit(f"--frames must be at least 1 (got {frames})")
    if phones < 1 or prompt_frames < 1:
        raise SystemExit("--phones and --prompt-frames must be at least 1")
    check_run_args(threads=threads, precisions=precisions, known_precisions=PRECISIONS, backends=backends,
                   rounds=rounds, repeats=repeats)
    if top_k < 1:
        raise SystemExit(f"--top-k must be at least 1 (got {top_k})")
    if temperature <= 0:
        raise SystemExit(f"--temperature must be positive (sampling; got {temperature})")
    if official and not official_repo:
        raise SystemExit("give --official-repo PATH (a UniAudio checkout), or --no-official for voxlite rows only")


def run_benchmark(*, config: str = "v1", work_dir: Path = DEFAULT_WORK_DIR, official_repo=None, official: bool = True,
                  frames: int = 250, phones: int = 60, prompt_frames: int = 150, threads=(1, 2),
                  precisions=("fp32", "int8"), backends=("cpu",), rounds: int = 2, repeats: int = 1, top_k: int = 30,
                  temperature: float = 1.0, seed: int = 0, int8_blockwise: bool = True,
                  official_commit: str | None = None) -> dict:
    check_args(frames=frames, phones=phones, prompt_frames=prompt_frames, threads=threads, precisions=precisions,
               backends=backends, rounds=rounds, repeats=repeats, top_k=top_k, temperature=temperature,
               official_repo=official_repo, official=official)
    work_dir = Path(work_dir).expanduser()
    work_dir.mkdir(parents=True, exist_ok=True)
    machine_start = machine()
    if official:
        official_repo = str(official_root(official_repo))
    record = setup(work_dir, config=config, seed=seed, precisions=precisions, int8_blockwise=int8_blockwise,
                   official_repo=official_repo if official else None)
    bundle = work_dir / "bundle"
    layout = prompt_layout(bundle, phones=phones, prompt_frames=prompt_frames, seed=seed)
    check_room(layout, frames)
    common = dict(frames=frames, repeats=repeats, seed=seed, top_k=top_k, temperature=temperature,
                  layout=layout["run"], warmup=layout["warmup"], work_dir=str(work_dir))
    cache = work_dir / "cache"
    official_mb = dir_mb(work_dir / "official") if (work_dir / "official").is_dir() else None
    configs = []
    for t in threads:
        if official:
            configs.append((dict(system="official", backend="torch eager", precision="fp32", threads=t,
                                 size_mb=official_mb),
                            dict(system="official", official_repo=official_repo, threads=t, **common)))
        for backend in backends:
            for precision in precisions:
                configs.append((dict(system="voxlite", backend=backend, precision=precision, threads=t,
                                     size_mb=bundle_mb(bundle, precision, RUN_GRAPHS)),
                                dict(system="voxlite", bundle=str(bundle), backend=backend, precision=precision,
                                     threads=t, **common)))
    rows = CHILD.rounds(configs, rounds, cache, line=lambda key, got: _row_line({**key, **got}), merge=_merge)
    work = {r["frames"] for r in rows}
    if work != {frames} or any(r["ended"] for r in rows):
        raise RuntimeError(f"the systems did not generate {frames} frames each: {sorted(work)}")
    add_ratios(rows)
    meta = dict(date=datetime.datetime.now().isoformat(timespec="seconds"), config=config, task=TASK, frames=frames,
                phones=phones, prompt_frames=prompt_frames, prefix_frames=layout["run"]["frames"], top_k=top_k,
                temperature=temperature, seed=seed, rounds=rounds, repeats=repeats,
                machine=machine_span(machine_start),
                bundle_total_mb=dir_mb(bundle), official_files_mb=official_mb,
                setup={k: v for k, v in record.items() if k != "key"}, official_repo=official_repo,
                official_commit=(_git_commit(official_repo) or official_commit) if official_repo else None)
    return dict(meta=meta, rows=rows)


def _git_commit(repo) -> str | None:
    import subprocess

    root = Path(repo).resolve()
    for path in (root, root.parent):  # the UniAudio/ directory or the repository root above it
        try:
            top = subprocess.run(["git", "-C", str(path), "rev-parse", "--show-toplevel", "HEAD"],
                                 capture_output=True, text=True, timeout=10)
        except OSError:
            return None
        lines = top.stdout.split()
        if top.returncode == 0 and len(lines) == 2 and Path(lines[0]).resolve() == path:
            return lines[1]
    return None


def add_ratios(rows: list[dict]) -> None:
    """RTF, speed-up and first-frame ratio to the official row of the same thread count
    (``subprocess_runs.add_ratios``); none where the official row made another number of frames."""
    runs.add_ratios(rows, {"speedup": "walls", "first_ratio": "firsts"}, same="frames")


def _merge(results: list[dict]) -> dict:
    out = merge_rounds(results, {**SAMPLES, "firsts": "first_s"}, parts=PARTS)
    out["ended"] = any(r["ended"] for r in results)
    return out


def _row_line(r: dict) -> str:
    return row_line(r, f"{r['frames']} frames", f"first frame {1000 * r['first_s']:.0f} ms")


def format_table(result: dict) -> str:
    m = result["meta"]
    s = m.get("setup", {})
    lines = [f"UniAudio ({m['config']}, random weights) end to end, {m['date']}: task {m['task']}, {m['phones']} "
             f"phones + a {m['prompt_frames']}-frame voice prompt ({m['prefix_frames']} prefix frames) -> "
             f"{m['frames']} frames ({m['frames'] / 50:g} s at 50 frames/s) on both sides (<audio_end> never "
             f"allowed), top-k {m['top_k']} sampling at temperature {m['temperature']:g}, seed {m['seed']}; median "
             f"of {m['rounds']} rounds x {m['repeats']} (each configuration in a fresh process per round); "
             f"{m['machine']}.",
             "RTF = wall / audio seconds (search + decode; lower is faster). TTFA = until the first audio: voxlite "
             "streams (frames through the codec's exact streaming decoder as they are sampled), the official side "
             "decodes once the search ends (TTFA = its wall time). first frame = until frame 0's 3 codes "
             "are sampled. x official = median over rounds of official time / this time in the same round, same "
             "threads.", "",
             "| system | backend | precision | threads | frames | load s | first frame ms | TTFA ms | RTF | "
             "speed-up x official | first frame x official | peak RSS MB | size MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['system']} | {r['backend']} | {r['precision']} | {r['threads']} | {r['frames']} | "
                     f"{r['load_s']:.1f} | {1000 * r['first_s']:.0f} | {1000 * r['ttfa_s']:.0f} | "
                     f"{cell(r['rtf'], '.3f')} | {x_cell(r['speedup'])} | {x_cell(r.get('first_ratio'))} | "
                     f"{r['peak_rss_mb']:.0f} | {cell(r['size_mb'], '.0f')} |")
    lines += ["", "Where the time of one generation goes (seconds, median over rounds; prefill = the prefix pass; "
              "global / local = the global step per frame and the 3 local steps per frame; decode = RVQ + SoundStream "
              "decoder; other = the rest of the wall: sampling, masking, caches, Python):", "",
              "| system | backend | precision | threads | " + " | ".join(PARTS) + " | wall |",
              "|---|---|---|---|" + "---:|" * (len(PARTS) + 1)]
    for r in result["rows"]:
        p = r["parts"]
        lines.append(f"| {r['system']} | {r['backend']} | {r['precision']} | {r['threads']} | "
                     + " | ".join(f"{p[k]:.2f}" for k in PARTS) + f" | {r['wall_s']:.2f} |")
    notes = [f"LM {s['lm_params_m']:.1f} M parameters, codec {s['codec_params_m']:.1f} M" if "lm_params_m" in s
             else None,
             f"export (fp32 + int8, {s.get('int8_mode', '?')} int8 lm graphs) {s['export_s']:.0f} s, peak RSS "
             f"{s['export_peak_rss_mb']:.0f} MB" if "export_s" in s else None,
             f"bundle {m['bundle_total_mb']:.0f} MB on disk (every precision)",
             f"official-layout files {m['official_files_mb']:.0f} MB" if m.get("official_files_mb") else None]
    if "parity" in s:
        p = s["parity"]
        notes.append(f"official vs voxlite reference on these weights: logits max |diff| "
                     f"{p['lm_logits_max_abs_diff']:.1e}, codec audio {p['codec_audio_max_abs_diff']:.1e}")
    lines += ["", "; ".join(n for n in notes if n) + ". load = voxlite.load (sha256 of every bundle file) + opening "
              "the 4 graphs; official = MegaByteModel + SoundStream construction and load_state_dict. size = for "
              "voxlite what one precision's graphs of a run reference; for the official side its two files."]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official-repo", help="a checkout of github.com/yangdongchao/UniAudio (root or UniAudio/)")
    parser.add_argument("--no-official", action="store_true", help="voxlite rows only (no ratios)")
    parser.add_argument("--config", default="v1", choices=["v1", "tiny"])
    parser.add_argument("--work-dir", default=str(DEFAULT_WORK_DIR), help="bundle and official files, reused")
    parser.add_argument("--frames", type=int, default=250, help="frames each side generates (50 per second)")
    parser.add_argument("--phones", type=int, default=60)
    parser.add_argument("--prompt-frames", type=int, default=150, help="voice prompt codec frames (150 = 3 s)")
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "int8"], choices=list(PRECISIONS))
    parser.add_argument("--backends", nargs="+", default=["cpu"], choices=["cpu", "openvino"])
    parser.add_argument("--rounds", type=int, default=2,
                        help="every configuration runs once per round (a fresh process each time), rounds in turn")
    parser.add_argument("--repeats", type=int, default=1, help="timed generations per process")
    parser.add_argument("--top-k", type=int, default=30)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--int8-dynamic", action="store_true",
                        help="dynamic int8 lm graphs (the exporter's --int8-dynamic; fails its verification at "
                             "v1) instead of its block-wise default")
    parser.add_argument("--official-commit", help="the checkout's commit, for the report, when --official-repo "
                        "is a tree without its .git (git tells it otherwise)")
    parser.add_argument("--json", help="also write the result here")
    parser.add_argument("--note", action="append", default=[], help="a sentence added to the report's notes")
    parser.add_argument("--report", type=Path, metavar="DIR",
                        help="write DIR/report.json and DIR/report.md (benchmarks/report.py), e.g. "
                             "benchmarks/results/uniaudio")
    return parser


def main(argv=None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--child"]:
        return CHILD.main(argv[1], official=child_official, voxlite=child_voxlite, setup=setup_child)
    if argv[:1] == ["--table"]:
        return print_saved_table(argv[1], add_ratios, format_table)
    args = build_parser().parse_args(argv)
    official = not args.no_official
    check_args(frames=args.frames, phones=args.phones, prompt_frames=args.prompt_frames, threads=args.threads,
               precisions=args.precisions, backends=args.backends, rounds=args.rounds, repeats=args.repeats,
               top_k=args.top_k, temperature=args.temperature, official_repo=args.official_repo, official=official)
    from benchmarks.report import start_run

    started = start_run(("torch", "onnx", "einops"), argv=[__file__] + list(argv))
    result = run_benchmark(config=args.config, work_dir=Path(args.work_dir), official_repo=args.official_repo,
                           official=official, frames=args.frames, phones=args.phones,
                           prompt_frames=args.prompt_frames, threads=tuple(args.threads),
                           precisions=tuple(args.precisions), backends=tuple(args.backends), rounds=args.rounds,
                           repeats=args.repeats, top_k=args.top_k, temperature=args.temperature, seed=args.seed,
                           int8_blockwise=not args.int8_dynamic, official_commit=args.official_commit)
    m = result["meta"]
    publish(result, format_table(result), started,
            ["Random weights at the released size (benchmarks/uniaudio.py's docstring): the cost of a frame, not the "
             "sound. Ratios pair runs of the same round; compare ratios rather than absolute times across runs.",
             f"The official side is the UniAudio checkout at commit {m['official_commit'] or 'unknown'} (model.py's "
             "MegaByteModel, infer.py's InferenceImp, the SoundStream through AudioTokenizer.detokenize), imported "
             "with the stand-ins the docstring lists; it reads the bundle's very weights in its own layout."
             if m.get("official_repo") else "No official checkout: voxlite rows only.",
             "<audio_end> is kept out on both sides through each side's own minimum length, so both make exactly the "
             "requested frames; the sampled codes differ (different generators).",
             "The work dir (bundle, official-layout files) is not committed.", *args.note],
            json_path=args.json, report_dir=args.report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
