"""Scenes for the load-balancer tests: the fake cloud and the Kubernetes emulator holding
one cluster whose Services and Octavia load balancers agree, or not.

Nothing of ours is replaced: the tasks run against the fake cloud (requests-mock behind
the real openstacksdk) and kmock (behind the real kubernetes client). What cannot run here
is the cluster's cloud controller (cloud-provider-openstack) and helm's effect on the
cluster; `CloudController` plays both, only at the moments the code under test sleeps
(`ControllerClock`), the way they would act while the tool waits.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from secrets import token_urlsafe
from typing import Any

import pytest
import yaml

from scripts.core import loading
from scripts.core.environment_files import generate_secrets, save_secrets
from scripts.core.loading import Environment
from tests.conftest import ROOT
from tests.support.clock import FakeClock
from tests.support.fake_helm import FakeHelm
from tests.support.fakecloud import FakeCloud
from tests.support.fakekube import FakeKube

ENV = "dev"
CLUSTER = "jhub-example"
# The seeded Magnum record's stack_id, as magnum-capi-helm makes it: the sanitized name
# cut at 30, a dash and 12 random characters (magnum_capi_helm/driver.py
# `_generate_release_name`). cloud-provider-openstack runs with it as --cluster-name.
STACK_ID = "jhub-example-q3x7k2m9w4ab"
NAMESPACE = "jhub"
HUB_SERVICE = "proxy-public"
HUB_LB = f"kube_service_{STACK_ID}_{NAMESPACE}_{HUB_SERVICE}"
PINNED = "203.0.113.200"
NODE_PORT = 30080
FINALIZER = "service.kubernetes.io/load-balancer-cleanup"


def lb_name(namespace: str, service: str, cluster: str = STACK_ID) -> str:
    return f"kube_service_{cluster}_{namespace}_{service}"


def provider_description(namespace: str, service: str, cluster: str = STACK_ID) -> str:
    return (
        f"Floating IP for Kubernetes external service {namespace}/{service} from cluster {cluster}"
    )


def ready_pod(name: str, component: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": {"app": "jupyterhub", "component": component, "release": "jhub"},
        },
        "spec": {"containers": [{"name": component, "image": f"{component}:test"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


@dataclass
class Scene:
    """One environment `dev` (the example config on the fake cloud) and its cluster."""

    cloud: FakeCloud
    kube: FakeKube
    config_dir: Path
    config: dict[str, Any]
    workers: list[str] = field(default_factory=list)

    # ---------------------------------------------------------------- config
    def write(self) -> None:
        (self.config_dir / f"{ENV}.yaml").write_text(yaml.safe_dump(self.config, sort_keys=False))

    def environment(self, *, secrets: bool = False) -> Environment:
        return loading.load(ENV, require_secrets=secrets)

    def pin(self, address: str | None) -> None:
        self.config["hub"]["floating_ip"] = address
        self.write()

    # ---------------------------------------------------------------- Kubernetes side
    def service(
        self,
        namespace: str,
        name: str,
        *,
        ingress: str | None = None,
        load_balancer_ip: str | None = None,
    ) -> dict[str, Any]:
        spec: dict[str, Any] = {"type": "LoadBalancer", "ports": [{"name": "http", "port": 80}]}
        if load_balancer_ip:
            spec["loadBalancerIP"] = load_balancer_ip
        return self.kube.create(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": namespace, "finalizers": [FINALIZER]},
                "spec": spec,
                "status": {"loadBalancer": {"ingress": [{"ip": ingress}] if ingress else []}},
            }
        )

    def remove_node(self, address: str) -> None:
        """A node replaced behind the load balancer's back: gone from Nova and Kubernetes."""
        server = next(
            s
            for s in self.cloud.servers.values()
            if s["addresses"]["private"][0]["addr"] == address
        )
        self.cloud.remove_server(server["id"])
        self.kube.delete("nodes", server["name"])

    # ---------------------------------------------------------------- OpenStack side
    def balancer(
        self,
        namespace: str,
        name: str,
        *,
        members: list[str] | None = None,
        status: str = "ACTIVE",
        cluster: str | None = None,
    ) -> dict[str, Any]:
        """A load balancer as the cluster's cloud controller makes it, named after the
        fake's own record (uuid on heat, stack_id on capi-helm) unless `cluster` says."""
        cluster = cluster or self.cloud.controller_cluster_name(CLUSTER)
        return self.cloud.add_load_balancer(
            lb_name(namespace, name, cluster),
            description=f"Kubernetes external service {namespace}/{name} from cluster {cluster}",
            listeners=[("TCP", 80)],
            members=self.workers if members is None else members,
            member_port=NODE_PORT,
            provisioning_status=status,
        )

    def floating_ip(
        self, address: str | None = None, *, on: dict[str, Any] | None = None, made_for: str = ""
    ) -> dict[str, Any]:
        """An address, attached to load balancer `on` or free; `made_for` "ns/svc" gives it
        the description the cloud provider writes on addresses it allocated itself."""
        description = ""
        if made_for:
            namespace, service = made_for.split("/")
            description = provider_description(
                namespace, service, self.cloud.controller_cluster_name(CLUSTER)
            )
        return self.cloud.add_floating_ip(
            address, description=description, port_id=on["vip_port_id"] if on else None
        )

    def address_of(self, fip: dict[str, Any]) -> str:
        return str(fip["floating_ip_address"])

    def healthy_hub(self) -> dict[str, Any]:
        """The hub as hub.deploy leaves it: Service with the pinned address, its load
        balancer on the current nodes, the pinned address on the load balancer."""
        balancer = self.balancer(NAMESPACE, HUB_SERVICE)
        self.floating_ip(PINNED, on=balancer)
        self.service(NAMESPACE, HUB_SERVICE, ingress=PINNED, load_balancer_ip=PINNED)
        return balancer

    def ip_record(self, address: str) -> dict[str, Any] | None:
        return next(
            (f for f in self.cloud.floating_ips.values() if f["floating_ip_address"] == address),
            None,
        )

    def balancers_named(self, name: str) -> list[dict[str, Any]]:
        return [b for b in self.cloud.load_balancers.values() if b["name"] == name]

    def forget_requests(self) -> None:
        self.cloud.log.clear()
        self.kube.clear_requests()


