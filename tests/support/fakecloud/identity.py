"""Identity (Keystone v3): discovery, password tokens and the service catalog.

Follows keystone's v3 API as keystoneauth consumes it (openstack/keystone
``keystone/api/auth.py``: ``POST /v3/auth/tokens`` answers 201 with the token in the
``X-Subject-Token`` header and the catalog in the body; ``GET /`` answers 300 Multiple Choices
with the version list). The catalog lists every registered service's :class:`Endpoint`, in
registration order, with a public and an internal interface.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.fakecloud.core import (
    AUTH_URL,
    PASSWORD,
    PROJECT,
    PROJECT_ID,
    REGION,
    USER_ID,
    USERNAME,
    ApiError,
    CloudCore,
    Endpoint,
    Reply,
    Req,
    Route,
    route,
)


class Identity(CloudCore):
    """Keystone: tokens for ``demo``/``fake-password``, the catalog, clouds.yaml helpers."""

    ENDPOINT = Endpoint(
        name="keystone",
        catalog_type="identity",
        host="keystone.fake.test",
        path="/v3",
        prefixes=("/v3",),
        token_required=False,
        faults=False,
        root_status=300,
    )

    def routes(self) -> list[Route]:
        return [route("POST", r"/auth/tokens", self._token_create)]

    def version_document(self, endpoint: Endpoint) -> Any:
        media = "application/vnd.openstack.identity-v3+json"
        return {
            "version": {
                "id": "v3.14",
                "status": "stable",
                "updated": "2020-04-07T00:00:00Z",
                "links": [{"rel": "self", "href": f"{AUTH_URL}/"}],
                "media-types": [{"base": "application/json", "type": media}],
            }
        }

    def root_document(self, endpoint: Endpoint) -> Any:
        return {"versions": {"values": [Identity.version_document(self, endpoint)["version"]]}}

    # ---------------------------------------------------------------- tokens
    def _token_create(self, req: Req) -> Reply:
        body = req.body if isinstance(req.body, dict) else {}
        identity = body.get("auth", {}).get("identity", {})
        if "password" in identity.get("methods", []):
            user = identity.get("password", {}).get("user", {})
            if user.get("name") != USERNAME or user.get("password") != PASSWORD:
                raise ApiError(401, "The request you have made requires authentication.")
        token = uuid.uuid4().hex
        self.tokens.add(token)
        return Reply(201, self._token_body(), {"X-Subject-Token": token})

    def _token_body(self) -> dict[str, Any]:
        def svc(stype: str, name: str, url: str) -> dict[str, Any]:
            return {
                "type": stype,
                "name": name,
                "id": uuid.uuid5(uuid.NAMESPACE_URL, url).hex,
                "endpoints": [
                    {
                        "id": uuid.uuid5(uuid.NAMESPACE_URL, url + i).hex,
                        "interface": i,
                        "region": REGION,
                        "region_id": REGION,
                        "url": url,
                    }
                    for i in ("public", "internal")
                ],
            }

        return {
            "token": {
                "methods": ["password"],
                "expires_at": "2099-01-01T00:00:00.000000Z",
                "issued_at": "2026-01-01T00:00:00.000000Z",
                "audit_ids": [uuid.uuid4().hex[:22]],
                "user": {
                    "id": USER_ID,
                    "name": USERNAME,
                    "domain": {"id": "default", "name": "Default"},
                },
                "project": {
                    "id": PROJECT_ID,
                    "name": PROJECT,
                    "domain": {"id": "default", "name": "Default"},
                },
                "roles": [
                    {"id": uuid.uuid4().hex, "name": "member"},
                    {"id": uuid.uuid4().hex, "name": "load-balancer_member"},
                ],
                "catalog": [svc(e.catalog_type, e.name, e.catalog_url) for e in self.endpoints()],
            }
        }
