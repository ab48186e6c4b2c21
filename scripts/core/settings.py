"""Typed configuration of one environment (config/<env>.yaml).

Every model forbids unknown keys, so a typo is an error and not a silently
ignored setting. Rules that involve more than one field live in the model
validators at the bottom, next to the data they relate.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from .quantities import cpu_cores, memory_bytes

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$", re.IGNORECASE
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Names that never resolve on the public internet, so dummy sign-in is tolerable there.
_LOCAL_SUFFIXES = (".local", ".localhost", ".test", ".internal", ".lan", ".example")


def hostname(value: str) -> str:
    if not _HOSTNAME.match(value):
        raise ValueError(f"{value!r} is not a fully qualified domain name (like hub.example.org)")
    return value.lower()


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an email address")
    return value


def _ipv4(value: str) -> str:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an IPv4 address (like 192.0.2.10)") from None
    return value


def _memory(value: str | int) -> str:
    memory_bytes(str(value))
    return str(value)


def _cpu(value: str | float) -> str | float:
    cpu_cores(value)
    return value


def _https_url(value: str) -> str:
    if not re.match(r"^https://[^\s/]+", value):
        raise ValueError(f"{value!r} is not an https:// URL")
    return value.rstrip("/")


Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
Hostname = Annotated[str, AfterValidator(hostname)]
Email = Annotated[str, AfterValidator(_email)]
IPv4 = Annotated[str, AfterValidator(_ipv4)]
Memory = Annotated[str, AfterValidator(_memory)]
Cpu = Annotated[str | float, AfterValidator(_cpu)]
HttpsUrl = Annotated[str, AfterValidator(_https_url)]
Image = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._/:@-]*[a-z0-9]$")]
LabelMap = dict[Annotated[str, StringConstraints(min_length=1)], str]


def _report(problems: list[str]) -> None:
    """Raise every cross-field problem at once, each as 'relative.key: message'."""
    if problems:
        raise ValueError("\n".join(problems))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Chart(Strict):
    """A Helm chart pinned to one version; the defaults are the tested ones."""

    repo: HttpsUrl
    name: Name
    version: Annotated[str, StringConstraints(pattern=r"^v?\d+\.\d+\.\d+([-+][\w.]+)?$")]


# ---------------------------------------------------------------- cluster


class Taint(Strict):
    key: Annotated[str, StringConstraints(min_length=1)]
    value: str = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"

    def __str__(self) -> str:
        return f"{self.key}={self.value}:{self.effect}"


class NodeGroup(Strict):
    name: Name
    flavor: Annotated[str, StringConstraints(min_length=1)]
    min_nodes: Annotated[int, Field(ge=0, le=1000)] = 1
    max_nodes: Annotated[int, Field(ge=1, le=1000)] = 4
    role: Name = "worker"
    labels: LabelMap = Field(default_factory=dict)
    taints: list[Taint] = Field(default_factory=list)

    @model_validator(mode="after")
    def _bounds(self) -> NodeGroup:
        if self.min_nodes > self.max_nodes:
            raise ValueError(f"min_nodes: {self.min_nodes} exceeds max_nodes ({self.max_nodes})")
        return self


class GpuNodes(Strict):
    enabled: bool = False
    name: Name = "gpu-worker"
    flavor: str = ""
    min_nodes: Annotated[int, Field(ge=0, le=1000)] = 0
    max_nodes: Annotated[int, Field(ge=1, le=1000)] = 2

    @model_validator(mode="after")
    def _complete(self) -> GpuNodes:
        problems = []
        if self.enabled and not self.flavor:
            problems.append("flavor: required when the GPU node group is enabled")
        if self.min_nodes > self.max_nodes:
            problems.append(f"min_nodes: {self.min_nodes} exceeds max_nodes ({self.max_nodes})")
        _report(problems)
        return self

    def as_node_group(self) -> NodeGroup:
        return NodeGroup(
            name=self.name,
            flavor=self.flavor,
            min_nodes=self.min_nodes,
            max_nodes=self.max_nodes,
            role="gpu",
            labels={"nvidia.com/gpu.present": "true"},
            taints=[Taint(key="nvidia.com/gpu", value="present", effect="NoSchedule")],
        )


class Cluster(Strict):
    """The Magnum cluster, or an existing cluster reached through a kubeconfig."""

    driver: Literal["capi-helm", "heat", "existing"] = "capi-helm"
    name: Name
    template: Name = "jhub-template"
    image: str = ""
    keypair: str = ""
    external_network: str = "External"
    master_flavor: str = ""
    worker_flavor: str = ""
    master_count: Literal[1, 3, 5] = 1
    min_workers: Annotated[int, Field(ge=1, le=1000)] = 1
    max_workers: Annotated[int, Field(ge=1, le=1000)] = 4
    # A private registry mirror for the images Magnum pulls (the seed's advice:
    # Docker Hub rate limits bite when the autoscaler adds nodes).
    image_mirror: str = ""
    kube_tag: str = ""
    autoscaler_tag: str = ""
    docker_volume_size: Annotated[int, Field(ge=0, le=10000)] = 0
    extra_labels: LabelMap = Field(default_factory=dict)
    diagnostic_lb: bool = False
    kubeconfig: str = ""
    create_timeout_minutes: Annotated[int, Field(ge=5, le=600)] = 60
    gpu: GpuNodes = Field(default_factory=GpuNodes)
    node_groups: list[NodeGroup] = Field(default_factory=list)

    @model_validator(mode="after")
    def _driver_needs(self) -> Cluster:
        problems = []
        if self.driver != "existing":
            problems += [
                f"{key}: required by driver {self.driver!r} "
                "(or use driver 'existing' with a kubeconfig)"
                for key in ("image", "keypair", "master_flavor", "worker_flavor")
                if not getattr(self, key)
            ]
        if self.min_workers > self.max_workers:
            problems.append(
                f"min_workers: {self.min_workers} exceeds max_workers ({self.max_workers})"
            )
        names = [group.name for group in self.all_node_groups()]
        clashes = sorted({n for n in names if names.count(n) > 1 or n == "default-worker"})
        if clashes:
            problems.append(
                f"node_groups: names must be unique and not 'default-worker'; "
                f"repeated: {', '.join(clashes)}"
            )
        _report(problems)
        return self

    def all_node_groups(self) -> list[NodeGroup]:
        """Extra node groups beyond the default workers, the GPU group included."""
        groups = list(self.node_groups)
        if self.gpu.enabled:
            groups.append(self.gpu.as_node_group())
        return groups


# ---------------------------------------------------------------- hub


class Https(Strict):
    mode: Literal["letsencrypt", "secret", "off"] = "letsencrypt"
    contact_email: Email | None = None
    # Staging issues untrusted certificates but has no weekly limit: use it to rehearse.
    staging: bool = False
    secret_name: Name | None = None


class OAuth(Strict):
    """An OpenID Connect provider; the defaults are IRIS IAM's."""

    issuer: HttpsUrl = "https://iris-iam.stfc.ac.uk"
    client_id: Annotated[str, StringConstraints(min_length=1)]
    login_service: str = "IRIS IAM"
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile", "email"])
    groups_scope: str = "groups"
    groups_claim: str = "groups"
    username_claim: str = "preferred_username"
    # Both empty: anyone who signs in gets a server and nobody is admin.
    allowed_groups: list[str] = Field(default_factory=list)
    admin_groups: list[str] = Field(default_factory=list)


