"""Load one environment: its YAML, its secrets file and environment overrides.

All problems are gathered and raised together as one BadInput, so the operator
fixes the file once instead of once per error.
"""

from __future__ import annotations

import os
import stat
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from . import paths
from .errors import BadInput, Problem
from .settings import Secrets, Settings

ENV_OVERRIDE_PREFIX = "JHUB__"
SECRET_OVERRIDE_PREFIX = "JHUB_SECRET_"


@dataclass(frozen=True)
class Environment:
    name: str
    settings: Settings
    secrets: Secrets | None
    config_path: Path
    secrets_path: Path

    @property
    def kubeconfig(self) -> Path:
        configured = self.settings.cluster.kubeconfig
        if not configured:
            return paths.kubeconfig_file(self.name)
        path = Path(configured).expanduser()
        # Relative paths in a config file mean "from the repository", not from $PWD.
        return path if path.is_absolute() else paths.ROOT / path

    def secret_values(self) -> list[str]:
        return self.secrets.values() if self.secrets else []


def load(env_option: str | None, *, require_secrets: bool = True) -> Environment:
    """Validate config/<env>.yaml (and its secrets) before anything touches a network."""
    name = paths.resolve_env(env_option)
    config_path = paths.config_file(name)
    secrets_path = paths.secrets_file(name)
    problems: list[Problem] = []

    raw = _read_yaml(config_path, problems, missing_hint=init_hint(name))
    settings: Settings | None = None
    if raw is not None:
        _apply_env_overrides(raw)
        try:
            settings = Settings.model_validate(raw)
        except ValidationError as error:
            problems += describe(error, Settings)

    secrets = _load_secrets(name, secrets_path, settings, require_secrets, problems)
    if problems or settings is None:
        raise BadInput(problems)
    return Environment(name, settings, secrets, config_path, secrets_path)


def init_hint(name: str) -> str:
    # The bundled example is for reading and planning; real environments get their own name.
    if name == paths.DEFAULT_ENV:
        return "`invoke config.init --env NAME` (the example is for planning; deploy your own)"
    return f"`invoke config.init --env {name}`"


def _read_yaml(path: Path, problems: list[Problem], missing_hint: str) -> dict[str, Any] | None:
    if not path.exists():
        problems.append(Problem(str(path), f"file not found; create it with {missing_hint}"))
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problems.append(Problem(where, f"not valid YAML: {getattr(error, 'problem', error)}"))
        return None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append(Problem(str(path), "must be a mapping of keys to values"))
        return None
    return data


