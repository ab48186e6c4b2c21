"""The checks a Let's Encrypt order depends on, asked the way Let's Encrypt asks.

They are steps 1 and 3 to 5 of hub.ssl-retry (docs/tls.md, "Retry issuance"): the
deployed release must serve the config's domain, the load balancer's address must
agree with the pinned floating IP, and DNS and port 80 must lead Let's Encrypt to it.
Let's Encrypt resolves the domain through public DNS and fetches
http://<domain>/.well-known/acme-challenge/<token> on port 80. So the DNS check
asks external resolvers (not this machine's, which may have a private view), and
the port-80 check sends that very request with an unknown token: traefik's ACME
handler answers an unknown token with an empty 404, anything else means another
server (or nothing) would answer Let's Encrypt.

Every failed check carries the exact fix, because its message is what a tired
operator reads instead of a manual.
"""

from __future__ import annotations

import http.client
import ipaddress
import secrets
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...core.errors import OperationFailed, bad_option
from ...core.templates import ACME_PRODUCTION
from .ledger import Server

if TYPE_CHECKING:
    from ...core.helm import Helm

SERVICE = "proxy-public"
# Octavia VIPs live in these ranges; a floating IP is then attached in front of them.
_INTERNAL_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)
CHALLENGE_PREFIX = "/.well-known/acme-challenge/"
# What Go's http.NotFound writes; traefik v3's ACME handler writes nothing at all.
TRAEFIK_NOT_FOUND_BODIES = (b"", b"404 page not found\n", b"404 page not found")


@dataclass(frozen=True)
class Resolver:
    """A DNS server to ask; port 53 unless a test points it at loopback."""

    address: str
    port: int = 53

    def __str__(self) -> str:
        if self.port == 53:
            return self.address
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


# Two operators, so one provider's outage or stale cache is noticed.
DEFAULT_RESOLVERS = (Resolver("1.1.1.1"), Resolver("8.8.8.8"))


def parse_resolvers(text: str) -> tuple[Resolver, ...]:
    """`--resolvers 1.1.1.1,8.8.8.8` (optionally ADDRESS:PORT or [IPv6]:PORT)."""
    if not text.strip():
        return DEFAULT_RESOLVERS
    found: list[Resolver] = []
    for item in (part.strip() for part in text.split(",")):
        address, port = item, 53
        if item.startswith("["):
            address, _, rest = item[1:].partition("]")
            if rest:
                port = _port(item, rest.removeprefix(":"))
        elif item.count(":") == 1:
            address, text_port = item.split(":")
            port = _port(item, text_port)
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise bad_option(
                "--resolvers",
                f"{item!r} is not an IP address; give DNS servers as IPs separated by commas, "
                "e.g. 1.1.1.1,8.8.8.8 (optionally ADDRESS:PORT)",
            ) from None
        found.append(Resolver(address, port))
    return tuple(found)


def _port(item: str, text: str) -> int:
    if text.isdigit() and 0 < int(text) < 65536:
        return int(text)
    raise bad_option("--resolvers", f"{item!r} has no valid port; allowed is 1-65535")


