"""Training benchmark: the same training job done three ways, timed after warm-up.

A job trains R networks of one shape (an MLP with ``num_nonlinear`` ReLU layers and a bias-free
linear head of ``num_linear`` layers, K = 10 outputs) on one shared training set of N Gaussian
samples with random labels: full-batch gradient descent on the MSE ``1/(2N) ||Z_L - Y||_F^2``
plus coupled weight decay ``lambda/2 ||theta||^2``, each run with its own learning rate. The
implementations, all started from the same float32 weights:

- ``engine``: nc_jax.train (jit(vmap(scan(steps)))), used as a user would, metrics off, the
  runs sharded over one JAX device per CPU core (``use_cpu_cores``, ``run_mesh``);
- ``engine+metrics``: the same with the layer-wise metrics measured every ``metrics_every`` steps
  (the in-loop cost of monitoring collapse);
- ``torch loop``: plain PyTorch, one network after another with ``torch.optim.SGD`` (what most
  neural-collapse code does);
- ``torch.func``: PyTorch ``vmap(grad(loss))`` over parameters stacked along a run axis.

FLOP convention: one step of one network on N samples counts ``6 N P`` floating-point
operations, P the number of parameters (weight and bias entries) of one network: ``2 N P`` for
the forward pass (a multiply and an add per weight and sample) and ``4 N P`` for the backward pass
(gradients of the activations and of the weights). Element-wise work (activations, loss, update)
is not counted, and the first layer's input gradient, which no implementation computes, is
counted anyway: the convention is the usual one, not an exact count. Achieved GFLOP/s is
``R * steps * 6 N P / seconds / 1e9``; the ceiling is the best measured float32 rate of one
large square matmul on the hardware JAX computes on (JAX and PyTorch, and NumPy on a CPU).

PyTorch is optional (``pip install 'nc-jax[bench]'``, the CPU build); without it only the JAX
rows are timed. When JAX runs on a GPU, PyTorch's rows run on the GPU too (``torch_device``),
with float32 matmuls in the same precision (``--matmul-precision``).

Usage: nc-jax bench (or python experiments/bench_train.py)
[--regime small|wide|wide_first|mnist_deep|all] [--repeats 3] [--skip-torch]
[--implementations engine,torch.func] [--runs-scale 16] [--device-report]
[--matmul-precision default|highest]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax.models.mlp import MLP
from nc_jax.train import TrainConfig, init_runs, make_data, run_mesh, train, use_cpu_cores

IMPLEMENTATIONS: tuple[str, ...] = ("engine", "engine+metrics", "torch loop", "torch.func")
TORCH_IMPLEMENTATIONS: tuple[str, ...] = ("torch loop", "torch.func")


FASTEST_TORCH = "fastest PyTorch"
METRICS_OVERHEAD = "metrics overhead"
LONG_RUN_STEPS = 20000  # the run length of the metrics target (issue 24)


@dataclass(frozen=True)
class Target:
    """A performance target of the engine, by ``against``:

    - an implementation's name: engine speed-up over it (its seconds / the engine's) >=
      threshold; ``FASTEST_TORCH``: the same over the faster of the two PyTorch rows;
    - "ceiling": engine GFLOP/s >= threshold x the matmul ceiling;
    - ``METRICS_OVERHEAD``: what the layer-wise metrics add to a ``LONG_RUN_STEPS``-step run
      logged geometrically from ``metrics_every`` (``long_run_overhead``) <= threshold.
    """

    against: str
    threshold: float

    @property
    def at_most(self) -> bool:
        """The value must stay at or below the threshold (else at or above)."""
        return self.against == METRICS_OVERHEAD

    def describe(self) -> str:
        if self.against == "ceiling":
            return f"engine >= {self.threshold:.0%} of the matmul ceiling"
        if self.against == METRICS_OVERHEAD:
            return (
                f"metrics add <= {self.threshold:.0%} to a {LONG_RUN_STEPS}-step run logged "
                "geometrically (from the measured cost of a log and of a step)"
            )
        return f"engine >= {self.threshold:g}x {self.against}"


WIDE_TARGETS = (
    Target(FASTEST_TORCH, 1.1),
    Target("ceiling", 0.8),
    Target(METRICS_OVERHEAD, 0.15),
)


@dataclass(frozen=True)
class Regime:
    """One benchmark job: ``runs`` networks, N = ``samples``, input ``input_dim``, hidden
    ``width`` (the first layer ``first_width`` when given: the wide first layer of Section 4),
    ``steps`` full-batch GD steps; run r has learning rate
    ``learning_rate * (0.5 + 0.5 r / (R - 1))`` and weight decay ``weight_decay``."""

    name: str
    runs: int
    samples: int
    input_dim: int
    width: int
    steps: int
    classes: int = 10
    num_nonlinear: int = 3
    num_linear: int = 3
    learning_rate: float = 0.01
    weight_decay: float = 5e-4
    metrics_every: int = 50
    targets: tuple[Target, ...] = ()
    first_width: int | None = None

    @property
    def model(self) -> MLP:
        """The MLP: widths (first_width or width, width, ..., width, K) (L entries), the last
        ``num_linear`` layers linear."""
        depth = self.num_nonlinear + self.num_linear
        hidden = (self.first_width or self.width,) + (self.width,) * (depth - 2)
        return MLP((*hidden, self.classes), num_linear=self.num_linear)

    def scaled(self, factor: int) -> Regime:
        """The same job with ``factor`` times the runs (the accelerator sizes of --runs-scale)."""
        return replace(self, runs=self.runs * factor)

    @property
    def params_per_model(self) -> int:
        return param_count(self.model, self.input_dim)

    @property
    def flops_per_step(self) -> int:
        """6 N P per network and step, times the number of networks (module docstring)."""
        return training_flops(self.samples, self.params_per_model, self.runs, steps=1)

    @property
    def flops(self) -> int:
        return self.flops_per_step * self.steps


REGIMES: dict[str, Regime] = {
    "small": Regime(
        "small",
        runs=64,
        samples=200,
        input_dim=32,
        width=64,
        steps=300,
        targets=(
            Target("torch.func", 1.5),
            Target("torch loop", 4.0),
            Target(METRICS_OVERHEAD, 0.15),
        ),
    ),
    "wide": Regime(
        "wide",
        runs=16,
        samples=1000,
        input_dim=64,
        width=256,
        steps=50,
        targets=WIDE_TARGETS,
    ),
    "wide_first": Regime(
        "wide_first",
        runs=8,
        samples=1000,
        input_dim=64,
        width=64,
        first_width=2048,
        num_nonlinear=2,
        steps=50,
        targets=WIDE_TARGETS,
    ),
    # the shapes of nc_jax/grids/jacot2025_deep_mlp.toml (Figure 1 on MNIST): 5 seeds of a
    # 9-layer MLP on N = 200 images of 784 pixels; the experiment's training rate is compared
    # with this row (docs/benchmarks.md, "The MNIST experiments: wall time and throughput")
    "mnist_deep": Regime(
        "mnist_deep",
        runs=5,
        samples=200,
        input_dim=784,
        width=64,
        first_width=256,
        num_nonlinear=5,
        num_linear=4,
        steps=1000,
    ),
}


def param_count(model: MLP, input_dim: int) -> int:
    """Weight and bias entries of one network: sum over layers of n_l n_{l-1} (+ n_l)."""
    fan_ins = (input_dim, *model.widths[:-1])
    return sum(
        fan_out * fan_in + (fan_out if model._has_bias(layer) else 0)
        for layer, (fan_in, fan_out) in enumerate(zip(fan_ins, model.widths))
    )


def training_flops(samples: int, params: int, runs: int = 1, steps: int = 1) -> int:
    """The FLOP convention: 6 N P per network and full-batch step."""
    return 6 * samples * params * runs * steps


class Problem(NamedTuple):
    """The shared inputs of every implementation (NumPy, float32).

    Attributes:
        x: (N, D) Gaussian inputs; y: (N,) balanced random labels; targets: (N, K) one-hot.
        weights: initial weights, one (R, n_l, n_{l-1}) array per layer (the engine's init).
        learning_rates, weight_decays: (R,) per-run hyperparameters.
    """

    x: np.ndarray
    y: np.ndarray
    targets: np.ndarray
    weights: list[np.ndarray]
    learning_rates: np.ndarray
    weight_decays: np.ndarray


def make_problem(regime: Regime, seed: int = 0) -> Problem:
    """Data, per-run hyperparameters and the engine's initial weights of every run (seeds
    seed .. seed + R - 1), cast to float32 for all implementations."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((regime.samples, regime.input_dim)).astype(np.float32)
    y = rng.permutation(np.arange(regime.samples) % regime.classes).astype(np.int32)
    targets = np.eye(regime.classes, dtype=np.float32)[y]
    spread = np.linspace(0.5, 1.0, regime.runs) if regime.runs > 1 else np.ones(1)
    lrs = (regime.learning_rate * spread).astype(np.float32)
    wds = np.full(regime.runs, regime.weight_decay, np.float32)
    state = init_runs(
        regime.model,
        _config(regime, False),
        regime.input_dim,
        lrs,
        wds,
        seed + np.arange(regime.runs),
    )
    weights = [np.asarray(layer["w"], np.float32) for layer in state.params]
    return Problem(x, y, targets, weights, lrs, wds)


