"""The task namespace: the top-level tasks at the root, each area's collection under its name.

tasks.py (what plain `invoke` loads) and the `jhub` command (scripts/cli.py) both
use this one composition. Every task's options are parsed by core.options, so a
value invoke cannot convert is one line and exit 2 under any Program.
"""

from __future__ import annotations

from invoke.collection import Collection

from . import cross_area_tasks
from .cluster.tasks import ns as cluster
from .config.tasks import ns as config
from .core import options
from .gpu.tasks import ns as gpu
from .hub.tasks import ns as hub
from .lb.tasks import ns as lb
from .local.tasks import ns as local
from .monitoring.tasks import ns as monitoring
from .top_tasks import CLUSTER_TASKS, TASKS

# Tasks whose procedure crosses areas: glue in the orchestration layer, names in the area.
lb.add_task(cross_area_tasks.lb_recreate)
local.add_task(cross_area_tasks.local_up)


def build() -> Collection:
    namespace = Collection(*TASKS)
    # Cross-area procedures that read as cluster tasks (their code is top-level, beside
    # orchestrate.py, since areas do not import each other).
    for cross_area in CLUSTER_TASKS:
        if cross_area.name not in cluster.tasks:
            cluster.add_task(cross_area)
    for area in (config, cluster, hub, monitoring, gpu, lb, local):
        namespace.add_collection(area)
    options.check_every_task(namespace)
    return namespace