@dataclass(frozen=True)
class Check:
    """One check's result: what was found and, when it failed, what to do about it."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    warnings: tuple[str, ...] = ()


# ------------------------------------------------------------------------- deployed release


@dataclass(frozen=True)
class Deployed:
    domain: str
    acme_server: str
    values: dict[str, Any]


def server_label(url: str) -> Server:
    return "staging" if "staging" in url else "production"


def read_deployed(helm: Helm, namespace: str, release: str, domain: str, env: str) -> Deployed:
    """The domain and ACME server the running release was given, checked against the config."""
    values = helm.get_values(release, namespace)
    if values is None:
        raise OperationFailed(
            f"release {release} is not installed in namespace {namespace}",
            f"deploy the hub first: `invoke hub.deploy --env {env}`",
        )
    https = (values.get("proxy") or {}).get("https") or {}
    kind = https.get("type", "letsencrypt")
    if not https.get("enabled") or kind != "letsencrypt":
        state = "disabled" if not https.get("enabled") else f"type {kind!r}"
        raise OperationFailed(
            f"the deployed release {release} has HTTPS {state}, not Let's Encrypt",
            f"deploy the config (hub.https.mode letsencrypt) with `invoke hub.deploy --env {env}`",
        )
    hosts = [str(h).lower() for h in https.get("hosts") or []]
    if hosts != [domain]:
        raise OperationFailed(
            f"the deployed release serves {', '.join(hosts) or 'no domain'}, but the config's "
            f"hub.domain is {domain}",
            f"deploy the config first (`invoke hub.deploy --env {env}`), or correct hub.domain; "
            "ordering for the wrong name would waste an attempt",
        )
    server = str((https.get("letsencrypt") or {}).get("acmeServer") or ACME_PRODUCTION)
    return Deployed(domain, server, values)


# ------------------------------------------------------------------------- addresses


def expected_address(
    lb: str | None, floating_ip: str | None, namespace: str, env: str
) -> tuple[str | None, Check]:
    """The address DNS must give: the load balancer's, or the floating IP in front of it."""
    name = "load balancer address"
    if lb is None:
        return floating_ip, Check(
            name,
            ok=False,
            detail=f"the Service {namespace}/{SERVICE} has no external address yet",
            fix=(
                f"wait for the load balancer (kubectl get svc -n {namespace} {SERVICE}), or "
                f"diagnose it with `invoke lb.doctor --env {env}`"
            ),
        )
    try:
        lb_ip = ipaddress.ip_address(lb)
    except ValueError:
        if floating_ip:
            return floating_ip, Check(name, ok=True, detail=f"floating IP {floating_ip}")
        return None, Check(
            name,
            ok=False,
            detail=f"the Service {namespace}/{SERVICE} reports a host name ({lb}), not an IP",
            fix="set hub.floating_ip to the public IPv4 address the hub is reached at",
        )
    if floating_ip is None or lb == floating_ip:
        suffix = " (the pinned floating IP)" if floating_ip else ""
        return lb, Check(name, ok=True, detail=f"{SERVICE} has {lb}{suffix}")
    if any(lb_ip in network for network in _INTERNAL_NETWORKS):
        return floating_ip, Check(
            name,
            ok=True,
            detail=(
                f"floating IP {floating_ip} (the load balancer reports its internal address "
                f"{lb}; the floating IP is attached outside Kubernetes)"
            ),
        )
    return lb, Check(
        name,
        ok=False,
        detail=f"{SERVICE} has the external IP {lb}, but hub.floating_ip is {floating_ip}",
        fix=(
            f"the load balancer did not take the pinned floating IP: run `invoke lb.doctor "
            f"--env {env}`; or, if {lb} is the address you want, set hub.floating_ip: {lb} and "
            "point DNS at it"
        ),
    )


# ------------------------------------------------------------------------- DNS


@dataclass(frozen=True)
class DnsAnswer:
    resolver: Resolver
    a: tuple[str, ...] = ()
    aaaa: tuple[str, ...] = ()
    nxdomain: bool = False
    error: str = ""
    ttl: int = 0

    @property
    def addresses(self) -> tuple[str, ...]:
        return self.a + self.aaaa


