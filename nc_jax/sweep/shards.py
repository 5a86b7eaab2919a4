"""Shards of a sweep (``--shard i/n``, e.g. the tasks of a Slurm job array): share i of n of the
buckets, bucket b going to share ``b mod n``. Every shard writes into the same directory."""

from __future__ import annotations

from collections.abc import Sequence

from nc_jax.sweep.planning import Bucket


def my_buckets(buckets: Sequence[Bucket], shard: tuple[int, int] | None) -> list[Bucket]:
    """The buckets of share i of n (bucket b goes to share b mod n); all without ``shard``."""
    if shard is None:
        return list(buckets)
    index, count = shard
    return [b for b in buckets if b.index % count == index]


def parse_shard(text: str) -> tuple[int, int]:
    """``i/n`` -> (i, n) with 0 <= i < n."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard {text!r}: write i/n, e.g. --shard 0/4") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"--shard {text!r}: need 0 <= i < n")
    return index, count
