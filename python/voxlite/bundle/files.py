"""File-level safety for bundles: relative-path rules and content hashing."""
from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from .._hashing import sha256_bytes, sha256_file  # noqa: F401  (bundle integrity: re-exported)
from ..errors import BundleError


def check_relpath(relpath: object) -> str:
    """Return ``relpath`` if it is a safe bundle-relative POSIX path, else raise BundleError.

    Safe: a non-empty string, forward slashes only, not absolute, no ``.``/``..``/empty parts.
    """
    if not isinstance(relpath, str) or not relpath:
        raise BundleError(f"bundle file path must be a non-empty string, got {relpath!r}")
    if "\\" in relpath or "\x00" in relpath:
        raise BundleError(f"bundle file path {relpath!r} contains a backslash or NUL")
    p = PurePosixPath(relpath)
    if p.is_absolute() or relpath.startswith("/") or (len(relpath) > 1 and relpath[1] == ":"):
        raise BundleError(f"bundle file path {relpath!r} is absolute; paths must stay inside the bundle")
    if any(part in ("", ".", "..") for part in relpath.split("/")):
        raise BundleError(f"bundle file path {relpath!r} leaves the bundle or is not normalised")
    return relpath


def resolve_inside(root: Path, relpath: str) -> Path:
    """Resolve ``relpath`` under ``root``, refusing anything (e.g. a symlink) that lands outside it."""
    check_relpath(relpath)
    root_real = Path(os.path.realpath(root))
    target = Path(os.path.realpath(root_real / relpath))
    if target != root_real and root_real not in target.parents:
        raise BundleError(f"bundle file {relpath!r} resolves outside the bundle ({target})")
    return target
