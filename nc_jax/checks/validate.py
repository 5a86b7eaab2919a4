"""Validation every paper's Setting shares: each raises a ``SettingError`` naming the field
(the command line turns it into the flag) before any training starts."""

from __future__ import annotations

from nc_jax.checks.contract import SettingError
from nc_jax.data import DATASETS, EMBEDDED_DATASETS, IMAGE_SHAPES, mnist5k_path


def check_steps(steps: int, log_every: int) -> None:
    """SettingError naming ``steps`` unless it is a positive multiple of ``log_every`` (the
    engine logs every ``log_every`` steps), checked before any training."""
    if log_every < 1 or steps < log_every or steps % log_every:
        raise SettingError("steps", f"must be a positive multiple of log_every ({log_every})")


def check_dataset(
    dataset: str, data_dir: str | None, *, images_for: tuple[str, str] | None = None
) -> None:
    """SettingError unless ``dataset`` is one of nc_jax.data.DATASETS, ``data_dir`` is given only
    for a file-based one, the package that ships mnist5k is installed when it is asked for, and,
    with ``images_for`` = (field, value) naming what needs them (e.g. ("backbone",
    "resnet20")), the dataset is made of images."""
    if dataset not in DATASETS:
        raise SettingError("dataset", f"must be one of {', '.join(DATASETS)}")
    if images_for is not None and dataset not in IMAGE_SHAPES:
        field, value = images_for
        raise SettingError(field, f"{value} needs images: dataset one of {', '.join(IMAGE_SHAPES)}")
    if data_dir is not None and dataset in EMBEDDED_DATASETS:
        raise SettingError("data_dir", f"{dataset} is embedded and reads no files: drop it")
    if dataset == "mnist5k":
        try:
            mnist5k_path()
        except FileNotFoundError as error:
            raise SettingError("dataset", str(error)) from None


def check_log_spacing(log_spacing: str) -> None:
    """SettingError naming ``log_spacing`` unless it is one the engine knows
    (nc_jax.train.config.LOG_SPACINGS)."""
    from nc_jax.train.config import LOG_SPACINGS

    if log_spacing not in LOG_SPACINGS:
        raise SettingError("log_spacing", f"must be one of {', '.join(LOG_SPACINGS)}")
