"""Writers for exports. Files are written to a temporary name and renamed, so a failed export never leaves a
half-written file where a pipeline expects a complete one."""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sbs_tui.core.store import Store

VOTE_CSV_COLUMNS = ["vote_id", "prompt_id", "prompt", "model_a", "model_b", "winner", "weight", "annotator",
                    "annotator_kind", "left", "ts", "rationale", "criteria", "flagged", "flag_reason", "output_a",
                    "output_b", "meta"]


@contextmanager
def atomic_output(path: str | os.PathLike[str] | None) -> Iterator[IO[str]]:
    """A text stream that becomes ``path`` only when the block succeeds (stdout when ``path`` is None)."""
    if path is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_jsonl(records: Iterable[dict[str, Any]], fh: IO[str]) -> int:
    n = 0
    for record in records:
        fh.write(json.dumps(record, ensure_ascii=False))
        fh.write("\n")
        n += 1
    return n


def write_csv(records: Iterable[dict[str, Any]], fh: IO[str], columns: list[str]) -> int:
    """CSV with nested values (objects, lists) JSON-encoded — which the importers decode again."""
    writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="raise")
    writer.writeheader()
    n = 0
    for record in records:
        row = {k: (json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list))
                   else ("true" if v is True else v)) for k, v in record.items()}
        writer.writerow(row)
        n += 1
    return n


def write_votes(records: Iterable[dict[str, Any]], path: str | os.PathLike[str] | None) -> int:
    as_csv = path is not None and str(path).lower().endswith(".csv")
    with atomic_output(path) as fh:
        if as_csv:
            return write_csv(records, fh, VOTE_CSV_COLUMNS)
        return write_jsonl(records, fh)


def write_preference_pairs(store: Store, path: str | os.PathLike[str] | None, *,
                           min_weight: float = 0.75) -> tuple[int, dict[str, int]]:
    """``sbs export dpo`` as one call: DPO preference pairs (JSONL) from the votes with a clear winner.

    Returns how many pairs were written and, per reason, how many votes were left out."""
    skipped: dict[str, int] = {}
    with atomic_output(path) as fh:
        n = write_jsonl(store.exports.preference_pairs(min_weight=min_weight, skipped=skipped), fh)
    return n, skipped
