"""What the UI thread is doing while the event loop stands still: a sampling stall profiler for the benches.

Why: a ticker inside the app says *that* the screen froze (``bench_review_stall.py``), not *why*. This watchdog
says why. A heartbeat on the event loop (``loop.call_later`` every :data:`HEARTBEAT` s) stamps the time it last
ran; a watchdog thread wakes every :data:`SAMPLE` s and, once the loop has not ticked for more than ``threshold``,
samples the UI thread's stack (``sys._current_frames()``) until the loop ticks again. Each sample weighs the time
since the previous one, so a stall's samples add up to its length. Besides stacks, per stall:

* the UI thread's own CPU time (``time.pthread_getcpuclockid`` of that thread) — against the stall's length it
  tells the app's own work from time the OS gave to other processes;
* the CPU of the process's other threads (workers holding the GIL show up here, with the UI thread's stack parked
  wherever it waited);
* garbage collections (``gc.callbacks``) that ran inside it, and on which thread.

A sample is a tuple of frames, outermost first, each ``file:function`` (the first line of the function, not the
line running: one function is one node). :meth:`StallProfiler.report` aggregates like a flame summary: per
function, the ms of stall it was on the stack for (inclusive) and at the top of it (self); per stall, the longest
path; and the collapsed stacks (``a;b;c ms``, for flamegraph.pl or speedscope) of every stall.

Only for the benches: a watchdog thread costs the app a GIL hand-over every few ms, so the stall figures of a
profiled run are not the ones to compare (the bench reports both).
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

HEARTBEAT = 0.005  # seconds between two stamps of the event loop
SAMPLE = 0.005  # seconds between two looks of the watchdog
ROOT_HINTS = ("sbs_tui", "textual", "rich", "textual_plotext", "plotext", "asyncio", "sqlite3", "concurrent")


def _machine_busy() -> float:
    """CPU seconds the whole machine has been busy since boot (``/proc/stat``: all but idle and iowait)."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _short(filename: str) -> str:
    """A file as a reader knows it: from its package down (``textual/widgets/_data_table.py``)."""
    parts = Path(filename).parts
    for i, part in enumerate(parts):
        if part in ROOT_HINTS or part in ("bench", "tests"):
            return "/".join(parts[i:])
    return Path(filename).name


def stack_of(frame: FrameType | None) -> tuple[str, ...]:
    """The frames from the outermost to ``frame``, each ``file:qualname``."""
    names: list[str] = []
    while frame is not None:
        code = frame.f_code
        names.append(f"{_short(code.co_filename)}:{getattr(code, 'co_qualname', code.co_name)}")
        frame = frame.f_back
    names.reverse()
    return tuple(names)


@dataclass
class Stall:
    """One period in which the event loop did not tick for longer than the threshold."""

    step: str
    started: float  # the last tick before it
    ended: float = 0.0  # the tick that ended it
    samples: list[tuple[float, tuple[str, ...]]] = field(default_factory=list)  # (weight s, stack)
    ui_cpu: float = 0.0  # CPU seconds the UI thread ran in it
    other_cpu: float = 0.0  # CPU seconds the process's other threads ran in it
    machine_cpu: float = 0.0  # CPUs busy on the whole machine (this process, its helpers, everyone else)
    ui_cpu_reading_start: float = 0.0
    cpu_samples: list[float] = field(default_factory=list)  # the UI thread's CPU seconds behind each sample
    others: list[tuple[float, tuple[str, ...]]] = field(default_factory=list)  # the other threads' stacks
    gc: list[tuple[int, float, str]] = field(default_factory=list)  # (generation, seconds, thread)

    @property
    def ms(self) -> float:
        return 1000 * (self.ended - self.started)


