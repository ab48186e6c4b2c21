"""The committed upstream facts: no test reads ../shared, the data matches the pins, and
tests/fixtures/generate.py writes facts only, from a folder or from a chart repository."""

from __future__ import annotations

import functools
import json
import re
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.core.settings import Gpu, Hub, Monitoring
from tests.fixtures import generate
from tests.support.contract import chart_data, chart_defaults, chart_schema

ROOT = Path(__file__).resolve().parents[1]
UPSTREAM = ROOT / "tests" / "fixtures" / "upstream"

# Ways a test file could reach the folder beside the repository.
SHARED_PATH = re.compile(
    r"\.\./shared\b"  # ../shared, ../../shared
    r"|\bshared/(?:fixtures|docs|reference|hooks)\b"
    r"|/\s*[\"']shared[\"']"  # ROOT.parent / "shared"
    r"|\(\s*[\"']shared[\"']\s*[,)]"  # joinpath("shared", ...), Path("shared")
    r"|\bSHARED\b"
)
# The generator is where ../shared is read, by design; this file names the patterns.
ALLOWED = {ROOT / "tests" / "fixtures" / "generate.py", Path(__file__).resolve()}


def mentions_of_shared(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if SHARED_PATH.search(line)]


def test_no_test_file_mentions_a_path_to_shared() -> None:
    files = [*sorted((ROOT / "tests").rglob("*.py")), *sorted((ROOT / "benchmarks").rglob("*.py"))]
    found = {
        str(path.relative_to(ROOT)): hits
        for path in files
        if path.resolve() not in ALLOWED
        and (hits := mentions_of_shared(path.read_text(encoding="utf-8")))
    }
    assert found == {}, (
        "tests read upstream facts from tests/fixtures/upstream/ (written by "
        f"tests/fixtures/generate.py), never from ../shared: {found}"
    )


@pytest.mark.parametrize(
    "line",
    [
        'SHARED = ROOT.parent / "shared"',
        'path = ROOT.parent.joinpath("shared", "fixtures")',
        'text = Path("../shared/fixtures/charts/x/values.yaml").read_text()',
        "# read from shared/fixtures/dcgm-exporter",
    ],
)
def test_the_guard_sees_each_way_to_shared(line: str) -> None:
    assert mentions_of_shared(line) == [line]


def test_the_guard_leaves_other_uses_of_the_word_alone() -> None:
    assert mentions_of_shared('network = {"shared": False}  # shared helpers') == []


# ------------------------------------------------------------------ the committed data


@pytest.mark.parametrize("model", [Hub, Monitoring, Gpu], ids=["hub", "monitoring", "gpu"])
def test_data_is_for_the_pinned_chart(model: type[Hub | Monitoring | Gpu]) -> None:
    pin = model.model_fields["chart"].default
    data = chart_data(pin.name)
    assert (data["chart"], data["version"], data["repository"]) == (
        pin.name,
        pin.version,
        str(pin.repo),
    ), "the chart pin changed: regenerate with `python tests/fixtures/generate.py --helm`"


def test_grafana_is_the_subchart_kube_prometheus_stack_88_5_3_ships() -> None:
    # kube-prometheus-stack 88.5.3 Chart.yaml: dependency grafana, version "12.11.1"
    # (prometheus-community/helm-charts, tag kube-prometheus-stack-88.5.3).
    data = chart_data("grafana")
    assert (data["version"], data["subchart_of"]) == ("12.11.1", "kube-prometheus-stack")


