"""The command line and the import contract (no torch on the synthesis path)."""
import json
import subprocess
import sys

import numpy as np
import pytest

from tests.graphs import mixer_inputs
from voxlite.cli.main import main


def test_info_json_lists_cpu_backends(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    by_name = {b["name"]: b for b in info["backends"]}
    assert by_name["cpu"]["available"] and by_name["openvino"]["available"]
    assert info["auto"]["backend"] in ("cpu", "cuda", "tensorrt", "ort-tensorrt")
    assert "compiler" in info["native"] and isinstance(info["native"]["cpu_features"], dict)
    for b in info["backends"]:
        assert b["available"] or b["install"]


def test_info_text(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "backends:" in out and "cpu" in out and "auto:" in out


def test_entry_point_runs():
    out = subprocess.run(["voxlite", "info"], capture_output=True, text=True, check=True).stdout
    assert "ONNX Runtime CPU" in out


def test_bundle_commands(mixer_bundle, tmp_path, capsys):
    assert main(["bundle", "inspect", str(mixer_bundle)]) == 0
    assert "graph model/mixer [fp32, alt]" in capsys.readouterr().out
    assert main(["bundle", "verify", str(mixer_bundle), "--backend", "openvino"]) == 0
    assert "every graph loads on openvino" in capsys.readouterr().out
    archive = tmp_path / "m.vxb"
    assert main(["bundle", "pack", str(mixer_bundle), "-o", str(archive)]) == 0
    assert main(["bundle", "verify", str(archive)]) == 0


def test_verify_loads_every_stored_variant_of_a_mixed_precision_bundle(capsys):
    """The embedded voice: int8-only acoustic graphs beside a float-only letter-to-sound graph."""
    from voxlite.voices import default_bundle

    assert main(["bundle", "verify", str(default_bundle())]) == 0
    assert "every graph loads" in capsys.readouterr().out


def test_cli_reports_typed_errors(mixer_bundle, capsys):
    graph = mixer_bundle / "graphs" / "model.mixer.fp32.onnx"
    graph.write_bytes(graph.read_bytes() + b"x")
    assert main(["bundle", "verify", str(mixer_bundle)]) == 1
    assert "error:" in capsys.readouterr().err


def test_import_and_run_never_import_torch(mixer_bundle):
    code = (
        "import sys, numpy as np, voxlite\n"
        "from tests.graphs import mixer_inputs\n"
        f"m = voxlite.load({str(mixer_bundle)!r}, backend='cpu')\n"
        "m.run('mixer', mixer_inputs())\n"
        "import voxlite.kernels, voxlite.audio, voxlite.cli.main\n"
        "bad = sorted(k for k in sys.modules if k.split('.')[0] in ('torch', 'onnx', 'transformers'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n")
    from tests.conftest import ROOT

    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr


def test_native_module_importable():
    from voxlite import _native

    info = _native.build_info()
    assert info["version"] and info["build_type"]


def test_load_rejects_bad_options(mixer_bundle):
    import voxlite

    with pytest.raises(voxlite.InvalidInput):
        voxlite.load(mixer_bundle, backend="gpu-please")
    with pytest.raises(voxlite.InvalidInput, match="int4"):
        voxlite.load(mixer_bundle, precision="int4")
    m = voxlite.load(mixer_bundle, backend="cpu", precision="alt", threads=1)
    assert m.run("mixer", mixer_inputs())["y"].dtype == np.float32