class StallProfiler:
    """Start with :meth:`start` on the event loop's thread (inside the app); :meth:`stop`; then :meth:`report`."""

    def __init__(self, threshold: float = 0.05, step: Callable[[], str] = lambda: "") -> None:
        self.threshold = threshold
        self.step = step  # what the bench is doing now (a stall is filed under it)
        self.stalls: list[Stall] = []
        self._tick = (0.0, 0.0)  # (perf_counter, the UI thread's CPU) at the loop's last heartbeat
        self._running = False
        self._ui_id = threading.get_ident()
        self._thread: threading.Thread | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._current: Stall | None = None
        self._gc_started: dict[int, float] = {}
        self._gc_log: list[tuple[float, float, int, str]] = []  # (start, end, generation, thread name)

    # -- the loop side -------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Begin: the heartbeat on the running loop (call from the loop's thread), the watchdog, the GC hook."""
        self._ui_id = threading.get_ident()
        self._clock = time.pthread_getcpuclockid(self._ui_id)  # the UI thread's CPU clock, read from the watchdog
        self._running = True
        self._tick = (time.perf_counter(), time.thread_time())
        self._loop = asyncio.get_running_loop()
        self._handle = self._loop.call_later(HEARTBEAT, self._beat)
        gc.callbacks.append(self._on_gc)
        self._thread = threading.Thread(target=self._watch, name="stall-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        if self._handle is not None:
            self._handle.cancel()
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        if self._thread is not None:
            self._thread.join()

    def _beat(self) -> None:
        self._tick = (time.perf_counter(), time.thread_time())  # one tuple: the watchdog reads both at once
        if self._running:
            self._handle = self._loop.call_later(HEARTBEAT, self._beat)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        ident = threading.get_ident()
        if phase == "start":
            self._gc_started[ident] = time.perf_counter()
        elif ident in self._gc_started:
            began = self._gc_started.pop(ident)
            who = "ui" if ident == self._ui_id else threading.current_thread().name
            self._gc_log.append((began, time.perf_counter(), info.get("generation", -1), who))

    # -- the watchdog --------------------------------------------------------------------------------------------

    def _watch(self) -> None:
        readings: deque[tuple[float, float, float]] = deque(maxlen=64)  # (time, process CPU, machine busy CPU)
        previous = time.perf_counter()
        cpu_before = time.clock_gettime(self._clock)
        while self._running:
            time.sleep(SAMPLE)
            now = time.perf_counter()
            cpu_now = time.clock_gettime(self._clock)
            readings.append((now, time.process_time(), _machine_busy()))
            last, last_cpu = self._tick
            stall = self._current
            if stall is not None and last > stall.started:  # the loop ticked: the stall is over
                self._close(stall, last, last_cpu, readings[-1])
                stall = None
            if stall is None and now - last > self.threshold:
                stall = self._current = Stall(self.step(), last)
                stall.ui_cpu = -last_cpu
                before = [r for r in readings if r[0] <= last] or [readings[0]]
                stall.other_cpu, stall.machine_cpu = -before[-1][1], -before[-1][2]
                stall.ui_cpu_reading_start = before[-1][0]
                previous = last
                cpu_before = last_cpu
            if stall is not None:
                frames = sys._current_frames()
                stall.samples.append((now - previous, stack_of(frames.get(self._ui_id))))
                stall.cpu_samples.append(cpu_now - cpu_before)
                for ident, frame in frames.items():  # who else ran: a worker holding the GIL shows here
                    if ident not in (self._ui_id, threading.get_ident()):
                        stall.others.append((now - previous, stack_of(frame)))
            previous, cpu_before = now, cpu_now
        if self._current is not None:
            last, last_cpu = self._tick
            self._close(self._current, last if last > self._current.started else time.perf_counter(),
                        last_cpu, (time.perf_counter(), time.process_time(), _machine_busy()))

    def _close(self, stall: Stall, ended: float, ended_cpu: float, reading: tuple[float, float, float]) -> None:
        stall.ended = ended
        stall.ui_cpu += ended_cpu
        # the process's CPU over (about) the same window, less the UI thread's: what the other threads ran
        stall.other_cpu = max(stall.other_cpu + reading[1] - stall.ui_cpu, 0.0)
        span = reading[0] - stall.ui_cpu_reading_start
        stall.machine_cpu = (stall.machine_cpu + reading[2]) / span if span > 0 else 0.0
        stall.gc = [(gen, end - start, who) for start, end, gen, who in list(self._gc_log)
                    if start < ended and end > stall.started]
        self.stalls.append(stall)
        self._current = None

    # -- the summary ---------------------------------------------------------------------------------------------

    def report(self, top: int = 25) -> dict[str, Any]:
        """Per function, ms of stall on the stack (inclusive) and at its top (self); the stalls, longest first."""
        inclusive: Counter[str] = Counter()
        self_ms: Counter[str] = Counter()
        inclusive_cpu: Counter[str] = Counter()  # the same, weighted by the UI thread's CPU, not the wall clock
        self_cpu: Counter[str] = Counter()
        collapsed: Counter[str] = Counter()
        others: Counter[str] = Counter()  # the other threads' innermost frame outside the standard library
        per_step: dict[str, float] = defaultdict(float)
        for stall in self.stalls:
            per_step[stall.step] += stall.ms
            for (weight, stack), cpu in zip(stall.samples, stall.cpu_samples, strict=True):
                ms = 1000 * weight
                for function in set(_interesting(stack)):
                    inclusive[function] += ms
                    inclusive_cpu[function] += 1000 * cpu
                if stack:
                    self_ms[stack[-1]] += ms
                    self_cpu[stack[-1]] += 1000 * cpu
                collapsed[";".join(stack) or "(no python frame)"] += ms
            for weight, stack in stall.others:
                ours = [f for f in stack if f.startswith(("sbs_tui", "textual", "rich", "plotext", "concurrent",
                                                          "multiprocessing"))]
                others[" > ".join(ours[-3:]) or stack[-1] if stack else "?"] += 1000 * weight
        total = sum(s.ms for s in self.stalls)
        collections: Counter[str] = Counter()
        for stall in self.stalls:
            for generation, seconds, who in stall.gc:
                collections[f"generation {generation} on {who}"] += 1000 * seconds
        return {
            "threshold_ms": 1000 * self.threshold, "stalls": len(self.stalls), "stalled_ms": round(total, 1),
            "gc_ms_in_stalls": {k: round(v, 1) for k, v in collections.most_common()},
            "ui_cpu_ms_in_stalls": round(sum(1000 * s.ui_cpu for s in self.stalls), 1),
            "per_step_ms": {k: round(v, 1) for k, v in sorted(per_step.items(), key=lambda kv: -kv[1])},
            "inclusive_ms": [(f, round(ms, 1)) for f, ms in inclusive.most_common(top)],
            "self_ms": [(f, round(ms, 1)) for f, ms in self_ms.most_common(top)],
            "inclusive_cpu_ms": [(f, round(ms, 1)) for f, ms in inclusive_cpu.most_common(top)],
            "self_cpu_ms": [(f, round(ms, 1)) for f, ms in self_cpu.most_common(top)],
            "other_threads_ms": [(f, round(ms, 1)) for f, ms in others.most_common(top)],
            "worst": [self._described(s) for s in sorted(self.stalls, key=lambda s: -s.ms)[:top]],
            "collapsed": {k: round(v, 1) for k, v in collapsed.most_common()},
        }

    @staticmethod
    def _described(stall: Stall) -> dict[str, Any]:
        """One stall: its length, CPU split, GC, and the stacks that held it (heaviest first, cut to our frames)."""
        stacks: Counter[tuple[str, ...]] = Counter()
        for weight, stack in stall.samples:
            stacks[stack] += 1000 * weight
        others: Counter[tuple[str, ...]] = Counter()
        for weight, stack in stall.others:
            others[stack] += 1000 * weight
        return {"step": stall.step, "ms": round(stall.ms, 1), "ui_cpu_ms": round(1000 * stall.ui_cpu, 1),
                "other_threads_cpu_ms": round(1000 * stall.other_cpu, 1),
                "machine_cpus_busy": round(stall.machine_cpu, 2),
                "gc": [(g, round(1000 * s, 1), who) for g, s, who in stall.gc],
                "stacks": [(round(ms, 1), list(_interesting(stack))) for stack, ms in stacks.most_common(4)],
                "other_threads": [(round(ms, 1), " > ".join(stack[-4:])) for stack, ms in others.most_common(4)]}


def _interesting(stack: tuple[str, ...]) -> tuple[str, ...]:
    """A stack without the event loop's own frames at its root (asyncio's run loop, the test harness)."""
    for i, frame in enumerate(stack):
        if not frame.startswith(("asyncio/", "bench/", "selectors", "threading", "runpy", "<frozen")) \
                and "base_events" not in frame and "events.py" not in frame:
            return stack[i:]
    return stack


def print_report(report: dict[str, Any], out: Any = sys.stderr, top: int = 15) -> None:
    """The report as a reader wants it first: where the stalled ms went."""
    print(f"\nstall profile: {report['stalls']} stalls over {report['threshold_ms']:.0f} ms, "
          f"{report['stalled_ms']:.0f} ms in all", file=out)
    print(f"  the UI thread's own CPU in them: {report['ui_cpu_ms_in_stalls']:.0f} ms; garbage collection in them: "
          f"{report['gc_ms_in_stalls']}", file=out)
    print("  per step: " + ", ".join(f"{k} {v:.0f}" for k, v in report["per_step_ms"].items()), file=out)
    for title, key in (("inclusive (on the stack)", "inclusive_ms"), ("self (top of the stack)", "self_ms"),
                       ("inclusive, the UI thread's CPU ms", "inclusive_cpu_ms"),
                       ("self, the UI thread's CPU ms", "self_cpu_ms"),
                       ("other threads meanwhile (sampled ms, all threads added)", "other_threads_ms")):
        print(f"  {title}:", file=out)
        for function, ms in report[key][:top]:
            print(f"    {ms:>8.1f} ms  {function}", file=out)
    print("  worst stalls:", file=out)
    for stall in report["worst"][:5]:
        print(f"    {stall['ms']:.0f} ms in '{stall['step']}': UI CPU {stall['ui_cpu_ms']:.0f} ms, other threads "
              f"{stall['other_threads_cpu_ms']:.0f} ms, machine {stall['machine_cpus_busy']:.1f} CPUs busy, "
              f"gc {[g for g in stall['gc'] if g[1] >= 1]}", file=out)
        for ms, stack in stall["stacks"][:2]:
            print(f"      {ms:.0f} ms: " + " > ".join(stack[-8:]), file=out)
        for ms, stack in stall["other_threads"][:2]:
            print(f"      other thread {ms:.0f} ms: {stack}", file=out)
