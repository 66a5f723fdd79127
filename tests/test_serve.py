"""``voxlite serve`` over loopback with the embedded voice: the OpenAI Python client end to end (whole and streamed),
SSE, every response format, bad input as clear 4xx, 429 when full, auth, a client leaving mid-stream, metrics."""
import base64
import io
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
uvicorn = pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")
sf = pytest.importorskip("soundfile")

from voxlite.serve.app import MAX_BODY, create_app  # noqa: E402
from voxlite.serve.config import ServeConfig, VoiceSpec, load_config, parse_config  # noqa: E402
from voxlite.errors import InvalidInput  # noqa: E402


class Server:
    """A uvicorn server on an ephemeral loopback port, in a thread."""

    def __init__(self, app):
        self.app = app
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                                    timeout_keep_alive=2))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        for _ in range(600):
            if self.server.started:
                break
            time.sleep(0.05)
        assert self.server.started, "the server did not start"
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def server():
    app = create_app(ServeConfig(workers=2, queue=2, api_key_env=None))
    with Server(app) as s:
        yield s


def _wav(data: bytes):
    samples, rate = sf.read(io.BytesIO(data), dtype="float32")
    return samples, rate


def _decode(data: bytes):
    """Any response format, read block by block: streamed files do not know their length up front (FLAC's
    STREAMINFO says 0 samples, as a streaming encoder writes it)."""
    blocks = []
    with sf.SoundFile(io.BytesIO(data)) as f:
        while True:
            block = f.read(8192, dtype="float32")
            if not len(block):
                break
            blocks.append(block)
        return np.concatenate(blocks), f.samplerate


def test_openai_client_whole_and_streamed(server):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused")
    r = client.audio.speech.create(model="tts-1", voice="default", input="Hello there.", response_format="wav")
    samples, rate = _wav(r.content)
    assert rate == 24000 and samples.size > 0.3 * rate and np.abs(samples).max() > 0.01
    with client.audio.speech.with_streaming_response.create(model="tts-1", voice="default", input="Hello there.",
                                                            response_format="pcm") as resp:
        pcm = b"".join(resp.iter_bytes())
    streamed = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768
    assert streamed.size == samples.size  # same seed, same audio, WAV header or not
    np.testing.assert_allclose(streamed, samples, atol=1 / 32768)


@pytest.mark.parametrize("fmt", ["mp3", "flac", "opus", "wav"])
def test_formats_decode(server, fmt):
    r = httpx.post(server.url + "/v1/audio/speech", json={"model": "voxlite", "voice": "default",
                                                          "input": "Testing one two.", "response_format": fmt},
                   timeout=120)
    assert r.status_code == 200, r.text
    samples, rate = _decode(r.content)
    assert rate == 24000 and samples.size > 0.2 * rate


def test_sse_events(server):
    with httpx.stream("POST", server.url + "/v1/audio/speech", timeout=120,
                      json={"model": "tts-1", "voice": "default", "input": "Hello. Good morning.",
                            "response_format": "pcm", "stream_format": "sse"}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1]["type"] == "speech.audio.done" and "usage" in events[-1]
    deltas = [e for e in events[:-1] if e["type"] == "speech.audio.delta"]
    assert len(deltas) >= 2  # two sentences at least: sent as they were made
    assert sum(len(base64.b64decode(e["audio"])) for e in deltas) > 24000 // 2