def _config(regime: Regime, metrics: bool) -> TrainConfig:
    log_every = min(regime.metrics_every, regime.steps) if metrics else regime.steps
    return TrainConfig(steps=regime.steps, log_every=log_every, reduction="mean", metrics=metrics)


def mse_objective(problem: Problem, weights: Sequence[np.ndarray], num_nonlinear: int):
    """Per-run data loss 1/(2N) ||Z_L - Y||^2 of stacked weights (float64 NumPy), shape (R,)."""
    z = np.broadcast_to(problem.x.astype(np.float64), (weights[0].shape[0], *problem.x.shape))
    for layer, w in enumerate(weights):
        z = z @ np.swapaxes(w.astype(np.float64), 1, 2)
        if layer < num_nonlinear:
            z = np.maximum(z, 0.0)
    return 0.5 * np.sum((z - problem.targets) ** 2, axis=(1, 2)) / problem.x.shape[0]


Trainer = Callable[[], list[np.ndarray]]


def engine_trainer(regime: Regime, problem: Problem, metrics: bool = False) -> Trainer:
    """nc_jax.train on all runs at once, the run axis sharded over the devices (run_mesh: one
    per CPU core after use_cpu_cores); returns the final weights [(R, n_l, n_{l-1})]."""
    model, config = regime.model, _config(regime, metrics)
    data = make_data(problem.x, problem.y, regime.classes)
    state = init_runs(
        model,
        config,
        regime.input_dim,
        problem.learning_rates,
        problem.weight_decays,
        np.arange(regime.runs),
    )
    state = state._replace(params=[{"w": jnp.asarray(w)} for w in problem.weights])

    mesh = run_mesh(regime.runs)

    def run() -> list[np.ndarray]:
        result = train(model, config, data, state, mesh=mesh)
        return [np.asarray(jax.block_until_ready(layer["w"])) for layer in result.state.params]

    return run


