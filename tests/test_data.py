"""Tests of nc_jax.data on generated data and tiny real-format files; nothing is downloaded."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest

from nc_jax import data
from nc_jax.data import (
    DATASETS,
    Dataset,
    balanced_subset,
    cifar10,
    class_subset,
    digits,
    download,
    fashion_mnist,
    gaussian,
    load_dataset,
    mnist,
    one_hot,
    standardize,
)

# ---------------------------------------------------------------- helpers writing real formats


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """An IDX file: magic 0x0000080n (uint8, n axes), n big-endian uint32 lengths, the data."""
    magic = 0x0800 | array.ndim if magic is None else magic
    header = struct.pack(f">I{array.ndim}I", magic, *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write(path, payload: bytes, gz: bool = False):
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        payload = gzip.compress(payload)
    path.write_bytes(payload)
    return path


def mnist_arrays(n: int = 12) -> tuple[np.ndarray, np.ndarray]:
    images = (np.arange(n * 28 * 28) * 7 % 256).astype(np.uint8).reshape(n, 28, 28)
    return images, (np.arange(n) % 10).astype(np.uint8)


def write_mnist(directory, split="train", gz_images=False, gz_labels=False, n=12):
    images, labels = mnist_arrays(n)
    stems = data.IDX_FILES[split]
    write(directory / stems[0], idx_bytes(images), gz_images)
    write(directory / stems[1], idx_bytes(labels), gz_labels)
    return images, labels


def cifar_batch(rows: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    batch_data = rng.integers(0, 256, size=(rows, 3072), dtype=np.uint8)
    return {b"data": batch_data, b"labels": rng.integers(0, 10, size=rows).tolist()}


def write_cifar(directory, rows: int = 7) -> dict[str, dict]:
    directory.mkdir(parents=True, exist_ok=True)
    batches = {}
    for seed, file in enumerate([*data.CIFAR_FILES["train"], *data.CIFAR_FILES["test"]]):
        batches[file] = cifar_batch(rows, seed)
        (directory / file).write_bytes(pickle.dumps(batches[file]))
    return batches


@pytest.fixture(autouse=True)
def no_data_env(monkeypatch):
    monkeypatch.delenv(data.DATA_ENV_VAR, raising=False)


# ---------------------------------------------------------------- Dataset


def small_dataset() -> Dataset:
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    return Dataset(x, np.array([0, 1, 1, 2, 2, 2], np.int32), 3, "tiny", "test")


def test_dataset_properties_and_describe():
    ds = small_dataset()
    assert (ds.num_samples, ds.input_dim) == (6, 2)
    np.testing.assert_array_equal(ds.class_counts(), [1, 2, 3])
    assert not ds.is_balanced()
    np.testing.assert_array_equal(ds.one_hot()[[0, 1, 3]], np.eye(3, dtype=np.float32))
    assert ds.one_hot(np.float64).dtype == np.float64
    text = ds.describe()
    assert "tiny" in text and "N=6" in text and "D=2" in text and "K=3" in text
    assert "[1, 2, 3]" in text and "provenance: test" in text
    assert len(text.splitlines()) == 3


def test_one_hot_module_function():
    out = one_hot(np.array([2, 0]), 3)
    np.testing.assert_array_equal(out, [[0, 0, 1], [1, 0, 0]])
    assert out.dtype == np.float32
    with pytest.raises(ValueError, match=r"y must lie in \[0, 3\)"):
        one_hot(np.array([3]), 3)
    with pytest.raises(ValueError, match="shape"):
        one_hot(np.zeros((2, 2), int), 3)


@pytest.mark.parametrize(
    ("x", "y", "k", "match"),
    [
        (np.zeros((3, 2), np.float32), np.array([0, 1, 5], np.int32), 3, r"y must lie in \[0, 3\)"),
        (np.array([[0.0], [np.nan]], np.float32), np.array([0, 1], np.int32), 2, "x contains NaN"),
        (np.zeros((3, 2), np.float32), np.array([0, 1], np.int32), 2, r"y must have shape \(3,\)"),
        (np.zeros((2, 2), np.float64), np.array([0, 1], np.int32), 2, "x must be a float32"),
        (np.zeros((2, 2), np.float32), np.array([0, 1], np.int64), 2, "y must be an int32"),
        (np.zeros(2, np.float32), np.array([0, 1], np.int32), 2, "x must have 2 axes"),
        (np.zeros((2, 2), np.float32), np.array([0, 1], np.int32), 1, "num_classes must be >= 2"),
    ],
)
def test_dataset_rejects_bad_input(x, y, k, match):
    with pytest.raises(ValueError, match=match):
        Dataset(x, y, k, "bad", "test")


# ---------------------------------------------------------------- gaussian and digits


def test_gaussian_shapes_dtypes_and_balance():
    ds = gaussian(num_classes=4, n_per_class=5, dim=7)
    assert ds.x.shape == (20, 7) and ds.x.dtype == np.float32 and ds.y.dtype == np.int32
    np.testing.assert_array_equal(ds.class_counts(), [5] * 4)
    assert ds.is_balanced() and "seed=0" in ds.provenance


def test_gaussian_is_deterministic_by_seed():
    a, b, c = gaussian(seed=3), gaussian(seed=3), gaussian(seed=4)
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.allclose(a.x, c.x)


@pytest.mark.parametrize(("num_classes", "dim"), [(5, 64), (8, 3)])
def test_gaussian_separation_sets_the_distance_between_class_means(num_classes, dim):
    ds = gaussian(num_classes=num_classes, n_per_class=400, dim=dim, separation=5.0, seed=1)
    means = np.stack([ds.x[ds.y == c].mean(0) for c in range(num_classes)])
    norms = np.linalg.norm(means, axis=1)
    np.testing.assert_allclose(norms, 5.0, atol=0.3)  # noise in a mean ~ sqrt(dim / 400)
    if num_classes <= dim:  # orthonormal directions: centres sqrt(2) * separation apart
        gaps = np.linalg.norm(means[:, None] - means[None], axis=-1)[
            np.triu_indices(num_classes, 1)
        ]
        np.testing.assert_allclose(gaps, 5.0 * np.sqrt(2), atol=0.5)
    still = gaussian(num_classes=num_classes, n_per_class=3, dim=dim, separation=5.0, noise=0.0)
    assert np.allclose(np.linalg.norm(still.x, axis=1), 5.0, atol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"dim": 0}, "dim"),
        ({"n_per_class": 0}, "n_per_class"),
        ({"noise": -1.0}, "noise"),
        ({"separation": float("inf")}, "separation"),
        ({"num_classes": 1}, "num_classes"),
    ],
)
def test_gaussian_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        gaussian(**kwargs)


def test_digits_is_embedded():
    ds = digits()
    assert ds.x.shape == (1797, 64) and ds.num_classes == 10 and ds.name == "digits"
    assert ds.class_counts().sum() == 1797
    assert ds.x.min() >= 0.0 and ds.x.max() == 1.0
    assert "no download" in ds.provenance


def test_load_dataset_digits_balanced_subset_standardized():
    ds = load_dataset("digits", n_per_class=20)
    assert ds.num_samples == 200 and ds.is_balanced()
    np.testing.assert_array_equal(ds.class_counts(), [20] * 10)
    np.testing.assert_allclose(ds.x.mean(0), 0.0, atol=1e-5)


def test_load_dataset_gaussian_passes_generator_arguments():
    ds = load_dataset("gaussian", num_classes=3, dim=5, n_per_class=4, seed=2, standardize=False)
    expected = balanced_subset(gaussian(num_classes=3, dim=5, seed=2), 4, seed=2)
    np.testing.assert_array_equal(ds.x, expected.x)
    assert ds.class_counts().tolist() == [4, 4, 4]


def test_load_dataset_rejects_bad_names_and_arguments():
    with pytest.raises(ValueError, match="name must be one of") as error:
        load_dataset("imagenet")
    assert all(name in str(error.value) for name in DATASETS)
    with pytest.raises(ValueError, match="gaussian generator"):
        load_dataset("digits", dim=3)
    with pytest.raises(ValueError, match="split must be 'train' for digits"):
        load_dataset("digits", split="test")
    with pytest.raises(ValueError, match="split must be one of"):
        load_dataset("mnist", split="validation")


# ---------------------------------------------------------------- MNIST-format IDX files


@pytest.mark.parametrize(("gz_images", "gz_labels"), [(False, False), (True, True), (True, False)])
def test_mnist_reads_idx_files_from_data_dir(tmp_path, gz_images, gz_labels):
    images, labels = write_mnist(tmp_path, "test", gz_images, gz_labels)
    ds = mnist(tmp_path, split="test")
    assert ds.x.shape == (12, 784) and ds.x.dtype == np.float32 and ds.name == "mnist-test"
    np.testing.assert_array_equal(ds.x, images.reshape(12, -1).astype(np.float32) / 255)
    np.testing.assert_array_equal(ds.y, labels)
    assert "t10k-images-idx3-ubyte" in ds.provenance


def test_fashion_mnist_found_through_the_environment_variable(tmp_path, monkeypatch):
    images, _ = write_mnist(tmp_path / "fashion_mnist", gz_images=True, gz_labels=True)
    monkeypatch.setenv(data.DATA_ENV_VAR, str(tmp_path))
    ds = fashion_mnist()
    np.testing.assert_array_equal(ds.x[3], images[3].ravel() / np.float32(255))
    assert str(tmp_path / "fashion_mnist") in ds.provenance
    standardized = load_dataset("fashion_mnist")  # the CLI entry point, through the same search
    assert standardized.num_samples == 12


def test_dataset_subdirectory_is_searched_before_the_root(tmp_path):
    write_mnist(tmp_path, n=10)
    write_mnist(tmp_path / "mnist", n=12)
    assert mnist(tmp_path).num_samples == 12


def test_missing_idx_files_list_names_and_searched_directories(tmp_path, monkeypatch):
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(mnist_arrays()[0]))  # labels absent
    with pytest.raises(FileNotFoundError) as error:
        mnist(tmp_path)
    message = str(error.value)
    for expected in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "data_dir"]:
        assert expected in message
    assert f"{tmp_path / 'mnist'}, {tmp_path}" in message
    with pytest.raises(FileNotFoundError, match=data.DATA_ENV_VAR):
        mnist()
    monkeypatch.setenv(data.DATA_ENV_VAR, str(tmp_path / "elsewhere"))
    with pytest.raises(FileNotFoundError, match="elsewhere"):
        mnist()


def test_truncated_idx_file_names_the_file_and_sizes(tmp_path):
    write_mnist(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    full = path.read_bytes()
    path.write_bytes(full[:-10])
    with pytest.raises(ValueError, match="truncated") as error:
        mnist(tmp_path)
    assert str(path) in str(error.value)
    assert str(len(full)) in str(error.value) and str(len(full) - 10) in str(error.value)
    path.write_bytes(full[:6])
    with pytest.raises(ValueError, match="header"):
        mnist(tmp_path)


def test_truncated_gzip_names_the_file(tmp_path):
    write_mnist(tmp_path, gz_labels=True)
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-12])
    with pytest.raises(ValueError, match="gzip") as error:
        mnist(tmp_path)
    assert str(path) in str(error.value)


def test_wrong_magic_and_count_mismatch(tmp_path):
    images, labels = mnist_arrays()
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(images))
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(labels[:, None], magic=0x0802))
    with pytest.raises(ValueError, match="magic number 0x00000802, expected 0x00000801"):
        mnist(tmp_path)
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(labels[:11]))
    with pytest.raises(ValueError, match="12 images but .* 11 labels"):
        mnist(tmp_path)


# ---------------------------------------------------------------- CIFAR-10 pickles


@pytest.mark.parametrize("subdir", ["cifar-10-batches-py", "cifar10/cifar-10-batches-py", ""])
def test_cifar10_reads_train_and_test_batches(tmp_path, subdir):
    batches = write_cifar(tmp_path / subdir)
    train, test = cifar10(tmp_path), cifar10(tmp_path, split="test")
    assert train.x.shape == (35, 3072) and test.x.shape == (7, 3072)
    assert train.x.dtype == np.float32 and train.name == "cifar10-train"
    expected = np.concatenate([batches[f][b"data"] for f in data.CIFAR_FILES["train"]]) / 255
    np.testing.assert_allclose(train.x, expected, atol=1e-7)
    np.testing.assert_array_equal(test.y, batches["test_batch"][b"labels"])


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b"this is not a pickle", "not a readable CIFAR-10 pickle"),
        (pickle.dumps(cifar_batch(7, 0))[:-40], "not a readable CIFAR-10 pickle"),
        (pickle.dumps({b"data": np.zeros((7, 3072), np.uint8)}), "keys b'data' and b'labels'"),
        (pickle.dumps({b"data": np.zeros((7, 10), np.uint8), b"labels": [0] * 7}), "3072"),
        (pickle.dumps({b"data": np.zeros((7, 3072), np.uint8), b"labels": [0] * 6}), "7 integers"),
    ],
)
def test_corrupt_cifar_batch_names_the_file(tmp_path, payload, match):
    write_cifar(tmp_path)
    (tmp_path / "data_batch_3").write_bytes(payload)
    with pytest.raises(ValueError, match=match) as error:
        cifar10(tmp_path)
    assert "data_batch_3" in str(error.value)


# ---------------------------------------------------------------- subsets and standardize


def test_balanced_subset_is_deterministic_and_ordered():
    ds = gaussian(num_classes=3, n_per_class=10, dim=2)
    a, b = balanced_subset(ds, 4, seed=1), balanced_subset(ds, 4, seed=1)
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, balanced_subset(ds, 4, seed=2).x)
    np.testing.assert_array_equal(a.y, np.repeat([0, 1, 2], 4))
    rows = [np.flatnonzero((ds.x == row).all(1))[0] for row in a.x]
    assert rows == sorted(rows)  # by class, then by original index


def test_balanced_subset_too_large_names_the_argument_and_class():
    ds = small_dataset()
    with pytest.raises(ValueError, match="n_per_class asks for 2 samples of class 0") as error:
        balanced_subset(ds, 2)
    assert "only 1" in str(error.value)
    with pytest.raises(ValueError, match="n_per_class must be an integer >= 1"):
        balanced_subset(ds, 0)


def test_class_subset_gives_the_requested_imbalance():
    ds = gaussian(num_classes=3, n_per_class=10, dim=2)
    sub = class_subset(ds, [10, 5, 1], seed=3)
    assert sub.class_counts().tolist() == [10, 5, 1] and not sub.is_balanced()
    with pytest.raises(ValueError, match="counts asks for 11 samples of class 2"):
        class_subset(ds, [1, 1, 11])
    with pytest.raises(ValueError, match="counts must give one count per class"):
        class_subset(ds, [1, 1])
    with pytest.raises(ValueError, match=r"counts\[1\] must be an integer >= 1"):
        class_subset(ds, [1, 0, 1])


def test_standardize_zero_mean_unit_std_and_constant_column_zero():
    x = np.column_stack([np.arange(6.0), np.full(6, 4.0), [1, 5, 2, 8, 3, 9]]).astype(np.float32)
    ds = standardize(Dataset(x, np.array([0, 1] * 3, np.int32), 2, "s", "test"))
    np.testing.assert_allclose(ds.x.mean(0), 0.0, atol=1e-6)
    np.testing.assert_allclose(ds.x.std(0), [1.0, 0.0, 1.0], atol=1e-6)
    assert ds.x.dtype == np.float32 and "standardized" in ds.provenance


# ---------------------------------------------------------------- download (fake fetch)


def fake_server(files: dict[str, bytes]):
    calls = []

    def fetch(url: str) -> bytes:
        calls.append(url)
        return files[url.rsplit("/", 1)[-1]]

    return fetch, calls


def digests(files: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.sha256(payload).hexdigest() for name, payload in files.items()}


def idx_archives() -> dict[str, bytes]:
    images, labels = mnist_arrays()
    out = {}
    for split in data.SPLITS:
        image_file, label_file = data.IDX_FILES[split]
        out[image_file + ".gz"] = gzip.compress(idx_bytes(images))
        out[label_file + ".gz"] = gzip.compress(idx_bytes(labels))
    return out


def test_checksum_table_covers_every_official_file():
    for name, urls in data.DOWNLOAD_URLS.items():
        assert set(urls) == set(data.SHA256[name])
        assert all(len(d) == 64 for d in data.SHA256[name].values() if d is not None)


def test_download_verifies_and_writes_atomically(tmp_path):
    files = idx_archives()
    fetch, calls = fake_server(files)
    target = download("mnist", tmp_path, checksums=digests(files), fetch=fetch)
    assert target == tmp_path / "mnist"
    assert sorted(os.listdir(target)) == sorted(files)  # no temporary file left behind
    assert calls == [data.DOWNLOAD_URLS["mnist"][name] for name in files]
    assert mnist(tmp_path, split="test").num_samples == 12
    download("mnist", tmp_path, checksums=digests(files), fetch=fetch)
    assert len(calls) == len(files)  # files already verified on disk are not fetched again


def test_download_refuses_a_digest_mismatch_and_writes_nothing(tmp_path):
    files = idx_archives()
    fetch, _ = fake_server(files)
    wrong = dict(digests(files), **{"train-images-idx3-ubyte.gz": "0" * 64})
    urls = {"train-images-idx3-ubyte.gz": "https://mirror.invalid/train-images-idx3-ubyte.gz"}
    with pytest.raises(ValueError, match="SHA-256 mismatch for train-images-idx3-ubyte.gz"):
        download("fashion_mnist", tmp_path, urls=urls, checksums=wrong, fetch=fetch)
    assert not (tmp_path / "fashion_mnist" / "train-images-idx3-ubyte.gz").exists()
    assert not list(tmp_path.rglob("*.part"))


def test_download_refuses_unknown_digests_before_fetching(tmp_path):
    fetch, calls = fake_server(idx_archives())
    unknown = dict.fromkeys(data.DOWNLOAD_URLS["mnist"])
    with pytest.raises(ValueError, match="no known SHA-256 digest.*checksums="):
        download("mnist", tmp_path, checksums=unknown, fetch=fetch)
    assert calls == [] and not (tmp_path / "mnist").exists()
    with pytest.raises(ValueError, match="need no download"):
        download("digits", tmp_path, fetch=fetch)


def test_download_extracts_the_cifar_archive(tmp_path):
    batches = write_cifar(tmp_path / "src" / "cifar-10-batches-py")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    files = {data.CIFAR_ARCHIVE: buffer.getvalue()}
    fetch, _ = fake_server(files)
    root = tmp_path / "root"
    download("cifar10", root, checksums=digests(files), fetch=fetch)
    test = load_dataset("cifar10", data_dir=root, split="test", standardize=False)
    np.testing.assert_allclose(test.x * 255, batches["test_batch"][b"data"], atol=1e-4)
