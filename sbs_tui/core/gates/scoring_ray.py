"""The Ray engine of ``sbs score``: the same gates, config and output as the local engine, on a Ray cluster.

Why Ray Data with actor pools: the expensive part of a gate is loading its model, so each worker (an actor)
builds its scorer once and then scores batch after batch; Ray Data streams blocks of input to the pool, keeps
the pool busy, retries a batch whose worker died (a restarted actor rebuilds its scorers), and hands results
back as they finish. ``preserve_order`` makes them come back in input order, so the output file is the same,
byte for byte, as the local engine's, and a killed run resumes by the same rule (rows already in ``--out`` are
not sent again).

One actor pool per gate: each gate's model loads once per worker of its own pool, a gate whose options say
``device = "cuda"`` gets actors that each ask for a GPU while the CPU gates share the CPUs, and each pool adds
its gate's column to the rows as they stream through.

What stays on the driver: reading and validating the input (the importers' rules, shared with the local
engine: a bad row is an error before anything is scored) and writing the output. Only the three fields a scorer
sees (prompt, output, reference) travel to the workers; results come back as JSON text (arbitrary ``details``
objects do not fit a columnar schema, and JSON keeps NaN as NaN, exactly as the local engine has it).

Ray is an optional extra (``pip install "sbs-tui[ray]"``), imported only here and only when asked for.
``address`` joins a running cluster (``ray://HOST:10001`` or ``auto``); without it a local Ray starts on this
machine.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sbs_tui.core.gates.policy import GateConfig, Outcome
from sbs_tui.errors import InputError


def import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise InputError('--engine ray needs Ray: pip install "sbs-tui[ray]" (or "ray[data]")') from exc
    return ray


class GateWorker:
    """One Ray actor of one gate's pool: builds that gate's scorer once, then scores the batches it is given and
    adds a column with the gate's verdict on each row (score, details, and the reason when it blocks)."""

    def __init__(self, gate: GateConfig, column: str, plugins: dict[str, str], source: str | None = None):
        from sbs_tui.core.gates.runner import GateRunner
        from scorers.base import REGISTRY

        for name, target in plugins.items():
            if name not in REGISTRY:
                REGISTRY.register(name, target, origin="forwarded by the driver")
        self.column = column
        # Languages are settled once on the driver, over every gate (a single gate cannot say what is uncovered).
        self.runner = GateRunner([gate], source=source, identify_languages=False, uncovered="pass")
        self.runner.scorer(gate)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        from scorers.base import ScoreItem

        n = len(batch["index"])
        if any(batch["error"]):  # an earlier gate failed on this batch: pass it on untouched
            return {**batch, self.column: [""] * n}
        items = [ScoreItem(str(p), str(o), str(r) if r else None)
                 for p, o, r in zip(batch["prompt"], batch["output"], batch["reference"])]
        try:
            outcomes = self.runner.evaluate(items)
        except InputError as exc:
            # Ray would send back only a traceback's text; the driver raises this as the local engine would.
            error = json.dumps({"message": exc.message, "file": exc.file, "line": exc.line, "field": exc.field})
            return {**batch, self.column: [""] * n, "error": [error] * n}
        return {**batch, self.column: [json.dumps({"scores": o.scores, "details": o.details, "reasons": o.reasons},
                                                  ensure_ascii=False, default=str) for o in outcomes]}


def merge_outcomes(parts: Sequence[str]) -> Outcome:
    """One row's outcome from each gate's column, in gate order (the order the local engine fills them in)."""
    outcome = Outcome()
    for part in parts:
        one = json.loads(part)
        outcome.scores.update(one["scores"])
        outcome.details.update(one["details"])
        outcome.reasons.extend(one["reasons"])
    return outcome


def wants_gpu(gate: GateConfig) -> bool:
    return str(gate.options.get("device", "")).startswith("cuda")


def forwarded_plugins() -> dict[str, str]:
    """Scorers registered in this process by name → "module:attr", so workers can register them too
    (entry-point plug-ins are installed on the workers and found there by themselves)."""
    from scorers.base import REGISTRY

    return {e.name: e.target for e in REGISTRY.entries() if e.origin == "builtin" and ":" in e.target
            and not e.target.startswith("scorers.")}