def torch_device() -> str:
    """The PyTorch device matching JAX's: "cuda" when JAX runs on a GPU and PyTorch sees one,
    else "cpu", so that both sides of every ratio run on the same hardware."""
    import torch

    return "cuda" if jax.default_backend() == "gpu" and torch.cuda.is_available() else "cpu"


def _torch_inputs(torch, problem: Problem):
    """(device, x (N, D), one-hot targets (N, K)) as PyTorch tensors on torch_device()."""
    device = torch_device()
    return device, *(torch.from_numpy(a).to(device) for a in (problem.x, problem.targets))


def _torch_forward(torch, weights, x, num_nonlinear: int):
    z = x
    for layer, w in enumerate(weights):
        z = z @ w.T
        if layer < num_nonlinear:
            z = torch.relu(z)
    return z


def torch_loop_trainer(regime: Regime, problem: Problem) -> Trainer:
    """Plain PyTorch: one network after another, ``torch.optim.SGD(lr, weight_decay)``."""
    import torch

    device, x, targets = _torch_inputs(torch, problem)

    def run() -> list[np.ndarray]:
        finals = []
        for r in range(regime.runs):
            weights = [
                torch.tensor(w[r], device=device, requires_grad=True) for w in problem.weights
            ]
            optimizer = torch.optim.SGD(
                weights,
                lr=float(problem.learning_rates[r]),
                weight_decay=float(problem.weight_decays[r]),
            )
            for _ in range(regime.steps):
                optimizer.zero_grad(set_to_none=True)
                output = _torch_forward(torch, weights, x, regime.num_nonlinear)
                loss = 0.5 * torch.sum((output - targets) ** 2) / x.shape[0]
                loss.backward()
                optimizer.step()
            finals.append([w.detach().cpu().numpy() for w in weights])
        return [np.stack(layer) for layer in zip(*finals)]

    return run


