"""The cluster name cloud-provider-openstack writes into the cloud's objects.

The cluster's cloud controller names a Service's Octavia load balancer
`kube_service_<clusterName>_<namespace>_<service>` and describes a floating IP it
allocates "Floating IP for Kubernetes external service <namespace>/<service> from
cluster <clusterName>" (kubernetes/cloud-provider-openstack
pkg/openstack/loadbalancer.go, `lbFormat`, `GetLoadBalancerName`, release-1.35
a031201f / master c453fb7c). `clusterName` is the controller's `--cluster-name`,
which is not the Magnum cluster's name:

- heat: Magnum starts the controller with `--cluster-name=${CLUSTER_UUID}`
  (openstack/magnum magnum/drivers/common/templates/kubernetes/fragments/
  kube-apiserver-to-kubelet-role.sh, stable/2026.1 9f9c4b9f): the cluster uuid.
- capi-helm: the cluster-addons chart sets the controller's `cluster.name` to the
  Helm release name (azimuth-cloud/capi-helm-charts charts/cluster-addons/templates/
  openstack/ccm.yaml and _helpers.tpl `cluster-addons.clusterName`, 2c557a9a), and
  magnum-capi-helm makes the release name the cluster's `stack_id`,
  `<sanitized name[:30]>-<12 random characters>` (openstack/magnum-capi-helm
  magnum_capi_helm/driver.py `_generate_release_name`, driver_utils.py
  `chart_release_name`, a8b82c24).
- existing: nobody here knows; the operator names it in
  `cluster.cloud_provider_cluster_name`.

Names longer than 255 characters are cut at 255 by the controller
(pkg/util/util.go `Sprintf255`); `load_balancer_name` does the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import cloud
from .errors import BadInput, OperationFailed, Problem
from .waiting import Clock

if TYPE_CHECKING:
    from .settings import Settings

KEY = "cluster.cloud_provider_cluster_name"
LB_PREFIX = "kube_service_"
FIP_DESCRIPTION_HEAD = "Floating IP for Kubernetes external service "
# Octavia and Neutron keep names and descriptions of up to 255 characters, and the
# controller cuts what it writes to fit (cloud-provider-openstack pkg/util/util.go).
MAX_LENGTH = 255


@dataclass(frozen=True)
class CloudName:
    """The controller's cluster name and where it came from (for `status`)."""

    name: str
    source: str  # "uuid", "stack_id" or the config key

    def __str__(self) -> str:
        return f"{self.name} ({self.source})"


def from_record(driver: str, cluster: dict[str, Any]) -> CloudName:
    """The name for a Magnum cluster record (GET /v1/clusters/{id}) of this driver."""
    if driver == "heat":
        return CloudName(str(cluster["uuid"]), "uuid")
    stack_id = str(cluster.get("stack_id") or "")
    if not stack_id:
        raise OperationFailed(
            f"Magnum has no stack_id for cluster {cluster.get('name')} yet "
            f"({cluster.get('status')}); magnum-capi-helm sets it when the create starts, "
            "and its load balancers are named after it",
            "wait for the cluster (`invoke cluster.status --watch`), then re-run",
        )
    return CloudName(stack_id, "stack_id")


def configured(settings: Settings, task: str) -> CloudName:
    """Driver 'existing': the configured name, or exit 2 naming the key."""
    name = settings.cluster.cloud_provider_cluster_name
    if not name:
        raise BadInput(
            Problem(
                KEY,
                f"required by {task} with driver 'existing': set it to the --cluster-name "
                "of the cluster's openstack-cloud-controller-manager (the <cluster> in its "
                "load balancers' names kube_service_<cluster>_<namespace>_<service>)",
            )
        )
    return CloudName(name, KEY)


def resolve(conn: Any, settings: Settings, task: str, *, clock: Clock | None = None) -> CloudName:
    """The controller's cluster name for the configured cluster, read from Magnum."""
    config = settings.cluster
    if config.driver == "existing":
        return configured(settings, task)
    proxy = conn.container_infrastructure_management
    listed = _get(proxy, "list clusters", "/clusters", clock) or {}
    matches = [c for c in listed.get("clusters", []) if c.get("name") == config.name]
    if len(matches) != 1:
        found = ", ".join(str(c.get("uuid")) for c in matches)
        raise OperationFailed(
            f"{task} needs the Magnum cluster {config.name!r}: "
            + (f"{len(matches)} clusters have that name ({found})" if matches else "not found"),
            "deploy it (`invoke cluster.deploy`) or delete the extra ones "
            "(`openstack coe cluster delete UUID`), then re-run",
        )
    uuid = str(matches[0]["uuid"])
    record = _get(proxy, f"read cluster {config.name}", f"/clusters/{uuid}", clock)
    if record is None:
        raise OperationFailed(f"cluster {config.name} disappeared", "re-run once it exists")
    return from_record(config.driver, record)


def _get(proxy: Any, what: str, path: str, clock: Clock | None) -> dict[str, Any] | None:
    from openstack import exceptions

    def read() -> dict[str, Any] | None:
        response = proxy.get(path)
        if response.status_code == 404:
            return None
        exceptions.raise_from_response(response)
        body: dict[str, Any] = response.json()
        return body

    return cloud.call(what, read, clock=clock)


def load_balancer_name(cluster: str, namespace: str, service: str) -> str:
    """`GetLoadBalancerName`: lbFormat "%s%s_%s_%s", cut at 255."""
    return f"{LB_PREFIX}{cluster}_{namespace}_{service}"[:MAX_LENGTH]


def floating_ip_description(cluster: str, namespace: str, service: str) -> str:
    """What the controller writes on a floating IP it allocates for a Service."""
    return f"{FIP_DESCRIPTION_HEAD}{namespace}/{service} from cluster {cluster}"


def service_of(name: str, cluster: str) -> tuple[str, str] | None:
    """(namespace, service) for a load balancer of this cluster, else None.

    Namespaces and Service names cannot contain '_', so exactly one must follow the
    prefix: `kube_service_dev_ns_svc` is cluster `dev`'s, not cluster `dev_ns`'s.
    """
    prefix = f"{LB_PREFIX}{cluster}_"
    rest = name[len(prefix) :] if name.startswith(prefix) else ""
    if rest.count("_") != 1:
        return None
    namespace, service = rest.split("_")
    return (namespace, service) if namespace and service else None


def made_for_cluster(description: str, cluster: str) -> bool:
    """A floating IP the controller allocated for one of this cluster's Services."""
    return description.startswith(FIP_DESCRIPTION_HEAD) and description.endswith(
        f" from cluster {cluster}"
    )
