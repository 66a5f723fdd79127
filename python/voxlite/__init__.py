"""voxlite: offline speech and audio generation runtime."""
from ._version import __version__
