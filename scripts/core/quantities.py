"""CPU and memory quantities: one reading, shared by every consumer.

The unit rule (docs/configuration.md, "Units"): a value in the config means what it
means to Kubernetes (k8s.io/apimachinery resource.Quantity):

- memory: a number of bytes, or a number with a decimal suffix k, M, G, T, P, E
  (powers of 1000: ``2G`` = 2,000,000,000 B) or a binary one Ki, Mi, Gi, Ti, Pi, Ei
  (powers of 1024: ``2Gi`` = 2,147,483,648 B); a fraction of a byte rounds up;
- CPU: cores (``2``, ``0.5``) or millicores (``500m``), in whole millicores.

The tool then hands every reader the same exact figure: integer bytes and cores as
a decimal of whole millicores. KubeSpawner and Kubernetes read those alike, which
they do not for a suffix: KubeSpawner's ByteSpecification (jupyterhub/traitlets.py)
reads K, M, G, T as powers of 1024, Kubernetes reads G as 10^9 and has no K, and
KubeSpawner's cpu traits take only numbers.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from .errors import shown

# Kubernetes' grammar (apimachinery pkg/api/resource/quantity.go): digits with an
# optional fraction, then a binary suffix, a decimal one, or a decimal exponent.
_QUANTITY = re.compile(
    r"^(?P<num>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[mkMGTPE]|[eE][+-]?[0-9]+)?$"
)
_FACTORS: dict[str, Fraction] = {
    "": Fraction(1),
    "m": Fraction(1, 1000),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
    "Ti": Fraction(2**40),
    "Pi": Fraction(2**50),
    "Ei": Fraction(2**60),
}
# Kubernetes keeps quantities in 64 bits.
_LARGEST = 2**63 - 1
MEMORY_FORMS = "bytes (2147483648) or a number with k, M, G, T (powers of 1000) or Ki, Mi, Gi, Ti"
CPU_FORMS = "cores (2, 0.5) or millicores (500m)"


def _exact(value: object, what: str, forms: str) -> tuple[Fraction, str]:
    """The exact value of a quantity and the suffix it was written with."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{shown(value)} is not a {what} quantity; use {forms}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{shown(value)} is not a finite number; use {forms}")
        value = repr(value)
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{shown(value)} is negative; use {forms}")
        return Fraction(value), ""
    text = value.strip()
    match = _QUANTITY.match(text)
    if not match:
        hint = ""
        if re.match(r"^[0-9.]+K$", text):
            hint = " (K is not a Kubernetes unit: k is 1000, Ki is 1024)"
        elif re.match(r"^[0-9.]+(Ki|Mi|Gi|Ti|Pi|Ei|[kMGTPE])B$", text):
            hint = " (no B after the unit)"
        raise ValueError(f"{shown(value)} is not a {what} quantity{hint}; use {forms}")
    number = Fraction(match["num"] if not match["num"].endswith(".") else match["num"][:-1])
    suffix = match["suffix"] or ""
    if suffix[:1] in ("e", "E"):
        return number * Fraction(10) ** int(suffix[1:]), suffix
    return number * _FACTORS[suffix], suffix


def memory_bytes(value: str | int | float) -> int:
    """Bytes in a memory quantity, as Kubernetes counts them (rounded up to a byte)."""
    exact, suffix = _exact(value, "memory", MEMORY_FORMS)
    if suffix == "m":
        raise ValueError(
            f"{shown(value)} is {float(exact):g} bytes: to Kubernetes m means thousandths; "
            "write M (10^6) or Mi (2^20)"
        )
    found = math.ceil(exact)
    if found > _LARGEST:
        raise ValueError(f"{shown(value)} is larger than Kubernetes can hold")
    return found


def cpu_millicores(value: str | int | float) -> int:
    """Millicores in a CPU quantity; above zero and in whole millicores."""
    exact, suffix = _exact(value, "CPU", CPU_FORMS)
    if suffix.endswith("i"):
        raise ValueError(f"{shown(value)} is not a CPU quantity; use {CPU_FORMS}")
    milli = exact * 1000
    if milli <= 0:
        raise ValueError(f"{shown(value)} is not a positive CPU quantity; use {CPU_FORMS}")
    if milli.denominator != 1:
        raise ValueError(
            f"{shown(value)} is finer than a millicore (0.001 CPU), the smallest step "
            f"Kubernetes schedules; use {CPU_FORMS}"
        )
    if milli > _LARGEST:
        raise ValueError(f"{shown(value)} is larger than Kubernetes can hold")
    return int(milli)


def cpu_cores(value: str | int | float) -> float:
    """Cores in a CPU quantity such as ``2``, ``0.05`` or ``500m``; ValueError otherwise."""
    return cpu_millicores(value) / 1000


def cores(milli: int) -> float:
    """Whole millicores as the decimal number of cores KubeSpawner and the chart take.

    A float of at most three decimals prints as exactly those decimals, which is
    what Kubernetes then reads (50 → 0.05 → 50m).
    """
    return milli / 1000
