import os
import sys
from pathlib import Path

import pytest

from tests.graphs import make_mixer_onnx, mixer_weights  # the root is on sys.path: pyproject's pytest pythonpath

ROOT = Path(__file__).resolve().parent.parent


def _hypothesis_profile() -> None:
    """CI: the same examples every run (a red CI is then a real regression, reproducible locally with
    HYPOTHESIS_PROFILE=ci), and no 'too slow' health check on a shared 2-core machine."""
    from hypothesis import HealthCheck, settings

    settings.register_profile("ci", derandomize=True, suppress_health_check=[HealthCheck.too_slow],
                              print_blob=True)
    settings.register_profile("dev", suppress_health_check=[HealthCheck.too_slow], print_blob=True)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


_hypothesis_profile()


def _install_torchaudio_shim() -> None:
    """Official parity packages import torchaudio for I/O only; no torchaudio is built for torch 2.13."""
    import importlib.util

    if importlib.util.find_spec("torchaudio") is None:
        try:  # transformers caches torchaudio availability at import: import it before the shim exists
            import transformers  # noqa: F401
        except ImportError:
            pass
        sys.path.insert(0, str(ROOT / "tests" / "shims"))


_install_torchaudio_shim()


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # extracted archives, engine caches etc. go to a per-session temp dir, never the user's cache
    monkeypatch.setenv("VOXLITE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "voxlite-cache"))


@pytest.fixture
def mixer_onnx(tmp_path):
    return make_mixer_onnx(tmp_path / "mixer.onnx", mixer_weights())


@pytest.fixture
def mixer_bundle(tmp_path, mixer_onnx):
    """A real bundle: the mixer graph in two 'precisions' (fp32 and a second copy), a tensor and hparams."""
    import numpy as np

    from voxlite.bundle import BundleWriter

    w = BundleWriter(tmp_path / "mixer-bundle", model_type="graph", name="mixer", sample_rate=16000,
                     hparams={"frames_per_second": 50}, provenance={"source": "tests/graphs.py"},
                     default_precision="fp32")
    w.add_graph("mixer", "fp32", mixer_onnx, metadata={"sample_rate": 16000})
    w.add_graph("mixer", "alt", mixer_onnx)
    w.add_tensor("codebook", np.arange(24, dtype=np.float32).reshape(2, 3, 4))
    return w.finish()
