"""What a UniAudio bundle turns user input into token ids with: the front ends ``export/uniaudio.py`` may add beside
the LM and the codec. Each is optional; a bundle declares the capabilities its front ends and tasks allow.

- ``text`` (kind ``text``, type ``uniaudio-phones``): English text -> UniAudio phones (voxlite's G2P mapped onto
  UniAudio's phone table, ``voxlite.text.uniaudio_phones``). Stores the user's phone table (``phone_dict`` of a
  UniAudio checkout: UniAudio's data, which voxlite does not ship), the G2P's lexicon and optional letter-to-sound
  graph. With ``tts`` / ``plain_tts``: ``text-to-speech`` (and ``voice-cloning`` with ``tts``).
- ``semantic`` (kind ``semantic-units``): recordings -> HuBERT k-means units, carried unchanged from a bundle of
  ``python -m export hubert`` (its cluster count must be the vocabulary's semantic range, its unit rate the codec's
  frame rate). With ``VC``: voice conversion from a recording (``speech-to-speech``).
- ``t5`` (kind ``t5-features``): a caption -> T5 encoder rows, from a T5 checkpoint directory (UniAudio:
  google/t5-v1_1-base; its width must be the LM's ``continuous_dim``). With ``TSS`` / ``TTM``: ``text-to-audio``.
- the singing tables, files of the ``lm`` component: ``sing_phones`` (``Sing/dict_phone.txt``) and ``sing_midi``
  (``Sing/f0_dict.txt``), checked against the vocabulary's ``sing_phone`` / ``sing_midi`` ranges. With ``sing``:
  ``singing``.

``find_tables(checkout)`` finds the three tables in a UniAudio checkout (its root, its ``UniAudio/`` directory or its
``tools/tokenizer``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from voxlite.bundle import BundleWriter
from voxlite.errors import BundleError, InvalidInput
from voxlite.hparams import TextHParams
from voxlite.pipelines.uniaudio_sequences import UniAudioVocabulary
from voxlite.text.frontends import FILE_ROLES

from . import ExportError
from .english_g2p_files import add_english_g2p

TEXT_TYPE = "uniaudio-phones"
from voxlite.pipelines.uniaudio import SING_MIDI, SING_PHONES  # file roles in the lm component
# where a UniAudio checkout keeps its tables, relative to tools/tokenizer
TABLE_PATHS = {"phone_table": "phone/phone_dict", "sing_phone_table": "Sing/dict_phone.txt",
               "sing_midi_table": "Sing/f0_dict.txt"}
# tasks -> the capability each front end opens
SPEECH_TASKS, SOUND_TASKS = ("tts", "plain_tts"), ("TSS", "TTM")
AUDIO_ONLY_TASKS = ("SE", "Speech_RIR", "Spex")  # speech-to-speech: every input is audio the codec encodes


@dataclass
class UniAudioInputs:
    """The front ends to add (paths; None: not added)."""
    phone_table: str | os.PathLike | None = None
    lexicon: str | os.PathLike | None = None  # the G2P's lexicon (default: misaki's US data)
    letter_to_sound: str | os.PathLike | None = None
    sing_phone_table: str | os.PathLike | None = None
    sing_midi_table: str | os.PathLike | None = None
    semantic_units: str | os.PathLike | None = None  # a bundle holding one semantic-units component
    t5: str | os.PathLike | None = None  # a T5 checkpoint directory (transformers layout)
    t5_parts: object = None  # or already-built parts (export.t5_features), e.g. a random tiny T5 for tests

    def capabilities(self, tasks) -> list[str]:
        caps = []
        if self.phone_table is not None and any(t in tasks for t in SPEECH_TASKS):
            caps.append("text-to-speech")
            if "tts" in tasks:
                caps.append("voice-cloning")
        if (self.t5 is not None or self.t5_parts is not None) and any(t in tasks for t in SOUND_TASKS):
            caps.append("text-to-audio")
        if any(t in tasks for t in AUDIO_ONLY_TASKS) or (self.semantic_units is not None and "VC" in tasks):
            caps.append("speech-to-speech")
        if self.sing_phone_table is not None and "sing" in tasks:
            caps.append("singing")
        return caps


def find_tables(checkout: str | os.PathLike) -> dict[str, Path]:
    """The tables a UniAudio checkout holds: {"phone_table" | "sing_phone_table" | "sing_midi_table": path}."""
    root = Path(checkout)
    for base in (root / "UniAudio" / "tools" / "tokenizer", root / "tools" / "tokenizer", root):
        found = {key: base / rel for key, rel in TABLE_PATHS.items() if (base / rel).is_file()}
        if found:
            return found
    raise ExportError(f"{checkout}: no UniAudio tables (looked for tools/tokenizer/{TABLE_PATHS['phone_table']} "
                      "and Sing/*.txt under it and under UniAudio/)")


def _range_size(vocab: UniAudioVocabulary, kind: str) -> int | None:
    try:
        start, end = vocab.data_range(kind)
    except InvalidInput:
        return None
    return end - start


def check_inputs(inputs: UniAudioInputs, token_list, *, frame_rate: float, continuous_dim: int) -> None:
    """Every front end must produce ids the vocabulary holds (sizes read from the token list) at the codec's rate."""
    from voxlite.text.singing_score import read_midi_table, read_sing_phone_table
    from voxlite.text.uniaudio_phones import read_phone_table

    vocab = UniAudioVocabulary.from_token_list(token_list)

    def same(kind: str, n: int, what: str) -> None:
        size = _range_size(vocab, kind)
        if size != n:
            raise ExportError(f"{what} gives {n} ids; the token list's {kind} range has "
                              f"{'none' if size is None else size}: this checkpoint was trained with another table")

    if (inputs.sing_phone_table is None) != (inputs.sing_midi_table is None):
        raise ExportError("singing needs both tables: the sing phone table (Sing/dict_phone.txt) and the sing midi "
                          "table (Sing/f0_dict.txt)")
    try:
        if inputs.phone_table is not None:
            same("phone", len(read_phone_table(inputs.phone_table)) + 1, f"phone table {inputs.phone_table} (+<UNK>)")
        if inputs.sing_phone_table is not None:
            same("sing_phone", len(read_sing_phone_table(inputs.sing_phone_table)),
                 f"sing phone table {inputs.sing_phone_table}")
            same("sing_midi", len(read_midi_table(inputs.sing_midi_table)), f"sing midi table {inputs.sing_midi_table}")
    except InvalidInput as e:
        raise ExportError(str(e)) from None
    t5_dim = _t5_dim(inputs)
    if t5_dim is not None and t5_dim != continuous_dim:
        raise ExportError(f"the T5 encoder's rows are {t5_dim} wide; the LM reads {continuous_dim} (UniAudio: "
                          "google/t5-v1_1-base, 768)")
    if inputs.semantic_units is not None:
        units = semantic_units_hparams(inputs.semantic_units)
        same("semantic", units.n_clusters, f"semantic units {inputs.semantic_units} ({units.n_clusters} clusters)")
        if abs(units.frame_rate - frame_rate) > 1e-6:
            raise ExportError(f"semantic units {inputs.semantic_units} come {units.frame_rate:g} per second; the codec "
                              f"makes {frame_rate:g} frames per second (UniAudio aligns them 1:1)")


