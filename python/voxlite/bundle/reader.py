"""Opening bundles: a directory or a single-file (zip) archive, fully validated before anything runs."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
import zipfile
from functools import cached_property
from pathlib import Path
import numpy as np

from ..cache import cache_dir
from ..errors import BundleError
from .files import check_relpath, resolve_inside, sha256_bytes, sha256_file
from .manifest import Component, GraphSpec, Manifest, parse_manifest, precision_bits

MANIFEST = "manifest.json"
_MAX_MANIFEST_BYTES = 16 << 20


class Bundle:
    """A validated bundle on disk. Create with :func:`open_bundle`."""

    def __init__(self, root: Path, manifest: Manifest, manifest_sha256: str, source: Path):
        self.root = root
        self.manifest = manifest
        self.manifest_sha256 = manifest_sha256  # identity of the bundle (covers every file's hash)
        self.source = source  # what the user passed (directory or archive)

    def __repr__(self) -> str:
        return (f"Bundle({self.manifest.name!r}, model_type={self.model_type!r}, "
                f"components={list(self.manifest.components)}, root={str(self.root)!r})")

    @property
    def model_type(self) -> str:
        return self.manifest.model_type

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def sample_rate(self) -> int | None:
        return self.manifest.sample_rate

    @property
    def capabilities(self) -> tuple[str, ...]:
        return self.manifest.capabilities

    @property
    def hparams(self) -> dict:
        """The family's own hyper-parameters (each component carries its kind's)."""
        return dict(self.manifest.hparams)

    def component(self, name: str) -> Component:
        return self.manifest.component(name)

    def graph(self, name: str) -> GraphSpec:
        """A graph by qualified name (``component/graph``) or by a bare name one component alone has."""
        return self.manifest.graph(name)

    def precision_at_least(self, graph: str, precision: str) -> str:
        """The variant to run when ``precision`` is asked for the whole model: that one where the graph has it;
        else (e.g. a mel front end kept in float in an int8 bundle) the bundle's default, fp32, or the least
        precise variant that is at least as precise as asked: never a less precise one, so asking for fp32 never
        runs int8 graphs. A precision name without a known numeric type (int4/int8/fp16/bf16/fp32 as its last
        ``-`` part) falls back to the bundle's default."""
        spec = self.graph(graph)
        if precision in spec.files:
            return precision
        want = precision_bits(precision)
        ok = [p for p in spec.files if want is None or (precision_bits(p) or 0) >= want]
        for candidate in (self.manifest.default_precision, "fp32"):
            if candidate in ok:
                return candidate
        if not ok:
            raise BundleError(f"graph {spec.name!r} of bundle {self.name!r} has no variant as precise as "
                              f"{precision!r} (it has: {', '.join(spec.files)})")
        return min(ok, key=lambda p: precision_bits(p) or 0)

    def pick_precision(self, graph: str, precision: str | None = None) -> str:
        """The precision to run: the one asked for, else the manifest's default, else fp32, else the only one."""
        spec = self.graph(graph)
        if precision is not None:
            if precision not in spec.files:
                raise BundleError(f"graph {spec.name!r} has no {precision!r} variant "
                                  f"(it has: {', '.join(spec.files)})")
            return precision
        for candidate in (self.manifest.default_precision, "fp32"):
            if candidate in spec.files:
                return candidate
        return next(iter(spec.files))

    def graph_path(self, graph: str, precision: str | None = None) -> Path:
        spec = self.graph(graph)
        return resolve_inside(self.root, spec.files[self.pick_precision(graph, precision)])

    def file_sha256(self, relpath: str) -> str:
        return self.manifest.files[relpath].sha256

    def component_file(self, component: str, role: str) -> Path:
        """The path of a component's file by role (e.g. a text front end's lexicon)."""
        c = self.component(component)
        if role not in c.files:
            raise BundleError(f"component {component!r} of bundle {self.name!r} has no {role!r} file "
                              f"(it has: {', '.join(c.files) or 'none'})")
        return resolve_inside(self.root, c.files[role])

    def tensor(self, name: str, component: str | None = None) -> np.ndarray:
        """Load a stored tensor (read-only, memory-mapped): ``component``'s, or the one component's that has it."""
        owners = [c for c in self.manifest.components.values()
                  if name in c.tensors and (component is None or c.name == component)]
        if component is not None:
            self.component(component)
        if len(owners) != 1:
            have = [f"{c.name}/{t}" for c in self.manifest.components.values() for t in c.tensors]
            what = "several tensors" if owners else "no tensor"
            raise BundleError(f"bundle {self.name!r} has {what} {name!r}"
                              f"{f' in component {component!r}' if component else ''} "
                              f"(it has: {', '.join(have) or 'none'})")
        return np.load(resolve_inside(self.root, owners[0].tensors[name].file), mmap_mode="r", allow_pickle=False)

    def has_tensor(self, name: str, component: str) -> bool:
        return name in self.component(component).tensors


