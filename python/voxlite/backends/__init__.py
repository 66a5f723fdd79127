"""Backends: one adapter per runtime behind the :class:`Session` interface, plus ``auto`` selection."""
from .base import BackendChoice, Session
from .registry import (AUTO_ORDER, BACKENDS, BackendStatus, available_backends, backend_status, open_session,
                       select_backend)

__all__ = ["AUTO_ORDER", "BACKENDS", "BackendChoice", "BackendStatus", "Session", "available_backends",
           "backend_status", "open_session", "select_backend"]
