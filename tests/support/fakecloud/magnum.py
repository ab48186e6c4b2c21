"""Container infrastructure (Magnum v1): cluster templates, clusters, node groups, certificates.

Fidelity notes (checked against the upstream sources, July 2026) that application code must
respect because the real service behaves the same way:

* Magnum without an ``OpenStack-API-Version`` header serves microversion **1.1**; node groups
  need 1.9 and resize 1.7, otherwise **406**. ``magnumclient.client.Client("1", session=s)``
  sends no header (its ``api_version`` defaults to ``None``), so pass ``api_version="latest"``
  (what the ``openstack coe`` CLI does); :attr:`Magnum.magnum` does.
* Magnum list responses are summaries: ``GET /clusters`` has no ``status_reason``,
  ``api_address``, ``master_addresses``…; ``GET /clusters/{id}/nodegroups`` has no
  ``min_node_count``/``max_node_count``/``labels``. GET the single object for those.
* Magnum accepts a name wherever an id goes, so openstacksdk's ``find_cluster("name")``
  succeeds on ``GET /clusters/name`` and the returned resource keeps ``.id == "name"``; use
  ``.uuid`` for the real id.
* ``POST /clusters`` answers 202 with only ``{"uuid": …}``; names are not unique (a retried
  create makes a second cluster, and a GET by that name then answers 409).
* ``PATCH /clusters/{id}`` accepts only ``node_count``/``health_status*`` (else 400), and,
  like Magnum's asynchronous conductor, silently ignores the change unless the cluster is in
  a ``*_COMPLETE`` state. Node-group PATCH accepts ``min_node_count``, ``max_node_count``,
  ``node_labels``, ``node_taints`` only; creating a node group needs the cluster's
  ``api_address`` (409 before CREATE_COMPLETE) and validates min <= node_count <= max.
  ``node_labels``/``node_taints`` exist (POST, PATCH, representation) only when emulating
  master; see the module constants below and docs/testing.md ("OpenStack: Magnum API
  versions, Nova, Glance") for the release ceilings, WSME's unknown-attribute 400, the image
  checks and the capi-helm driver's conductor-side refusals.
"""

from __future__ import annotations

import copy
import datetime
import itertools
import re
import secrets
import string
import uuid
from typing import Any, ClassVar

import jsonpatch
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support.fakecloud.core import (
    PROJECT_ID,
    REGION,
    SEG,
    USER_ID,
    ApiError,
    Endpoint,
    Reply,
    Req,
    Route,
    route,
)
from tests.support.fakecloud.core import new_id as _new_id
from tests.support.fakecloud.glance import Glance
from tests.support.fakecloud.neutron import Neutron
from tests.support.fakecloud.nova import Nova

MAGNUM = "https://magnum.fake.test"
# The microversion range per emulated release: BASE_VER and CURRENT_MAX_VER in
# openstack/magnum magnum/api/controllers/versions.py, at stable/2026.1
# (9f9c4b9fefe336f85770254823e2c817fbd8bdb5: 1.12) and master
# (5a492d64c1146744b3d6237b47d507422480840f: 1.14). Select one with
# ``cloud.emulate_magnum("master")``; the default is the released one.
MAGNUM_RELEASES: dict[str, tuple[int, int]] = {"stable/2026.1": (1, 12), "master": (1, 14)}
MAGNUM_MIN, MAGNUM_MAX = (1, 1), MAGNUM_RELEASES["master"]
# The service string Magnum puts in its version headers (versions.py Version.service_string).
_SERVICE = "container-infrastructure-management"

# The body fields each WSME type accepts on POST; any other key is 400 "Unknown attribute
# for argument <arg>: <keys>" (WSME 0.12 wsme/rest/json.py fromjson, wsme/exc.py
# UnknownAttribute, openstack/wsme 1d73d6e5). Attribute lists of the APIBase classes in
# magnum/api/controllers/v1/{cluster_template,cluster,nodegroup}.py at stable/2026.1;
# master adds cluster_id to Cluster (1.13) and node_labels/node_taints to NodeGroup
# (commit 34738d90ac6a0f8c84e5ff9f10ff063dc8fc8d93), the latter accepted at every
# requested microversion (the controller does not gate them).
_TEMPLATE_FIELDS = frozenset(
    [
        "uuid",
        "name",
        "coe",
        "image_id",
        "flavor_id",
        "master_flavor_id",
        "dns_nameserver",
        "keypair_id",
        "external_network_id",
        "fixed_network",
        "fixed_subnet",
        "network_driver",
        "apiserver_port",
        "docker_volume_size",
        "cluster_distro",
        "links",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "volume_driver",
        "registry_enabled",
        "labels",
        "tls_disabled",
        "public",
        "server_type",
        "insecure_registry",
        "docker_storage_driver",
        "master_lb_enabled",
        "floating_ip_enabled",
        "project_id",
        "user_id",
        "hidden",
        "tags",
        "driver",
    ]
)
_CLUSTER_FIELDS = frozenset(
    [
        "uuid",
        "name",
        "cluster_template_id",
        "keypair",
        "node_count",
        "master_count",
        "docker_volume_size",
        "labels",
        "master_flavor_id",
        "flavor_id",
        "create_timeout",
        "links",
        "stack_id",
        "status",
        "status_reason",
        "health_status",
        "health_status_reason",
        "discovery_url",
        "api_address",
        "coe_version",
        "container_version",
        "project_id",
        "user_id",
        "node_addresses",
        "master_addresses",
        "faults",
        "fixed_network",
        "fixed_subnet",
        "floating_ip_enabled",
        "merge_labels",
        "labels_overridden",
        "labels_added",
        "labels_skipped",
        "master_lb_enabled",
    ]
)
_NODEGROUP_FIELDS = frozenset(
    [
        "id",
        "uuid",
        "name",
        "cluster_id",
        "project_id",
        "docker_volume_size",
        "labels",
        "links",
        "flavor_id",
        "image_id",
        "node_addresses",
        "node_count",
        "role",
        "min_node_count",
        "max_node_count",
        "is_default",
        "stack_id",
        "status",
        "status_reason",
        "version",
        "merge_labels",
        "labels_overridden",
        "labels_added",
        "labels_skipped",
    ]
)
_MASTER_ONLY = {
    "cluster": frozenset({"cluster_id"}),
    "nodegroup": frozenset({"node_labels", "node_taints"}),
}
# magnum-capi-helm's driver (openstack/magnum-capi-helm 1.4.0, a8b82c24): the template's
# driver comes from the image (ClusterTemplatesController.post: the image's magnum_driver
# property, else the driver whose ``provides`` matches os_distro; capi-helm provides
# ubuntu and flatcar, driver.py Driver.provides).
CAPI_HELM = "k8s_capi_helm_v1"
_CAPI_HELM_DISTROS = ("ubuntu", "flatcar")


