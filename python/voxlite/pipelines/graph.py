"""The generic family: a bundle of named graphs, run one at a time (``model_type: "graph"``).

Useful on its own (any exported graph with its manifest, validated and run on any backend) and as the base
that every family pipeline builds on: lazy per-graph sessions on one backend choice.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from ..backends import Session, select_backend
from ..backends.base import check_threads
from ..bundle import Bundle
from ..errors import BundleError, InvalidInput


class GraphModel:
    def __init__(self, bundle: Bundle, *, backend: str = "auto", precision: str | None = None,
                 threads: int | None = None, allow_fallback: bool = False):
        self.bundle = bundle
        self.precision = precision
        self.threads = check_threads(threads)
        self.allow_fallback = allow_fallback
        # resolve once so every graph of this model runs on the same, visible backend
        self.backend_choice = select_backend(backend, allow_fallback=allow_fallback)
        self._sessions: dict[str, Session] = {}
        self.graph_precisions: dict[str, str] = {}  # what each opened graph really runs
        if precision is not None and not any(precision in g.files for g in bundle.manifest.graphs.values()):
            raise InvalidInput(f"no graph of bundle {bundle.name!r} has a {precision!r} variant")
        # every graph's variant, chosen now so a bundle that cannot honour the precision fails at load
        try:
            self._variants = {g: bundle.pick_precision(g) if precision is None
                              else bundle.precision_at_least(g, precision) for g in bundle.manifest.graphs}
        except BundleError as e:
            raise InvalidInput(f"precision {precision!r}: {e}") from None

    @property
    def backend(self) -> str:
        return self.backend_choice.name

    def session(self, graph: str) -> Session:
        """The graph's session, opened on first use. A graph exported without the requested precision (e.g. a
        mel front end kept in float for int8 bundles) runs a more precise variant, never a less precise one
        (``Bundle.precision_at_least``); ``graph_precisions`` says what each runs."""
        if graph not in self._sessions:
            self.bundle.graph(graph)  # a clear error for a graph the bundle lacks
            chosen = self._variants[graph]
            self._sessions[graph] = self.bundle.session(
                graph, precision=chosen, backend=self.backend_choice.name, threads=self.graph_threads(graph),
                allow_fallback=self.allow_fallback)
            self.graph_precisions[graph] = chosen
        return self._sessions[graph]

    def graph_threads(self, graph: str) -> int | None:
        """Intra-op threads for ``graph``: the model's ``threads``, capped by the bundle's ``max_graph_threads``
        hparam (graphs too small to gain from more: a 5M-parameter model's per-patch graphs run ~2x slower on 2
        threads than on 1, the pool's hand-offs costing more than the work they split)."""
        caps = (self.bundle.hparams or {}).get("max_graph_threads") or {}
        if not isinstance(caps, dict):
            raise BundleError(f"bundle {self.bundle.name!r}: max_graph_threads must be a mapping, got {caps!r}")
        cap = caps.get(graph)
        if cap is None:
            return self.threads
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise BundleError(f"bundle {self.bundle.name!r}: max_graph_threads[{graph!r}] must be a positive "
                              f"integer, got {cap!r}")
        return cap if self.threads is None else min(self.threads, cap)

    def run(self, graph: str, feeds: Mapping[str, np.ndarray] | None = None, **named: np.ndarray) -> dict[str, np.ndarray]:
        """Run ``graph`` with inputs given as a dict and/or keyword arguments."""
        return self.session(graph).run({**(feeds or {}), **named})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.bundle.name!r}, backend={self.backend!r})"
