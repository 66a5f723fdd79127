"""ctypes access to the C API (runtimes/c) for the parity tests and the benchmark: the library that
`cmake -S runtimes/c -B build/c && cmake --build build/c` builds, or the one VOXLITE_C_LIBRARY names."""
from __future__ import annotations

import ctypes
import os
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OK, DONE = 0, 1


def library_path() -> Path | None:
    env = os.environ.get("VOXLITE_C_LIBRARY")
    if env:
        return Path(env)
    built = ROOT / "build" / "c" / "libvoxlite.so"
    return built if built.is_file() else None


class Config(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("bundle_path", ctypes.c_char_p), ("backend", ctypes.c_char_p),
                ("threads", ctypes.c_int), ("precision", ctypes.c_char_p), ("verify", ctypes.c_int),
                ("cache_dir", ctypes.c_char_p)]


class Options(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("seed", ctypes.c_uint64), ("steps", ctypes.c_int),
                ("cfg", ctypes.c_float), ("flow_start", ctypes.c_float), ("speed", ctypes.c_float),
                ("volume", ctypes.c_float), ("prompt_samples", ctypes.POINTER(ctypes.c_float)),
                ("prompt_length", ctypes.c_size_t), ("prompt_sample_rate", ctypes.c_int),
                ("prompt_text", ctypes.c_char_p)]


class AudioStruct(ctypes.Structure):
    _fields_ = [("samples", ctypes.POINTER(ctypes.c_float)), ("length", ctypes.c_size_t), ("sample_rate", ctypes.c_int)]


CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_float), ctypes.c_size_t, ctypes.c_void_p)


class CError(RuntimeError):
    def __init__(self, status: int, message: str):
        super().__init__(f"voxlite C API status {status}: {message}")
        self.status = status


class CAPI:
    def __init__(self, path: str | os.PathLike | None = None):
        path = path or library_path()
        if path is None:
            raise FileNotFoundError("the C library is not built: cmake -S runtimes/c -B build/c && cmake --build build/c")
        lib = self.lib = ctypes.CDLL(str(path))
        lib.voxlite_version.restype = ctypes.c_char_p
        lib.voxlite_last_error.restype = ctypes.c_char_p
        lib.voxlite_model_name.restype = ctypes.c_char_p
        lib.voxlite_open.argtypes = [ctypes.POINTER(Config), ctypes.POINTER(ctypes.c_void_p)]
        lib.voxlite_close.argtypes = [ctypes.c_void_p]
        lib.voxlite_sample_rate.argtypes = [ctypes.c_void_p]
        lib.voxlite_synthesize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(Options),
                                           ctypes.POINTER(AudioStruct)]
        lib.voxlite_audio_free.argtypes = [ctypes.POINTER(AudioStruct)]
        lib.voxlite_synthesize_stream.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(Options), CALLBACK,
                                                  ctypes.c_void_p]
        lib.voxlite_text_to_ids.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.POINTER(ctypes.c_int64)),
                                            ctypes.POINTER(ctypes.c_size_t)]
        lib.voxlite_phonemize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
        lib.voxlite_free.argtypes = [ctypes.c_void_p]
        lib.voxlite_config_default.argtypes = [ctypes.POINTER(Config)]
        lib.voxlite_options_default.argtypes = [ctypes.POINTER(Options)]

    @property
    def version(self) -> str:
        return self.lib.voxlite_version().decode()

    def check(self, status: int) -> int:
        if status < 0:
            raise CError(status, self.lib.voxlite_last_error().decode())
        return status

    def open(self, bundle, *, threads: int = 1, precision: str | None = None, verify: bool = True) -> "CModel":
        config = Config()
        self.lib.voxlite_config_default(ctypes.byref(config))
        config.bundle_path = str(bundle).encode()
        config.threads = threads
        config.verify = int(verify)
        if precision:
            config.precision = precision.encode()
        handle = ctypes.c_void_p()
        self.check(self.lib.voxlite_open(ctypes.byref(config), ctypes.byref(handle)))
        return CModel(self, handle)


class CModel:
    def __init__(self, api: CAPI, handle: ctypes.c_void_p):
        self.api, self.lib, self.handle = api, api.lib, handle
        self.sample_rate = self.lib.voxlite_sample_rate(handle)

    def close(self) -> None:
        if self.handle:
            self.lib.voxlite_close(self.handle)
            self.handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _options(self, seed=0, steps=0, cfg=None, flow_start=None, speed=1.0, volume=1.0, prompt=None,
                 prompt_rate=0, prompt_text=None) -> Options:
        o = Options()
        self.lib.voxlite_options_default(ctypes.byref(o))
        o.seed, o.steps, o.speed, o.volume = seed, steps, speed, volume
        if cfg is not None:
            o.cfg = cfg
        if flow_start is not None:
            o.flow_start = flow_start
        if prompt is not None:
            self._prompt = np.ascontiguousarray(prompt, np.float32)  # kept alive for the call
            o.prompt_samples = self._prompt.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            o.prompt_length, o.prompt_sample_rate = self._prompt.size, prompt_rate
        if prompt_text is not None:
            o.prompt_text = prompt_text.encode()
        return o

    def synthesize(self, text: str, **options) -> np.ndarray:
        audio = AudioStruct()
        o = self._options(**options)
        self.api.check(self.lib.voxlite_synthesize(self.handle, text.encode(), ctypes.byref(o), ctypes.byref(audio)))
        try:
            return np.ctypeslib.as_array(audio.samples, (audio.length,)).copy() if audio.length else np.zeros(0, np.float32)
        finally:
            self.lib.voxlite_audio_free(ctypes.byref(audio))

    def stream(self, text: str, on_chunk=None, **options) -> list[np.ndarray]:
        chunks: list[np.ndarray] = []

        def receive(samples, n, user):
            chunks.append(np.ctypeslib.as_array(samples, (n,)).copy())
            return 1 if on_chunk is not None and on_chunk(chunks[-1]) else 0

        callback = CALLBACK(receive)
        o = self._options(**options)
        self.api.check(self.lib.voxlite_synthesize_stream(self.handle, text.encode(), ctypes.byref(o), callback, None))
        return chunks

    def ids(self, text: str) -> list[int]:
        ptr, n = ctypes.POINTER(ctypes.c_int64)(), ctypes.c_size_t()
        self.api.check(self.lib.voxlite_text_to_ids(self.handle, text.encode(), ctypes.byref(ptr), ctypes.byref(n)))
        try:
            return [ptr[i] for i in range(n.value)]
        finally:
            self.lib.voxlite_free(ptr)

    def phonemes(self, text: str) -> str:
        ptr = ctypes.c_void_p()
        self.api.check(self.lib.voxlite_phonemize(self.handle, text.encode(), ctypes.byref(ptr)))
        try:
            return ctypes.string_at(ptr).decode()
        finally:
            self.lib.voxlite_free(ptr)
