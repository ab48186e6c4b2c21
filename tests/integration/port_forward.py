"""`kubectl port-forward` as a test's context manager: a free loopback port, then stopped."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.processes import LOOPBACK, ManagedProcess, free_port


@contextmanager
def port_forward(
    kubeconfig: Path,
    namespace: str,
    target: str,
    remote_port: int,
    *,
    log_dir: Path,
    timeout: float = 120.0,
) -> Iterator[str]:
    """Yield http://127.0.0.1:PORT/ forwarding to `target` (svc/NAME) until the block ends."""
    port = free_port()
    process = ManagedProcess(
        f"port-forward-{target.replace('/', '-')}",
        [
            "kubectl",
            "--kubeconfig",
            str(kubeconfig),
            "--namespace",
            namespace,
            "port-forward",
            # Loopback only: nothing else on this machine's networks may reach the hub.
            "--address",
            LOOPBACK,
            target,
            f"{port}:{remote_port}",
        ],
        log_path=log_dir / f"port-forward-{port}.log",
    )
    process.start()
    try:
        # Fails at once, with kubectl's words, when kubectl exits (no such service, ...).
        process.wait_for_port(port, timeout=timeout)
        yield f"http://{LOOPBACK}:{port}/"
    finally:
        process.stop()
