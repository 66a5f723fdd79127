"""Typed hyper-parameters: one torch-free dataclass per family and per component kind.

The exporter builds them and writes ``to_json()`` into the manifest; the pipeline reads them back with
``from_json``, which validates every field once (type, range, unknown keys) and raises ``BundleError`` naming the
field. Nothing else reads a manifest's hparams by hand.
"""
from .audioldm2 import (AudioLDM2DecoderHParams, AudioLDM2LMHParams, AudioLDM2PromptHParams,
                        AudioLDM2UNetHParams, ClapAudioHParams)
from .base import HParams
from .cascade import CascadeHParams, UnitVocabulary
from .codec import CodecHParams, LSTMStream, StreamState, StreamWindow
from .mela_tts import MelaTTSLMHParams
from .semantic_units import SemanticUnitsHParams
from .t5_features import T5FeaturesHParams
from .text import TextHParams
from .uniaudio import UniAudioLMHParams
from .unit_lm import UnitLMHParams
from .unit_seq2seq import UnitSeq2SeqHParams
from .unit_vocoder import UnitVocoderHParams
from .valle import SPEECHX_TASKS, VallELMHParams
from .vibevoice import ScriptTemplate, VibeVoiceLMHParams
from .voxcpm import KVGroup, VoxCPMLMHParams

# component kind -> its hparams class (the manifest's "kind" names which applies)
COMPONENT_HPARAMS: dict[str, type[HParams]] = {
    "codec": CodecHParams,
    "text": TextHParams,
    "voxcpm-lm": VoxCPMLMHParams,
    "mela-tts-lm": MelaTTSLMHParams,
    "valle-lm": VallELMHParams,
    "uniaudio-lm": UniAudioLMHParams,
    "vibevoice-lm": VibeVoiceLMHParams,
    "audioldm2-prompt": AudioLDM2PromptHParams,
    "audioldm2-lm": AudioLDM2LMHParams,
    "audioldm2-unet": AudioLDM2UNetHParams,
    "audioldm2-decoder": AudioLDM2DecoderHParams,
    "clap-audio": ClapAudioHParams,
    "semantic-units": SemanticUnitsHParams,
    "t5-features": T5FeaturesHParams,
    "cascade": CascadeHParams,
    "unit-lm": UnitLMHParams,
    "unit-seq2seq": UnitSeq2SeqHParams,
    "unit-vocoder": UnitVocoderHParams,
}



def check_components(bundle) -> None:
    """Validate the hparams of every component whose kind has a class here (BundleError naming the field), so a
    bundle with a malformed component is refused at load, not when that component is first used."""
    for component in bundle.manifest.components.values():
        cls = COMPONENT_HPARAMS.get(component.kind)
        if cls is not None:
            cls.from_json(component.hparams, f"bundle {bundle.name!r}: components.{component.name}.hparams")


__all__ = ["CascadeHParams", "UnitLMHParams", "UnitSeq2SeqHParams", "UnitVocabulary", "UnitVocoderHParams",
           "AudioLDM2DecoderHParams", "AudioLDM2LMHParams", "AudioLDM2PromptHParams", "AudioLDM2UNetHParams",
           "ClapAudioHParams", "COMPONENT_HPARAMS", "check_components", "CodecHParams", "HParams", "KVGroup",
           "LSTMStream", "MelaTTSLMHParams", "SemanticUnitsHParams", "StreamState", "StreamWindow", "T5FeaturesHParams",
           "TextHParams", "UniAudioLMHParams", "SPEECHX_TASKS", "VallELMHParams", "ScriptTemplate",
           "VibeVoiceLMHParams", "VoxCPMLMHParams"]
