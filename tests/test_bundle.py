"""Bundles: round trips (directory and archive) and refusal of every kind of bad bundle with BundleError."""
import json
import os
import shutil
import zipfile

import numpy as np
import pytest

import voxlite
from tests.graphs import make_mixer_onnx, mixer_inputs, mixer_reference, mixer_weights
from voxlite.pipelines.sessions import GraphSessions
from voxlite.bundle import BundleWriter, open_bundle, pack_archive
from voxlite.bundle.files import sha256_file
from voxlite.errors import BundleError


def _edit_manifest(bundle_dir, fn):
    path = bundle_dir / "manifest.json"
    raw = json.loads(path.read_text())
    fn(raw)
    path.write_text(json.dumps(raw))


def test_round_trip_directory(mixer_bundle):
    b = open_bundle(mixer_bundle)
    assert b.model_type == "graph" and b.name == "mixer" and b.sample_rate == 16000
    assert b.hparams == {"frames_per_second": 50}
    assert b.graph("mixer").precisions == ("fp32", "alt")
    assert b.pick_precision("mixer") == "fp32"
    np.testing.assert_array_equal(b.tensor("codebook"), np.arange(24, dtype=np.float32).reshape(2, 3, 4))
    feeds = mixer_inputs()
    want = mixer_reference(feeds["x"], feeds["codes"], mixer_weights())
    model = voxlite.load(mixer_bundle, backend="cpu")
    got = model.run("mixer", feeds)
    np.testing.assert_allclose(got["y"], want["y"], atol=1e-5)
    np.testing.assert_allclose(got["energy"], want["energy"], rtol=1e-5)
    assert model.backend == "cpu"


def test_round_trip_archive(mixer_bundle, tmp_path):
    archive = pack_archive(mixer_bundle, tmp_path / "mixer.vxb")
    b = open_bundle(archive)
    assert b.manifest.files == open_bundle(mixer_bundle).manifest.files
    assert b.manifest_sha256 == open_bundle(mixer_bundle).manifest_sha256
    feeds = mixer_inputs(batch=1, frames=5)
    got = voxlite.load(archive, backend="cpu").run("mixer", **feeds)
    np.testing.assert_allclose(got["y"], mixer_reference(feeds["x"], feeds["codes"], mixer_weights())["y"], atol=1e-5)
    assert open_bundle(archive).root == b.root  # extracted once, reused


def test_tampered_file_refused(mixer_bundle):
    graph = mixer_bundle / "graphs" / "model.mixer.fp32.onnx"
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 0x01
    graph.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="sha256"):
        open_bundle(mixer_bundle)
    open_bundle(mixer_bundle, verify=False)  # structure still valid: only content verification catches it


def test_truncated_file_refused(mixer_bundle):
    graph = mixer_bundle / "graphs" / "model.mixer.alt.onnx"
    graph.write_bytes(graph.read_bytes()[:-10])
    with pytest.raises(BundleError, match="truncated or altered"):
        open_bundle(mixer_bundle)


def test_missing_file_refused(mixer_bundle):
    (mixer_bundle / "tensors" / "model.codebook.npy").unlink()
    with pytest.raises(BundleError, match="missing"):
        open_bundle(mixer_bundle)


@pytest.mark.parametrize("bad", ["../outside.onnx", "/etc/passwd", "graphs/../../x.onnx", "graphs\\x.onnx",
                                 "./graphs/model.mixer.fp32.onnx", "C:/x.onnx", ""])
def test_path_escape_refused(mixer_bundle, bad):
    def edit(raw):
        raw["components"]["model"]["graphs"]["mixer"]["files"]["fp32"] = bad
        raw["files"][bad] = raw["files"]["graphs/model.mixer.fp32.onnx"]
    _edit_manifest(mixer_bundle, edit)
    with pytest.raises(BundleError):
        open_bundle(mixer_bundle)


def test_symlink_outside_refused(mixer_bundle, tmp_path):
    outside = tmp_path / "outside.onnx"
    shutil.copy(mixer_bundle / "graphs" / "model.mixer.alt.onnx", outside)
    target = mixer_bundle / "graphs" / "model.mixer.alt.onnx"
    target.unlink()
    os.symlink(outside, target)
    with pytest.raises(BundleError, match="outside the bundle"):
        open_bundle(mixer_bundle)


def test_unlisted_reference_refused(mixer_bundle):
    _edit_manifest(mixer_bundle, lambda raw: raw["files"].pop("graphs/model.mixer.alt.onnx"))
    with pytest.raises(BundleError, match="does not list it"):
        open_bundle(mixer_bundle)


@pytest.mark.parametrize("version,match", [(3, "newer than this voxlite"), (0, "not a known version"),
                                           (1, "voxlite bundle migrate"),
                                           ("1", "must be an integer"), (True, "must be an integer")])
