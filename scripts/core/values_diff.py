"""What would change in a release's Helm values, as key paths, with secrets masked."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MASK = "«masked»"
# Keys whose values are credentials in z2jh values (secretToken, api_token,
# client_secret, passwords); their values are never shown, only that they changed.
_SECRET_KEY = re.compile(r"(token|secret|password|passwd|credential|private.?key)", re.I)
_SHOWN_LENGTH = 60


@dataclass(frozen=True)
class Change:
    path: str
    kind: str  # "added", "removed" or "changed"
    before: Any = None
    after: Any = None

    def describe(self) -> str:
        if self.kind == "added":
            return f"+ {self.path}: {_show(self.path, self.after)}"
        if self.kind == "removed":
            return f"- {self.path}"
        return f"~ {self.path}: {_show(self.path, self.before)} → {_show(self.path, self.after)}"


def normalised(values: Any) -> Any:
    """Values as helm stores them: a JSON round trip (tuples become lists, and so on)."""
    return json.loads(json.dumps(values))


def changes(before: Any, after: Any, path: str = "") -> list[Change]:
    """Every leaf that differs; lists of equal length are compared item by item."""
    if isinstance(before, dict) and isinstance(after, dict):
        found: list[Change] = []
        for key in sorted(set(before) | set(after), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in before:
                found.append(Change(where, "added", after=after[key]))
            elif key not in after:
                found.append(Change(where, "removed", before=before[key]))
            else:
                found += changes(before[key], after[key], where)
        return found
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        found = []
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            found += changes(old, new, f"{path}[{index}]")
        return found
    if before != after:
        return [Change(path or "(all values)", "changed", before, after)]
    return []


def summary(found: list[Change], limit: int = 15) -> list[str]:
    lines = [change.describe() for change in found[:limit]]
    if len(found) > limit:
        lines.append(f"… and {len(found) - limit} more")
    return lines


def _show(path: str, value: Any) -> str:
    last = path.rsplit(".", 1)[-1]
    if _SECRET_KEY.search(last) or _has_secret(value):
        return MASK
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _SHOWN_LENGTH else text[: _SHOWN_LENGTH - 1] + "…"


def _has_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_SECRET_KEY.search(str(k)) or _has_secret(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_secret(item) for item in value)
    return False
