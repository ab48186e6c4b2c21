"""Start, wait for and stop real server processes on loopback.

Nothing here knows about pytest, so fixtures of any scope (and ad-hoc scripts) can use it.
Every wait is bounded and polls with a short, capped back-off instead of sleeping a fixed
time, and every failure message carries the tail of the process log, because "did not
become ready" alone is useless when debugging a CI run after the fact.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import requests

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK, *, udp_too: bool = False) -> int:
    """Return a port that is free on ``host`` right now (for TCP, and UDP if asked).

    There is an unavoidable race between closing the probe socket and the server binding
    it; servers started through ManagedProcess fail fast with their log when that happens.
    """
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((host, 0))
            port: int = tcp.getsockname()[1]
            if not udp_too:
                return port
            # A DNS server wants the same number on both transports, so probe UDP while the
            # TCP probe still holds the port.
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((host, port))
                except OSError:
                    continue
                return port
    raise RuntimeError(f"no port free for both TCP and UDP on {host} after 50 tries")


def backoff(timeout: float, *, first: float = 0.05, cap: float = 0.5) -> Iterator[float]:
    """Yield elapsed seconds until ``timeout`` runs out, sleeping a growing delay between."""
    start = time.monotonic()
    delay = first
    while True:
        elapsed = time.monotonic() - start
        if elapsed >= timeout:
            return
        yield elapsed
        time.sleep(min(delay, max(0.0, timeout - (time.monotonic() - start))))
        delay = min(delay * 1.5, cap)


def wait_until(
    check: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    on_fail: Callable[[], str] | None = None,
) -> None:
    """Poll ``check`` until it returns True; raise TimeoutError naming ``what`` otherwise."""
    last_error: Exception | None = None
    for _ in backoff(timeout):
        try:
            if check():
                return
        except Exception as exc:  # the check is a probe: any error means "not yet"
            last_error = exc
    detail = f" (last error: {last_error!r})" if last_error else ""
    extra = f"\n{on_fail()}" if on_fail else ""
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{detail}{extra}")


def tcp_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class ProcessStartError(RuntimeError):
    """A managed process exited or never became ready."""


class ManagedProcess:
    """A server process with a log file, a readiness wait and a certain teardown.

    The process runs in its own session so that ``stop`` can signal helpers it forked too
    (helpers that start their own session, like JupyterHub's proxy, need ``extra_pids``).
    """

    def __init__(
        self,
        name: str,
        args: Sequence[str | os.PathLike[str]],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        inherit_env: bool = True,
    ) -> None:
        self.name = name
        self.args = [os.fspath(a) for a in args]
        self.log_path = log_path
        self.cwd = cwd
        self.env = {**os.environ, **(env or {})} if inherit_env else dict(env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        # Pid files of grandchildren that detach into their own session.
        self.extra_pid_files: list[Path] = []

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Self:
        if self.proc is not None:
            raise RuntimeError(f"{self.name} already started")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._log.write(f"$ {' '.join(self.args)}\n".encode())
        self._log.flush()
        try:
            self.proc = subprocess.Popen(
                self.args,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        except OSError as exc:
            self._log.close()
            raise ProcessStartError(f"{self.name}: cannot execute {self.args[0]}: {exc}") from exc
        return self

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError(f"{self.name} not started")
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the process group, SIGKILL it after ``timeout``; return the exit code."""
        code: int | None = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self._signal_group(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self._signal_group(signal.SIGKILL)
                    self.proc.wait(timeout=timeout)
            # Children that outlived a clean exit of the leader are still in the group.
            self._signal_group(signal.SIGKILL)
            code = self.proc.returncode
        for pid_file in self.extra_pid_files:
            _kill_pid_file(pid_file, timeout)
        if self._log is not None and not self._log.closed:
            self._log.close()
        return code

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def __enter__(self) -> Self:
        return self if self.proc is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- diagnostics ----------------------------------------------------------------------

    def log_text(self) -> str:
        if self._log is not None and not self._log.closed:
            self._log.flush()
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        tail = self.log_text().splitlines()[-lines:]
        return f"--- last {len(tail)} lines of {self.log_path} ---\n" + "\n".join(tail)

    def _failure(self, message: str) -> ProcessStartError:
        return ProcessStartError(f"{self.name}: {message}\n{self.log_tail()}")

    # -- readiness ------------------------------------------------------------------------

    def _check_alive(self) -> None:
        if self.proc is None:
            raise RuntimeError(f"{self.name} not started")
        code = self.proc.poll()
        if code is not None:
            raise self._failure(f"exited with code {code} before becoming ready")

    def wait_for(self, check: Callable[[], bool], *, what: str, timeout: float = 60.0) -> None:
        """Poll ``check`` until true; fail at once if the process dies meanwhile."""
        last_error: Exception | None = None
        for _ in backoff(timeout):
            self._check_alive()
            try:
                if check():
                    return
            except Exception as exc:  # a probe: any error means "not yet"
                last_error = exc
        self._check_alive()
        detail = f"; last error: {last_error!r}" if last_error else ""
        raise self._failure(f"not ready after {timeout:.0f}s waiting for {what}{detail}")

    def wait_for_port(self, port: int, host: str = LOOPBACK, timeout: float = 60.0) -> None:
        self.wait_for(lambda: tcp_accepts(host, port), what=f"TCP {host}:{port}", timeout=timeout)

    def wait_for_http(
        self,
        url: str,
        *,
        timeout: float = 60.0,
        ok_status: Sequence[int] = (200,),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        def answers() -> bool:
            # Bypass any proxy from the environment: these servers live on loopback only.
            with requests.Session() as session:
                session.trust_env = False
                response = session.get(url, timeout=2, headers=dict(headers or {}))
                return response.status_code in ok_status

        self.wait_for(answers, what=f"GET {url} -> {list(ok_status)}", timeout=timeout)


def _kill_pid_file(pid_file: Path, timeout: float) -> None:
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    if not _alive(pid):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGTERM)
        for _ in backoff(timeout):
            if not _alive(pid):
                return
        os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    # A reparented child that exited stays a zombie until init reaps it, and a container's
    # init may never do so; a zombie holds no port, so it counts as gone.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def loopback_session() -> requests.Session:
    """A requests session that ignores proxy settings from the environment."""
    session = requests.Session()
    session.trust_env = False
    return session
