"""Names and defaults of the z2jh chart (jupyterhub 4.4.0) that the tool builds on.

Facts read from jupyterhub/zero-to-jupyterhub-k8s at tag 4.4.0; each cites its file.
They hold because the tool never sets fullnameOverride or nameOverride (values.yaml
lines 3-4: fullnameOverride "" makes jupyterhub.fullname empty, so the names below fall
back to the release name).
"""

from __future__ import annotations

from typing import Any


# templates/_helpers-names.tpl lines 252-258 ("jupyterhub.priority.fullname"): the
# PriorityClass KubeSpawner gives user pods (files/hub/jupyterhub_config.py line 218).
def default_priority_class(release: str) -> str:
    return f"{release}-default-priority"


# templates/_helpers-names.tpl lines 261-267 ("jupyterhub.user-placeholder-priority
# .fullname"), created by templates/scheduling/user-placeholder/priorityclass.yaml when
# both scheduling.podPriority.enabled and scheduling.userPlaceholder.enabled are true.
def user_placeholder_priority_class(release: str) -> str:
    return f"{release}-user-placeholder-priority"


# templates/_helpers-names.tpl lines 279-285 ("jupyterhub.user-scheduler.fullname"): the
# schedulerName of user pods (jupyterhub_config.py lines 215-216) and of the chart's
# placeholders (templates/scheduling/user-placeholder/statefulset.yaml lines 43-45).
def user_scheduler_name(release: str) -> str:
    return f"{release}-user-scheduler"


# values.yaml lines 584-591: scheduling.userPlaceholder.image, the pause container of
# the chart's own placeholders.
PAUSE_IMAGE = "registry.k8s.io/pause:3.10.1"

# values.yaml lines 598-606 (scheduling.userPlaceholder.containerSecurityContext) and
# 640-648 (prePuller.containerSecurityContext): the same for both.
NOBODY_SECURITY_CONTEXT: dict[str, Any] = {
    "runAsNonRoot": True,
    "runAsUser": 65534,
    "runAsGroup": 65534,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}

# templates/image-puller/_helpers-daemonset.tpl lines 121-126: how the chart's image
# pullers fetch an image onto a node (an init container that exits at once).
PULL_COMMAND = ["/bin/sh", "-c", 'echo "Pulling complete"']

# values.yaml lines 621-632: scheduling.userPods.tolerations, which
# jupyterhub_config.py lines 249-253 give every user pod before singleuser.extraTolerations.
USER_POD_TOLERATIONS: list[dict[str, str]] = [
    {
        "key": "hub.jupyter.org/dedicated",
        "operator": "Equal",
        "value": "user",
        "effect": "NoSchedule",
    },
    {
        "key": "hub.jupyter.org_dedicated",
        "operator": "Equal",
        "value": "user",
        "effect": "NoSchedule",
    },
]


# scheduling.userPods.nodeAffinity.matchNodePurpose defaults to "prefer" (values.yaml
# line 632); jupyterhub_config.py lines 221-238 then add this preferred term to every
# user pod, and templates/scheduling/_scheduling-helpers.tpl lines 13-21 to placeholders.
# templates/scheduling/_scheduling-helpers.tpl lines 114-138 give core pods the same
# with the value "core" (values.yaml lines 619-620).
def node_purpose_preference(purpose: str) -> dict[str, Any]:
    return {
        "weight": 100,
        "preference": {
            "matchExpressions": [
                {"key": "hub.jupyter.org/node-purpose", "operator": "In", "values": [purpose]}
            ]
        },
    }
