"""A private way into the hub pod: a port-forward through the Kubernetes API.

hub.deploy registers the native-sign-in admins the moment the hub pod is ready,
before its load balancer has an address, before DNS points at it and before a
certificate exists, so before anyone else can reach its sign-up page. It reaches the
hub's own port (8081: files/hub/jupyterhub_config.py of z2jh 4.4.0, lines 97-100, binds
the hub there) through the API server's pods/portforward, as `kubectl port-forward`
does, with the kubeconfig's credentials. Nothing is exposed: the local end listens
on 127.0.0.1 only, for as long as the `with` block runs.

Each local connection gets a stream of its own (the kubernetes client's portforward
carries one connection per port and call), relayed by two threads.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from ..core import kube
from ..core.errors import OperationFailed

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

HUB_PORT = 8081
HUB_PODS = "component=hub,release={release}"
CHUNK = 65536


class Stream(Protocol):
    """One end of a byte stream to the pod's port (a socket, or the client's wrapper)."""

    def recv(self, size: int, /) -> bytes: ...
    def sendall(self, data: bytes, /) -> None: ...
    def close(self) -> None: ...


Opener = Callable[[], Stream]


@contextlib.contextmanager
def tunnel(api: ApiClient, namespace: str, release: str) -> Iterator[str]:
    """The base URL (http://127.0.0.1:PORT/) of a port-forward to the ready hub pod."""
    pod = hub_pod(api, namespace, release)
    # One stream opened at once, so a cluster that refuses port-forwards (RBAC, an API
    # server without the subresource) fails here with its reason, not after a timeout.
    try:
        open_stream(api, namespace, pod).close()
    except Exception as error:
        raise OperationFailed(
            f"cannot open a port-forward to pod {namespace}/{pod} to register the admins: "
            f"{kube.api_message(error)}",
            "allow pods/portforward for your kubeconfig's user, or register them now "
            "through the hub's URL with `invoke hub.admins` (someone could take an admin "
            "name until then)",
        ) from None
    with relay(lambda: open_stream(api, namespace, pod)) as port:
        yield f"http://127.0.0.1:{port}/"


def hub_pod(api: ApiClient, namespace: str, release: str) -> str:
    ready = [
        state.name
        for state in kube.pod_states(api, namespace, HUB_PODS.format(release=release))
        if state.ready
    ]
    if not ready:
        raise OperationFailed(
            f"no ready hub pod in namespace {namespace} to register the admins through",
            f"see `kubectl -n {namespace} get pods -l component=hub`, then run `invoke hub.admins`",
        )
    return ready[0]


def open_stream(api: ApiClient, namespace: str, pod: str) -> Stream:
    """A new pods/portforward stream to the hub's port (kubernetes.stream.portforward)."""
    from kubernetes import client
    from kubernetes.stream import portforward

    forward = portforward(
        client.CoreV1Api(api).connect_get_namespaced_pod_portforward,
        pod,
        namespace,
        ports=str(HUB_PORT),
    )
    stream: Any = forward.socket(HUB_PORT)
    stream.setblocking(True)
    return stream  # type: ignore[no-any-return]


@contextlib.contextmanager
def relay(opener: Opener) -> Iterator[int]:
    """Listen on 127.0.0.1 and carry each connection to a stream `opener` makes."""
    listener = socket.create_server(("127.0.0.1", 0))
    open_ends: list[Stream | socket.socket] = []
    closing = threading.Event()

    def serve() -> None:
        while not closing.is_set():
            try:
                local, _ = listener.accept()
            except OSError:
                return
            try:
                remote = opener()
            except Exception:  # the stream failed: the client sees a closed connection
                local.close()
                continue
            open_ends.extend((local, remote))
            for source, target in ((local, remote), (remote, local)):
                threading.Thread(target=_pump, args=(source, target), daemon=True).start()

    acceptor = threading.Thread(target=serve, name="hub-tunnel", daemon=True)
    acceptor.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        closing.set()
        listener.close()
        for end in open_ends:
            _close(end)
        acceptor.join(timeout=5)


def _pump(source: Stream | socket.socket, target: Stream | socket.socket) -> None:
    """Copy bytes one way until either side closes; then close both."""
    try:
        while data := source.recv(CHUNK):
            target.sendall(data)
    except OSError:
        pass
    finally:
        _close(source)
        _close(target)


def _close(end: Stream | socket.socket) -> None:
    # shutdown first: a close alone does not wake a recv blocked in another thread.
    with contextlib.suppress(OSError, AttributeError):
        end.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
    with contextlib.suppress(OSError):
        end.close()