class Magnum(Neutron, Nova, Glance):
    """Magnum: clusters and node groups settle like the conductor's, servers appear in Nova."""

    ENDPOINT = Endpoint(
        name="magnum",
        catalog_type="container-infra",
        host="magnum.fake.test",
        path="/v1",
        prefixes=("/v1",),
    )
    STORES: ClassVar[tuple[str, ...]] = ("templates", "clusters", "nodegroups")
    FAILURE_KINDS: ClassVar[tuple[str, ...]] = (
        "cluster",
        "cluster_update",
        "cluster_delete",
        "nodegroup",
        "nodegroup_update",
    )

    def setup(self) -> None:
        self.templates: dict[str, dict[str, Any]] = {}
        self.clusters: dict[str, dict[str, Any]] = {}
        # Where a cluster of this name serves its API once complete (a test's Kubernetes
        # emulator); others get https://<a new public IP>:6443. Magnum reports it as the
        # read-only api_address (magnum master magnum/api/controllers/v1/cluster.py).
        self.api_address_for: dict[str, str] = {}
        self.nodegroups: dict[str, dict[str, Any]] = {}
        self._cas: dict[str, tuple[ec.EllipticCurvePrivateKey, x509.Certificate]] = {}
        self._ng_ids = itertools.count(1)
        self._magnum: Any = None
        self.magnum_release = "stable/2026.1"

    def emulate_magnum(self, release: str) -> None:
        """Behave as this Magnum release (a key of MAGNUM_RELEASES)."""
        if release not in MAGNUM_RELEASES:
            raise KeyError(f"no emulated Magnum release {release!r}; known: {MAGNUM_RELEASES}")
        self.magnum_release = release
        self._magnum = None

    @property
    def magnum_max(self) -> tuple[int, int]:
        return MAGNUM_RELEASES[self.magnum_release]

    def _unknown_fields(self, kind: str, known: frozenset[str], body: dict[str, Any]) -> None:
        """WSME's refusal of keys its type does not declare (see _TEMPLATE_FIELDS)."""
        if self.magnum_release == "master":
            known = known | _MASTER_ONLY.get(kind, frozenset())
        unknown = sorted(set(body) - known)
        if unknown:
            noun = "attributes" if len(unknown) > 1 else "attribute"
            raise ApiError(400, f"Unknown {noun} for argument {kind}: {', '.join(unknown)}")

    def routes(self) -> list[Route]:
        seg = SEG
        r = route
        return [
            r("GET", r"/clustertemplates(?:/detail)?", self._ct_list),
            r("POST", r"/clustertemplates", self._ct_create),
            r("GET", rf"/clustertemplates/{seg}", self._ct_get),
            r("PATCH", rf"/clustertemplates/{seg}", self._ct_patch),
            r("DELETE", rf"/clustertemplates/{seg}", self._ct_delete),
            r("GET", r"/clusters", self._cl_list),
            r("GET", r"/clusters/detail", self._cl_list_detail),
            r("POST", r"/clusters", self._cl_create),
            r("GET", rf"/clusters/{seg}", self._cl_get),
            r("PATCH", rf"/clusters/{seg}", self._cl_patch),
            r("DELETE", rf"/clusters/{seg}", self._cl_delete),
            r("POST", rf"/clusters/{seg}/actions/resize", self._cl_resize),
            r("GET", rf"/clusters/{seg}/nodegroups", self._ng_list),
            r("POST", rf"/clusters/{seg}/nodegroups", self._ng_create),
            r("GET", rf"/clusters/{seg}/nodegroups/{seg}", self._ng_get),
            r("PATCH", rf"/clusters/{seg}/nodegroups/{seg}", self._ng_patch),
            r("DELETE", rf"/clusters/{seg}/nodegroups/{seg}", self._ng_delete),
            r("GET", rf"/certificates/{seg}", self._cert_get),
            r("POST", r"/certificates", self._cert_sign),
        ]

    def negotiate(self, req: Req) -> dict[str, str]:
        version = self._magnum_version(req)
        req.headers["_version"] = f"{version[0]}.{version[1]}"
        top = self.magnum_max
        # Every /v1 answer carries these (magnum/api/controllers/v1/__init__.py _route).
        return {
            "OpenStack-API-Version": f"{_SERVICE} {version[0]}.{version[1]}",
            "OpenStack-API-Minimum-Version": f"{_SERVICE} 1.1",
            "OpenStack-API-Maximum-Version": f"{_SERVICE} {top[0]}.{top[1]}",
            "Vary": "OpenStack-API-Version",
        }

    def error_body(self, e: ApiError) -> Any:
        return {
            "errors": [
                {
                    "request_id": f"req-{uuid.uuid4()}",
                    "code": "client" if e.status < 500 else "server",
                    "status": e.status,
                    "title": e.message,
                    "detail": e.message,
                    "links": [],
                }
            ]
        }

    def version_document(self, endpoint: Endpoint) -> Any:
        # GET /v1: the V1 document, which names no microversions (its range is in the
        # headers), magnum/api/controllers/v1/__init__.py V1.convert.
        return {
            "id": "v1",
            "media_types": [
                {"base": "application/json", "type": "application/vnd.openstack.magnum.v1+json"}
            ],
            "links": [{"rel": "self", "href": f"{MAGNUM}/v1/"}],
        }

    def root_document(self, endpoint: Endpoint) -> Any:
        # GET /: magnum/api/controllers/root.py Root.convert (max_version, min_version).
        top = self.magnum_max
        return {
            "name": "OpenStack Magnum API",
            "description": "Magnum is an OpenStack project which aims to provide container "
            "cluster management.",
            "versions": [
                {
                    "id": "v1",
                    "status": "CURRENT",
                    "max_version": f"{top[0]}.{top[1]}",
                    "min_version": "1.1",
                    "links": [{"rel": "self", "href": f"{MAGNUM}/v1/"}],
                }
            ],
        }

    @property
    def magnum(self) -> Any:
        """A real magnumclient v1 ``Client`` on :attr:`conn`'s session, ``api_version=latest``."""
        if self._magnum is None:
            from magnumclient import client as magnum_client

            self._magnum = magnum_client.Client(
                "1", session=self.conn.session, api_version="latest", region_name=REGION
            )
        return self._magnum

    def _magnum_version(self, req: Req) -> tuple[int, int]:
        header = req.headers.get("OpenStack-API-Version")
        if not header:
            return MAGNUM_MIN
        try:
            service, value = header.split()
        except ValueError as e:
            raise ApiError(406, "Invalid service type for OpenStack-API-Version header") from e
        if service not in {
            "container-infra",
            "container-infrastructure",
            "container-infrastructure-management",
        }:
            raise ApiError(406, "Invalid service type for OpenStack-API-Version header")
        if value.lower() == "latest":
            return self.magnum_max
        try:
            major, minor = (int(x) for x in value.split("."))
        except ValueError as e:
            raise ApiError(406, "Invalid value for OpenStack-API-Version header") from e
        top = self.magnum_max
        if not MAGNUM_MIN <= (major, minor) <= top:
            raise ApiError(
                406,
                f"Version {value} was requested but the minor version is not "
                "supported by this service. The supported version range is: "
                f"[{_SERVICE} 1.1, {_SERVICE} {top[0]}.{top[1]}].",
            )
        return major, minor

    @staticmethod
    def _ver(req: Req) -> tuple[int, int]:
        major, minor = (int(x) for x in req.headers["_version"].split("."))
        return major, minor

    def _require(self, req: Req, minimum: tuple[int, int], api: str) -> None:
        major, minor = self._ver(req)
        if (major, minor) < minimum:
            raise ApiError(
                406,
                f"Version {major}.{minor} was requested but the requested API "
                f"{api} is not supported for this version.",
            )

    @staticmethod
    def _links(kind: str, ident: str) -> list[dict[str, str]]:
        return [
            {"href": f"{MAGNUM}/v1/{kind}/{ident}", "rel": "self"},
            {"href": f"{MAGNUM}/{kind}/{ident}", "rel": "bookmark"},
        ]

    def _flavor_exists(self, ident: str | None) -> bool:
        return ident is None or any(
            f["id"] == ident or f["name"] == ident for f in self.flavors.values()
        )

    def _network_exists(self, ident: str | None) -> bool:
        return ident is None or any(
            n["id"] == ident or n["name"] == ident for n in self.networks.values()
        )

    # -- cluster templates
    _CT_DEFAULTS: ClassVar[dict[str, Any]] = {
        "image_id": None,
        "flavor_id": None,
        "master_flavor_id": None,
        "keypair_id": None,
        "external_network_id": None,
        "fixed_network": None,
        "fixed_subnet": None,
        "dns_nameserver": None,
        "network_driver": "calico",
        "volume_driver": "cinder",
        "docker_volume_size": None,
        "docker_storage_driver": None,
        "apiserver_port": None,
        "http_proxy": None,
        "https_proxy": None,
        "no_proxy": None,
        "labels": {},
        "server_type": "vm",
        "insecure_registry": None,
        "public": False,
        "hidden": False,
        "registry_enabled": False,
        "tls_disabled": False,
        "master_lb_enabled": False,
        "floating_ip_enabled": True,
        "tags": None,
        "driver": None,
        "cluster_distro": "ubuntu",
    }

    def add_template(self, name: str, **fields: Any) -> dict[str, Any]:
        """Seed a cluster template (no request logged); returns the stored dict."""
        ident = fields.pop("uuid", None) or _new_id()
        template = {
            **copy.deepcopy(self._CT_DEFAULTS),
            "coe": "kubernetes",
            "image_id": "ubuntu-2204-kube-v1.31.4",
            "flavor_id": "m1.medium",
            "master_flavor_id": "m1.medium",
            "external_network_id": "public",
            "driver": "k8s_capi_helm_v1",
            **fields,
            "uuid": ident,
            "name": name,
            "project_id": PROJECT_ID,
            "user_id": USER_ID,
            "created_at": self._ts(),
            "updated_at": None,
            "links": self._links("clustertemplates", ident),
        }
        self.templates[ident] = template
        return template

    def _ct_list(self, req: Req) -> Reply:
        return Reply(200, {"clustertemplates": copy.deepcopy(list(self.templates.values()))})

    def _ct_get(self, req: Req, ident: str) -> Reply:
        return Reply(200, copy.deepcopy(self._by_ident(self.templates, ident, "clustertemplate")))

    def _ct_create(self, req: Req) -> Reply:
        body = dict(req.body) if isinstance(req.body, dict) else {}
        self._unknown_fields("cluster_template", _TEMPLATE_FIELDS, body)
        for mandatory in ("coe", "image_id"):
            if not body.get(mandatory):
                raise ApiError(
                    400,
                    f"Invalid input for field/attribute {mandatory}. "
                    "Value: None. Mandatory field missing.",
                )
        for key in ("flavor_id", "master_flavor_id"):
            if not self._flavor_exists(body.get(key)):
                raise ApiError(400, f"Unable to find flavor {body[key]}.")
        if not self._network_exists(body.get("external_network_id")):
            raise ApiError(400, f"Unable to find network {body['external_network_id']}.")
        # The image must exist and name its os_distro, which picks the driver
        # (magnum/api/attr_validator.py validate_image: ImageNotFound and
        # OSDistroFieldNotFound, both 400; cluster_template.py post: cluster_distro and
        # driver from the image).
        image = self.find_image(str(body["image_id"]))
        if image is None:
            raise ApiError(400, f"Image {body['image_id']} could not be found.")
        if not image.get("os_distro"):
            raise ApiError(400, f"Image {body['image_id']} doesn't contain os_distro field.")
        body["cluster_distro"] = image["os_distro"]
        body["driver"] = image.get("magnum_driver") or (
            CAPI_HELM if image["os_distro"] in _CAPI_HELM_DISTROS else "k8s_fedora_coreos_v1"
        )
        name = body.pop("name", None) or f"template-{uuid.uuid4().hex[:8]}"
        known = {*self._CT_DEFAULTS, "coe"}
        fields = {k: v for k, v in body.items() if k in known}
        template = self.add_template(name, **fields)
        return Reply(201, copy.deepcopy(template))

    def _ct_patch(self, req: Req, ident: str) -> Reply:
        template = self._by_ident(self.templates, ident, "clustertemplate")
        patched = self._json_patch(
            template,
            req.body,
            internal={
                "/uuid",
                "/id",
                "/links",
                "/created_at",
                "/updated_at",
                "/project_id",
                "/user_id",
            },
        )
        for key in ("flavor_id", "master_flavor_id"):
            if not self._flavor_exists(patched.get(key)):
                raise ApiError(400, f"Unable to find flavor {patched[key]}.")
        template.clear()
        template.update(patched, updated_at=self._ts())
        return Reply(200, copy.deepcopy(template))

    def _ct_delete(self, req: Req, ident: str) -> Reply:
        template = self._by_ident(self.templates, ident, "clustertemplate")
        if any(c["cluster_template_id"] == template["uuid"] for c in self.clusters.values()):
            raise ApiError(
                400,
                f"ClusterTemplate {template['uuid']} is referenced by one or multiple clusters.",
            )
        del self.templates[template["uuid"]]
        return Reply(204)

    @staticmethod
    def _json_patch(
        obj: dict[str, Any], patch: Any, internal: set[str], allowed: set[str] | None = None
    ) -> dict[str, Any]:
        if not isinstance(patch, list):
            raise ApiError(400, "Invalid input: a JSON patch (list of operations) is required")
        for op in patch:
            path = op.get("path", "") if isinstance(op, dict) else ""
            top = "/" + path.lstrip("/").split("/")[0]
            if top in internal or (allowed is not None and top not in allowed):
                raise ApiError(400, f"'{path}' is an internal attribute and can not be updated")
        try:
            result: dict[str, Any] = jsonpatch.apply_patch(copy.deepcopy(obj), patch)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as e:
            raise ApiError(400, f"Couldn't apply patch '{patch}'. Reason: {e}") from e
        return result

    # -- clusters
    _CLUSTER_SUMMARY = (
        "uuid",
        "name",
        "cluster_template_id",
        "keypair",
        "docker_volume_size",
        "labels",
        "node_count",
        "status",
        "master_flavor_id",
        "flavor_id",
        "create_timeout",
        "master_count",
        "health_status",
        "links",
    )

    def _cluster_view(self, cluster: dict[str, Any], summary: bool = False) -> dict[str, Any]:
        groups = [ng for ng in self.nodegroups.values() if ng["cluster_id"] == cluster["uuid"]]
        view = copy.deepcopy(cluster)
        if groups:
            workers = [ng for ng in groups if ng["role"] != "master"]
            masters = [ng for ng in groups if ng["role"] == "master"]
            view["node_count"] = sum(ng["node_count"] for ng in workers)
            view["master_count"] = sum(ng["node_count"] for ng in masters)
            # Only the heat driver fills these (from its stack outputs); magnum-capi-helm
            # never sets node_addresses or master_addresses (magnum_capi_helm/driver.py,
            # a8b82c24, writes neither), so they stay [] there.
            tmpl = self.templates.get(cluster["cluster_template_id"], {})
            if not self.is_capi_helm(tmpl):
                view["node_addresses"] = [a for ng in workers for a in ng["node_addresses"]]
                view["master_addresses"] = [a for ng in masters for a in ng["node_addresses"]]
        if summary:
            view = {k: view.get(k) for k in self._CLUSTER_SUMMARY}
        return view

    def _cluster(self, ident: str) -> dict[str, Any]:
        return self._by_ident(self.clusters, ident, "cluster")

    def _cl_list(self, req: Req) -> Reply:
        for cluster in list(self.clusters.values()):
            self._poll(("cluster", cluster["uuid"]))
        return Reply(
            200, {"clusters": [self._cluster_view(c, summary=True) for c in self.clusters.values()]}
        )

    def _cl_list_detail(self, req: Req) -> Reply:
        for cluster in list(self.clusters.values()):
            self._poll(("cluster", cluster["uuid"]))
        return Reply(200, {"clusters": [self._cluster_view(c) for c in self.clusters.values()]})

    def _cl_get(self, req: Req, ident: str) -> Reply:
        cluster = self._cluster(ident)
        # Magnum's periodic status sync updates the node groups first, then the cluster
        # (openstack/magnum-capi-helm magnum_capi_helm/driver.py `update_cluster_status`,
        # a8b82c24), so reading the cluster also moves its node-group operations on.
        for ng in self._groups(cluster["uuid"]):
            self._poll(("nodegroup", ng["uuid"]))
        self._poll(("cluster", cluster["uuid"]))
        if cluster["uuid"] not in self.clusters:  # the poll completed a deletion
            raise ApiError(404, f"Cluster {ident} could not be found.")
        return Reply(200, self._cluster_view(cluster))

    def add_cluster(
        self,
        name: str,
        template: str | None = None,
        *,
        status: str = "CREATE_COMPLETE",
        node_count: int = 1,
        master_count: int = 1,
        labels: dict[str, Any] | None = None,
        status_reason: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Seed a cluster (no request logged) with its default node groups; returns it.

        ``template``: name or uuid (default: the first template, created if none). ``status``:
        ``CREATE_COMPLETE`` (api_address, nodes and Nova servers exist), ``CREATE_IN_PROGRESS``
        (settles like a created one) or any other status, stored as is. ``labels`` default to
        the template's. ``fields``: other create fields (``flavor_id``, ``master_flavor_id``,
        ``keypair``, ``master_lb_enabled``, ``floating_ip_enabled``, ``fixed_network``…).
        """
        if template is None:
            tmpl = next(iter(self.templates.values()), None) or self.add_template("k8s-template")
        else:
            tmpl = self._by_ident(self.templates, template, "clustertemplate")
        cluster = self._new_cluster(
            {
                "name": name,
                "cluster_template_id": tmpl["uuid"],
                "node_count": node_count,
                "master_count": master_count,
                "labels": labels,
                **fields,
            },
            tmpl,
        )
        if status == "CREATE_COMPLETE":
            self._complete_cluster(cluster["uuid"], None)
        elif status == "CREATE_IN_PROGRESS":
            self._schedule(
                ("cluster", cluster["uuid"]), lambda: self._complete_cluster(cluster["uuid"], None)
            )
        else:
            cluster.update(status=status, status_reason=status_reason)
            for ng in self._groups(cluster["uuid"]):
                ng.update(status=status, status_reason=status_reason)
        if status_reason is not None:
            cluster["status_reason"] = status_reason
        return cluster

    @staticmethod
    def is_capi_helm(tmpl: dict[str, Any]) -> bool:
        return "capi_helm" in str(tmpl.get("driver") or "")

    def _stack_id(self, tmpl: dict[str, Any], name: str) -> str:
        """What each driver stores as the cluster's stack_id.

        magnum-capi-helm: the Helm release name, `<sanitized name[:30]>-<short id>`,
        lower case, set as the create starts (openstack/magnum-capi-helm
        magnum_capi_helm/driver.py `_generate_release_name`, driver_utils.py
        `sanitized_name`, a8b82c24; the 12-character id is magnum/common/short_id.py
        `generate_id`, lower-case base32). heat: the Heat stack's uuid
        (openstack/magnum magnum/drivers/heat/driver.py `create_cluster`, stable/2026.1).
        """
        if not self.is_capi_helm(tmpl):
            return _new_id()
        base = re.sub("[^a-z0-9]+", "-", name.lower()).strip("-")
        alphabet = string.ascii_lowercase + "234567"
        short = "".join(secrets.choice(alphabet) for _ in range(12))
        return f"{base[:30]}-{short}".lower()

    def controller_cluster_name(self, cluster_ident: str) -> str:
        """The --cluster-name the cluster's openstack-cloud-controller-manager runs with.

        heat: `--cluster-name=${CLUSTER_UUID}` (openstack/magnum magnum/drivers/common/
        templates/kubernetes/fragments/kube-apiserver-to-kubelet-role.sh, stable/2026.1
        9f9c4b9f). capi-helm: the cluster-addons chart's `cluster.name`, the Helm release
        name (azimuth-cloud/capi-helm-charts charts/cluster-addons/templates/openstack/
        ccm.yaml, 2c557a9a), which magnum-capi-helm makes the stack_id
        (driver_utils.py `chart_release_name`).
        """
        cluster = self._cluster(cluster_ident)
        tmpl = self.templates[cluster["cluster_template_id"]]
        return str(cluster["stack_id"] if self.is_capi_helm(tmpl) else cluster["uuid"])

    def _new_cluster(self, body: dict[str, Any], tmpl: dict[str, Any]) -> dict[str, Any]:
        ident = _new_id()
        labels = body.get("labels")
        if labels is None:
            labels = copy.deepcopy(tmpl["labels"])
        elif body.get("merge_labels"):
            labels = {**tmpl["labels"], **labels}
        stack = body.get("stack_id") or self._stack_id(tmpl, str(body.get("name") or ""))
        cluster = {
            "uuid": ident,
            "name": body.get("name") or f"cluster-{uuid.uuid4().hex[:8]}",
            "cluster_template_id": tmpl["uuid"],
            "keypair": body.get("keypair", tmpl["keypair_id"]),
            "node_count": body.get("node_count", 1),
            "master_count": body.get("master_count", 1),
            "docker_volume_size": body.get("docker_volume_size", tmpl["docker_volume_size"]),
            "labels": labels,
            "labels_overridden": {},
            "labels_added": {},
            "labels_skipped": {},
            "master_flavor_id": body.get("master_flavor_id") or tmpl["master_flavor_id"],
            "flavor_id": body.get("flavor_id") or tmpl["flavor_id"],
            "create_timeout": body.get("create_timeout", 60),
            "links": self._links("clusters", ident),
            "stack_id": stack,
            "cluster_id": stack,
            "status": "CREATE_IN_PROGRESS",
            "status_reason": None,
            "health_status": None,
            "health_status_reason": {},
            "discovery_url": None,
            "api_address": None,
            "coe_version": None,
            "container_version": None,
            "project_id": PROJECT_ID,
            "user_id": USER_ID,
            "node_addresses": [],
            "master_addresses": [],
            "faults": {},
            "fixed_network": body.get("fixed_network", tmpl["fixed_network"]),
            "fixed_subnet": body.get("fixed_subnet", tmpl["fixed_subnet"]),
            "floating_ip_enabled": body.get("floating_ip_enabled", tmpl["floating_ip_enabled"]),
            "master_lb_enabled": body.get("master_lb_enabled", tmpl["master_lb_enabled"]),
            "merge_labels": bool(body.get("merge_labels", False)),
            "created_at": self._ts(),
            "updated_at": None,
        }
        self.clusters[ident] = cluster
        for role, ng_name, count, flavor in (
            ("master", "default-master", cluster["master_count"], cluster["master_flavor_id"]),
            ("worker", "default-worker", cluster["node_count"], cluster["flavor_id"]),
        ):
            self._new_nodegroup(
                cluster,
                {
                    "name": ng_name,
                    "role": role,
                    "node_count": count,
                    "flavor_id": flavor,
                    # magnum/conductor/utils.py _get_nodegroup_object (stable/2026.1): the
                    # default worker takes min_node_count from the cluster's labels; its
                    # max_node_count stays unset (the capi-helm driver reads the label).
                    "min_node_count": int(labels.get("min_node_count", 0))
                    if role == "worker"
                    else 0,
                    "max_node_count": None,
                },
                is_default=True,
            )
        return cluster

    def _groups(self, cluster_uuid: str) -> list[dict[str, Any]]:
        return [ng for ng in self.nodegroups.values() if ng["cluster_id"] == cluster_uuid]

    def _complete_cluster(self, ident: str, reason: str | None) -> None:
        cluster = self.clusters.get(ident)
        if cluster is None:
            return
        cluster["updated_at"] = self._ts()
        if reason is not None:
            cluster.update(
                status="CREATE_FAILED", status_reason=reason, faults={"default-master": reason}
            )
            for ng in self._groups(ident):
                ng.update(status="CREATE_FAILED", status_reason=reason)
            return
        cluster.update(
            status="CREATE_COMPLETE",
            status_reason="Stack CREATE completed successfully",
            health_status="HEALTHY",
            api_address=self.api_address_for.get(cluster["name"])
            or f"https://{self._next_public_ip()}:6443",
            coe_version=str(cluster["labels"].get("kube_tag", "v1.31.4")),
            container_version="1.7.22",
            discovery_url=None,
        )
        for ng in self._groups(ident):
            ng.update(status="CREATE_COMPLETE", status_reason="Stack CREATE completed successfully")
            self._sync_servers(cluster, ng)

    def _sync_servers(self, cluster: dict[str, Any], ng: dict[str, Any]) -> None:
        # Server names: heat's start with the stack name, `<cluster name>-<id>`; on
        # capi-helm Cluster API names machines after the Helm release (the stack_id) and
        # the node group (azimuth-cloud/capi-helm-charts charts/openstack-cluster/
        # templates/_helpers.tpl `componentName`, node-group/machine-deployment.yaml,
        # 2c557a9a).
        tmpl = self.templates.get(cluster["cluster_template_id"], {})
        if self.is_capi_helm(tmpl):
            # The control plane is one KubeadmControlPlane `<release>-control-plane`
            # (capi-helm-charts control-plane/kubeadm-control-plane.yaml).
            group = "control-plane" if ng["role"] == "master" else ng["name"]
            prefix = f"{cluster['stack_id']}-{group}-"
        else:
            prefix = f"{cluster['name']}-{cluster['uuid'][:6]}-{ng['name']}-"
        mine = sorted(
            (s for s in self.servers.values() if s["name"].startswith(prefix)),
            key=lambda s: s["name"],
        )
        while len(mine) > ng["node_count"]:
            gone = mine.pop()
            del self.servers[gone["id"]]
        index = len(mine)
        while len(mine) < ng["node_count"]:
            while any(s["name"] == f"{prefix}{index}" for s in mine):
                index += 1
            mine.append(
                self.add_server(
                    f"{prefix}{index}",
                    flavor=ng["flavor_id"],
                    metadata={"magnum_cluster": cluster["uuid"], "magnum_nodegroup": ng["name"]},
                )
            )
        ng["node_addresses"] = [s["addresses"]["private"][0]["addr"] for s in mine]

    def _cl_create(self, req: Req) -> Reply:
        body = req.body if isinstance(req.body, dict) else {}
        self._unknown_fields("cluster", _CLUSTER_FIELDS, body)
        if not body.get("cluster_template_id"):
            raise ApiError(
                400,
                "Invalid input for field/attribute cluster_template_id. "
                "Value: None. Mandatory field missing.",
            )
        tmpl = self._by_ident(self.templates, body["cluster_template_id"], "clustertemplate")
        for key in ("flavor_id", "master_flavor_id"):
            if not self._flavor_exists(body.get(key)):
                raise ApiError(400, f"Unable to find flavor {body[key]}.")
        if body.get("node_count", 1) < 0 or body.get("master_count", 1) < 1:
            raise ApiError(400, "Invalid node_count/master_count")
        cluster = self._new_cluster(body, tmpl)
        reason = self._take_failure("cluster", cluster["name"]) or self._capi_helm_image_refusal(
            tmpl
        )
        self._schedule(
            ("cluster", cluster["uuid"]), lambda: self._complete_cluster(cluster["uuid"], reason)
        )
        return Reply(202, {"uuid": cluster["uuid"]})

    def _cl_patch(self, req: Req, ident: str) -> Reply:
        cluster = self._cluster(ident)
        view = self._cluster_view(cluster)
        patched = self._json_patch(
            view,
            req.body,
            internal=set(),
            allowed={"/node_count", "/health_status", "/health_status_reason"},
        )
        if self._ver(req) < (1, 10) and patched["node_count"] == 0:
            raise ApiError(400, "Resizing a cluster to zero nodes is not supported.")
        if patched["node_count"] != view["node_count"]:
            self._update_worker_count(cluster, None, patched["node_count"])
        cluster["health_status"] = patched.get("health_status")
        return Reply(202, {"uuid": cluster["uuid"]})

    _UPDATABLE = (
        "CREATE_COMPLETE",
        "UPDATE_COMPLETE",
        "RESUME_COMPLETE",
        "RESTORE_COMPLETE",
        "ROLLBACK_COMPLETE",
        "SNAPSHOT_COMPLETE",
        "CHECK_COMPLETE",
        "ADOPT_COMPLETE",
    )

    def _update_worker_count(
        self, cluster: dict[str, Any], nodegroup: str | None, count: int
    ) -> None:
        if cluster["status"] not in self._UPDATABLE:
            return  # Magnum's conductor refuses asynchronously: the API said 202, nothing moves
        groups = self._groups(cluster["uuid"])
        if nodegroup is None:
            target = next(ng for ng in groups if ng["is_default"] and ng["role"] != "master")
        else:
            target = self._by_ident({ng["uuid"]: ng for ng in groups}, nodegroup, "nodegroup")
        too_many = target["max_node_count"] is not None and count > target["max_node_count"]
        if too_many or count < target["min_node_count"]:
            raise ApiError(
                400,
                f"Resizing {target['name']} outside the allowed range: "
                f"min_node_count = {target['min_node_count']}, "
                f"max_node_count = {target['max_node_count']}",
            )
        cluster["status"] = "UPDATE_IN_PROGRESS"
        target["status"] = "UPDATE_IN_PROGRESS"
        reason = self._take_failure("cluster_update", cluster["name"])

        def done() -> None:
            if reason is not None:
                cluster.update(status="UPDATE_FAILED", status_reason=reason)
                target.update(status="UPDATE_FAILED", status_reason=reason)
                return
            target["node_count"] = count
            self._sync_servers(cluster, target)
            cluster.update(
                status="UPDATE_COMPLETE", status_reason="Stack UPDATE completed successfully"
            )
            target.update(status="UPDATE_COMPLETE", status_reason=None)

        self._schedule(("cluster", cluster["uuid"]), done)

    def _cl_resize(self, req: Req, ident: str) -> Reply:
        self._require(req, (1, 7), "post")
        cluster = self._cluster(ident)
        body = req.body if isinstance(req.body, dict) else {}
        if "node_count" not in body:
            raise ApiError(400, "Mandatory field missing: node_count")
        self._update_worker_count(cluster, body.get("nodegroup"), int(body["node_count"]))
        return Reply(202, {"uuid": cluster["uuid"]})

    def _cl_delete(self, req: Req, ident: str) -> Reply:
        cluster = self._cluster(ident)
        cluster["status"] = "DELETE_IN_PROGRESS"
        reason = self._take_failure("cluster_delete", cluster["name"])

        def done() -> None:
            if reason is not None:
                cluster.update(status="DELETE_FAILED", status_reason=reason)
                return
            for ng in self._groups(cluster["uuid"]):
                ng["node_count"] = 0
                self._sync_servers(cluster, ng)
                del self.nodegroups[ng["uuid"]]
            self.clusters.pop(cluster["uuid"], None)
            self._cas.pop(cluster["uuid"], None)

        self._schedule(("cluster", cluster["uuid"]), done)
        return Reply(204)

    # -- the capi-helm driver's refusals (openstack/magnum-capi-helm 1.4.0, a8b82c24,
    #    magnum_capi_helm/driver.py), which run in the conductor after the API said 202
    def _is_capi_helm(self, cluster: dict[str, Any]) -> bool:
        tmpl = self.templates.get(cluster["cluster_template_id"], {})
        return tmpl.get("driver") == CAPI_HELM

    def _capi_helm_image_refusal(self, tmpl: dict[str, Any]) -> str | None:
        """_get_image_details: the image must carry kube_version and os_distro."""
        if tmpl.get("driver") != CAPI_HELM:
            return None
        image = self.find_image(str(tmpl.get("image_id")))
        if image is None:
            return None  # validated when the template was made
        if not image.get("kube_version"):
            return f"Image {image['id']} does not have a kube_version property."
        if not image.get("os_distro"):
            return f"Image {image['id']} does not have an os_distro property."
        return None

    def _capi_helm_count_refusal(self, cluster: dict[str, Any], ng: dict[str, Any]) -> str | None:
        """_validate_allowed_node_counts, with the bounds of _get_node_counts.

        Only when autoscaling (create_nodegroup/update_nodegroup call it under
        _get_autoscale_enabled). For the default worker group the cluster labels
        min_node_count/max_node_count win over the group's fields, and a group min of 1
        counts as unset (node_count).
        """
        labels = cluster.get("labels") or {}
        scaling = str(labels.get("auto_scaling_enabled", "false")).strip().lower()
        if not self._is_capi_helm(cluster) or scaling not in ("1", "t", "true", "on", "y", "yes"):
            return None
        low, high = self.capi_helm_bounds(cluster, ng)
        if low < 1:
            return "Min node count must be greater than or equal to 1 for all node groups."
        if low > ng["node_count"]:
            return "Min node count must be less than or equal to current node count"
        if high is not None and high < low:
            return "Max node count must be greater than or equal to min node count"
        return None

    def capi_helm_bounds(self, cluster: dict[str, Any], ng: dict[str, Any]) -> tuple[int, Any]:
        """The autoscaling bounds magnum-capi-helm hands Helm (driver.py _get_node_counts)."""
        low = ng["node_count"] if ng["min_node_count"] is None else ng["min_node_count"]
        high = ng["node_count"] if ng["max_node_count"] is None else ng["max_node_count"]
        if ng["is_default"] and ng["role"] != "master":
            if ng["min_node_count"] == 1:
                low = ng["node_count"]
            labels = cluster.get("labels") or {}
            if labels.get("min_node_count") not in (None, ""):
                low = int(labels["min_node_count"])
            if labels.get("max_node_count") not in (None, ""):
                high = int(labels["max_node_count"])
        return low, high

    def _conductor_refuses(self, cluster: dict[str, Any], ng: dict[str, Any], what: str) -> bool:
        """The nodegroup conductor's handling of a driver error: the group *_FAILED with the
        message, the cluster UPDATE_FAILED (magnum/conductor/handlers/nodegroup_conductor.py
        nodegroup_create / nodegroup_update at stable/2026.1)."""
        reason = self._capi_helm_count_refusal(cluster, ng)
        if reason is None:
            return False
        ng.update(status=f"{what}_FAILED", status_reason=reason)
        cluster.update(status="UPDATE_FAILED", status_reason=reason)
        return True

    # -- node groups
    _NG_SUMMARY = (
        "uuid",
        "name",
        "flavor_id",
        "node_count",
        "role",
        "is_default",
        "image_id",
        "status",
        "stack_id",
    )

    def _new_nodegroup(
        self, cluster: dict[str, Any], body: dict[str, Any], is_default: bool = False
    ) -> dict[str, Any]:
        tmpl = self.templates.get(cluster["cluster_template_id"], {})
        labels = body.get("labels")
        if labels is None:
            labels = copy.deepcopy(cluster["labels"])
        elif body.get("merge_labels"):
            labels = {**cluster["labels"], **labels}
        ident = _new_id()
        ng = {
            "id": next(self._ng_ids),
            "uuid": ident,
            "name": body["name"],
            "cluster_id": cluster["uuid"],
            "project_id": PROJECT_ID,
            "docker_volume_size": body.get("docker_volume_size"),
            "labels": labels,
            "labels_overridden": {},
            "labels_added": {},
            "labels_skipped": {},
            "links": [
                {
                    "href": f"{MAGNUM}/v1/clusters/{cluster['uuid']}/nodegroups/{ident}",
                    "rel": "self",
                }
            ],
            "flavor_id": body.get("flavor_id") or cluster["flavor_id"],
            "image_id": body.get("image_id") or tmpl.get("image_id"),
            "node_addresses": [],
            "node_count": body.get("node_count", 1),
            "role": body.get("role", "worker"),
            "min_node_count": body.get("min_node_count", 0),
            "max_node_count": body.get("max_node_count"),
            "is_default": is_default,
            "stack_id": cluster["stack_id"],
            "status": "CREATE_IN_PROGRESS",
            "status_reason": None,
            "version": None,
            "merge_labels": bool(body.get("merge_labels", False)),
            "created_at": self._ts(),
            "updated_at": None,
        }
        if self.magnum_release == "master":  # fields of master's NodeGroup only (34738d90)
            ng["node_labels"] = body.get("node_labels") or {}
            ng["node_taints"] = body.get("node_taints") or []
        self.nodegroups[ident] = ng
        return ng

    @staticmethod
    def _validate_counts(ng: dict[str, Any]) -> None:
        """`_validate_node_count` (openstack/magnum magnum/api/controllers/v1/nodegroup.py,
        stable/2026.1 9f9c4b9f): NodeGroupInvalidInput, a `Conflict`, so 409, with the
        message "%(attr)s for %(nodegroup)s is invalid (%(expl)s)."
        (magnum/common/exception.py)."""
        lo, hi, n = ng["min_node_count"], ng["max_node_count"], ng["node_count"]

        def invalid(attr: str, expl: str) -> ApiError:
            return ApiError(409, f"{attr} for {ng['name']} is invalid ({expl}).")

        if hi is not None and hi < lo:
            raise invalid(
                "max_node_count",
                f"min_node_count ({lo}) should be less or equal to max_node_count ({hi})",
            )
        if hi is not None and n > hi:
            raise invalid(
                "max_node_count",
                f"node_count ({n}) should be less or equal to max_node_count ({hi})",
            )
        if lo > n:
            raise invalid(
                "min_node_count",
                f"min_node_count ({lo}) should be less or equal to node_count ({n})",
            )

    def _nodegroup(self, cluster: dict[str, Any], ident: str) -> dict[str, Any]:
        groups = {ng["uuid"]: ng for ng in self._groups(cluster["uuid"])}
        for ng in groups.values():
            if str(ng["id"]) == ident:
                return ng
        return self._by_ident(groups, ident, "nodegroup")

    def _ng_list(self, req: Req, cluster_ident: str) -> Reply:
        self._require(req, (1, 9), "get_all")
        cluster = self._cluster(cluster_ident)
        groups = self._groups(cluster["uuid"])
        for ng in groups:
            self._poll(("nodegroup", ng["uuid"]))
        role = req.q("role")
        groups = [ng for ng in self._groups(cluster["uuid"]) if role is None or ng["role"] == role]
        return Reply(200, {"nodegroups": [{k: ng[k] for k in self._NG_SUMMARY} for ng in groups]})

    def _ng_get(self, req: Req, cluster_ident: str, ident: str) -> Reply:
        self._require(req, (1, 9), "get_one")
        cluster = self._cluster(cluster_ident)
        ng = self._nodegroup(cluster, ident)
        self._poll(("nodegroup", ng["uuid"]))
        if ng["uuid"] not in self.nodegroups:
            raise ApiError(404, f"Nodegroup {ident} could not be found.")
        return Reply(200, copy.deepcopy(ng))

    def _ng_create(self, req: Req, cluster_ident: str) -> Reply:
        self._require(req, (1, 9), "post")
        cluster = self._cluster(cluster_ident)
        body = req.body if isinstance(req.body, dict) else {}
        self._unknown_fields("nodegroup", _NODEGROUP_FIELDS, body)
        if not cluster.get("api_address"):
            raise ApiError(409, "Cluster API address is not available yet")
        if not body.get("name"):
            raise ApiError(400, "Invalid input for field/attribute name. Mandatory field missing.")
        if any(ng["name"] == body["name"] for ng in self._groups(cluster["uuid"])):
            raise ApiError(
                409,
                f"A node group with name {body['name']} already exists in the "
                f"cluster {cluster['name']}.",
            )
        if body.get("role") == "master":
            raise ApiError(400, "Creating master nodegroups is currently not supported.")
        if not self._flavor_exists(body.get("flavor_id")):
            raise ApiError(400, f"Unable to find flavor {body['flavor_id']}.")
        probe = {
            "name": body["name"],
            "node_count": body.get("node_count", 1),
            "min_node_count": body.get("min_node_count", 0),
            "max_node_count": body.get("max_node_count"),
        }
        self._validate_counts(probe)
        ng = self._new_nodegroup(cluster, body)
        accepted = copy.deepcopy(ng)
        if self._conductor_refuses(cluster, ng, "CREATE"):
            return Reply(202, accepted)
        reason = self._take_failure("nodegroup", ng["name"])
        self._cluster_busy(cluster)

        def done() -> None:
            if ng["uuid"] not in self.nodegroups:
                return
            if reason is not None:
                ng.update(status="CREATE_FAILED", status_reason=reason)
                self._cluster_settled(cluster, reason)
                return
            ng.update(status="CREATE_COMPLETE", status_reason=None)
            self._sync_servers(cluster, ng)
            self._cluster_settled(cluster, None)

        self._schedule(("nodegroup", ng["uuid"]), done)
        return Reply(202, accepted)

    def _ng_patch(self, req: Req, cluster_ident: str, ident: str) -> Reply:
        self._require(req, (1, 9), "patch")
        cluster = self._cluster(cluster_ident)
        ng = self._nodegroup(cluster, ident)
        allowed = {"/min_node_count", "/max_node_count"}
        if self.magnum_release == "master":
            # master's NodeGroupController._patch, whatever microversion was asked for.
            allowed |= {"/node_labels", "/node_taints"}
        patched = self._json_patch(ng, req.body, internal=set(), allowed=allowed)
        self._validate_counts(patched)
        ng.update(patched, status="UPDATE_IN_PROGRESS", updated_at=self._ts())
        accepted = copy.deepcopy(ng)
        if self._conductor_refuses(cluster, ng, "UPDATE"):
            return Reply(202, accepted)
        self._cluster_busy(cluster)
        reason = self._take_failure("nodegroup_update", ng["name"])

        def done() -> None:
            if ng["uuid"] not in self.nodegroups:
                return
            if reason is not None:
                ng.update(status="UPDATE_FAILED", status_reason=reason)
            else:
                ng.update(status="UPDATE_COMPLETE", status_reason=None)
            self._cluster_settled(cluster, reason)

        self._schedule(("nodegroup", ng["uuid"]), done)
        return Reply(202, copy.deepcopy(ng))

    def _cluster_busy(self, cluster: dict[str, Any]) -> None:
        """A node-group create or update moves the cluster to UPDATE_IN_PROGRESS
        (openstack/magnum magnum/conductor/handlers/nodegroup_conductor.py
        `nodegroup_create`/`nodegroup_update`, stable/2026.1 9f9c4b9f)."""
        cluster.update(status="UPDATE_IN_PROGRESS", status_reason=None)

    def _cluster_settled(self, cluster: dict[str, Any], reason: str | None) -> None:
        """Back to UPDATE_COMPLETE once no node group is in progress; UPDATE_FAILED with
        the reason when the group's operation failed (nodegroup_conductor.py sets both the
        group's *_FAILED and the cluster's UPDATE_FAILED; magnum-capi-helm driver.py
        `update_cluster_status` waits for every node group before settling the cluster).
        UPDATE_FAILED is not terminal: ALLOWED_NODEGROUP_STATES in nodegroup_conductor.py
        keeps node-group operations open there."""
        if reason is not None:
            cluster.update(status="UPDATE_FAILED", status_reason=reason)
            return
        busy = any(
            str(ng["status"]).endswith("_IN_PROGRESS") for ng in self._groups(cluster["uuid"])
        )
        if not busy and cluster["status"] == "UPDATE_IN_PROGRESS":
            cluster.update(status="UPDATE_COMPLETE", status_reason=None)

    def _ng_delete(self, req: Req, cluster_ident: str, ident: str) -> Reply:
        self._require(req, (1, 9), "delete")
        cluster = self._cluster(cluster_ident)
        ng = self._nodegroup(cluster, ident)
        if ng["is_default"]:
            raise ApiError(400, "Deleting a default nodegroup is not supported.")
        ng["status"] = "DELETE_IN_PROGRESS"

        def done() -> None:
            ng["node_count"] = 0
            self._sync_servers(cluster, ng)
            self.nodegroups.pop(ng["uuid"], None)

        self._schedule(("nodegroup", ng["uuid"]), done)
        return Reply(204)

    # -- certificates
    def ca(self, cluster_uuid: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        """The cluster's CA (generated on first use): private key and certificate."""
        if cluster_uuid not in self._cas:
            name = self.clusters[cluster_uuid]["name"]
            key = ec.generate_private_key(ec.SECP256R1())
            subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
            now = datetime.datetime.now(tz=datetime.UTC)
            cert = (
                x509.CertificateBuilder()
                .subject_name(subject)
                .issuer_name(subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(
                    x509.KeyUsage(
                        digital_signature=True,
                        content_commitment=False,
                        key_encipherment=False,
                        data_encipherment=False,
                        key_agreement=False,
                        key_cert_sign=True,
                        crl_sign=True,
                        encipher_only=False,
                        decipher_only=False,
                    ),
                    critical=True,
                )
                .sign(key, hashes.SHA256())
            )
            self._cas[cluster_uuid] = (key, cert)
        return self._cas[cluster_uuid]

    def ca_pem(self, cluster_uuid: str) -> str:
        return self.ca(cluster_uuid)[1].public_bytes(serialization.Encoding.PEM).decode()

    def _cert_get(self, req: Req, ident: str) -> Reply:
        cluster = self._cluster(ident)
        return Reply(
            200,
            {
                "cluster_uuid": cluster["uuid"],
                "pem": self.ca_pem(cluster["uuid"]),
                "links": self._links("certificates", cluster["uuid"]),
            },
        )

    def _cert_sign(self, req: Req) -> Reply:
        body = req.body if isinstance(req.body, dict) else {}
        cluster = self._cluster(str(body.get("cluster_uuid") or body.get("bay_uuid") or ""))
        try:
            csr = x509.load_pem_x509_csr(str(body.get("csr", "")).encode())
        except ValueError as e:
            raise ApiError(400, f"Invalid CSR: {e}") from e
        if not csr.is_signature_valid:
            raise ApiError(400, "Invalid CSR: bad signature")
        key, ca_cert = self.ca(cluster["uuid"])
        now = datetime.datetime.now(tz=datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(ca_cert.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(key, hashes.SHA256())
        )
        pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        return Reply(
            201,
            {
                "cluster_uuid": cluster["uuid"],
                "csr": body["csr"],
                "pem": pem,
                "links": self._links("certificates", cluster["uuid"]),
            },
        )