def _t5_dim(inputs: UniAudioInputs) -> int | None:
    if inputs.t5_parts is not None:
        return inputs.t5_parts.model.config.dim
    if inputs.t5 is None:
        return None
    import json

    config = Path(inputs.t5) / "config.json"
    try:
        return int(json.loads(config.read_text(encoding="utf-8"))["d_model"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ExportError(f"--t5 {inputs.t5}: cannot read d_model from {config}: {e}") from None


def semantic_units_hparams(path):
    """(component name, hparams) of the one semantic-units component of the bundle at ``path``."""
    from voxlite.bundle import open_bundle
    from voxlite.hparams import SemanticUnitsHParams
    from voxlite.pipelines.graph import one_component
    from voxlite.pipelines.semantic_units import KIND

    try:
        bundle = open_bundle(path)
        name = one_component(bundle, KIND)
    except BundleError as e:
        raise ExportError(f"--semantic-units {path}: {e}") from None
    return SemanticUnitsHParams.from_json(bundle.component(name).hparams, f"{path}: components.{name}.hparams")


def copy_semantic_units(writer: BundleWriter, path) -> None:
    """Carry the bundle's semantic-units component into ``writer`` unchanged (before any graph with shared data)."""
    from voxlite.bundle import open_bundle
    from voxlite.pipelines.graph import one_component
    from voxlite.pipelines.semantic_units import KIND

    bundle = open_bundle(path)
    writer.copy_component(bundle, one_component(bundle, KIND))


def write_text_component(writer: BundleWriter, inputs: UniAudioInputs, component: str = "text") -> None:
    writer.component(component, kind="text", hparams=TextHParams(type=TEXT_TYPE).to_json())
    writer.add_component_file(component, FILE_ROLES[TEXT_TYPE], inputs.phone_table, "phone_dict")
    add_english_g2p(writer, component, lexicon=inputs.lexicon, letter_to_sound=inputs.letter_to_sound)


def write_sing_tables(writer: BundleWriter, inputs: UniAudioInputs, component: str = "lm") -> None:
    writer.add_component_file(component, SING_PHONES, inputs.sing_phone_table, "sing_dict_phone.txt")
    writer.add_component_file(component, SING_MIDI, inputs.sing_midi_table, "sing_f0_dict.txt")


def write_t5(writer: BundleWriter, inputs: UniAudioInputs, tmp, *, precisions, log=print) -> None:
    """The ``t5`` component (kind ``t5-features``) from ``inputs.t5`` (a checkpoint directory) or ``t5_parts``."""
    source = inputs.t5_parts if inputs.t5_parts is not None else inputs.t5
    if source is None:
        return
    from .t5_features import write_t5_features_component

    write_t5_features_component(writer, source, tmp, name="t5", precisions=precisions, log=log,
                                metadata={"family": "t5"})
