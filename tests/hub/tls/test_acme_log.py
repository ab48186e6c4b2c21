"""traefik's log lines classified: which ACME error an order met, and which lines are noise."""

from __future__ import annotations

import pytest

from scripts.hub.tls.acme_log import classify_log
from tests.hub.tls.helpers import DOMAIN, FAILURES, LOOPBACK, NAMESPACE, STARTUP, acme_error


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("\n".join(STARTUP), None),
        (FAILURES["dns"][0], "dns"),
        # A DNS problem that mentions CAA is still a DNS problem (the URN decides).
        (
            acme_error(
                f"urn:ietf:params:acme:error:dns :: DNS problem: SERVFAIL looking up CAA for "
                f"{DOMAIN} - the domain's nameservers may be malfunctioning"
            ),
            "dns",
        ),
        (
            acme_error(
                f"urn:ietf:params:acme:error:caa :: CAA record for {DOMAIN} prevents issuance",
                403,
            ),
            "caa",
        ),
        (acme_error("urn:ietf:params:acme:error:serverInternal :: try again"), "acme-error"),
        # Same failure in traefik v2's logfmt, without a problem type.
        (
            'time="2024-01-01T00:00:00Z" level=error msg="Unable to obtain ACME certificate for '
            f'domains \\"{DOMAIN}\\": Timeout during connect (likely firewall problem)"',
            "connection",
        ),
        # Error words at info level are not errors.
        (f"2026-07-01T10:00:00Z INF Connection refused while probing {DOMAIN}", None),
    ],
)
def test_log_classification(text: str, kind: str | None) -> None:
    outcome = classify_log(text, DOMAIN, LOOPBACK, NAMESPACE)
    assert (outcome.kind if outcome else None) == kind
