"""Where voxlite keeps derived artifacts (extracted bundle archives, TensorRT engines)."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir(kind: str) -> Path:
    """``$VOXLITE_CACHE_DIR/<kind>`` (default ``~/.cache/voxlite/<kind>``), created on demand."""
    base = os.environ.get("VOXLITE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "voxlite")
    path = Path(base) / kind
    path.mkdir(parents=True, exist_ok=True)
    return path
