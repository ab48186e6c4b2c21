"""Names of Kubernetes objects this tool relies on but does not create, with their sources.

Every object name, namespace, label, container name and annotation that comes from
someone else's manifests (a Magnum driver, a chart, Kubernetes itself) is written down
here once, next to the upstream file it was read from. Code elsewhere imports the name
from here, so that a wrong or renamed name is fixed in one place; tests import it only
when they test something else (a test of a name writes the literal upstream value).

Sources, all read at the tag or branch given:

- heat: openstack/magnum ``stable/2025.1`` (the last series that ships the heat driver),
  ``magnum/drivers/common/templates/kubernetes/fragments/*.sh``.
- capi-helm: openstack/magnum-capi-helm ``1.4.0`` ``magnum_capi_helm/driver.py`` and
  azimuth-cloud/capi-helm-charts ``main`` (2c557a9a) ``charts/cluster-addons``, which
  install kubernetes/cloud-provider-openstack charts (tag ``openstack-cinder-csi-2.35.0``).
- z2jh: jupyterhub/zero-to-jupyterhub-k8s ``4.4.0`` ``jupyterhub/templates``, checked by
  rendering the chart with this tool's values (``helm template``).
- kube-prometheus-stack: prometheus-community/helm-charts ``kube-prometheus-stack-88.5.3``.
- gpu-operator: NVIDIA/gpu-operator ``v26.7.0``.
- Kubernetes: kubernetes/kubernetes ``pkg/apis/storage/util/helpers.go`` (default-class
  annotations) and ``plugin/pkg/admission/storage/storageclass/setdefault/admission.go``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Driver = Literal["capi-helm", "heat", "existing"]


@dataclass(frozen=True)
class ObjectRef:
    """One object somebody else creates: where it lives and where we read that."""

    kind: str
    namespace: str | None
    name: str
    source: str

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


# ------------------------------------------------------------------ Cinder CSI

CINDER_CSI_DRIVER = "cinder.csi.openstack.org"
"""The CSIDriver object (and StorageClass provisioner) of Cinder CSI, on every driver:
magnum enable-cinder-csi.sh ``kind: CSIDriver``; cloud-provider-openstack
charts/cinder-csi-plugin/templates/cinder-csi-driver.yaml."""

CINDER_CSI_PLUGIN_CONTAINER = "cinder-csi-plugin"
"""The plugin container of the node DaemonSet in both upstream manifests (magnum
enable-cinder-csi.sh; cinder-csi-plugin/templates/nodeplugin-daemonset.yaml)."""

HEAT_CSI_NODE_PLUGIN = ObjectRef(
    "DaemonSet",
    "kube-system",
    "csi-cinder-nodeplugin",
    "openstack/magnum stable/2025.1 magnum/drivers/common/templates/kubernetes/fragments/"
    "enable-cinder-csi.sh (tolerates every taint since fa4a6ba7, 2021-03)",
)

CAPI_HELM_CSI_NODE_PLUGIN = ObjectRef(
    "DaemonSet",
    "openstack-system",
    "openstack-cinder-csi-nodeplugin",
    "azimuth-cloud/capi-helm-charts charts/cluster-addons/values.yaml "
    "(openstack.targetNamespace: openstack-system, csiCinder.chart.name: openstack-cinder-csi) "
    "and templates/openstack/csi-cinder.yaml (releaseName csi-cinder); "
    "kubernetes/cloud-provider-openstack openstack-cinder-csi-2.35.0 "
    "charts/cinder-csi-plugin/templates/nodeplugin-daemonset.yaml "
    '(name: {{ include "cinder-csi.name" . }}-nodeplugin, the chart name; '
    "values.yaml csi.plugin.nodePlugin.tolerations: [{operator: Exists}])",
)


def csi_node_plugins(driver: Driver) -> tuple[ObjectRef, ...]:
    """Where the Cinder CSI node plugin is, most likely first, for a cluster driver.

    A cluster brought as `existing` may have been made either way (or by hand), so both
    names are tried; callers fall back to any DaemonSet with the plugin container.
    """
    if driver == "heat":
        return (HEAT_CSI_NODE_PLUGIN,)
    if driver == "capi-helm":
        return (CAPI_HELM_CSI_NODE_PLUGIN,)
    return (CAPI_HELM_CSI_NODE_PLUGIN, HEAT_CSI_NODE_PLUGIN)


# ------------------------------------------------------------------ storage classes

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
BETA_DEFAULT_CLASS_ANNOTATION = "storageclass.beta.kubernetes.io/is-default-class"
"""Both mark a default StorageClass (value "true"); with several defaults the admission
plugin gives claims without a class the newest one (kubernetes pkg/apis/storage/util/
helpers.go IsDefaultAnnotation; setdefault/admission.go)."""

CAPI_HELM_DEFAULT_CLASS_SOURCE = (
    "openstack/magnum-capi-helm 1.4.0 magnum_capi_helm/driver.py _storageclass_definitions: "
    "one StorageClass per Cinder volume type, named after the type (sanitized_name), the "
    "default volume type's class marked cluster default (capi-helm-charts cluster-addons "
    "csiCinder.defaultStorageClass.isClusterDefault: true; chart default name csi-cinder)"
)
"""capi-helm clusters come with a default StorageClass whose name depends on the cloud,
so it is found by its annotation, never by name."""


# ------------------------------------------------------------------ cluster autoscaler

HEAT_AUTOSCALER = ObjectRef(
    "Deployment",
    "kube-system",
    "cluster-autoscaler",
    "openstack/magnum stable/2025.1 magnum/drivers/common/templates/kubernetes/fragments/"
    "enable-auto-scaling.sh (container cluster-autoscaler, --nodes=MIN:MAX:default-worker)",
)
"""capi-helm runs the autoscaler in Magnum's management cluster, not in the workload
cluster (magnum-capi-helm: node group bounds become Helm values)."""


# ------------------------------------------------------------------ cloud controller

HEAT_CLOUD_CONTROLLER = ObjectRef(
    "DaemonSet",
    "kube-system",
    "openstack-cloud-controller-manager",
    "openstack/magnum stable/2025.1 magnum/drivers/common/templates/kubernetes/fragments/"
    "kube-apiserver-to-kubelet-role.sh (label k8s-app=openstack-cloud-controller-manager)",
)
HEAT_CLOUD_CONTROLLER_PODS = "k8s-app=openstack-cloud-controller-manager"

CAPI_HELM_CLOUD_CONTROLLER = ObjectRef(
    "DaemonSet",
    "openstack-system",
    "openstack-cloud-controller-manager",
    "azimuth-cloud/capi-helm-charts charts/cluster-addons/templates/openstack/ccm.yaml "
    "(releaseName ccm-openstack, chart openstack-cloud-controller-manager); "
    "cloud-provider-openstack charts/openstack-cloud-controller-manager/templates/"
    "daemonset.yaml and _helpers.tpl (app: occm.name, component: controllermanager)",
)
CAPI_HELM_CLOUD_CONTROLLER_PODS = "app=openstack-cloud-controller-manager"


def cloud_controller(driver: Driver) -> tuple[ObjectRef, str]:
    """The cloud controller's DaemonSet and a selector for its pods."""
    if driver == "heat":
        return HEAT_CLOUD_CONTROLLER, HEAT_CLOUD_CONTROLLER_PODS
    return CAPI_HELM_CLOUD_CONTROLLER, CAPI_HELM_CLOUD_CONTROLLER_PODS