@pytest.mark.parametrize("body,status,needle", [
    (b"{not json", 400, "not valid JSON"),
    (b"[1, 2]", 400, "JSON object"),
    (json.dumps({"model": "tts-1", "voice": "default"}).encode(), 400, "input is required"),
    (json.dumps({"model": "tts-1", "voice": "nobody", "input": "hi"}).encode(), 400, "unknown voice"),
    (json.dumps({"model": "dall-e", "voice": "default", "input": "hi"}).encode(), 400, "unknown model"),
    (json.dumps({"model": "tts-1", "voice": "default", "input": 5}).encode(), 400, "must be a string"),
    (json.dumps({"model": "tts-1", "voice": "default", "input": "   "}).encode(), 400, "empty"),
    (json.dumps({"model": "tts-1", "voice": "default", "input": "x" * 4097}).encode(), 400, "limit is 4096"),
    (json.dumps({"model": "tts-1", "voice": "default", "input": "hi", "speed": 9}).encode(), 400, "speed"),
    (json.dumps({"model": "tts-1", "voice": "default", "input": "hi", "speed": "fast"}).encode(), 400, "speed"),
    (json.dumps({"model": "tts-1", "voice": "default", "input": "hi", "response_format": "aac"}).encode(), 400,
     "AAC"),
    (json.dumps({"model": "tts-1", "voice": "default", "input": "hi", "stream_format": "ws"}).encode(), 400,
     "stream_format"),
    (b"{" + b" " * (MAX_BODY + 10) + b"}", 413, "over"),
])
def test_bad_requests_are_clear_4xx(server, body, status, needle):
    r = httpx.post(server.url + "/v1/audio/speech", content=body, headers={"content-type": "application/json"},
                   timeout=30)
    assert r.status_code == status
    assert needle in r.json()["error"]["message"]


def test_unknown_route_and_models(server):
    assert httpx.get(server.url + "/v2/nothing").status_code == 404
    models = httpx.get(server.url + "/v1/models").json()
    assert "tts-1" in [m["id"] for m in models["data"]] and models["voices"] == ["default"]
    assert httpx.get(server.url + "/health").json()["status"] == "ok"
    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and '"default"' in page.text and "/v1/audio/speech" in page.text


def test_busy_server_says_429_with_retry_after(server):
    engine = server.app.state.engine
    tickets = [engine.admit() for _ in range(engine.capacity)]
    try:
        r = httpx.post(server.url + "/v1/audio/speech", json={"model": "tts-1", "voice": "default", "input": "hi"})
        assert r.status_code == 429 and r.headers["retry-after"] == "1"
    finally:
        for t in tickets:
            t.release()
    r = httpx.post(server.url + "/v1/audio/speech", json={"model": "tts-1", "voice": "default", "input": "Hi.",
                                                          "response_format": "wav"}, timeout=120)
    assert r.status_code == 200


def test_client_leaving_mid_stream_frees_the_worker(server):
    engine = server.app.state.engine
    text = " ".join(f"This is sentence number {i}." for i in range(30))
    with httpx.stream("POST", server.url + "/v1/audio/speech", timeout=120,
                      json={"model": "tts-1", "voice": "default", "input": text, "response_format": "pcm"}) as r:
        next(r.iter_bytes())  # the first audio, then hang up
    for _ in range(200):
        if engine.in_flight == 0:
            break
        time.sleep(0.05)
    assert engine.in_flight == 0
    r = httpx.post(server.url + "/v1/audio/speech", json={"model": "tts-1", "voice": "default", "input": "Still here.",
                                                          "response_format": "wav"}, timeout=120)
    assert r.status_code == 200
    metrics = httpx.get(server.url + "/metrics").text
    assert "voxlite_requests_total" in metrics and "voxlite_audio_seconds_total" in metrics


