"""The worker pool behind the server. At most ``workers + queue`` requests are admitted (the rest get 429), each has
a deadline, and a generation stops at its next chunk once its client has gone. Two kinds of workers:

- ``isolation = "process"`` (``voxlite serve``'s default): ``workers`` processes (``worker_process``), each with its
  own models; a worker that dies (native crash, kill, out of memory) or passes the deadline ends only its request
  (killed, then replaced), and the server keeps serving.
- ``isolation = "thread"``: one model per voice shared by ``workers`` threads (a voxlite model is safe to use from
  many threads: its graph sessions open once under a lock, every generation keeps its own state); less memory, but
  a native crash takes the server down and a generation past its deadline runs on until its next chunk.
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


class WorkerDied(VoxliteError):
    """The worker process running a generation died; it has been replaced."""


def load_model(config: ServeConfig, voice: VoiceSpec):
    import voxlite

    task = "voice-cloning" if voice.prompt_audio else "text-to-speech"
    return voxlite.load(voice.bundle_path(), backend=config.backend, precision=config.precision,
                        threads=config.threads_per_worker, task=task)


def stream_options(model, voice: VoiceSpec, *, seed: int = 0, speed: float = 1.0) -> dict:
    """``model.stream``'s keyword arguments for a request (InvalidInput for a speed the voice cannot take)."""
    options = {"seed": seed}
    if speed != 1.0:
        import inspect

        if "speed" not in inspect.signature(model.stream).parameters:
            raise InvalidInput(f"speed: voice {voice.name!r} speaks at its own pace only")
        options["speed"] = speed
    if voice.prompt_audio:
        options.update(prompt_audio=voice.prompt_audio, prompt_text=voice.prompt_text)
    return options


class Engine:
    def __init__(self, config: ServeConfig):
        self.config = config
        self.workers = config.n_workers
        self.capacity = self.workers + config.queue
        self.isolation = config.isolation
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="voxlite-worker")
        self._processes: list = []  # process isolation: the worker processes (started by start())
        self._idle: asyncio.Queue | None = None
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
                self._models[voice.name] = load_model(self.config, voice)
            return self._models[voice.name]

    def preload(self) -> None:
        """Load every voice's model now (a bad bundle fails at start, not at the first request); with process
        isolation the models are checked here and each worker process loads its own on first use."""
        for voice in self.config.voices.values():
            self.model(voice)
        if self.isolation == "process":
            self._models.clear()  # the workers hold the models; this process only checked them

    def start_workers(self) -> None:
        """Process isolation: start the worker processes (call inside the server's event loop)."""
        from .worker_process import WorkerProcess

        if self.isolation != "process" or self._idle is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._idle = asyncio.Queue()
        for _ in range(self.workers):
            worker = WorkerProcess(self.config, preload=True)
            self._processes.append(worker)
            self._idle.put_nowait(worker)

    @property
    def worker_pids(self) -> list[int]:
        return [w.pid for w in self._processes]

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
        raises TimedOut; bad input raises InvalidInput (the worker's typed errors pass through); a worker process
        that dies raises WorkerDied."""
        if self.isolation == "process":
            async for chunk in self._generate_in_process(voice, text, speed=speed, seed=seed):
                yield chunk
            return
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        cancel = threading.Event()
        put = lambda item: loop.call_soon_threadsafe(queue.put_nowait, item)  # noqa: E731

        def work():
            try:
                if cancel.is_set():  # the client left while the request queued
                    return
                model = self.model(voice)
                options = stream_options(model, voice, seed=seed, speed=speed)
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

    async def _generate_in_process(self, voice: VoiceSpec, text: str, *, speed: float, seed: int
                                   ) -> AsyncIterator[np.ndarray]:
        loop = asyncio.get_running_loop()
        self.start_workers()
        deadline = time.monotonic() + self.config.timeout
        try:
            worker = await asyncio.wait_for(self._idle.get(), timeout=self.config.timeout)
        except asyncio.TimeoutError:
            raise TimedOut(f"no worker became free within {self.config.timeout:g} s") from None
        finished = False  # the worker said done / error: it is idle again
        try:
            worker.conn.send(("speak", voice.name, text, {"speed": speed, "seed": seed}))
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimedOut(f"generation took longer than {self.config.timeout:g} s")
                ready = await loop.run_in_executor(None, worker.conn.poll, min(remaining, 0.5))
                if not ready:
                    if not worker.alive():
                        raise WorkerDied("the worker process died during the generation")
                    continue
                message = worker.conn.recv()
                if message[0] == "chunk":
                    chunk = np.frombuffer(message[1], np.float32)
                    if chunk.size:
                        yield chunk
                elif message[0] == "done":
                    finished = True
                    return
                else:
                    finished = True
                    _, kind, text_ = message
                    from .. import errors

                    raise getattr(errors, kind, WorkerDied)(text_) if kind != "Exception" else \
                        VoxliteError(f"generation failed: {text_}")
        except (EOFError, OSError, BrokenPipeError):
            raise WorkerDied("the worker process died during the generation") from None
        finally:
            if finished and worker.alive():
                self._idle.put_nowait(worker)
            else:  # cancelled, timed out or dead: kill it (it may be mid-chunk) and start a fresh one
                loop.run_in_executor(None, self._replace, worker)

    def _replace(self, worker) -> None:
        from .worker_process import WorkerProcess

        worker.kill()
        fresh = WorkerProcess(self.config, preload=True)
        self._processes[self._processes.index(worker)] = fresh
        self._loop.call_soon_threadsafe(self._idle.put_nowait, fresh)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        for worker in self._processes:
            worker.stop()


class _Ticket:
    def __init__(self, engine: Engine):
        self._engine, self._done = engine, False

    def release(self) -> None:
        if not self._done:
            self._done = True
            self._engine._release()


__all__ = ["Busy", "Engine", "TimedOut", "VoxliteError"]
