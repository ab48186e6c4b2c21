"""Loopback only, for every test: what pytest-socket leaves open, closed here.

pyproject.toml runs pytest-socket with ``--allow-hosts=127.0.0.1,::1,localhost`` (and
``--allow-unix-socket`` for dockerd's socket): every ``connect()`` elsewhere fails the
test. Two ways around it remain, and this plugin closes them for the length of each test:

- ``sendto()`` to a non-loopback address: a UDP DNS query needs no connect (dnspython's
  ``dns.query.udp`` sends with ``sendto``), so a check left on its default resolvers
  (1.1.1.1) would reach the internet;
- resolving a name other than localhost (``getaddrinfo``, ``gethostbyname``): the
  system resolver asks the network, and the name would then be connected to.

IP literals resolve without asking anyone, so they pass; connecting to them is
pytest-socket's to refuse. ``socket_disabled`` (the bad-input tests) refuses every socket,
Unix ones included, whatever ``--allow-unix-socket`` says. Marking a test
``enable_socket`` lifts both, as it does pytest-socket's guard.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import pytest_socket

LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost", "ip6-loopback"})


class NetworkBlockedError(RuntimeError):
    """A test tried to reach past loopback (a RuntimeError, so `except OSError` misses it)."""


def is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", errors="replace")
    if not isinstance(host, str):
        return False
    name = host.strip("[]").split("%")[0].lower()
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _needs_the_network(host: object) -> bool:
    """A name lookup that would ask a DNS server: not passive, loopback or an IP literal."""
    if host is None or host in ("", b""):
        return False
    if is_loopback(host):
        return False
    text = host.decode("ascii", errors="replace") if isinstance(host, bytes) else str(host)
    try:
        ipaddress.ip_address(text.strip("[]").split("%")[0])
    except ValueError:
        return True
    return False


# Taken at import, before pytest-socket swaps socket.socket for its guarded subclass.
_SOCKET = socket.socket
_true_getaddrinfo = socket.getaddrinfo
_true_gethostbyname = socket.gethostbyname
_true_sendto = _SOCKET.sendto


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if _needs_the_network(host):
        raise NetworkBlockedError(
            f"a test tried to resolve {host!r}: tests reach loopback only "
            "(tests/support/network.py); use 127.0.0.1 and a loopback server"
        )
    return _true_getaddrinfo(host, *args, **kwargs)


def _guarded_gethostbyname(host: Any) -> str:
    if _needs_the_network(host):
        raise NetworkBlockedError(f"a test tried to resolve {host!r}: tests reach loopback only")
    return _true_gethostbyname(host)


def _guarded_sendto(self: socket.socket, data: Any, *args: Any) -> int:
    # sendto(data, address) or sendto(data, flags, address)
    address = args[-1] if args else None
    if isinstance(address, tuple) and not is_loopback(address[0]):
        raise NetworkBlockedError(
            f"a test tried to send to {address[0]}: tests reach loopback only "
            "(tests/support/network.py); point the client at a loopback server"
        )
    return _true_sendto(self, data, *args)


def _guard() -> None:
    # Only where pytest-socket left them alone (socket_disabled replaces them itself).
    if socket.getaddrinfo is _true_getaddrinfo:
        socket.getaddrinfo = _guarded_getaddrinfo
    if socket.gethostbyname is _true_gethostbyname:
        socket.gethostbyname = _guarded_gethostbyname
    _SOCKET.sendto = _guarded_sendto  # type: ignore[method-assign,assignment]


def _unguard() -> None:
    if socket.getaddrinfo is _guarded_getaddrinfo:
        socket.getaddrinfo = _true_getaddrinfo
    if socket.gethostbyname is _guarded_gethostbyname:
        socket.gethostbyname = _true_gethostbyname
    _SOCKET.sendto = _true_sendto  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _loopback_only(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("enable_socket") or "socket_enabled" in request.fixturenames:
        yield
        return
    _guard()
    try:
        yield
    finally:
        _unguard()


@pytest.fixture
def socket_disabled() -> Iterator[None]:
    """No socket at all for this test, Unix sockets included (pytest-socket restores it)."""
    pytest_socket.disable_socket(allow_unix_socket=False)
    yield
