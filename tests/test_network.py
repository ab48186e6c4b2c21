"""Every test reaches loopback only; the bad-input tests reach nothing at all.

These fail when pyproject's pytest-socket options or tests/support/network.py go away.
"""

from __future__ import annotations

import re
import socket
import threading

import pytest
import pytest_socket

from tests.support.network import NetworkBlockedError, is_loopback

# TEST-NET-1 (RFC 5737): reserved for documentation, routed nowhere.
ELSEWHERE = "192.0.2.1"


def test_connect_past_loopback_fails_the_test() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        pytest.raises(pytest_socket.SocketConnectBlockedError, match=ELSEWHERE),
        # pytest-socket also warns about the attempt; here it is the point.
        pytest.warns(UserWarning, match=ELSEWHERE),
    ):
        sock.connect((ELSEWHERE, 80))


def test_a_udp_packet_past_loopback_fails_the_test() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
        pytest.raises(NetworkBlockedError, match=re.escape("1.1.1.1")),
    ):
        sock.sendto(b"\x00", ("1.1.1.1", 53))


def test_resolving_a_real_name_fails_the_test() -> None:
    with pytest.raises(NetworkBlockedError, match=re.escape("jupyter.example.org")):
        socket.getaddrinfo("jupyter.example.org", 443)
    with pytest.raises(NetworkBlockedError, match=re.escape("jupyter.example.org")):
        socket.gethostbyname("jupyter.example.org")


def test_loopback_works_both_ways() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.sendto(b"ping", server.getsockname())
            assert server.recv(4) == b"ping"
    listener = socket.create_server(("127.0.0.1", 0))

    def accept() -> None:
        listener.accept()[0].close()

    accepted = threading.Thread(target=accept, daemon=True)
    accepted.start()
    with socket.create_connection(("localhost", listener.getsockname()[1]), timeout=5):
        pass
    accepted.join(timeout=5)
    listener.close()
    assert socket.getaddrinfo("192.0.2.1", 80)  # an IP literal asks no resolver


def test_bad_input_tests_get_no_socket_at_all(socket_disabled: None) -> None:
    for family in (socket.AF_INET, socket.AF_UNIX):
        with (
            pytest.raises(pytest_socket.SocketBlockedError),
            pytest.warns(UserWarning, match="socket.socket"),
        ):
            socket.socket(family, socket.SOCK_STREAM)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("hub.localhost", True),
        (b"127.0.0.1", True),
        ("192.0.2.1", False),
        ("10.0.0.1", False),
        ("jupyter.example.org", False),
        (None, False),
    ],
)
def test_what_counts_as_loopback(host: object, loopback: bool) -> None:
    assert is_loopback(host) is loopback
