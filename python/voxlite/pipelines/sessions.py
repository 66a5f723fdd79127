"""Where a bundle's graphs are opened on a backend: the one place, for every family and component.

``GraphSessions`` resolves the backend once (so every graph of a model runs on the same, visible backend), picks
each graph's precision variant at load (a bundle that cannot honour the asked precision fails then, not mid-run),
and opens each graph on first use. Two per-graph facts from the manifest shape it:

- ``metadata.max_threads``: intra-op threads are capped for graphs too small to gain from more (a 5M-parameter
  model's per-patch graphs ran ~2x slower on 2 threads than on 1: the pool's hand-offs cost more than the work).
- ``metadata.placement: "cpu"``: the graph runs on ONNX Runtime's CPU whatever the model's backend (tiny graphs
  with a new shape per call, such as the letter-to-sound model's words, gain nothing from a GPU engine).
"""
from __future__ import annotations

import threading

from ..backends import Session, open_session, select_backend
from ..backends.base import check_threads
from ..bundle import Bundle
from ..bundle.files import resolve_inside
from ..errors import BundleError, InvalidInput

PLACEMENTS = ("cpu",)


class GraphSessions:
    def __init__(self, bundle: Bundle, *, backend: str = "auto", precision: str | None = None,
                 threads: int | None = None, allow_fallback: bool = False):
        self.bundle = bundle
        self.precision = precision
        self.threads = check_threads(threads)
        self.allow_fallback = allow_fallback
        self.backend_choice = select_backend(backend, allow_fallback=allow_fallback)
        graphs = bundle.manifest.graphs
        if precision is not None and not any(precision in g.files for g in graphs.values()):
            raise InvalidInput(f"no graph of bundle {bundle.name!r} has a {precision!r} variant")
        try:
            self._variants = {name: bundle.pick_precision(name) if precision is None
                              else bundle.precision_at_least(name, precision) for name in graphs}
        except BundleError as e:
            raise InvalidInput(f"precision {precision!r}: {e}") from None
        for spec in graphs.values():  # placement facts checked at load, like the rest of the manifest
            self._graph_threads(spec)
            self._placement(spec)
        self._sessions: dict[str, Session] = {}
        self._opening = threading.Lock()  # one model serves many threads: a graph is opened once
        self.graph_precisions: dict[str, str] = {}  # what each opened graph really runs (qualified names)

    @property
    def backend(self) -> str:
        return self.backend_choice.name

    def get(self, graph: str) -> Session:
        """The graph's session (``component/graph``, or a bare name one component alone has), opened on first use.
        A graph exported without the requested precision (e.g. a mel front end kept in float for int8 bundles) runs
        a more precise variant, never a less precise one; ``graph_precisions`` says what each runs."""
        spec = self.bundle.graph(graph)
        session = self._sessions.get(spec.name)
        if session is not None:
            return session
        with self._opening:
            if spec.name in self._sessions:
                return self._sessions[spec.name]
            chosen = self._variants[spec.name]
            self._sessions[spec.name] = self._open(spec, chosen)
            self.graph_precisions[spec.name] = chosen
        return self._sessions[spec.name]

    def open_variant(self, graph: str, precision: str) -> Session:
        """A new session of one stored variant of ``graph`` (``voxlite bundle verify`` loads every one), whatever
        precision the model runs; not kept."""
        spec = self.bundle.graph(graph)
        if precision not in spec.files:
            raise InvalidInput(f"graph {spec.name!r} has no {precision!r} variant (it has: {', '.join(spec.files)})")
        return self._open(spec, precision)

    def _open(self, spec, precision: str) -> Session:
        backend = self._placement(spec) or self.backend_choice.name
        return open_session(resolve_inside(self.bundle.root, spec.files[precision]), spec=spec, backend=backend,
                            threads=self._graph_threads(spec), allow_fallback=self.allow_fallback,
                            identity=f"{self.bundle.manifest_sha256}:{spec.name}:{precision}")

    def threads_for(self, graph: str) -> int | None:
        """The intra-op threads ``graph`` runs with: the model's, capped by the graph's ``max_threads``."""
        return self._graph_threads(self.bundle.graph(graph))

    def _graph_threads(self, spec) -> int | None:
        cap = spec.metadata.get("max_threads")
        if cap is None:
            return self.threads
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise BundleError(f"bundle {self.bundle.name!r}: graph {spec.name} metadata.max_threads must be a "
                              f"positive integer, got {cap!r}")
        return cap if self.threads is None else min(self.threads, cap)

    def _placement(self, spec) -> str | None:
        placement = spec.metadata.get("placement")
        if placement is not None and placement not in PLACEMENTS:
            raise BundleError(f"bundle {self.bundle.name!r}: graph {spec.name} metadata.placement must be one of "
                              f"{list(PLACEMENTS)}, got {placement!r}")
        return placement
