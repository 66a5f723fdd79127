"""benchmarks/report.py: the shared report writer (report.json + report.md with the command, machine, versions and
figures), and the benchmark scripts' --report options that write through it. No timing is asserted."""
import json
import sys
from pathlib import Path

import pytest

from benchmarks import report as rep

ROOT = Path(__file__).resolve().parent.parent


def test_start_run_gathers_machine_versions_and_command():
    run = rep.start_run(("jiwer",), argv=[str(ROOT / "benchmarks" / "speed.py"), "--system", "a b", "--limit", "3"])
    assert run.command == "python benchmarks/speed.py --system 'a b' --limit 3"
    assert run.machine["cpu"] and run.machine["logical_cores"] >= 1
    assert run.machine["load_average"] is None or len(run.machine["load_average"]) == 3
    assert run.versions["python"] and run.versions["numpy"]  # numpy: always reported when installed
    assert run.started.endswith("+00:00")  # UTC
    assert set(run.git) == {"commit", "changed"}
    if (ROOT / ".git").exists():
        assert run.git["commit"] and len(run.git["commit"]) == 40


def test_command_line_names_the_module_form_when_run_with_dash_m():
    script = str(ROOT / "benchmarks" / "speed.py")
    assert rep.command_line([script, "--limit", "3"], orig_argv=["python", "-m", "benchmarks.speed", "--limit", "3"]
                            ) == "python -m benchmarks.speed --limit 3"
    assert rep.command_line([script], orig_argv=["python", "-m", "pytest", "-q"]) == "python benchmarks/speed.py"


def test_write_report_writes_both_files_atomically(tmp_path):
    run = rep.start_run(argv=["benchmarks/kernels.py"])
    out = tmp_path / "results" / "demo"
    figures = {"rtf": 0.05, "nan": float("nan"), "nested": {"ratio": 0.5, "ci": (1, 2)}}
    json_path, md_path = rep.write_report(out, "demo", run.command, figures, ["a note"], run=run)
    assert (json_path, md_path) == (out / "report.json", out / "report.md")
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "report.md"]  # no temporary file left
    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert data["name"] == "demo" and data["command"] == "python benchmarks/kernels.py"
    assert data["figures"] == {"rtf": 0.05, "nan": None, "nested": {"ratio": 0.5, "ci": [1, 2]}}
    assert data["notes"] == ["a note"]
    for key in ("date", "machine", "versions", "git", "end"):
        assert key in data
    assert data["machine"] == run.machine and data["versions"]["python"] == run.versions["python"]
    md = md_path.read_text(encoding="utf-8")
    assert md.startswith("# demo\n")
    assert "`python benchmarks/kernels.py`" in md and run.machine["cpu"] in md and "load average" in md
    assert "| nested.ratio | 0.5 |" in md and "| nan | null |" in md and "- a note" in md


def test_write_report_takes_the_benchmarks_markdown_and_overwrites(tmp_path):
    rep.write_report(tmp_path, "x", "python a.py", {"v": 1}, markdown="| t |\n|---|\n| 1 |")
    rep.write_report(tmp_path, "x", "python a.py", {"v": 2}, markdown="| t |\n|---|\n| 2 |")
    assert json.loads((tmp_path / "report.json").read_text())["figures"] == {"v": 2}
    md = (tmp_path / "report.md").read_text()
    assert "| 2 |" in md and "| 1 |" not in md and "## Figures" in md


def test_write_atomic_leaves_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "report.json"
    rep.write_atomic(target, "old")

    class Boom:
        def __str__(self):
            raise RuntimeError("boom")

    with pytest.raises(TypeError):
        rep.write_atomic(target, Boom())  # not a str: the write fails after the temporary file exists
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_context_lines_name_a_changed_tree():
    report = {"command": "python b.py", "date": "2026-01-01T00:00:00+00:00",
              "machine": {"cpu": "Test CPU", "logical_cores": 2, "memory_gb": 24.0, "os": "Linux",
                          "load_average": [1.0, 0.5, 0.25]},
              "versions": {"python": "3.11", "numpy": "2.0"}, "git": {"commit": "abc", "changed": ["b.py"]},
              "end": {"date": "2026-01-01T00:10:00+00:00", "load_average": [2.0, 1.0, 0.5]}}
    text = "\n".join(rep.context_lines(report))
    assert "Test CPU, 2 logical cores, 24 GB" in text
    assert "load average 1.00/0.50/0.25 at the start, 2.00/1.00/0.50 at the end" in text
    assert "abc (the tree differed in b.py)" in text and "python 3.11, numpy 2.0" in text
    assert "to 2026-01-01T00:10:00+00:00" in text


