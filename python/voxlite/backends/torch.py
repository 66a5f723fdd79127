"""The torch backend: a reference ``nn.Module`` behind the same Session interface as exported graphs.

Used for parity checks (reference vs exported graph, same feeds) and never on the synthesis path. torch is imported
when a session runs, not when this module is imported (the rest of the backends never need it).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from ..errors import InvalidInput
from ..graphio import TensorSpec
from .base import BackendChoice, Session

if TYPE_CHECKING:
    import torch


class TorchSession(Session):
    backend = "torch"

    def __init__(self, module: "torch.nn.Module", inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec],
                 *, threads: int | None = None):
        """``module(*inputs in order)`` must return a tensor or a tuple of tensors in ``outputs`` order."""
        self.module = module.eval()
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.threads = threads
        self.choice = BackendChoice("torch", "reference module", "torch")

    def run(self, feeds: Mapping[str, np.ndarray], output_names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        self.check_feeds(feeds)
        names = [s.name for s in self.outputs]
        wanted = list(output_names) if output_names is not None else names
        unknown = set(wanted) - set(names)
        if unknown:
            raise InvalidInput(f"unknown outputs {sorted(unknown)}; the module gives {names}")
        import torch

        args = [torch.from_numpy(np.ascontiguousarray(feeds[s.name])) for s in self.inputs]
        previous = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                result = self.module(*args)
        finally:
            torch.set_num_threads(previous)
        result = (result,) if isinstance(result, torch.Tensor) else tuple(result)
        if len(result) != len(names):
            raise InvalidInput(f"module returned {len(result)} outputs, declared {len(names)}")
        out = dict(zip(names, (r.detach().cpu().numpy() for r in result)))
        return {k: out[k] for k in wanted}
