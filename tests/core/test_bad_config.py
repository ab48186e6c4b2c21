"""Classes of malformed config, each generated over every key it applies to.

Numbers that are not finite, keys named like pydantic's union tags, values of the
wrong shape, control characters, very long values, files that are not UTF-8 or not
files, repeated keys, environment overrides that are not YAML. Every case runs the
real task in-process with sockets disabled: exit 2, the key named as written, one
line per error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import TaskRun
from tests.core.corpus import (
    EXAMPLE,
    assert_one_line_errors,
    assert_refused,
    changed,
    dotted,
    in_free_form,
    leaves,
    mappings,
    write_config,
)

Run = Callable[..., TaskRun]

NUMBERS = [
    (path, value)
    for path, value in leaves(EXAMPLE)
    if isinstance(value, int | float) and not isinstance(value, bool)
]
# CPU quantities are the numbers users also write as text (issue 15: `.inf` reached
# the rendered values).
CPU_KEYS = [path for path, _ in NUMBERS if "cpu" in path]


def everywhere(config: dict[str, Any], paths: list[tuple[Any, ...]], value: Any) -> dict[str, Any]:
    """The config with every path set to the value: one run, every key must be named
    (all problems are reported at once)."""
    for path in paths:
        config = changed(config, path, value)
    return config


def assert_every_key_named(result: TaskRun, keys: list[str]) -> None:
    assert result.code == 2, result.err[-2000:]
    assert_one_line_errors(result)
    missing = [key for key in keys if f"{key}:" not in result.err and f"{key} " not in result.err]
    assert missing == [], f"not named: {missing}\n{result.err[-3000:]}"


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan], ids=["inf", "-inf", "nan"])
def test_non_finite_numbers_are_refused_everywhere(
    config_dir: Path, run_task: Run, socket_disabled: None, bad: float
) -> None:
    paths = [path for path, _ in NUMBERS]
    write_config(config_dir, "broken", everywhere(EXAMPLE, paths, bad))
    assert_every_key_named(run_task("config.show", "--env", "broken"), [dotted(p) for p in paths])


@pytest.mark.parametrize("text", ["inf", "nan", "Infinity", "-inf", "1e999", "9" * 400])
@pytest.mark.parametrize("path", CPU_KEYS, ids=[dotted(p) for p in CPU_KEYS])
def test_non_finite_cpu_text_is_refused(
    config_dir: Path, run_task: Run, socket_disabled: None, path: tuple[Any, ...], text: str
) -> None:
    write_config(config_dir, "broken", changed(EXAMPLE, path, text))
    assert_refused(run_task("config.show", "--env", "broken"), dotted(path))


@pytest.mark.parametrize("text", ["inf", "nanG", "9" * 400 + "G", "1e3G", "-1G"])
def test_non_finite_memory_text_is_refused(
    config_dir: Path, run_task: Run, socket_disabled: None, text: str
) -> None:
    path = ("hub", "profiles", 0, "memory", "limit")
    write_config(config_dir, "broken", changed(EXAMPLE, path, text))
    assert_refused(run_task("config.show", "--env", "broken"), "hub.profiles[0].memory.limit")


def test_infinite_cpu_in_a_yaml_file_never_reaches_the_values(
    config_dir: Path, run_task: Run, socket_disabled: None
) -> None:
    text = (
        (config_dir / "example.yaml")
        .read_text()
        .replace("cpu: {guarantee: 0.05, limit: 2}", "cpu: {guarantee: 0.05, limit: .inf}", 1)
    )
    (config_dir / "broken.yaml").write_text(text)
    assert_refused(run_task("plan", "--env", "broken"), "hub.profiles[0].cpu.limit")
    assert not (config_dir.parent / "build" / "broken").exists()


TAG_NAMES = ["none", "str", "int", "float", "bool", "a[b", "list[int]", "function-after[x]"]
MODELS = list(mappings(EXAMPLE))


@pytest.mark.parametrize("name", TAG_NAMES)
def test_unknown_keys_are_named_as_written(
    config_dir: Path, run_task: Run, socket_disabled: None, name: str
) -> None:
    config = everywhere(EXAMPLE, [(*path, name) for path in MODELS], 1)
    write_config(config_dir, "broken", config)
    result = run_task("config.show", "--env", "broken")
    keys = [f"{dotted(path)}.{name}" if path else name for path in MODELS]
    assert_every_key_named(result, keys)
    for key in keys:
        assert f"{key}: unknown key" in result.err, key


@pytest.mark.parametrize("name", ["none", "str", "a[b"])
def test_a_label_named_like_a_tag_keeps_its_name_in_errors(
    config_dir: Path, run_task: Run, socket_disabled: None, name: str
) -> None:
    # (The example's node groups carry no labels since capi-helm never applies them.)
    path = ("cluster", "extra_labels", name)
    write_config(config_dir, "broken", changed(EXAMPLE, path, [1]))
    assert_refused(run_task("config.show", "--env", "broken"), f"cluster.extra_labels.{name}:")


def test_keys_yaml_reads_as_numbers_or_null_are_named(
    config_dir: Path, run_task: Run, socket_disabled: None
) -> None:
    text = (config_dir / "example.yaml").read_text()
    (config_dir / "broken.yaml").write_text(
        text.replace("cluster:\n", "cluster:\n  1: x\n  null: y\n", 1)
    )
    assert_refused(run_task("config.show", "--env", "broken"), "cluster.1:", "cluster.null:")


SCALARS = [(p, v) for p, v in leaves(EXAMPLE) if not in_free_form(p)]


def test_a_mapping_where_a_value_belongs_is_named(
    config_dir: Path, run_task: Run, socket_disabled: None
) -> None:
    paths = [path for path, _ in SCALARS]
    write_config(config_dir, "broken", everywhere(EXAMPLE, paths, {"nested": [1, 2]}))
    result = run_task("config.show", "--env", "broken")
    assert_every_key_named(result, [dotted(p) for p in paths])


STRINGS = [(p, v) for p, v in leaves(EXAMPLE) if isinstance(v, str)]


@pytest.mark.parametrize("tail", ["\n", "\x07", "\x1b[31m", "\u2028", "\r\nsecond: line"])
def test_control_characters_never_break_an_error_line(
    config_dir: Path, run_task: Run, socket_disabled: None, tail: str
) -> None:
    config = EXAMPLE
    for path, value in STRINGS:
        config = changed(config, path, f"{value}{tail}x")
    write_config(config_dir, "broken", config)
    result = run_task("config.show", "--env", "broken")
    assert result.code == 2, result.err
    assert_one_line_errors(result)


@pytest.mark.parametrize("size", [200, 20_000])
def test_long_values_are_shortened_when_echoed(
    config_dir: Path, run_task: Run, socket_disabled: None, size: int
) -> None:
    long = "x" * size
    paths = [path for path, _ in STRINGS]
    write_config(config_dir, "broken", everywhere(EXAMPLE, paths, long))
    result = run_task("config.show", "--env", "broken")
    assert result.code == 2, result.err
    assert_one_line_errors(result)
    assert "x" * 100 not in result.err


def test_a_control_character_in_the_file_is_one_line_with_its_line(
    config_dir: Path, run_task: Run, socket_disabled: None
) -> None:
    text = (
        (config_dir / "example.yaml").read_text().replace("name: jhub-example", "name: jhub\x07x")
    )
    (config_dir / "broken.yaml").write_text(text)
    result = run_task("config.show", "--env", "broken")
    assert_refused(result, "broken.yaml:", "U+0007")
    assert len(result.err.strip().splitlines()) == 1


# ---------------------------------------------------------------- the file itself


def test_a_config_that_is_not_utf8_is_named(
    config_dir: Path, run_task: Run, socket_disabled: None
) -> None:
    text = (config_dir / "example.yaml").read_bytes().replace(b"STFC", b"ST\xff\xfeC")
    (config_dir / "broken.yaml").write_bytes(text)
    assert_refused(run_task("config.show", "--env", "broken"), "broken.yaml", "not UTF-8", "line ")


def test_a_latin1_config_is_named(config_dir: Path, run_task: Run, socket_disabled: None) -> None:
    text = (config_dir / "example.yaml").read_text().replace("STFC", "Café")
    (config_dir / "broken.yaml").write_bytes(text.encode("latin-1"))
    assert_refused(run_task("config.show", "--env", "broken"), "broken.yaml", "not UTF-8")


def test_a_directory_as_the_config_is_named(
    config_dir: Path, run_task: Run, socket_disabled: None
) -> None:
    (config_dir / "broken.yaml").mkdir()
    assert_refused(run_task("config.show", "--env", "broken"), "broken.yaml", "directory")


def test_a_dangling_symlink_is_named(
    config_dir: Path, run_task: Run, socket_disabled: None
) -> None:
    (config_dir / "broken.yaml").symlink_to(config_dir / "gone.yaml")
    assert_refused(run_task("config.show", "--env", "broken"), "broken.yaml", "not found")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cluster:\n  name: a\n  name: b\nhub: {}\n", "key 'name' is given twice (lines 2 and 3)"),
        ("cloud: a\ncluster: {}\ncloud: b\n", "key 'cloud' is given twice (lines 1 and 3)"),
        (
            "hub:\n  profiles:\n  - name: a\n    name: b\n",
            "key 'name' is given twice (lines 3 and 4)",
        ),
        ("cluster: {name: a, name: b}\n", "key 'name' is given twice"),
    ],
)
def test_repeated_keys_are_refused_naming_both_lines(
    config_dir: Path, run_task: Run, socket_disabled: None, text: str, expected: str
) -> None:
    (config_dir / "broken.yaml").write_text(text)
    assert_refused(run_task("config.show", "--env", "broken"), "broken.yaml:", expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a\n- b\n", "must be a mapping"),
        ("just text\n", "must be a mapping"),
        ("cloud: a\n---\ncloud: b\n", "not valid YAML"),
        ("cluster: [unclosed\n", "not valid YAML"),
        ("cluster:\n\tname: x\n", "not valid YAML"),
        ("a: !!python/object:os.system x\n", "not valid YAML"),
        ("\x00\n", "U+0000"),
    ],
)
def test_documents_that_are_not_a_config_are_named(
    config_dir: Path, run_task: Run, socket_disabled: None, text: str, expected: str
) -> None:
    (config_dir / "broken.yaml").write_text(text)
    assert_refused(run_task("config.show", "--env", "broken"), "broken.yaml", expected)


def test_a_yaml_error_never_quotes_the_line(
    config_dir: Path, run_task: Run, socket_disabled: None
) -> None:
    (config_dir / "broken.yaml").write_text("cluster:\n  name: [unclosed-and-private-1234\n")
    result = run_task("config.show", "--env", "broken")
    assert_refused(result, "broken.yaml:")
    assert "unclosed-and-private-1234" not in result.err


# ---------------------------------------------------------------- environment overrides


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("JHUB__CLUSTER__NAME", "{bad: [yaml", "JHUB__CLUSTER__NAME (sets cluster.name)"),
        ("JHUB__HUB__DOMAIN", "@hub.example.org", "JHUB__HUB__DOMAIN (sets hub.domain)"),
        ("JHUB__HUB__DOMAIN", "a: b: c", "JHUB__HUB__DOMAIN (sets hub.domain)"),
        ("JHUB__HUB__DOMAIN", "`x`", "JHUB__HUB__DOMAIN (sets hub.domain)"),
        ("JHUB__HUB__DOMAIN", "x\x07", "JHUB__HUB__DOMAIN (sets hub.domain)"),
        ("JHUB__HUB____DOMAIN", "x", "JHUB__HUB____DOMAIN: not a key path"),
        ("JHUB__", "x", "JHUB__: not a key path"),
        ("JHUB__HUB__PROFILES__0__CPU", "1", "hub.profiles is not a mapping"),
        (
            "JHUB__CLUSTER__MAX_WORKERS",
            ".inf",
            "cluster.max_workers (set by JHUB__CLUSTER__MAX_WORKERS)",
        ),
        ("JHUB__CLUSTER__NONE", "1", "cluster.none (set by JHUB__CLUSTER__NONE): unknown key"),
        ("JHUB__HUB__FLOATING_IP", "300.1.1.1", "hub.floating_ip (set by JHUB__HUB__FLOATING_IP)"),
    ],
)
def test_environment_overrides_name_the_variable(  # noqa: PLR0917 - pytest passes fixtures by position
    config_dir: Path,
    run_task: Run,
    socket_disabled: None,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    expected: str,
) -> None:
    monkeypatch.setenv(variable, value)
    result = run_task("plan")
    assert_refused(result, expected)
    assert "ParserError" not in result.err and "unexpected" not in result.err


# ---------------------------------------------------------------- --env and JHUB_ENV


@pytest.mark.parametrize(
    "name", ["dev\n", "dev\r", "DEV", "a" * 41, "dev/../x", "dévé", "dev ", "-dev"]
)
def test_environment_names_are_matched_whole(
    config_dir: Path, run_task: Run, socket_disabled: None, name: str
) -> None:
    result = run_task("plan", "--env", name)
    assert_refused(result, "option --env")
    assert len(result.err.strip().splitlines()) == 1


def test_jhub_env_is_named_when_it_is_the_bad_one(
    config_dir: Path, run_task: Run, socket_disabled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JHUB_ENV", "dev\n")
    result = run_task("plan")
    assert_refused(result, "JHUB_ENV: 'dev\\n' is not an environment name")


def test_example_yaml_is_still_valid(config_dir: Path) -> None:
    # The corpus breaks this file one key at a time: it must be valid to start with.
    from scripts.core.settings import Settings

    Settings.model_validate(yaml.safe_load((config_dir / "example.yaml").read_text()))


@pytest.mark.parametrize("name", ["a\nb", "tab\there", "bell\x07", "x" * 5000])
def test_unknown_keys_with_control_characters_or_length_are_one_line(
    config_dir: Path, run_task: Run, socket_disabled: None, name: str
) -> None:
    write_config(config_dir, "broken", changed(EXAMPLE, ("cluster", name), 1))
    result = run_task("config.show", "--env", "broken")
    assert_refused(result, "error: cluster.", "unknown key")
    assert len(result.err.strip().splitlines()) == 1
