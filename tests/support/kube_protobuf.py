"""Kubernetes' protobuf encoding of a Secret or ConfigMap, decoded to JSON for the emulator.

The real helm binary keeps its releases in Secrets through client-go's typed clientset,
which sends built-in kinds as ``application/vnd.kubernetes.protobuf`` (and accepts JSON
back). kmock reads only JSON, so the emulator turns such a body into JSON first. Only the
fields of these two kinds are known (and a DeleteOptions body is accepted); anything else
is refused with 415, as a server would refuse a body it cannot decode.

Wire format: apimachinery pkg/runtime/serializer/protobuf/protobuf.go (the 4-byte magic
``k8s\\x00`` followed by a ``runtime.Unknown``: 1 typeMeta {1 apiVersion, 2 kind},
2 raw); field numbers from kubernetes/api v0.35 core/v1/generated.proto (Secret:
1 metadata, 2 data, 3 type, 4 stringData, 5 immutable; ConfigMap: 1 metadata, 2 data,
3 binaryData, 4 immutable) and apimachinery pkg/apis/meta/v1/generated.proto
(ObjectMeta: 1 name, 2 generateName, 3 namespace, 5 uid, 6 resourceVersion,
7 generation, 11 labels, 12 annotations, 14 finalizers).
"""

from __future__ import annotations

import base64
from typing import Any

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"


class Undecodable(ValueError):
    """A protobuf body of a kind (or shape) this decoder does not know."""


def _varint(buffer: bytes, at: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if at >= len(buffer):
            raise Undecodable("truncated varint")
        byte = buffer[at]
        at += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, at
        shift += 7


def _fields(buffer: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs: varints as int, length-delimited as bytes."""
    at, found = 0, []
    while at < len(buffer):
        key, at = _varint(buffer, at)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, at = _varint(buffer, at)
        elif wire == 2:
            size, at = _varint(buffer, at)
            value, at = buffer[at : at + size], at + size
        elif wire == 1:
            value, at = buffer[at : at + 8], at + 8
        elif wire == 5:
            value, at = buffer[at : at + 4], at + 4
        else:
            raise Undecodable(f"wire type {wire}")
        found.append((number, value))
    return found


def _bytes(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise Undecodable("expected a length-delimited field")
    return value


def _entry(value: int | bytes) -> tuple[str, bytes]:
    key, item = b"", b""
    for number, part in _fields(_bytes(value)):
        if number == 1:
            key = _bytes(part)
        elif number == 2:
            item = _bytes(part)
    return key.decode(), item


_META_STRINGS = {1: "name", 2: "generateName", 3: "namespace", 5: "uid", 6: "resourceVersion"}


def _metadata(buffer: bytes) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for number, value in _fields(buffer):
        if number in _META_STRINGS:
            meta[_META_STRINGS[number]] = _bytes(value).decode()
        elif number == 7 and isinstance(value, int):
            meta["generation"] = value
        elif number in (11, 12):
            key, item = _entry(value)
            meta.setdefault("labels" if number == 11 else "annotations", {})[key] = item.decode()
        elif number == 14:
            meta.setdefault("finalizers", []).append(_bytes(value).decode())
    return meta


def decode(body: bytes) -> dict[str, Any]:
    """The JSON form of a protobuf-encoded Secret or ConfigMap."""
    if not body.startswith(MAGIC):
        raise Undecodable("no k8s protobuf magic")
    unknown = dict(_fields(body[len(MAGIC) :]))
    type_meta = dict(_fields(_bytes(unknown.get(1, b""))))
    api_version = _bytes(type_meta.get(1, b"")).decode()
    kind = _bytes(type_meta.get(2, b"")).decode()
    if kind == "DeleteOptions":
        # helm's uninstall sends one with every DELETE; the emulator deletes in the
        # foreground either way, so the options themselves are not needed.
        return {"apiVersion": api_version, "kind": kind}
    if (api_version, kind) not in {("v1", "Secret"), ("v1", "ConfigMap")}:
        raise Undecodable(f"{api_version} {kind} is not decoded here")
    obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind}
    binary_data = 2 if kind == "Secret" else 3
    for number, value in _fields(_bytes(unknown.get(2, b""))):
        if number == 1:
            obj["metadata"] = _metadata(_bytes(value))
        elif number == binary_data:
            key, item = _entry(value)
            name = "data" if kind == "Secret" else "binaryData"
            obj.setdefault(name, {})[key] = base64.b64encode(item).decode()
        elif kind == "ConfigMap" and number == 2:
            key, item = _entry(value)
            obj.setdefault("data", {})[key] = item.decode()
        elif kind == "Secret" and number == 3:
            obj["type"] = _bytes(value).decode()
        elif kind == "Secret" and number == 4:
            key, item = _entry(value)
            obj.setdefault("stringData", {})[key] = item.decode()
        elif (kind, number) in {("Secret", 5), ("ConfigMap", 4)}:
            obj["immutable"] = bool(value)
    return obj