def torch_func_trainer(regime: Regime, problem: Problem) -> Trainer:
    """PyTorch ``torch.func.vmap(grad(loss))`` over weights stacked along the run axis."""
    import torch
    from torch.func import grad, vmap

    device, x, targets = _torch_inputs(torch, problem)
    lrs = torch.from_numpy(problem.learning_rates).to(device)[:, None, None]
    wds = torch.from_numpy(problem.weight_decays).to(device)[:, None, None]

    def loss(weights, x, targets):
        output = _torch_forward(torch, weights, x, regime.num_nonlinear)
        return 0.5 * torch.sum((output - targets) ** 2) / x.shape[0]

    batched_grad = vmap(grad(loss), in_dims=(0, None, None))

    def run() -> list[np.ndarray]:
        weights = [torch.tensor(w, device=device) for w in problem.weights]
        for _ in range(regime.steps):
            grads = batched_grad(weights, x, targets)
            with torch.no_grad():
                for w, g in zip(weights, grads):
                    w.sub_(lrs * (g + wds * w))
        return [w.cpu().numpy() for w in weights]

    return run


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def make_trainer(name: str, regime: Regime, problem: Problem) -> Trainer:
    """The trainer of implementation ``name`` (one of IMPLEMENTATIONS)."""
    if name == "engine":
        return engine_trainer(regime, problem)
    if name == "engine+metrics":
        return engine_trainer(regime, problem, metrics=True)
    if name == "torch loop":
        return torch_loop_trainer(regime, problem)
    if name == "torch.func":
        return torch_func_trainer(regime, problem)
    raise ValueError(f"implementation must be one of {IMPLEMENTATIONS}, got {name!r}")


