"""Options a command passes to a model method: the ones the user gave, checked against what the method takes.

A command's options span families (``voxlite generate`` has AudioLDM 2's ``--steps`` and UniAudio's ``--top-k``);
a family's method names what it takes. An option left unset is dropped when the method does not take it; one the
user gave is refused in one line naming the bundle, so nothing is silently ignored."""
from __future__ import annotations

import inspect

from ..errors import InvalidInput


def taken(method, options: dict, *, bundle: str, always: tuple[str, ...] = ("progress",)) -> dict:
    """``options`` (name -> value, None = unset) reduced to what ``method`` takes. ``always``: names dropped
    silently even when set (callbacks the command passes on its own). A method taking ``**options`` checks them
    itself, so everything set goes through."""
    params = inspect.signature(method).parameters
    open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    out = {}
    for name, value in options.items():
        if value is None:
            continue
        if name in params or open_ended:
            out[name] = value
        elif name not in always:
            owner = getattr(method, "__self__", None)
            raise InvalidInput(f"--{name.replace('_', '-')}: bundle {bundle!r} ({type(owner).__name__}) does not "
                               "take it")
    return out
