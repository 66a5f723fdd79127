"""Server configuration: which voices exist (a bundle, and for cloning bundles a prompt recording + transcript),
limits, and authentication. Read from TOML or JSON; with no file, one voice: the default voice in the wheel.

    [server]                      # all optional
    host = "127.0.0.1"            # loopback unless told otherwise
    port = 8000
    workers = 2                   # generations at once (default: usable CPUs)
    isolation = "process"         # each worker a process (a crash ends one request) or "thread" (one shared model)
    threads_per_worker = 1        # ONNX Runtime threads of each generation
    queue = 8                     # requests waiting for a worker before 429
    timeout = 120                 # seconds a request may take
    max_input_chars = 4096        # OpenAI's limit
    sample_rate = 24000           # every response's rate (OpenAI's pcm is 24 kHz)
    api_key_env = "VOXLITE_API_KEY"   # if set in the environment: Bearer token required

    [voices.default]              # name -> bundle (+ prompt for cloning)
    bundle = "default"            # "default": the embedded voice; else a bundle path
    [voices.narrator]
    bundle = "/models/vallex"
    prompt_audio = "/voices/narrator.wav"
    prompt_text = "What the narrator says in that recording."
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InvalidInput

DEFAULT_VOICE = "default"


@dataclass(frozen=True)
class VoiceSpec:
    name: str
    bundle: str  # "default" (embedded voice) or a path
    prompt_audio: str | None = None
    prompt_text: str | None = None

    def bundle_path(self) -> Path:
        if self.bundle == DEFAULT_VOICE:
            from ..voices import default_bundle

            return default_bundle()
        return Path(self.bundle).expanduser()


@dataclass(frozen=True)
class ServeConfig:
    voices: dict[str, VoiceSpec] = field(default_factory=lambda: {DEFAULT_VOICE: VoiceSpec(DEFAULT_VOICE,
                                                                                            DEFAULT_VOICE)})
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int | None = None
    threads_per_worker: int = 1
    queue: int = 8
    timeout: float = 120.0
    max_input_chars: int = 4096
    sample_rate: int = 24000
    api_key_env: str | None = "VOXLITE_API_KEY"
    backend: str = "auto"
    precision: str | None = None
    isolation: str = "process"  # "process": each worker a process; "thread": one process, one model per voice

    def __post_init__(self):
        if self.isolation not in ("process", "thread"):
            raise InvalidInput(f"config: server.isolation must be 'process' or 'thread', got {self.isolation!r}")
        if not self.voices:
            raise InvalidInput("config: at least one voice is needed")
        checks = [("port", 1 <= self.port <= 65535), ("threads_per_worker", self.threads_per_worker >= 1),
                  ("queue", self.queue >= 0), ("timeout", 0 < self.timeout <= 86400),
                  ("max_input_chars", 1 <= self.max_input_chars <= 100_000),
                  ("sample_rate", 8000 <= self.sample_rate <= 192_000),
                  ("workers", self.workers is None or self.workers >= 1)]
        for name, ok in checks:
            if not ok:
                raise InvalidInput(f"config: server.{name} is out of range ({getattr(self, name)!r})")
        for voice in self.voices.values():
            if (voice.prompt_audio is None) != (voice.prompt_text is None):
                raise InvalidInput(f"config: voice {voice.name!r} needs both prompt_audio and prompt_text, or neither")

    @property
    def n_workers(self) -> int:
        if self.workers is not None:
            return self.workers
        from ..backends.base import usable_cpus

        return max(1, usable_cpus() // self.threads_per_worker)

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) or None if self.api_key_env else None


_SERVER_KEYS = {"host": str, "port": int, "workers": int, "threads_per_worker": int, "queue": int,
                "timeout": (int, float), "max_input_chars": int, "sample_rate": int, "api_key_env": str,
                "backend": str, "precision": str, "isolation": str}


def parse_config(data: dict, where: str = "config") -> ServeConfig:
    if not isinstance(data, dict):
        raise InvalidInput(f"{where}: must be a table / object")
    unknown = set(data) - {"server", "voices"}
    if unknown:
        raise InvalidInput(f"{where}: unknown sections {sorted(unknown)} (known: server, voices)")
    server = data.get("server", {})
    if not isinstance(server, dict):
        raise InvalidInput(f"{where}: [server] must be a table")
    kwargs = {}
    for key, value in server.items():
        if key not in _SERVER_KEYS:
            raise InvalidInput(f"{where}: unknown server setting {key!r} (known: {', '.join(_SERVER_KEYS)})")
        if isinstance(value, bool) or not isinstance(value, _SERVER_KEYS[key]):
            raise InvalidInput(f"{where}: server.{key} has the wrong type ({type(value).__name__})")
        kwargs[key] = value
    voices = {}
    for name, spec in (data.get("voices") or {}).items():
        if not isinstance(spec, dict) or not isinstance(spec.get("bundle"), str):
            raise InvalidInput(f"{where}: voices.{name} needs a bundle (a path, or \"default\")")
        extra = set(spec) - {"bundle", "prompt_audio", "prompt_text"}
        if extra:
            raise InvalidInput(f"{where}: voices.{name} has unknown keys {sorted(extra)}")
        voices[name] = VoiceSpec(name, spec["bundle"], spec.get("prompt_audio"), spec.get("prompt_text"))
    if voices:
        kwargs["voices"] = voices
    return ServeConfig(**kwargs)


def load_config(path: str | os.PathLike | None) -> ServeConfig:
    """The config in ``path`` (``.toml`` or ``.json``), or the default (the embedded voice) for None."""
    if path is None:
        return ServeConfig()
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InvalidInput(f"config {path}: cannot read it ({e.strerror})") from None
    try:
        if path.suffix == ".json":
            data = json.loads(raw)
        else:
            try:
                import tomllib
            except ImportError:  # Python 3.10
                raise InvalidInput(f"config {path}: TOML needs Python 3.11 or later; use a .json config") from None
            data = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidInput(f"config {path}: not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {e}") from None
    return parse_config(data, f"config {path}")
