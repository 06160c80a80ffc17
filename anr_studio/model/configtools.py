"""Dataclass configs as JSON-ready dicts and back, and `--set a.b=value` overrides; unknown keys are AnrErrors,
never ignored (`--set data.bach_size=8` must not train with the default)."""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from typing import Any

from anr_studio.errors import AnrError

# Larger integers are no setting anyone means (steps, sizes, seeds all stay far below).
MAX_INT = 10**15


def config_to_dict(config: Any) -> dict[str, Any]:
    """Returns a JSON-ready dict of a (nested) dataclass."""
    return dataclasses.asdict(config)


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Returns ``value`` converted to the annotated type ``hint`` (a dataclass or a scalar: what configs hold)."""
    if dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        if not isinstance(value, dict):
            raise AnrError(f"config: {where} is {type(value).__name__}, expected a mapping of {hint.__name__} fields")
        return config_from_dict(hint, value, where)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            return value.lower() in ("true", "1", "yes", "on")
        raise AnrError(f"config: {where} = {value!r}, expected true or false")
    if hint is int:
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())) \
                or abs(value) > MAX_INT:
            raise AnrError(f"config: {where} = {value!r}, expected an integer (at most {MAX_INT:.0e} in size)")
        return int(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise AnrError(f"config: {where} = {value!r}, expected a finite number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise AnrError(f"config: {where} = {value!r}, expected a string")
        return value
    raise TypeError(f"config field {where}: annotation {hint} is not one configs use (dataclass, bool, int, float, str)")


def config_from_dict(cls: type, data: dict[str, Any], where: str = "") -> Any:
    """Returns an instance of dataclass ``cls`` from ``data`` (missing keys keep defaults); AnrError names bad keys."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        prefix = f"{where}." if where else ""
        raise AnrError(f"config: unknown key {prefix}{unknown[0]}, expected one of {', '.join(sorted(names))}")
    kwargs = {}
    for key, value in data.items():
        kwargs[key] = _coerce(value, hints[key], f"{where}.{key}" if where else key)
    return cls(**kwargs)


def apply_overrides(config: Any, overrides: list[str] | dict[str, Any]) -> Any:
    """Returns a copy of ``config`` with dotted overrides (``["data.batch_size=8"]``), values parsed as JSON when possible."""
    data = config_to_dict(config)
    items = overrides.items() if isinstance(overrides, dict) else [_split_override(o) for o in overrides]
    for key, value in items:
        parts = key.split(".")
        node = data
        for i, part in enumerate(parts[:-1]):
            if not isinstance(node, dict) or part not in node or not isinstance(node[part], dict):
                raise AnrError(f"config: unknown key {'.'.join(parts[: i + 1])} in override {key}")
            node = node[part]
        if parts[-1] not in node:
            raise AnrError(f"config: unknown key {key}, expected one of {', '.join(sorted(node))}")
        node[parts[-1]] = value
    return config_from_dict(type(config), data)


def _split_override(text: str) -> tuple[str, Any]:
    """Returns (key, value) of ``KEY=VALUE``: the value parsed as JSON when it parses, else the text (`a=fast`)."""
    if "=" not in text:
        raise AnrError(f"--set {text}: expected KEY=VALUE, e.g. data.batch_size=8")
    key, value = (part.strip() for part in text.split("=", 1))
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value
