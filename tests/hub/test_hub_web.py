"""Reading NativeAuthenticator's /hub/authorize page (its template, as rendered)."""

from __future__ import annotations

import pytest

from scripts.core.errors import OperationFailed
from scripts.hub.hub_web import SignUp, parse_authorization_area

PAGE = """
<table class="table"><thead><tr>
  <th>Username</th>{email_header}<th>Has 2FA?</th><th>Is authorized?</th><th></th><th></th><th></th>
</tr></thead><tbody>
<tr class="success" id=alice><td>alice</td>{email}<td>False</td><td>Yes</td>
  <td><a href="/hub/authorize/alice">Unauthorize</a></td><td></td><td></td></tr>
<tr id=carol><td>carol</td>{email}<td>False</td><td>No</td>
  <td><a href="/hub/authorize/carol">Authorize</a></td><td></td><td></td></tr>
</tbody></table>
"""


@pytest.mark.parametrize("ask_email", [False, True])
def test_rows_with_and_without_the_email_column(ask_email: bool) -> None:
    html = PAGE.format(
        email_header="<th>Email</th>" if ask_email else "",
        email="<td>x@example.org</td>" if ask_email else "",
    )
    assert parse_authorization_area(html) == [
        SignUp("alice", authorized=True),
        SignUp("carol", authorized=False),
    ]


def test_an_unknown_page_layout_is_an_operation_failure() -> None:
    with pytest.raises(OperationFailed, match="no Username / Is authorized"):
        parse_authorization_area("<html><body>Login</body></html>")
