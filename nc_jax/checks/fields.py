"""Rules on single Setting fields, declared beside the field: ``checked(default, rule)`` puts a
``Rule`` in the field's dataclass metadata, ``validate_fields`` checks every ruled field of a
setting (raising a ``SettingError`` that names the field, so the command line names the flag)
and the command line's help states each rule. Rules between fields stay in the setting's own
``__post_init__``, after ``validate_fields``.

Example::

    @dataclass(frozen=True)
    class Setting:
        dataset: str = checked("gaussian", one_of(("gaussian", "mnist5k")))
        num_tasks: int = checked(2, at_least(2))
        mixture_pi: float = checked(0.15, inside(0, 1))
        weight_decays: tuple[float, ...] = checked((0.0, 1e-3), each(at_least(0.0)))

        def __post_init__(self) -> None:
            validate_fields(self)
            ...  # rules between fields
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from nc_jax.checks.contract import SettingError

RULE_KEY = "nc_jax_rule"


@dataclasses.dataclass(frozen=True)
class Rule:
    """What a field's value must be.

    Attributes:
        text: the requirement as read after "must be" (e.g. "> 0", "one of a, b"), also shown
            in the command line's help.
        test: value -> True where the value meets it.
    """

    text: str
    test: Callable[[Any], bool]

    def message(self, value: Any) -> str:
        return f"must be {self.text}, got {value!r}"


def checked(default: Any, rule: Rule) -> Any:
    """A dataclass field with ``default`` whose values must meet ``rule``."""
    return dataclasses.field(default=default, metadata={RULE_KEY: rule})


def rule_of(field: dataclasses.Field) -> Rule | None:
    """The rule a field was declared with (``checked``), or None."""
    return field.metadata.get(RULE_KEY)


def validate_fields(setting: Any) -> None:
    """SettingError naming the first field (in declaration order) whose value breaks its rule.

    Raises:
        SettingError: field name and ``Rule.message`` (the requirement and the value given).
    """
    for field in dataclasses.fields(setting):
        rule = rule_of(field)
        value = getattr(setting, field.name)
        if rule is not None and not rule.test(value):
            raise SettingError(field.name, rule.message(value))


def _finite(value: Any) -> bool:
    """A finite real number: Python's or NumPy's, not a bool."""
    real = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    return real and math.isfinite(value)


def one_of(options: Sequence[Any]) -> Rule:
    """One of ``options``."""
    return Rule(f"one of {', '.join(str(o) for o in options)}", lambda v: v in options)


def at_least(low: float) -> Rule:
    """A finite number >= ``low`` (``at_least(0.0)``: non-negative; ``at_least(1)``: a count)."""
    return Rule(f">= {low:g}", lambda v: _finite(v) and v >= low)


def positive() -> Rule:
    """A finite number > 0."""
    return Rule("> 0", lambda v: _finite(v) and v > 0)


def inside(
    low: float,
    high: float,
    *,
    closed: tuple[bool, bool] = (False, False),
    names: tuple[str, str] | None = None,
) -> Rule:
    """A finite number between ``low`` and ``high``, each end included where ``closed`` says
    (default: the open interval); ``names`` writes the ends in the rule's text (e.g. ("0",
    "pi/2")), else they are printed as numbers."""
    left, right = ("[" if closed[0] else "("), ("]" if closed[1] else ")")
    shown = names or (f"{low:g}", f"{high:g}")

    def test(v: Any) -> bool:
        if not _finite(v):
            return False
        above = v >= low if closed[0] else v > low
        return above and (v <= high if closed[1] else v < high)

    return Rule(f"in {left}{shown[0]}, {shown[1]}{right}", test)


def each(rule: Rule) -> Rule:
    """A non-empty list (tuple or list) whose every value meets ``rule``."""
    return Rule(
        f"a non-empty list, every value {rule.text}",
        lambda v: isinstance(v, (tuple, list)) and len(v) > 0 and all(rule.test(x) for x in v),
    )


def or_none(rule: Rule) -> Rule:
    """None (the field's "not set") or a value that meets ``rule``."""
    return Rule(f"{rule.text} or none", lambda v: v is None or rule.test(v))
