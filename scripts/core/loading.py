"""Load one environment: its YAML, its secrets file and environment overrides.

All problems are gathered and raised together as one BadInput, so the operator
fixes the file once instead of once per error.
"""

from __future__ import annotations

import os
import re
import stat
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from . import input_files, paths, redaction
from .errors import SHOWN_VALUE_LIMIT, BadInput, Problem, shown
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
    """Validate config/<env>.yaml (and its secrets) before anything touches a network.

    The secrets found are registered for redaction at once (core.redaction), even
    when they turn out invalid, so nothing printed afterwards in this process can
    show one, whichever code prints it.
    """
    name = paths.resolve_env(env_option)
    config_path = paths.config_file(name)
    secrets_path = paths.secrets_file(name)
    problems: list[Problem] = []

    raw = _read_yaml(config_path, problems, missing_hint=init_hint(name))
    settings: Settings | None = None
    if raw is not None:
        sources = _apply_env_overrides(raw, problems)
        if not problems:
            try:
                settings = Settings.model_validate(raw)
            except ValidationError as error:
                problems += describe(error, Settings, raw, sources=sources)

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
    if not path.exists() and not path.is_symlink():
        problems.append(Problem(str(path), f"file not found; create it with {missing_hint}"))
        return None
    try:
        data = input_files.read_yaml(path)
    except BadInput as error:
        problems += error.problems
        return None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append(Problem(str(path), "must be a mapping of keys to values"))
        return None
    return data


def _apply_env_overrides(raw: dict[str, Any], problems: list[Problem]) -> dict[str, str]:
    """JHUB__HUB__DOMAIN=x sets hub.domain; the value is read as YAML (for CI pipelines).

    Returns which variable set which key path, so errors can name the variable.
    """
    sources: dict[str, str] = {}
    for variable, text in sorted(os.environ.items()):
        if not variable.startswith(ENV_OVERRIDE_PREFIX):
            continue
        keys = [part.lower() for part in variable[len(ENV_OVERRIDE_PREFIX) :].split("__")]
        dotted = ".".join(keys)
        if not all(keys):
            problems.append(
                Problem(
                    variable,
                    "not a key path; name one key per '__', e.g. JHUB__HUB__DOMAIN sets hub.domain",
                )
            )
            continue
        node = raw
        blocked = None
        for depth, key in enumerate(keys[:-1]):
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            if not isinstance(child, dict):
                blocked = ".".join(keys[: depth + 1])
                break
            node = child
        if blocked is not None:
            problems.append(
                Problem(
                    f"{variable} (sets {dotted})",
                    f"{blocked} is not a mapping, so an environment variable cannot set a key "
                    "inside it; change it in the config file",
                )
            )
            continue
        try:
            node[keys[-1]] = input_files.parse_yaml(text, f"{variable} (sets {dotted})")
        except BadInput as error:
            problems += error.problems
            continue
        sources[dotted] = variable
    return sources


def _secret_overrides(problems: list[Problem]) -> tuple[dict[str, str], dict[str, str]]:
    """JHUB_SECRET_GRAFANA_ADMIN_PASSWORD=... sets secrets.grafana_admin_password, as text."""
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for variable, value in os.environ.items():
        if not variable.startswith(SECRET_OVERRIDE_PREFIX):
            continue
        key = variable[len(SECRET_OVERRIDE_PREFIX) :].lower()
        if not key:
            problems.append(
                Problem(variable, "names no secret; e.g. JHUB_SECRET_GRAFANA_ADMIN_PASSWORD")
            )
            continue
        values[key] = value
        sources[key] = variable
    return values, sources


