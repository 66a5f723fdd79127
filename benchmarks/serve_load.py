"""Load on ``voxlite serve`` (loopback only, bounded): N concurrent clients stream speech for a fixed time.

    python -m benchmarks.serve_load [--clients 4] [--seconds 60] [--workers 2] [--queue 4] [--format pcm]
                                    [--report benchmarks/results/serve-load]

Starts the server in-process (uvicorn on an ephemeral 127.0.0.1 port, the embedded voice), then ``--clients``
threads each post streaming requests back to back (sentences from the default voice's held-out set, two per
request) until ``--seconds`` pass. Reports audio seconds served per wall second, time to first byte p50 / p95,
requests by status (429s are counted, then retried after Retry-After), and the server process's RSS sampled every
second (the server process and its worker processes): before the load, after its first 10 s (warm: every worker has run), its maximum and at the end (warm to end
flat: nothing leaks under load).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def sentences() -> list[str]:
    path = ROOT / "recipes" / "default_voice" / "eval_sentences.txt"
    lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    return [" ".join(lines[i:i + 2]) for i in range(0, len(lines) - 1, 2)]


def run(clients: int, seconds: float, workers: int, queue: int, fmt: str) -> dict:
    import httpx
    import psutil
    import uvicorn

    from voxlite.serve.app import create_app
    from voxlite.serve.config import ServeConfig

    config = ServeConfig(workers=workers, queue=queue, api_key_env=None)
    server = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/v1/audio/speech"
    texts = sentences()
    lock = threading.Lock()
    ttfb, statuses, audio_bytes = [], {}, [0]
    stop_at = time.monotonic() + seconds

    def client(k: int):
        i = k
        with httpx.Client(timeout=120) as http:
            while time.monotonic() < stop_at:
                start = time.monotonic()
                first = None
                with http.stream("POST", url, json={"model": "tts-1", "voice": "default", "input": texts[i % len(texts)],
                                                    "response_format": fmt}) as r:
                    n = 0
                    for chunk in r.iter_bytes():
                        if first is None:
                            first = time.monotonic() - start
                        n += len(chunk)
                with lock:
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                    if r.status_code == 200:
                        ttfb.append(first)
                        audio_bytes[0] += n
                if r.status_code == 429:
                    time.sleep(float(r.headers.get("retry-after", "1")))
                i += clients

    proc = psutil.Process()

    def total_rss() -> float:  # the server and its worker processes
        total = proc.memory_info().rss
        for child in proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:  # a worker being replaced
                pass
        return total / 1e6

    rss = [total_rss()]
    begin = time.monotonic()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        time.sleep(1.0)
        rss.append(total_rss())
    wall = time.monotonic() - begin
    server.should_exit = True
    thread.join(timeout=30)
    audio_s = audio_bytes[0] / 2 / config.sample_rate  # pcm: 16-bit mono
    q = statistics.quantiles(ttfb, n=20) if len(ttfb) >= 2 else [float("nan")] * 19
    return dict(clients=clients, seconds=seconds, workers=workers, queue=queue, format=fmt, wall_s=wall,
                audio_s=audio_s, audio_per_wall=audio_s / wall, requests=statuses,
                ttfb_p50_ms=1000 * statistics.median(ttfb) if ttfb else None, ttfb_p95_ms=1000 * q[18],
                rss_start_mb=rss[0], rss_warm_mb=rss[min(10, len(rss) - 1)], rss_max_mb=max(rss), rss_end_mb=rss[-1])


def table(r: dict) -> str:
    return "\n".join([
        f"voxlite serve under load: {r['clients']} streaming clients for {r['seconds']:g} s, {r['workers']} workers, "
        f"queue {r['queue']}, {r['format']}, the embedded voice, loopback; RSS of the server and its workers.", "",
        "| audio s / wall s | TTFB p50 ms | TTFB p95 ms | requests by status | RSS before / at 10 s / max / end MB |",
        "|---|---|---|---|---|",
        f"| {r['audio_per_wall']:.2f} | {r['ttfb_p50_ms']:.0f} | {r['ttfb_p95_ms']:.0f} | "
        f"{', '.join(f'{k}: {v}' for k, v in sorted(r['requests'].items()))} | "
        f"{r['rss_start_mb']:.0f} / {r['rss_warm_mb']:.0f} / {r['rss_max_mb']:.0f} / {r['rss_end_mb']:.0f} |"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--queue", type=int, default=4)
    parser.add_argument("--format", default="pcm", choices=["pcm"])
    parser.add_argument("--report", type=Path)
    args = parser.parse_args(argv)
    from benchmarks.report import start_run, write_report

    started = start_run(("starlette", "uvicorn", "onnxruntime"), argv=[__file__] + list(argv or sys.argv[1:]))
    result = run(args.clients, args.seconds, args.workers, args.queue, args.format)
    print(table(result))
    if args.report:
        write_report(args.report, args.report.name, started.command, result,
                     ["The server and the clients share this machine's two cores."], run=started,
                     markdown=table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
