"""``python -m benchmarks.uniaudio``'s machinery at the tiny configuration, in seconds: the setup (export + the
official-layout weights), the children, equal work, ratios and the table. Without an official checkout (CI) only the
voxlite side runs; with one (``UNIAUDIO_OFFICIAL_REPO=/path/to/UniAudio``) the official side too, in subprocesses
(its import puts ``model`` / ``infer`` / ``utils`` / ``tools`` into ``sys.modules``). The committed v1 report:
benchmarks/results/uniaudio."""
import json
import os

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from benchmarks import uniaudio as bench  # noqa: E402

OFFICIAL = os.environ.get("UNIAUDIO_OFFICIAL_REPO")
SMALL = dict(config="tiny", frames=5, phones=4, prompt_frames=6, threads=(1,), precisions=("fp32",), rounds=1,
             repeats=1)


def _row(system, precision, threads, walls, firsts, frames=250, **extra):
    parts = {"prefill": 1.0, "global": 0.0, "local": 2.0, "decode": 0.5, "other": 0.5}
    return dict(system=system, backend="torch eager" if system == "official" else "cpu", precision=precision,
                threads=threads, walls=walls, ttfas=list(walls), firsts=firsts, wall_s=sorted(walls)[len(walls) // 2],
                ttfa_s=sorted(walls)[len(walls) // 2], first_s=sorted(firsts)[len(firsts) // 2], frames=frames,
                audio_s=frames / 50, load_s=2.0, peak_rss_mb=1000.0, size_mb=500.0, parts=parts, ended=False,
                **extra)


def _result(rows):
    meta = dict(date="2026-12-07T12:00:00", config="v1", task="tts", frames=250, phones=60, prompt_frames=150,
                prefix_frames=217, top_k=30, temperature=1.0, seed=0, rounds=2, repeats=1, machine="x86_64, 2 CPUs",
                bundle_total_mb=1000.0, official_files_mb=800.0, setup={"lm_params_m": 184.6, "codec_params_m": 15.8})
    return dict(meta=meta, rows=rows)


def test_ratios_pair_rounds_and_threads():
    rows = [_row("official", "fp32", 1, [12.0, 10.0], [4.0, 2.0]), _row("voxlite", "int8", 1, [3.0, 5.0], [1.0, 1.0]),
            _row("official", "fp32", 2, [6.0, 6.0], [2.0, 2.0]), _row("voxlite", "int8", 2, [2.0, 3.0], [1.0, 0.5])]
    bench.add_ratios(rows)
    assert rows[0]["speedup"] == 1.0 and rows[0]["first_ratio"] == 1.0
    assert rows[1]["speedup"] == pytest.approx((12 / 3 + 10 / 5) / 2)  # round by round, then the median
    assert rows[1]["first_ratio"] == pytest.approx(3.0)
    assert rows[3]["speedup"] == pytest.approx((3 + 2) / 2)  # against the official row of its own thread count
    assert rows[1]["rtf"] == pytest.approx(rows[1]["wall_s"] / 5.0)


def test_unequal_work_has_no_ratio():
    rows = [_row("official", "fp32", 1, [10.0], [2.0]), _row("voxlite", "fp32", 1, [5.0], [1.0], frames=200)]
    bench.add_ratios(rows)
    assert rows[1]["speedup"] is None and rows[1]["first_ratio"] is None


def test_table_and_replay(tmp_path, capsys):
    rows = [_row("official", "fp32", 1, [10.0], [2.0]), _row("voxlite", "int8", 1, [2.5], [0.5])]
    bench.add_ratios(rows)
    result = _result(rows)
    table = bench.format_table(result)
    assert "| official | torch eager | fp32 | 1 | 250 | 2.0 | 2000 | 10000 | 2.000 | 1.00x | 1.00x | 1000 | 500 |" \
        in table
    assert "| voxlite | cpu | int8 | 1 | 250 | 2.0 | 500 | 2500 | 0.500 | 4.00x | 4.00x | 1000 | 500 |" in table
    assert "| voxlite | cpu | int8 | 1 | 1.00 | 0.00 | 2.00 | 0.50 | 0.50 | 2.50 |" in table
    saved = tmp_path / "report.json"  # a --report DIR's report.json keeps the result under "figures"
    saved.write_text(json.dumps({"figures": result}))
    assert bench.main(["--table", str(saved)]) == 0
    assert capsys.readouterr().out.strip() == table


@pytest.mark.parametrize("bad", [dict(frames=0), dict(phones=0), dict(threads=()), dict(threads=(1, 1)),
                                 dict(precisions=("fp16",)), dict(backends=("cuda",)), dict(rounds=0),
                                 dict(top_k=0), dict(temperature=0.0), dict(official_repo=None)])
def test_check_args_refuses(bad):
    args = dict(frames=250, phones=60, prompt_frames=150, threads=(1, 2), precisions=("fp32", "int8"),
                backends=("cpu",), rounds=2, repeats=1, top_k=30, temperature=1.0, official_repo="/x", official=True)
    bench.check_args(**args)  # the defaults pass
    with pytest.raises(SystemExit):
        bench.check_args(**{**args, **bad})


def test_inputs_and_room():
    phones, prompt = bench.inputs(60, 150, 306, 1024, seed=0)
    assert phones.shape == (60,) and prompt.shape == (3, 150)
    assert (phones[1:] != phones[:-1]).all()  # the tts phone tokenizer would merge equal neighbours
    assert 0 <= phones.min() and phones.max() < 306 and 0 <= prompt.min() and prompt.max() < 1024
    again = bench.inputs(60, 150, 306, 1024, seed=0)
    assert (again[0] == phones).all() and (again[1] == prompt).all()
    bench.check_room({"run": {"frames": 217}, "n_ctx": 8000}, 250)
    with pytest.raises(SystemExit):  # the official loop would cut maxlen (it compares frames with tokens)
        bench.check_room({"run": {"frames": 23}, "n_ctx": 101}, 40)


def test_official_layouts_round_trip():
    """The weights the official side reads are voxlite's, renamed (the checks inside the functions convert them
    back through voxlite's own converters)."""
    from export.uniaudio import build_random, random_codec

    model, _ = build_random("tiny", 0)
    state = model.state_dict()
    official = bench.to_official_lm(state)
    assert "g_layers.0.attn.query.weight" in official and "l_ln.weight" in official and "g2l_linear.bias" in official
    assert not any(k.endswith("attn.key.bias") for k in official)
    assert all(official[k] is v for k, v in zip(official, state.values()))  # the same tensors, no copy
    codec = random_codec(model.config.audio_bins, "tiny", 0)
    ours = bench.codec_state(codec)
    theirs = bench.to_official_codec(ours)
    assert "quantizer.vq.layers.2._codebook.embed" in theirs
    g = theirs["decoder.model.0.conv.conv.weight_g"]
    assert g.shape == (ours["decoder.model.0.conv.weight"].shape[0], 1, 1)
    kwargs = bench.official_codec_kwargs(codec.config)
    assert (kwargs["n_filters"], kwargs["D"], kwargs["bins"]) == (3, 12, 23)


def test_stand_ins_raise_and_a_wrong_checkout_is_refused(tmp_path):
    stand_in = bench._standin_module("utils.dataloader", "get_data_iterator_tokenizer_vocabulary")
    with pytest.raises(RuntimeError, match="stand-in"):
        stand_in.get_data_iterator_tokenizer_vocabulary()
    with pytest.raises(RuntimeError, match="stand-in"):
        stand_in.get_data_iterator_tokenizer_vocabulary.anything
    with pytest.raises(SystemExit, match="not a UniAudio checkout"):
        bench.official_root(tmp_path)


def _check_rows(result, systems):
    rows = result["rows"]
    assert [r["system"] for r in rows] == systems
    for r in rows:
        assert r["frames"] == SMALL["frames"] and not r["ended"]
        assert r["audio_s"] == pytest.approx(SMALL["frames"] * 320 / 16000)
        assert 0 < r["first_s"] <= r["wall_s"] and r["peak_rss_mb"] > 0
        assert sum(r["parts"].values()) == pytest.approx(r["wall_s"], rel=0.05)
        assert r["parts"]["prefill"] > 0 and r["parts"]["global"] > 0 and r["parts"]["local"] > 0
    table = bench.format_table(result)
    assert "4 phones + a 6-frame voice prompt" in table and "5 frames" in table


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory):
    """One work dir for the module: the official test reuses the voxlite test's bundle (setup adds its files)."""
    return tmp_path_factory.mktemp("uniaudio-bench")


def test_voxlite_side_end_to_end(work_dir):
    result = bench.run_benchmark(work_dir=work_dir, official=False, **SMALL)
    _check_rows(result, ["voxlite"])
    meta = result["meta"]
    assert meta["prefix_frames"] == 1 + 1 + (4 + 2) + (6 + 2) + 1  # <start> <tts_task> phones prompt <audio_start>
    assert meta["setup"]["int8_mode"] == "block-wise" and "parity" not in meta["setup"]
    assert not (work_dir / "official").exists()  # official-layout files only for an official run
    assert json.loads((work_dir / "setup.json").read_text())["precisions"] == ["fp32"]  # what a rerun reuses


@pytest.mark.skipif(not OFFICIAL, reason="no UniAudio checkout (set UNIAUDIO_OFFICIAL_REPO)")
def test_official_side_end_to_end(work_dir):
    manifest = work_dir / "bundle" / "manifest.json"
    before = manifest.stat().st_mtime_ns if manifest.is_file() else None  # the voxlite test's, when it ran first
    result = bench.run_benchmark(work_dir=work_dir, official=True, official_repo=OFFICIAL, **SMALL)
    assert before is None or manifest.stat().st_mtime_ns == before  # the bundle was reused
    _check_rows(result, ["official", "voxlite"])
    parity = result["meta"]["setup"]["parity"]
    assert parity["lm_logits_max_abs_diff"] < 1e-4 and parity["codec_audio_max_abs_diff"] < 1e-4
    assert result["rows"][1]["speedup"] is not None