@pytest.mark.parametrize("path", sorted(UPSTREAM.glob("*.json")), ids=lambda p: p.name)
def test_each_file_says_where_it_came_from(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["generated_by"] == "tests/fixtures/generate.py"
    assert data["source"] and data["repository"].startswith("https://")
    assert all(re.fullmatch(r"[0-9a-f]{64}", digest) for digest in data["sha256"].values())


def test_each_value_fact_is_a_path_a_type_and_a_default() -> None:
    types = {"string": str, "boolean": bool, "integer": int, "number": float, "list": list}
    for chart in ("jupyterhub", "kube-prometheus-stack", "grafana", "gpu-operator"):
        for fact in chart_data(chart)["values"]:
            assert set(fact) == {"path", "type", "default"}
            assert fact["path"] and all(isinstance(key, str) for key in fact["path"])
            default, kind = fact["default"], fact["type"]
            if kind == "null":
                assert default is None
            elif kind == "map":
                assert default == {}
            else:
                assert type(default) is types[kind], fact


def test_known_defaults_of_each_chart() -> None:
    # Literal defaults from the charts' values.yaml at the pinned tags.
    assert chart_defaults("jupyterhub")["proxy"]["https"]["letsencrypt"]["acmeServer"] == (
        "https://acme-v02.api.letsencrypt.org/directory"
    )
    assert chart_defaults("kube-prometheus-stack")["grafana"]["enabled"] is True
    assert chart_defaults("gpu-operator")["dcgmExporter"]["version"] == "4.6.0-4.8.3-distroless"
    assert chart_defaults("grafana")["adminUser"] == "admin"


def test_schema_keeps_what_validates_and_drops_the_prose() -> None:
    schema = chart_schema("jupyterhub")
    text = json.dumps(schema)
    assert '"description"' not in text
    # z2jh 4.4.0 jupyterhub/values.schema.yaml, proxy.https.type.
    https = schema["properties"]["proxy"]["properties"]["https"]["properties"]
    assert https["type"]["enum"] == [None, "", "letsencrypt", "manual", "offload", "secret"]


def test_dcgm_counters_keep_name_and_type_only() -> None:
    data = json.loads((UPSTREAM / "dcgm-exporter.json").read_text(encoding="utf-8"))
    assert sorted(data["files"]) == ["dcp-metrics-included.csv", "default-counters.csv"]
    for fields in data["files"].values():
        assert all(set(field) == {"name", "type"} for field in fields)
        assert {"name": "DCGM_FI_DEV_GPU_UTIL", "type": "gauge"} in fields


# ------------------------------------------------------------------ the generator


VALUES_YAML = """\
# A comment the data must not keep.
hub:
  image:
    name: quay.io/jupyterhub/k8s-hub  # trailing comment
    tag: "4.4.0"
  extraEnv: {}
  replicas: 1
  ratio: 0.5
  annotations: null
proxy:
  hosts: [a, b]
  "grafana.ini": {server: {domain: x}}
"""
SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "hub": {
            "type": "object",
            "description": "Prose that must go.",
            "properties": {"replicas": {"type": "integer", "minimum": 0, "title": "Replicas"}},
        },
        "proxy": {"oneOf": [{"type": "object"}, {"type": "null"}]},
    },
}
CSV = """\
# Format
# DCGM FIELD, Prometheus metric type, help message
DCGM_FI_DEV_SM_CLOCK,  gauge, SM clock frequency (in MHz).
# DCGM_FI_DEV_POWER_VIOLATION, counter, Throttling duration.
DCGM_FI_DEV_DEC_UTIL ,     gauge, Decoder utilization (in %).
DCGM_FI_DRIVER_VERSION,        label, Driver Version
"""


def fake_shared(folder: Path) -> Path:
    """A folder laid out like ../shared/fixtures for the pinned charts, with tiny files."""
    for pin in generate.pins():
        version = pin.version or "9.9.9"
        chart = folder / "charts" / f"{pin.name}-{version}"
        chart.mkdir(parents=True)
        (chart / "values.yaml").write_text(VALUES_YAML, encoding="utf-8")
        if pin.schema:
            (chart / "values.schema.json").write_text(json.dumps(SCHEMA), encoding="utf-8")
    dcgm = folder / "dcgm-exporter"
    dcgm.mkdir()
    (dcgm / "default-counters.csv").write_text(CSV, encoding="utf-8")
    return folder


