"""Run by tests/test_serve.py in its own interpreter: a local two-CPU Ray cluster on loopback serving
``voxlite.serve.ray_app.build`` with two replicas; four requests at once, then a bad one. Prints one JSON line."""
import json
import shutil
import socket
import tempfile
from concurrent.futures import ThreadPoolExecutor


def main() -> None:
    import httpx
    import ray
    from ray import serve

    from voxlite.serve.config import ServeConfig
    from voxlite.serve.ray_app import build

    short = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's AF_UNIX socket paths must stay under 108 bytes
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=short,
             runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}})
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(build(ServeConfig(api_key_env=None, queue=2), replicas=2), route_prefix="/")
        url = f"http://127.0.0.1:{port}/v1/audio/speech"

        def speak(_):
            r = httpx.post(url, timeout=180, json={"model": "tts-1", "voice": "default", "input": "Hello there.",
                                                   "response_format": "wav"})
            return r.status_code, r.headers.get("x-voxlite-replica"), len(r.content)

        with ThreadPoolExecutor(4) as pool:  # at once: Ray's router spreads them over the idle replicas
            answers = list(pool.map(speak, range(4)))
        bad = httpx.post(url, timeout=60, json={"model": "tts-1", "voice": "nobody", "input": "hi"})
        print(json.dumps({"statuses": [a[0] for a in answers], "replicas": sorted({a[1] for a in answers}),
                          "bytes": [a[2] for a in answers], "bad_status": bad.status_code,
                          "bad_message": bad.json()["error"]["message"]}), flush=True)
    finally:
        serve.shutdown()
        ray.shutdown()
        shutil.rmtree(short, ignore_errors=True)


if __name__ == "__main__":
    main()
