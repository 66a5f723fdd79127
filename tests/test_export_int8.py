"""export.common.to_int8 on hand-built graphs: what it quantizes and what it must leave float."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime.quantization")

from export.common import to_int8  # noqa: E402


def _two_gemms(path):
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w1, w2 = rng.normal(size=(64, 64)).astype(np.float32), rng.normal(size=(64, 32)).astype(np.float32)
    b1, b2 = np.zeros(64, np.float32), np.zeros(32, np.float32)
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="/body/Gemm"),
             helper.make_node("Relu", ["h"], ["a"], name="/body/Relu"),
             helper.make_node("Gemm", ["a", "w2", "b2"], ["y"], name="/prior_proj/Gemm")]
    graph = helper.make_graph(nodes, "two_gemms", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", 32])],
                              [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"),
                                                                           (b2, "b2"))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save(model, str(path))
    return path


def test_kept_float_gemm_stays_float(tmp_path):
    """Dynamic quantization rewrites a Gemm as MatMul + Add under a new name before it reads nodes_to_exclude:
    a Gemm named in keep_float must still come out float (it used to be quantized)."""
    src = _two_gemms(tmp_path / "g.onnx")
    ops = lambda p: {n.name: n.op_type for n in onnx.load(str(p)).graph.node}  # noqa: E731
    everything = ops(to_int8(src, tmp_path / "all.onnx"))
    assert sum(t == "MatMulInteger" for t in everything.values()) == 2
    kept = ops(to_int8(src, tmp_path / "kept.onnx", keep_float=("prior_proj",)))
    assert sum(t == "MatMulInteger" for t in kept.values()) == 1
    assert not any("prior_proj" in name and t == "MatMulInteger" for name, t in kept.items())
    assert any("prior_proj" in name and t in ("MatMul", "Gemm") for name, t in kept.items())
