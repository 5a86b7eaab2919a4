"""Atomic writes and pytree round trips (nc_jax.io)."""

from __future__ import annotations

import numpy as np
import pytest

from nc_jax.io import read_npz, read_tree_npz, write_npz_atomic, write_tree_npz_atomic


def test_pytree_round_trip_and_structure_mismatch(tmp_path):
    tree = {"a": [np.arange(3.0), np.ones((2, 2))], "b": np.int32(7)}
    write_tree_npz_atomic(tmp_path / "t.npz", tree)
    back = read_tree_npz(tmp_path / "t.npz", tree)
    np.testing.assert_array_equal(back["a"][1], tree["a"][1])
    assert int(back["b"]) == 7
    with pytest.raises(ValueError, match="different model or state"):
        read_tree_npz(tmp_path / "t.npz", {"a": [0.0]})
    assert not list(tmp_path.glob(".*.part"))  # no temporary file left behind


def test_read_npz_returns_every_array(tmp_path):
    write_npz_atomic(tmp_path / "x.npz", {"u": np.zeros(2), "v": np.ones(3)})
    assert sorted(read_npz(tmp_path / "x.npz")) == ["u", "v"]