def test_generator_writes_facts_only_and_checks_them(tmp_path: Path) -> None:
    source, out = fake_shared(tmp_path / "shared" / "fixtures"), tmp_path / "out"
    assert generate.main(["--from", str(source), "--out", str(out)]) == 0

    hub = json.loads((out / "jupyterhub.json").read_text(encoding="utf-8"))
    assert hub["source"] == "../shared/fixtures/charts/jupyterhub-4.4.0"
    assert hub["values"][:3] == [
        {
            "path": ["hub", "image", "name"],
            "type": "string",
            "default": "quay.io/jupyterhub/k8s-hub",
        },
        {"path": ["hub", "image", "tag"], "type": "string", "default": "4.4.0"},
        {"path": ["hub", "extraEnv"], "type": "map", "default": {}},
    ]
    assert {
        "path": ["proxy", "grafana.ini", "server", "domain"],
        "type": "string",
        "default": "x",
    } in hub["values"]
    assert hub["schema"]["properties"]["hub"] == {
        "type": "object",
        "properties": {"replicas": {"type": "integer", "minimum": 0}},
    }
    written = "".join(path.read_text(encoding="utf-8") for path in out.iterdir())
    for prose in ("comment", "Prose", "Replicas", "frequency", "Throttling", "Driver Version"):
        assert prose not in written
    dcgm = json.loads((out / "dcgm-exporter.json").read_text(encoding="utf-8"))
    assert dcgm["files"]["default-counters.csv"] == [
        {"name": "DCGM_FI_DEV_SM_CLOCK", "type": "gauge"},
        {"name": "DCGM_FI_DEV_DEC_UTIL", "type": "gauge"},
        {"name": "DCGM_FI_DRIVER_VERSION", "type": "label"},
    ]
    grafana = json.loads((out / "grafana.json").read_text(encoding="utf-8"))
    assert (grafana["version"], grafana["subchart_of"]) == ("9.9.9", "kube-prometheus-stack")

    assert generate.main(["--from", str(source), "--out", str(out), "--check"]) == 0
    values = source / "charts" / "gpu-operator-v26.7.0" / "values.yaml"
    values.write_text(VALUES_YAML.replace("replicas: 1", "replicas: 2"), encoding="utf-8")
    assert generate.main(["--from", str(source), "--out", str(out), "--check"]) == 1


def test_an_unknown_schema_keyword_stops_the_generator(tmp_path: Path) -> None:
    source = fake_shared(tmp_path / "fixtures")
    schema = {**SCHEMA, "x-kubernetes-preserve-unknown-fields": True}
    (source / "charts" / "jupyterhub-4.4.0" / "values.schema.json").write_text(json.dumps(schema))
    assert generate.main(["--from", str(source), "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


def test_a_missing_chart_names_it_and_the_other_way(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = fake_shared(tmp_path / "fixtures")
    (source / "charts" / "jupyterhub-4.4.0" / "values.yaml").unlink()
    assert generate.main(["--from", str(source), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "jupyterhub 4.4.0" in err and "--helm" in err


@pytest.fixture
def chart_repository(tmp_path: Path, helm_binary: str) -> Iterator[str]:
    """A chart repository on loopback: a parent chart vendoring a subchart, as helm serves it."""
    parent = tmp_path / "src" / "stack"
    sub = parent / "charts" / "sub"
    sub.mkdir(parents=True)
    (parent / "Chart.yaml").write_text("apiVersion: v2\nname: stack\nversion: 0.2.0\n")
    (parent / "values.yaml").write_text("# the parent\nsub:\n  enabled: true\nreplicas: 1\n")
    (parent / "values.schema.json").write_text(json.dumps(SCHEMA))
    (sub / "Chart.yaml").write_text("apiVersion: v2\nname: sub\nversion: 3.4.5\n")
    (sub / "values.yaml").write_text("adminUser: admin  # the default user\n")
    served = tmp_path / "repo"
    served.mkdir()
    for command in (
        [helm_binary, "package", str(parent), "--destination", str(served)],
        [helm_binary, "repo", "index", str(served)],
    ):
        subprocess.run(command, check=True, capture_output=True, timeout=60)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(served))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_generator_pulls_charts_and_subcharts_with_helm(
    chart_repository: str, helm_binary: str, tmp_path: Path
) -> None:
    pins = [
        generate.Pin("stack", "0.2.0", chart_repository, schema=True),
        generate.Pin("sub", "", chart_repository, parent="stack"),
    ]
    charts = generate.from_helm(helm_binary, tmp_path / "work", pins)
    documents = generate.generate(charts, None, "")
    stack: dict[str, Any] = json.loads(documents["stack.json"])
    sub: dict[str, Any] = json.loads(documents["sub.json"])
    assert stack["source"] == f"helm pull stack 0.2.0 --repo {chart_repository}"
    assert generate.rebuild(stack["values"]) == {"sub": {"enabled": True}, "replicas": 1}
    assert "description" not in json.dumps(stack["schema"])
    assert (sub["version"], sub["subchart_of"]) == ("3.4.5", "stack")
    assert sub["values"] == [{"path": ["adminUser"], "type": "string", "default": "admin"}]
    assert yaml.safe_load("adminUser: admin") == generate.rebuild(sub["values"])
