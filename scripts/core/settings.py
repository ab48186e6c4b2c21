"""Typed configuration of one environment (config/<env>.yaml).

Every model forbids unknown keys, so a typo is an error and not a silently
ignored setting. Rules that involve more than one field live in the model
validators at the bottom, next to the data they relate.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal
from urllib.parse import unquote

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from .errors import shown
from .quantities import cpu_millicores, memory_bytes

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$", re.IGNORECASE
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Names that never resolve on the public internet, so dummy sign-in is tolerable there.
_LOCAL_SUFFIXES = (".local", ".localhost", ".test", ".internal", ".lan", ".example")


def hostname(value: str) -> str:
    if not _HOSTNAME.fullmatch(value):
        raise ValueError(
            f"{shown(value)} is not a fully qualified domain name (like hub.example.org)"
        )
    return value.lower()


def _email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError(f"{shown(value)} is not an email address")
    return value


def _ipv4(value: str) -> str:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        raise ValueError(f"{shown(value)} is not an IPv4 address (like 192.0.2.10)") from None
    return value


def _memory(value: object) -> object:
    # Before pydantic's own parsing, so a bool or a float infinity is refused as such.
    memory_bytes(value)  # type: ignore[arg-type]
    return value


def _cpu(value: object) -> object:
    cpu_millicores(value)  # type: ignore[arg-type]
    return value


def _size(value: str) -> str:
    memory_bytes(value)
    return value


def _https_url(value: str) -> str:
    if not re.match(r"^https://[^\s/]+", value) or not value.isprintable():
        raise ValueError(f"{shown(value)} is not an https:// URL")
    return value.rstrip("/")


Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
Hostname = Annotated[str, AfterValidator(hostname)]
Email = Annotated[str, AfterValidator(_email)]
IPv4 = Annotated[str, AfterValidator(_ipv4)]
# Resources of user servers: a Kubernetes quantity (docs/configuration.md, "Units"),
# kept as written and converted to exact bytes and millicores when rendered.
Memory = Annotated[str | int | float, BeforeValidator(_memory)]
Cpu = Annotated[str | int | float, BeforeValidator(_cpu)]
# A volume size: a Kubernetes quantity string, handed to Kubernetes as written.
Size = Annotated[str, AfterValidator(_size)]
HttpsUrl = Annotated[str, AfterValidator(_https_url)]
Image = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._/:@-]*[a-z0-9]$")]
LabelMap = dict[Annotated[str, StringConstraints(min_length=1)], str]


def _report(problems: list[str]) -> None:
    """Raise every cross-field problem at once, each as 'relative.key: message'."""
    if problems:
        raise ValueError("\n".join(problems))


class Strict(BaseModel):
    # allow_inf_nan: YAML's .inf and .nan are floats; no setting here means infinity.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


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
    # Driver 'existing' only: the openstack-cloud-controller-manager's --cluster-name,
    # which names the cluster's Octavia load balancers (`kube_service_<it>_...`). On the
    # Magnum drivers it is read from Magnum (scripts/core/cloud_names.py).
    cloud_provider_cluster_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{0,200}$")] = ""
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
        if self.driver == "capi-helm":
            problems += self._capi_helm_node_groups()
        names = [group.name for group in self.all_node_groups()]
        clashes = sorted({n for n in names if names.count(n) > 1 or n == "default-worker"})
        if clashes:
            problems.append(
                f"node_groups: names must be unique and not 'default-worker'; "
                f"repeated: {', '.join(clashes)}"
            )
        _report(problems)
        return self

    def autoscaling(self) -> bool:
        """Whether Magnum's auto_scaling_enabled label ends up true (extra_labels may say no).

        magnum-capi-helm reads the label with strutils.bool_from_string (driver.py
        _get_label_bool); the tool's own default is "true" (cluster/spec.py).
        """
        value = str(self.extra_labels.get("auto_scaling_enabled", "true")).strip().lower()
        return value in ("1", "t", "true", "on", "y", "yes")

    def _capi_helm_node_groups(self) -> list[str]:
        """What magnum-capi-helm refuses or never applies, as 'key: why' lines.

        openstack/magnum-capi-helm 1.4.0 (a8b82c24), magnum_capi_helm/driver.py:
        _validate_allowed_node_counts refuses min_node_count < 1 for every node group
        when autoscaling is on ("CAPO doesn't support scale to zero yet"); it runs in the
        conductor (create_nodegroup/update_nodegroup), after the API has answered 202, so
        the group ends CREATE_FAILED and the cluster UPDATE_FAILED. _process_node_groups
        hands Helm only name, machineFlavor, machineCount and the autoscaling bounds:
        node-group labels and taints never reach a node (docs/gpu.md).
        """
        problems = []
        groups: list[tuple[str, NodeGroup | GpuNodes]] = [
            (f"node_groups[{index}]", group) for index, group in enumerate(self.node_groups)
        ]
        if self.gpu.enabled:
            groups.append(("gpu", self.gpu))
        for key, group in groups:
            if self.autoscaling() and group.min_nodes < 1:
                problems.append(
                    f"{key}.min_nodes: {group.min_nodes} is refused by driver capi-helm with "
                    "autoscaling (magnum-capi-helm: 'Min node count must be greater than or "
                    "equal to 1 for all node groups'; Cluster API's OpenStack provider cannot "
                    "scale to zero); allowed: 1 or more"
                )
            if isinstance(group, NodeGroup) and group.labels:
                problems.append(
                    f"{key}.labels: driver capi-helm never applies node-group labels "
                    "(magnum-capi-helm passes only name, flavor, count and autoscaling "
                    "bounds to Helm); remove them (GPU nodes are told apart by the GPU "
                    "operator's own labels, docs/gpu.md)"
                )
            if isinstance(group, NodeGroup) and group.taints:
                problems.append(
                    f"{key}.taints: driver capi-helm never applies node-group taints "
                    "(magnum-capi-helm passes only name, flavor, count and autoscaling "
                    "bounds to Helm); remove them"
                )
        return problems

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


def _native_username(value: str) -> str:
    """A name NativeAuthenticator 1.3 signs up, lowercased as the hub stores it.

    nativeauthenticator/nativeauthenticator.py (1.3.0) lines 389-393 refuse a comma, a
    space and a slash, then defer to JupyterHub's Authenticator.validate_username
    (jupyterhub/auth.py at 5.5.0, line 445): not empty, not only dots (also once
    %-decoded), no whitespace around it. normalize_username (line 615) lowercases, and
    the hub refuses to start with an admin name that fails these (jupyterhub/app.py
    lines 2146-2154). nativeauthenticator/orm.py keeps at most 128 characters.
    Kubernetes object names are KubeSpawner's business: it escapes usernames.
    """
    problems = []
    found = sorted({char for char in value if char in ", /"})
    if found:
        shown = ", ".join(repr(char) for char in found)
        problems.append(f"contains {shown} (NativeAuthenticator refuses ',', ' ' and '/')")
    if not value or value != value.strip():
        problems.append("is empty or has whitespace around it")
    if value and (set(value) == {"."} or set(unquote(value)) == {"."}):
        problems.append("is only dots")
    if len(value) > 128:
        problems.append("is longer than 128 characters")
    if problems:
        raise ValueError(f"{value!r} {' and '.join(problems)}")
    return value.lower()


NativeUsername = Annotated[str, AfterValidator(_native_username)]


class Native(Strict):
    # Lowercased, as JupyterHub normalizes every name at sign-in.
    admin_users: Annotated[list[NativeUsername], Field(min_length=1)]
    allowed_users: list[NativeUsername] = Field(default_factory=list)
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
    capacity: Size = "1Gi"

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


# The StatefulSet of a profile's placeholders is "user-placeholder-<name>"; with the
# pods' controller-revision-hash label (<name>-<10 characters>) that must stay within 63.
PLACEHOLDER_NAME_ROOM = 35


class Profile(Strict):
    name: Name
    enabled: bool = True
    display_name: Annotated[str, StringConstraints(min_length=1)]
    description: str = ""
    default: bool = False
    # Default: singleuser.image, or singleuser.desktop_image for a desktop profile.
    image: Image | None = None
    cpu: CpuSpec = Field(default_factory=CpuSpec)
    memory: MemorySpec = Field(default_factory=MemorySpec)
    gpus: Annotated[int, Field(ge=0, le=16)] = 0
    # A virtual desktop: the image serves jupyter-remote-desktop-proxy, and the user
    # lands on its page (/desktop) instead of singleuser.default_url.
    desktop: bool = False
    # Where the server opens; default /desktop for a desktop, else singleuser.default_url.
    default_url: Annotated[str, StringConstraints(pattern=r"^/\S*$")] | None = None
    # Pods shaped like this profile's server that keep room (and GPUs) free for it; a
    # user's pod evicts one. The default profile's are hub.placeholders.replicas.
    placeholders: Annotated[int, Field(ge=0, le=50)] = 0

    @model_validator(mode="after")
    def _guarantee_within_limit(self) -> Profile:
        problems = []
        if cpu_millicores(self.cpu.guarantee) > cpu_millicores(self.cpu.limit):
            problems.append(
                f"cpu.guarantee: {self.cpu.guarantee} exceeds cpu.limit ({self.cpu.limit})"
            )
        if memory_bytes(self.memory.guarantee) > memory_bytes(self.memory.limit):
            problems.append(
                f"memory.guarantee: {self.memory.guarantee} exceeds memory.limit "
                f"({self.memory.limit})"
            )
        if memory_bytes(self.memory.limit) == 0:
            problems.append("memory.limit: must be above 0 (a server needs memory)")
        if self.placeholders and len(self.name) > PLACEHOLDER_NAME_ROOM:
            problems.append(
                f"name: {self.name!r} is too long for placeholders (its StatefulSet "
                f"user-placeholder-{self.name} needs a name of at most "
                f"{PLACEHOLDER_NAME_ROOM} characters)"
            )
        _report(problems)
        return self


class Placeholders(Strict):
    """The chart's own placeholders (scheduling.userPlaceholder), shaped like the default
    profile; other profiles ask for theirs with `placeholders: N`."""

    enabled: bool = True
    replicas: Annotated[int, Field(ge=0, le=100)] = 4
    # Unset: the default profile, whatever its name; a name given must be that one.
    profile: Name | None = None


class Culling(Strict):
    enabled: bool = True
    timeout_seconds: Annotated[int, Field(ge=300)] = 86400
    every_seconds: Annotated[int, Field(ge=60)] = 300


# jupyterhub/jupyter-remote-desktop-proxy publishes its Dockerfile's image (XFCE and
# TigerVNC on quay.io/jupyter/base-notebook) as quay.io/jupyterhub/jupyter-remote-
# desktop-proxy:<version> (.github/workflows/release.yaml, publish-images; the version
# without the tag's "v"). 3.0.1 is the release of tag v3.0.1.
DESKTOP_IMAGE = "quay.io/jupyterhub/jupyter-remote-desktop-proxy:3.0.1"


class Singleuser(Strict):
    image: Image = "quay.io/jupyter/scipy-notebook:2025-11-17"
    # The image of desktop profiles that name none.
    desktop_image: Image = DESKTOP_IMAGE
    default_url: str = "/lab"
    start_timeout_seconds: Annotated[int, Field(ge=60, le=7200)] = 1200
    shared_memory: bool = True


class Dns(Strict):
    """The A record hub.domain -> hub.floating_ip in the cloud's DNS service (Designate)."""

    manage: bool = False
    # Empty: the project's zone whose name is the longest suffix of hub.domain.
    zone: Annotated[str, StringConstraints(pattern=r"^([a-z0-9-]+\.)*[a-z0-9-]+\.?$")] | None = None
    ttl: Annotated[int, Field(ge=60, le=86400)] = 300


