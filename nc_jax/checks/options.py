"""A paper's Setting as command-line options and as data (TOML grids, JSON records).

Every field of a Setting dataclass becomes an option ``--field-name`` whose help is the field's
line in the class docstring's ``Attributes:`` section and shows its default. Values are written
one way everywhere: a tuple field takes a comma-separated list on the command line
(``--widths 256,64,64,64,10``) and an array in TOML or JSON (``widths = [256, 64, 64, 64, 10]``);
an optional field takes ``none`` on the command line. ``coerce`` checks a value against the
field's type and says which type it wanted; ``make_setting`` builds the Setting and reports a
``SettingError`` under the name the user typed (the flag or the grid key).
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from nc_jax.checks.contract import SettingError
from nc_jax.checks.fields import rule_of


def flag(name: str) -> str:
    """The command-line flag of a Setting field: ``n_per_class`` -> ``--n-per-class``."""
    return "--" + name.replace("_", "-")


def field_docs(setting_type: type) -> dict[str, str]:
    """Field name -> its description in the ``Attributes:`` section of the class docstring
    (Google style: ``name: text`` with indented continuation lines)."""
    doc = setting_type.__doc__ or ""
    if "Attributes:" not in doc:
        return {}
    docs: dict[str, str] = {}
    current = None
    body = doc.split("Attributes:", 1)[1].splitlines()
    indent = None
    for line in body:
        if not line.strip():
            continue
        width = len(line) - len(line.lstrip())
        if indent is None:
            indent = width
        match = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.*)", line)
        if match and width == indent:
            current = match.group(1)
            docs[current] = match.group(2).strip()
        elif current is not None and width > indent:
            docs[current] += " " + line.strip()
        else:
            break
    return docs


def _hints(setting_type: type) -> dict[str, Any]:
    return typing.get_type_hints(setting_type)


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    """(inner type, optional?) of ``X | None``."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        inner = [a for a in args if a is not type(None)]
        return inner[0], True
    return hint, False


def describe_type(hint: Any) -> str:
    """A short name of a field type for messages: 'int', 'list of float', 'str or none'."""
    inner, optional = _unwrap_optional(hint)
    if typing.get_origin(inner) is tuple:
        text = f"list of {typing.get_args(inner)[0].__name__}"
    else:
        text = inner.__name__
    return text + (" or none" if optional else "")


def _coerce_scalar(value: Any, kind: type) -> Any:
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind in (str, bool) and isinstance(value, kind):
        return value
    raise TypeError


def coerce(value: Any, hint: Any) -> Any:
    """``value`` (from TOML or JSON) as the field type ``hint``; TypeError if it is not one."""
    inner, optional = _unwrap_optional(hint)
    if value is None:
        if optional:
            return None
        raise TypeError
    if typing.get_origin(inner) is tuple:
        if not isinstance(value, (list, tuple)):
            raise TypeError
        element = typing.get_args(inner)[0]
        return tuple(_coerce_scalar(v, element) for v in value)
    return _coerce_scalar(value, inner)


def parse_text(text: str, hint: Any) -> Any:
    """A command-line value as the field type: lists comma-separated, ``none`` for None."""
    inner, optional = _unwrap_optional(hint)
    if optional and text.strip().lower() == "none":
        return None
    if typing.get_origin(inner) is tuple:
        element = typing.get_args(inner)[0]
        return tuple(element(part) for part in text.split(",") if part.strip())
    if inner is bool:
        if text.lower() not in ("true", "false"):
            raise ValueError(f"expected true or false, got {text!r}")
        return text.lower() == "true"
    return inner(text)


def format_value(value: Any) -> str:
    """A field value the way the command line takes it."""
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def add_setting_options(parser: argparse.ArgumentParser, setting_type: type) -> None:
    """One option per field of ``setting_type`` (default None: not given), help from its
    docstring with the default shown and the field's rule (nc_jax.checks.fields) stated."""
    defaults = setting_type()
    docs = field_docs(setting_type)
    hints = _hints(setting_type)
    group = parser.add_argument_group(f"setting ({setting_type.__module__})")
    for f in dataclasses.fields(setting_type):
        hint = hints[f.name]
        default = getattr(defaults, f.name)
        help_text = docs.get(f.name, "").replace("%", "%%")
        rule = rule_of(f)
        requirement = "" if rule is None else f"; must be {rule.text}".replace("%", "%%")
        group.add_argument(
            flag(f.name),
            dest=f.name,
            default=None,
            metavar=describe_type(hint).upper().replace(" ", "_"),
            type=_parser_for(f.name, hint),
            help=f"{help_text} (default: {format_value(default)}{requirement})",
        )


def _parser_for(name: str, hint: Any) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return parse_text(text, hint)
        except ValueError as error:
            raise argparse.ArgumentTypeError(
                f"expected {describe_type(hint)}, got {text!r} ({error})"
            ) from None

    parse.__name__ = describe_type(hint)
    return parse


def given_options(args: argparse.Namespace, setting_type: type) -> dict[str, Any]:
    """The Setting fields given on the command line (field -> value)."""
    names = [f.name for f in dataclasses.fields(setting_type)]
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def make_setting(
    setting_type: type, values: Mapping[str, Any], name_of: Callable[[str], str] = flag
) -> Any:
    """``setting_type(**values)`` with every value checked against its field type; errors name
    the field as ``name_of(field)`` (the flag, or the grid key) and say the fix.

    Raises:
        ValueError: an unknown field, a value of the wrong type, or a SettingError from the
            setting's own validation.
    """
    hints = _hints(setting_type)
    known = [f.name for f in dataclasses.fields(setting_type)]
    converted = {}
    for key, value in values.items():
        if key not in hints or key not in known:
            raise ValueError(
                f"{name_of(key)} is not a setting of {setting_type.__module__}; "
                f"known: {', '.join(name_of(k) for k in known)}"
            )
        try:
            converted[key] = coerce(value, hints[key])
        except TypeError:
            raise ValueError(
                f"{name_of(key)} must be a {describe_type(hints[key])}, got {value!r}"
            ) from None
    try:
        return setting_type(**converted)
    except SettingError as error:
        raise ValueError(f"{name_of(error.field)}: {error.message}") from None


def setting_to_data(setting: Any) -> dict[str, Any]:
    """A Setting as JSON/TOML-ready data (tuples as lists)."""
    return {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in dataclasses.asdict(setting).items()
    }


def add_compilation_cache_flag(parser: argparse.ArgumentParser) -> None:
    """``--no-compilation-cache``: train without JAX's persistent compilation cache (on by
    default in the user cache directory; nc_jax.train.cache)."""
    parser.add_argument(
        "--no-compilation-cache",
        action="store_true",
        help="compile every program afresh (the cache is on by default, in "
        "$XDG_CACHE_HOME/nc-jax/xla; NC_JAX_COMPILATION_CACHE=DIR moves it, =off turns it off)",
    )


def add_log_dir_flag(parser: argparse.ArgumentParser) -> None:
    """``--log-dir DIR``: write the results as TensorBoard event files into DIR as well, one
    TensorBoard run per cell and run (nc_jax.tensorboard)."""
    parser.add_argument(
        "--log-dir",
        default=None,
        metavar="DIR",
        help="also write TensorBoard event files here (one run per cell and seed; "
        "tensorboard --logdir DIR shows them)",
    )