class Native(Strict):
    admin_users: Annotated[list[Name], Field(min_length=1)]
    allowed_users: list[Name] = Field(default_factory=list)
    open_signup: bool = False
    check_common_password: bool = True
    minimum_password_length: Annotated[int, Field(ge=8, le=128)] = 10


class Auth(Strict):
    type: Literal["oauth", "native", "dummy"] = "native"
    oauth: OAuth | None = None
    native: Native | None = None

    @model_validator(mode="after")
    def _section_for_type(self) -> Auth:
        if self.type == "oauth" and self.oauth is None:
            raise ValueError("oauth: required for type 'oauth' (client_id, issuer, groups)")
        if self.type == "native" and self.native is None:
            raise ValueError("native: required for type 'native' (admin_users)")
        return self


class Storage(Strict):
    class_name: Name = "cinder-storage"
    create_class: bool = True
    # auto: the cluster default only when the cluster has none (capi-helm clusters come
    # with one); true: make it the default even then; false: never.
    default_class: Literal["auto", True, False] = "auto"
    provisioner: str = "cinder.csi.openstack.org"
    availability_zone: str = ""
    volume_type: str = ""
    reclaim_policy: Literal["Retain", "Delete"] = "Retain"
    # Cinder will not make a volume smaller than 1 GiB.
    capacity: Memory = "1Gi"

    @model_validator(mode="after")
    def _minimum(self) -> Storage:
        if memory_bytes(self.capacity) < 2**30:
            raise ValueError(f"capacity: {self.capacity!r} is below Cinder's minimum of 1Gi")
        return self


class CpuSpec(Strict):
    guarantee: Cpu = 0.05
    limit: Cpu = 2