def best_time(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> float:
    """Best wall time of ``repeats`` calls of fn after ``warmup`` untimed calls (fn blocks)."""
    for _ in range(warmup):
        fn()
    best = np.inf
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def default_matmul_size() -> int:
    """The square size of the ceiling's matmul: 2048 on a CPU, 8192 on an accelerator (smaller
    products do not fill a GPU)."""
    return 2048 if jax.default_backend() == "cpu" else 8192


def jax_matmul_rate(size: int, repeats: int = 5) -> float:
    """GFLOP/s of one jitted float32 (size, size) x (size, size) JAX matmul (2 size^3 FLOPs) on
    JAX's default device, the best of ``repeats`` after warm-up."""
    key_a, key_b = jax.random.split(jax.random.PRNGKey(0))
    a = jax.random.normal(key_a, (size, size), jnp.float32)
    b = jax.random.normal(key_b, (size, size), jnp.float32)
    matmul = jax.jit(jnp.matmul)
    return 2 * size**3 / best_time(lambda: matmul(a, b).block_until_ready(), repeats) / 1e9


COPY_MEGABYTES, COPY_REPEATS = 256, 5  # the array copy_bandwidth times, and how often


def copy_bandwidth(megabytes: int = COPY_MEGABYTES, repeats: int = COPY_REPEATS) -> float:
    """Bytes per second of one jitted float32 copy of a ``megabytes`` array on JAX's default
    device (each byte read once and written once: 2 x the array's bytes per copy), the best of
    ``repeats`` after warm-up: the memory bandwidth a step's traffic is moved at."""
    count = megabytes * 2**20 // 4
    source = jnp.arange(count, dtype=jnp.float32)
    copy = jax.jit(lambda a: a * 1.0 + 0.0)  # one read and one write per element
    return 2 * 4 * count / best_time(lambda: copy(source).block_until_ready(), repeats)


def step_bytes(regime: Regime) -> int:
    """The bytes one GD step of ``regime`` must move between memory and the processor, counted
    from the shapes (float32, per step, all runs; the input stays in place and is read once):

    - parameters: read by the forward pass, read again by the backward pass (the input
      gradients), read and written by the update: 4 P;
    - gradients: written by the backward pass, read by the update: 2 P;
    - optimiser state: none for plain GD (momentum would add 2 P, Adam 4 P);
    - activations: every layer's output (N n_l) written by the forward pass and read by the
      backward pass: 2 A, A = N sum_l n_l;
    - the inputs: N D, read once.
    """
    params = regime.params_per_model
    activations = regime.samples * sum(regime.model.widths)
    per_model = 4 * params + 2 * params + 2 * activations + regime.samples * regime.input_dim
    return 4 * regime.runs * per_model


def roofline_fraction(regime: Regime, seconds: float, peak_gflops: float, bandwidth: float):
    """(arithmetic intensity in FLOP per byte, the engine's fraction of the roofline): the
    roofline time of a step is max(FLOPs / matmul peak, bytes / copy bandwidth), and the
    fraction is roofline time / measured time per step."""
    flops, moved = regime.flops_per_step, step_bytes(regime)
    bound = max(flops / (peak_gflops * 1e9), moved / bandwidth)
    return flops / moved, bound / (seconds / regime.steps)


def matmul_ceiling(
    size: int | None = None, repeats: int = 5, use_torch: bool = True
) -> dict[str, float]:
    """Float32 GFLOP/s of one (size, size) x (size, size) matmul on the hardware the engine runs
    on (size: default_matmul_size()): JAX, PyTorch on torch_device() (when installed and
    ``use_torch``) and, on a CPU only, NumPy (elsewhere it would measure the host instead)."""
    size = size or default_matmul_size()
    rates = {"jax": jax_matmul_rate(size, repeats)}
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size)).astype(np.float32) for _ in range(2))
    flops = 2 * size**3
    if jax.default_backend() == "cpu":
        rates["numpy"] = flops / best_time(lambda: a @ b, repeats) / 1e9
    if use_torch and torch_available():
        import torch

        device = torch_device()
        ta, tb = (torch.from_numpy(m).to(device) for m in (a, b))

        def torch_matmul():
            out = ta @ tb
            if device == "cuda":
                torch.cuda.synchronize()
            return out

        rates["torch"] = flops / best_time(torch_matmul, repeats) / 1e9
    return rates


