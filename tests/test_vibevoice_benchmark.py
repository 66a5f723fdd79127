"""``python -m benchmarks.vibevoice``'s pure parts, fast: argument checks, the work check, ratios and the table of a
saved result (the end-to-end run at 1.5B takes most of an hour; the tiny config runs the whole script by hand:
``python -m benchmarks.vibevoice --config tiny --work-dir /tmp/vvtiny --threads 1 --rounds 1``)."""
import json

import pytest

from benchmarks import vibevoice as bench


def _row(system, backend, precision, threads, walls, ttfas, latents=16, **extra):
    parts = dict(prefill=1.0, lm_step=2.0, diffusion=0.5, decode=0.25, semantic=0.125, other=0.125)
    return dict(system=system, backend=backend, precision=precision, threads=threads, walls=walls, ttfas=ttfas,
                wall_s=sorted(walls)[len(walls) // 2], ttfa_s=sorted(ttfas)[len(ttfas) // 2], latents=latents,
                lm_tokens=latents, prompt_positions=95, audio_s=latents * 3200 / 24000, load_s=3.0,
                peak_rss_mb=1234.0, size_mb=567.0, parts=parts, **extra)


def _result(rows):
    meta = dict(date="2026-12-07T12:00:00", config="1.5b", latents=16, steps=10, cfg=1.3, rounds=2, repeats=1,
                script=bench.SCRIPT, voice_latents=[8, 6], prompt_positions=95, machine="x86_64, 2 CPUs",
                checkpoint_mb=10.0, bundle_total_mb=20.0, same_work=bench.same_work(rows))
    return dict(meta=meta, rows=rows)


def test_ratios_pair_rounds_and_threads():
    rows = [_row("official", "torch eager", "fp32", 1, [12.0, 10.0], [4.0, 2.0]),
            _row("voxlite", "cpu", "int8", 1, [3.0, 5.0], [1.0, 1.0]),
            _row("official", "torch eager", "fp32", 2, [6.0, 6.0], [2.0, 2.0]),
            _row("voxlite", "cpu", "int8", 2, [2.0, 3.0], [1.0, 0.5])]
    bench.add_ratios(rows)
    assert rows[0]["speedup"] == 1.0 and rows[0]["ttfa_ratio"] == 1.0
    assert rows[1]["speedup"] == pytest.approx((12 / 3 + 10 / 5) / 2)  # round by round, then the median
    assert rows[1]["ttfa_ratio"] == pytest.approx(3.0)
    assert rows[3]["speedup"] == pytest.approx((3 + 2) / 2)  # against the official row of its own thread count
    assert rows[1]["rtf"] == pytest.approx(rows[1]["wall_s"] / rows[1]["audio_s"])


def test_unequal_work_has_no_ratio_and_is_flagged():
    rows = [_row("official", "torch eager", "fp32", 1, [10.0], [2.0]),
            _row("voxlite", "cpu", "fp32", 1, [5.0], [1.0], latents=12)]
    bench.add_ratios(rows)
    assert rows[1]["speedup"] is None and rows[1]["ttfa_ratio"] is None
    assert not bench.same_work(rows)
    table = bench.format_table(_result(rows))
    assert "| voxlite | cpu | fp32 | 1 | 12 | 12 |" in table and "n/a" in table and "WARNING" in table


def test_table_and_replay(tmp_path, capsys):
    rows = [_row("official", "torch eager", "fp32", 1, [10.0], [2.0]),
            _row("voxlite", "cpu", "int8", 1, [2.5], [0.5])]
    bench.add_ratios(rows)
    result = _result(rows)
    table = bench.format_table(result)
    assert "| official | torch eager | fp32 | 1 | 16 | 16 | 3.0 | 2000 | 4.688 | 1.00x | 1.00x | 1234 | 567 |" in table
    assert "| voxlite | cpu | int8 | 1 | 16 | 16 | 3.0 | 500 | 1.172 | 4.00x | 4.00x | 1234 | 567 |" in table
    assert "| voxlite | cpu | int8 | 1 | 1.00 | 2.00 | 0.50 | 0.25 | 0.12 | 0.12 | 2.50 |" in table
    assert "WARNING" not in table
    saved = tmp_path / "report.json"  # a --report DIR's report.json keeps the result under "figures"
    saved.write_text(json.dumps({"figures": result}))
    assert bench.main(["--table", str(saved)]) == 0
    assert capsys.readouterr().out.strip() == table


def test_split_parts():
    parts = bench.split_parts({"prefill": 1.0, "diffusion": 0.5}, 2.0)
    assert list(parts) == list(bench.PARTS)
    assert parts["other"] == pytest.approx(0.5) and parts["lm_step"] == 0.0
    assert bench.split_parts({"prefill": 3.0}, 2.0)["other"] == 0.0  # hooks overlapping the wall: never negative


@pytest.mark.parametrize("bad", [dict(latents=0), dict(threads=()), dict(threads=(0,)), dict(threads=(1, 1)),
                                 dict(precisions=("int4",)), dict(backends=("cuda",)), dict(rounds=0),
                                 dict(repeats=0), dict(steps=0), dict(cfg=0.0)])
def test_check_args_refuses(bad):
    args = dict(latents=16, threads=(1, 2), precisions=("fp32", "int8"), backends=("cpu",), rounds=2, repeats=1,
                steps=10, cfg=1.3)
    bench.check_args(**args)  # the defaults pass
    with pytest.raises(SystemExit):
        bench.check_args(**{**args, **bad})


def test_parser_defaults():
    args = bench.build_parser().parse_args([])
    assert (args.config, args.latents, args.threads, args.precisions, args.backends) == (
        "1.5b", 16, [1, 2], ["fp32", "int8"], ["cpu"])
    with pytest.raises(SystemExit):
        bench.build_parser().parse_args(["--config", "7b"])


def test_script_and_voices():
    lines = bench.SCRIPT.split("\n")
    assert len(lines) == 3 and {ln.split(":")[0] for ln in lines} == {"Speaker 1", "Speaker 2"}
    voices = bench.voice_prompts(3200)
    assert [len(v) for v in voices] == [n * 3200 for n in bench.VOICE_LATENTS]  # whole hops: same count both sides
    assert all(v.dtype.name == "float32" for v in voices)
    assert all((a == b).all() for a, b in zip(voices, bench.voice_prompts(3200)))  # seeded
