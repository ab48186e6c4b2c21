"""hub.sudo: plan and deploy both say what it gives users (the pod it builds is checked
on the real KubeSpawner in test_user_pods.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from tests.conftest import TaskRun
from tests.hub import environments
from tests.hub.conftest import running_hub, use_kubeconfig
from tests.support.fake_helm import FakeHelm
from tests.support.fakekube import FakeKube

ENV = "lab"
Run = Callable[..., TaskRun]
WARNING = "hub.sudo is true: every user gets passwordless sudo (root) in their server"


def sudo_config(sudo: bool) -> dict[str, object]:
    config = environments.example()
    config["cluster"] = {"driver": "existing", "name": "campus"}
    config["hub"]["floating_ip"] = None
    config["hub"]["sudo"] = sudo
    return config


def test_plan_warns_about_sudo(run_task: Run, config_dir: Path, socket_disabled: None) -> None:
    (config_dir / f"{ENV}.yaml").write_text(yaml.safe_dump(sudo_config(True)))
    result = run_task("plan", "--env", ENV)
    assert result.code == 0, result.err
    assert WARNING in " ".join(result.err.split())

    (config_dir / f"{ENV}.yaml").write_text(yaml.safe_dump(sudo_config(False)))
    assert "sudo" not in run_task("plan", "--env", ENV).err


def test_deploy_warns_about_sudo(
    run_task: Run, config_dir: Path, kube: FakeKube, fake_helm: FakeHelm
) -> None:
    environments.write(config_dir, ENV, sudo_config(True))
    use_kubeconfig(kube, config_dir, ENV)
    running_hub(kube)
    result = run_task("hub.deploy", "--env", ENV, "--dry-run")
    assert result.code == 0, result.err
    assert WARNING in " ".join(result.err.split())