class MemorySpec(Strict):
    guarantee: Memory = "1.8G"
    limit: Memory = "1.8G"


class Profile(Strict):
    name: Name
    enabled: bool = True
    display_name: Annotated[str, StringConstraints(min_length=1)]
    description: str = ""
    default: bool = False
    image: Image | None = None
    cpu: CpuSpec = Field(default_factory=CpuSpec)
    memory: MemorySpec = Field(default_factory=MemorySpec)
    gpus: Annotated[int, Field(ge=0, le=16)] = 0
    # Marks the virtual-desktop profile, whose image serves a desktop over the web.
    desktop: bool = False

    @model_validator(mode="after")
    def _guarantee_within_limit(self) -> Profile:
        problems = []
        if cpu_cores(self.cpu.guarantee) > cpu_cores(self.cpu.limit):
            problems.append(
                f"cpu.guarantee: {self.cpu.guarantee} exceeds cpu.limit ({self.cpu.limit})"
            )
        if memory_bytes(self.memory.guarantee) > memory_bytes(self.memory.limit):
            problems.append(
                f"memory.guarantee: {self.memory.guarantee} exceeds memory.limit "
                f"({self.memory.limit})"
            )
        _report(problems)
        return self


class Placeholders(Strict):
    enabled: bool = True
    replicas: Annotated[int, Field(ge=0, le=100)] = 4
    # Placeholders reserve room for the default profile only (a z2jh limitation).
    profile: Name = "default"


class Culling(Strict):
    enabled: bool = True
    timeout_seconds: Annotated[int, Field(ge=300)] = 86400
    every_seconds: Annotated[int, Field(ge=60)] = 300


class Singleuser(Strict):
    image: Image = "quay.io/jupyter/scipy-notebook:2025-11-17"
    default_url: str = "/lab"
    start_timeout_seconds: Annotated[int, Field(ge=60, le=7200)] = 1200
    shared_memory: bool = True


class Hub(Strict):
    namespace: Name = "jhub"
    release: Name = "jhub"
    chart: Chart = Chart(
        repo="https://hub.jupyter.org/helm-chart", name="jupyterhub", version="4.4.0"
    )
    domain: Hostname | None = None
    https: Https = Field(default_factory=Https)
    floating_ip: IPv4 | None = None
    auth: Auth
    storage: Storage = Field(default_factory=Storage)
    singleuser: Singleuser = Field(default_factory=Singleuser)
    profiles: Annotated[list[Profile], Field(min_length=1)]
    placeholders: Placeholders = Field(default_factory=Placeholders)
    culling: Culling = Field(default_factory=Culling)
    user_scheduler: bool = True
    # Root in user servers (GRANT_SUDO): users can then change their image at will.
    sudo: bool = False
    upgrade_timeout_minutes: Annotated[int, Field(ge=1, le=120)] = 15

    @model_validator(mode="after")
    def _consistent(self) -> Hub:
        problems = []
        names = [p.name for p in self.profiles]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            problems.append(f"profiles: names must be unique; repeated: {', '.join(duplicates)}")
        defaults = [p.name for p in self.profiles if p.default and p.enabled]
        if len(defaults) != 1:
            problems.append(
                f"profiles: exactly one enabled profile needs default: true (found {len(defaults)})"
            )
        elif self.placeholders.enabled and self.placeholders.profile != defaults[0]:
            problems.append(
                f"placeholders.profile: {self.placeholders.profile!r} is not allowed; "
                f"placeholders only work for the default profile {defaults[0]!r}"
            )
        if self.https.mode != "off" and not self.domain:
            problems.append(f"domain: required by https.mode {self.https.mode!r}")
        if self.https.mode == "letsencrypt" and not self.https.contact_email:
            problems.append("https.contact_email: required by https.mode 'letsencrypt'")
        if self.https.mode == "secret" and not self.https.secret_name:
            problems.append("https.secret_name: required by https.mode 'secret'")
        if self.auth.type == "oauth" and (self.https.mode == "off" or not self.domain):
            problems.append(
                "auth.type: 'oauth' needs a domain and https.mode letsencrypt or secret "
                "(the provider only redirects to an https callback)"
            )
        if self.auth.type == "dummy" and self.domain and not self.domain.endswith(_LOCAL_SUFFIXES):
            problems.append(
                f"auth.type: 'dummy' lets anyone in; refused with the public domain "
                f"{self.domain!r} (allowed only for local names such as *.test)"
            )
        _report(problems)
        return self

    @property
    def default_profile(self) -> Profile:
        return next(p for p in self.profiles if p.default and p.enabled)

    @property
    def enabled_profiles(self) -> list[Profile]:
        return [p for p in self.profiles if p.enabled]

    @property
    def url(self) -> str | None:
        if not self.domain:
            return None
        return f"{'http' if self.https.mode == 'off' else 'https'}://{self.domain}/"


