"""One module per model family: the inference loop that drives a bundle's graphs with native kernels.

Families are found by the manifest's ``model_type`` through :data:`FAMILIES` (lazy: a family's module is
imported only when a bundle of that type is loaded). Adding a family adds a module and one line here.
"""
from __future__ import annotations

import importlib

from ..errors import BundleError

# model_type -> "module:Class"; the class is constructed as Class(bundle, backend=..., precision=..., threads=...)
FAMILIES: dict[str, str] = {
    "graph": "voxlite.pipelines.graph:GraphModel",
    "codec": "voxlite.pipelines.codec:CodecModel",
    "voxcpm": "voxlite.pipelines.voxcpm:VoxCPMModel",
    "mela_tts": "voxlite.pipelines.mela_tts:MelaTTSModel",
    "valle": "voxlite.pipelines.valle:VallEModel",
    "uniaudio": "voxlite.pipelines.uniaudio:UniAudioModel",
    "audioldm2": "voxlite.pipelines.audioldm2:AudioLDM2Model",
    "vibevoice": "voxlite.pipelines.vibevoice:VibeVoiceModel",
    "cascade": "voxlite.pipelines.cascade:CascadeModel",
}


def family_class(model_type: str):
    try:
        target = FAMILIES[model_type]
    except KeyError:
        raise BundleError(f"bundle model_type {model_type!r} is not a family this voxlite knows "
                          f"(known: {', '.join(sorted(FAMILIES))}); upgrade voxlite?") from None
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)
