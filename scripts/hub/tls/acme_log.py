"""What traefik's log says about a Let's Encrypt order: each known ACME error with its remedy.

hub.ssl-retry reads the log of the restarted autohttps pod's traefik container (steps:
docs/tls.md, "Retry issuance"). Only lines at error level count, and of those not the
ones that are harmless (the challenge look-ups the port-80 pre-check causes, notices
about rules without host names). An ACME problem type names the error; without one,
its wording does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .cert_status import Certificate

OutcomeKind = Literal[
    "obtained",
    "rate-limited",
    "dns",
    "connection",
    "unauthorized",
    "caa",
    "rejected",
    "acme-error",
    "pending",
]


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    message: str
    remedy: str = ""
    certificate: Certificate | None = None


@dataclass(frozen=True)
class KnownError:
    kind: OutcomeKind
    # The ACME problem type (RFC 8555 §6.7) Let's Encrypt names in its answer.
    urn: str
    # Wording that identifies the same problem when a message lacks the type.
    phrases: re.Pattern[str]
    summary: str
    remedy: str


KNOWN_ERRORS = (
    KnownError(
        "rate-limited",
        "rateLimited",
        re.compile(r"too many (certificates|failed authorizations)|rate limit", re.I),
        "Let's Encrypt refused the order: rate limit reached",
        "do not retry before {retry_after}: every further order is refused; rehearse "
        "meanwhile with --staging",
    ),
    KnownError(
        "dns",
        "dns",
        re.compile(r"DNS problem", re.I),
        "Let's Encrypt could not resolve {domain} correctly",
        "fix the record ({domain} A {address}) at your DNS provider, wait for its TTL, then "
        "re-run (the pre-check asks public resolvers; Let's Encrypt asks the authoritative ones)",
    ),
    KnownError(
        "connection",
        "connection",
        re.compile(r"connection refused|timeout during connect|no route to host", re.I),
        "Let's Encrypt could not connect to port 80 of {domain}",
        "allow TCP port 80 from anywhere to the load balancer (security group, firewall); "
        "Let's Encrypt connects from several networks, so a source-restricted rule fails",
    ),
    KnownError(
        "unauthorized",
        "unauthorized",
        re.compile(r"invalid response from", re.I),
        "Let's Encrypt reached a server that did not answer the challenge",
        "point every A/AAAA record of {domain} at {address} only, and make sure no proxy in "
        "front of the hub intercepts /.well-known/acme-challenge/",
    ),
    KnownError(
        "caa",
        "caa",
        re.compile(r"CAA record for \S+ prevents issuance", re.I),
        "a CAA record for {domain} forbids Let's Encrypt",
        'add the DNS record `{domain} CAA 0 issue "letsencrypt.org"` (or remove the CAA '
        "records), then re-run",
    ),
    KnownError(
        "rejected",
        "rejectedIdentifier",
        re.compile(r"policy forbids", re.I),
        "Let's Encrypt will not issue for {domain} (its policy forbids the name)",
        "use a domain you control under a public suffix (example.org and *.local are refused)",
    ),
)
GENERIC_ERROR = KnownError(
    "acme-error",
    "",
    re.compile(r"unable to obtain acme certificate|acme: error|cannot get acme client", re.I),
    "traefik could not obtain a certificate for {domain}",
    "read traefik's message (kubectl logs -n NAMESPACE deploy/autohttps -c traefik) and fix "
    "its cause before retrying",
)
_URN = re.compile(r"urn:ietf:params:acme:error:(\w+)")
_ERROR_LEVEL = re.compile(
    r'\bERR\b|\bERROR\b|level=error|"level":\s*"error"|\bFTL\b|level=fatal', re.I
)
# Lines traefik writes at error level that say nothing about our order: the
# challenge look-ups our own port-80 probe caused, and notices about rules
# without host names (the "implicit names" the manual says to ignore).
_HARMLESS = re.compile(
    r"Cannot retrieve the ACME challenge|Error getting challenge for token|"
    r"No domain found in rule|implicit|Account URI does not match",
    re.I,
)
_RETRY_AFTER = re.compile(r"retry after ([0-9-]+[ T][0-9:]+(?: UTC)?)", re.I)
_DETAIL = re.compile(r"urn:ietf:params:acme:error:\w+ :: (.+?)(?:\\n|\"|$)")


def classify_line(line: str) -> KnownError | None:
    """The ACME error this log line reports, if it reports one."""
    if not _ERROR_LEVEL.search(line) or _HARMLESS.search(line):
        return None
    urn = _URN.search(line)
    if urn:
        by_urn = {known.urn: known for known in KNOWN_ERRORS}
        return by_urn.get(urn.group(1), GENERIC_ERROR)
    for known in KNOWN_ERRORS:
        if known.phrases.search(line):
            return known
    return GENERIC_ERROR if GENERIC_ERROR.phrases.search(line) else None


def classify_log(text: str, domain: str, address: str, namespace: str) -> Outcome | None:
    """The first ACME error in traefik's log as an Outcome with its remedy."""
    for line in text.splitlines():
        known = classify_line(line)
        if known is None:
            continue
        retry_after = _RETRY_AFTER.search(line)
        values = {
            "domain": domain,
            "address": address,
            "retry_after": retry_after.group(1) if retry_after else "the time Let's Encrypt names",
        }
        detail = _DETAIL.search(line)
        excerpt = (detail.group(1) if detail else line.strip())[:300]
        remedy = known.remedy.format(**values).replace("NAMESPACE", namespace)
        return Outcome(known.kind, f"{known.summary.format(**values)}: {excerpt}", remedy)
    return None