def run_benchmark(
    regimes: Sequence[Regime] = tuple(REGIMES.values()),
    repeats: int = 3,
    skip_torch: bool = False,
    ceiling_size: int | None = None,
    implementations: Sequence[str] = IMPLEMENTATIONS,
    report: Callable[[str], Any] | None = None,
) -> dict[str, Any]:
    """Time every implementation on every regime; ``report`` (e.g. print) is called with a line
    as each row is timed, so that a long benchmark shows where it is.

    Returns {"torch": bool (the torch rows ran), "ceiling": {backend: GFLOP/s, "best": ...},
    "ceiling_size": the ceiling's matrix size, "regimes": {name: {"regime": Regime, "flops":
    total FLOPs, "rows": {implementation: {"seconds", "gflops", "speedup" (its seconds / the
    engine's)}}, "targets": [{"target", "value", "passed"} ...], "final_loss":
    {implementation: (R,) float64}}}}.
    """
    use_torch = not skip_torch and torch_available()
    names = [n for n in implementations if use_torch or n not in TORCH_IMPLEMENTATIONS]
    ceiling_size = ceiling_size or default_matmul_size()
    ceiling = matmul_ceiling(ceiling_size, use_torch=use_torch)
    ceiling["best"] = max(ceiling.values())
    results: dict[str, Any] = {
        "torch": use_torch,
        "ceiling": ceiling,
        "ceiling_size": ceiling_size,
        "regimes": {},
    }
    for regime in regimes:
        problem = make_problem(regime)
        rows, final_loss = {}, {}
        for name in names:
            trainer = make_trainer(name, regime, problem)
            weights = trainer()  # warm-up (compilation) and the weights to check
            seconds = best_time(trainer, repeats, warmup=0)
            rows[name] = {"seconds": seconds, "gflops": regime.flops / seconds / 1e9}
            if report is not None:
                report(f"timed {regime.name} / {name}: {seconds:.3f} s")
            final_loss[name] = mse_objective(problem, weights, regime.num_nonlinear)
        for row in rows.values():
            row["speedup"] = (
                row["seconds"] / rows["engine"]["seconds"] if "engine" in rows else None
            )
        results["regimes"][regime.name] = {
            "regime": regime,
            "flops": regime.flops,
            "rows": rows,
            "targets": [_check(t, rows, ceiling["best"], regime) for t in regime.targets],
            "final_loss": final_loss,
        }
    return results


def timed_logs(regime: Regime) -> int:
    """The metric logs of the timed engine+metrics job: every ``metrics_every`` steps and the
    step-0 log."""
    return _config(regime, metrics=True).num_logs + 1


def long_run_logs(regime: Regime) -> int:
    """The metric logs of a ``LONG_RUN_STEPS``-step run of ``regime`` logged geometrically from
    ``metrics_every`` (TrainConfig's 100 geometric logs, rounded), with the step-0 log."""
    config = TrainConfig(
        steps=LONG_RUN_STEPS, log_every=regime.metrics_every, log_spacing="geometric"
    )
    return config.num_logs + 1


def long_run_overhead(regime: Regime, rows: dict[str, dict]) -> float:
    """What the metrics add to a ``LONG_RUN_STEPS``-step run logged geometrically, from the
    timed rows: the cost of one log, (engine+metrics - engine seconds) / ``timed_logs``, times
    ``long_run_logs``, over the engine's seconds per step times ``LONG_RUN_STEPS``."""
    engine, metrics = rows["engine"]["seconds"], rows["engine+metrics"]["seconds"]
    per_log = (metrics - engine) / timed_logs(regime)
    per_step = engine / regime.steps
    return long_run_logs(regime) * per_log / (LONG_RUN_STEPS * per_step)


def _check(target: Target, rows: dict[str, dict], ceiling: float, regime: Regime) -> dict[str, Any]:
    """Evaluate one target; value None when a needed row was not timed."""
    torch_rows = [rows[n]["seconds"] for n in TORCH_IMPLEMENTATIONS if n in rows]
    needed = {
        "ceiling": ["engine"],
        FASTEST_TORCH: ["engine"] + ([] if torch_rows else ["torch"]),
        METRICS_OVERHEAD: ["engine", "engine+metrics"],
    }.get(target.against, ["engine", target.against])
    if any(name not in rows for name in needed):
        return {"target": target, "value": None, "passed": None}
    engine = rows["engine"]["seconds"]
    if target.against == "ceiling":
        value = rows["engine"]["gflops"] / ceiling
    elif target.against == FASTEST_TORCH:
        value = min(torch_rows) / engine
    elif target.against == METRICS_OVERHEAD:
        value = long_run_overhead(regime, rows)
    else:
        value = rows[target.against]["seconds"] / engine
    passed = value <= target.threshold if target.at_most else value >= target.threshold
    return {"target": target, "value": value, "passed": passed}