def _apply_env_overrides(raw: dict[str, Any]) -> None:
    """JHUB__HUB__DOMAIN=x sets hub.domain; the value is read as YAML (for CI pipelines)."""
    for variable, text in sorted(os.environ.items()):
        if not variable.startswith(ENV_OVERRIDE_PREFIX):
            continue
        keys = [part.lower() for part in variable[len(ENV_OVERRIDE_PREFIX) :].split("__")]
        node = raw
        for key in keys[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        node[keys[-1]] = yaml.safe_load(text)


def _load_secrets(
    name: str,
    path: Path,
    settings: Settings | None,
    required: bool,
    problems: list[Problem],
) -> Secrets | None:
    overrides = {
        variable[len(SECRET_OVERRIDE_PREFIX) :].lower(): value
        for variable, value in os.environ.items()
        if variable.startswith(SECRET_OVERRIDE_PREFIX)
    }
    if not path.exists():
        if required and not overrides:
            problems.append(
                Problem(
                    str(path),
                    f"secrets file not found; generate it with {init_hint(name)}",
                )
            )
        if not overrides:
            return None
        raw: dict[str, Any] = {}
    else:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            problems.append(
                Problem(
                    str(path),
                    f"mode {mode:04o} lets other users read secrets; allowed is 0600 "
                    f"(run `chmod 600 {path}`)",
                )
            )
            return None
        data = _read_yaml(path, problems, missing_hint=init_hint(name))
        if data is None:
            return None
        raw = data
    raw.update(overrides)
    try:
        secrets = Secrets.model_validate(raw)
    except ValidationError as error:
        problems += [Problem(f"secrets.{p.key}", p.message) for p in describe(error, Secrets)]
        return None
    if (
        required
        and settings is not None
        and settings.hub.auth.type == "oauth"
        and not secrets.oauth_client_secret
    ):
        problems.append(
            Problem(
                "secrets.oauth_client_secret",
                f"empty; paste the client secret from your OAuth provider into {path}",
            )
        )
    return secrets


# ------------------------------------------------------------ error wording

PATTERN_WORDS = {
    r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$": (
        "must be a DNS label: lower-case letters, digits and '-', at most 63 characters"
    ),
    r"^[0-9a-f]{64}$": "must be 64 hexadecimal characters (`openssl rand -hex 32`)",
    r"^\d+[smhdwy]$": "must be a duration such as 15d, 12h or 2w",
    r"^\d+(B|KB|MB|GB|TB)$": "must be a size such as 40GB or 500MB",
    r"^v?\d+\.\d+\.\d+([-+][\w.]+)?$": "must be a chart version such as 4.4.0",
    r"^\d+(\.\d+){1,2}$": "must be a driver version such as 580.95.05",
    r"^\d{2}$": "must be a two-digit Fedora release such as 42",
    r"^[a-z0-9][a-z0-9._/:@-]*[a-z0-9]$": (
        "must be an image reference such as quay.io/org/image:tag"
    ),
}


def describe(error: ValidationError, model: type[BaseModel]) -> list[Problem]:
    """Turn pydantic's errors into 'key.path: what is wrong; what is allowed'."""
    problems: list[Problem] = []
    for item in error.errors(include_url=False):
        location = [part for part in item["loc"] if not _is_union_tag(part)]
        key = _dotted(location)
        kind = item["type"]
        message = str(item["msg"])
        if kind == "extra_forbidden":
            allowed = _allowed_keys(model, location[:-1])
            problems.append(
                Problem(key, f"unknown key; allowed here: {', '.join(allowed) or 'none'}")
            )
            continue
        if kind == "missing":
            problems.append(Problem(key, "required key is missing"))
            continue
        if message.startswith(("Value error, ", "Assertion failed, ")):
            message = message.split(", ", 1)[1]
            lines = message.splitlines()
            if all(": " in line for line in lines) and not _scalar(item.get("input")):
                for line in lines:
                    relative, text = line.split(": ", 1)
                    problems.append(Problem(_join(key, relative), text))
                continue
        if kind == "string_pattern_mismatch":
            pattern = str((item.get("ctx") or {}).get("pattern", ""))
            message = PATTERN_WORDS.get(pattern, message)
        value = item.get("input")
        if _scalar(value) and repr(value) not in message:
            message = f"{message} (got {value!r})"
        problems.append(Problem(key or "(top level)", message))
    return problems


def _is_union_tag(part: object) -> bool:
    # pydantic adds the union member it tried (e.g. 'str', 'float', 'function-after[...]').
    return isinstance(part, str) and (
        part in {"str", "float", "int", "bool", "none"} or "[" in part
    )


def _dotted(location: list[int | str]) -> str:
    key = ""
    for part in location:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key


def _join(base: str, relative: str) -> str:
    return f"{base}.{relative}" if base else relative


def _scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


def _allowed_keys(model: type[BaseModel], location: list[int | str]) -> list[str]:
    current: Any = model
    for part in location:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if _is_model(current) else None
        if field is None:
            return []
        current = _model_in(field.annotation)
        if current is None:
            return []
    return sorted(current.model_fields) if _is_model(current) else []


def _is_model(candidate: object) -> bool:
    return isinstance(candidate, type) and issubclass(candidate, BaseModel)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model class inside Optional[...] / list[...] / Annotated[...], if any."""
    if _is_model(annotation):
        return typing.cast(type[BaseModel], annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _model_in(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
