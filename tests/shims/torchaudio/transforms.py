"""Stand-in submodule: importable, every use raises (see the package docstring)."""


def __getattr__(name):
    raise AttributeError(f"torchaudio.transforms.{name} is not available in voxlite's test stand-in")
