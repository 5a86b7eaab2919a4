"""``nc-jax falsify CHECK_ID``: try to break a consequence check.

A ``consequence`` check (nc_jax.checks.contract) is an inequality between quantities of one
network, proved from the paper's hypotheses: no trained network can refute it, only a bug or a
wrong derivation can. This module searches for that bug: over the instance families a paper
provides (``Paper.families``: random heads, near-balanced factorisations...), it runs vmapped
gradient ascent from many random starts on the check's own ``evaluate`` (traced with jax.numpy,
in float64), maximising how far the measurement goes past the bound, with every hypothesis as a
penalty. Every ``check_every`` steps each start is checked exactly as a run would be
(``nc_jax.checks.check`` in float64); only instances whose hypotheses all hold count.

The answer is the largest ratio found (measured / bound for an upper bound, bound / measured for
a lower bound): above 1 with the hypotheses holding is a counterexample (exit status 1), and the
report names the instance. Below 1 it says how close the search came: evidence about the
derivation's constants, not a proof.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nc_jax.checks.contract import Evaluation, Family, Hypothesis, Theorem, check

PENALTY = 100.0  # weight of a failing hypothesis against the relative excess of the bound


@dataclass(frozen=True)
class Attempt:
    """The search on one family: the best valid instance found (its ratio and quantities),
    how many checked instances satisfied every hypothesis, and the effort."""

    theorem_id: str
    family: str
    ratio: float
    quantities: Mapping[str, float] | None
    valid: int
    checked: int
    starts: int
    steps: int
    seconds: float


def excess(evaluation: Evaluation, relation: str) -> jax.Array:
    """How far the measurement goes past the bound, relative to it (> 0: violated)."""
    bound, measured = evaluation.bound, evaluation.measured
    gap = measured - bound if relation == "<=" else bound - measured
    return gap / (jnp.abs(bound) + 1e-12)


def hypothesis_shortfall(hypothesis: Hypothesis) -> jax.Array:
    """0 when the hypothesis holds, else how far it fails relative to its threshold (strict
    inequalities ask for a relative margin of 1e-6)."""
    value, threshold = hypothesis.value, hypothesis.threshold
    scale = jnp.abs(threshold) + 1.0
    margin = 1e-6 if hypothesis.relation in ("<", ">") else 0.0
    if hypothesis.relation in ("<=", "<"):
        return jax.nn.relu((value - threshold) / scale + margin)
    return jax.nn.relu((threshold - value) / scale + margin)


def objective(theorem: Theorem, family: Family, params: Any) -> jax.Array:
    """The ascent objective of one instance: excess minus PENALTY x the hypotheses' shortfall;
    a non-finite bound or measurement scores -1 (vacuous)."""
    evaluation = theorem.evaluate({**family.static, **family.quantities(params)})
    shortfall = sum(hypothesis_shortfall(h) for h in evaluation.hypotheses)
    score = excess(evaluation, theorem.relation)
    score = jnp.where(jnp.isfinite(score), score, -1.0)
    return score - PENALTY * shortfall


def ratio_of(relation: str, bound: float, measured: float) -> float:
    """measured / bound for an upper bound, bound / measured for a lower one (> 1: violated;
    inf when a positive lower bound meets a measurement <= 0)."""
    if relation == "<=":
        return measured / bound if bound > 0 else math.inf
    return bound / measured if measured > 0 else (math.inf if bound > 0 else 0.0)


def _ascent_direction(grads: Any) -> Any:
    """-grad with non-finite entries zeroed (an instance at the edge of a bound's domain)."""
    return jax.tree_util.tree_map(
        lambda g: -jnp.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0), grads
    )


def _ascent(theorem: Theorem, family: Family, learning_rate: float, chunk: int):
    """jit(vmap(chunk steps of Adam ascent)) over the starts."""
    optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(learning_rate))
    score_grad = jax.value_and_grad(lambda p: objective(theorem, family, p))

    def one_step(carry, _):
        params, state = carry
        _, grads = score_grad(params)
        updates, state = optimizer.update(_ascent_direction(grads), state)
        return (optax.apply_updates(params, updates), state), None

    def run(params, state):
        (params, state), _ = jax.lax.scan(one_step, (params, state), None, length=chunk)
        return params, state

    return optimizer, jax.jit(jax.vmap(run))


def _host_quantities(family: Family, measure: Any, batch: Any) -> list[dict[str, Any]]:
    """Every instance's quantities as Python floats (``measure``: jit(vmap(quantities)),
    compiled once per search)."""
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in measure(batch).items()}
    count = len(next(iter(arrays.values())))
    return [{**family.static, **{k: float(v[i]) for k, v in arrays.items()}} for i in range(count)]


def search(
    theorem: Theorem,
    family: Family,
    starts: int = 64,
    steps: int = 300,
    check_every: int = 50,
    learning_rate: float = 0.01,
    seed: int = 0,
) -> Attempt:
    """Vmapped gradient ascent from ``starts`` random instances of ``family`` for ``steps``
    steps; every ``check_every`` steps (and at the start) every instance is checked exactly."""
    if theorem.kind != "consequence":
        raise ValueError(f"{theorem.id} is a {theorem.kind}: only consequences can be falsified")
    began = time.perf_counter()
    with jax.enable_x64(True):
        params = jax.vmap(family.sample)(jax.random.split(jax.random.key(seed), starts))
        optimizer, advance = _ascent(theorem, family, learning_rate, check_every)
        state = jax.vmap(optimizer.init)(params)
        measure = jax.jit(jax.vmap(family.quantities))
        best, best_q, valid, checked = -math.inf, None, 0, 0
        for done in range(0, steps + 1, check_every):
            for q in _host_quantities(family, measure, params):
                result = check(theorem, q)
                checked += 1
                if result.verdict == "vacuous":
                    continue
                valid += 1
                ratio = ratio_of(theorem.relation, result.bound, result.measured)
                if ratio > best:
                    best, best_q = ratio, q
            if done < steps:
                params, state = advance(params, state)
    return Attempt(
        theorem.id,
        family.name,
        best if valid else math.nan,
        best_q,
        valid,
        checked,
        starts,
        steps,
        time.perf_counter() - began,
    )


