"""Run a batch of scenarios for CI: one after another in this process, or in worker processes,
so that a hung scenario can be stopped (a wall-clock timeout) and several can run at once (jobs).

Wherever a scenario runs, the caller hears of the files in the order given and of each file's
events together (its start, its steps, its end), so output stays grouped per file exactly as
if they had run one by one; a file that finishes early waits in memory for those before it.

A scenario's outcome and its exit code (the CLI's; the worst of all files is the batch's):

    passed     0   every expectation held
    failed     1   a step's outcome did not match its expectation
    error      1   the engine raised (a bug or a broken environment); 2 for a usage error
    timed_out  42  still running after the timeout: stopped. 42 is Wokwi CLI's default
                   --timeout-exit-code, so CI scripts written for it read ours the same way

Worst first: 2 (an invalid file or usage: nothing meaningful ran), 42 (a scenario hung: its
outcome is unknown), 1, 0.

Workers: at most `jobs` child processes, each running one scenario at a time and then the
next (so the emulator is imported once per worker, not once per file: a second or so each).
A worker is started with multiprocessing's "spawn" context (a fresh interpreter: no threads
or locks inherited from the caller) and makes its own process group, so that stopping it
also stops whatever it started (the MicroPython runtime's Node process). A scenario past its
timeout is stopped by stopping its worker: SIGTERM first, which the worker turns into
SystemExit so the runner closes the engine, then SIGKILL to the whole group after
STOP_GRACE_S; a new worker takes its place. The timeout counts from the moment the worker
starts the scenario; a new worker's own start-up is not counted unless it takes longer
than STARTUP_ALLOWANCE_S.
"""

import multiprocessing
import os
import signal
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait

from ..errors import KeylockError
from . import report
from .engine import Engine
from .model import Scenario, Step
from .runner import RunReport, StepReport
from .runner import run as run_scenario

PASSED, FAILED, ERROR, TIMED_OUT = "passed", "failed", "error", "timed_out"
EXIT_PASSED, EXIT_FAILED, EXIT_INVALID, EXIT_TIMED_OUT = 0, 1, 2, 42
_SEVERITY = (EXIT_PASSED, EXIT_FAILED, EXIT_TIMED_OUT, EXIT_INVALID)  # least to most severe

STARTUP_ALLOWANCE_S = 60.0
STOP_GRACE_S = 5.0

EngineFactory = Callable[[str, Scenario], Engine]


def worst(codes) -> int:
    """The most severe of these exit codes (an unknown code counts as a failure)."""
    return max((c if c in _SEVERITY else EXIT_FAILED for c in codes), key=_SEVERITY.index, default=EXIT_PASSED)


@dataclass
class FileRun:
    """One file's run as the batch saw it; what the caller prints and the JUnit report reads.

    steps     one message per step run: {"lines": text lines, "json": the --json object,
              "passed": bool}
    failure   the failed step: {"index", "action", "line", "expected", "seen", "problem"}
    message   why the run timed out or broke (one line); `detail` a traceback, if any
    """

    index: int
    scenario: Scenario
    runtime: str
    steps: list[dict] = field(default_factory=list)
    status: str = "running"
    summary_lines: list[str] = field(default_factory=list)
    summary_json: dict | None = None
    failure: dict | None = None
    message: str | None = None
    detail: str | None = None
    exit_code: int = EXIT_PASSED
    time_s: float = 0.0
    timeout_s: float | None = None
    settled: bool = False  # every message in, exit code and summary final

    @property
    def finished(self) -> bool:
        return self.status != "running"

    @property
    def current_step(self) -> Step | None:
        """The step that was running when the run stopped early (None: all had run)."""
        steps = self.scenario.steps
        return steps[len(self.steps)] if len(self.steps) < len(steps) else None

    def where(self) -> str:
        """`FILE:LINE: step N (action)` of the step that was running, for a one-line error."""
        step = self.current_step
        if step is None:
            return f"{self.scenario.path}: after the last step"
        return f"{self.scenario.path}:{step.line}: step {step.index} ({step.action})"

    def problem(self) -> str:
        """The one line saying why a run that timed out or broke did not pass."""
        return f"{self.where()}{' ' if self.status == TIMED_OUT else ': '}{self.message}"

    def _end_summary(self) -> dict:
        """The --json summary of a run that did not finish its steps by itself."""
        step = self.current_step
        summary = {
            "type": "summary",
            "scenario": self.scenario.name,
            "file": self.scenario.path,
            "runtime": self.runtime,
            "passed": False,
            "steps": len(self.scenario.steps),
            "steps_run": len(self.steps),
            "failed_step": step.index if step else None,
            "timed_out": self.status == TIMED_OUT,
            "error": self.message,
        }
        if self.status == TIMED_OUT:
            summary["timeout_s"] = self.timeout_s
        if self.detail:
            summary["traceback"] = self.detail
        return summary


