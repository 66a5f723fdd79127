"""``python -m benchmarks.voxcpm`` end to end at the tiny config, so the script cannot rot: official random-weight
checkpoint -> ``python -m export voxcpm --checkpoint`` -> one timing row per system (official torch, voxlite ONNX Runtime), each in its
own subprocess -> the table; a second run reuses the checkpoint and bundle. Times are not asserted: on a shared
machine they vary too much for a bound (benchmarks report ratios measured in one run)."""
import importlib.util

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("transformers")
if importlib.util.find_spec("voxcpm") is None:
    pytest.skip("voxcpm (the official package) not installed", allow_module_level=True)

from benchmarks.voxcpm import export_bundle, format_table, patches_for, run_benchmark  # noqa: E402


def test_benchmark_runs_end_to_end(tmp_path):
    import torch

    torch.set_num_threads(1)  # tiny graphs: more threads only wait for each other on a busy 2-core machine
    kw = dict(config="tiny", work_dir=tmp_path, tokens=1, threads=(1,), precisions=("fp32",), backends=("cpu",),
              rounds=1, repeats=1, steps=2, export_in_process=True)
    result = run_benchmark(**kw)
    rows = result["rows"]
    assert [(r["system"], r["backend"], r["precision"], r["threads"]) for r in rows] == [
        ("official", "torch eager", "fp32", 1), ("voxlite", "cpu", "fp32", 1)]
    for r in rows:  # same text, same token count, same number of patches and audio on both sides
        assert (r["tokens"], r["patches"]) == (1, patches_for(1)) == (1, 16)
        assert r["audio_s"] == pytest.approx(rows[0]["audio_s"])
        assert 0 < r["ttfa_s"] <= r["wall_s"] and r["load_s"] > 0 and r["peak_rss_mb"] > 0 and r["size_mb"] > 0
        assert r["rtf"] == pytest.approx(r["wall_s"] / r["audio_s"])
    assert rows[0]["speedup"] == 1.0 and rows[1]["speedup"] == pytest.approx(rows[0]["wall_s"] / rows[1]["wall_s"])
    table = format_table(result)
    assert "| official | torch eager | fp32 | 1 |" in table and "| voxlite | cpu | fp32 | 1 |" in table

    manifest = tmp_path / "bundle" / "manifest.json"
    stamp = manifest.stat().st_mtime_ns
    export_bundle(tmp_path / "checkpoint", tmp_path / "bundle", ("fp32",))  # cached: not exported again
    assert manifest.stat().st_mtime_ns == stamp
