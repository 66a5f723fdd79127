"""Tiny real ONNX graphs for tests, built with onnx.helper, and the NumPy computation each one performs.

The fixture graph ("mixer"): y = relu(conv1d(x, W, b, pad=1)) + E[codes]^T, energy = mean(y^2) per item.
It has a float and an int64 input, two outputs and dynamic batch/frames dims, which is enough to exercise
bundles and every backend for real.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

C_IN, C_OUT, KERNEL, VOCAB = 4, 6, 3, 16


def mixer_weights(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "W": rng.standard_normal((C_OUT, C_IN, KERNEL)).astype(np.float32) * 0.5,
        "b": rng.standard_normal(C_OUT).astype(np.float32) * 0.1,
        "E": rng.standard_normal((VOCAB, C_OUT)).astype(np.float32),
    }


def mixer_reference(x: np.ndarray, codes: np.ndarray, weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    W, b, E = weights["W"], weights["b"], weights["E"]
    batch, _, frames = x.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1)))
    conv = np.zeros((batch, C_OUT, frames))
    for k in range(KERNEL):
        conv += np.einsum("oc,bct->bot", W[:, :, k], xp[:, :, k:k + frames])
    y = np.maximum(conv + b[None, :, None], 0.0) + E[codes].transpose(0, 2, 1)
    return {"y": y.astype(np.float32), "energy": (y ** 2).mean(axis=(1, 2)).astype(np.float32)}


def mixer_inputs(batch: int = 2, frames: int = 11, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((batch, C_IN, frames)).astype(np.float32),
            "codes": rng.integers(0, VOCAB, (batch, frames)).astype(np.int64)}


def make_mixer_onnx(path: str | Path, weights: dict[str, np.ndarray] | None = None,
                    metadata: dict[str, str] | None = None) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = weights or mixer_weights()
    nodes = [
        helper.make_node("Conv", ["x", "W", "b"], ["conv"], pads=[1, 1], kernel_shape=[KERNEL]),
        helper.make_node("Relu", ["conv"], ["act"]),
        helper.make_node("Gather", ["E", "codes"], ["emb"], axis=0),           # (B, T, C_OUT)
        helper.make_node("Transpose", ["emb"], ["embT"], perm=[0, 2, 1]),      # (B, C_OUT, T)
        helper.make_node("Add", ["act", "embT"], ["y"]),
        helper.make_node("Mul", ["y", "y"], ["y2"]),
        helper.make_node("ReduceMean", ["y2", "axes"], ["energy"], keepdims=0),
    ]
    inits = [numpy_helper.from_array(weights[k], k) for k in ("W", "b", "E")]
    inits.append(numpy_helper.from_array(np.array([1, 2], dtype=np.int64), "axes"))
    graph = helper.make_graph(
        nodes, "mixer",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", C_IN, "frames"]),
         helper.make_tensor_value_info("codes", TensorProto.INT64, ["batch", "frames"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", C_OUT, "frames"]),
         helper.make_tensor_value_info("energy", TensorProto.FLOAT, ["batch"])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], producer_name="voxlite-tests")
    model.ir_version = 9
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    path = Path(path)
    onnx.save(model, str(path))
    return path