@dataclass
class Listener:
    """What the caller hears, per file in the order given: start, each step, end."""

    on_start: Callable[[FileRun], None] = lambda run: None
    on_step: Callable[[FileRun, dict], None] = lambda run, step: None
    on_end: Callable[[FileRun], None] = lambda run: None


def run_batch(
    runs: list[tuple[Scenario, str]],
    factory: EngineFactory,
    listener: Listener,
    jobs: int = 1,
    timeout_s: float | None = None,
) -> list[FileRun]:
    """Run each (scenario, runtime) on an engine from `factory` and report to `listener`.

    With one job and no timeout the scenarios run here, one after another, as they always
    have; otherwise in worker processes (see the module doc). `factory` must be importable
    by name (a module-level function) so a worker can unpickle it.
    """
    file_runs = [FileRun(i, scenario, runtime, timeout_s=timeout_s) for i, (scenario, runtime) in enumerate(runs)]
    if jobs == 1 and timeout_s is None:
        for file_run in file_runs:
            listener.on_start(file_run)
            started = time.monotonic()
            _work(file_run.scenario, file_run.runtime, factory, lambda m, r=file_run: _apply(r, m, listener.on_step))
            file_run.time_s = time.monotonic() - started
            _settle(file_run)
            listener.on_end(file_run)
        return file_runs
    _Parallel(file_runs, factory, listener, jobs, timeout_s).run()
    return file_runs


# --- the work, the same in this process and in a worker ---


def _step_message(step_report: StepReport, scenario_name: str) -> dict:
    return {
        "lines": report.step_lines(step_report),
        "json": report.step_json(step_report, scenario_name),
        "passed": step_report.passed,
    }


def _done_message(result: RunReport) -> dict:
    bad = result.failed
    failure = None
    if bad is not None:
        failure = {
            "index": bad.step.index,
            "action": bad.step.action,
            "line": bad.step.line,
            "expected": report.expect_text(bad.expected),
            "seen": report.seen_text(bad),
            "problem": bad.problem,
        }
    return {
        "passed": result.passed,
        "summary_lines": report.summary_lines(result),
        "summary_json": report.summary_json(result),
        "failure": failure,
    }


def _work(scenario: Scenario, runtime: str, factory: EngineFactory, send: Callable[[tuple], None]) -> None:
    """Run one scenario, sending ("step", message) per step, then ("done", message) or
    ("error", one line, exit code, traceback or None)."""
    try:
        engine = factory(runtime, scenario)
        result = run_scenario(scenario, engine, runtime, lambda r: send(("step", _step_message(r, scenario.name))))
    except KeylockError as exc:
        send(("error", str(exc), exc.exit_code, None))
        return
    except Exception as exc:  # an engine's bug: one line for the user, the traceback for the report
        send(("error", f"the engine raised {type(exc).__name__}: {exc}", EXIT_FAILED, traceback.format_exc()))
        return
    send(("done", _done_message(result)))


