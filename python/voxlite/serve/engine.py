"""The worker pool behind the server: models loaded once per voice and shared by the workers (a voxlite model is
safe to use from many threads: its graph sessions open once under a lock, every generation keeps its own state),
generations run in a pool of ``workers`` threads, at most ``workers + queue`` requests are admitted (the rest get
429), each has a deadline, and a generation stops at its next chunk once its client has gone.
"""
from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import AsyncIterator

import numpy as np

from ..audio import StreamResampler
from ..errors import InvalidInput, VoxliteError
from .config import ServeConfig, VoiceSpec

_DONE = object()


class Busy(Exception):
    """Every worker is busy and the queue is full."""


class TimedOut(Exception):
    """A generation passed the request time limit."""


class Engine:
    def __init__(self, config: ServeConfig):
        self.config = config
        self.workers = config.n_workers
        self.capacity = self.workers + config.queue
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="voxlite-worker")
        self._models: dict[str, object] = {}
        self._loading = threading.Lock()
        self._admitted = 0
        self._count = threading.Lock()

    # -- models ------------------------------------------------------------------------------------------------
    def model(self, voice: VoiceSpec):
        model = self._models.get(voice.name)
        if model is not None:
            return model
        with self._loading:
            if voice.name not in self._models:
                import voxlite

                task = "voice-cloning" if voice.prompt_audio else "text-to-speech"
                self._models[voice.name] = voxlite.load(voice.bundle_path(), backend=self.config.backend,
                                                        precision=self.config.precision,
                                                        threads=self.config.threads_per_worker, task=task)
            return self._models[voice.name]

    def preload(self) -> None:
        """Load every voice's model now (a bad bundle fails at start, not at the first request)."""
        for voice in self.config.voices.values():
            self.model(voice)

    # -- admission ---------------------------------------------------------------------------------------------
    @property
    def in_flight(self) -> int:
        return self._admitted

    def admit(self) -> "_Ticket":
        with self._count:
            if self._admitted >= self.capacity:
                raise Busy()
            self._admitted += 1
        return _Ticket(self)

    def _release(self) -> None:
        with self._count:
            self._admitted -= 1

    # -- generation --------------------------------------------------------------------------------------------
    async def generate(self, voice: VoiceSpec, text: str, *, speed: float = 1.0, seed: int = 0
                       ) -> AsyncIterator[np.ndarray]:
        """Audio chunks (float32 at ``config.sample_rate``) of ``text`` in ``voice``, as the worker produces them.
        Closing the iterator (the client left) stops the generation at its next chunk; past the time limit it
        raises TimedOut; bad input raises InvalidInput (the worker's typed errors pass through)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        cancel = threading.Event()
        put = lambda item: loop.call_soon_threadsafe(queue.put_nowait, item)  # noqa: E731

        def work():
            try:
                if cancel.is_set():  # the client left while the request queued
                    return
                model = self.model(voice)
                options = {"seed": seed}
                if speed != 1.0:
                    import inspect

                    if "speed" not in inspect.signature(model.stream).parameters:
                        raise InvalidInput(f"speed: voice {voice.name!r} speaks at its own pace only")
                    options["speed"] = speed
                if voice.prompt_audio:
                    options.update(prompt_audio=voice.prompt_audio, prompt_text=voice.prompt_text)
                resampler = StreamResampler(model.sample_rate, self.config.sample_rate)
                for chunk in model.stream(text, **options):
                    if cancel.is_set():
                        return
                    put(resampler(chunk))
                put(resampler.flush())
                put(_DONE)
            except BaseException as e:  # noqa: BLE001  (delivered to the request, which re-raises it)
                put(e)

        deadline = time.monotonic() + self.config.timeout
        self._executor.submit(work)
        try:
            while True:
                remaining = deadline - time.monotonic()
                try:
                    item = await asyncio.wait_for(queue.get(), timeout=max(remaining, 0.001))
                except asyncio.TimeoutError:
                    raise TimedOut(f"generation took longer than {self.config.timeout:g} s") from None
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                if item.size:
                    yield item
        finally:
            cancel.set()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class _Ticket:
    def __init__(self, engine: Engine):
        self._engine, self._done = engine, False

    def release(self) -> None:
        if not self._done:
            self._done = True
            self._engine._release()


__all__ = ["Busy", "Engine", "TimedOut", "VoxliteError"]
