"""Nodes that Hydra instantiates (`_target_`): checked at the door, built later, never probed.

Field, renderer, logger and optimiser nodes name their class in `_target_`; every other key is
an argument of it. `check_target` refuses an unimportable target, an unknown argument and a
value of the wrong type or range (read from the target's annotations, where they use
`t2v.schema`'s strict types or `Annotated` constraints) in one line naming the key, without
building anything. `Target` keeps the checked node; `build` instantiates it.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import UnionType
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError

from t2v.errors import ConfigError, T2VError
from t2v.schema import describe

HYDRA_KEYS = frozenset({"_target_", "_partial_", "_convert_", "_recursive_", "_args_"})
STRICT = ConfigDict(strict=True, arbitrary_types_allowed=True, allow_inf_nan=False)


@dataclass(frozen=True)
class Target:
    """A checked `_target_` node (plain containers); `build(**extra)` instantiates it."""

    node: Mapping[str, Any]

    @property
    def name(self) -> str:
        return str(self.node["_target_"])

    def build(self, **extra: Any) -> Any:
        """The object, built by `hydra.utils.instantiate`; a T2VError the target raises comes
        out as itself, not wrapped in Hydra's InstantiationException."""
        from hydra.errors import InstantiationException
        from hydra.utils import instantiate

        try:
            return instantiate(dict(self.node), **extra, _convert_="object")
        except InstantiationException as error:
            cause = error.__cause__
            if isinstance(cause, T2VError):
                raise cause from None
            raise


def check_target(where: str, node: Any, *, takes: tuple[str, ...] = ()) -> Target:
    """`node` as a Target, every key (nested targets too) checked against the target's
    signature; `takes` names arguments the caller passes itself (e.g. an optimiser's params)."""
    if not isinstance(node, Mapping):
        raise ConfigError(f"{where} must be a mapping with a _target_, got {node!r}")
    if "_target_" not in node:
        raise ConfigError(f"{where} needs a _target_ (the class or function to build)")
    target = import_target(where, str(node["_target_"]))
    check_arguments(where, target, node, takes)
    return Target(node)


def import_target(where: str, path: str) -> Callable[..., Any]:
    module, _, name = path.rpartition(".")
    try:
        found: Any = importlib.import_module(module)
    except (ImportError, ValueError):
        # `pkg.Class.from_folder`: a classmethod of a class in `pkg`
        outer, _, owner = module.rpartition(".")
        try:
            found = getattr(importlib.import_module(outer), owner)
        except (ImportError, AttributeError, ValueError):
            raise ConfigError(f"{where}._target_ {path!r} cannot be imported") from None
    try:
        return getattr(found, name)
    except AttributeError:
        raise ConfigError(f"{where}._target_ {path!r} cannot be imported") from None


def check_arguments(
    where: str, target: Callable[..., Any], node: Mapping[str, Any], takes: tuple[str, ...]
) -> None:
    function = target.__init__ if inspect.isclass(target) else target  # type: ignore[misc]
    parameters = {
        name: parameter
        for name, parameter in inspect.signature(target).parameters.items()
        if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
    }
    open_ended = any(p.kind is p.VAR_KEYWORD for p in inspect.signature(target).parameters.values())
    hints = _hints(function)
    if dataclasses.is_dataclass(target):  # its fields' annotations are its arguments'
        hints = {**hints, **_hints(target)}
    for key, value in node.items():
        key = str(key)
        if key in HYDRA_KEYS:
            continue
        if key in takes:
            raise ConfigError(f"{where}.{key} is set by t2v; remove it")
        if key not in parameters:
            if open_ended:
                continue
            known = ", ".join(sorted(set(parameters) - set(takes)))
            raise ConfigError(f"{where} has unknown key '{key}'; known: {known}")
        if isinstance(value, Mapping) and "_target_" in value:
            check_target(f"{where}.{key}", value)
            continue
        hint = hints.get(key)
        if hint is not None and not _is_open(hint):
            try:
                TypeAdapter(hint, config=STRICT).validate_python(_as_hinted(value, hint))
            except ValidationError as error:
                nested = isinstance(value, Mapping | list | tuple)
                raise ConfigError(describe(error, f"{where}.{key}", nested=nested)) from None
            except Exception:  # a hint pydantic cannot read (a Protocol, a module): skip
                continue


def _hints(owner: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(owner, include_extras=True)
    except Exception:  # annotations that do not resolve here: types are left to the target
        return {}


def _is_open(hint: Any) -> bool:
    return hint is Any or hint is object


def _as_hinted(value: Any, hint: Any) -> Any:
    """YAML gives lists where a signature says tuple (or `tuple | None`): strict validation
    would refuse them."""
    if not isinstance(value, list):
        return value
    while typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, UnionType) else ()
    if typing.get_origin(hint) is tuple or any(typing.get_origin(o) is tuple for o in options):
        return tuple(value)
    return value