def open_bundle(path: str | os.PathLike, *, verify: bool = True) -> Bundle:
    """Open and validate a bundle directory or archive.

    Validation (always): manifest schema and format version, every named file listed and inside the bundle.
    With ``verify`` (default): every listed file exists with the listed size and sha256, and stored
    tensors have the declared dtype and shape. Any problem raises :class:`BundleError`.
    """
    source = Path(path)
    if not source.exists():
        raise BundleError(f"no bundle at {source}")
    if source.is_dir():
        root = source
    elif zipfile.is_zipfile(source):
        root = _extract_archive(source)
    else:
        raise BundleError(f"{source} is neither a bundle directory nor a bundle archive (zip)")

    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise BundleError(f"{source} has no {MANIFEST}")
    data = _read_limited(manifest_path)
    manifest = parse_manifest(_decode_json(data, source))
    bundle = Bundle(root, manifest, sha256_bytes(data), source)
    for relpath, entry in manifest.files.items():
        target = resolve_inside(root, relpath)
        if not target.is_file():
            raise BundleError(f"bundle file {relpath!r} is missing from {source}")
        if verify:
            size = target.stat().st_size
            if size != entry.bytes:
                raise BundleError(f"bundle file {relpath!r} has {size} bytes, manifest says {entry.bytes}: "
                                  "truncated or altered")
            if sha256_file(target) != entry.sha256:
                raise BundleError(f"bundle file {relpath!r} does not match its sha256: altered or corrupt")
    if verify:
        for t in (t for c in manifest.components.values() for t in c.tensors.values()):
            _check_npy_header(resolve_inside(root, t.file), t.name, t.dtype, t.shape)
    return bundle


def _read_limited(path: Path) -> bytes:
    if path.stat().st_size > _MAX_MANIFEST_BYTES:
        raise BundleError(f"{path} is larger than {_MAX_MANIFEST_BYTES} bytes: not a manifest")
    return path.read_bytes()


def _decode_json(data: bytes, source: Path):
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(f"{source}: manifest.json is not valid JSON ({e})") from None


def _check_npy_header(path: Path, name: str, dtype: str, shape: tuple[int, ...]) -> None:
    try:
        with open(path, "rb") as f:
            major, _ = np.lib.format.read_magic(f)
            reader = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            real_shape, fortran, real_dtype = reader(f)
    except Exception as e:  # numpy raises ValueError/OSError variants for bad headers
        raise BundleError(f"tensor {name!r}: {path.name} is not a valid .npy file ({e})") from None
    want = np.dtype(np.uint16) if dtype == "bfloat16" else np.dtype(dtype)
    if real_dtype != want or tuple(real_shape) != tuple(shape) or fortran:
        raise BundleError(f"tensor {name!r} is {real_dtype}{list(real_shape)} on disk, "
                          f"manifest says {dtype}{list(shape)}")


def _extract_archive(archive: Path) -> Path:
    """Unpack the files a zip bundle's manifest lists into the cache, once per archive content.

    Entries are checked before anything is written: unsafe names (absolute, ``..``, symlinks) refuse the
    archive; listed files larger than declared stop the extraction (no zip bombs). The result appears
    atomically (temp dir + rename), so an interrupted extraction leaves nothing half-written behind.
    """
    digest = sha256_file(archive)
    final = cache_dir("bundles") / digest
    if (final / MANIFEST).is_file():
        return final
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as e:
        raise BundleError(f"{archive}: unreadable bundle archive ({e})") from None
    with zf:
        infos = {}
        for info in zf.infolist():
            name = info.filename
            if info.is_dir():
                continue
            check_relpath(name)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise BundleError(f"{archive}: entry {name!r} is a symbolic link; bundles may not hold links")
            infos[name] = info
        if MANIFEST not in infos:
            raise BundleError(f"{archive}: the archive has no top-level {MANIFEST}")
        if infos[MANIFEST].file_size > _MAX_MANIFEST_BYTES:
            raise BundleError(f"{archive}: {MANIFEST} is implausibly large")
        manifest_bytes = zf.read(infos[MANIFEST])
        manifest = parse_manifest(_decode_json(manifest_bytes, archive))
        missing = [p for p in manifest.files if p not in infos]
        if missing:
            raise BundleError(f"{archive}: bundle files missing from the archive: {missing}")

        tmp = Path(tempfile.mkdtemp(prefix=f".{digest[:16]}-", dir=final.parent))
        try:
            (tmp / MANIFEST).write_bytes(manifest_bytes)
            for relpath, entry in manifest.files.items():
                target = tmp / relpath
                target.parent.mkdir(parents=True, exist_ok=True)
                _copy_entry_checked(zf, infos[relpath], target, entry.bytes, entry.sha256, archive)
            try:
                os.replace(tmp, final)
            except OSError:
                if not (final / MANIFEST).is_file():  # lost a race with another process: theirs is fine
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _copy_entry_checked(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, size: int, sha256: str,
                        archive: Path) -> None:
    h = hashlib.sha256()
    written = 0
    try:
        with zf.open(info) as src, open(target, "wb") as dst:
            while chunk := src.read(1 << 20):
                written += len(chunk)
                if written > size:
                    raise BundleError(f"{archive}: entry {info.filename!r} is larger than the manifest says")
                h.update(chunk)
                dst.write(chunk)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise BundleError(f"{archive}: entry {info.filename!r} is corrupt ({e})") from None
    if written != size or h.hexdigest() != sha256:
        raise BundleError(f"{archive}: entry {info.filename!r} does not match its size/sha256: altered or corrupt")
