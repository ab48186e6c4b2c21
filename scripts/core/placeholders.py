"""Values that only document: fine to read and plan with, never to deploy.

`config.init` copies the bundled example, whose names and addresses are the
ones reserved for documentation, so that an unedited copy can never reach a real
cloud by accident:

- domains reserved by RFC 2606 §2-3 and RFC 6761 §6.5/6.4: the top-level names
  `example` and `invalid`, and `example.com`, `example.net`, `example.org` with
  every name below them (`test` and `localhost`, reserved too, stay allowed:
  they are what local clusters use, and they never leave this machine);
- addresses reserved for documentation: RFC 5737 §3 (192.0.2.0/24,
  198.51.100.0/24, 203.0.113.0/24), RFC 3849 (2001:db8::/32) and RFC 9637 (3fff::/20);
- the example's own placeholders that are neither (the OAuth client id).

Every task that talks to a cloud or a cluster refuses them (core.session.begin);
`plan`, `config.show` and other offline tasks list them instead. The fakes the
tests run against use documentation addresses themselves, so a test harness
allows them with JHUB_ALLOW_DOCUMENTATION_VALUES=1 (see docs/testing.md).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterator
from typing import Any

from .errors import Problem, shown
from .settings import Settings

ALLOW_VARIABLE = "JHUB_ALLOW_DOCUMENTATION_VALUES"
RESERVED_TOP_LEVEL = ("example", "invalid")
RESERVED_SECOND_LEVEL = ("example.com", "example.net", "example.org")
DOCUMENTATION_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20")
)
# Placeholders of config/example.yaml that are not names or addresses.
EXAMPLE_VALUES = {"my-client-id": "the client ID your OAuth provider issued for this hub"}

# What to set instead, for the keys the example fills with documentation values.
REMEDIES = {
    "hub.domain": "a DNS name you own, pointing at the hub's floating IP",
    "hub.https.contact_email": "an address that receives Let's Encrypt's expiry notices",
    "hub.floating_ip": "a floating IP of your project (`openstack floating ip create "
    "<external network>`), or null to let the cloud pick one",
    "hub.auth.oauth.client_id": EXAMPLE_VALUES["my-client-id"],
    "hub.singleuser.image": "an image your nodes can pull",
    "hub.profiles[].image": "an image your nodes can pull (or remove the key)",
    "gpu.driver.registry": "the registry gpu.build-driver pushes to (or '' when "
    "gpu.driver.custom is false)",
}
_HOST = re.compile(r"(?=.{1,253}$)[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63})*", re.IGNORECASE)


def allowed() -> bool:
    return os.environ.get(ALLOW_VARIABLE, "") not in ("", "0", "false", "no")


def find(settings: Settings) -> list[Problem]:
    """Every configured value that is only for documentation, with what to set instead."""
    data = settings.model_dump(mode="json")
    problems = []
    for key, value in _strings(data, ""):
        why = reason(value)
        if why:
            remedy = (
                REMEDIES.get(key)
                or REMEDIES.get(re.sub(r"\[\d+\]", "[]", key))
                or ("your own value")
            )
            problems.append(Problem(key, f"{shown(value)} is {why}; set {remedy}"))
    return problems


def reason(value: str) -> str:
    """Why a value is documentation-only, or '' when it is not."""
    if value in EXAMPLE_VALUES:
        return "the example's placeholder"
    token = value.strip()
    if not token or any(ch.isspace() for ch in token):
        return ""  # prose (a description), not a name or an address
    host = token if _address(token) is not None else _host(token)
    address = _address(host)
    if address is not None:
        if any(address in network for network in DOCUMENTATION_NETWORKS):
            return "an address reserved for documentation (RFC 5737 / RFC 3849)"
        return ""
    if host and _reserved(host):
        return f"a domain reserved for documentation ({host}, RFC 2606)"
    return ""


def _strings(data: Any, key: str) -> Iterator[tuple[str, str]]:
    if isinstance(data, dict):
        for name, value in data.items():
            yield from _strings(value, f"{key}.{name}" if key else str(name))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _strings(value, f"{key}[{index}]")
    elif isinstance(data, str):
        yield key, data


def _address(token: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    candidate = token.strip("[]")
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        return None


def _host(token: str) -> str:
    """The host a value names: of a URL, an email address, an image or registry
    reference (its first part when that holds a dot, as Docker reads it), or itself."""
    text = token
    if "://" in text:
        text = text.split("://", 1)[1]
    if "@" in text and "/" not in text.split("@", 1)[0]:
        text = text.rsplit("@", 1)[1]
    text = text.split("/", 1)[0]
    if text.startswith("[") and "]" in text:
        return text[1 : text.index("]")]  # [IPv6]:port
    host = text.rsplit(":", 1)[0] if text.count(":") == 1 else text
    host = host.rstrip(".").lower()
    if _address(host) is not None:
        return host
    return host if "." in host and _HOST.fullmatch(host) else ""


def _reserved(host: str) -> bool:
    labels = host.split(".")
    if labels[-1] in RESERVED_TOP_LEVEL:
        return True
    return ".".join(labels[-2:]) in RESERVED_SECOND_LEVEL