# ------------------------------------------------------------------ GPU operator

CAPI_HELM_GPU_OPERATOR = ObjectRef(
    "HelmRelease",
    "gpu-operator",
    "nvidia-gpu-operator",
    "azimuth-cloud/capi-helm-charts charts/cluster-addons/values.yaml "
    "(nvidiaGPUOperator.enabled: true, release.namespace: gpu-operator) and "
    "templates/nvidia-gpu-operator.yaml (releaseName nvidia-gpu-operator); magnum-capi-helm "
    "1.4.0 does not override it, so every capi-helm cluster gets this operator",
)

GPU_OPERATOR_CLUSTER_ROLE = ObjectRef(
    "ClusterRole",
    None,
    "gpu-operator",
    "NVIDIA/gpu-operator v26.7.0 deployments/gpu-operator/templates/clusterrole.yaml "
    "(a fixed name: one operator per cluster)",
)
GPU_OPERATOR_CLUSTER_POLICY = ObjectRef(
    "ClusterPolicy",
    None,
    "cluster-policy",
    "NVIDIA/gpu-operator v26.7.0 deployments/gpu-operator/templates/clusterpolicy.yaml",
)
GPU_DRIVER_PODS = "app=nvidia-driver-daemonset"
"""NVIDIA/gpu-operator v26.7.0 assets/state-driver/0500_daemonset.yaml (OnDelete updates)."""
GPU_PRESENT_LABEL = "nvidia.com/gpu.present"
"""Set to "true" on GPU nodes: gpu-operator v26.7.0 internal/consts/consts.go GPUPresentLabel."""
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
"""gpu-operator v26.7.0 controllers/state_manager.go gpuProductLabelKey (from GPU feature
discovery)."""
GPU_OPERATOR_LEGACY_NAMESPACE = "gpu-operator-resources"
"""Where operator releases before v1.9 put the operands (the seed's era)."""

