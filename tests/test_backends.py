"""Backends: real graphs on ONNX Runtime CPU and OpenVINO (same outputs, matching NumPy), selection rules,
no silent fallback, IO binding, and GPU paths that run where a GPU is present and skip cleanly elsewhere."""
import numpy as np
import pytest

from tests.graphs import mixer_inputs, mixer_reference, mixer_weights
from voxlite.pipelines.sessions import GraphSessions
from voxlite.backends import backend_status, open_session, select_backend
from voxlite.errors import BackendError, BackendUnavailable, InvalidInput

CPU_BACKENDS = ["cpu", "openvino"]


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("threads", [1, 2])
def test_cpu_backends_match_numpy(mixer_onnx, backend, threads):
    session = open_session(mixer_onnx, backend=backend, threads=threads)
    assert session.backend == backend and session.choice.name == backend
    for batch, frames in [(1, 1), (2, 11), (3, 64)]:
        feeds = mixer_inputs(batch, frames, seed=batch * 100 + frames)
        got = session.run(feeds)
        want = mixer_reference(feeds["x"], feeds["codes"], mixer_weights())
        np.testing.assert_allclose(got["y"], want["y"], atol=2e-5, rtol=1e-5)
        np.testing.assert_allclose(got["energy"], want["energy"], rtol=1e-5)


def test_onnxruntime_and_openvino_agree(mixer_onnx):
    feeds = mixer_inputs(4, 33, seed=7)
    a = open_session(mixer_onnx, backend="cpu").run(feeds)
    b = open_session(mixer_onnx, backend="openvino").run(feeds)
    for name in ("y", "energy"):
        np.testing.assert_allclose(a[name], b[name], atol=1e-5, rtol=1e-5)


def test_openvino_results_are_not_overwritten_by_next_run(mixer_onnx):
    s = open_session(mixer_onnx, backend="openvino")
    first = s.run(mixer_inputs(1, 8, seed=1))["y"]
    keep = first.copy()
    s.run(mixer_inputs(1, 8, seed=2))
    np.testing.assert_array_equal(first, keep)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_run_into_writes_caller_buffers(mixer_onnx, backend):
    session = open_session(mixer_onnx, backend=backend)
    feeds = mixer_inputs(2, 9)
    y = np.empty((2, 6, 9), np.float32)
    energy = np.empty((2,), np.float32)
    session.run_into(feeds, {"y": y, "energy": energy})
    want = mixer_reference(feeds["x"], feeds["codes"], mixer_weights())
    np.testing.assert_allclose(y, want["y"], atol=2e-5)
    np.testing.assert_allclose(energy, want["energy"], rtol=1e-5)


def test_run_into_wrong_buffer_shape(mixer_onnx):
    session = open_session(mixer_onnx, backend="cpu")
    with pytest.raises((BackendError, InvalidInput)):
        session.run_into(mixer_inputs(2, 9), {"y": np.empty((2, 6, 8), np.float32)})


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_bad_feeds_are_typed_errors(mixer_onnx, backend):
    s = open_session(mixer_onnx, backend=backend)
    feeds = mixer_inputs(1, 4)
    with pytest.raises(InvalidInput, match="missing inputs"):
        s.run({"x": feeds["x"]})
    with pytest.raises(InvalidInput, match="unknown inputs"):
        s.run({**feeds, "z": feeds["x"]})
    with pytest.raises(InvalidInput, match="must be float32"):
        s.run({**feeds, "x": feeds["x"].astype(np.float64)})
    with pytest.raises(InvalidInput, match="rank"):
        s.run({**feeds, "x": feeds["x"][0]})
    with pytest.raises(InvalidInput, match="shape"):
        s.run({**feeds, "x": np.zeros((1, 5, 4), np.float32)})
    with pytest.raises(InvalidInput, match="unknown outputs"):
        s.run(feeds, ["nope"])


def test_backend_runtime_failure_is_typed(mixer_onnx):
    s = open_session(mixer_onnx, backend="cpu")
    feeds = mixer_inputs(1, 4)
    feeds["codes"] = np.full((1, 4), 999, np.int64)  # Gather index out of range inside the graph
    with pytest.raises(BackendError, match="cpu: running mixer.onnx failed"):
        s.run(feeds)


def test_auto_picks_best_present_and_says_why():
    choice = select_backend("auto")
    gpu_like = [n for n in ("tensorrt", "ort-tensorrt", "cuda") if backend_status(n).available]
    assert choice.name == (gpu_like[0] if gpu_like else "cpu")
    assert choice.reason.startswith("auto:")
    if not gpu_like:
        assert "not available" in choice.reason and "tensorrt" in choice.reason


@pytest.mark.parametrize("name", ["cuda", "tensorrt", "ort-tensorrt"])
def test_absent_backend_raises_with_hint_no_silent_fallback(mixer_onnx, name):
    if backend_status(name).available:
        pytest.skip(f"{name} is present on this machine")
    with pytest.raises(BackendUnavailable, match="Install: pip install"):
        select_backend(name)
    with pytest.raises(BackendUnavailable):
        open_session(mixer_onnx, backend=name)
    s = open_session(mixer_onnx, backend=name, allow_fallback=True)
    assert s.backend != name
    assert s.choice.requested == name and s.choice.reason.startswith(f"fallback from {name}")