def test_quality_summary_keeps_figures_not_rows(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("voxlite_bench_quality_r", ROOT / "benchmarks" / "quality.py")
    q = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = q
    spec.loader.exec_module(q)
    report = {"meta": {"command": "python benchmarks/quality.py", "date": "d", "cpu": "c", "threads": 2, "seed": 0,
                       "sentences": ["s.txt"], "sentence_count": 2,
                       "scoring": {"similarity": {"encoder": "resemblyzer 0.1.4",
                                                  "reference_source": {"corpus": 0, "run": 2, "synthesized": 0}}}},
              "absent": {"dnsmos": "not requested (--metrics)"},
              "systems": [{"system": {"label": "v", "kind": "bundle", "path": "p"}, "backend": "cpu",
                           "metrics": {"wer": 0.1, "similarity": 0.9}, "speed": {"rtf": 0.05, "streaming": True},
                           "rows": [{"sid": "a"}, {"sid": "b"}]},
                          {"system": {"label": "piper", "kind": "piper"}, "metrics": {"wer": 0.08},
                           "speed": {"rtf": 0.09, "streaming": False}, "rows": [{"sid": "a"}, {"sid": "b"}]},
                          {"system": {"label": "bad", "kind": "bundle"}, "error": "E: x\ny"}]}
    figures = q.summary_figures(report)
    assert [s["label"] for s in figures["systems"]] == ["v", "piper", "bad"]
    assert figures["systems"][0]["sentences"] == 2 and "rows" not in figures["systems"][0]
    assert figures["systems"][0]["metrics"]["wer"] == 0.1 and figures["systems"][2]["error"] == "E: x"
    notes = " ".join(q.summary_notes(report))
    assert "2 from this run's piper system" in notes and "its own centroid" in notes
    rep.write_report(tmp_path, "q", "python benchmarks/quality.py", figures, q.summary_notes(report),
                     markdown="\n".join(q.table_lines(report)))
    assert "| v | 10.0 |" in (tmp_path / "report.md").read_text()


def test_voxcpm_report_and_step_times_at_the_tiny_config(tmp_path):
    """benchmarks/voxcpm.py --report DIR at the tiny config, with --step-positions: the report carries the rows, the
    step times per number of cached positions, and the table; --table replays it. No time is asserted."""
    import importlib.util

    for module in ("torch", "onnx", "transformers", "voxcpm"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} not installed")
    from benchmarks import voxcpm as bench

    out = tmp_path / "results" / "voxcpm-tiny"
    code = bench.main(["--config", "tiny", "--work-dir", str(tmp_path / "work"), "--tokens", "1", "--threads", "1",
                       "--precisions", "fp32", "--backends", "cpu", "--rounds", "1", "--steps", "2",
                       "--step-positions", "4", "12", "--step-repeats", "2", "--report", str(out)])
    assert code == 0
    data = json.loads((out / "report.json").read_text())
    assert data["name"] == "voxcpm-tiny" and "--step-positions 4 12" in data["command"]
    assert [(r["system"], r["backend"]) for r in data["figures"]["rows"]] == [("official", "torch eager"),
                                                                               ("voxlite", "cpu")]
    steps = data["figures"]["steps"]
    assert [(r["backend"], r["precision"], r["positions"]) for r in steps] == [("cpu", "fp32", 4), ("cpu", "fp32", 12)]
    assert all(r["step_ms"] > 0 and len(r["samples_ms"]) == 2 for r in steps)
    assert "torch" in data["versions"] and "voxcpm" in data["versions"]
    md = (out / "report.md").read_text()
    assert "| cpu | fp32 | 1 | 12 |" in md and "| voxlite | cpu | fp32 | 1 |" in md
    assert bench.main(["--table", str(out / "report.json")]) == 0


def test_reports_are_readable_as_the_umask_allows_and_paths_are_repo_relative(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        rep.write_report(tmp_path, "x", "python a.py", {"v": 1})
    finally:
        os.umask(old)
    assert all((tmp_path / n).stat().st_mode & 0o777 == 0o644 for n in ("report.json", "report.md"))
    assert rep.repo_path(ROOT / "benchmarks" / "speed.py") == "benchmarks/speed.py"
    assert rep.repo_path(tmp_path / "s.txt") == str(tmp_path / "s.txt")
