"""A per-environment record of the certificate orders this tool triggered.

Let's Encrypt issues at most 5 certificates for the same set of names in any 7
days, and a wasted one cannot be given back. What is counted and refused:
docs/tls.md, "The weekly limit and the attempt ledger".

The file is replaced atomically (a temporary file, fsync, rename), so a crash
or a full disk while writing leaves the previous ledger intact rather than a
truncated one that would forget attempts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from ...core import input_files, paths
from ...core.errors import BadInput, OperationFailed, Problem, one_line

FILE_NAME = "letsencrypt-attempts.json"
WINDOW = dt.timedelta(days=7)
LETSENCRYPT_LIMIT = 5
# Refuse once this many production attempts fall in the window: one stays spare.
REFUSE_AT = 4
# Entries older than this are dropped on write; they can never matter again.
KEEP = dt.timedelta(days=90)

Server = Literal["production", "staging"]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Attempt:
    id: str
    time: dt.datetime
    domain: str
    server: Server
    outcome: str

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["time"] = self.time.astimezone(dt.UTC).isoformat(timespec="seconds")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Attempt:
        when = dt.datetime.fromisoformat(str(data["time"]))
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        server: Server = "staging" if data.get("server") == "staging" else "production"
        return cls(
            id=str(data.get("id", "")),
            time=when,
            domain=str(data["domain"]),
            server=server,
            outcome=str(data.get("outcome", "unknown")),
        )


@dataclass(frozen=True)
class Allowance:
    """How many production attempts the week has left for a domain."""

    domain: str
    recent: tuple[Attempt, ...]

    @property
    def used(self) -> int:
        return len(self.recent)

    @property
    def full(self) -> bool:
        return self.used >= REFUSE_AT

    @property
    def next_free(self) -> dt.datetime | None:
        """When the oldest attempt in the window stops counting."""
        return min(a.time for a in self.recent) + WINDOW if self.recent else None

    def summary(self) -> str:
        text = f"{self.used} production attempt(s) for {self.domain} in the last 7 days"
        text += f" (Let's Encrypt allows {LETSENCRYPT_LIMIT}; this tool stops at {REFUSE_AT})"
        return text


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def for_environment(cls, env: str) -> Ledger:
        return cls(paths.state_dir(env) / FILE_NAME)

    # ------------------------------------------------------------------ reading

    def attempts(self) -> list[Attempt]:
        if not self.path.exists():
            return []
        # Refuse rather than start from zero: an unreadable ledger must not
        # turn into permission to spend the week's certificates.
        remedy = (
            "repair the JSON by hand, or move it aside if you are sure how many "
            "certificates were ordered this week (https://crt.sh lists issued ones)"
        )
        try:
            text = input_files.read_text(self.path)
        except BadInput as error:
            raise BadInput(
                [Problem(p.key, f"attempt ledger {p.message}; {remedy}") for p in error.problems]
            ) from None
        try:
            data = json.loads(text)
            return [Attempt.from_json(item) for item in data["attempts"]]
        except (ValueError, KeyError, TypeError) as error:
            raise BadInput(
                Problem(
                    str(self.path),
                    f"the attempt ledger is unreadable ({one_line(str(error))[:120]}); {remedy}",
                )
            ) from None

    def allowance(self, domain: str, now: dt.datetime) -> Allowance:
        since = now - WINDOW
        recent = tuple(
            attempt
            for attempt in self.attempts()
            if attempt.domain == domain and attempt.server == "production" and attempt.time > since
        )
        return Allowance(domain, recent)

    def require_room(self, domain: str, now: dt.datetime, force: bool) -> Allowance:
        """The allowance, or OperationFailed when the week is used up and not forced."""
        allowance = self.allowance(domain, now)
        if allowance.full and not force:
            free = allowance.next_free
            when = free.strftime("%Y-%m-%d %H:%M UTC") if free else "later"
            raise OperationFailed(
                f"{allowance.summary()}: refusing another",
                f"wait until {when}, when the oldest stops counting; rehearse meanwhile with "
                "--staging; --force overrides (check https://crt.sh first: a fifth "
                "certificate leaves no spare this week)",
            )
        return allowance

    # ------------------------------------------------------------------ writing

    def record(
        self, domain: str, server: Server, now: dt.datetime, outcome: str = "started"
    ) -> Attempt:
        """Add an attempt before the pod restart, so a crash afterwards still counts it."""
        attempt = Attempt(secrets.token_hex(6), now, domain, server, outcome)
        with self._locked():
            attempts = [*self.attempts(), attempt]
            self._write(attempts)
        return attempt

    def settle(self, attempt: Attempt, outcome: str) -> Attempt:
        """Set the outcome of a recorded attempt."""
        settled = replace(attempt, outcome=outcome)
        with self._locked():
            attempts = [settled if a.id == attempt.id else a for a in self.attempts()]
            if settled not in attempts:
                attempts.append(settled)
            self._write(attempts)
        return settled

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise read-modify-write between two operators on one machine."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.parent / f".{self.path.name}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write(self, attempts: list[Attempt]) -> None:
        # Measured from the newest entry, not the clock: a wrong clock can then only
        # keep entries longer, never drop one that still counts.
        newest = max((a.time for a in attempts), default=None)
        kept = sorted(
            (a for a in attempts if newest is None or a.time > newest - KEEP),
            key=lambda a: a.time,
        )
        text = json.dumps({"attempts": [a.to_json() for a in kept]}, indent=2) + "\n"
        self._remove_leftovers()
        descriptor, name = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(name, self.path)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        # The rename itself is durable only once the directory entry is.
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def _remove_leftovers(self) -> None:
        """Temporary files a killed process left behind never hold the ledger."""
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            stale.unlink(missing_ok=True)