# Helm's ownership annotations on every object of a release (helm/helm v4.1.4
# pkg/action/validate.go: helmReleaseNameAnnotation, helmReleaseNamespaceAnnotation).
HELM_RELEASE_NAME_ANNOTATION = "meta.helm.sh/release-name"
HELM_RELEASE_NAMESPACE_ANNOTATION = "meta.helm.sh/release-namespace"


# ------------------------------------------------------------------ z2jh 4.4.0

Z2JH_HUB_COMPONENT = "hub"
Z2JH_PROXY_COMPONENT = "proxy"
Z2JH_AUTOHTTPS_COMPONENT = "autohttps"
Z2JH_USER_SCHEDULER_COMPONENT = "user-scheduler"
Z2JH_USER_PLACEHOLDER_COMPONENT = "user-placeholder"
"""Pod label `component` of the chart's workloads (templates/_helpers.tpl
jupyterhub.componentLabel: the template's folder or file name), with `release:
<release name>` beside it (jupyterhub.commonLabels, legacy labels on by default)."""
SINGLEUSER_COMPONENT = "singleuser-server"
"""KubeSpawner's default pod label component=singleuser-server (jupyterhub/kubespawner
7.0.0 spawner.py common_labels / component_label default)."""
Z2JH_PROXY_PUBLIC = "proxy-public"
"""The LoadBalancer Service (templates/proxy/service.yaml; fullnameOverride "" in
values.yaml, so no prefix)."""
Z2JH_HUB_SERVICE = "hub"
Z2JH_HUB_PORT_NAME = "hub"
"""The hub Service and its port name (templates/hub/service.yaml, port 8081)."""
Z2JH_ACME_SECRET = "proxy-public-tls-acme"
"""Where traefik's secret-sync keeps acme.json (templates/_helpers-names.tpl
jupyterhub.proxy-public-tls.fullname)."""
Z2JH_HUB_DB_CLAIM = "hub-db-dir"
"""The hub database's claim; hub.db.pvc.storageClassName is unset by default, so it
takes the cluster's default StorageClass (templates/hub/pvc.yaml)."""


def z2jh_pods(component: str, release: str) -> str:
    """The label selector for one z2jh component of a release."""
    return f"component={component},release={release}"


# ------------------------------------------------------------------ kube-prometheus-stack

PROMETHEUS_OPERATED_SERVICE = "prometheus-operated"
"""The governing Service the Prometheus operator creates for every Prometheus
(prometheus-operator pkg/prometheus/server operator.go governingServiceName)."""
GRAFANA_SERVICE_LABELS = "app.kubernetes.io/name=grafana,app.kubernetes.io/instance={release}"
"""Labels of the grafana subchart's Service (grafana 12.11.1 templates/_helpers.tpl
grafana.selectorLabels)."""
PROMETHEUS_OPERATOR_CRD_GROUP = "monitoring.coreos.com"
PROMETHEUS_OPERATOR_VERSION_ANNOTATION = "operator.prometheus.io/version"
"""Every CRD of the chart (charts/crds/crds/crd-*.yaml) carries the operator version it
belongs to, e.g. 0.93.1 for chart 88.5.3 (appVersion v0.93.1)."""
PROMETHEUS_OPERATOR_CRDS = (
    "alertmanagerconfigs.monitoring.coreos.com",
    "alertmanagers.monitoring.coreos.com",
    "podmonitors.monitoring.coreos.com",
    "probes.monitoring.coreos.com",
    "prometheusagents.monitoring.coreos.com",
    "prometheuses.monitoring.coreos.com",
    "prometheusrules.monitoring.coreos.com",
    "scrapeconfigs.monitoring.coreos.com",
    "servicemonitors.monitoring.coreos.com",
    "thanosrulers.monitoring.coreos.com",
)
"""kube-prometheus-stack-88.5.3 charts/kube-prometheus-stack/charts/crds/crds/ (and the
README's uninstall list); helm installs them once and never upgrades them (UPGRADE.md:
"kubectl apply --server-side -f ..." before every major bump)."""