class Hub(Strict):
    namespace: Name = "jhub"
    release: Name = "jhub"
    chart: Chart = Chart(
        repo="https://hub.jupyter.org/helm-chart", name="jupyterhub", version="4.4.0"
    )
    domain: Hostname | None = None
    https: Https = Field(default_factory=Https)
    floating_ip: IPv4 | None = None
    dns: Dns = Field(default_factory=Dns)
    auth: Auth
    storage: Storage = Field(default_factory=Storage)
    singleuser: Singleuser = Field(default_factory=Singleuser)
    profiles: Annotated[list[Profile], Field(min_length=1)]
    placeholders: Placeholders = Field(default_factory=Placeholders)
    culling: Culling = Field(default_factory=Culling)
    user_scheduler: bool = True
    # Passwordless sudo in user servers (docker-stacks images, GRANT_SUDO): the server
    # starts as root and allows privilege escalation; users can then change anything in
    # their container.
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
        elif self.placeholders.enabled and self.placeholders.profile not in (None, defaults[0]):
            problems.append(
                f"placeholders.profile: {self.placeholders.profile!r} is not allowed; "
                f"hub.placeholders (the chart's own) are for the default profile {defaults[0]!r}; "
                "give other profiles `placeholders: N`"
            )
        for index, profile in enumerate(self.profiles):
            if profile.default and profile.placeholders:
                problems.append(
                    f"profiles[{index}].placeholders: the default profile's placeholders are "
                    "hub.placeholders.replicas; remove this key or set it to 0"
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


class Alerts(Strict):
    """Alert rules (scripts/monitoring/alerts.py); each threshold feeds one rule."""

    enabled: bool = True
    # Rule names to leave out, e.g. [GpuXidError]; `invoke monitoring.deploy` lists them.
    disabled: list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9]*$")]] = Field(
        default_factory=list
    )
    api_error_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.05
    spawn_failures: Annotated[int, Field(ge=1, le=1000)] = 3
    spawn_seconds: Annotated[int, Field(ge=10, le=7200)] = 300
    certificate_days: Annotated[int, Field(ge=1, le=89)] = 14
    volume_full_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.9
    node_not_ready_minutes: Annotated[int, Field(ge=1, le=1440)] = 10
    pending_minutes: Annotated[int, Field(ge=1, le=1440)] = 15
    prometheus_storage_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.85


