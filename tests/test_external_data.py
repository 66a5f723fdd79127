"""Graphs past ONNX's 2 GiB protobuf limit keep their weights in an external-data file: export.graphs writes it
(fp32, fp16 and int8), BundleWriter stores it beside the graph under a bundle-owned name and hashes it, and the
bundle loads and runs as an inline one. The threshold is lowered so a tiny codec takes that path."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

import voxlite  # noqa: E402
import export.graphs as common  # noqa: E402
from export.codec import FAMILIES, export_codec  # noqa: E402
from voxlite.errors import BundleError  # noqa: E402


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("external")
    inline = export_codec(FAMILIES["wavevae"](None, "tiny", 0), root / "inline", precisions=("fp32", "fp16", "int8"),
                          log=lambda *_: None)
    saved = common.EXTERNAL_DATA_BYTES
    common.EXTERNAL_DATA_BYTES = 0
    try:
        external = export_codec(FAMILIES["wavevae"](None, "tiny", 0), root / "external",
                                precisions=("fp32", "fp16", "int8"), log=lambda *_: None)
    finally:
        common.EXTERNAL_DATA_BYTES = saved
    return inline, external


def test_external_data_bundle_runs_like_inline(bundles):
    inline, external = bundles
    files = voxlite.load(external, backend="cpu").bundle.manifest.files
    for precision in ("fp32", "fp16", "int8"):
        assert f"graphs/codec.decoder.{precision}.onnx.data" in files
        assert common.external_locations(external / f"graphs/codec.decoder.{precision}.onnx") == \
            [f"codec.decoder.{precision}.onnx.data"]
    assert not any(p.endswith(".data") for p in voxlite.load(inline, backend="cpu").bundle.manifest.files)
    z = np.random.default_rng(0).standard_normal((1, 5, 9)).astype(np.float32)
    for precision in ("fp32", "fp16", "int8"):
        a = voxlite.load(inline, backend="cpu", precision=precision).decode(z).samples
        b = voxlite.load(external, backend="cpu", precision=precision).decode(z).samples
        np.testing.assert_allclose(b, a, atol=1e-6)


def test_altered_external_data_is_refused(bundles, tmp_path):
    import shutil

    _, external = bundles
    copy = tmp_path / "copy"
    shutil.copytree(external, copy)
    data = copy / "graphs/codec.decoder.fp32.onnx.data"
    raw = bytearray(data.read_bytes())
    raw[10] ^= 1
    data.write_bytes(bytes(raw))
    with pytest.raises(BundleError, match="sha256"):
        voxlite.load(copy, backend="cpu")