def _load_secrets(
    name: str,
    path: Path,
    settings: Settings | None,
    required: bool,
    problems: list[Problem],
) -> Secrets | None:
    overrides, sources = _secret_overrides(problems)
    redaction.register(_strings(overrides), source=f"environment:{name}")
    if not path.exists() and not path.is_symlink():
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
        if path.is_dir():
            problems.append(Problem(str(path), "is a directory; the secrets file must be a file"))
            return None
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
    # Before validation: a value refused below is still a secret, and still hidden.
    redaction.register(_strings(raw), source=f"environment:{name}")
    try:
        secrets = Secrets.model_validate(raw)
    except ValidationError as error:
        problems += [
            Problem(f"secrets.{p.key}", p.message)
            for p in describe(error, Secrets, raw, sources=sources, secret=True)
        ]
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


def _strings(data: object) -> list[str]:
    """Every string (and number, as written) in a parsed document, for redaction."""
    if isinstance(data, dict):
        return [text for value in data.values() for text in _strings(value)]
    if isinstance(data, list):
        return [text for value in data for text in _strings(value)]
    if isinstance(data, str | int | float) and not isinstance(data, bool):
        return [str(data)]
    return []


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


# Key names whose values are never echoed, wherever they sit.
_SECRET_NAME = re.compile(r"password|passwd|secret|token|credential|private", re.IGNORECASE)
_ABSENT = object()


def describe(
    error: ValidationError,
    model: type[BaseModel],
    data: object = _ABSENT,
    *,
    sources: dict[str, str] | None = None,
    secret: bool = False,
) -> list[Problem]:
    """Turn pydantic's errors into 'key.path: what is wrong; what is allowed'.

    `data` is the input that was validated: the path reported is walked through
    it, so keys are named exactly as the user wrote them (pydantic's locations
    mix in the union member it tried, such as 'str' or 'function-after[...]',
    which a user's key may equally be called). `secret` (and key names such as
    *password*) keeps the rejected value out of the message, whatever the rule.
    `sources` maps key paths to the environment variable that set them.
    """
    problems: list[Problem] = []
    # One value tried against each member of a union gives one error per member.
    unions: dict[str, list[tuple[Any, Problem]]] = {}
    for item in error.errors(include_url=False):
        location, from_union = _user_location(item["loc"], data, str(item["type"]))
        key = _dotted(location)
        hidden = secret or any(_SECRET_NAME.search(str(part)) for part in location)
        for found in _describe_one(item, model, location, key, hidden):
            where = _with_source(found.key, sources or {})
            if from_union:
                if where not in unions:
                    problems.append(Problem(where, ""))
                unions.setdefault(where, []).append((item, found))
            else:
                problems.append(Problem(where, found.message))
    return [
        _union_problem(problem.key, unions[problem.key], secret)
        if problem.key in unions
        else problem
        for problem in problems
    ]


_TYPE_WORDS = {
    "string_type": "text",
    "float_type": "a number",
    "int_type": "a whole number",
    "bool_type": "true or false",
    "dict_type": "a mapping",
    "list_type": "a list",
    "finite_number": "a finite number",
}


def _union_problem(key: str, tried: list[tuple[Any, Problem]], secret: bool) -> Problem:
    """The member whose own rule refused the value, else the types that were allowed."""
    specific = [found.message for item, found in tried if item["type"] not in _TYPE_WORDS]
    if specific:
        return Problem(key, "; ".join(dict.fromkeys(specific)))
    value = tried[0][0].get("input")
    allowed = " or ".join(dict.fromkeys(_TYPE_WORDS[item["type"]] for item, _ in tried))
    got = "" if secret or not _scalar(value) else f" (got {shown(value)})"
    if not got and isinstance(value, list | dict):
        got = f" (got {'a list' if isinstance(value, list) else 'a mapping'})"
    return Problem(key, f"must be {allowed}{got}")