SmtpHost = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9.-]+:\d{1,5}$")]


class EmailReceiver(Strict):
    """SMTP delivery; the password is secrets.alert_smtp_password (empty: no login)."""

    to: Annotated[list[Email], Field(min_length=1)]
    sender: Email
    smarthost: SmtpHost
    username: str = ""
    require_tls: bool = True


class SlackReceiver(Strict):
    """A Slack-compatible incoming webhook; its URL is secrets.alert_slack_webhook_url."""

    channel: str = ""


class WebhookReceiver(Strict):
    """A generic Alertmanager webhook; its URL is secrets.alert_webhook_url."""

    send_resolved: bool = True


class Receivers(Strict):
    """Where Alertmanager sends alerts; a section that is present is used."""

    email: EmailReceiver | None = None
    slack: SlackReceiver | None = None
    webhook: WebhookReceiver | None = None
    # Which of kube-prometheus-stack's own rules also reach people (ours always do).
    chart_alerts: Literal["critical", "all", "none"] = "critical"
    repeat_hours: Annotated[int, Field(ge=1, le=168)] = 12


class Blackbox(Strict):
    """The Prometheus blackbox exporter probing https://hub.domain/hub/api/health."""

    enabled: bool = True
    release: Name = "blackbox"
    chart: Chart = Chart(
        repo="https://prometheus-community.github.io/helm-charts",
        name="prometheus-blackbox-exporter",
        version="11.17.2",
    )
    interval_seconds: Annotated[int, Field(ge=10, le=3600)] = 60


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
    storage_size: Size = "50Gi"
    dashboards_folder: Annotated[str, StringConstraints(min_length=1, max_length=60)] = "STFC"
    grafana_admin_user: Name = "admin"
    alerts: Alerts = Field(default_factory=Alerts)
    receivers: Receivers = Field(default_factory=Receivers)
    blackbox: Blackbox = Field(default_factory=Blackbox)


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


