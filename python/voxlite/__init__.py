"""voxlite: offline speech and audio generation runtime.

    import voxlite
    model = voxlite.load("path/to/bundle")          # validated; backend="auto"

Importing voxlite is cheap and never imports torch.
"""
from ._version import __version__
from .api import load
from .bundle import Bundle, open_bundle
from .errors import (AudioError, BackendError, BackendUnavailable, BundleError, CapabilityError, InvalidInput,
                     VoxliteError)

__all__ = ["AudioError", "BackendError", "BackendUnavailable", "Bundle", "BundleError", "CapabilityError", "InvalidInput",
           "VoxliteError", "__version__", "load", "open_bundle"]
