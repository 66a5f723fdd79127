"""The runtime's shape: import arrows, components and capabilities, typed hparams, shared generation machinery,
format migration, option and thread-count refusals."""
from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import voxlite
from voxlite.bundle import open_bundle
from voxlite.bundle.migrate import migrate_bundle
from voxlite.cli.main import main
from voxlite.errors import BundleError, CapabilityError, InvalidInput
from voxlite.hparams import CodecHParams, KVGroup, VoxCPMLMHParams
from voxlite.pipelines.generation import GenerationOptions, KVGroups, autoregress
from voxlite.voices import EMBEDDED

PKG = Path(voxlite.__file__).parent
FIXTURES = Path(__file__).parent / "fixtures"
RUNTIME = ("api.py", "capabilities.py", "audio.py", "graphio.py", "errors.py", "pipelines", "backends", "bundle",
           "text", "cli", "hparams", "kernels", "dsp", "voices", "serve")


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module imported, at module level?) for every import in a file, relative imports resolved."""
    rel = path.relative_to(PKG.parent).with_suffix("")
    package = list(rel.parts[:-1]) if rel.name != "__init__" else list(rel.parts[:-1])
    tree = ast.parse(path.read_text())
    typing_only = {id(n) for s in tree.body if isinstance(s, ast.If) and "TYPE_CHECKING" in ast.unparse(s.test)
                   for b in s.body for n in ast.walk(b)}  # annotations only: never imported at run time
    top = {id(n) for n in tree.body} | {id(n) for s in tree.body if isinstance(s, ast.If) for n in s.body}
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found += [(a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
                found += [(name, id(node) in top)] + [(f"{name}.{a.name}", id(node) in top) for a in node.names]
            else:
                found += [(node.module, id(node) in top)]
    return found


def _runtime_files():
    for entry in RUNTIME:
        p = PKG / entry
        yield from ([p] if p.is_file() else sorted(p.rglob("*.py")))


def test_runtime_never_imports_models_or_export():
    bad = []
    for f in _runtime_files():
        for name, module_level in _imports(f):
            if name.startswith(("voxlite.models", "export")) or name.split(".")[0] == "torch":
                # the torch backend runs reference modules (parity checks): torch only when a session runs
                if f == PKG / "backends" / "torch.py" and name == "torch" and not module_level:
                    continue
                bad.append(f"{f.relative_to(PKG)} imports {name}")
    assert not bad, bad


def test_bundle_and_backends_do_not_import_each_other():
    for package, other in (("bundle", "voxlite.backends"), ("backends", "voxlite.bundle")):
        bad = [f"{f.name} imports {name}" for f in sorted((PKG / package).glob("*.py"))
               for name, _ in _imports(f) if name.startswith(other)]
        assert not bad, bad


# -- migration: the embedded voice was a version 1 bundle ------------------------------------------------------
@pytest.fixture
def v1_voice(tmp_path) -> Path:
    old = tmp_path / "v1"
    shutil.copytree(EMBEDDED, old)
    (old / "manifest.json").write_text((FIXTURES / "default_voice_manifest_v1.json").read_text())
    return old


def test_version_1_refused_with_the_migration_command(v1_voice):
    with pytest.raises(BundleError, match="voxlite bundle migrate"):
        open_bundle(v1_voice)


def test_migrate_rewrites_the_manifest_only(v1_voice, tmp_path):
    assert main(["bundle", "migrate", str(v1_voice), str(tmp_path / "v2")]) == 0
    new, shipped = open_bundle(tmp_path / "v2"), open_bundle(EMBEDDED)
    assert new.manifest.files == shipped.manifest.files  # graph files byte for byte
    for key in ("components", "capabilities", "model_type", "hparams"):
        assert new.manifest.raw[key] == shipped.manifest.raw[key], key
    lm = new.component("lm")
    assert lm.kind == "voxcpm-lm" and set(lm.graphs) == {"prefill", "step", "locdit"}
    assert lm.graphs["step"].metadata["max_threads"] == 1  # the old max_graph_threads
    assert new.graph("text/letter_to_sound").metadata["placement"] == "cpu"
    assert new.capabilities == ("text-to-speech",)  # voice_prompt False: no cloning
    # in place, and refused when the destination exists
    assert main(["bundle", "migrate", str(v1_voice)]) == 0
    assert open_bundle(v1_voice).manifest.format_version == 2
    assert main(["bundle", "migrate", str(v1_voice), str(tmp_path / "v2")]) == 1


def test_migrate_refuses_what_is_not_version_1(tmp_path):
    with pytest.raises(BundleError, match="not a format_version 1"):
        migrate_bundle(EMBEDDED, tmp_path / "x")
    assert not (tmp_path / "x").exists()


# -- capabilities --------------------------------------------------------------------------------------------
def test_models_are_chosen_by_capability(mixer_bundle):
    voice = voxlite.load(task="text-to-speech")
    assert voice.bundle.capabilities == ("text-to-speech",)
    with pytest.raises(CapabilityError, match="cannot do codec; it can do: text-to-speech"):
        voxlite.load(task="codec")
    with pytest.raises(CapabilityError, match="cannot do voice-cloning"):
        voxlite.load(task="voice-cloning")
    with pytest.raises(CapabilityError, match="cannot do text-to-speech; it can do: nothing but run its graphs"):
        voxlite.load(mixer_bundle, task="text-to-speech")
    with pytest.raises(CapabilityError, match="unknown capability"):
        from voxlite.capabilities import require
        require(voice, "telepathy")


def test_say_refuses_a_bundle_that_cannot_speak(mixer_bundle, tmp_path, capsys):
    assert main(["say", "Hello.", "-o", str(tmp_path / "x.wav"), "--bundle", str(mixer_bundle)]) == 1
    err = capsys.readouterr().err
    assert "cannot do text-to-speech" in err and err.count("\n") == 1
    assert not (tmp_path / "x.wav").exists()
    assert main(["say", "Hello.", "-o", str(tmp_path / "x.wav"), "--voice", str(tmp_path / "v.wav"),
                 "--voice-text", "hi"]) == 1
    assert "cannot do voice-cloning" in capsys.readouterr().err


def test_a_bundle_declaring_what_its_family_cannot_do_is_refused(mixer_bundle):
    raw = json.loads((mixer_bundle / "manifest.json").read_text())
    raw["capabilities"] = ["text-to-speech"]
    (mixer_bundle / "manifest.json").write_text(json.dumps(raw))
    with pytest.raises(BundleError, match=r"declares \['text-to-speech'\], which its family 'graph' cannot do"):
        voxlite.load(mixer_bundle)


# -- typed hparams ---------------------------------------------------------------------------------------------
CODEC = {"family": "encodec", "kind": "rvq", "hop_length": 320, "latent_dim": 8, "n_q": 2, "codebook_size": 16}


@pytest.mark.parametrize("edit,match", [
    (lambda h: h.update(hop_length="320"), r"codec\.hop_length must be an integer"),
    (lambda h: h.update(hop_length=0), r"codec\.hop_length must be a positive integer"),
    (lambda h: h.update(kind="fsq"), r"codec\.kind must be one of"),
    (lambda h: h.pop("latent_dim"), r"codec\.latent_dim is missing"),
    (lambda h: h.update(latent_dims=8), r"codec has unknown fields \['latent_dims'\]"),
    (lambda h: h.update(n_q=None), r"codec\.n_q: an rvq codec needs"),
    (lambda h: h.update(stream_states=[{"name": "s", "shape": ["batch", 1.5]}]),
     r"codec\.stream_states\[0\]\.shape\[1\] must be"),
    (lambda h: h.update(window={"left": -1, "right": 2}), r"codec\.window\.window: left and right"),
    (lambda h: h.update(frame_rate=float("nan")), r"codec\.frame_rate must be a finite number"),
])
def test_hparams_refused_naming_the_field(edit, match):
    raw = dict(CODEC)
    edit(raw)
    with pytest.raises(BundleError, match=match):
        CodecHParams.from_json(raw, "codec")


def test_a_malformed_component_is_refused_at_load(tmp_path):
    """Every component's hparams are checked when the bundle loads, even one the model would only use later."""
    bad = tmp_path / "voice"
    shutil.copytree(EMBEDDED, bad)
    raw = json.loads((bad / "manifest.json").read_text())
    raw["components"]["text"]["hparams"] = {"type": 3}
    (bad / "manifest.json").write_text(json.dumps(raw))
    with pytest.raises(BundleError, match=r"components\.text\.hparams\.type must be a string"):
        voxlite.load(bad)
    assert main(["bundle", "inspect", str(bad)]) == 1