def format_results(results: dict[str, Any]) -> str:
    """The printed report: the ceiling, then per regime a table of implementations (seconds,
    GFLOP/s, % of ceiling, engine speed-up = its seconds / the engine's) and the targets."""
    ceiling = results["ceiling"]
    backends = ", ".join(f"{k} {v:.0f}" for k, v in ceiling.items() if k != "best")
    lines = [f"float32 matmul ceiling: {ceiling['best']:.0f} GFLOP/s ({backends})"]
    if not results["torch"]:
        lines.append(
            "PyTorch rows skipped (not installed or --skip-torch): pip install 'nc-jax[bench]'"
        )
    for name, entry in results["regimes"].items():
        regime = entry["regime"]
        lines += [
            "",
            f"{name}: {regime.runs} models, N = {regime.samples}, input {regime.input_dim}, "
            f"width {regime.width}"
            + (f" (first layer {regime.first_width})" if regime.first_width else "")
            + f", depth {regime.num_nonlinear + regime.num_linear} "
            f"({regime.num_linear}-layer linear head), {regime.steps} steps; "
            f"{regime.params_per_model} params/model, {entry['flops'] / 1e9:.1f} GFLOP",
            f"  {'implementation':<16}{'seconds':>9}{'GFLOP/s':>9}{'% ceil':>8}{'engine x':>10}",
        ]
        for impl, row in entry["rows"].items():
            speedup = "" if row["speedup"] is None else f"{row['speedup']:.2f}"
            lines.append(
                f"  {impl:<16}{row['seconds']:>9.3f}{row['gflops']:>9.1f}"
                f"{row['gflops'] / ceiling['best']:>8.0%}{speedup:>10}"
            )
        for check in entry["targets"]:
            target = check["target"]
            if check["value"] is None:
                verdict = "n/a (row not timed)"
            else:
                shown = (
                    f"{check['value']:.0%}"
                    if target.against in ("ceiling", METRICS_OVERHEAD)
                    else f"{check['value']:.2f}x"
                )
                verdict = f"{shown} {'PASS' if check['passed'] else 'MISS'}"
                untimed = [n for n in TORCH_IMPLEMENTATIONS if n not in entry["rows"]]
                if target.against == FASTEST_TORCH and untimed:
                    verdict += f" ({', '.join(untimed)} not timed)"
            lines.append(f"  target: {target.describe()}: {verdict}")
    return "\n".join(lines)


MATMUL_PRECISIONS: tuple[str, ...] = ("default", "highest")


def set_matmul_precision(precision: str) -> None:
    """Set the float32 matmul precision of JAX and (when installed) PyTorch for this process.

    "default": JAX's platform default (TF32 tensor cores on NVIDIA GPUs since Ampere, full
    float32 on a CPU) and PyTorch's "high" (TF32 where available), the same arithmetic;
    "highest": true float32 in both. A CPU computes in float32 either way.
    """
    if precision not in MATMUL_PRECISIONS:
        raise ValueError(f"precision must be one of {MATMUL_PRECISIONS}, got {precision!r}")
    jax.config.update("jax_default_matmul_precision", None if precision == "default" else "highest")
    if torch_available():
        import torch

        torch.set_float32_matmul_precision("high" if precision == "default" else "highest")