def test_format_version_refused(mixer_bundle, version, match):
    _edit_manifest(mixer_bundle, lambda raw: raw.update(format_version=version))
    with pytest.raises(BundleError, match=match):
        open_bundle(mixer_bundle)


@pytest.mark.parametrize("edit,match", [
    (lambda raw: raw.update(format="something.else"), "not a voxlite bundle"),
    (lambda raw: raw.pop("components"), "missing 'components'"),
    (lambda raw: raw["components"]["model"].pop("kind"), "missing 'kind'"),
    (lambda raw: raw.update(capabilities=["telepathy"]), "unknown capabilities"),
    (lambda raw: raw.update(capabilities="codec"), "capabilities must be a list"),
    (lambda raw: raw.update(sample_rate=-5), "sample_rate"),
    (lambda raw: raw["components"]["model"]["graphs"]["mixer"]["inputs"][0].update(dtype="float99"), "unknown dtype"),
    (lambda raw: raw["components"]["model"]["graphs"]["mixer"]["inputs"][0].update(shape=[-1, 4]), "bad dimension"),
    (lambda raw: raw["components"]["model"]["graphs"]["mixer"].update(outputs=[]), "no outputs"),
    (lambda raw: raw["files"]["graphs/model.mixer.alt.onnx"].update(sha256="abc"), "64 lowercase hex"),
    (lambda raw: raw.update(default_precision="int8"), "default_precision"),
    (lambda raw: raw["components"]["model"]["tensors"]["codebook"].update(file="../x.npy"), "leaves the bundle"),
    # a component's files (a text front end's lexicon) are checked like every other named file
    (lambda raw: raw["components"].update(text={"kind": "text", "files": {"lexicon": "../lex.json"}}),
     "leaves the bundle"),
    (lambda raw: raw["components"].update(text={"kind": "text", "files": {"lexicon": 3}}), "must be a path string"),
    (lambda raw: raw["components"].update(text={"kind": "text", "files": {"lexicon": "text/lex.json"}}),
     "does not list it"),
])
def test_malformed_manifest_refused(mixer_bundle, edit, match):
    _edit_manifest(mixer_bundle, edit)
    with pytest.raises(BundleError, match=match):
        open_bundle(mixer_bundle)


