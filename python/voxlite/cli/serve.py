"""``voxlite serve``: the OpenAI-compatible speech server (``voxlite[serve]``)."""
from __future__ import annotations

HELP = "serve speech over HTTP (OpenAI's /v1/audio/speech), on loopback unless told otherwise"


def add_arguments(parser) -> None:
    parser.add_argument("--config", default=None, help="TOML / JSON config (voices, limits); default: the embedded "
                        "voice as 'default'")
    parser.add_argument("--host", default=None, help="address to bind (default 127.0.0.1; 0.0.0.0 exposes it)")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--workers", type=int, default=None, help="generations at once (default: usable CPUs)")


def run(args) -> int:
    import dataclasses
    import importlib.util

    from voxlite.errors import InvalidInput

    missing = [m for m in ("starlette", "uvicorn", "prometheus_client") if importlib.util.find_spec(m) is None]
    if missing:
        raise InvalidInput(f"voxlite serve needs {', '.join(missing)}: pip install \"voxlite[serve]\"")
    import uvicorn

    from voxlite.serve.app import create_app
    from voxlite.serve.config import load_config

    config = load_config(args.config)
    changes = {k: v for k, v in (("host", args.host), ("port", args.port), ("workers", args.workers))
               if v is not None}
    config = dataclasses.replace(config, **changes)
    key = "set" if config.api_key() else f"none (set ${config.api_key_env} to require one)"
    print(f"voxlite serve: http://{config.host}:{config.port}  voices: {', '.join(config.voices)}  "
          f"workers: {config.n_workers}  API key: {key}", flush=True)
    if config.host not in ("127.0.0.1", "localhost", "::1") and not config.api_key():
        print("voxlite serve: warning: listening beyond loopback without an API key", flush=True)
    uvicorn.run(create_app(config), host=config.host, port=config.port, log_level="warning",
                timeout_keep_alive=5, limit_concurrency=max(64, 4 * (config.n_workers + config.queue)),
                h11_max_incomplete_event_size=16 * 1024, workers=1)
    return 0