def lookup(domain: str, resolver: Resolver, timeout: float = 5.0) -> DnsAnswer:
    """The domain's A and AAAA records as one resolver sees them."""
    import dns.exception
    import dns.resolver

    client = dns.resolver.Resolver(configure=False)
    client.nameservers = [resolver.address]
    client.port = resolver.port
    client.timeout = client.lifetime = timeout
    client.cache = None
    records: dict[str, tuple[str, ...]] = {}
    ttl = 0
    for rdtype in ("A", "AAAA"):
        try:
            answer = client.resolve(domain + ".", rdtype, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            return DnsAnswer(resolver, nxdomain=True)
        except dns.resolver.NoNameservers:
            return DnsAnswer(resolver, error="the server failed to answer (SERVFAIL or refused)")
        except dns.exception.Timeout:
            return DnsAnswer(resolver, error=f"no answer within {timeout:.0f}s")
        if answer.rrset is not None:
            records[rdtype] = tuple(sorted(rdata.address for rdata in answer.rrset))
            ttl = max(ttl, answer.rrset.ttl)
    return DnsAnswer(resolver, records.get("A", ()), records.get("AAAA", ()), ttl=ttl)


def check_dns(
    domain: str,
    expected: Sequence[str],
    resolvers: Sequence[Resolver] = DEFAULT_RESOLVERS,
    timeout: float = 5.0,
) -> Check:
    """Every answering resolver must give exactly the expected addresses, and no others."""
    answers = [lookup(domain, resolver, timeout) for resolver in resolvers]
    return judge_dns(domain, expected, answers)


def judge_dns(domain: str, expected: Sequence[str], answers: Sequence[DnsAnswer]) -> Check:
    wanted = set(expected)
    want_text = " and ".join(sorted(wanted))
    answered = [answer for answer in answers if not answer.error]
    silent = [answer for answer in answers if answer.error]
    warnings = tuple(f"no usable answer from {a.resolver}: {a.error}" for a in silent)
    if not answered:
        asked = ", ".join(str(a.resolver) for a in answers)
        return Check(
            "DNS",
            ok=False,
            detail=f"no DNS answer for {domain} from {asked} ({silent[0].error})",
            fix=(
                "check that this machine may query outside DNS servers (UDP and TCP port 53), "
                "or name reachable public resolvers with --resolvers"
            ),
        )

    problems: list[tuple[str, str]] = []
    for answer in answered:
        found = _judge_one(domain, wanted, want_text, answer)
        if found:
            problems.append(found)
    if not problems:
        where = ", ".join(str(a.resolver) for a in answered)
        return Check("DNS", ok=True, detail=f"{domain} → {want_text} at {where}", warnings=warnings)

    detail, fix = problems[0]
    views = {answer.addresses for answer in answered} | {() for a in answered if a.nxdomain}
    if len(views) > 1:
        ttl = max(answer.ttl for answer in answered)
        fix += (
            f"; the resolvers disagree, so a recent change may still be propagating "
            f"(cached for up to {ttl}s): wait, then re-run"
        )
    return Check("DNS", ok=False, detail=detail, fix=fix, warnings=warnings)


def _judge_one(
    domain: str, wanted: set[str], want_text: str, answer: DnsAnswer
) -> tuple[str, str] | None:
    at = f"(at {answer.resolver})"
    if answer.nxdomain:
        return (
            f"{domain} does not exist in DNS (NXDOMAIN {at}); it must have A {want_text}",
            f"create the record: {domain} A {want_text}",
        )
    wanted_v4 = sorted(w for w in wanted if ipaddress.ip_address(w).version == 4)
    if not answer.a and answer.aaaa and wanted_v4:
        return (
            f"{domain} has no A record, only AAAA {', '.join(answer.aaaa)} {at}; "
            f"it must have A {want_text}",
            f"add the record {domain} A {', '.join(wanted_v4)} and remove the AAAA record "
            "(the load balancer has no IPv6 address, and Let's Encrypt tries IPv6 first)",
        )
    if not answer.addresses:
        return (
            f"{domain} exists but has no A or AAAA record {at}; it must have A {want_text}",
            f"create the record: {domain} A {want_text}",
        )
    wrong_a = [ip for ip in answer.a if ip not in wanted]
    wrong_aaaa = [ip for ip in answer.aaaa if ip not in wanted]
    if wrong_a and not any(ip in wanted for ip in answer.a):
        return (
            f"{domain} has A {', '.join(answer.a)} {at}; it must be {want_text}",
            f"change the DNS record {domain} A to {want_text}",
        )
    if wrong_a:
        return (
            f"{domain} has A {', '.join(answer.a)} {at}; it must be only {want_text}",
            f"remove the extra A record(s) {', '.join(wrong_a)} "
            "(Let's Encrypt may validate against any of them)",
        )
    if wrong_aaaa:
        return (
            f"{domain} also has AAAA {', '.join(wrong_aaaa)} {at}, which is not the hub's "
            "load balancer",
            f"remove the AAAA record(s) {', '.join(wrong_aaaa)} "
            "(Let's Encrypt tries IPv6 first and would reach another server)",
        )
    return None


# ------------------------------------------------------------------------- port 80


def check_port_80(domain: str, address: str, port: int = 80, timeout: float = 10.0) -> Check:
    """GET an unknown ACME challenge from the address; traefik answers an empty 404."""
    where = f"{address}:{port}" if port != 80 else address
    token = "jhub-preflight-" + secrets.token_urlsafe(12)
    try:
        connection = socket.create_connection((address, port), timeout=timeout)
    except ConnectionRefusedError:
        return Check(
            "port 80",
            ok=False,
            detail=f"nothing accepts connections on port {port} at {where} (connection refused)",
            fix=(
                "the load balancer has no port-80 listener or no healthy member: check it with "
                "`invoke lb.doctor` (kubectl get svc proxy-public shows its ports)"
            ),
        )
    except TimeoutError:
        return Check(
            "port 80",
            ok=False,
            detail=f"port {port} at {where} does not answer within {timeout:.0f}s",
            fix=(
                "a security group or firewall drops it: allow TCP port 80 from anywhere "
                "(Let's Encrypt validates from several networks)"
            ),
        )
    except OSError as error:
        return Check(
            "port 80",
            ok=False,
            detail=f"cannot reach port {port} at {where}: {error.strerror or error}",
            fix="check routing to the floating IP and the load balancer (`invoke lb.doctor`)",
        )
    client = http.client.HTTPConnection(address, port, timeout=timeout)
    client.sock = connection
    try:
        client.request(
            "GET",
            CHALLENGE_PREFIX + token,
            headers={"Host": domain, "User-Agent": "jhub-ssl-preflight", "Connection": "close"},
        )
        response = client.getresponse()
        body = response.read(4096)
    except TimeoutError:
        return Check(
            "port 80",
            ok=False,
            detail=(
                f"port {port} at {where} accepts connections but sends no HTTP answer "
                f"within {timeout:.0f}s"
            ),
            fix=(
                "something other than the hub's traefik holds the address, or the load balancer "
                "has no healthy member: check with `invoke lb.doctor`"
            ),
        )
    except (OSError, http.client.HTTPException) as error:
        return Check(
            "port 80",
            ok=False,
            detail=f"port {port} at {where} broke off the HTTP exchange: {error}",
            fix="check the load balancer and the autohttps pod (`invoke lb.doctor`)",
        )
    finally:
        client.close()
    return judge_challenge_response(
        where,
        response.status,
        response.getheader("Server", ""),
        response.getheader("Location"),
        body,
    )


def judge_challenge_response(
    where: str, status: int, server: str, location: str | None, body: bytes
) -> Check:
    server = server.strip()
    foreign = bool(server) and "traefik" not in server.lower()
    if status == 404 and not foreign and body.strip() in TRAEFIK_NOT_FOUND_BODIES:
        return Check(
            "port 80",
            ok=True,
            detail=f"{where} answers an unknown ACME challenge with traefik's 404",
        )
    if 300 <= status < 400:
        return Check(
            "port 80",
            ok=False,
            detail=(
                f"{where} redirects the ACME challenge (HTTP {status} to {location or '?'}) "
                "instead of answering it"
            ),
            fix=(
                "the deployed release does not serve Let's Encrypt challenges on port 80 "
                "(is proxy.https.type letsencrypt?): redeploy with `invoke hub.deploy`, or "
                "remove the proxy in front of the hub"
            ),
        )
    who = f"Server: {server}" if server else "no Server header"
    return Check(
        "port 80",
        ok=False,
        detail=(
            f"{where} is answered by another server (HTTP {status}, {who}), not the hub's traefik"
        ),
        fix=(
            "the address belongs to some other service: point the DNS record and the floating "
            "IP at the hub's load balancer (`invoke lb.doctor` shows which IP it has)"
        ),
    )


# ------------------------------------------------------------------------- TLS


@dataclass(frozen=True)
class Handshake:
    """The certificate an HTTPS endpoint presented, and whether this machine trusts it."""

    der: bytes
    trusted: bool
    trust_error: str = ""


def tls_handshake(
    domain: str,
    address: str | None = None,
    port: int = 443,
    timeout: float = 10.0,
    cafile: Path | None = None,
) -> Handshake:
    """Connect with SNI=domain and return the presented certificate, trusted or not.

    Verification is a second, separate handshake: the first must accept anything,
    because a staging or traefik's default certificate is exactly what we want to see.
    """
    target = address or domain
    where = f"{target}:{port}"
    raw = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    raw.check_hostname = False
    raw.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((target, port), timeout=timeout) as connection,
            raw.wrap_socket(connection, server_hostname=domain) as secured,
        ):
            der = secured.getpeercert(binary_form=True)
    except ConnectionRefusedError:
        raise OperationFailed(
            f"nothing accepts HTTPS connections at {where} (connection refused)",
            "check the load balancer's port-443 listener with `invoke lb.doctor`",
        ) from None
    except TimeoutError:
        raise OperationFailed(
            f"HTTPS at {where} does not answer within {timeout:.0f}s",
            "allow TCP port 443 in the security group; check with `invoke lb.doctor`",
        ) from None
    except (OSError, ssl.SSLError) as error:
        raise OperationFailed(
            f"TLS handshake with {domain} at {where} failed: {error}",
            "check the autohttps pod's logs (kubectl logs deploy/autohttps -c traefik)",
        ) from None
    if not der:
        raise OperationFailed(f"{where} presented no certificate for {domain}")

    verified = ssl.create_default_context(cafile=str(cafile) if cafile else None)
    try:
        with (
            socket.create_connection((target, port), timeout=timeout) as connection,
            verified.wrap_socket(connection, server_hostname=domain),
        ):
            pass
    except ssl.SSLCertVerificationError as error:
        return Handshake(der, trusted=False, trust_error=str(error.verify_message or error))
    except (OSError, ssl.SSLError) as error:
        return Handshake(der, trusted=False, trust_error=str(error))
    return Handshake(der, trusted=True)
