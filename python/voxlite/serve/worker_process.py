"""Worker processes: each loads the voices' models itself and runs one generation at a time for the engine. A worker
that dies (a native crash, a kill, running out of memory) ends only its own request; the engine starts another.

Protocol on a ``multiprocessing`` pipe: the engine sends ``("load",)`` (load every voice now: a fresh worker is warm
before its first request), ``("speak", voice_name, text, options)`` or ``("stop",)``; to a speak the worker answers
``("chunk", float32 bytes)``... then ``("done",)`` or ``("error", kind, message)``. A generation the engine gives up
on (client gone, deadline passed) is not negotiated: the engine kills that worker and starts another, which also
ends a generation stuck inside a native call.
"""
from __future__ import annotations

import multiprocessing as mp
import os

from .config import ServeConfig

ERRORS = ("InvalidInput", "AudioError", "BackendError", "BundleError", "CapabilityError")


def _main(conn, config: ServeConfig) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", str(config.threads_per_worker))
    import numpy as np

    from ..audio import StreamResampler
    from .engine import load_model, stream_options

    models = {}
    while True:
        try:
            message = conn.recv()
        except EOFError:  # the engine is gone
            return
        if message[0] == "stop":
            return
        if message[0] == "load":
            for name, voice in config.voices.items():
                if name not in models:
                    models[name] = load_model(config, voice)
            continue
        _, name, text, options = message
        try:
            voice = config.voices[name]
            if name not in models:
                models[name] = load_model(config, voice)
            model = models[name]
            resampler = StreamResampler(model.sample_rate, config.sample_rate)
            for chunk in model.stream(text, **stream_options(model, voice, **options)):
                conn.send(("chunk", np.ascontiguousarray(resampler(chunk), np.float32).tobytes()))
            conn.send(("chunk", np.ascontiguousarray(resampler.flush(), np.float32).tobytes()))
            conn.send(("done",))
        except Exception as e:  # noqa: BLE001  (sent to the request; the worker lives on)
            kind = type(e).__name__ if type(e).__name__ in ERRORS else "Exception"
            conn.send(("error", kind, str(e) or type(e).__name__))


class WorkerProcess:
    """One worker process and the engine's end of its pipe."""

    def __init__(self, config: ServeConfig, preload: bool = False):
        ctx = mp.get_context("spawn")  # no forked copies of the server's threads or sockets
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_main, args=(child, config), daemon=True, name="voxlite-worker")
        self.process.start()
        child.close()
        if preload:
            self.conn.send(("load",))

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        self.process.kill()
        self.process.join(timeout=10)

    def stop(self) -> None:
        try:
            self.conn.send(("stop",))
        except (OSError, BrokenPipeError):
            pass
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.kill()