def _apply(file_run: FileRun, message: tuple, on_step: Callable[[FileRun, dict], None] | None = None) -> None:
    kind = message[0]
    if kind == "step":
        file_run.steps.append(message[1])
        if on_step is not None:
            on_step(file_run, message[1])
    elif kind == "done":
        done = message[1]
        file_run.status = PASSED if done["passed"] else FAILED
        file_run.summary_lines = done["summary_lines"]
        file_run.summary_json = done["summary_json"]
        file_run.failure = done["failure"]
    elif kind == "error":
        file_run.status, file_run.message, file_run.exit_code, file_run.detail = ERROR, message[1], message[2], message[3]


def _settle(file_run: FileRun) -> None:
    """The exit code and --json summary of a run whose messages have all arrived."""
    if file_run.status == "running":  # the child ended without saying how
        file_run.status, file_run.message = ERROR, file_run.message or "the scenario's process ended without a result"
    if file_run.status == PASSED:
        file_run.exit_code = EXIT_PASSED
    elif file_run.status == FAILED:
        file_run.exit_code = EXIT_FAILED
    elif file_run.status == TIMED_OUT:
        file_run.exit_code = EXIT_TIMED_OUT
    elif file_run.exit_code == EXIT_PASSED:
        file_run.exit_code = EXIT_FAILED
    if file_run.summary_json is None:
        file_run.summary_json = file_run._end_summary()
    file_run.settled = True


# --- worker processes ---


def _worker_main(tasks: Connection, results: Connection, factory: EngineFactory) -> None:
    """A worker's life: its own process group, SIGTERM as SystemExit, scenarios until told to stop.

    Each task is (scenario, runtime); the worker answers ("ready",) when it starts one, then
    the messages of `_work`. A closed task pipe or None ends it.
    """
    if hasattr(os, "setpgrp"):
        os.setpgrp()  # stopping the group stops whatever an engine started, too
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when a worker stops
    sys.stdout = sys.stderr  # an engine's stray print must not break the parent's grouped stdout
    while True:
        try:
            task = tasks.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        scenario, runtime = task
        results.send(("ready",))
        _work(scenario, runtime, factory, results.send)


def _exit_on_sigterm(signum, frame):
    raise SystemExit(EXIT_TIMED_OUT)  # unwinds through the runner's `finally`: the engine is closed


class _Worker:
    """A child process that runs scenarios one at a time; stopped (and replaced) on a timeout."""

    def __init__(self, context, factory: EngineFactory):
        task_receiver, self.tasks = context.Pipe(duplex=False)
        self.results, result_sender = context.Pipe(duplex=False)
        self.process = context.Process(target=_worker_main, args=(task_receiver, result_sender, factory), daemon=True)
        self.process.start()
        task_receiver.close()  # the worker holds the other ends: its exit reads as EOF here
        result_sender.close()
        self.file_run: FileRun | None = None
        self.sent_at = 0.0
        self.ready_at: float | None = None
        self.closed = False

    def give(self, file_run: FileRun) -> None:
        self.file_run, self.sent_at, self.ready_at = file_run, time.monotonic(), None
        try:
            self.tasks.send((file_run.scenario, file_run.runtime))
        except OSError:  # it died: `ended` reports the run as an error
            self.closed = True

    def deadline(self, timeout_s: float) -> float:
        if self.ready_at is None:  # a new worker still starting up its interpreter
            return self.sent_at + STARTUP_ALLOWANCE_S + timeout_s
        return self.ready_at + timeout_s

    def drain(self) -> None:
        """Take every message waiting for the current run; note the end of the pipe."""
        while not self.closed and self.results.poll():
            try:
                message = self.results.recv()
            except Exception:  # EOF, or a message cut off by a stop: what came before it stands
                self.closed = True
                break
            if message[0] == "ready":
                self.ready_at = time.monotonic()
            elif self.file_run is not None:
                _apply(self.file_run, message)

    @property
    def ended(self) -> bool:
        return self.closed or not self.process.is_alive()

    def finish(self) -> FileRun:
        """The current run, settled; the worker is idle again."""
        file_run = self.file_run
        assert file_run is not None
        file_run.time_s = time.monotonic() - (self.ready_at or self.sent_at)
        _settle(file_run)
        self.file_run = None
        return file_run

    def stop(self) -> None:
        """Really stop it and everything in its process group; wait until it has ended."""
        process = self.process
        if process.is_alive():
            process.terminate()
            process.join(STOP_GRACE_S)
        pid = process.pid
        if pid is not None and hasattr(os, "killpg"):
            try:
                os.killpg(pid, signal.SIGKILL)  # its group: anything it started and left behind
            except (ProcessLookupError, PermissionError):
                pass
        if process.is_alive():
            process.kill()
        process.join()
        self.close()

    def retire(self) -> None:
        """Let an idle worker end by itself."""
        try:
            self.tasks.send(None)
        except OSError:
            pass
        self.process.join(STOP_GRACE_S)
        if self.process.is_alive():
            self.stop()
        self.close()

    def close(self) -> None:
        self.tasks.close()
        self.results.close()
        self.closed = True


