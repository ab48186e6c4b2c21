"""Block storage (Cinder v3): volumes with metadata, status and attachments.

Follows openstack/cinder stable/2025.1 as openstacksdk's ``block_storage`` v3 proxy uses it:

- routes (``cinder/api/v3/router.py``, ``mapper.resource("volume", "volumes",
  collection={'detail': 'GET', 'summary': 'GET'})``): ``GET /v3/volumes`` (summary: id, name,
  links), ``GET /v3/volumes/detail``, ``GET /v3/volumes/{id}``, and the metadata
  sub-resource ``GET/POST /v3/volumes/{id}/metadata`` (``cinder/api/v3/volume_metadata.py``;
  POST merges the given keys into the existing metadata).
- the endpoint has no project id in its path, which Cinder accepts since microversion 3.67
  (``cinder/api/openstack/api_version_request.py``: "3.67 - API URLs no longer need a
  project_id"); the catalog type is ``block-storage`` (service-types-authority, which
  openstacksdk's ``block_storage`` proxy is looked up by).
- a volume's ``status`` is one of ``VolumeStatus.ALL`` (``cinder/objects/fields.py``):
  creating, available, deleting, error, error_deleting, error_managing, managing,
  attaching, in-use, detaching, maintenance, restoring-backup, error_restoring, reserved,
  awaiting-transfer, backing-up, error_backing-up, error_extending, downloading,
  uploading, retyping, extending; seeding any other status is refused.
- the detail view (``cinder/api/v3/views/volumes.py``, ``cinder/api/v2/views/volumes.py``
  ``detail``): ``attachments`` is a list of ``{server_id, attachment_id, host_name,
  volume_id, device, id, attached_at}``; ``size`` in GiB; ``volume_type`` is the type's
  name; ``bootable`` and ``encrypted`` as Cinder serialises them (``"false"`` string and
  bool); ``metadata`` a string map.
- a volume that is not found is a 404 ``itemNotFound`` (``cinder/api/openstack/wsgi.py``
  Fault: ``{"itemNotFound": {"code": 404, "message": ...}}``).
- metadata keys and values are at most 255 characters
  (``cinder/api/schemas/volume_metadata.py`` via ``parameter_types.metadata``): longer is a
  400 ``badRequest``.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from tests.support.fakecloud.core import (
    PROJECT_ID,
    SEG,
    USER_ID,
    ApiError,
    CloudCore,
    Endpoint,
    Reply,
    Req,
    Route,
    route,
)
from tests.support.fakecloud.core import new_id as _new_id

CINDER = "https://cinder.fake.test"
CINDER_MAX = "3.71"  # stable/2025.1 _MAX_API_VERSION

# cinder/objects/fields.py VolumeStatus.ALL (stable/2025.1)
VOLUME_STATUSES = frozenset(
    {
        "creating",
        "available",
        "deleting",
        "error",
        "error_deleting",
        "error_managing",
        "managing",
        "attaching",
        "in-use",
        "detaching",
        "maintenance",
        "restoring-backup",
        "error_restoring",
        "reserved",
        "awaiting-transfer",
        "backing-up",
        "error_backing-up",
        "error_extending",
        "downloading",
        "uploading",
        "retyping",
        "extending",
    }
)


class BlockStorage(CloudCore):
    """Cinder: volumes as the Cinder CSI driver leaves them (metadata, attachments)."""

    ENDPOINT = Endpoint(
        name="cinder",
        catalog_type="block-storage",
        host="cinder.fake.test",
        path="/v3",
        prefixes=("/v3",),
    )
    STORES: ClassVar[tuple[str, ...]] = ("volumes",)

    def setup(self) -> None:
        self.volumes: dict[str, dict[str, Any]] = {}

    def routes(self) -> list[Route]:
        seg = SEG
        r = route
        return [
            r("GET", r"/volumes", self._volume_list_summary),
            r("GET", r"/volumes/detail", self._volume_list),
            r("GET", rf"/volumes/{seg}", self._volume_get),
            r("GET", rf"/volumes/{seg}/metadata", self._metadata_get),
            r("POST", rf"/volumes/{seg}/metadata", self._metadata_update),
        ]

    def negotiate(self, req: Req) -> dict[str, str]:
        # cinder/api/openstack/wsgi.py: the reply names the microversion it served.
        requested = req.headers.get("OpenStack-API-Version", "volume 3.0")
        return {"OpenStack-API-Version": requested}

    def error_body(self, e: ApiError) -> Any:
        key = {400: "badRequest", 404: "itemNotFound", 409: "conflictingRequest"}.get(
            e.status, "computeFault"
        )
        return {key: {"code": e.status, "message": e.message}}

    def version_document(self, endpoint: Endpoint) -> Any:
        # cinder/api/versions.py: the v3 document, listed under "versions".
        return {
            "versions": [
                {
                    "id": "v3.0",
                    "status": "CURRENT",
                    "version": CINDER_MAX,
                    "min_version": "3.0",
                    "updated": "2023-08-31T00:00:00Z",
                    "links": [{"rel": "self", "href": f"{CINDER}/v3/"}],
                    "media-types": [
                        {
                            "base": "application/json",
                            "type": "application/vnd.openstack.volume+json;version=3",
                        }
                    ],
                }
            ]
        }

    def root_document(self, endpoint: Endpoint) -> Any:
        return BlockStorage.version_document(self, endpoint)

    # ---------------------------------------------------------------- seeding
    def add_volume(
        self,
        name: str = "",
        *,
        size: int = 10,
        status: str = "available",
        metadata: dict[str, str] | None = None,
        server_id: str | None = None,
        volume_type: str = "__DEFAULT__",
        volume_id: str | None = None,
    ) -> dict[str, Any]:
        """Seed a volume (``size`` in GiB); ``server_id`` attaches it (status in-use)."""
        if status not in VOLUME_STATUSES:
            raise ValueError(f"{status!r} is not a Cinder volume status")
        if server_id is not None and status == "available":
            status = "in-use"
        ident = volume_id or _new_id()
        attachments = []
        if server_id is not None:
            attachments.append(
                {
                    "id": ident,
                    "attachment_id": _new_id(),
                    "volume_id": ident,
                    "server_id": server_id,
                    "host_name": None,
                    "device": "/dev/vdb",
                    "attached_at": self._ts(),
                }
            )
        volume = {
            "id": ident,
            "name": name,
            "description": None,
            "status": status,
            "size": size,
            "volume_type": volume_type,
            "availability_zone": "nova",
            "bootable": "false",
            "encrypted": False,
            "multiattach": False,
            "metadata": dict(metadata or {}),
            "attachments": attachments,
            "snapshot_id": None,
            "source_volid": None,
            "replication_status": None,
            "consistencygroup_id": None,
            "os-vol-tenant-attr:tenant_id": PROJECT_ID,
            "user_id": USER_ID,
            "created_at": self._ts(),
            "updated_at": self._ts(),
            "links": [
                {"href": f"{CINDER}/v3/volumes/{ident}", "rel": "self"},
                {"href": f"{CINDER}/volumes/{ident}", "rel": "bookmark"},
            ],
        }
        self.volumes[ident] = volume
        return volume

    # ---------------------------------------------------------------- handlers
    def _volume_items(self, req: Req) -> list[dict[str, Any]]:
        # cinder/api/v3/volumes.py: name and status filter exactly.
        name, status = req.q("name"), req.q("status")
        return [
            v
            for v in self.volumes.values()
            if (name is None or v["name"] == name) and (status is None or v["status"] == status)
        ]

    def _volume_list(self, req: Req) -> Reply:
        return Reply(200, {"volumes": copy.deepcopy(self._volume_items(req))})

    def _volume_list_summary(self, req: Req) -> Reply:
        return Reply(
            200,
            {
                "volumes": [
                    {k: v[k] for k in ("id", "name", "links")} for v in self._volume_items(req)
                ]
            },
        )

    def _volume(self, ident: str) -> dict[str, Any]:
        if ident not in self.volumes:
            raise ApiError(404, f"Volume {ident} could not be found.")
        return self.volumes[ident]

    def _volume_get(self, req: Req, ident: str) -> Reply:
        return Reply(200, {"volume": copy.deepcopy(self._volume(ident))})

    def _metadata_get(self, req: Req, ident: str) -> Reply:
        return Reply(200, {"metadata": dict(self._volume(ident)["metadata"])})

    def _metadata_update(self, req: Req, ident: str) -> Reply:
        volume = self._volume(ident)
        body = req.body if isinstance(req.body, dict) else {}
        metadata = body.get("metadata")
        if not isinstance(metadata, dict):
            raise ApiError(400, "Malformed request body: 'metadata' is required.")
        for key, value in metadata.items():
            if not isinstance(value, str) or not 0 < len(key) <= 255 or len(value) > 255:
                raise ApiError(400, f"Invalid input for field/attribute {key}.")
        volume["metadata"].update(metadata)
        return Reply(200, {"metadata": dict(volume["metadata"])})
