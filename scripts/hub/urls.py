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
    from urllib.parse import urlsplit

    from ..core.errors import shown

    problem = ""
    if not url.startswith(("http://", "https://")):
        problem = "is not an http:// or https:// URL"
    elif not url.isprintable() or any(ch.isspace() for ch in url):
        problem = "holds spaces or control characters"
    else:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a port out of range
        except ValueError as error:
            problem = f"is not a URL ({error})"
        else:
            if not parts.hostname:
                problem = "names no host"
    if problem:
        raise bad_option("--url", f"{shown(url)} {problem}; e.g. http://127.0.0.1:8080/")
    return url.rstrip("/") + "/"