def test_not_json_refused(mixer_bundle):
    (mixer_bundle / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        open_bundle(mixer_bundle)


def test_unknown_family_refused(mixer_bundle):
    _edit_manifest(mixer_bundle, lambda raw: raw.update(model_type="warp-drive"))
    with pytest.raises(BundleError, match="not a family"):
        voxlite.load(mixer_bundle)


def test_not_a_bundle(tmp_path):
    with pytest.raises(BundleError, match="no bundle"):
        open_bundle(tmp_path / "nothing")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(BundleError, match="neither"):
        open_bundle(junk)
    with pytest.raises(BundleError, match="no manifest.json"):
        open_bundle(tmp_path)


def test_tensor_header_mismatch_refused(mixer_bundle):
    _edit_manifest(mixer_bundle, lambda raw: raw["components"]["model"]["tensors"]["codebook"].update(shape=[3, 2, 4]))
    with pytest.raises(BundleError, match="manifest says"):
        open_bundle(mixer_bundle)


def test_graph_io_mismatch_refused_at_session(mixer_bundle):
    _edit_manifest(mixer_bundle, lambda raw: raw["components"]["model"]["graphs"]["mixer"]["inputs"][0].update(name="audio"))
    b = open_bundle(mixer_bundle)  # file hashes still fine; the graph itself disagrees
    with pytest.raises(BundleError, match="graph inputs are"):
        GraphSessions(b, backend="cpu").get("mixer")
    _edit_manifest(mixer_bundle, lambda raw: raw["components"]["model"]["graphs"]["mixer"]["inputs"][0].update(
        name="x", shape=["batch", 5, "frames"]))
    with pytest.raises(BundleError, match="in the manifest"):
        GraphSessions(open_bundle(mixer_bundle), backend="cpu").get("mixer")


def test_graph_metadata_must_agree(tmp_path):
    onnx_path = make_mixer_onnx(tmp_path / "m.onnx", metadata={"voxlite.sample_rate": "24000"})
    w = BundleWriter(tmp_path / "b", model_type="graph", name="m", sample_rate=16000)
    w.add_graph("mixer", "fp32", onnx_path, metadata={"sample_rate": 16000})
    b = open_bundle(w.finish())
    with pytest.raises(BundleError, match="disagrees"):
        GraphSessions(b, backend="cpu").get("mixer")


def test_unknown_graph_and_precision(mixer_bundle):
    b = open_bundle(mixer_bundle)
    with pytest.raises(BundleError, match="no graph 'decoder'"):
        b.graph("decoder")
    with pytest.raises(BundleError, match="no 'int8' variant"):
        b.pick_precision("mixer", "int8")
    with pytest.raises(BundleError, match="no tensor"):
        b.tensor("nope")
    # a whole-model precision the graph lacks: a more precise variant, never a less precise one
    assert b.precision_at_least("mixer", "int8") == "fp32" and b.precision_at_least("mixer", "fp32") == "fp32"
    assert b.precision_at_least("mixer", "custom") == "fp32"  # no numeric type: the bundle's default


def test_precision_bits():
    from voxlite.bundle.manifest import precision_bits

    assert [precision_bits(p) for p in ("int8", "fp16", "ov-fp16", "bf16", "fp32", "ov-fp32", "int4")] == \
        [8, 16, 16, 16, 32, 32, 4]
    assert precision_bits("custom") is None and precision_bits(None) is None


def _zip_with(tmp_path, mixer_bundle, extra_name, extra_attr=None):
    archive = pack_archive(mixer_bundle, tmp_path / "a.zip")
    with zipfile.ZipFile(archive, "a") as zf:
        info = zipfile.ZipInfo(extra_name)
        if extra_attr is not None:
            info.external_attr = extra_attr
        zf.writestr(info, b"payload")
    return archive


@pytest.mark.parametrize("name", ["../evil.txt", "/abs/evil.txt", "graphs/../../evil.txt"])
def test_zip_slip_refused(tmp_path, mixer_bundle, name):
    archive = _zip_with(tmp_path, mixer_bundle, name)
    with pytest.raises(BundleError):
        open_bundle(archive)
    assert not (tmp_path / "evil.txt").exists()


def test_zip_symlink_entry_refused(tmp_path, mixer_bundle):
    archive = _zip_with(tmp_path, mixer_bundle, "link", extra_attr=(0o120777 << 16))
    with pytest.raises(BundleError, match="symbolic link"):
        open_bundle(archive)


def test_tampered_archive_refused_and_nothing_left(tmp_path, mixer_bundle):
    from voxlite.cache import cache_dir

    archive = pack_archive(mixer_bundle, tmp_path / "a.vxb")
    data = bytearray(archive.read_bytes())
    # flip a byte inside the stored ONNX payload (not the zip headers)
    needle = (mixer_bundle / "graphs" / "model.mixer.fp32.onnx").read_bytes()[40:60]
    pos = bytes(data).find(needle)
    assert pos > 0
    data[pos + 5] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="corrupt|altered"):
        open_bundle(archive)
    leftovers = [p.name for p in cache_dir("bundles").iterdir()]
    assert all(not name.startswith(".") for name in leftovers), leftovers  # no half-extracted temp dirs
    assert sha256_file(archive) not in leftovers


def test_archive_missing_listed_file(tmp_path, mixer_bundle):
    archive = tmp_path / "partial.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(mixer_bundle / "manifest.json", "manifest.json")
    with pytest.raises(BundleError, match="missing from the archive"):
        open_bundle(archive)


def test_writer_failure_leaves_nothing(tmp_path, mixer_onnx):
    out = tmp_path / "never"
    with pytest.raises(RuntimeError):
        with BundleWriter(out, model_type="graph", name="x", sample_rate=None) as w:
            w.add_graph("mixer", "fp32", mixer_onnx)
            raise RuntimeError("export crashed")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [mixer_onnx]


def test_writer_refuses_invalid_and_existing(tmp_path, mixer_onnx, mixer_bundle):
    with pytest.raises(BundleError, match="exists"):
        BundleWriter(mixer_bundle, model_type="graph", name="x", sample_rate=None)
    w = BundleWriter(tmp_path / "bad", model_type="graph", name="x", sample_rate=None, default_precision="int8")
    w.add_graph("mixer", "fp32", mixer_onnx)
    with pytest.raises(BundleError, match="default_precision"):
        w.finish()
    assert not (tmp_path / "bad").exists()
    w = BundleWriter(tmp_path / "dup", model_type="graph", name="x", sample_rate=None)
    w.add_graph("mixer", "fp32", mixer_onnx)
    with pytest.raises(BundleError, match="already has a file"):
        w.add_graph("mixer", "fp32", mixer_onnx)
    w.abort()


def test_writer_overwrite_replaces(tmp_path, mixer_onnx, mixer_bundle):
    w = BundleWriter(mixer_bundle, model_type="graph", name="replaced", sample_rate=None, overwrite=True)
    w.add_graph("mixer", "fp32", mixer_onnx)
    w.finish()
    assert open_bundle(mixer_bundle).name == "replaced"
    assert not any(p.name.startswith(".") for p in mixer_bundle.parent.iterdir())
