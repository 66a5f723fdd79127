"""The English G2P's files inside a text component: its lexicon (role ``lexicon``, where ``EnglishG2P.from_component``
reads it) and, optionally, its letter-to-sound graph. Shared by every text component that reads English through
voxlite's G2P (VALL-E X's phonemes, UniAudio's phones). Needs no torch unless a letter-to-sound graph is added."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from voxlite.bundle import BundleWriter
from voxlite.text import lexicon as lexicon_files
from voxlite.text.english_g2p import EnglishG2P
from voxlite.text.frontends import FILE_ROLES


def add_english_g2p(writer: BundleWriter, component: str, *, lexicon: str | os.PathLike | None = None,
                    letter_to_sound: str | os.PathLike | None = None) -> None:
    """Store the G2P's ``lexicon`` (a ``voxlite.text.lexicon`` file; default: built, as the default voice's, from
    misaki 0.9.4's US gold + silver dictionaries, ``pip install --no-deps misaki==0.9.4``) and its optional
    ``letter_to_sound`` graph (an exported letter-to-sound graph, its precision as stamped; run on the CPU, one
    thread) in ``component``, which the caller has declared."""
    role = FILE_ROLES["voxlite-g2p-en"]
    if lexicon is not None:
        writer.add_component_file(component, role, lexicon, "lexicon.json")
    else:
        entries, source = lexicon_files.from_misaki("us")
        with tempfile.TemporaryDirectory() as tmp:
            lexicon_files.save(Path(tmp) / "lexicon.json", entries, source)
            writer.add_component_file(component, role, Path(tmp) / "lexicon.json", "lexicon.json")
    if letter_to_sound is not None:
        from .graphs import graph_precision  # torch: only when there is a graph

        writer.add_graph(EnglishG2P.LETTER_TO_SOUND_GRAPH, graph_precision(letter_to_sound), letter_to_sound,
                         component=component, metadata={"placement": "cpu", "max_threads": 1})
