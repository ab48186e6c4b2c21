"""The upstream names, written out as the upstream manifests have them (each test names
the file it was read from)."""

from __future__ import annotations

from scripts.core import known_objects


def where(refs: tuple[known_objects.ObjectRef, ...]) -> list[str]:
    return [f"{ref.kind} {ref.namespace}/{ref.name}" for ref in refs]


def test_cinder_csi_node_plugin_per_driver() -> None:
    # heat: magnum stable/2025.1 .../fragments/enable-cinder-csi.sh (kube-system).
    assert where(known_objects.csi_node_plugins("heat")) == [
        "DaemonSet kube-system/csi-cinder-nodeplugin"
    ]
    # capi-helm: cluster-addons openstack.targetNamespace + chart openstack-cinder-csi,
    # nodeplugin-daemonset.yaml "{{ cinder-csi.name }}-nodeplugin".
    assert where(known_objects.csi_node_plugins("capi-helm")) == [
        "DaemonSet openstack-system/openstack-cinder-csi-nodeplugin"
    ]
    assert where(known_objects.csi_node_plugins("existing")) == [
        "DaemonSet openstack-system/openstack-cinder-csi-nodeplugin",
        "DaemonSet kube-system/csi-cinder-nodeplugin",
    ]
    assert known_objects.CINDER_CSI_PLUGIN_CONTAINER == "cinder-csi-plugin"


def test_cloud_controller_per_driver() -> None:
    heat, heat_pods = known_objects.cloud_controller("heat")
    assert (str(heat), heat_pods) == (
        "DaemonSet kube-system/openstack-cloud-controller-manager",
        "k8s-app=openstack-cloud-controller-manager",
    )
    capi, capi_pods = known_objects.cloud_controller("capi-helm")
    assert (str(capi), capi_pods) == (
        "DaemonSet openstack-system/openstack-cloud-controller-manager",
        "app=openstack-cloud-controller-manager",
    )


def test_z2jh_selectors() -> None:
    # z2jh 4.4.0 _helpers.tpl: component from the template folder, release label.
    assert known_objects.z2jh_pods("hub", "jhub") == "component=hub,release=jhub"
    assert known_objects.Z2JH_PROXY_PUBLIC == "proxy-public"
    assert known_objects.Z2JH_ACME_SECRET == "proxy-public-tls-acme"


def test_every_reference_says_where_it_was_read() -> None:
    refs = [
        value
        for value in vars(known_objects).values()
        if isinstance(value, known_objects.ObjectRef)
    ]
    assert refs
    assert all(len(ref.source) > 40 for ref in refs)
