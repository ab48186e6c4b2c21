"""The SSL pre-checks against real servers on loopback: dnslib for DNS, HTTP(S) servers.

Each case is what an operator meets in practice before a Let's Encrypt order; the
assertions pin the exact fix the check tells them, since that text is the product.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from scripts.core.errors import BadInput, OperationFailed
from scripts.hub.tls.cert_status import from_der
from scripts.hub.tls.checks import (
    CHALLENGE_PREFIX,
    DEFAULT_RESOLVERS,
    Resolver,
    check_dns,
    check_port_80,
    parse_resolvers,
    tls_handshake,
)
from tests.hub.tls.helpers import DOMAIN
from tests.support.components import DnsEndpoint, ProgrammableHTTPServer
from tests.support.processes import free_port

LB = "192.0.2.10"

DnsFactory = Callable[..., DnsEndpoint]
HttpFactory = Callable[..., ProgrammableHTTPServer]


def resolver(endpoint: DnsEndpoint) -> Resolver:
    return Resolver(endpoint.address, endpoint.port)


# ------------------------------------------------------------------ DNS


def test_matching_a_record_passes(dns_server_factory: DnsFactory) -> None:
    server = dns_server_factory({DOMAIN: {"A": LB}})
    result = check_dns(DOMAIN, [LB], [resolver(server)], timeout=2)
    assert result.ok, result
    assert result.detail == f"{DOMAIN} → {LB} at {resolver(server)}"
    # Both families were asked, as Let's Encrypt asks both.
    asked = dns_server_factory.servers[server].queries  # type: ignore[attr-defined]
    assert {(f"{DOMAIN}.", "A"), (f"{DOMAIN}.", "AAAA")} <= set(asked)


def test_wrong_a_record_names_record_and_wanted_address(dns_server_factory: DnsFactory) -> None:
    server = dns_server_factory({DOMAIN: {"A": "203.0.113.5"}})
    result = check_dns(DOMAIN, [LB], [resolver(server)], timeout=2)
    assert not result.ok
    assert result.detail == (f"{DOMAIN} has A 203.0.113.5 (at {resolver(server)}); it must be {LB}")
    assert result.fix == f"change the DNS record {DOMAIN} A to {LB}"


def test_nxdomain_says_create_the_record(dns_server_factory: DnsFactory) -> None:
    server = dns_server_factory({"other.example.org": {"A": LB}})
    result = check_dns(DOMAIN, [LB], [resolver(server)], timeout=2)
    assert not result.ok
    assert "does not exist in DNS (NXDOMAIN" in result.detail
    assert result.fix == f"create the record: {DOMAIN} A {LB}"


def test_aaaa_only_is_refused_because_the_load_balancer_has_no_ipv6(
    dns_server_factory: DnsFactory,
) -> None:
    server = dns_server_factory({DOMAIN: {"AAAA": "2001:db8::10"}})
    result = check_dns(DOMAIN, [LB], [resolver(server)], timeout=2)
    assert not result.ok
    assert "has no A record, only AAAA 2001:db8::10" in result.detail
    assert f"add the record {DOMAIN} A {LB} and remove the AAAA record" in result.fix


def test_extra_a_record_among_several_must_go(dns_server_factory: DnsFactory) -> None:
    server = dns_server_factory({DOMAIN: {"A": [LB, "203.0.113.5"]}})
    result = check_dns(DOMAIN, [LB], [resolver(server)], timeout=2)
    assert not result.ok
    assert result.detail.startswith(f"{DOMAIN} has A {LB}, 203.0.113.5")
    assert "it must be only" in result.detail
    assert result.fix.startswith("remove the extra A record(s) 203.0.113.5")


def test_several_records_all_pointing_at_the_hub_pass(dns_server_factory: DnsFactory) -> None:
    # Two load balancer addresses (one IPv4, one IPv6) both expected: nothing to fix.
    server = dns_server_factory({DOMAIN: {"A": LB, "AAAA": "2001:db8::10"}})
    result = check_dns(DOMAIN, [LB, "2001:db8::10"], [resolver(server)], timeout=2)
    assert result.ok, result


def test_stray_aaaa_next_to_correct_a_is_refused(dns_server_factory: DnsFactory) -> None:
    server = dns_server_factory({DOMAIN: {"A": LB, "AAAA": "2001:db8::99"}})
    result = check_dns(DOMAIN, [LB], [resolver(server)], timeout=2)
    assert not result.ok
    assert "also has AAAA 2001:db8::99" in result.detail
    assert "remove the AAAA record(s) 2001:db8::99" in result.fix


def test_resolvers_that_disagree_point_at_propagation(dns_server_factory: DnsFactory) -> None:
    fresh = dns_server_factory({DOMAIN: {"A": LB}}, ttl=300)
    stale = dns_server_factory({DOMAIN: {"A": "203.0.113.5"}}, ttl=300)
    result = check_dns(DOMAIN, [LB], [resolver(fresh), resolver(stale)], timeout=2)
    assert not result.ok
    assert f"(at {resolver(stale)})" in result.detail
    assert "resolvers disagree" in result.fix and "300s" in result.fix


def test_a_dead_resolver_is_a_warning_when_another_answers(
    dns_server_factory: DnsFactory,
) -> None:
    alive = dns_server_factory({DOMAIN: {"A": LB}})
    dead = Resolver("127.0.0.1", free_port(udp_too=True))
    result = check_dns(DOMAIN, [LB], [dead, resolver(alive)], timeout=1)
    assert result.ok
    assert len(result.warnings) == 1 and str(dead) in result.warnings[0]


def test_no_resolver_answering_fails_with_a_way_out() -> None:
    dead = Resolver("127.0.0.1", free_port(udp_too=True))
    result = check_dns(DOMAIN, [LB], [dead], timeout=1)
    assert not result.ok
    assert result.detail.startswith(f"no DNS answer for {DOMAIN} from {dead}")
    assert "--resolvers" in result.fix


def test_servfail_is_not_mistaken_for_an_answer(dns_server_factory: DnsFactory) -> None:
    server = dns_server_factory({DOMAIN: {"RCODE": "SERVFAIL"}})
    result = check_dns(DOMAIN, [LB], [resolver(server)], timeout=2)
    assert not result.ok
    assert "SERVFAIL" in result.detail


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", DEFAULT_RESOLVERS),
        ("9.9.9.9", (Resolver("9.9.9.9"),)),
        ("1.1.1.1, 8.8.4.4", (Resolver("1.1.1.1"), Resolver("8.8.4.4"))),
        ("127.0.0.1:5353", (Resolver("127.0.0.1", 5353),)),
        ("[2606:4700:4700::1111]:53", (Resolver("2606:4700:4700::1111"),)),
        ("2606:4700:4700::1111", (Resolver("2606:4700:4700::1111"),)),
    ],
)
def test_resolver_option_forms(text: str, expected: tuple[Resolver, ...]) -> None:
    assert parse_resolvers(text) == expected


@pytest.mark.parametrize("text", ["dns.google", "1.1.1.1:99999", "1.1.1.1:x", "1.1.1"])
def test_bad_resolver_option_names_the_option(text: str) -> None:
    with pytest.raises(BadInput) as refused:
        parse_resolvers(text)
    assert refused.value.problems[0].key == "option --resolvers"


# ------------------------------------------------------------------ port 80


def traefik_like(server: ProgrammableHTTPServer, **overrides: Any) -> None:
    """traefik v3's ACME handler: an unknown token gets an empty 404 and no Server header."""
    server.respond("*", overrides.pop("status", 404), headers={"Server": ""}, body=b"")


