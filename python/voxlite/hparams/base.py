"""``HParams``: a frozen dataclass read from, and written to, a manifest's JSON with every field checked."""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Literal, Mapping, TypeVar, Union

from ..errors import BundleError

T = TypeVar("T", bound="HParams")


class HParams:
    """Base of the typed hyper-parameter dataclasses (subclasses are ``@dataclass(frozen=True)``).

    Field types understood: int, float, bool, str, dict (free-form JSON, e.g. the source model's config),
    ``X | None``, ``Literal[...]``, ``tuple[X, ...]``, ``dict[str, X]`` and nested HParams. A subclass checks
    ranges and relations between fields in ``check()`` (raise ``ValueError`` naming the field).
    """

    def check(self) -> None:
        """Ranges and relations between fields; raise ValueError("field: why")."""

    @classmethod
    def from_json(cls: type[T], raw: Any, where: str = "hparams") -> T:
        if not isinstance(raw, Mapping):
            raise BundleError(f"{where} must be an object, got {type(raw).__name__}")
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - set(fields))
        if unknown:
            raise BundleError(f"{where} has unknown fields {unknown} (known: {', '.join(fields)})")
        values = {}
        for name, f in fields.items():
            if name not in raw:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    raise BundleError(f"{where}.{name} is missing")
                continue
            values[name] = _coerce(raw[name], hints[name], f"{where}.{name}")
        obj = cls(**values)
        try:
            obj.check()
        except ValueError as e:
            raise BundleError(f"{where}.{e}") from None
        return obj

    def to_json(self) -> dict:
        """Plain JSON (tuples as lists, nested HParams as objects); ``from_json(to_json())`` gives it back."""
        return _to_json(self)

    def replace(self: T, **changes) -> T:
        return dataclasses.replace(self, **changes)


def _to_json(value):
    if isinstance(value, HParams):
        return {f.name: _to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_to_json(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _to_json(v) for k, v in value.items()}
    return value


# JSON scalars: (accepts the decoded value, what the error says it must be); bool is not an int or a number here
_SCALARS = {
    bool: (lambda v: isinstance(v, bool), "true or false"),
    int: (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    float: (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v), "a finite number"),
    str: (lambda v: isinstance(v, str), "a string"),
}


def _type_name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value, tp, where: str):
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, option, where)
            except BundleError as e:
                errors.append(str(e))
        raise BundleError(errors[0] if len(errors) == 1 else
                          f"{where} must be {' or '.join(_type_name(a) for a in args)}, got {value!r}")
    if origin is Literal:
        if value not in args:
            raise BundleError(f"{where} must be one of {list(args)}, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise BundleError(f"{where} must be a list, got {type(value).__name__}")
        return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise BundleError(f"{where} must be an object, got {type(value).__name__}")
        return {_coerce(k, args[0], f"{where} key"): _coerce(v, args[1], f"{where}.{k}") for k, v in value.items()}
    if isinstance(tp, type) and issubclass(tp, HParams):
        return tp.from_json(value, where)
    if tp is dict:
        if not isinstance(value, Mapping):
            raise BundleError(f"{where} must be an object, got {type(value).__name__}")
        return dict(value)
    if tp in _SCALARS:
        accepts, what = _SCALARS[tp]
        if not accepts(value):
            raise BundleError(f"{where} must be {what}, got {value!r}")
        return float(value) if tp is float else value
    raise TypeError(f"{where}: HParams cannot read fields of type {tp!r}")  # a programming error, not input
