"""Importers for the offline and online stages: benchmark results and A/B experiment results.

Why a module apart from :mod:`sbs_tui.core.ingest.importer`: these files feed the funnel, not the side-by-side queue, and
one of their formats (an lm-evaluation-harness results file) is a single JSON document rather than rows. The
row functions are pure (row in, record or a precise :class:`InputError` out) like the generation and vote
parsers; :func:`import_result_files` adds the all-or-nothing transaction and the summary.

Formats (DESIGN.md contract; every row format is accepted as CSV, TSV, JSONL or a JSON array):

* benchmarks — rows ``model, benchmark, score`` (optional ``metric``, ``stderr``, ``higher_is_better``), or an
  lm-evaluation-harness results JSON (``results`` → task → metric). Both the old metric keys (``acc``,
  ``acc_stderr``) and the new ones with a filter suffix (``acc,none``, ``acc_stderr,none``) are read; the
  ``,none`` suffix is dropped (other filters such as ``exact_match,strict-match`` are kept, since they are
  different numbers), ``alias`` entries are skipped and each ``*_stderr`` is stored next to its metric.
* A/B — rows ``experiment, variant, unit, metric, value`` (one observation per unit), or aggregated rows
  ``experiment, variant, metric, n, mean, std`` (a continuous metric) / ``experiment, variant, metric, n,
  successes`` (a binary metric). Which kind a row is follows from its fields, so one CSV may mix the two
  aggregated shapes.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sbs_tui.core.ingest.ab_control import CONTROL_NAMES, store_controls
from sbs_tui.core.ingest.rows import ImportSummary, SkipRow, _extra, _float, _name, _text, batched, iter_records
from sbs_tui.core.io.readers import check_depth, check_unicode, detect_format, json_problem, open_text, unreadable
from sbs_tui.errors import InputError

if TYPE_CHECKING:
    from sbs_tui.core.store import Store

BATCH_SIZE = 10_000
KINDS = ("benchmarks", "ab")


# --------------------------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------------------------

@dataclass(slots=True)
class BenchmarkRecord:
    model: str
    benchmark: str
    metric: str
    score: float
    stderr: float | None = None
    higher_is_better: bool | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    origin: str | None = None


@dataclass(slots=True)
class ABUnitRecord:
    experiment: str
    variant: str
    unit: str
    metric: str
    value: float
    meta: dict[str, Any] = field(default_factory=dict)
    origin: str | None = None


@dataclass(slots=True)
class ABAggregateRecord:
    """Either ``mean`` and ``std`` (a continuous metric) or ``successes`` (a binary one), never both."""

    experiment: str
    variant: str
    metric: str
    n: int
    mean: float | None = None
    std: float | None = None
    successes: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    origin: str | None = None


# --------------------------------------------------------------------------------------------------------------
# Benchmarks: rows
# --------------------------------------------------------------------------------------------------------------

BENCHMARK_FIELDS = {"model", "benchmark", "metric", "score", "stderr", "higher_is_better"}


def _optional_bool(row: dict[str, Any], key: str) -> bool | None:
    value = row.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise InputError(f"expected true/false, got {value!r}", field=key)


def benchmark_from_row(row: dict[str, Any], *, model: str | None = None) -> BenchmarkRecord:
    """One benchmark score from a ``model, benchmark, score[, metric]`` row; ``model`` fills a missing column."""
    if model is not None and (row.get("model") is None or row.get("model") == ""):
        model_name = model
    else:
        model_name = _name(row, "model")
    benchmark = _name(row, "benchmark")
    metric = (_text(row, "metric", required=False) or "").strip()
    score = _float(row, "score")
    if score is None:
        raise InputError("missing" if "score" not in row else "missing or empty", field="score")
    stderr = _float(row, "stderr")
    if stderr is not None and stderr < 0:
        raise InputError(f"must not be negative, got {stderr}", field="stderr")
    return BenchmarkRecord(model=model_name, benchmark=benchmark, metric=metric, score=score, stderr=stderr,
                           higher_is_better=_optional_bool(row, "higher_is_better"),
                           meta=_extra(row, BENCHMARK_FIELDS))


# --------------------------------------------------------------------------------------------------------------
# Benchmarks: lm-evaluation-harness results JSON
# --------------------------------------------------------------------------------------------------------------

_MODEL_ARG_KEYS = ("pretrained", "model", "model_name", "path", "engine", "peft")
_NO_VALUE = ("N/A", "", None)
_TASK_META_KEYS = {"alias", "name", "group", "samples", "sample_len", "sample_count", "sample_size", "num_fewshot"}


def is_lm_eval_results(path: Path) -> bool:
    """A ``.json`` file whose top level is an object (rather than an array of rows)."""
    try:
        if detect_format(path) != "json":
            return False
        with open_text(path) as fh:
            head = fh.read(4096).lstrip()
    except (UnicodeDecodeError, OSError, EOFError) as exc:
        if not path.exists() or path.is_dir():
            return False  # said by the reader that follows
        raise unreadable(path, exc) from None
    return head.startswith("{")


def _split_metric_key(key: str) -> tuple[str, str]:
    """``"acc,none"`` → ``("acc", "")``; ``"exact_match,strict-match"`` → ``("exact_match", "strict-match")``."""
    name, _, filt = key.partition(",")
    return name.strip(), "" if filt.strip() in ("", "none") else filt.strip()


def _model_from_results(doc: dict[str, Any]) -> str | None:
    """The model name an lm-evaluation-harness run recorded: ``model_name``, else ``config.model_args``."""
    name = doc.get("model_name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    config = doc.get("config")
    if not isinstance(config, dict):
        return None
    args = config.get("model_args")
    if isinstance(args, dict):
        for key in _MODEL_ARG_KEYS:
            value = args.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    elif isinstance(args, str) and args.strip():
        parsed: dict[str, str] = {}
        for part in args.split(","):
            key, sep, value = part.partition("=")
            if sep:
                parsed[key.strip()] = value.strip()
        for key in _MODEL_ARG_KEYS:
            if parsed.get(key):
                return parsed[key]
    return None


class _LineFinder:
    """Approximate line numbers inside a JSON document, for error messages: the line where a key first occurs
    after a given position. (``json`` does not report positions of values, and results files are small.)"""

    def __init__(self, text: str):
        self.text = text

    def find(self, key: str, start: int = 0) -> tuple[int, int]:
        needle = json.dumps(key, ensure_ascii=False) + ":"
        pos = self.text.find(needle, start)
        if pos < 0:
            needle = json.dumps(key, ensure_ascii=False)
            pos = self.text.find(needle, start)
        if pos < 0:
            return start, self.text.count("\n", 0, start) + 1
        return pos, self.text.count("\n", 0, pos) + 1


def _lm_eval_document(path: Path) -> tuple[dict[str, Any], _LineFinder]:
    """The results file as one JSON object, and where each key sits in it (for errors that name the line)."""
    try:
        with open_text(path) as fh:
            text = fh.read()
    except (UnicodeDecodeError, OSError, EOFError) as exc:
        raise unreadable(path, exc) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        hint = " (a .json file holds one document; name a file of one object per line .jsonl)" \
            if exc.msg == "Extra data" else ""
        raise InputError(f"invalid JSON: {exc.msg} (column {exc.colno}){hint}", file=str(path),
                         line=exc.lineno) from None
    except (RecursionError, ValueError) as exc:
        raise InputError(json_problem(exc), file=str(path)) from None
    if not isinstance(doc, dict):
        raise InputError("expected a JSON object", file=str(path), line=1)
    check_depth(doc, text, path, 1)
    check_unicode(doc, text, path, 1)
    return doc, _LineFinder(text)


def iter_lm_eval_records(path: str | Path, *, model: str | None = None,
                         skipped: Counter[str] | None = None) -> Iterator[BenchmarkRecord]:
    """Benchmark records from an lm-evaluation-harness results file (v0.3 and v0.4+ layouts).

    ``model`` (the ``--model`` option) names the model when given; otherwise the file's ``model_name`` or the
    ``pretrained=``/``model=`` entry of ``config.model_args`` does, and a file with neither is an error.
    """
    path = Path(path)
    doc, lines = _lm_eval_document(path)
    results = doc.get("results")
    if not isinstance(results, dict):
        _, line = lines.find("results")
        raise InputError("expected an lm-evaluation-harness results object ('results' → task → metric)",
                         file=str(path), line=line if "results" in doc else 1, field="results")
    model_name = model or _model_from_results(doc)
    if not model_name:
        raise InputError("no model name in the file (neither 'model_name' nor config.model_args "
                         "pretrained=/model=); give it with --model NAME", file=str(path), line=1,
                         field="model_name")
    raw_directions = doc.get("higher_is_better")
    directions: dict[str, Any] = raw_directions if isinstance(raw_directions, dict) else {}
    results_pos, _ = lines.find("results")
    for task, metrics in results.items():
        task_pos, task_line = lines.find(task, results_pos)
        if not isinstance(metrics, dict):
            raise InputError(f"expected an object of metrics, got {type(metrics).__name__}", file=str(path),
                             line=task_line, field=f"results.{task}")
        raw_task_directions = directions.get(task)
        task_directions: dict[str, Any] = raw_task_directions if isinstance(raw_task_directions, dict) else {}
        stderrs: dict[tuple[str, str], float] = {}
        values: list[tuple[str, str, str, Any]] = []
        task_meta: dict[str, Any] = {}
        # v0.4+ writes every metric as "metric,filter"; keys without a comma (alias, name, sample_len,
        # sample_count, ...) are then metadata. Older files have bare metric names: there, only numbers (or
        # "N/A") under names that are not known metadata are metrics.
        new_style = any("," in key for key in metrics)
        for key, value in metrics.items():
            is_metric = ("," in key) if new_style else (
                key not in _TASK_META_KEYS and (value is None or isinstance(value, (int, float, str))
                                                and not isinstance(value, bool)))
            if not is_metric or (not new_style and isinstance(value, str) and value.strip() not in _NO_VALUE):
                if key not in ("alias", "name"):
                    task_meta[key] = value
                continue
            name, filt = _split_metric_key(key)
            if name.endswith("_stderr"):
                if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                    stderrs[(name[: -len("_stderr")], filt)] = float(value)
                continue
            values.append((key, name, filt, value))
        for key, name, filt, value in values:
            _, line = lines.find(key, task_pos)
            if isinstance(value, str) and value.strip() in _NO_VALUE or value is None:
                if skipped is not None:
                    skipped["metrics without a value"] += 1
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InputError(f"expected a number, got {value!r}", file=str(path), line=line,
                                 field=f"results.{task}.{key}")
            if not math.isfinite(value):
                raise InputError(f"expected a finite number, got {value!r}", file=str(path), line=line,
                                 field=f"results.{task}.{key}")
            direction = task_directions.get(name)
            yield BenchmarkRecord(
                model=model_name, benchmark=task, metric=name if not filt else f"{name},{filt}",
                score=float(value), stderr=stderrs.get((name, filt)),
                higher_is_better=direction if isinstance(direction, bool) else None,
                meta=dict(task_meta), origin=f"{path}:{line}",
            )


# --------------------------------------------------------------------------------------------------------------
# A/B results
# --------------------------------------------------------------------------------------------------------------

AB_UNIT_FIELDS = {"experiment", "variant", "unit", "metric", "value"}
AB_AGGREGATE_FIELDS = {"experiment", "variant", "metric", "n", "mean", "std", "successes"}


def _count(row: dict[str, Any], key: str) -> int:
    number = _float(row, key)
    if number is None:
        raise InputError("missing" if key not in row else "missing or empty", field=key)
    if number != int(number):
        raise InputError(f"expected a whole number, got {row.get(key)!r}", field=key)
    if number < 1:
        raise InputError(f"must be at least 1, got {int(number)}", field=key)
    return int(number)


def ab_from_row(row: dict[str, Any]) -> ABUnitRecord | ABAggregateRecord:
    """One A/B row: per unit when it has a ``unit`` column, else aggregated (mean/std or successes)."""
    experiment = _name(row, "experiment")
    variant = _name(row, "variant")
    metric = _name(row, "metric")
    if "unit" in row:
        unit = _name(row, "unit")
        value = _float(row, "value")
        if value is None:
            raise InputError("missing" if "value" not in row else "missing or empty", field="value")
        return ABUnitRecord(experiment, variant, unit, metric, value, meta=_extra(row, AB_UNIT_FIELDS))
    has = {key: row.get(key) not in (None, "") for key in ("mean", "std", "successes", "value")}
    if has["value"]:
        raise InputError("a per-unit row needs a 'unit' column (experiment,variant,unit,metric,value)",
                         field="unit")
    n = _count(row, "n")
    meta = _extra(row, AB_AGGREGATE_FIELDS)
    if has["successes"]:
        if has["mean"] or has["std"]:
            raise InputError("give either mean and std (continuous metric) or successes (binary), not both",
                             field="successes")
        successes = _float(row, "successes")
        assert successes is not None
        if not 0 <= successes <= n:
            raise InputError(f"must be between 0 and n ({n}), got {successes:g}", field="successes")
        return ABAggregateRecord(experiment, variant, metric, n, successes=successes, meta=meta)
    if not has["mean"]:
        raise InputError("an aggregated row needs mean and std, or successes", field="mean")
    mean = _float(row, "mean")
    std = _float(row, "std")
    if std is None:
        raise InputError("missing (a mean needs its standard deviation for the t-test)", field="std")
    if std < 0:
        raise InputError(f"must not be negative, got {std:g}", field="std")
    return ABAggregateRecord(experiment, variant, metric, n, mean=mean, std=std, meta=meta)


# --------------------------------------------------------------------------------------------------------------
# Driving an import
# --------------------------------------------------------------------------------------------------------------

def iter_benchmark_records(path: str | Path, *, model: str | None = None, skipped: Counter[str] | None = None,
                           on_progress: Callable[[int], None] | None = None) -> Iterator[BenchmarkRecord]:
    if is_lm_eval_results(Path(path)):
        return iter_lm_eval_records(path, model=model, skipped=skipped)
    return iter_records(path, partial(benchmark_from_row, model=model), skipped=skipped, on_progress=on_progress)


def iter_ab_records(path: str | Path, *, skipped: Counter[str] | None = None,
                    on_progress: Callable[[int], None] | None = None) -> Iterator[Any]:
    return iter_records(path, ab_from_row, skipped=skipped, on_progress=on_progress)


def import_result_files(store: Store, kind: str, paths: Sequence[str | Path], *, replace: bool = False,
                        model: str | None = None, progress: Any = None, control: str | None = None) -> ImportSummary:
    """Import benchmark or A/B files in ONE transaction: all files or none; the same rows again are a no-op.

    ``progress`` is optional, as for :func:`sbs_tui.core.ingest.importer.import_files` (``start``/``advance_to``/``finish``).
    """
    from sbs_tui.core.store import ConflictError

    if kind not in KINDS:
        raise ValueError(kind)
    for path in paths:  # fail fast on a missing file, before any work
        if not Path(path).is_file():
            raise InputError("file not found" if not Path(path).exists() else "not a regular file", file=str(path))
    summary = ImportSummary(kind)
    with store.transaction():
        for path in paths:
            summary.files += 1
            on_progress = None
            if progress is not None:
                progress.start(str(path), Path(path).stat().st_size)
                on_progress = progress.advance_to
            if kind == "benchmarks":
                records: Iterator[Any] = iter_benchmark_records(path, model=model, skipped=summary.skipped,
                                                                on_progress=on_progress)
            else:
                records = iter_ab_records(path, skipped=summary.skipped, on_progress=on_progress)
            for batch in batched(records, BATCH_SIZE):
                summary.read += len(batch)
                try:
                    counts = _store_batch(store, kind, batch, source=str(path), replace=replace)
                except ConflictError as exc:
                    file, _, line = (exc.origin or "").rpartition(":")
                    raise InputError(str(exc), file=file or str(path),
                                     line=int(line) if line.isdigit() else None) from None
                summary.inserted += counts[0]
                summary.already_stored += counts[1]
            if progress is not None:
                progress.finish()
        if kind == "ab":  # each new experiment's control is chosen once, here (see sbs_tui.core.analysis.abtest)
            chosen = store_controls(store, control, replace=False, chosen_by="import")
            for experiment, variant in sorted(chosen.items()):
                why = "as asked (--control)" if variant == control else (
                    "by name (control/baseline/A)" if variant.lower() in CONTROL_NAMES else "first alphabetically")
                summary.notes.append(f"ab: experiment {experiment!r}: control {variant!r}, chosen {why}; "
                                     "change it with sbs ab --control VARIANT")
        summary.read += sum(summary.skipped.values())
    return summary


def _store_batch(store: Store, kind: str, batch: list[Any], *, source: str, replace: bool) -> tuple[int, int]:
    if kind == "benchmarks":
        c = store.results.insert_benchmarks(batch, source=source, replace=replace)
        return c.inserted, c.already_stored
    units = [r for r in batch if isinstance(r, ABUnitRecord)]
    aggregates = [r for r in batch if isinstance(r, ABAggregateRecord)]
    a = store.results.insert_ab_units(units, source=source, replace=replace)
    b = store.results.insert_ab_aggregates(aggregates, source=source, replace=replace)
    return a.inserted + b.inserted, a.already_stored + b.already_stored


__all__ = [
    "ABAggregateRecord", "ABUnitRecord", "BenchmarkRecord", "SkipRow", "ab_from_row", "benchmark_from_row",
    "import_result_files", "iter_ab_records", "iter_benchmark_records", "iter_lm_eval_records",
]
