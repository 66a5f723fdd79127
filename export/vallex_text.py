"""The text component of a VALL-E X bundle: English text -> VALL-E X phoneme ids (``voxlite.text.vallex_phonemes``).

    writer.component(...)  # the bundle's other components
    write_vallex_text_component(writer, "~/VALL-E-X/utils/g2p/bpe_69.json")

The component (kind ``text``, type ``vallex-phonemes``) stores VALL-E X's tokenizer JSON (role ``vocab``, the
user's copy of the checkpoint's ``bpe_69.json``: voxlite never downloads it), the English G2P's lexicon (role
``lexicon``: by default built, as the default voice's, from misaki 0.9.4's US gold + silver dictionaries) and
optionally the G2P's letter-to-sound graph for words the lexicon lacks (``python -m export letter-to-sound``).
Needs no torch unless a letter-to-sound graph is added.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from voxlite.bundle import BundleWriter
from voxlite.errors import BundleError
from voxlite.hparams import TextHParams
from voxlite.text.frontends import FILE_ROLES
from voxlite.text.vallex_phonemes import SYMBOLS, read_vocab

from . import ExportError
from .english_g2p_files import add_english_g2p

TYPE = "vallex-phonemes"


SPECIAL_TOKENS = ("[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]")


def tiny_vocab_json() -> str:
    """A phoneme table in VALL-E X's layout (the five special tokens, then one id per symbol in code-point order) over
    exactly the symbols the front end emits: for --random-init bundles and tests, never for real checkpoints (their
    ids are the user's bpe_69.json)."""
    import json

    vocab = {s: i for i, s in enumerate((*SPECIAL_TOKENS, *sorted(SYMBOLS)))}
    return json.dumps({"version": "1.0", "added_tokens": [], "normalizer": None, "pre_tokenizer": None,
                       "model": {"type": "BPE", "unk_token": "[UNK]", "vocab": vocab, "merges": []}},
                      ensure_ascii=False)


def write_vallex_text_component(writer: BundleWriter, vocab_path: str | os.PathLike | bytes,
                                component: str = "text", *,
                                lexicon: str | os.PathLike | None = None,
                                letter_to_sound: str | os.PathLike | None = None) -> None:
    """Add the ``vallex-phonemes`` text component ``component`` to ``writer``: ``vocab_path`` (VALL-E X's
    bpe_69.json, checked to hold every symbol the front end emits), ``lexicon`` (a ``voxlite.text.lexicon`` file;
    default: built from misaki's data, ``pip install --no-deps misaki==0.9.4``) and ``letter_to_sound`` (an exported
    letter-to-sound graph, its precision as stamped; run on the CPU, one thread). ``vocab_path`` may be the
    file's bytes."""
    if isinstance(vocab_path, bytes):
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "bpe_69.json").write_bytes(vocab_path)
            return write_vallex_text_component(writer, Path(tmp) / "bpe_69.json", component, lexicon=lexicon,
                                               letter_to_sound=letter_to_sound)
    try:
        missing = sorted(SYMBOLS - set(read_vocab(vocab_path)))
    except BundleError as e:
        raise ExportError(str(e)) from None
    if missing:
        raise ExportError(f"{vocab_path} lacks {' '.join(missing)}: not VALL-E X's bpe_69.json?")
    writer.component(component, kind="text", hparams=TextHParams(type=TYPE).to_json())
    writer.add_component_file(component, FILE_ROLES[TYPE], vocab_path, "bpe_69.json")
    add_english_g2p(writer, component, lexicon=lexicon, letter_to_sound=letter_to_sound)
