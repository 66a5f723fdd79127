"""Typed errors. Every user-facing failure is one of these, with a message that names the problem."""


class VoxliteError(Exception):
    """Base class of every error voxlite raises on purpose."""


class BundleError(VoxliteError):
    """A bundle is missing, malformed, of an unknown format version, altered, or unsafe."""


class BackendUnavailable(VoxliteError):
    """The requested backend (or device) is not present here; the message says how to install it."""


class InvalidInput(VoxliteError, ValueError):
    """An argument is out of range or malformed (text, options, arrays)."""


class AudioError(VoxliteError):
    """Audio could not be read, is empty, or has an unsupported layout."""


class BackendError(VoxliteError):
    """A backend failed while loading or running a graph (the message names backend, graph and cause)."""


class CapabilityError(InvalidInput):
    """A model was asked for something it cannot do (the message names what it can do)."""


class FrontendUnavailable(BackendUnavailable):
    """A text front end needs an optional tool that is not installed here (e.g. ``phonemizer`` with espeak-ng, or
    ``uroman``); the message names the tool and how to install it."""
