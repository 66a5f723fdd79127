"""The generic family: a bundle of named graphs, run one at a time (``model_type: "graph"``).

Useful on its own (any exported graph with its manifest, validated and run on any backend) and as the base that
every family pipeline builds on: the model's ``GraphSessions`` (one backend choice, lazy per-graph sessions).
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from ..backends import Session
from ..bundle import Bundle
from ..errors import BundleError
from .sessions import GraphSessions


def one_component(bundle: Bundle, kind: str, required: bool = True) -> str | None:
    """The name of ``bundle``'s one component of ``kind`` (None if absent and not ``required``); BundleError when
    there are several, or none and one is required."""
    found = bundle.manifest.components_of_kind(kind)
    if len(found) > 1 or (required and not found):
        raise BundleError(f"a {bundle.model_type} bundle has one {kind!r} component; {bundle.name!r} has {len(found)}")
    return found[0].name if found else None


class GraphModel:
    capabilities: tuple[str, ...] = ()  # what the family can do (voxlite.capabilities); bundles declare a subset

    def __init__(self, bundle: Bundle, *, backend: str = "auto", precision: str | None = None,
                 threads: int | None = None, allow_fallback: bool = False, sessions: GraphSessions | None = None):
        """``sessions``: another model's over the same bundle (a cascade runs a family's model as one of its
        stages), shared so each graph is opened once; the backend options are then that model's."""
        self.bundle = bundle
        if sessions is not None and sessions.bundle is not bundle:
            raise ValueError("shared sessions must belong to the same bundle")
        self.sessions = sessions or GraphSessions(bundle, backend=backend, precision=precision, threads=threads,
                                                  allow_fallback=allow_fallback)

    @property
    def backend(self) -> str:
        return self.sessions.backend

    @property
    def backend_choice(self):
        return self.sessions.backend_choice

    @property
    def threads(self) -> int | None:
        return self.sessions.threads

    @property
    def graph_precisions(self) -> dict[str, str]:
        return self.sessions.graph_precisions

    def graph_threads(self, graph: str) -> int | None:
        return self.sessions.threads_for(graph)

    def session(self, graph: str) -> Session:
        return self.sessions.get(graph)

    def run(self, graph: str, feeds: Mapping[str, np.ndarray] | None = None, **named: np.ndarray) -> dict[str, np.ndarray]:
        """Run ``graph`` with inputs given as a dict and/or keyword arguments."""
        return self.session(graph).run({**(feeds or {}), **named})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.bundle.name!r}, backend={self.backend!r})"
