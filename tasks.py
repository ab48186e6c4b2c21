"""Invoke namespace: composes the collections; all logic lives in scripts/."""

from invoke.collection import Collection

from scripts import top_tasks
from scripts.config.tasks import ns as config

ns = Collection(top_tasks.plan, top_tasks.doctor)
ns.add_collection(config)
