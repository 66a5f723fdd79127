"""The HTTP application (Starlette): OpenAI's speech endpoint and the server's own routes.

    POST /v1/audio/speech   {"model", "input", "voice", "response_format", "speed", "stream_format"} -> audio
    GET  /v1/models          the accepted model names        GET /health      liveness + load
    GET  /metrics            Prometheus text format          GET /            a page to try voices

Errors use OpenAI's shape ``{"error": {"message", "type", "param", "code"}}``: 400 bad request, 401 no or wrong
key, 404 unknown route, 408 a body that does not arrive in time, 413 a body over 64 KiB, 429 (with Retry-After) when
every worker is busy and the queue is full, 500 a generation that failed, 504 a generation past the time limit
(before any audio was sent; after it, the stream ends early). ``model`` may be ``voxlite`` or one of OpenAI's names
(``tts-1``, ``tts-1-hd``, ``gpt-4o-mini-tts``), accepted so existing clients work unchanged; the voice decides what
speaks. ``instructions`` is accepted and not used (no bundle takes style instructions).
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import json
import math
import os
import socket
import time
from importlib import resources

from ..errors import InvalidInput, VoxliteError
from .config import ServeConfig
from .encode import FORMATS, StreamEncoder, check_format
from .engine import Busy, Engine, TimedOut

MODELS = ("voxlite", "tts-1", "tts-1-hd", "gpt-4o-mini-tts")
MAX_BODY = 64 * 1024
BODY_SECONDS = 10.0  # a request body must arrive within this (slow-loris bodies get 408)
SPEED_RANGE = (0.25, 4.0)


def _error(status: int, message: str, *, param: str | None = None, code: str | None = None, headers=None):
    from starlette.responses import JSONResponse

    kind = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
            408: "invalid_request_error", 413: "invalid_request_error", 429: "rate_limit_error",
            504: "timeout_error"}.get(status, "server_error")
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": code}},
                        status_code=status, headers=headers)


class _Metrics:
    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter("voxlite_requests", "speech requests by HTTP status", ["status"],
                                registry=self.registry)
        self.audio_seconds = Counter("voxlite_audio_seconds", "seconds of audio sent", registry=self.registry)
        self.first_byte = Histogram("voxlite_time_to_first_audio_seconds", "request start to first audio bytes",
                                    registry=self.registry)
        self.in_flight = Gauge("voxlite_requests_in_flight", "admitted requests (running or queued)",
                               registry=self.registry)

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


def parse_speech_request(body: bytes, config: ServeConfig) -> dict:
    """Checked fields of a speech request, or InvalidInput naming the field (``param`` attribute set)."""
    def bad(message: str, param: str | None = None):
        e = InvalidInput(message)
        e.param = param
        return e

    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise bad(f"the body is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise bad("the body must be a JSON object")
    for key in ("model", "input", "voice"):
        if key not in data:
            raise bad(f"{key} is required", key)
        if not isinstance(data[key], str):
            raise bad(f"{key} must be a string", key)
    if data["model"] not in MODELS:
        raise bad(f"unknown model {data['model']!r}; this server accepts {', '.join(MODELS)}", "model")
    text = data["input"]
    if not text.strip():
        raise bad("input is empty", "input")
    if len(text) > config.max_input_chars:
        raise bad(f"input is {len(text)} characters; the limit is {config.max_input_chars}", "input")
    if data["voice"] not in config.voices:
        raise bad(f"unknown voice {data['voice']!r}; voices: {', '.join(config.voices)}", "voice")
    fmt = data.get("response_format", "mp3")
    if not isinstance(fmt, str):
        raise bad("response_format must be a string", "response_format")
    try:
        check_format(fmt, config.sample_rate)
    except InvalidInput as e:
        raise bad(str(e), "response_format") from None
    speed = data.get("speed", 1.0)
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not math.isfinite(speed) \
            or not SPEED_RANGE[0] <= speed <= SPEED_RANGE[1]:
        raise bad(f"speed must be a number in [{SPEED_RANGE[0]}, {SPEED_RANGE[1]}], got {speed!r}", "speed")
    stream_format = data.get("stream_format", "audio")
    if stream_format not in ("audio", "sse"):
        raise bad(f"stream_format must be 'audio' or 'sse', got {stream_format!r}", "stream_format")
    if "instructions" in data and not isinstance(data["instructions"], str):
        raise bad("instructions must be a string", "instructions")
    return dict(text=text, voice=config.voices[data["voice"]], format=fmt, speed=float(speed),
                stream_format=stream_format)


def create_app(config: ServeConfig | None = None, *, engine: Engine | None = None, preload: bool = True):
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    config = config or ServeConfig()
    engine = engine or Engine(config)
    metrics = _Metrics()
    api_key = config.api_key()
    replica_id = f"{socket.gethostname()}:{os.getpid()}"  # which process answered (several behind Ray Serve)

    def authorized(request) -> bool:
        if api_key is None:
            return True
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        # constant-time comparison: the time taken does not tell how much of a guessed key was right
        return scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), api_key.encode())

    async def read_body(request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
            raise _BodyError(413, f"the body is over {MAX_BODY} bytes")
        chunks, size = [], 0

        async def collect():
            nonlocal size
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BODY:
                    raise _BodyError(413, f"the body is over {MAX_BODY} bytes")
                chunks.append(chunk)

        try:
            await asyncio.wait_for(collect(), timeout=BODY_SECONDS)
        except asyncio.TimeoutError:
            raise _BodyError(408, f"the body did not arrive within {BODY_SECONDS:g} s") from None
        return b"".join(chunks)

    async def speech(request):
        start = time.monotonic()
        if not authorized(request):
            metrics.requests.labels("401").inc()
            return _error(401, "missing or wrong API key (Authorization: Bearer <key>)",
                          headers={"WWW-Authenticate": "Bearer"})
        try:
            body = await read_body(request)
            req = parse_speech_request(body, config)
        except _BodyError as e:
            metrics.requests.labels(str(e.status)).inc()
            return _error(e.status, str(e))
        except InvalidInput as e:
            metrics.requests.labels("400").inc()
            return _error(400, str(e), param=getattr(e, "param", None))
        try:
            ticket = engine.admit()
        except Busy:
            metrics.requests.labels("429").inc()
            return _error(429, "the server is busy; retry shortly", headers={"Retry-After": "1"})
        metrics.in_flight.inc()
        chunks = engine.generate(req["voice"], req["text"], speed=req["speed"])
        # the first chunk decides the status: errors before any audio are proper HTTP errors
        try:
            first = await chunks.__anext__()
        except StopAsyncIteration:
            first = None
        except BaseException as e:  # noqa: BLE001
            ticket.release()
            metrics.in_flight.dec()
            await chunks.aclose()
            status, message = _status_of(e)
            metrics.requests.labels(str(status)).inc()
            return _error(status, message)
        metrics.first_byte.observe(time.monotonic() - start)
        encoder = StreamEncoder(req["format"], config.sample_rate)

        async def audio_bytes():
            sent = 0.0
            try:
                if first is not None:
                    sent += first.size / config.sample_rate
                    yield encoder.add(first)
                async for chunk in chunks:
                    sent += chunk.size / config.sample_rate
                    data = encoder.add(chunk)
                    if data:
                        yield data
                tail = encoder.finish()
                if tail:
                    yield tail
                metrics.requests.labels("200").inc()
            except (TimedOut, VoxliteError):
                metrics.requests.labels("200-truncated").inc()  # headers are out: the stream ends early
            finally:
                metrics.audio_seconds.inc(sent)
                metrics.in_flight.dec()
                ticket.release()
                await chunks.aclose()

        async def sse_events():
            async for data in audio_bytes():
                event = {"type": "speech.audio.delta", "audio": base64.b64encode(data).decode("ascii")}
                yield f"data: {json.dumps(event)}\n\n".encode()
            done = {"type": "speech.audio.done",
                    "usage": {"input_tokens": len(req["text"]), "output_tokens": 0, "total_tokens": len(req["text"])}}
            yield f"data: {json.dumps(done)}\n\n".encode()

        headers = {"X-Voxlite-Replica": replica_id}
        if req["stream_format"] == "sse":
            return StreamingResponse(sse_events(), media_type="text/event-stream", headers=headers)
        return StreamingResponse(audio_bytes(), media_type=FORMATS[req["format"]], headers=headers)

    async def models(request):
        if not authorized(request):
            return _error(401, "missing or wrong API key", headers={"WWW-Authenticate": "Bearer"})
        return JSONResponse({"object": "list", "data": [{"id": m, "object": "model", "owned_by": "voxlite"}
                                                        for m in MODELS],
                             "voices": list(config.voices)})

    async def health(request):
        return JSONResponse({"status": "ok", "in_flight": engine.in_flight, "capacity": engine.capacity,
                             "workers": engine.workers, "isolation": engine.isolation,
                             "worker_pids": engine.worker_pids, "replica": replica_id})

    async def prometheus(request):
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    async def page(request):
        html = resources.files("voxlite.serve").joinpath("page.html").read_text(encoding="utf-8")
        return HTMLResponse(html.replace("{{VOICES}}", json.dumps(list(config.voices))))

    @contextlib.asynccontextmanager
    async def lifespan(app):
        if preload:  # a bad bundle fails at start, not at the first request
            await asyncio.get_running_loop().run_in_executor(None, engine.preload)
        engine.start_workers()  # process isolation: the worker processes (each loads the voices)
        try:
            yield
        finally:
            engine.close()

    app = Starlette(routes=[Route("/v1/audio/speech", speech, methods=["POST"]),
                            Route("/v1/models", models, methods=["GET"]),
                            Route("/health", health, methods=["GET"]),
                            Route("/metrics", prometheus, methods=["GET"]),
                            Route("/", page, methods=["GET"])],
                    lifespan=lifespan)
    app.state.engine, app.state.metrics = engine, metrics
    return app


class _BodyError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _status_of(e: BaseException) -> tuple[int, str]:
    if isinstance(e, TimedOut):
        return 504, str(e)
    if isinstance(e, InvalidInput):
        return 400, str(e)
    if isinstance(e, VoxliteError):
        return 500, f"generation failed: {e}"
    return 500, f"generation failed: {type(e).__name__}"
