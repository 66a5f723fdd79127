"""Text front ends behind one protocol, found by the type a bundle's text component names.

A front end turns text into the token ids a model was trained on: ``encode_pair(text, prompt_text)`` gives the ids
of ``prompt_text + text`` and how many belong to ``text``; ``count(text)`` how many ids ``text`` alone makes (used
to split long input into chunks). Front ends are built from a bundle's text component (kind ``text``): its files
by role and, where a front end has one, a graph run through the model's sessions.

Adding one: a class with ``from_component(bundle, component, sessions)``, and a line in ``FRONT_ENDS``.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol

from ..errors import BundleError
from ..hparams import TextHParams

if TYPE_CHECKING:
    from ..bundle import Bundle


class TextFrontEnd(Protocol):
    def count(self, text: str) -> int: ...

    def encode_pair(self, text: str, prompt_text: str | None = None) -> tuple[list[int], int]: ...


# a text component's hparams.type -> "module:factory" (factory(bundle, component, sessions) -> TextFrontEnd)
FRONT_ENDS: dict[str, str] = {
    "hf-tokenizers": "voxlite.text.voxcpm_tokenizer:VoxCPMTokenizer.from_component",
    "voxlite-g2p-en": "voxlite.text.english_g2p:EnglishG2P.from_component",
    "vallex-phonemes": "voxlite.text.vallex_phonemes:VallEXPhonemes.from_component",
    "uniaudio-phones": "voxlite.text.uniaudio_phones:UniAudioPhones.from_component",
}
# the role under which each front end's main file is stored in its component ("files": {role: path}).
# "vallex-phonemes" stores two: its main "vocab" (VALL-E X's tokenizer JSON) and the "lexicon" of the English G2P
# that reads its words, found under FILE_ROLES["voxlite-g2p-en"] as that front end finds its own (with the optional
# letter-to-sound graph).
FILE_ROLES: dict[str, str] = {"hf-tokenizers": "tokenizer", "voxlite-g2p-en": "lexicon", "vallex-phonemes": "vocab",
                              "uniaudio-phones": "phone_table"}


def load_front_end(bundle: "Bundle", component: str, sessions) -> TextFrontEnd:
    """The front end of ``bundle``'s text component ``component``; ``sessions`` (a ``GraphSessions``) opens its
    graphs, if it has any."""
    spec = bundle.component(component)
    if spec.kind != "text":
        raise BundleError(f"component {component!r} of bundle {bundle.name!r} is a {spec.kind!r}, not a text front end")
    hp = TextHParams.from_json(spec.hparams, f"bundle {bundle.name!r}: components.{component}.hparams")
    try:
        target = FRONT_ENDS[hp.type]
    except KeyError:
        raise BundleError(f"bundle {bundle.name!r}: text front end {hp.type!r} is not one this voxlite knows "
                          f"(known: {', '.join(sorted(FRONT_ENDS))}); upgrade voxlite?") from None
    module_name, _, attr = target.partition(":")
    factory = importlib.import_module(module_name)
    for part in attr.split("."):
        factory = getattr(factory, part)
    return factory(bundle, component, sessions)