def test_traefik_404_for_an_unknown_challenge_passes(http_server_factory: HttpFactory) -> None:
    server = http_server_factory()
    traefik_like(server)
    result = check_port_80(DOMAIN, "127.0.0.1", server.port, timeout=5)
    assert result.ok, result
    [request] = server.requests
    # The probe looks exactly like Let's Encrypt's request, with a token nobody has.
    assert request.method == "GET"
    assert request.path.startswith(CHALLENGE_PREFIX + "jhub-preflight-")
    assert request.headers["Host"] == DOMAIN


def test_go_default_404_counts_as_traefik(http_server_factory: HttpFactory) -> None:
    server = http_server_factory()
    server.respond("*", 404, headers={"Server": ""}, body="404 page not found\n")
    assert check_port_80(DOMAIN, "127.0.0.1", server.port, timeout=5).ok


@pytest.mark.parametrize(
    ("status", "server_header", "body"),
    [
        (200, "nginx/1.25.3", "<html><h1>Welcome to nginx!</h1></html>"),
        (404, "Apache/2.4.62 (Debian)", "<html>Not Found</html>"),
        (404, "", "<!doctype html><title>Default site</title>"),
    ],
)
def test_another_server_on_port_80_fails(
    http_server_factory: HttpFactory, status: int, server_header: str, body: str
) -> None:
    server = http_server_factory()
    server.respond("*", status, headers={"Server": server_header}, body=body)
    result = check_port_80(DOMAIN, "127.0.0.1", server.port, timeout=5)
    assert not result.ok
    assert f"is answered by another server (HTTP {status}" in result.detail
    assert "point the DNS record and the floating IP at the hub's load balancer" in result.fix


