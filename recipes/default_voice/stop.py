"""SIGTERM / SIGINT as a request to stop a training loop at the next step boundary (checkpoint, then exit), so a
session that ends or a user who presses Ctrl-C loses no steps. ``restore()`` puts the previous handlers back."""
from __future__ import annotations

import signal


class StopOnSignal:
    def __init__(self, signals=(signal.SIGTERM, signal.SIGINT)):
        self.signum: int | None = None
        self._previous = {s: signal.signal(s, self._on_signal) for s in signals}

    def _on_signal(self, signum, frame) -> None:
        self.signum = signum

    def __bool__(self) -> bool:
        return self.signum is not None

    def restore(self) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}
