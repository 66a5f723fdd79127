"""Voices: the one shipped inside the wheel (``voxlite/voices/default``: a voxcpm bundle directory, int8) and the
bundles a user keeps in a voices directory.

``default_bundle()`` is what ``voxlite.load()`` and ``voxlite say`` use when no bundle is named: the
``VOXLITE_DEFAULT_BUNDLE`` environment variable if set, else the embedded bundle. Nothing is ever downloaded.

``list_voices()`` describes the embedded voice and every entry of ``voices_dir()`` (``$VOXLITE_VOICES_DIR``, else
``~/.local/share/voxlite/voices``): each subdirectory or ``.zip`` / ``.vxb`` archive that is a bundle with the
text-to-speech capability; an entry that is not (a broken manifest, a missing file, a codec) is listed with its
error. ``find_voice(name)`` picks one by its manifest name or its file name (without ``.zip`` / ``.vxb``).
Listing reads manifests only (no hashing, no archive extraction); loading verifies as always.
"""
from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BundleError

DEFAULT_BUNDLE_ENV = "VOXLITE_DEFAULT_BUNDLE"
VOICES_DIR_ENV = "VOXLITE_VOICES_DIR"
EMBEDDED = Path(__file__).resolve().parent / "default"
ARCHIVE_SUFFIXES = (".zip", ".vxb")
TASK = "text-to-speech"


def default_bundle() -> Path:
    override = os.environ.get(DEFAULT_BUNDLE_ENV)
    if override:
        return Path(override)
    if not (EMBEDDED / "manifest.json").is_file():
        raise BundleError(f"this voxlite build has no embedded default voice ({EMBEDDED} is missing); pass a "
                          f"bundle or set {DEFAULT_BUNDLE_ENV}")
    return EMBEDDED


def voices_dir() -> Path:
    """Where users keep voices: ``$VOXLITE_VOICES_DIR``, else ``$XDG_DATA_HOME/voxlite/voices`` (default
    ``~/.local/share/voxlite/voices``). It need not exist."""
    override = os.environ.get(VOICES_DIR_ENV)
    if override:
        return Path(override).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "voxlite" / "voices"


@dataclass
class Voice:
    """One entry of :func:`list_voices`: a usable voice, or (``error`` set) an entry that is not one."""

    name: str
    path: Path
    source: str  # "embedded" or "voices dir"
    sample_rate: int | None = None
    capabilities: tuple[str, ...] = ()
    model_type: str | None = None
    size: int = 0  # bytes on disk
    error: str | None = None
    aliases: tuple[str, ...] = field(default=(), repr=False)  # other names it answers to

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict:
        return {"name": self.name, "path": str(self.path), "source": self.source, "sample_rate": self.sample_rate,
                "capabilities": list(self.capabilities), "model_type": self.model_type, "size": self.size,
                "error": self.error}


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _manifest_of(path: Path):
    """The parsed manifest of a bundle directory or archive, its listed files checked present (not hashed)."""
    from ..bundle import open_bundle, parse_manifest

    if path.is_dir():
        return open_bundle(path, verify=False).manifest
    import json

    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if "manifest.json" not in names:
                raise BundleError(f"{path} has no manifest.json")
            if z.getinfo("manifest.json").file_size > 16 << 20:
                raise BundleError(f"{path}: manifest.json is implausibly large")
            raw = json.loads(z.read("manifest.json").decode("utf-8"))
    except (zipfile.BadZipFile, OSError) as e:
        raise BundleError(f"{path} is not a readable bundle archive: {e}") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise BundleError(f"{path}: manifest.json is not valid JSON ({e})") from None
    manifest = parse_manifest(raw)
    missing = [f for f in manifest.files if f not in names]
    if missing:
        raise BundleError(f"bundle file {missing[0]!r} is missing from {path}")
    return manifest


def describe(path: str | os.PathLike, source: str = "voices dir") -> Voice:
    """A :class:`Voice` for a bundle directory or archive; never raises for a bad bundle (``error`` says why)."""
    path = Path(path)
    stem = path.name[:-len(path.suffix)] if path.suffix.lower() in ARCHIVE_SUFFIXES else path.name
    voice = Voice(name=stem, path=path, source=source)
    try:
        voice.size = _size(path)
        manifest = _manifest_of(path)
    except Exception as e:  # listed with its error: one broken entry must not hide the others
        voice.error = str(e) or type(e).__name__
        return voice
    voice.name, voice.sample_rate, voice.capabilities = manifest.name, manifest.sample_rate, manifest.capabilities
    voice.model_type = manifest.model_type
    voice.aliases = tuple(a for a in {stem} if a != manifest.name)
    if TASK not in manifest.capabilities:
        voice.error = (f"not a voice: bundle {manifest.name!r} ({manifest.model_type}) cannot do {TASK}; it can do: "
                       f"{', '.join(manifest.capabilities) or 'nothing but run its graphs'}")
    return voice


def list_voices(directory: str | os.PathLike | None = None, *, embedded: bool = True) -> list[Voice]:
    """The embedded voice (when this build has one), then every non-hidden subdirectory and ``.zip`` / ``.vxb``
    file of ``directory`` (default :func:`voices_dir`), sorted by file name. A missing directory adds nothing."""
    voices = []
    if embedded and (EMBEDDED / "manifest.json").is_file():
        v = describe(EMBEDDED, source="embedded")
        v.aliases = tuple(sorted(set(v.aliases) | {"default"}))
        voices.append(v)
    directory = Path(directory) if directory is not None else voices_dir()
    try:
        entries = sorted(directory.iterdir(), key=lambda p: p.name) if directory.is_dir() else []
    except OSError:
        entries = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir() or (entry.is_file() and entry.suffix.lower() in ARCHIVE_SUFFIXES):
            voices.append(describe(entry))
    return voices


def find_voice(name: str, directory: str | os.PathLike | None = None) -> Path:
    """The path of the voice called ``name`` (manifest name or file name; ``default``: the embedded one).
    BundleError when none or several usable voices have that name, or when the one that does is broken."""
    voices = list_voices(directory)
    matches = [v for v in voices if name in (v.name, *v.aliases)]
    usable = [v for v in matches if v.ok]
    if len(usable) == 1:
        return usable[0].path
    if len(usable) > 1:
        raise BundleError(f"several voices are called {name!r}: {', '.join(str(v.path) for v in usable)}; pass "
                          "one with --bundle")
    if matches:
        raise BundleError(f"voice {name!r} ({matches[0].path}) cannot be used: {matches[0].error}")
    known = ", ".join(v.name for v in voices if v.ok) or "none"
    where = Path(directory) if directory is not None else voices_dir()
    raise BundleError(f"no voice called {name!r} (voices: {known}; voices directory: {where})")
