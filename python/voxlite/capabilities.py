"""What a model can be asked to do. A bundle's manifest declares its capabilities; each family's model class
implements the protocol of every capability it can serve. ``voxlite say``, the server and the C API choose a model
by capability (``require``), never by family name.

| capability | protocol | what it takes |
|---|---|---|
| ``text-to-speech`` | ``TextToSpeech`` | ``synthesize(text, seed=, progress=, ...) -> Audio``, ``stream(text, ...)`` |
| ``voice-cloning`` | ``VoiceCloning`` | the same, with ``prompt_audio=`` (a recording) and ``prompt_text=`` (its transcript) |
| ``codec`` | ``AudioCodec`` | ``encode(audio, sample_rate) -> codes or latents``, ``decode(...) -> Audio`` |
| ``text-to-audio`` | ``TextToAudio`` | ``generate(prompt, seed=, ...) -> Audio`` (sound, music) |
| ``speech-to-speech`` | ``SpeechToSpeech`` | ``transform(audio, task=, ...) -> Audio`` (editing, denoising, conversion) |
| ``multi-speaker`` | ``MultiSpeaker`` | ``synthesize(script, voices={n: audio}, ...)``: "Speaker n: ..." lines, a voice each |
| ``singing`` | ``Singing`` | ``sing(score, prompt_audio=, seed=, ...) -> Audio``: a note-by-note score (lyrics, pitches, durations) |
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, Protocol, runtime_checkable

import numpy as np

from .bundle import CAPABILITIES
from .errors import BundleError, CapabilityError

if TYPE_CHECKING:
    from .audio import Audio

TEXT_TO_SPEECH, VOICE_CLONING, CODEC, TEXT_TO_AUDIO, SPEECH_TO_SPEECH, MULTI_SPEAKER, SINGING = CAPABILITIES


@runtime_checkable
class TextToSpeech(Protocol):
    sample_rate: int

    def synthesize(self, text: str, **options) -> "Audio": ...

    def stream(self, text: str, **options) -> Iterator[np.ndarray]: ...


@runtime_checkable
class VoiceCloning(TextToSpeech, Protocol):
    """``synthesize(text, prompt_audio=..., prompt_text=...)``: speak in the voice of a recording."""


@runtime_checkable
class AudioCodec(Protocol):
    sample_rate: int

    def encode(self, audio, sample_rate: int | None = None, **options) -> np.ndarray: ...

    def decode(self, codes_or_latents: np.ndarray, **options) -> "Audio": ...


@runtime_checkable
class TextToAudio(Protocol):
    sample_rate: int

    def generate(self, prompt: str, **options) -> "Audio": ...


@runtime_checkable
class SpeechToSpeech(Protocol):
    sample_rate: int

    def transform(self, audio, **options) -> "Audio": ...


@runtime_checkable
class MultiSpeaker(TextToSpeech, Protocol):
    """``synthesize(script, voices={1: "alice.wav", 2: ...})``: a dialogue of "Speaker n: text" lines."""


@runtime_checkable
class Singing(Protocol):
    sample_rate: int

    def sing(self, score, **options) -> "Audio": ...


PROTOCOLS = {TEXT_TO_SPEECH: TextToSpeech, VOICE_CLONING: VoiceCloning, CODEC: AudioCodec,
             TEXT_TO_AUDIO: TextToAudio, SPEECH_TO_SPEECH: SpeechToSpeech, MULTI_SPEAKER: MultiSpeaker,
             SINGING: Singing}


def check_declared(model_class, bundle) -> None:
    """At load: a bundle may declare only capabilities its family's class implements."""
    missing = [c for c in bundle.capabilities if c not in getattr(model_class, "capabilities", ())]
    if missing:
        raise BundleError(f"bundle {bundle.name!r} declares {missing}, which its family {bundle.model_type!r} "
                          f"cannot do in this voxlite (it can: {', '.join(model_class.capabilities) or 'nothing'})")


def require(model, capability: str):
    """``model`` if its bundle can do ``capability``, else CapabilityError naming what it can do."""
    if capability not in PROTOCOLS:
        raise CapabilityError(f"unknown capability {capability!r} (known: {', '.join(CAPABILITIES)})")
    can = model.bundle.capabilities
    if capability in can and not isinstance(model, PROTOCOLS[capability]):
        raise CapabilityError(f"bundle {model.bundle.name!r} declares {capability}, but its family class "
                              f"{type(model).__name__} does not implement {PROTOCOLS[capability].__name__}")
    if capability not in can:
        raise CapabilityError(f"bundle {model.bundle.name!r} ({model.bundle.model_type}) cannot do {capability}; "
                              f"it can do: {', '.join(can) or 'nothing but run its graphs'}")
    return model
