"""Typed hyper-parameters: one torch-free dataclass per family and per component kind.

The exporter builds them and writes ``to_json()`` into the manifest; the pipeline reads them back with
``from_json``, which validates every field once (type, range, unknown keys) and raises ``BundleError`` naming the
field. Nothing else reads a manifest's hparams by hand.
"""
from .base import HParams
from .codec import CodecHParams, StreamState, StreamWindow
from .text import TextHParams
from .voxcpm import KVGroup, VoxCPMLMHParams

# component kind -> its hparams class (the manifest's "kind" names which applies)
COMPONENT_HPARAMS: dict[str, type[HParams]] = {
    "codec": CodecHParams,
    "text": TextHParams,
    "voxcpm-lm": VoxCPMLMHParams,
}

__all__ = ["COMPONENT_HPARAMS", "CodecHParams", "HParams", "KVGroup", "StreamState", "StreamWindow", "TextHParams",
           "VoxCPMLMHParams"]