def summarize(attempts: Sequence[Attempt]) -> list[dict[str, Any]]:
    """Per check: the largest ratio over the families, where it was found, valid / checked
    instances, starts x steps per family, and seconds."""
    rows = []
    for theorem_id in dict.fromkeys(a.theorem_id for a in attempts):
        mine = [a for a in attempts if a.theorem_id == theorem_id]
        found = [a for a in mine if not math.isnan(a.ratio)]
        top = max(found, key=lambda a: a.ratio) if found else None
        rows.append(
            {
                "check": theorem_id,
                "largest ratio": top.ratio if top else math.nan,
                "family": top.family if top else "-",
                "valid / checked": f"{sum(a.valid for a in mine)}/{sum(a.checked for a in mine)}",
                "starts x steps": f"{len(mine)} x {mine[0].starts} x {mine[0].steps}",
                "seconds": sum(a.seconds for a in mine),
            }
        )
    return rows


def format_table(attempts: Sequence[Attempt]) -> str:
    """The falsification table (what ``nc-jax falsify`` prints, docs/guides/falsify.md)."""
    rows = summarize(attempts)
    width = max(len("check"), *(len(r["check"]) for r in rows))
    lines = [
        f"{'check':<{width}} {'largest ratio':>13} {'valid/checked':>14} "
        f"{'families x starts x steps':>26} {'seconds':>8}  family of the largest"
    ]
    for r in rows:
        lines.append(
            f"{r['check']:<{width}} {r['largest ratio']:>13.4g} {r['valid / checked']:>14} "
            f"{r['starts x steps']:>26} {r['seconds']:>8.1f}  {r['family']}"
        )
    return "\n".join(lines)


def counterexamples(attempts: Sequence[Attempt]) -> list[Attempt]:
    """Attempts whose best valid instance breaks the bound beyond float64 rounding."""
    return [a for a in attempts if a.ratio > 1 + 1e-9]


def targets(patterns: Sequence[str]) -> list[tuple[Theorem, tuple[Family, ...]]]:
    """The consequence checks matching ``patterns`` (ids or prefixes such as ``jacot2025`` or
    ``jacot2025.thm3_1``), each with its paper's families; ValueError naming the argument."""
    from nc_jax.checks.contract import get_paper, load_registry, select

    chosen = select(load_registry(), patterns)
    consequences = [t for t in chosen if t.kind == "consequence"]
    if not consequences:
        kinds = ", ".join(f"{t.id} ({t.kind})" for t in chosen)
        raise ValueError(
            f"CHECK_ID: {kinds}: only a consequence can be falsified (an identity or a claim is "
            "tested by training runs: nc-jax check)"
        )
    pairs = []
    for theorem in consequences:
        paper = get_paper(theorem.id.split(".")[0])
        if not paper.families:
            raise ValueError(
                f"CHECK_ID: paper {paper.name} provides no instance families (Paper.families)"
            )
        pairs.append((theorem, paper.families))
    return pairs


def attempt_record(attempt: Attempt) -> dict[str, Any]:
    """A JSON-ready record of one attempt (non-finite ratios as strings)."""
    ratio = attempt.ratio if math.isfinite(attempt.ratio) else str(attempt.ratio)
    return {
        "check": attempt.theorem_id,
        "family": attempt.family,
        "largest_ratio": ratio,
        "instance": dict(attempt.quantities or {}),
        "valid": attempt.valid,
        "checked": attempt.checked,
        "starts": attempt.starts,
        "steps": attempt.steps,
        "seconds": attempt.seconds,
    }


def main(args: Any) -> int:
    """``nc-jax falsify``: exit 0 when no counterexample was found, 1 when one was."""
    import json
    import sys

    for flag, value in (("--starts", args.starts), ("--check-every", args.check_every)):
        if value < 1:
            raise ValueError(f"{flag} must be >= 1, got {value}")
    if args.steps < 0 or args.steps % args.check_every:
        raise ValueError(
            f"--steps must be a non-negative multiple of --check-every ({args.check_every}), "
            f"got {args.steps}"
        )
    attempts = []
    for theorem, families in targets(args.check_ids):
        found = [
            search(
                theorem,
                family,
                starts=args.starts,
                steps=args.steps,
                check_every=args.check_every,
                learning_rate=args.learning_rate,
                seed=args.seed,
            )
            for family in families
        ]
        attempts += found
        best = max((a.ratio for a in found if not math.isnan(a.ratio)), default=math.nan)
        print(f"{theorem.id}: largest ratio {best:.4g}", file=sys.stderr)
    print(format_table(attempts))
    broken = counterexamples(attempts)
    for attempt in broken:
        print(f"COUNTEREXAMPLE to {attempt.theorem_id} ({attempt.family}): ratio {attempt.ratio}")
        print(json.dumps(attempt.quantities, indent=1))
    if args.out:
        from nc_jax.io import write_json_atomic

        write_json_atomic(Path(args.out), [attempt_record(a) for a in attempts])
    return 1 if broken else 0