def test_hparams_round_trip():
    hp = CodecHParams.from_json({**CODEC, "stream_states": [{"name": "s0", "shape": ["batch", 4, 2]}],
                                 "stream_init": "graph"})
    assert hp.stream_states[0].shape == ("batch", 4, 2) and hp.frame_rate is None
    assert CodecHParams.from_json(json.loads(json.dumps(hp.to_json()))) == hp
    lm = VoxCPMLMHParams.from_json(open_bundle(EMBEDDED).component("lm").hparams)
    assert lm.kv["base"] == KVGroup(4, 2, 64) and lm.flow_start == 0.0
    with pytest.raises(BundleError, match=r"lm\.stop_threshold: must lie in \(0, 1\)"):
        VoxCPMLMHParams.from_json({**lm.to_json(), "stop_threshold": 1.0}, "lm")


# -- options, threads ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("field,value", [
    ("seed", -1), ("seed", 1.5), ("seed", True), ("cfg", float("nan")), ("cfg", 1e9), ("steps", 0), ("steps", 10**6),
    ("flow_start", 1.5), ("temperature", -1.0), ("top_k", -3), ("top_p", 0.0), ("top_p", 1.5), ("min_p", 2.0),
    ("repetition_penalty", 0.0), ("max_length", 0), ("steps", "10"),
])
def test_nonsense_options_refused(field, value):
    with pytest.raises(InvalidInput, match=field):
        GenerationOptions(**{field: value})


