"""The certificate tasks keep their names and options in the real hub collection."""

from __future__ import annotations

import pytest

from scripts.hub.tasks import ns

# (names, type, default) of each option, as operators and scripts type them today.
OPTIONS: dict[str, list[tuple[tuple[str, ...], type, object]]] = {
    "ssl-retry": [
        (("env", "e"), str, ""),
        (("force", "f"), bool, False),
        (("staging", "s"), bool, False),
        (("timeout", "t"), int, 180),
        (("dry-run", "d"), bool, False),
        (("resolvers", "r"), str, ""),
    ],
    "cert-status": [(("env", "e"), str, ""), (("live", "l"), bool, False)],
    "tls-secret": [
        (("cert", "c"), str, ""),
        (("key", "k"), str, ""),
        (("env", "e"), str, ""),
        (("dry-run", "d"), bool, False),
    ],
}


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_task_keeps_its_name_and_options(name: str) -> None:
    task = ns[name]
    found = [(tuple(a.names), a.kind, a.default) for a in task.get_arguments()]
    assert found == OPTIONS[name]
    assert task.body.__module__ == "scripts.hub.tls.tasks"
