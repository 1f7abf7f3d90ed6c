"""Typed settings: frozen dataclasses read from plain mappings, refused in one line when wrong.

Every setting t2v reads from a composed configuration goes through `parse`: unknown keys, wrong
types and out-of-range values all become one `ConfigError` naming the key, the same way
everywhere. Validation is pydantic's (already a dependency through wandb); the dataclasses stay
plain frozen dataclasses that the rest of the package reads as attributes.

Declare a settings class with `@settings` and the strict types below (a YAML `1` is a valid
float, but `true` is not a number and `"3"` is not an int)::

    @settings
    class Resolution:
        width: Side
        frames: Annotated[Int, Field(ge=1, le=256)] = 8

    parse(Resolution, {"width": 64}, "resolution")
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import (
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
)
from pydantic.dataclasses import dataclass

from t2v.errors import ConfigError

T = TypeVar("T")

Int = StrictInt
Float = StrictFloat  # also takes an int: YAML writes 1.0 as 1 often enough
Bool = StrictBool
Text = StrictStr
NonNegativeInt = Annotated[StrictInt, Field(ge=0)]
PositiveInt = Annotated[StrictInt, Field(ge=1)]
NonNegativeFloat = Annotated[StrictFloat, Field(ge=0)]
PositiveFloat = Annotated[StrictFloat, Field(gt=0)]
UnitFloat = Annotated[StrictFloat, Field(ge=0, le=1)]

CONFIG = ConfigDict(extra="forbid", allow_inf_nan=False, arbitrary_types_allowed=True)


def settings(cls: type[T]) -> type[T]:
    """A frozen dataclass whose construction checks types, ranges and unknown keys."""
    return dataclass(frozen=True, config=CONFIG)(cls)


def parse(cls: Any, data: Any, where: str = "") -> Any:
    """`data` (a plain mapping, list or value) as `cls`, or one ConfigError naming the key."""
    try:
        return TypeAdapter(cls).validate_python(data)
    except ValidationError as error:
        raise ConfigError(describe(error, where)) from None


# pydantic's locations also name the member of a union a value was tried against.
TYPE_TAGS = frozenset({"int", "float", "str", "bool", "list", "dict", "tuple", "none"})


def is_key(part: str) -> bool:
    """Whether a part of a pydantic location is a key (not a union member or validator)."""
    return not (
        part in TYPE_TAGS
        or part[:1].isupper()  # a dataclass tried as a member of a union
        or any(mark in part for mark in "[]-")  # constrained-float, function-after[...], ...
    )


def describe(error: ValidationError, where: str = "", nested: bool = True) -> str:
    """The first problem of a validation error, as one line that names its key (`nested`
    False: `where` is the key, and the rest of pydantic's location names union members)."""
    errors = error.errors(include_url=False)
    keys = [[str(part) for part in item["loc"] if is_key(str(part))] for item in errors]
    # A union reports each member's complaint: the deepest one under the first key is the one
    # about what was written (e.g. `weight.static`, not "weight is not a number").
    index = max(
        (i for i, loc in enumerate(keys) if loc[: len(keys[0])] == keys[0]),
        key=lambda i: len(keys[i]),
    )
    first, loc = errors[index], keys[index]
    loc = loc if nested else []
    key = ".".join(p for p in [where, *loc] if p) or "config"
    kind = first["type"]
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        parent = ".".join(p for p in [where, *loc[:-1]] if p) or "the config"
        return f"{parent} has unknown key '{loc[-1] if loc else '?'}'"
    if kind in ("missing", "missing_argument"):
        return f"{key} is missing"
    message = str(first["msg"]).removeprefix("Value error, ")
    if not loc and not where:
        return message  # a check across keys: its message names them
    shown = first.get("input")
    said = isinstance(shown, str) and repr(shown) in message  # the check quotes it already
    if said or not isinstance(shown, str | int | float | bool | None):
        return f"{key}: {message}"  # a mapping, a list, a dataclass's arguments
    return f"{key} = {shown!r}: {message}"