def _describe_one(
    item: Any, model: type[BaseModel], location: list[Any], key: str, hidden: bool
) -> list[Problem]:
    kind = str(item["type"])
    message = str(item["msg"])
    value = item.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, location[:-1])
        return [Problem(key, f"unknown key; allowed here: {', '.join(allowed) or 'none'}")]
    if kind == "missing":
        return [Problem(key, "required key is missing")]
    if kind == "invalid_key":
        return [Problem(key, "keys must be text; quote the key")]
    ours = message.startswith(("Value error, ", "Assertion failed, "))
    if ours:
        message = message.split(", ", 1)[1]
        lines = message.splitlines()
        if all(_RELATIVE_KEY.match(line) for line in lines) and not _scalar(value):
            # A model validator's 'relative.key: message' lines, one problem each.
            return [
                Problem(_join(key, relative), text)
                for relative, text in (line.split(": ", 1) for line in lines)
            ]
    if kind == "string_pattern_mismatch":
        pattern = str((item.get("ctx") or {}).get("pattern", ""))
        message = PATTERN_WORDS.get(pattern, message)
    if kind == "finite_number":
        message = "must be a finite number (.inf and .nan are not allowed)"
    if ours and isinstance(value, str) and len(value) > SHOWN_VALUE_LIMIT:
        # Whatever validator raised it: a long value is echoed shortened.
        message = message.replace(repr(value), shown(value)).replace(value, shown(value))
    if hidden:
        # Never the value, not even a part of it: the rule alone.
        if _scalar(value) and value not in (None, "") and str(value) in message:
            message = message.replace(str(value), redaction.REDACTED)
        if ours:
            # Our validators quote what they refuse, perhaps shortened: quote nothing.
            message = re.sub(r"'[^']*'|\"[^\"]*\"", redaction.REDACTED, message)
        return [Problem(key or "(top level)", message)]
    # Our validators echo the value themselves (shortened); pydantic's words do not.
    if not ours and _scalar(value) and repr(value) not in message:
        message = f"{message} (got {shown(value)})"
    return [Problem(key or "(top level)", message)]


# A model validator's line starts with the key it is about ("min_nodes: ...", "a.b[0].c: ...");
# a value's repr ("{'x': 1} is not ...") does not.
_RELATIVE_KEY = re.compile(r"^[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*|\[\d+\])*: ")


def _user_location(loc: tuple[int | str, ...], data: object, kind: str) -> tuple[list[Any], bool]:
    """The parts of pydantic's location that are keys and indexes of the input."""
    if data is _ABSENT:
        kept = [part for part in loc if not _is_union_tag(part)]
        return kept, len(kept) != len(loc)
    node: object = data
    path: list[Any] = []
    skipped = False
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if isinstance(node, dict):
            if part in node:
                # A key, even one YAML read as a number or null: named as written.
                path.append(_yaml_scalar(part))
                node = node[part]
                continue
            if kind == "invalid_key" and last:
                written = next((k for k in node if str(k) == str(part)), part)
                path.append(_yaml_scalar(written))
                node = None
                continue
            if kind == "missing" and last:
                path.append(part)
                continue
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
            continue
        # The union member pydantic tried, or a wrapper's name: not the user's key.
        skipped = True
    return path, skipped


def _yaml_scalar(key: object) -> str:
    if isinstance(key, str):
        return key
    return str(yaml.safe_dump(key, default_flow_style=True)).removesuffix("\n...\n").strip()


def _with_source(key: str, sources: dict[str, str]) -> str:
    for dotted, variable in sources.items():
        if key == dotted or key.startswith((f"{dotted}.", f"{dotted}[")):
            return f"{key} (set by {variable})"
    return key


def _is_union_tag(part: object) -> bool:
    # Only for errors without their input: pydantic's name for the union member it tried.
    return isinstance(part, str) and (
        part in {"str", "float", "int", "bool", "none"} or "[" in part
    )


def _dotted(location: list[Any]) -> str:
    key = ""
    for part in location:
        if isinstance(part, int) and not isinstance(part, bool):
            key += f"[{part}]"
            continue
        text = str(part)
        if len(text) > SHOWN_VALUE_LIMIT:
            # As written, but a 5,000-character key would hide the message behind it.
            text = f"{text[:40]}…({len(text)} characters)"
        key += f".{text}" if key else text
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