def test_api_key_is_required_when_set(monkeypatch):
    monkeypatch.setenv("VOXLITE_TEST_KEY", "s3cret")
    app = create_app(ServeConfig(workers=1, queue=0, api_key_env="VOXLITE_TEST_KEY"), preload=False)
    with Server(app) as s:
        body = {"model": "tts-1", "voice": "default", "input": "hi"}
        assert httpx.post(s.url + "/v1/audio/speech", json=body).status_code == 401
        bad = httpx.post(s.url + "/v1/audio/speech", json=body, headers={"Authorization": "Bearer wrong"})
        assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
        assert httpx.get(s.url + "/v1/models").status_code == 401
        ok = httpx.post(s.url + "/v1/audio/speech", json={**body, "response_format": "wav"}, timeout=120,
                        headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200


def test_config_files(tmp_path):
    toml = tmp_path / "serve.toml"
    toml.write_text('[server]\nport = 9000\nworkers = 1\n[voices.default]\nbundle = "default"\n'
                    '[voices.clone]\nbundle = "default"\nprompt_audio = "p.wav"\nprompt_text = "hi"\n')
    config = load_config(toml)
    assert config.port == 9000 and set(config.voices) == {"default", "clone"}
    assert config.host == "127.0.0.1"  # loopback unless told otherwise
    for bad, needle in [({"server": {"port": "x"}}, "wrong type"), ({"server": {"nope": 1}}, "unknown server"),
                        ({"voices": {"v": {}}}, "needs a bundle"), ({"extra": {}}, "unknown sections"),
                        ({"voices": {"v": {"bundle": "b", "prompt_audio": "a.wav"}}}, "both prompt_audio"),
                        ({"server": {"port": 70000}}, "out of range")]:
        with pytest.raises(InvalidInput, match=needle):
            parse_config(bad)
    broken = tmp_path / "broken.toml"
    broken.write_text("[server\n")
    with pytest.raises(InvalidInput, match="not valid TOML"):
        load_config(broken)
    assert ServeConfig().voices == {"default": VoiceSpec("default", "default")}


def test_one_model_many_threads_same_audio():
    """A voxlite model is shared by the server's workers: 8 threads, same text and seed, identical audio."""
    import voxlite

    model = voxlite.load()
    results = [None] * 8

    def speak(i):
        results[i] = model.synthesize("Threads share one model.", seed=3).samples

    threads = [threading.Thread(target=speak, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def test_ray_serve_two_replicas_answer_the_same_api():
    """The Ray Serve deployment on a local Ray cluster (this machine, loopback only) with two replicas. It runs in a
    fresh interpreter (``tests/serve_ray_check.py``): Ray's import reads pydantic's state, which other tests' imports
    in the same process can change, and a Ray cluster should not outlive its test."""
    import importlib.util
    import subprocess
    import sys

    if importlib.util.find_spec("ray") is None:
        pytest.skip("ray is not installed (pip install \"voxlite[ray]\")")
    proc = subprocess.run([sys.executable, "-m", "tests.serve_ray_check"], capture_output=True, text=True,
                          timeout=600, cwd=str(Path(__file__).resolve().parent.parent))
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(lines[-1])
    assert result["statuses"] == [200, 200, 200, 200]
    assert len(result["replicas"]) == 2  # both replicas answered
    assert result["bad_status"] == 400 and "unknown voice" in result["bad_message"]


def test_a_failing_worker_ends_its_request_and_the_server_keeps_serving(monkeypatch):
    """A generation that dies mid-stream (a graph failing, a worker thread's error) ends that response early and
    leaves the server serving; one that fails before any audio is a clean 500."""
    from voxlite.errors import BackendError

    app = create_app(ServeConfig(workers=1, queue=1, api_key_env=None, isolation="thread"))
    with Server(app) as s:
        engine = app.state.engine
        model = engine.model(engine.config.voices["default"])
        real_stream = model.stream

        def dying_stream(text, **kw):
            yield next(real_stream(text, **kw))
            raise BackendError("the worker's session crashed")

        monkeypatch.setattr(model, "stream", dying_stream)
        with httpx.stream("POST", s.url + "/v1/audio/speech", timeout=60,
                          json={"model": "tts-1", "voice": "default", "input": "One. Two. Three.",
                                "response_format": "pcm"}) as r:
            assert r.status_code == 200
            data = b"".join(r.iter_bytes())
        assert 0 < len(data)  # the first sentence, then the stream ended

        def failing_stream(text, **kw):
            raise BackendError("the worker's session crashed")
            yield  # noqa: unreachable (a generator)

        monkeypatch.setattr(model, "stream", failing_stream)
        r = httpx.post(s.url + "/v1/audio/speech", json={"model": "tts-1", "voice": "default", "input": "Hi."})
        assert r.status_code == 500 and "generation failed" in r.json()["error"]["message"]
        monkeypatch.setattr(model, "stream", real_stream)
        r = httpx.post(s.url + "/v1/audio/speech", timeout=120,
                       json={"model": "tts-1", "voice": "default", "input": "Back again.", "response_format": "wav"})
        assert r.status_code == 200 and engine.in_flight == 0
        assert 'voxlite_requests_total{status="200-truncated"} 1.0' in httpx.get(s.url + "/metrics").text


def test_killing_a_worker_process_mid_request():
    """Process isolation (the default): SIGKILL the worker while it streams; that response ends early, the engine
    starts a new worker, and the server goes on serving."""
    import os
    import signal

    app = create_app(ServeConfig(workers=1, queue=1, api_key_env=None))
    with Server(app) as s:
        pids = httpx.get(s.url + "/health").json()["worker_pids"]
        assert len(pids) == 1 and pids[0] != os.getpid()
        text = " ".join(f"This is sentence number {i}." for i in range(20))
        with httpx.stream("POST", s.url + "/v1/audio/speech", timeout=120,
                          json={"model": "tts-1", "voice": "default", "input": text, "response_format": "pcm"}) as r:
            chunks = r.iter_bytes()
            first = next(chunks)
            os.kill(pids[0], signal.SIGKILL)
            rest = b"".join(chunks)
        assert r.status_code == 200 and len(first) + len(rest) < 24000 * 2 * 20  # ended early
        for _ in range(200):
            health = httpx.get(s.url + "/health").json()
            if health["in_flight"] == 0 and health["worker_pids"] and health["worker_pids"][0] != pids[0]:
                break
            time.sleep(0.05)
        assert health["worker_pids"][0] != pids[0]
        r = httpx.post(s.url + "/v1/audio/speech", timeout=120, json={"model": "tts-1", "voice": "default",
                                                                   "input": "Still here.", "response_format": "wav"})
        assert r.status_code == 200 and _wav(r.content)[0].size > 0
        assert 'voxlite_requests_total{status="200-truncated"} 1.0' in httpx.get(s.url + "/metrics").text


def test_slow_bodies_get_408(monkeypatch):
    """A slow-loris body (headers sent, the body trickling) is cut off with 408 instead of holding a connection."""
    import socket

    import voxlite.serve.app as serve_app

    monkeypatch.setattr(serve_app, "BODY_SECONDS", 1.0)
    app = create_app(ServeConfig(workers=1, queue=0, api_key_env=None), preload=False)
    with Server(app) as s:
        host, port = s.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100\r\n\r\n{\"model\"")
            time.sleep(1.5)
            reply = sock.recv(4096).decode("latin-1")
        assert reply.startswith("HTTP/1.1 408")
        assert httpx.get(s.url + "/health").status_code == 200


def test_web_page_speaks_in_a_real_browser(server, tmp_path):
    """Headless Chromium (Debian's package), driven over the DevTools protocol in real time: the page opened with
    ?say=... posts the request, gets the audio, and its audio element starts playing."""
    import shutil
    import subprocess
    import urllib.request

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    sync_client = pytest.importorskip("websockets.sync.client")
    profile = tmp_path / "profile"
    browser = subprocess.Popen([chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--mute-audio",
                                "--autoplay-policy=no-user-gesture-required", "--remote-debugging-port=0",
                                f"--user-data-dir={profile}", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        for _ in range(300):
            if port_file.exists() and port_file.read_text().strip():
                break
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        pages = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        ws_url = next(p["webSocketDebuggerUrl"] for p in pages if p["type"] == "page")
        with sync_client.connect(ws_url, max_size=None) as ws:
            ids = iter(range(1, 10_000))

            def call(method, **params):
                i = next(ids)
                ws.send(json.dumps({"id": i, "method": method, "params": params}))
                while True:
                    msg = json.loads(ws.recv(timeout=30))
                    if msg.get("id") == i:
                        return msg.get("result", {})

            call("Page.navigate", url=server.url + "/?say=Hello%20from%20the%20browser.&voice=default")
            state = None
            for _ in range(240):
                got = call("Runtime.evaluate", expression="document.body && document.body.dataset.state || ''")
                state = got.get("result", {}).get("value")
                if state in ("playing", "failed"):
                    break
                time.sleep(0.25)
            status = call("Runtime.evaluate", expression="document.getElementById('status').textContent")
            assert state == "playing", status
            duration = call("Runtime.evaluate", expression="document.getElementById('player').duration")
            assert duration["result"]["value"] > 0.3  # seconds of audio in the element
    finally:
        browser.terminate()
        browser.wait(timeout=30)