class _Parallel:
    def __init__(self, file_runs: list[FileRun], factory: EngineFactory, listener: Listener, jobs: int, timeout_s: float | None):
        self.file_runs = file_runs
        self.factory = factory
        self.listener = listener
        self.jobs = min(jobs, len(file_runs))
        self.timeout_s = timeout_s
        self.context = multiprocessing.get_context("spawn")
        self.head = 0  # the first file not yet fully reported
        self.announced = False  # the head's on_start was called
        self.delivered = 0  # the head's steps reported

    def run(self) -> None:
        waiting = deque(self.file_runs)
        workers: list[_Worker] = []
        try:
            while self.head < len(self.file_runs):
                for worker in [w for w in workers if w.file_run is None]:
                    if not waiting:
                        break
                    worker.give(waiting.popleft())
                while waiting and len(workers) < self.jobs:
                    worker = _Worker(self.context, self.factory)
                    workers.append(worker)
                    worker.give(waiting.popleft())
                busy = [w for w in workers if w.file_run is not None]
                if not busy:  # cannot happen: the head file is waiting or running
                    raise RuntimeError("scenario batch: nothing running and the head file unfinished")
                wait([w.results for w in busy] + [w.process.sentinel for w in busy], timeout=self._wait_s(busy))
                for worker in busy:
                    worker.drain()
                    file_run = worker.file_run
                    assert file_run is not None
                    if file_run.finished:
                        worker.finish()
                        continue
                    if worker.ended:  # it died mid-run: a crash, not a verdict
                        worker.stop()
                        file_run.message = f"the scenario's process ended (exit code {worker.process.exitcode}) without a result"
                    elif self.timeout_s is not None and time.monotonic() >= worker.deadline(self.timeout_s):
                        worker.stop()
                        worker.drain()
                        file_run.status = TIMED_OUT
                        file_run.message = f"did not finish within --timeout {self.timeout_s:g} s; the scenario was stopped"
                    else:
                        continue
                    worker.finish()
                    workers.remove(worker)  # a new one takes its place if work is waiting
                self._report()
        finally:
            for worker in workers:
                if worker.file_run is None and not worker.ended:
                    worker.retire()
                else:
                    worker.stop()

    def _wait_s(self, busy: list[_Worker]) -> float | None:
        if self.timeout_s is None or not busy:
            return None
        return max(0.0, min(w.deadline(self.timeout_s) for w in busy) - time.monotonic())

    def _report(self) -> None:
        """Tell the listener everything it may hear now, in file order."""
        while self.head < len(self.file_runs):
            file_run = self.file_runs[self.head]
            if not self.announced:
                self.listener.on_start(file_run)
                self.announced = True
            while self.delivered < len(file_run.steps):
                self.listener.on_step(file_run, file_run.steps[self.delivered])
                self.delivered += 1
            if not file_run.settled:
                return
            self.listener.on_end(file_run)
            self.head, self.announced, self.delivered = self.head + 1, False, 0