def format_device_report(results: dict[str, Any]) -> str:
    """The --device-report lines: the device kind, its peak (the ceiling's JAX matmul rate, on
    JAX's default device), its copy bandwidth (``results["bandwidth"]``, bytes/s) and, per
    regime, the engine's GFLOP/s, its fraction of that peak, the bytes a step moves
    (``step_bytes``), its arithmetic intensity, its fraction of the roofline
    (``roofline_fraction``: for these shapes the bound is often the bandwidth, not the FLOPs)
    and the models trained per hour."""
    device, size, rate = jax.devices()[0], results["ceiling_size"], results["ceiling"]["jax"]
    count = len(jax.devices())
    lines = [
        "",
        f"device report: {count} x {device.platform} {device.device_kind}; peak float32 matmul "
        f"(JAX, {size} x {size}, best of 5, matmul precision "
        f"{jax.config.jax_default_matmul_precision or 'platform default'}): {rate:.0f} GFLOP/s",
    ]
    bandwidth = results["bandwidth"]
    lines.append(
        f"copy bandwidth (JAX, a {COPY_MEGABYTES} MiB float32 array read and written, best of "
        f"{COPY_REPEATS}): "
        f"{bandwidth / 1e9:.1f} GB/s; ridge {rate * 1e9 / bandwidth:.0f} FLOP/byte"
    )
    for name, entry in results["regimes"].items():
        row = entry["rows"].get("engine")
        if row is None:
            continue
        regime = entry["regime"]
        per_hour = regime.runs * 3600.0 / row["seconds"]
        intensity, fraction = roofline_fraction(regime, row["seconds"], rate, bandwidth)
        lines.append(
            f"  {name}: engine {row['gflops']:.1f} GFLOP/s = {row['gflops'] / rate:.0%} of the "
            f"device peak; {step_bytes(regime) / 2**20:.1f} MiB a step, {intensity:.0f} "
            f"FLOP/byte, {fraction:.0%} of the roofline; {per_hour:,.0f} models/hour "
            f"({regime.runs} models x {regime.steps} steps each)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: run the benchmark and print the tables; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regime", choices=(*REGIMES, "all"), default="all")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (best is kept)")
    parser.add_argument("--skip-torch", action="store_true", help="time only the JAX rows")
    parser.add_argument(
        "--device-report",
        action="store_true",
        help="also print the device kind, its measured matmul peak and the engine's share",
    )
    parser.add_argument(
        "--runs-scale",
        type=int,
        default=1,
        help="multiply every regime's number of models (e.g. 16 on a GPU: 1024 small models)",
    )
    parser.add_argument(
        "--implementations",
        default=",".join(IMPLEMENTATIONS),
        help="comma-separated rows to time, of "
        + ", ".join(IMPLEMENTATIONS)
        + " (e.g. leave out 'torch loop' at large --runs-scale: it trains one model at a time)",
    )
    parser.add_argument(
        "--matmul-precision",
        choices=MATMUL_PRECISIONS,
        default="default",
        help="float32 matmuls: 'default' is each platform's default, which on recent NVIDIA GPUs "
        "is TF32 in JAX (PyTorch is set to match); 'highest' is true float32 in both",
    )
    args = parser.parse_args(argv)
    implementations = [name.strip() for name in args.implementations.split(",") if name.strip()]
    unknown = sorted(set(implementations) - set(IMPLEMENTATIONS))
    if unknown or not implementations:
        parser.error(
            f"--implementations takes a comma-separated list of {', '.join(IMPLEMENTATIONS)}; "
            f"got {args.implementations!r}"
        )
    if args.runs_scale < 1:
        parser.error(f"--runs-scale must be a positive integer, got {args.runs_scale}")
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    cores = use_cpu_cores()
    if not args.skip_torch and not torch_available():
        print("PyTorch is not installed: timing only the JAX rows (pip install 'nc-jax[bench]')")
    names = list(REGIMES) if args.regime == "all" else [args.regime]
    regimes = [REGIMES[name].scaled(args.runs_scale) for name in names]
    print(f"jax {jax.__version__}: {cores} CPU device(s), one per core (use_cpu_cores)")
    set_matmul_precision(args.matmul_precision)
    results = run_benchmark(
        regimes,
        repeats=args.repeats,
        skip_torch=args.skip_torch,
        implementations=implementations,
        report=lambda line: print(line, flush=True),
    )
    print(format_results(results))
    if args.device_report:
        results["bandwidth"] = copy_bandwidth()
        print(format_device_report(results))
    return 0
