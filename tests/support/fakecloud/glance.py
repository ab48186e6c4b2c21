"""Image (Glance images v2): the images Magnum boots, with the properties its drivers read.

Every behaviour follows openstack/glance at stable/2026.1
(f60807e789ebad0904747df361f9ec35ae5dd6a6); docs/testing.md ("OpenStack: Magnum API
versions, Nova, Glance") lists them:

- ``GET /`` lists the versions with 300 Multiple Choices, v2.17 CURRENT
  (``glance/api/versions.py`` ``Controller.index``, ``build_version_object``).
- ``GET /v2/images`` answers ``{"images": [...], "first": "/v2/images?<query>", "schema":
  "/v2/schemas/images"}`` and filters on ``name`` among others (``glance/api/v2/images.py``
  ``ResponseSerializer.index``); ``GET /v2/images/{id}`` answers the image itself, 404 "No
  image found with ID <id>" for an unknown one (``glance/db/__init__.py``).
- An image's extra properties (``os_distro``, ``kube_version``, ``magnum_driver`` ...) sit at
  the top level of its representation, beside the core attributes
  (``ResponseSerializer._format_image``: ``image_view`` starts from ``extra_properties``).

Seeded images: the Ubuntu images the tests' configs name (``os_distro: ubuntu`` and a
``kube_version``, what magnum-capi-helm needs) and a Fedora CoreOS one for the heat driver.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from tests.support.fakecloud.core import (
    PROJECT_ID,
    SEG,
    ApiError,
    CloudCore,
    Endpoint,
    Reply,
    Req,
    Route,
    route,
)
from tests.support.fakecloud.core import new_id as _new_id

GLANCE = "https://glance.fake.test"


class Glance(CloudCore):
    """Glance: images and their properties."""

    ENDPOINT = Endpoint(
        name="glance",
        catalog_type="image",
        host="glance.fake.test",
        path="",
        prefixes=("/v2",),
        root_status=300,
        # openstacksdk keeps a failed version discovery for the connection's life, so a
        # random fault here would end a whole run; the fault tests are about Magnum.
        faults=False,
    )
    STORES: ClassVar[tuple[str, ...]] = ("images",)

    def setup(self) -> None:
        self.images: dict[str, dict[str, Any]] = {}
        for name, properties in (
            ("ubuntu-jammy-kube-v1.32.4", {"os_distro": "ubuntu", "kube_version": "v1.32.4"}),
            ("ubuntu-2204-kube-v1.31.4", {"os_distro": "ubuntu", "kube_version": "v1.31.4"}),
            ("fedora-coreos-40", {"os_distro": "fedora-coreos"}),
        ):
            self.add_image(name, **properties)

    def routes(self) -> list[Route]:
        return [
            route("GET", r"/images", self._image_list),
            route("GET", rf"/images/{SEG}", self._image_get),
        ]

    def error_body(self, e: ApiError) -> Any:
        # webob's JSON error body, as Glance's API answers it.
        titles = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 409: "Conflict"}
        return {"code": e.status, "title": titles.get(e.status, "Error"), "message": e.message}

    def root_document(self, endpoint: Endpoint) -> Any:
        def version(ident: str, status: str) -> dict[str, Any]:
            return {
                "id": ident,
                "status": status,
                "links": [{"rel": "self", "href": f"{GLANCE}/v2/"}],
            }

        return {
            "versions": [
                version("v2.17", "CURRENT"),
                version("v2.16", "SUPPORTED"),
                version("v2.15", "SUPPORTED"),
            ]
        }

    def version_document(self, endpoint: Endpoint) -> Any:
        return Glance.root_document(self, endpoint)

    def add_image(self, name: str, *, image_id: str | None = None, **properties: Any) -> Any:
        """Seed an active image; ``properties`` become its extra properties."""
        ident = image_id or _new_id()
        now = self._ts() + "Z"
        image = {
            **properties,
            "id": ident,
            "name": name,
            "disk_format": "qcow2",
            "container_format": "bare",
            "visibility": "public",
            "size": 4 * 2**30,
            "virtual_size": 20 * 2**30,
            "status": "active",
            "checksum": None,
            "protected": False,
            "min_ram": 0,
            "min_disk": 0,
            "owner": PROJECT_ID,
            "os_hidden": False,
            "os_hash_algo": None,
            "os_hash_value": None,
            "created_at": now,
            "updated_at": now,
            "tags": [],
            "self": f"/v2/images/{ident}",
            "file": f"/v2/images/{ident}/file",
            "schema": "/v2/schemas/image",
        }
        self.images[ident] = image
        return image

    def find_image(self, name_or_id: str) -> dict[str, Any] | None:
        """The image with this id, else the only one with this name (Magnum's own lookup)."""
        if name_or_id in self.images:
            return self.images[name_or_id]
        named = [i for i in self.images.values() if i["name"] == name_or_id]
        return named[0] if len(named) == 1 else None

    def _image_list(self, req: Req) -> Reply:
        items = [
            i
            for i in self.images.values()
            if all(
                req.q(key) is None or str(i.get(key)) == req.q(key)
                for key in ("name", "status", "visibility", "os_distro")
            )
        ]
        query = "&".join(f"{k}={v[0]}" for k, v in req.query.items() if k != "marker" and v)
        return Reply(
            200,
            {
                "images": copy.deepcopy(items),
                "first": "/v2/images" + (f"?{query}" if query else ""),
                "schema": "/v2/schemas/images",
            },
        )

    def _image_get(self, req: Req, ident: str) -> Reply:
        if ident not in self.images:
            raise ApiError(404, f"No image found with ID {ident}")
        return Reply(200, copy.deepcopy(self.images[ident]))
