"""Run a command in a pod's container through the Kubernetes API (what `kubectl exec` does).

The real kubernetes client's `stream` speaks the API server's exec protocol over a
websocket (`v4.channel.k8s.io`: every frame starts with its channel, 0 stdin, 1 stdout,
2 stderr, 3 the final Status; kubernetes staging/src/k8s.io/apimachinery/pkg/util/
remotecommand/constants.go, kubernetes-client/python kubernetes/base/stream/ws_client.py).
v4 has no way to close stdin, so a program that reads stdin must know how much to read:
callers send a length first (see hub/backup.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import OperationFailed

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

# Frames of stdin: the API server and kubelet take large ones, but a test server or a proxy
# in between may cap a message (aiohttp's default is 4 MiB).
STDIN_CHUNK = 256 * 1024


@dataclass(frozen=True)
class ExecResult:
    stdout: str
    stderr: str
    returncode: int


def run(
    api: ApiClient,
    namespace: str,
    pod: str,
    command: list[str],
    *,
    container: str | None = None,
    stdin: str | None = None,
    timeout: float = 300.0,
) -> ExecResult:
    """The command's output and exit code; OperationFailed when the API refuses the exec."""
    import time

    from kubernetes import client
    from kubernetes.client.exceptions import ApiException
    from kubernetes.stream import stream
    from websocket import WebSocketException

    core = client.CoreV1Api(api)
    kwargs: dict[str, object] = {
        "command": command,
        "stdin": stdin is not None,
        "stdout": True,
        "stderr": True,
        "tty": False,
        "_preload_content": False,
    }
    if container:
        kwargs["container"] = container
    where = f"exec in pod {namespace}/{pod}"
    try:
        session = stream(core.connect_get_namespaced_pod_exec, pod, namespace, **kwargs)
    except (ApiException, WebSocketException, OSError) as error:
        raise OperationFailed(
            f"Kubernetes API: {where} failed: {_reason(error)}",
            "check that the pod is Running (`invoke hub.status`) and that your kubeconfig "
            "may create pods/exec, then re-run",
        ) from None
    stdout: list[str] = []
    stderr: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        if stdin is not None:
            for start in range(0, len(stdin), STDIN_CHUNK):
                session.write_stdin(stdin[start : start + STDIN_CHUNK])
        while session.is_open():
            if time.monotonic() > deadline:
                raise OperationFailed(
                    f"{where}: no end after {timeout:.0f}s",
                    "check the pod's state and logs, then re-run",
                )
            session.update(timeout=1)
            if session.peek_stdout():
                stdout.append(session.read_stdout())
            if session.peek_stderr():
                stderr.append(session.read_stderr())
        returncode = session.returncode
    finally:
        session.close()
    return ExecResult("".join(stdout), "".join(stderr), int(returncode or 0))


def _reason(error: Exception) -> str:
    """The API server's message: the client puts the refused handshake's body in its text."""
    found = re.search(r'"message": "((?:[^"\\]|\\.)*)"', str(error))
    if found:
        return found.group(1).replace('\\"', '"')
    return f"{type(error).__name__}: {error}"
