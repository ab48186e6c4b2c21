"""Keep secrets out of everything this process prints or logs, whoever prints it.

One process-wide registry: loading an environment registers its secrets here
(`core.loading`), and both the console and every log record consult it, so
whether a line is redacted never depends on how a task was written. Besides the
known values (and the forms they take on the wire: base64, JSON and URL
escaping) the data of any Kubernetes Secret is removed from text that carries
one — a debug log of an API response, helm's stderr — because a Secret may hold
what we never knew (a certificate's private key, a helm release's values).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import sys
import threading
import traceback
import urllib.parse
from collections.abc import Iterable
from types import TracebackType
from typing import Any

REDACTED = "«redacted»"
# Shorter values would match ordinary words; every generated secret is far longer.
MIN_LENGTH = 6


class _Registry:
    """What is known so far; one per process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sources: dict[str, frozenset[str]] = {}
        self.pattern: re.Pattern[str] | None = None
        self.installed = False


_registry = _Registry()


def register(values: Iterable[str], source: str = "") -> None:
    """Never show these values (or their encodings) again in this process.

    Values registered under a named source replace that source's earlier ones
    (loading environment 'dev' twice keeps one set); unnamed ones accumulate.
    """
    found = {form for value in values if value for form in encoded_forms(str(value))}
    with _registry.lock:
        sources = _registry.sources
        sources[source] = frozenset(found) if source else sources.get("", frozenset()) | found
        known = sorted(set().union(*sources.values()), key=len, reverse=True)
        # Longest first: a secret that contains another is replaced whole.
        _registry.pattern = re.compile("|".join(map(re.escape, known))) if known else None
    install()


def encoded_forms(value: str) -> set[str]:
    """The value and the ways it appears in API bodies and URLs."""
    if len(value) < MIN_LENGTH:
        return set()
    raw = value.encode("utf-8")
    forms = {
        value,
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        json.dumps(value)[1:-1],
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote_plus(value),
    }
    # Inside a longer base64 text (a kubeconfig, a values file) the value starts at
    # one of three byte offsets; the characters that encode its bytes alone match.
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        first = -(-offset * 8 // 6)
        last = (offset + len(raw)) * 8 // 6
        core = encoded[first:last]
        if len(core) >= 8:
            forms.add(core)
    forms.add(base64.b64encode(raw).decode().rstrip("="))
    return {form for form in forms if len(form) >= MIN_LENGTH}


def known_values() -> int:
    """How many strings are redacted (for tests and --debug output)."""
    with _registry.lock:
        return len(set().union(*_registry.sources.values()))


# ---------------------------------------------------------------- Secret bodies

_QUOTE = r"""(?:\\{0,3}["'])?"""
_SECRET_MARKER = re.compile(
    rf"{_QUOTE}kind{_QUOTE}\s*[:=]\s*{_QUOTE}Secret(?:List)?\b"
    rf"|{_QUOTE}type{_QUOTE}\s*[:=]\s*{_QUOTE}"
    r"(?:Opaque|kubernetes\.io/|helm\.sh/release|bootstrap\.kubernetes\.io/)"
)
# A Secret's data is a flat map of names to strings, so its braces never nest.
_DATA_MAP = re.compile(rf"(?P<key>{_QUOTE}(?:data|stringData){_QUOTE}\s*:\s*)\{{[^{{}}]*\}}")
_STRING_DATA_MAP = re.compile(rf"(?P<key>{_QUOTE}stringData{_QUOTE}\s*:\s*)\{{[^{{}}]*\}}")
_BLOCK_KEY = re.compile(r"^(?P<indent>[ \t]*(?:- )?)(?:data|stringData):[ \t]*$")
_PRIVATE_KEY = re.compile(
    r"-----BEGIN (?P<kind>[A-Z0-9 ]*)PRIVATE KEY-----.*?-----END (?P=kind)PRIVATE KEY-----",
    re.DOTALL,
)


def _redact_secret_bodies(text: str) -> str:
    if "PRIVATE KEY-----" in text:
        text = _PRIVATE_KEY.sub(
            f"-----BEGIN PRIVATE KEY----- {REDACTED} -----END PRIVATE KEY-----", text
        )
    if "stringData" in text:
        text = _STRING_DATA_MAP.sub(rf'\g<key>"{REDACTED}"', text)
    if "data" not in text or not _SECRET_MARKER.search(text):
        return text
    text = _DATA_MAP.sub(rf'\g<key>"{REDACTED}"', text)
    return _redact_yaml_blocks(text)


def _redact_yaml_blocks(text: str) -> str:
    """`data:` followed by more-indented `name: value` lines (kubectl and helm YAML)."""
    lines = text.split("\n")
    kept: list[str] = []
    inside: int | None = None
    for line in lines:
        indent = len(line) - len(line.lstrip(" \t-"))
        if inside is not None:
            if line.strip() and indent > inside:
                continue
            inside = None
        kept.append(line)
        match = _BLOCK_KEY.match(line)
        if match:
            inside = len(match["indent"])
            kept[-1] = f"{line} {REDACTED}"
    return "\n".join(kept)


def redact(text: str) -> str:
    """The text with every known secret and every Secret's data replaced."""
    if not text:
        return text
    pattern = _registry.pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    return _redact_secret_bodies(text)


# ---------------------------------------------------------------- logs and tracebacks


class _RedactedRecord(logging.LogRecord):
    """A record whose message is redacted however late it is formatted."""

    def getMessage(self) -> str:
        return redact(super().getMessage())


def _redact_record(record: logging.LogRecord) -> logging.LogRecord:
    if type(record) is logging.LogRecord:
        record.__class__ = _RedactedRecord
    try:
        # Formatted now, so handlers that read msg/args directly see no secret either.
        message = logging.LogRecord.getMessage(record)
    except Exception:
        pass  # a broken format string is the handler's to report
    else:
        record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[0] is not None:
        # Formatter.format keeps an exc_text that is already set.
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


def format_exception(error: BaseException) -> str:
    return redact("".join(traceback.format_exception(type(error), error, error.__traceback__)))


def install() -> None:
    """Redact every log record and uncaught traceback of this process (once; idempotent).

    A record factory rather than a handler filter: handler filters see only the
    handlers present when they are added (invoke's --debug adds its own, pytest
    adds others), while every record of every library passes through the factory.
    """
    with _registry.lock:
        if _registry.installed:
            return
        _registry.installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return _redact_record(previous(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    previous_hook = sys.excepthook

    def excepthook(
        kind: type[BaseException], error: BaseException, trace: TracebackType | None
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            previous_hook(kind, error, trace)
            return
        text = "".join(traceback.format_exception(kind, error, trace))
        print(redact(text), file=sys.stderr, end="", flush=True)

    sys.excepthook = excepthook

    def thread_hook(arguments: threading.ExceptHookArgs) -> None:
        if arguments.exc_type is SystemExit:
            return
        text = "".join(
            traceback.format_exception(
                arguments.exc_type, arguments.exc_value, arguments.exc_traceback
            )
        )
        name = arguments.thread.name if arguments.thread else "a thread"
        print(f"Exception in {name}:\n{redact(text)}", file=sys.stderr, end="", flush=True)

    threading.excepthook = thread_hook
