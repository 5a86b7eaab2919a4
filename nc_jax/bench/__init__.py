"""Benchmarks, kept out of the core package: no module of nc_jax imports them at load time
(``nc-jax bench`` loads them when the command runs).

- ``train``: the training benchmark, the engine against PyTorch (``nc-jax bench``; PyTorch is
  the optional ``bench`` extra and is imported only by the rows that use it);
- ``sweep``: the sweep benchmark, a width sweep against the engine alone
  (``nc-jax bench sweep``).
"""
