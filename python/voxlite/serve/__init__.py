"""``voxlite serve``: an OpenAI-compatible speech server (``POST /v1/audio/speech``) over voxlite bundles.

Modules: ``config`` (voices, limits, auth; a TOML or JSON file, or the embedded voice with no file), ``encode``
(audio formats, streamed as they are produced), ``engine`` (the worker pool: bounded concurrency and queue,
per-request time limits, cancellation when a client leaves), ``app`` (the Starlette application: routes, request
checks, metrics, the web page). Needs the ``serve`` extra (starlette, uvicorn, prometheus-client).
"""
