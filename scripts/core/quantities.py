"""Kubernetes-style CPU and memory quantities, parsed so limits can be compared."""

from __future__ import annotations

import re

_MEMORY = re.compile(r"^(?P<num>\d+(?:\.\d+)?)(?P<unit>Ki|Mi|Gi|Ti|K|M|G|T|k)?$")
_MEMORY_FACTORS = {
    None: 1,
    "k": 10**3,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}
_CPU = re.compile(r"^(?P<num>\d+(?:\.\d+)?)(?P<milli>m)?$")


def memory_bytes(text: str) -> int:
    """Bytes in a memory quantity such as ``1.8G`` or ``512Mi``; ValueError otherwise."""
    match = _MEMORY.match(str(text).strip())
    if not match:
        raise ValueError(
            f"{text!r} is not a memory quantity; use a number with K, M, G, T, Ki, Mi, Gi or Ti"
        )
    return int(float(match["num"]) * _MEMORY_FACTORS[match["unit"]])


def cpu_cores(value: str | float | int) -> float:
    """Cores in a CPU quantity such as ``2``, ``0.05`` or ``500m``; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a CPU quantity")
    if isinstance(value, int | float):
        if value <= 0:
            raise ValueError(f"{value!r} is not a positive CPU quantity")
        return float(value)
    match = _CPU.match(value.strip())
    if not match:
        raise ValueError(
            f"{value!r} is not a CPU quantity; use cores (2, 0.5) or millicores (500m)"
        )
    cores = float(match["num"]) / (1000 if match["milli"] else 1)
    if cores <= 0:
        raise ValueError(f"{value!r} is not a positive CPU quantity")
    return cores