# ---------------------------------------------------------------- monitoring


class Monitoring(Strict):
    enabled: bool = True
    namespace: Name = "prometheus"
    release: Name = "prometheus"
    chart: Chart = Chart(
        repo="https://prometheus-community.github.io/helm-charts",
        name="kube-prometheus-stack",
        version="88.5.3",
    )
    expose: Literal["clusterip", "loadbalancer"] = "clusterip"
    retention: Annotated[str, StringConstraints(pattern=r"^\d+[smhdwy]$")] = "15d"
    retention_size: Annotated[str, StringConstraints(pattern=r"^\d+(B|KB|MB|GB|TB)$")] = "40GB"
    storage_size: Memory = "50Gi"
    dashboards_folder: Annotated[str, StringConstraints(min_length=1, max_length=60)] = "STFC"
    grafana_admin_user: Name = "admin"


# ---------------------------------------------------------------- GPU


class GpuDriver(Strict):
    # false: the operator picks and builds its own driver; true: our image from gpu_driver/.
    custom: bool = False
    registry: str = ""
    image: Name = "nvidia-driver"
    version: Annotated[str, StringConstraints(pattern=r"^\d+(\.\d+){1,2}$")] = "580.95.05"
    fedora_version: Annotated[str, StringConstraints(pattern=r"^\d{2}$")] = "42"

    @model_validator(mode="after")
    def _registry_for_custom(self) -> GpuDriver:
        if self.custom and not self.registry:
            raise ValueError("registry: required by custom: true (where gpu.build-driver pushes)")
        return self

    @property
    def tag(self) -> str:
        return f"{self.version}-fedora{self.fedora_version}"

    @property
    def reference(self) -> str:
        return f"{self.registry}/{self.image}:{self.tag}"


class Gpu(Strict):
    namespace: Name = "gpu-operator"
    release: Name = "gpu-operator"
    chart: Chart = Chart(
        repo="https://helm.ngc.nvidia.com/nvidia", name="gpu-operator", version="v26.7.0"
    )
    # true / false, or auto: on for the heat driver, whose old clusters refuse
    # system-node-critical outside kube-system.
    priority_class: Literal["auto", True, False] = "auto"
    priority_class_name: Name = "nvidia-priority-class"
    driver: GpuDriver = Field(default_factory=GpuDriver)


# ---------------------------------------------------------------- whole


class Settings(Strict):
    """One environment: which cloud, which cluster, which hub."""

    cloud: Annotated[str, StringConstraints(min_length=1)] = "openstack"
    cluster: Cluster
    hub: Hub
    monitoring: Monitoring = Field(default_factory=Monitoring)
    gpu: Gpu = Field(default_factory=Gpu)

    @model_validator(mode="after")
    def _gpu_profiles_need_gpu_nodes(self) -> Settings:
        wanting = [p.name for p in self.hub.enabled_profiles if p.gpus]
        if wanting and not self.cluster.gpu.enabled and self.cluster.driver != "existing":
            raise ValueError(
                f"cluster.gpu.enabled: false, but hub.profiles {', '.join(wanting)} ask for GPUs; "
                "enable the GPU node group or disable those profiles"
            )
        return self

    @property
    def gpu_enabled(self) -> bool:
        return self.cluster.gpu.enabled or any(p.gpus for p in self.hub.enabled_profiles)

    @property
    def use_priority_class(self) -> bool:
        if self.gpu.priority_class == "auto":
            return self.cluster.driver == "heat"
        return bool(self.gpu.priority_class)


class Secrets(Strict):
    """Values only the operator's machine holds (config/<env>.secrets.yaml)."""

    proxy_secret_token: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    metrics_token: Annotated[str, StringConstraints(min_length=32)]
    health_check_token: Annotated[str, StringConstraints(min_length=32)]
    grafana_admin_password: Annotated[str, StringConstraints(min_length=16)]
    oauth_client_secret: str = ""
    native_admin_passwords: dict[str, str] = Field(default_factory=dict)

    def values(self) -> list[str]:
        """Every secret string, for redaction."""
        found = [
            self.proxy_secret_token,
            self.metrics_token,
            self.health_check_token,
            self.grafana_admin_password,
            self.oauth_client_secret,
            *self.native_admin_passwords.values(),
        ]
        return [value for value in found if value]
