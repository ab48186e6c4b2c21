"""cloud-provider-kind: gives LoadBalancer Services on kind clusters an address.

The hub's proxy-public Service is of type LoadBalancer, as on OpenStack, and hub.deploy
waits for its address. kind has no load balancer of its own; the kind project's answer
is cloud-provider-kind, which watches every kind cluster on the machine and runs one
Envoy container per LoadBalancer Service. It runs here as a container on the `kind`
network with the Docker socket (the upstream README's container recipe), so nothing
needs installing. One instance serves all kind clusters, so local.down removes it only
when the last cluster is gone; stopping it deletes the load balancer containers it made.
"""

from __future__ import annotations

from typing import Literal

from . import kind

IMAGE = "registry.k8s.io/cloud-provider-kind/cloud-controller-manager:v0.11.1"
CONTAINER = "jhub-cloud-provider-kind"
# Nodes with this label get no load-balancer traffic; kind's one node is a control
# plane, which kubeadm labels so.
EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
REMEDY = f"see `docker logs {CONTAINER}`; {kind.DOCKER_REMEDY}"

State = Literal["running", "stopped", "absent"]


def state_command() -> list[str]:
    return ["docker", "ps", "-a", "--filter", f"name=^{CONTAINER}$", "--format", "{{.State}}"]


def run_command() -> list[str]:
    return [
        "docker",
        "run",
        "--detach",
        "--name",
        CONTAINER,
        "--network",
        "kind",
        "--restart",
        "unless-stopped",
        "--volume",
        "/var/run/docker.sock:/var/run/docker.sock",
        IMAGE,
        # Only Services of type LoadBalancer: no Gateway API CRDs or IngressClass
        # installed into the cluster behind our back.
        "--gateway-channel=disabled",
        "--enable-default-ingress=false",
    ]


def start_command() -> list[str]:
    return ["docker", "start", CONTAINER]


def stop_commands() -> list[list[str]]:
    # stop (SIGTERM, then a grace period) lets it delete its Envoy containers; rm -f would not.
    return [["docker", "stop", CONTAINER], ["docker", "rm", CONTAINER]]


def state() -> State:
    found = kind.run(state_command(), REMEDY).strip()
    if not found:
        return "absent"
    return "running" if found.splitlines()[0] == "running" else "stopped"