@pytest.fixture
def scene(
    config_dir: Path,
    kube: FakeKube,
    fake_cloud: FakeCloud,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Scene]:
    fake_cloud.clouds_yaml(tmp_path, monkeypatch)
    config = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())
    config["cloud"] = "fake"
    config["cluster"]["external_network"] = "public"
    config["hub"]["floating_ip"] = PINNED
    secrets = generate_secrets()
    secrets["oauth_client_secret"] = token_urlsafe(24)
    save_secrets(config_dir / f"{ENV}.secrets.yaml", secrets)
    (config_dir / f"{ENV}.kubeconfig").write_text(kube.kubeconfig_path.read_text())
    (config_dir / f"{ENV}.kubeconfig").chmod(0o600)

    fake_cloud.add_cluster(CLUSTER, node_count=2, stack_id=STACK_ID)
    workers = []
    for server in fake_cloud.servers.values():
        address = server["addresses"]["private"][0]["addr"]
        kube.create(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": server["name"]},
                "status": {"addresses": [{"type": "InternalIP", "address": address}]},
            }
        )
        if "worker" in server["name"]:
            workers.append(address)
    built = Scene(fake_cloud, kube, config_dir, config, workers)
    built.write()
    yield built


# ------------------------------------------------------------------ the cluster's controllers


