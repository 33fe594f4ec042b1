"""Memory units: canonical names, sizes in bytes and conversions.

Only byte units exist here; bits are not supported. Unit names are read case-insensitively
because students write "Mb", "mb" and "MB" alike for megabytes, so "Mb" means MB (10**6 bytes),
never megabits. The one exception is a bare lowercase "b", which is too ambiguous (bits, or a list
label such as "2 b)") and is not a unit; a bare "B" is bytes.
"""

from __future__ import annotations

UNIT_BYTES: dict[str, int] = {
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "TB": 1000**4,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
    "TiB": 1024**4,
}

_PREFIX_SYMBOLS = {"k": "K", "m": "M", "g": "G", "t": "T", "ki": "Ki", "mi": "Mi", "gi": "Gi", "ti": "Ti"}
_PREFIX_NAMES = {
    "kilo": "K",
    "mega": "M",
    "giga": "G",
    "tera": "T",
    "kibi": "Ki",
    "mebi": "Mi",
    "gibi": "Gi",
    "tebi": "Ti",
}


def _spellings() -> dict[str, str]:
    """Every accepted lowercase spelling mapped to its canonical unit name: "mb", "mbyte", "megabytes"..."""
    spellings = {"byte": "B", "bytes": "B", "octet": "B", "octets": "B"}
    # French writes octets: Ko, Mo, Go, Mio, "megaoctets"
    symbol_endings = ("b", "byte", "bytes", "o")
    name_endings = ("byte", "bytes", "octet", "octets")
    for prefixes, endings in ((_PREFIX_SYMBOLS, symbol_endings), (_PREFIX_NAMES, name_endings)):
        for prefix, canonical in prefixes.items():
            spellings.update({f"{prefix}{ending}": f"{canonical}B" for ending in endings})
    return spellings


_SPELLINGS = _spellings()


def canonical_unit(text: str) -> str | None:
    """The canonical name ("MB", "MiB", "B", ...) of a written unit, or None if it is not one."""
    word = text.strip().rstrip(".")
    if word == "B":
        return "B"
    return _SPELLINGS.get(word.lower())


def _require_unit(unit: str) -> str:
    canonical = canonical_unit(unit)
    if canonical is None:
        known = ", ".join(UNIT_BYTES)
        raise ValueError(f"unknown memory unit {unit!r} (known: {known}, or their spelled-out names)")
    return canonical


def to_bytes(value: float, unit: str) -> float:
    """``value`` expressed in ``unit``, in bytes."""
    return value * UNIT_BYTES[_require_unit(unit)]


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """``value`` expressed in ``from_unit``, in ``to_unit``."""
    return to_bytes(value, from_unit) / UNIT_BYTES[_require_unit(to_unit)]


def is_binary(unit: str) -> bool:
    """Whether the unit counts in powers of 1024 (KiB, MiB, ...)."""
    return _require_unit(unit).endswith("iB")