_WEBHOOK_URL = r"^(https?://[^\s/]+\S*)?$"


class Secrets(Strict):
    """Values only the operator's machine holds (config/<env>.secrets.yaml)."""

    proxy_secret_token: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    metrics_token: Annotated[str, StringConstraints(min_length=32)]
    health_check_token: Annotated[str, StringConstraints(min_length=32)]
    grafana_admin_password: Annotated[str, StringConstraints(min_length=16)]
    oauth_client_secret: str = ""
    native_admin_passwords: dict[str, str] = Field(default_factory=dict)
    # Alertmanager receivers (monitoring.receivers); Alertmanager reads them from files.
    alert_smtp_password: str = ""
    # Empty, or an http(s) URL: Alertmanager would only find out when an alert fires.
    alert_slack_webhook_url: Annotated[str, StringConstraints(pattern=_WEBHOOK_URL)] = ""
    alert_webhook_url: Annotated[str, StringConstraints(pattern=_WEBHOOK_URL)] = ""

    def values(self) -> list[str]:
        """Every secret string, for redaction."""
        found = [
            self.proxy_secret_token,
            self.metrics_token,
            self.health_check_token,
            self.grafana_admin_password,
            self.oauth_client_secret,
            *self.native_admin_passwords.values(),
            self.alert_smtp_password,
            self.alert_slack_webhook_url,
            self.alert_webhook_url,
        ]
        return [value for value in found if value]
