"""One child process measured as the benchmarks report it: wall seconds, CPU seconds (user + system) and peak RSS
of that process alone, from ``os.wait4`` on its pid (``RUSAGE_CHILDREN`` would mix in every earlier child).

Why one helper: every end-to-end bench (rank, cold rank, rank counts, import, the 10M pipeline) times a CLI in a
child the same way; a fix to how it is measured belongs in one place.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from typing import IO
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Measured:
    wall_s: float
    cpu_s: float
    rss_mb: float
    returncode: int
    stdout: bytes
    stderr: bytes

    def check(self, what: str) -> Measured:
        """Itself, or ``SystemExit`` naming ``what`` with the end of its stderr when the child failed."""
        if self.returncode != 0:
            raise SystemExit(f"{what} failed ({self.returncode}): {self.stderr.decode(errors='replace')[-2000:]}")
        return self


def measured(cmd: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | str | None = None,
             stdout: int | IO[bytes] | None = None) -> Measured:
    """Run ``cmd`` to its end and measure it. Its output is captured (``stdout``/``stderr`` in the result) unless
    ``stdout`` names where it goes (e.g. ``subprocess.DEVNULL``; stderr then follows it)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        if stdout is None:
            proc = subprocess.Popen(list(cmd), stdout=out, stderr=err, env=dict(env) if env else None, cwd=cwd)
        else:
            proc = subprocess.Popen(list(cmd), stdout=stdout, stderr=subprocess.STDOUT, env=dict(env) if env else None,
                                    cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0, proc.returncode,
                        out.read(), err.read())