def test_unknown_backend_and_bad_threads(mixer_onnx, monkeypatch):
    with pytest.raises(InvalidInput, match="unknown backend"):
        select_backend("quantum")
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InvalidInput, match="threads"):
            open_session(mixer_onnx, backend="cpu", threads=bad)
    monkeypatch.setenv("VOXLITE_THREADS", "zero")
    with pytest.raises(InvalidInput, match="VOXLITE_THREADS"):
        open_session(mixer_onnx, backend="cpu")
    monkeypatch.setenv("VOXLITE_THREADS", "1")
    assert open_session(mixer_onnx, backend="cpu").threads == 1


def test_torch_backend_is_for_reference_modules(mixer_onnx):
    with pytest.raises(BackendUnavailable, match="TorchSession"):
        open_session(mixer_onnx, backend="torch")


def test_torch_session_matches_exported_graph(tmp_path):
    torch = pytest.importorskip("torch")
    from voxlite.bundle import onnx_io_specs
    from voxlite.backends.torch import TorchSession

    class Mixer(torch.nn.Module):
        def __init__(self, w):
            super().__init__()
            self.conv = torch.nn.Conv1d(4, 6, 3, padding=1)
            self.emb = torch.nn.Embedding(16, 6)
            with torch.no_grad():
                self.conv.weight.copy_(torch.from_numpy(w["W"]))
                self.conv.bias.copy_(torch.from_numpy(w["b"]))
                self.emb.weight.copy_(torch.from_numpy(w["E"]))

        def forward(self, x, codes):
            y = torch.relu(self.conv(x)) + self.emb(codes).transpose(1, 2)
            return y, (y * y).mean(dim=(1, 2))

    module = Mixer(mixer_weights())
    feeds = mixer_inputs(2, 10)
    path = tmp_path / "torch_mixer.onnx"
    torch.onnx.export(module, (torch.from_numpy(feeds["x"]), torch.from_numpy(feeds["codes"])), str(path),
                      input_names=["x", "codes"], output_names=["y", "energy"], dynamo=False,
                      dynamic_axes={"x": {0: "batch", 2: "frames"}, "codes": {0: "batch", 1: "frames"},
                                    "y": {0: "batch", 2: "frames"}, "energy": {0: "batch"}})
    ins, outs = onnx_io_specs(path)
    ref = TorchSession(module, ins, outs, threads=1)
    exported = open_session(path, backend="cpu")
    other = mixer_inputs(3, 17, seed=5)
    for f in (feeds, other):
        a, b = ref.run(f), exported.run(f)
        np.testing.assert_allclose(a["y"], b["y"], atol=1e-5)
        np.testing.assert_allclose(a["y"], mixer_reference(f["x"], f["codes"], mixer_weights())["y"], atol=1e-5)


@pytest.mark.parametrize("name", ["cuda", "ort-tensorrt", "tensorrt"])
def test_gpu_backends_match_numpy_where_present(mixer_onnx, tmp_path, name):
    if not backend_status(name).available:
        pytest.skip(f"{name}: {backend_status(name).reason}")
    from voxlite.bundle import BundleWriter, open_bundle

    w = BundleWriter(tmp_path / "gpu", model_type="graph", name="mixer", sample_rate=None)
    w.add_graph("mixer", "fp32", mixer_onnx, metadata={"tensorrt_profiles": {
        "x": {"min": [1, 4, 1], "opt": [2, 4, 64], "max": [8, 4, 1024]},
        "codes": {"min": [1, 1], "opt": [2, 64], "max": [8, 1024]}}})
    session = GraphSessions(open_bundle(w.finish()), backend=name).get("mixer")
    assert session.backend == name
    feeds = mixer_inputs(2, 40)
    got = session.run(feeds)
    want = mixer_reference(feeds["x"], feeds["codes"], mixer_weights())
    np.testing.assert_allclose(got["y"], want["y"], atol=1e-3)


def test_tensorrt_engine_cache_key_separates_what_matters():
    from voxlite.backends.tensorrt import engine_cache_key

    base = ("NVIDIA A10", (8, 6), "10.3.0", "bundlehash:decoder:fp32", False, {})
    key = engine_cache_key(*base)
    assert key == engine_cache_key(*base)
    for i, changed in enumerate([("NVIDIA T4", ), ((7, 5), ), ("10.4.0", ), ("other:decoder:fp32", ), (True, ),
                                 ({"x": {"min": [1]}}, )]):
        args = list(base)
        args[i] = changed[0]
        assert engine_cache_key(*args) != key


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_graph_metadata_read_by_every_backend(tmp_path, backend):
    from tests.graphs import make_mixer_onnx

    path = make_mixer_onnx(tmp_path / "m.onnx", metadata={"voxlite.graph": "mixer", "voxlite.sample_rate": "16000"})
    s = open_session(path, backend=backend)
    assert s.metadata["voxlite.graph"] == "mixer" and s.metadata["voxlite.sample_rate"] == "16000"
