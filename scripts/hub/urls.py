"""Where the hub answers: its domain when it has one, else the load balancer's address."""

from __future__ import annotations

from ..core.errors import bad_option
from ..core.settings import Settings


def public_url(settings: Settings, address: str | None = None) -> str:
    """The hub's base URL with a trailing slash."""
    if settings.hub.url:
        return settings.hub.url
    if address:
        return f"http://{address}/"
    raise bad_option(
        "--url",
        "hub.domain is not set, so the hub's address is unknown here; pass --url "
        "http://LOAD-BALANCER-IP/ (see `invoke hub.status`)",
    )


def authorize_url(settings: Settings, address: str | None = None) -> str:
    """NativeAuthenticator's page listing sign-ups to approve (the seed typed it by hand)."""
    return f"{public_url(settings, address)}hub/authorize"


def normalise(url: str) -> str:
    """A --url option as a base URL with exactly one trailing slash."""
    if not url.startswith(("http://", "https://")):
        raise bad_option("--url", f"{url!r} is not an http:// or https:// URL")
    return url.rstrip("/") + "/"
