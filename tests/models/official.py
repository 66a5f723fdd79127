"""Importing one module of an official package without running its package ``__init__`` chain.

Official packages often import their whole application (CLI, hub download, training, UI) from ``__init__.py`` while
the model module a parity test needs imports only torch. ``import_model_module`` loads just that module: each
parent package becomes an empty stand-in with the real ``__path__``, extra stand-in modules can be given for a
dependency the module imports but does not use for the model, and everything added to ``sys.modules`` is removed
afterwards (the returned module keeps what it needs).
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path


def import_model_module(name: str, stubs: dict[str, types.ModuleType] | None = None) -> types.ModuleType:
    top = name.split(".")[0]
    spec = importlib.util.find_spec(top)  # a top-level find_spec does not import the package
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"package {top!r} is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    roots = {top} | {s.split(".")[0] for s in stubs or {}}
    saved = {k: v for k, v in sys.modules.items() if k.split(".")[0] in roots}
    for key in saved:
        del sys.modules[key]
    before = set(sys.modules)
    try:
        sys.modules.update(stubs or {})
        parts = name.split(".")
        for depth in range(1, len(parts)):
            pkg = ".".join(parts[:depth])
            module = types.ModuleType(pkg)
            module.__path__ = [str(root.joinpath(*parts[1:depth]))]
            sys.modules[pkg] = module
        return importlib.import_module(name)
    finally:
        for key in set(sys.modules) - before:
            del sys.modules[key]
        for key in list(stubs or {}):
            sys.modules.pop(key, None)
        sys.modules.update(saved)


def import_vallex_model() -> types.ModuleType:
    """``vallex.models.vallex`` (VALL-E-X 0.0.2a1) alone: its ``vallex.data`` package pulls lhotse (training data
    loading), of which the model module needs only the name ``PromptedFeatures``."""
    data = types.ModuleType("vallex.data")
    strategies = types.ModuleType("vallex.data.input_strategies")
    strategies.PromptedFeatures = type("PromptedFeatures", (), {})
    data.input_strategies = strategies
    return import_model_module("vallex.models.vallex",
                               stubs={"vallex.data": data, "vallex.data.input_strategies": strategies})
