"""``python -m rippleops.deploy.supervisor STATEFILE``: run the command of a local
deployment's state (``ripple serve <app:N> --port P``), keep it running, and keep the state
file current.

- it waits for ``/healthz`` after each start (status ``running``);
- when the served process exits unexpectedly it restarts it after a backoff (doubling per
  fast crash), counting ``restarts`` and keeping ``last_exit``;
- after ``MAX_FAST_CRASHES`` crashes in a row, each sooner than ``FAST_WINDOW_S`` after its
  start (or before it was ever healthy), it gives up: status ``failed`` with the reason;
- SIGTERM (``ripple deploy stop``) stops the served process (SIGTERM, then SIGKILL after
  ten seconds) and ends with status ``stopped``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from rippleops.deploy.local import MAX_BACKOFF_S, START_TIMEOUT_S, health, read_state, write_state

POLL_S = 0.1
TERM_GRACE_S = 10.0


class Supervisor:
    def __init__(self, path: Path) -> None:
        state = read_state(path)
        if state is None:
            raise SystemExit(f"no deployment state at {path}")
        self.path = path
        self.state = state
        self.stopping = False
        self.child: subprocess.Popen[bytes] | None = None
        self.fast_window = state.fast_window_s
        self.max_fast = state.max_fast_crashes
        self.backoff = state.backoff_s

    def save(self, **changes: object) -> None:
        for key, value in changes.items():
            setattr(self.state, key, value)
        write_state(self.path, self.state)

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True
        if self.child is not None and self.child.poll() is None:
            self.child.terminate()

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        self.save(supervisor_pid=os.getpid(), status="starting")
        while not self.stopping:
            started = time.monotonic()
            healthy, code = self.run_once()
            if self.stopping:
                break
            fast = not healthy or time.monotonic() - started < self.fast_window
            fast_crashes = self.state.fast_crashes + 1 if fast else 0
            log(f"the served process exited with {code} (fast crash {fast_crashes} of {self.max_fast})")
            if fast_crashes >= self.max_fast:
                self.save(
                    status="failed", child_pid=None, supervisor_pid=None, last_exit=code, fast_crashes=fast_crashes,
                    message=f"gave up after {fast_crashes} fast crashes in a row (last exit code {code}); "
                    f"see the log {self.state.log}, then deploy again",
                )  # fmt: skip
                return 1
            delay = min(self.backoff * 2 ** max(fast_crashes - 1, 0), MAX_BACKOFF_S)
            self.save(
                status="restarting", child_pid=None, last_exit=code, fast_crashes=fast_crashes,
                message=f"exited with {code}; restarting in {delay:.1f} s",
            )  # fmt: skip
            self.sleep(delay)
            if not self.stopping:
                self.save(restarts=self.state.restarts + 1)
        self.stop_child()
        self.save(status="stopped", child_pid=None, supervisor_pid=None, message="stopped")
        return 0

    def run_once(self) -> tuple[bool, int]:
        """Start the served process, wait for it to be healthy, then for it to exit:
        (was it ever healthy, its exit code)."""
        with open(self.state.log, "ab") as out:
            self.child = subprocess.Popen(
                self.state.command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        self.save(child_pid=self.child.pid, status="starting" if self.state.restarts == 0 else "restarting")
        healthy = False
        deadline = time.monotonic() + START_TIMEOUT_S
        while self.child.poll() is None and not self.stopping:
            if not healthy:
                if health(self.state, timeout=1.0) == "ok":
                    healthy = True
                    self.save(status="running", message="")
                elif time.monotonic() > deadline:
                    log(f"not healthy after {START_TIMEOUT_S:.0f} s; killing it")
                    self.child.kill()
            time.sleep(POLL_S if not healthy else 0.25)
        code = self.child.wait()
        return healthy, code

    def stop_child(self) -> None:
        child = self.child
        if child is None or child.poll() is not None:
            return
        child.terminate()
        try:
            child.wait(TERM_GRACE_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    def sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(POLL_S, seconds))


def log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} supervisor: {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m rippleops.deploy.supervisor STATEFILE", file=sys.stderr)
        return 2
    return Supervisor(Path(args[0])).run()


if __name__ == "__main__":
    sys.exit(main())
