"""YAML into keyword-only dataclasses: the one loader behind every codemix config.

Both configs (the build's mixture spec, ``pipelines/config.py``; the trainer's,
``training/config.py``) are trees of frozen, keyword-only dataclasses whose fields carry
their own docstrings and whose ``__post_init__`` validates values. ``build`` turns parsed
YAML into such a tree: it rejects unknown keys by their dotted path (suggesting the
closest known key), checks every scalar
against the field's annotation (ints are accepted as floats; YAML 1.1's ``1e-3``, which
PyYAML reads as a string, is accepted as a float), converts lists to tuples (``tuple[X,
...]`` or fixed-length ``tuple[X, Y]``), builds nested dataclasses, and turns a failed
validation into one ``ConfigError`` line naming the key. Neither Beam nor torch is imported,
so a config is checked before any pipeline or worker starts.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any

import fsspec
import yaml


class ConfigError(ValueError):
    """A user error in a config: its message is one line naming the file and the key."""


def read_yaml(url: str) -> Any:
    """The parsed YAML of a config file (path or fsspec URL).

    Raises:
        ConfigError: the file is missing, a folder, or not YAML (with the line).
    """
    try:
        with fsspec.open(url, "rt", encoding="utf-8") as f:
            return yaml.safe_load(f)
    except FileNotFoundError:
        raise ConfigError(f"no config at {url}") from None
    except IsADirectoryError:
        raise ConfigError(f"{url} is a folder, not a config file") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{url}: not valid YAML{where}: {problem}") from None


def build(cls: type, data: Any, where: str = "", **given: Any) -> Any:
    """Construct dataclass ``cls`` from parsed YAML, naming any bad key by its dotted path.

    Args:
        cls: a dataclass.
        data: its mapping (None counts as empty).
        where: the dotted path of ``data`` in the file, for messages ("" at the top).
        given: fields the caller has already converted; they are not looked up in ``data``.

    Raises:
        ConfigError: an unknown or missing key, a value of the wrong type, or a value the
            dataclass's validation refuses; one line.
    """
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs = dict(given)
    for key, value in data.items():
        if key in given:
            continue
        path = f"{where}.{key}" if where else str(key)
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown key {path!r}{hint}")
        kwargs[key] = convert(hints[key], value, path)
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except TypeError as err:  # a required field is missing
        missing = [n for n, f in fields.items() if n not in kwargs
                   and f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING]
        raise ConfigError(f"{where or 'config'}: missing key {missing[0]!r}" if missing
                          else f"{where or 'config'}: {err}") from None
    except ValueError as err:
        raise ConfigError(f"{where}: {err}" if where else str(err)) from None


def convert(hint: Any, value: Any, path: str) -> Any:
    """A YAML value checked and converted to the annotated type ``hint`` (see module)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        hint = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, path)
    if origin is tuple:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(convert(args[0], v, f"{path}[{i}]") for i, v in enumerate(items))
        if len(items) != len(args):
            raise ConfigError(f"{path}: expected a list of {len(args)} values, got {value!r}")
        return tuple(convert(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, items)))
    if hint is float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
    if hint in (int, float, str, bool) and (
            not isinstance(value, hint) or (hint is int and isinstance(value, bool))):
        raise ConfigError(f"{path}: expected {hint.__name__}, got {value!r}")
    return value
