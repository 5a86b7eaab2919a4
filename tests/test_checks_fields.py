"""Rules on single Setting fields (nc_jax.checks.fields): each rule at its edges, the error a
setting raises (naming the field, the requirement and the value), the command line's error and
help."""

import argparse
import dataclasses
import math

import numpy as np
import pytest

from nc_jax.checks import SettingError
from nc_jax.checks.fields import (
    at_least,
    checked,
    each,
    inside,
    one_of,
    or_none,
    positive,
    rule_of,
    validate_fields,
)
from nc_jax.checks.options import add_setting_options, make_setting


@dataclasses.dataclass(frozen=True)
class Toy:
    """A setting with one field of each rule.

    Attributes:
        kind: which kind.
        count: how many.
        scale: how large.
        share: which share.
        rates: the rates.
        free: not ruled.
    """

    kind: str = checked("a", one_of(("a", "b")))
    count: int = checked(2, at_least(2))
    scale: float = checked(1.0, positive())
    share: float = checked(0.5, inside(0, 1, closed=(False, True)))
    rates: tuple[float, ...] = checked((0.0, 1.0), each(at_least(0.0)))
    free: int = -5

    def __post_init__(self) -> None:
        validate_fields(self)


@pytest.mark.parametrize(
    ("rule", "good", "bad"),
    [
        (one_of(("a", "b")), ["a", "b"], ["c", "", None]),
        (at_least(2), [2, 3, 2.5, np.int64(2), np.float32(3)], [1, 1.99, math.inf, True, "3"]),
        (at_least(0), [0], [math.nan, np.float64(math.nan), np.bool_(True), None]),
        (at_least(0.0), [0, 0.0, 1e-300], [-1e-300, -math.inf]),
        (positive(), [1e-300, 3], [0, 0.0, -1, math.inf, math.nan]),
        (inside(0, 1), [1e-9, 0.5, 1 - 1e-9], [0, 1, math.nan]),
        (inside(0, 1, closed=(True, True)), [0, 1], [-1e-9, 1 + 1e-9]),
        (inside(0, 1, closed=(False, True)), [1], [0]),
        (each(positive()), [(1.0,), (1, 2), [1.0]], [(), [], (1, 0), 1.0, "1"]),
        (or_none(inside(0, 1)), [None, 0.5], [0, 1, "none"]),
    ],
)
def test_rule_edges(rule, good, bad):
    assert all(rule.test(v) for v in good)
    assert not any(rule.test(v) for v in bad)


def test_rule_texts():
    assert one_of(("a", "b")).text == "one of a, b"
    assert at_least(2).text == ">= 2"
    assert positive().text == "> 0"
    assert inside(0, 1).text == "in (0, 1)"
    assert inside(0, 1, closed=(True, False)).text == "in [0, 1)"
    assert inside(0, math.pi / 2, closed=(False, True), names=("0", "pi/2")).text == "in (0, pi/2]"
    assert each(at_least(0.0)).text == "a non-empty list, every value >= 0"
    assert positive().message(-1.5) == "must be > 0, got -1.5"
    assert or_none(at_least(1)).text == ">= 1 or none"


def test_defaults_pass_and_unruled_fields_are_free():
    assert Toy().free == -5
    assert rule_of(dataclasses.fields(Toy)[-1]) is None


@pytest.mark.parametrize(
    ("field", "value", "text"),
    [
        ("kind", "c", "must be one of a, b, got 'c'"),
        ("count", 1, "must be >= 2, got 1"),
        ("scale", 0.0, "must be > 0, got 0.0"),
        ("share", 0.0, "must be in (0, 1], got 0.0"),
        ("rates", (1.0, -1.0), "must be a non-empty list, every value >= 0, got (1.0, -1.0)"),
    ],
)
def test_setting_error_names_the_field(field, value, text):
    with pytest.raises(SettingError) as error:
        Toy(**{field: value})
    assert (error.value.field, error.value.message) == (field, text)


def test_first_broken_field_in_declaration_order():
    with pytest.raises(SettingError) as error:
        Toy(scale=-1.0, count=0)
    assert error.value.field == "count"


def test_command_line_error_and_help():
    with pytest.raises(ValueError, match=r"--share: must be in \(0, 1\], got 2.0"):
        make_setting(Toy, {"share": 2.0})
    parser = argparse.ArgumentParser()
    add_setting_options(parser, Toy)
    text = " ".join(parser.format_help().split())
    assert "must be in (0, 1]" in text and "must be one of a, b" in text
    assert "(default: -5)" in text
