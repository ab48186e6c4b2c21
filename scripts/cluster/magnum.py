"""Magnum, as plain dicts with the API's own field names.

openstacksdk creates and deletes templates and clusters; reads go to the REST
paths directly because the SDK maps a cluster's `status_reason` to a field
Magnum never sends (`reason`) and drops `health_status`, and because comparing
our desired body with what Magnum stored is simplest in the API's names. Node
groups and certificates' signing go through python-magnumclient, which has
node groups (the SDK does not), at the microversion read from the server (the
lower of its maximum and the newest this tool knows; see `Magnum.api_version`).
Every call is retried on transient errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core import cloud
from ..core.waiting import Clock

if TYPE_CHECKING:
    from openstack.connection import Connection

Obj = dict[str, Any]
Version = tuple[int, int]

# Magnum's microversions that matter here, from REST_API_VERSION_HISTORY in
# openstack/magnum magnum/api/controllers/versions.py (stable/2026.1 9f9c4b9f stops at
# CURRENT_MAX_VER 1.12; master 5a492d64 has 1.14):
NODEGROUPS: Version = (1, 9)  # "1.9 - Add nodegroup API"
ZERO_NODES: Version = (1, 10)  # "1.10 - Allow nodegroups with 0 nodes"
# The newest this tool knows ("1.14 - Add node_labels and node_taints to nodegroup");
# a newer server is asked for this one, so its answers hold nothing unforeseen.
NEWEST_KNOWN: Version = (1, 14)
# Every answer under /v1 carries the server's range in these headers
# (magnum/api/controllers/v1/__init__.py Controller._route, MAX_VER_STR).
MAXIMUM_HEADER = "OpenStack-API-Maximum-Version"


def parse_version(header: str) -> Version | None:
    """(1, 12) from "container-infrastructure-management 1.12"; None if unreadable."""
    major, _, minor = (
        header.rsplit(maxsplit=1)[-1].partition(".") if header.split() else ("", "", "")
    )
    if not (major.isdigit() and minor.isdigit()):
        return None
    return int(major), int(minor)


@dataclass
class Magnum:
    connection: Connection
    clock: Clock | None = None
    _nodegroup_client: Any = field(default=None, init=False, repr=False)
    _version: Version | None = field(default=None, init=False, repr=False)

    # ------------------------------------------------------------ plumbing

    @property
    def _proxy(self) -> Any:
        return self.connection.container_infrastructure_management

    @property
    def api_version(self) -> Version:
        """The microversion spoken with this server: its maximum, capped at NEWEST_KNOWN.

        Asked once, of the server itself, rather than sending "latest": what the tool
        sends is then decided by a version it has read, never by a guess.
        """
        if self._version is None:
            self._version = self._negotiate()
        return self._version

    def _negotiate(self) -> Version:
        from openstack import exceptions

        def read() -> str:
            response = self._proxy.get("/")
            exceptions.raise_from_response(response)
            return str(response.headers.get(MAXIMUM_HEADER, ""))

        header = cloud.call("read Magnum's API versions", read, clock=self.clock)
        server = parse_version(header)
        if server is None or server < NODEGROUPS:
            from ..core.errors import OperationFailed

            raise OperationFailed(
                f"Magnum announces API version {header or 'none'!r}; node groups need "
                f"{NODEGROUPS[0]}.{NODEGROUPS[1]} or later",
                "this Magnum is too old for the tool; ask the cloud operators which "
                "Magnum release they run",
            )
        return min(server, NEWEST_KNOWN)

    def supports(self, version: Version) -> bool:
        return self.api_version >= version

    @property
    def _client(self) -> Any:
        if self._nodegroup_client is None:
            major, minor = self.api_version
            self._nodegroup_client = cloud.magnum(self.connection, api_version=f"{major}.{minor}")
        return self._nodegroup_client

    def _get(self, what: str, path: str) -> Obj | None:
        """GET one path; None for 404."""
        from openstack import exceptions

        def read() -> Obj | None:
            response = self._proxy.get(path)
            if response.status_code == 404:
                return None
            exceptions.raise_from_response(response)
            body: Obj = response.json()
            return body

        return cloud.call(what, read, clock=self.clock)

    # ------------------------------------------------------------ templates

    def templates_named(self, name: str) -> list[Obj]:
        body = self._get("list cluster templates", "/clustertemplates") or {}
        return [t for t in body.get("clustertemplates", []) if t.get("name") == name]

    def create_template(self, attributes: Obj) -> Obj:
        def find() -> Obj | None:
            found = self.templates_named(attributes["name"])
            return found[0] if found else None

        def create() -> Obj:
            made = self._proxy.create_cluster_template(**attributes)
            return {**attributes, "uuid": made.id}

        return cloud.create_once(
            f"create cluster template {attributes['name']}", find, create, clock=self.clock
        )

    # ------------------------------------------------------------ clusters

    def clusters_named(self, name: str) -> list[Obj]:
        """Summaries (no status_reason) of every cluster with this name."""
        body = self._get("list clusters", "/clusters") or {}
        return [c for c in body.get("clusters", []) if c.get("name") == name]

    def cluster(self, uuid: str) -> Obj | None:
        """The full cluster, or None once it is gone."""
        return self._get(f"read cluster {uuid}", f"/clusters/{uuid}")

    def create_cluster(self, attributes: Obj) -> str:
        """POST the cluster once; answers its uuid."""

        def find() -> str | None:
            found = self.clusters_named(attributes["name"])
            return str(found[0]["uuid"]) if found else None

        def create() -> str:
            return str(self._proxy.create_cluster(**attributes).id)

        return cloud.create_once(
            f"create cluster {attributes['name']}", find, create, clock=self.clock
        )

    def delete_cluster(self, uuid: str) -> None:
        cloud.call(
            f"delete cluster {uuid}",
            lambda: self._proxy.delete_cluster(uuid, ignore_missing=True),
            clock=self.clock,
        )

    # ------------------------------------------------------------ node groups

    def nodegroups(self, cluster_uuid: str) -> list[Obj]:
        """Summaries: no min/max or labels (read one group for those)."""
        found = cloud.call(
            f"list node groups of cluster {cluster_uuid}",
            lambda: self._client.nodegroups.list(cluster_uuid),
            clock=self.clock,
        )
        return [group.to_dict() for group in found]

    def nodegroup(self, cluster_uuid: str, name_or_uuid: str) -> Obj | None:
        def read() -> Obj | None:
            try:
                group = self._client.nodegroups.get(cluster_uuid, name_or_uuid)
            except Exception as error:
                if cloud.is_not_found(error):
                    return None
                raise
            return group.to_dict() if group is not None else None

        return cloud.call(f"read node group {name_or_uuid}", read, clock=self.clock)

    def create_nodegroup(self, cluster_uuid: str, attributes: Obj) -> Obj:
        name = attributes["name"]
        if not self.supports(ZERO_NODES) and not attributes.get("node_count", 1):
            from ..core.errors import OperationFailed

            major, minor = self.api_version
            raise OperationFailed(
                f"node group {name} would start with 0 nodes, which Magnum allows from API "
                f"1.10 on; this server speaks {major}.{minor}",
                "give the group min_nodes 1 or more in the config, then re-run",
            )

        def find() -> Obj | None:
            return self.nodegroup(cluster_uuid, name)

        def create() -> Obj:
            made: Obj = self._client.nodegroups.create(cluster_uuid, **attributes).to_dict()
            return made

        return cloud.create_once(f"create node group {name}", find, create, clock=self.clock)

    def update_nodegroup(self, cluster_uuid: str, name_or_uuid: str, patch: list[Obj]) -> None:
        cloud.call(
            f"update node group {name_or_uuid}",
            lambda: self._client.nodegroups.update(cluster_uuid, name_or_uuid, patch),
            clock=self.clock,
        )

    # ------------------------------------------------------------ certificates

    def ca_certificate(self, cluster_uuid: str) -> str:
        found = self._get(f"read the CA of cluster {cluster_uuid}", f"/certificates/{cluster_uuid}")
        if not found or not found.get("pem"):
            raise cloud_error(f"Magnum returned no CA certificate for cluster {cluster_uuid}")
        return str(found["pem"])

    def sign(self, cluster_uuid: str, csr_pem: str) -> str:
        """Have Magnum's cluster CA sign a client certificate request."""
        signed = cloud.call(
            f"sign a client certificate for cluster {cluster_uuid}",
            lambda: self._proxy.create_cluster_certificate(cluster_uuid=cluster_uuid, csr=csr_pem),
            clock=self.clock,
        )
        if not signed.pem:
            raise cloud_error(f"Magnum signed no certificate for cluster {cluster_uuid}")
        return str(signed.pem)


def cloud_error(cause: str) -> Exception:
    from ..core.errors import OperationFailed

    return OperationFailed(cause, "check the cluster with `invoke cluster.status`, then re-run")