def test_options_take_the_bundles_defaults_for_what_is_left_unset():
    o = GenerationOptions(seed=3, cfg=1.5).resolved({"cfg": 2.0, "steps": 8, "flow_start": None})
    assert (o.seed, o.cfg, o.steps, o.flow_start) == (3, 1.5, 8, None)


def test_embedded_voice_refuses_nonsense_options():
    voice = voxlite.load()
    for kwargs in ({"steps": 0}, {"cfg": -1}, {"seed": -2}, {"flow_start": 2.0}):
        with pytest.raises(InvalidInput, match=next(iter(kwargs))):
            voice.synthesize("Hello.", **kwargs)


def test_thread_counts_beyond_the_machine_are_refused(tmp_path, capsys, monkeypatch):
    from voxlite.backends.base import usable_cpus

    with pytest.raises(InvalidInput, match=f"ask for at most {usable_cpus()}"):
        voxlite.load(threads=10000)
    with pytest.raises(InvalidInput, match="threads must be a positive integer"):
        voxlite.load(threads=0)
    assert main(["say", "Hello.", "-o", str(tmp_path / "x.wav"), "--threads", "10000"]) == 1
    assert "threads is 10000" in capsys.readouterr().err
    assert not (tmp_path / "x.wav").exists()
    monkeypatch.setenv("VOXLITE_THREADS", "lots")
    with pytest.raises(InvalidInput, match="VOXLITE_THREADS must be a positive integer"):
        voxlite.load()


# -- the shared loop -------------------------------------------------------------------------------------------
def test_kv_groups_grow_by_doubling_and_keep_what_they_hold():
    specs = {"a": KVGroup(2, 1, 4), "b": KVGroup(1, 1, 4)}
    kv = KVGroups(specs, capacity=3, limit=10)
    assert set(kv.feeds()) == {"cache.a.0", "cache.a.1", "cache.b.0"} == KVGroups.input_names(specs)
    rng = np.random.default_rng(0)
    written = []
    for _ in range(7):
        kv.make_room(1)
        out = {f"present.{g}.{i}.{kv_}": rng.standard_normal((1, 1, 1, 4)).astype(np.float32)
               for g, s in specs.items() for i in range(s.n_layers) for kv_ in ("key", "value")}
        kv.append(out)
        written.append(out["present.a.1.value"][0, 0, 0])
    assert kv.length == 7 and kv.caches["a"].capacity == 10  # 3 -> 6 -> 10 (the limit)
    buf = kv.feeds()["cache.a.1"]  # (2, B, H, capacity, D): the value half holds every position in order
    np.testing.assert_array_equal(buf[1, 0, 0, :7], np.stack(written))


def test_autoregress_stops_on_the_rule_and_never_steps_past_the_end():
    calls = []
    frames = list(autoregress(lambda: 0, lambda s, i: i, lambda s, i: i == 3, lambda s, f, i: calls.append(i) or s,
                              max_length=10))
    assert frames == [0, 1, 2, 3] and calls == [0, 1, 2]
    calls.clear()
    assert list(autoregress(lambda: 0, lambda s, i: i, lambda s, i: False, lambda s, f, i: calls.append(i) or s,
                            max_length=3)) == [0, 1, 2]
    assert calls == [0, 1]