def score_with_ray(gates: Sequence[GateConfig], items: Sequence[tuple[str, str, str | None]], *,
                   batch_size: int = 64, address: str | None = None, workers: int | None = None,
                   source: str | None = None, log: Callable[[str], None] | None = None
                   ) -> Iterator[list[tuple[int, Outcome]]]:
    """Score ``items`` (prompt, output, reference) on Ray; yield ``(index, outcome)`` lists in input order, one
    list per finished batch."""
    if not items:
        return
    ray = import_ray()
    started_here = False
    if not ray.is_initialized():
        _init(ray, address)
        started_here = True
    try:
        from ray.data import ActorPoolStrategy, DataContext

        context = DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        resources = ray.cluster_resources()
        cpus, gpus = float(resources.get("CPU", 1)), int(resources.get("GPU", 0))
        cpu_gates = [g for g in gates if not wants_gpu(g)]
        if gpus == 0 and len(cpu_gates) < len(gates):
            gate = next(g for g in gates if wants_gpu(g))
            raise InputError("asks for device \"cuda\" but the Ray cluster has no GPU", file=source,
                             field=f"gates.{gate.name}.device")
        size = workers or max(1, int(cpus))
        # every pool's actors must fit at once, or a later gate's pool would wait for an earlier one forever
        cpu_share = min(1.0, cpus / max(1, size * len(cpu_gates)))
        if log:
            log(f"ray: one actor pool per gate ({len(gates)}), {size} worker(s) each, on {int(cpus)} CPU(s) and "
                f"{gpus} GPU(s); {len(items):,} generation(s) in batches of {batch_size}")
        rows = [{"index": i, "prompt": p, "output": o, "reference": r or "", "error": ""}
                for i, (p, o, r) in enumerate(items)]
        blocks = max(1, min(len(rows) // batch_size + 1, 4 * size * 8))
        dataset = ray.data.from_items(rows, override_num_blocks=blocks)
        plugins = forwarded_plugins()
        columns = []
        for k, gate in enumerate(gates):
            column = f"gate_{k}"
            columns.append(column)
            gpu = wants_gpu(gate)
            dataset = dataset.map_batches(
                GateWorker, fn_constructor_kwargs={"gate": gate, "column": column, "plugins": plugins,
                                                   "source": source},
                batch_size=batch_size, batch_format="numpy",
                compute=ActorPoolStrategy(size=(workers or max(1, gpus)) if gpu else size),
                num_cpus=0 if gpu else cpu_share, num_gpus=1 if gpu else 0)
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            failed = next((e for e in batch["error"] if e), None)
            if failed:
                raise InputError(**json.loads(failed))
            yield [(int(i), merge_outcomes([batch[c][j] for c in columns])) for j, i in enumerate(batch["index"])]
    finally:
        if started_here:
            ray.shutdown()


def _init(ray: Any, address: str | None) -> None:
    """Join ``address`` or start a local Ray whose workers import this same code (the driver's path first)."""
    import sbs_tui

    root = str(Path(sbs_tui.__file__).resolve().parents[1])
    paths = [root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != root]
    runtime_env = {"env_vars": {"PYTHONPATH": os.pathsep.join(paths), "HF_HUB_OFFLINE":
                                os.environ.get("HF_HUB_OFFLINE", "1"), "RAY_DATA_DISABLE_PROGRESS_BARS": "1"}}
    if not address:
        # A local Ray's helpers (GCS, raylet, agents, workers) must not outlive a driver killed with kill -9:
        # Ray cleans up only on a normal exit (see lifeline.reap_descendants_on_death).
        from sbs_tui.core.lifeline import reap_descendants_on_death

        reap_descendants_on_death()
    try:
        ray.init(address=address or None, runtime_env=runtime_env, include_dashboard=False, log_to_driver=False,
                 configure_logging=True, logging_level=logging.WARNING, ignore_reinit_error=True)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise InputError(f"cannot start or join Ray{f' at {address}' if address else ''}: {exc}") from exc


def run_files_on_ray(runner: Any, source: Iterator[tuple[dict[str, Any], Any]], done: dict[str, bool],
                     writer: Any, *, batch_size: int, address: str | None = None, workers: int | None = None,
                     advance: Callable[[int], None] | None = None, log: Callable[[str], None] | None = None
                     ) -> tuple[int, int, int]:
    """``sbs score FILE... --engine ray``: skip what ``--out`` already has, score the rest on Ray, write each
    finished batch at once. Returns (scored, skipped, blocked)."""
    from sbs_tui.core.gates.score_files import generation_key

    todo, skipped = [], 0
    for row, rec in source:
        if generation_key(rec.prompt, rec.model, rec.output) in done:
            skipped += 1
        else:
            todo.append((row, rec))
    if advance and skipped:
        advance(skipped)
    scored = blocked = 0
    items = [(rec.prompt, rec.output, rec.reference) for _, rec in todo]
    for chunk in score_with_ray(runner.gates, items, batch_size=batch_size, address=address, workers=workers,
                                source=runner.source, log=log):
        runner.settle_languages([items[i][1] for i, _ in chunk], [o for _, o in chunk])
        writer.write([todo[i][0] for i, _ in chunk], [o for _, o in chunk])
        scored += len(chunk)
        blocked += sum(o.blocked for _, o in chunk)
        if advance:
            advance(len(chunk))
    return scored, skipped, blocked
