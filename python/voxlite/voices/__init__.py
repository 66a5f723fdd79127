"""The voice shipped inside the wheel: ``voxlite/voices/default`` (a voxcpm bundle directory, int8).

``default_bundle()`` is what ``voxlite.load()`` and ``voxlite say`` use when no bundle is named: the
``VOXLITE_DEFAULT_BUNDLE`` environment variable if set, else the embedded bundle. Nothing is ever downloaded.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import BundleError

DEFAULT_BUNDLE_ENV = "VOXLITE_DEFAULT_BUNDLE"
EMBEDDED = Path(__file__).resolve().parent / "default"


def default_bundle() -> Path:
    override = os.environ.get(DEFAULT_BUNDLE_ENV)
    if override:
        return Path(override)
    if not (EMBEDDED / "manifest.json").is_file():
        raise BundleError(f"this voxlite build has no embedded default voice ({EMBEDDED} is missing); pass a "
                          f"bundle or set {DEFAULT_BUNDLE_ENV}")
    return EMBEDDED
