"""Invoke namespace: composes the collections; all logic lives in scripts/."""

from invoke.collection import Collection

from scripts import top_tasks
from scripts.cluster.tasks import ns as cluster
from scripts.config.tasks import ns as config
from scripts.gpu.tasks import ns as gpu
from scripts.hub.tasks import ns as hub
from scripts.lb.tasks import ns as lb
from scripts.local.tasks import ns as local
from scripts.monitoring.tasks import ns as monitoring

ns = Collection(*top_tasks.TASKS)
for area in (config, cluster, hub, monitoring, gpu, lb, local):
    ns.add_collection(area)
