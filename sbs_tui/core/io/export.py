"""Writers for exports. Files are written to a temporary name and renamed, so a failed export never leaves a
half-written file where a pipeline expects a complete one.

The temporary file sits beside the target (a rename is atomic only within one file system) and is named
``.<target>.<pid>.<random>.sbs-partial`` so a person can tell what it is; an export killed outright (kill -9,
power loss) cannot remove its own, so the next export to the same target removes those whose process is gone.
The finished file gets the permissions any new file would (``0666`` less the umask), or keeps those of the file
it replaces — not ``mkstemp``'s private ``0600``.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sbs_tui.core.store import Store

from sbs_tui.core.io.csv_cells import csv_text
from sbs_tui.errors import InputError

VOTE_CSV_COLUMNS = ["vote_id", "prompt_id", "prompt", "model_a", "model_b", "winner", "weight", "annotator",
                    "annotator_kind", "left", "ts", "rationale", "criteria", "flagged", "flag_reason", "output_a",
                    "output_b", "meta"]
PARTIAL_SUFFIX = ".sbs-partial"


@contextmanager
def atomic_output(path: str | os.PathLike[str] | None) -> Iterator[IO[str]]:
    """A text stream that becomes ``path`` only when the block succeeds (stdout when ``path`` is None)."""
    if path is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        raise InputError("cannot write here: the folder does not exist", file=str(target))
    if target.is_dir():
        raise InputError("is a directory, not a file", file=str(target))
    remove_stale_partials(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=PARTIAL_SUFFIX, dir=folder)
    except OSError as exc:
        raise InputError(f"cannot write here: {exc.strerror or exc}", file=str(target)) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
        os.chmod(tmp, _mode_for(target))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _mode_for(target: Path) -> int:
    """The permission bits the finished export should have (see the module docstring)."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        pass
    umask = os.umask(0)  # the only way to read it; set straight back
    os.umask(umask)
    return 0o666 & ~umask


def remove_stale_partials(target: Path) -> int:
    """Delete temporary files of earlier exports to ``target`` whose process no longer runs; returns how many."""
    removed = 0
    prefix = f".{target.name}."
    try:
        candidates = [p for p in target.parent.iterdir()
                      if p.name.startswith(prefix) and p.name.endswith(PARTIAL_SUFFIX)]
    except OSError:
        return 0
    for partial in candidates:
        pid_text = partial.name[len(prefix):].split(".", 1)[0]
        if not pid_text.isdigit() or _process_alive(int(pid_text)):
            continue
        try:
            partial.unlink()
            removed += 1
        except OSError:
            pass
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process (or unknowable): leave its file alone
    return True


def write_jsonl(records: Iterable[dict[str, Any]], fh: IO[str]) -> int:
    n = 0
    for record in records:
        fh.write(json.dumps(record, ensure_ascii=False))
        fh.write("\n")
        n += 1
    return n


def write_csv(records: Iterable[dict[str, Any]], fh: IO[str], columns: list[str]) -> int:
    """CSV with nested values (objects, lists) JSON-encoded — which the importers decode again — and text cells
    safe to open in a spreadsheet (:func:`csv_text`)."""
    writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="raise")
    writer.writeheader()
    n = 0
    for record in records:
        row = {k: csv_text(json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list))
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


def export_votes(store: Store, path: str | os.PathLike[str] | None) -> int:
    """``sbs export votes`` as one call: every stored vote in the contract format, written atomically to ``path``
    (CSV by its extension, else JSONL; stdout when None). Returns the number of votes written."""
    return write_votes(store.exports.votes(), path)


def write_preference_pairs(store: Store, path: str | os.PathLike[str] | None, *,
                           min_weight: float = 0.75) -> tuple[int, dict[str, int]]:
    """``sbs export dpo`` as one call: DPO preference pairs (JSONL) from the votes with a clear winner.

    Returns how many pairs were written and, per reason, how many votes were left out."""
    skipped: dict[str, int] = {}
    with atomic_output(path) as fh:
        n = write_jsonl(store.exports.preference_pairs(min_weight=min_weight, skipped=skipped), fh)
    return n, skipped