def test_redirect_instead_of_challenge_fails(http_server_factory: HttpFactory) -> None:
    server = http_server_factory()
    server.respond("*", 308, headers={"Server": "", "Location": f"https://{DOMAIN}/"})
    result = check_port_80(DOMAIN, "127.0.0.1", server.port, timeout=5)
    assert not result.ok
    assert f"HTTP 308 to https://{DOMAIN}/" in result.detail
    assert "proxy.https.type letsencrypt" in result.fix


def test_closed_port_fails_as_refused() -> None:
    port = free_port()
    result = check_port_80(DOMAIN, "127.0.0.1", port, timeout=5)
    assert not result.ok
    assert result.detail == (
        f"nothing accepts connections on port {port} at 127.0.0.1:{port} (connection refused)"
    )
    assert "lb.doctor" in result.fix


def test_silent_server_fails_as_timeout(http_server_factory: HttpFactory) -> None:
    server = http_server_factory()
    server.respond("*", 404, hang=True, hang_seconds=10)
    result = check_port_80(DOMAIN, "127.0.0.1", server.port, timeout=1)
    assert not result.ok
    assert "accepts connections but sends no HTTP answer within 1s" in result.detail


# ------------------------------------------------------------------ TLS


def test_handshake_reads_an_untrusted_certificate(http_server_factory: HttpFactory) -> None:
    server = http_server_factory(tls=True, hostnames=(DOMAIN,))
    shake = tls_handshake(DOMAIN, "127.0.0.1", server.port, timeout=5)
    certificate = from_der(shake.der)
    assert certificate.covers(DOMAIN)
    assert not shake.trusted
    assert "self" in shake.trust_error.lower() or "verify" in shake.trust_error.lower()


def test_handshake_trusts_a_certificate_from_a_known_ca(http_server_factory: HttpFactory) -> None:
    server = http_server_factory(tls=True, hostnames=(DOMAIN,))
    assert server.ca_cert_path is not None
    shake = tls_handshake(DOMAIN, "127.0.0.1", server.port, timeout=5, cafile=server.ca_cert_path)
    assert shake.trusted, shake.trust_error


def test_handshake_with_closed_port_is_an_operation_failure() -> None:
    port = free_port()
    with pytest.raises(OperationFailed, match="connection refused") as failure:
        tls_handshake(DOMAIN, "127.0.0.1", port, timeout=5)
    assert "lb.doctor" in failure.value.remedy