class CloudController:
    """cloud-provider-openstack and helm's effect on the cluster, one step per call.

    - A Service being deleted loses its finalizer (and goes) once its load balancer is gone.
    - After a `helm upgrade` of the hub, a missing proxy-public Service is created from the
      values helm received (what helm does for a resource missing from the cluster).
    - A Service of type LoadBalancer without an address gets a load balancer (created
      PENDING_CREATE, ACTIVE one step later, members on the current nodes), then its
      loadBalancerIP (or a new address with the provider's description) and its ingress.
    Services present when the controller starts are ignored: that is the stuck controller
    of the seed's symptom, which no longer manages the old Service.
    """

    def __init__(self, scene: Scene, helm: FakeHelm) -> None:
        self.scene = scene
        self.helm = helm
        self.upgrades_seen = len(helm.upgrades())
        self.ignored = {s["metadata"]["uid"] for s in scene.kube.objects("services")}
        self.finalize = True
        self.steps = 0

    def step(self) -> None:
        self.steps += 1
        if self.finalize:
            self._finish_deletions()
        self._helm_recreates_services()
        self._ensure_balancers()

    def _finish_deletions(self) -> None:
        for service in self.scene.kube.objects("services"):
            meta = service["metadata"]
            if not meta.get("deletionTimestamp"):
                continue
            name = lb_name(meta["namespace"], meta["name"], self._cluster_name)
            if not self.scene.balancers_named(name):
                self.scene.kube.patch(
                    "services", meta["name"], {"metadata": {"finalizers": None}}, meta["namespace"]
                )
                self.scene.kube.delete("services", meta["name"], meta["namespace"])

    def _helm_recreates_services(self) -> None:
        upgrades = self.helm.upgrades()
        if len(upgrades) <= self.upgrades_seen:
            return
        self.upgrades_seen = len(upgrades)
        if self.scene.kube.get("services", HUB_SERVICE, NAMESPACE) is not None:
            return
        values = yaml.safe_load(upgrades[-1]["values_text"]) or {}
        service = values.get("proxy", {}).get("service", {})
        self.scene.kube.create(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": HUB_SERVICE,
                    "namespace": NAMESPACE,
                    "annotations": copy.deepcopy(service.get("annotations") or {}),
                },
                "spec": {
                    "type": service.get("type", "LoadBalancer"),
                    "loadBalancerIP": service.get("loadBalancerIP"),
                    "ports": [{"name": "https", "port": 443}],
                },
                "status": {"loadBalancer": {}},
            }
        )

    def _ensure_balancers(self) -> None:
        cloud = self.scene.cloud
        for service in self.scene.kube.objects("services"):
            meta, spec = service["metadata"], service["spec"]
            ingress = (service.get("status") or {}).get("loadBalancer", {}).get("ingress")
            if (
                spec.get("type") != "LoadBalancer"
                or meta["uid"] in self.ignored
                or meta.get("deletionTimestamp")
                or ingress
            ):
                continue
            name = lb_name(meta["namespace"], meta["name"], self._cluster_name)
            found = self.scene.balancers_named(name)
            if not found:
                # cloud-provider-openstack pkg/openstack/loadbalancer.go (release-1.35
                # a031201f): name `GetLoadBalancerName`, description at line 233.
                self.scene.cloud.add_load_balancer(
                    name,
                    description=(
                        f"Kubernetes external service {meta['namespace']}/{meta['name']} "
                        f"from cluster {self._cluster_name}"
                    ),
                    listeners=[("TCP", 443)],
                    members=self._node_addresses(),
                    member_port=NODE_PORT,
                    provisioning_status="PENDING_CREATE",
                )
                continue
            balancer = found[0]
            if balancer["provisioning_status"] == "PENDING_CREATE":
                balancer["provisioning_status"] = "ACTIVE"
                continue
            wanted = spec.get("loadBalancerIP")
            fip = self.scene.ip_record(wanted) if wanted else None
            if fip is None:
                fip = self.scene.floating_ip(made_for=f"{meta['namespace']}/{meta['name']}")
            cloud._associate(fip, balancer["vip_port_id"])
            self.scene.kube.patch(
                "services",
                meta["name"],
                {
                    "metadata": {"finalizers": [FINALIZER]},
                    "status": {"loadBalancer": {"ingress": [{"ip": fip["floating_ip_address"]}]}},
                },
                meta["namespace"],
            )

    @property
    def _cluster_name(self) -> str:
        """The controller's --cluster-name, from the fake Magnum's own record."""
        return self.scene.cloud.controller_cluster_name(CLUSTER)

    def _node_addresses(self) -> list[str]:
        return [
            a["address"]
            for node in self.scene.kube.objects("nodes")
            for a in node["status"]["addresses"]
            if a["type"] == "InternalIP" and "worker" in node["metadata"]["name"]
        ]


def ControllerClock(controller: CloudController) -> FakeClock:
    """Simulated time; while the code under test sleeps, the cluster's controllers act."""
    return FakeClock(on_sleep=lambda _: controller.step())


@pytest.fixture(autouse=True)
def _rehearsal(documentation_values: None) -> None:
    """These tests rehearse on the fakes with the example's documentation values."""
