"""The hub's own web pages, as NativeAuthenticator serves them.

NativeAuthenticator has no REST API: sign-up, login and approval are HTML forms
(protected by JupyterHub's _xsrf token) and links. This module drives them the
way a browser would, so the operator never has to type /hub/authorize by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Literal
from urllib.parse import quote

import requests

from ..core.errors import OperationFailed

SignupResult = Literal["created", "pending", "taken", "refused"]
_XSRF = re.compile(r'name="_xsrf"\s+value="([^"]+)"')
TIMEOUT = 20


@dataclass(frozen=True)
class SignUp:
    """One row of /hub/authorize."""

    name: str
    authorized: bool


class HubWeb:
    """Forms and pages of one hub, at base_url (with a trailing slash)."""

    def __init__(self, base_url: str, *, verify: bool | str = True) -> None:
        self.base_url = base_url
        self.verify = verify

    def _session(self) -> requests.Session:
        session = requests.Session()
        session.verify = self.verify
        return session

    def _get(self, session: requests.Session, page: str) -> requests.Response:
        url = f"{self.base_url}hub/{page}"
        try:
            response = session.get(url, timeout=TIMEOUT, allow_redirects=False)
        except requests.RequestException as error:
            raise OperationFailed(
                f"cannot reach the hub at {url}: {type(error).__name__}: {error}",
                "check that it runs (`invoke hub.status`) and that --url or hub.domain is right",
            ) from None
        return response

    def _post_form(
        self, session: requests.Session, page: str, data: dict[str, str]
    ) -> requests.Response:
        form = self._get(session, page)
        if form.status_code == 404:
            raise OperationFailed(
                f"{self.base_url}hub/{page} does not exist",
                "is this hub using NativeAuthenticator (hub.auth.type: native)?",
            )
        if form.status_code >= 400:
            raise OperationFailed(f"GET hub/{page} answered {form.status_code}")
        match = _XSRF.search(form.text)
        xsrf = match.group(1) if match else session.cookies.get("_xsrf", "")
        try:
            return session.post(
                f"{self.base_url}hub/{page}",
                data={**data, "_xsrf": xsrf or ""},
                timeout=TIMEOUT,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            raise OperationFailed(
                f"POST hub/{page} failed: {type(error).__name__}", "re-run when the hub answers"
            ) from None

    def signup(self, name: str, password: str) -> SignupResult:
        """Register a user; NativeAuthenticator answers in the page's alert."""
        response = self._post_form(
            self._session(),
            "signup",
            {
                "username": name,
                "signup_password": password,
                "signup_password_confirmation": password,
            },
        )
        text = response.text
        if "already in use" in text:
            return "taken"
        if "signup was successful" in text:
            return "created"
        if "sent to the admin" in text:
            return "pending"
        return "refused"

    def login(self, name: str, password: str) -> requests.Session | None:
        """A logged-in session, or None when the hub refuses the name and password."""
        session = self._session()
        response = self._post_form(session, "login", {"username": name, "password": password})
        logged_in = response.status_code in (302, 303) and any(
            cookie.name.startswith("jupyterhub-") and cookie.name != "jupyterhub-session-id"
            for cookie in session.cookies
        )
        return session if logged_in else None

    def sign_ups(self, admin: requests.Session) -> list[SignUp]:
        """Every NativeAuthenticator account with its approval state (admins only)."""
        response = self._get(admin, "authorize")
        if response.status_code in (302, 303, 403):
            raise OperationFailed(
                "the hub refused /hub/authorize to the admin session",
                "is that user listed in hub.auth.native.admin_users and deployed?",
            )
        if response.status_code != 200:
            raise OperationFailed(f"GET hub/authorize answered {response.status_code}")
        return parse_authorization_area(response.text)

    def toggle(self, admin: requests.Session, name: str) -> None:
        """NativeAuthenticator flips approval on a plain GET of /hub/authorize/NAME."""
        self._expect_redirect(self._get(admin, f"authorize/{quote(name)}"), "authorize")

    def discard(self, admin: requests.Session, name: str) -> None:
        """Delete a sign-up that was never approved."""
        self._expect_redirect(self._get(admin, f"discard/{quote(name)}"), "discard")

    @staticmethod
    def _expect_redirect(response: requests.Response, action: str) -> None:
        if response.status_code not in (302, 303):
            raise OperationFailed(f"hub/{action} answered {response.status_code}, not a redirect")


class _Table(HTMLParser):
    """Header names and the text of each cell, row by row, of an HTML table."""

    def __init__(self) -> None:
        super().__init__()
        self.headers: list[str] = []
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self._in_header = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
            self._in_header = tag == "th"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            text = " ".join("".join(self._cell).split())
            if self._in_header:
                self.headers.append(text)
            elif self.rows:
                self.rows[-1].append(text)
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse_authorization_area(html: str) -> list[SignUp]:
    table = _Table()
    table.feed(html)
    try:
        name_column = table.headers.index("Username")
        state_column = table.headers.index("Is authorized?")
    except ValueError:
        raise OperationFailed(
            "the /hub/authorize page has no Username / Is authorized? columns",
            "this NativeAuthenticator version is not supported; approve at /hub/authorize",
        ) from None
    return [
        SignUp(name=row[name_column], authorized=row[state_column] == "Yes")
        for row in table.rows
        if len(row) > max(name_column, state_column)
    ]
