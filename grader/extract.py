"""Numbers, tensor shapes and nearby words in students' markdown prose and cell outputs.

Everything works on normalized text (see ``normalize``): the offsets that ``find_numbers`` and
``find_shapes`` report index into ``normalize(text)``, and ``mentions_near`` expects that same text.
"""

from __future__ import annotations

import bisect
import functools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import Decimal

from grader.units import canonical_unit

# --- normalization -------------------------------------------------------------------------------

_UNICODE_SPACES = re.compile("[\u00a0\u2009\u202f]")
_SUPERSCRIPT_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_SUPERSCRIPT_RUN = re.compile(r"(?<=\d)[⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+")
_TEXT_COMMAND = re.compile(r"\\(?:text|textrm|textbf|textit|mathrm|mathbf|mathit|operatorname)\s*\{([^{}]*)\}")
_FRACTION = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_ESCAPED_SYMBOL = re.compile(r"\\([%_])")
_TIMES = re.compile(r"\\(?:times|cdot)(?![A-Za-z])|&times;|×")
_DROPPED_COMMANDS = re.compile(r"\\(?:lceil|rceil|lfloor|rfloor|left|right)(?![A-Za-z])")
_LATEX_SPACE = re.compile(r"\\[,;: ]|~|&nbsp;")
_MATH_DELIMITERS = re.compile(r"\\[()\[\]]|\$")
_BRACES = re.compile(r"[{}]")
_BOLD_MARKERS = re.compile(r"(?<!\d)(?:\*\*|__)|(?:\*\*|__)(?!\d)")
_MULTIPLICATION_BETWEEN_DIGITS = re.compile(r"(?<=\d)[ \t]*(?:\*(?!\*)|·|⋅)[ \t]*(?=\d)")


def _superscript_to_power(match: re.Match[str]) -> str:
    return "^" + match.group().translate(_SUPERSCRIPT_DIGITS)


_UNDERBRACE = re.compile(r"\\underbrace\s*\{([^{}]*)\}\s*_\s*\{([^{}]*)\}")


def _unwrap_latex_groups(text: str) -> str:
    """``\\text{a}`` -> ``a`` and ``\\frac{a}{b}`` -> ``a/b``, innermost first, until none is left."""
    previous = None
    while previous != text:
        previous = text
        text = _TEXT_COMMAND.sub(r"\1", text)
        text = _FRACTION.sub(r"\1/\2", text)
    return text


def normalize(text: str) -> str:
    """Plain, matchable text from markdown with LaTeX math.

    Multiplication signs (``\\times``, ``\\cdot``, ``×``, ``*`` between numbers) become `` x ``; math
    delimiters, braces, bold markers and ceiling/floor/sizing commands disappear; ``\\text{a}`` becomes
    ``a`` and ``\\frac{a}{b}`` becomes ``a/b``; LaTeX and Unicode thin or non-breaking spaces become plain
    spaces; superscript exponents (``10⁵``) become ``10^5``. Case is kept. Offsets into the result do not
    correspond to offsets into ``text``. Normalizing twice gives the same text as normalizing once.
    """
    text = _UNICODE_SPACES.sub(" ", text).replace("\u2212", "-")
    text = _SUPERSCRIPT_RUN.sub(_superscript_to_power, text)
    text = _UNDERBRACE.sub(r"\1 = \2", text)
    text = _unwrap_latex_groups(text)
    text = _ESCAPED_SYMBOL.sub(r"\1", text)
    text = _TIMES.sub(" x ", text)
    text = _DROPPED_COMMANDS.sub("", text)
    text = _LATEX_SPACE.sub(" ", text)
    text = _MATH_DELIMITERS.sub("", text)
    text = _BRACES.sub("", text)
    text = _BOLD_MARKERS.sub("", text)
    return _MULTIPLICATION_BETWEEN_DIGITS.sub(" x ", text)


# --- numbers -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    """A number as written: its value, where it stands in the normalized text, and how precisely it was
    written (``resolution`` is half a unit of its last digit, in the value's own scale)."""

    value: float
    text: str
    start: int
    end: int
    resolution: float
    unit: str | None
    percent: bool = False


# A number must stand on its own: not glued to a word, a digit or a dot before it ("conv2d", "layer1",
# "x86", "1.2.3"), except after "<digit>x" as in "100x150".
_STANDS_ALONE = r"(?:(?<![\w.])|(?<=\d[xX]))"
_SIGN = r"(?P<sign>-(?=\.?\d))?"
_MANTISSA = r"""
    (?P<mantissa>
        (?!0,)\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!,?\d)   # comma-grouped thousands: 903,400 or 1,234.5
      | (?P<dot_grouped>\d{1,3}(?:\.\d{3}){2,}(?:,\d+)?(?![.,]?\d)   # dot-grouped: 3.613.600, 1.500.000,5
          | \d{1,3}\.\d{3},\d+(?![.,]?\d))       #   and 903.400,5
      | (?P<decimal_comma>\d+,\d{1,2}(?![\d,])(?=[ \t]?[A-Za-z%]) | 0,\d+(?![\d,]))
                                                # decimal comma before a unit: 14,85 MB, 565,6 MB, 0,015
      | \d+(?:\.\d+)?                           # plain integer or decimal: 903400, 14.85
      | \.\d+                                   # decimal without its leading zero: .5
    )
    (?!\.\d)                                    # not the head of a version or an address: 1.2.3
"""
# "903.400" is 903.4 in English and 903,400 in German or Portuguese: both readings are reported.
_DOT_THOUSANDS = re.compile(r"[1-9]\d{0,2}\.\d{3}")
_SCALE = r"""
    (?:
        [eE](?P<exponent>[-+]?\d+)              # 9.034e5, 9.034E+05
      | [ \t]*[xX][ \t]*10(?:\^|\*\*)(?P<ten_power>[-+]?\d+)   # 9.034 x 10^5
      | (?:\^|\*\*)(?P<power>[-+]?\d+)          # 10^6, 2^10
    )?
    (?!\d)
"""
_NUMBER = re.compile(_STANDS_ALONE + _SIGN + _MANTISSA + _SCALE, re.VERBOSE)
# Thousands separated by single spaces: "903 400". Also read as separate numbers, since "100 200 400"
# may be a list.
_SPACE_GROUPED_NUMBER = re.compile(r"(?<![\w.,])" + _SIGN + r"(?P<mantissa>\d{1,3}(?: \d{3})+(?:\.\d+)?)(?!\.?\d)")

_PERCENT = re.compile(r"[ \t]?%|[ \t]+percent\b", re.IGNORECASE)
_MULTIPLIER_WORD = re.compile(r"[ \t]*(?P<word>thousand|million|billion|trillion)s?\b", re.IGNORECASE)
_MULTIPLIER_LETTER = re.compile(r"(?P<letter>[kKM])(?![A-Za-z])")
_WORD = re.compile(r"[ \t]*(?P<word>[A-Za-z]+)")
_MULTIPLIERS = {
    "thousand": 10**3,
    "million": 10**6,
    "billion": 10**9,
    "trillion": 10**12,
    "k": 10**3,
    "K": 10**3,
    "M": 10**6,
}
_LARGEST_EXPONENT = 300


@dataclass(frozen=True)
class _Suffix:
    """What follows a number's digits: a percent sign, or a multiplier and/or a memory unit."""

    end: int
    multiplier: int = 1
    unit: str | None = None
    percent: bool = False


def _read_multiplier(text: str, pos: int) -> tuple[int, int]:
    """(multiplier, end) for "million", " thousand", or a letter glued to the digits: "903.4k", "0.9M"."""
    word = _MULTIPLIER_WORD.match(text, pos)
    if word:
        return _MULTIPLIERS[word.group("word").lower()], word.end()
    letter = _MULTIPLIER_LETTER.match(text, pos)
    if letter:
        return _MULTIPLIERS[letter.group("letter")], letter.end()
    return 1, pos


def _read_unit(text: str, pos: int) -> tuple[str | None, int]:
    word = _WORD.match(text, pos)
    unit = canonical_unit(word.group("word")) if word else None
    return (unit, word.end()) if word and unit else (None, pos)


def _glued_to_word(text: str, pos: int) -> bool:
    """Whether a word continues right at ``pos`` ("3rd", "2d"); an "x" before a digit or a non-letter
    is a multiplication sign ("100x150", "3x faster")."""
    if pos >= len(text) or not (text[pos].isalnum() or text[pos] == "_"):
        return False
    next_char = text[pos + 1] if pos + 1 < len(text) else ""
    return not (text[pos] in "xX" and not next_char.isalpha())


def _read_suffix(text: str, pos: int) -> _Suffix | None:
    """The suffix starting at ``pos``, or None when the digits are part of a word."""
    percent = _PERCENT.match(text, pos)
    if percent:
        return _Suffix(percent.end(), percent=True)
    multiplier, pos = _read_multiplier(text, pos)
    unit, pos = _read_unit(text, pos)
    if _glued_to_word(text, pos):
        return None
    return _Suffix(pos, multiplier, unit)


def _half_unit_of_last_digit(digits: str) -> Decimal:
    decimals = len(digits.partition(".")[2])
    return Decimal(5).scaleb(-decimals - 1)


def _plain_digits(match: re.Match[str]) -> str:
    """The mantissa with its grouping removed and a decimal point: "3.613.600" -> "3613600", "14,85" ->
    "14.85"."""
    mantissa = match.group("mantissa")
    groups = match.groupdict()
    if groups.get("dot_grouped"):
        return mantissa.replace(".", "").replace(",", ".")
    if groups.get("decimal_comma"):
        return mantissa.replace(",", ".")
    return re.sub(r"[, ]", "", mantissa)


def _unsigned_reading(match: re.Match[str]) -> tuple[Decimal, Decimal] | None:
    """(value, resolution) of the digits and their exponent; a power such as 2^10 is exact. None when
    the exponent is out of range or the power undefined."""
    digits = _plain_digits(match)
    groups = match.groupdict()
    exponent = int(groups.get("exponent") or groups.get("ten_power") or 0)
    power = int(groups.get("power") or 0)
    if max(abs(exponent), abs(power)) > _LARGEST_EXPONENT:
        return None
    if groups.get("power"):
        try:
            return Decimal(digits) ** power, Decimal(0)
        except ArithmeticError:
            return None
    scale = Decimal(1).scaleb(exponent)
    return Decimal(digits) * scale, _half_unit_of_last_digit(digits) * scale


def _number_from_match(text: str, match: re.Match[str]) -> Number | None:
    suffix = _read_suffix(text, match.end())
    if suffix is None:
        return None
    reading = _unsigned_reading(match)
    if reading is None:
        return None
    sign = -1 if match.group("sign") else 1
    value = float(sign * reading[0] * suffix.multiplier)
    if not math.isfinite(value):
        return None
    start = match.start()
    return Number(
        value=value,
        text=text[start : suffix.end],
        start=start,
        end=suffix.end,
        resolution=float(reading[1] * suffix.multiplier),
        unit=suffix.unit,
        percent=suffix.percent,
    )


def find_numbers(text: str) -> list[Number]:
    """Every number written in ``text``, in order; offsets index into ``normalize(text)``.

    Reads 903,400 / 903 400 / 9.034e5 / 9.034 x 10^5 / 0.9 million / 0.9M / 903.4k / -3 / .5 / 99.5%,
    and a memory unit right after the number ("14.85 MB", "3,613,600 bytes"). Space-grouped thousands
    are reported both as one number and as the separate numbers. Digits inside words are ignored.
    """
    normalized = normalize(text)
    matches = [*_NUMBER.finditer(normalized), *_SPACE_GROUPED_NUMBER.finditer(normalized)]
    numbers = [number for match in matches if (number := _number_from_match(normalized, match))]
    numbers += [_as_thousands(number) for number in numbers if _has_dot_thousands(number)]
    return sorted(numbers, key=lambda number: (number.start, number.end))


def _has_dot_thousands(number: Number) -> bool:
    """Whether the number is written like "903.400", with no exponent or multiplier."""
    digits = re.match(r"-?([\d.,]*)", number.text)
    return bool(digits and _DOT_THOUSANDS.fullmatch(digits.group(1)) and abs(number.value) == float(digits.group(1)))


def _as_thousands(number: Number) -> Number:
    """The other reading of "903.400": nine hundred and three thousand four hundred."""
    return replace(number, value=number.value * 1000, resolution=number.resolution * 1000)


def number_matches(
    number: Number,
    expected: float,
    *,
    rel_tol: float = 0.0,
    abs_tol: float = 0.0,
    accept_rounded: bool = True,
) -> bool:
    """Whether ``number`` is ``expected`` within the tolerances, or (with ``accept_rounded``) a rounding of
    it to the digits the student wrote."""
    rounding = number.resolution if accept_rounded else 0.0
    allowed = max(abs_tol, rel_tol * abs(expected), rounding)
    float_noise = 1e-9 * max(1.0, abs(expected))
    return abs(number.value - expected) <= allowed + float_noise


# --- shapes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """A tensor shape as written; None stands for an unknown (batch) dimension."""

    dims: tuple[int | None, ...]
    text: str
    start: int
    end: int


# "100 x 150 x 100": whole numbers joined by x. No dimension may be a decimal, a fraction or a power
# ("9.034 x 10^5", "200/2 x 300/2"), and the product is taken whole.
_PRODUCT_SHAPE = re.compile(
    r"""
    (?<![\w.,/^-])
    \d+(?:[ \t]*[xX][ \t]*\d+)+
    (?!\.\d)(?![\w/^])
    (?![ \t]*[xX][ \t]*\d)
    """,
    re.VERBOSE,
)
_DIM_ITEM = r"(?:\d+|None|none|null|\?|-1|batch(?:_size)?)(?![\w.])"
_DIM_LIST = rf"\s*({_DIM_ITEM}(?:\s*,\s*{_DIM_ITEM})+)\s*,?\s*"
# "(None, 100, 150, 100)", "[None, 100, 150, 100]", "(?, 100, 150, 100)"
_TUPLE_SHAPE = re.compile(rf"\({_DIM_LIST}\)|\[{_DIM_LIST}\]")
# Maps written apart from their count: "100 x 150 maps (100 of them)", "100 feature maps of 100 x 150"...
_MAPS = r"(?:feature[ \t]+)?maps?"
# ... and "50 x 75 (200 maps)", "50 x 75, with 200 feature maps".
_SIZE_THEN_COUNT = re.compile(
    rf"\b(\d+)[ \t]*[xX][ \t]*(\d+)(?:[ \t]+{_MAPS}[ \t]*\((\d+)\b"
    rf"|[ \t]*\((\d+)[ \t]+{_MAPS}\)|,?[ \t]+(?:with|mit|com|con|avec)[ \t]+(\d+)[ \t]+{_MAPS}\b)",
    re.IGNORECASE,
)
_COUNT_THEN_SIZE = re.compile(
    rf"\b(\d+)[ \t]+{_MAPS}[ \t]+of[ \t]+(?:size[ \t]+)?(\d+)[ \t]*[xX][ \t]*(\d+)\b", re.IGNORECASE
)


def _dim(item: str) -> int | None:
    return int(item) if item.isdigit() else None


def _product_shape(match: re.Match[str]) -> Shape:
    dims = tuple(int(dim) for dim in re.split(r"[ \t]*[xX][ \t]*", match.group()))
    return Shape(dims, match.group(), match.start(), match.end())


def _tuple_shape(match: re.Match[str]) -> Shape:
    items = match.group(1) or match.group(2)
    dims = tuple(_dim(item.strip()) for item in items.split(","))
    return Shape(dims, match.group(), match.start(), match.end())


def find_shapes(text: str) -> list[Shape]:
    """Every tensor shape of two or more dimensions in ``text``, in order; offsets index into
    ``normalize(text)``. Unknown dimensions (None, ?, -1, batch) are None."""
    normalized = normalize(text)
    shapes = [_product_shape(match) for match in _PRODUCT_SHAPE.finditer(normalized)]
    shapes += [_tuple_shape(match) for match in _TUPLE_SHAPE.finditer(normalized)]
    shapes += [
        Shape((int(m[1]), int(m[2]), int(m[3] or m[4] or m[5])), m.group(), m.start(), m.end())
        for m in _SIZE_THEN_COUNT.finditer(normalized)
    ]
    shapes += [
        Shape((int(m[2]), int(m[3]), int(m[1])), m.group(), m.start(), m.end())
        for m in _COUNT_THEN_SIZE.finditer(normalized)
    ]
    return sorted(shapes, key=lambda shape: (shape.start, shape.end))


def shape_matches(found: tuple[int | None, ...], expected: tuple[int, ...]) -> bool:
    """Whether ``found`` is ``expected``, possibly with a leading unknown (batch) dimension."""
    found, expected = tuple(found), tuple(expected)
    with_batch = len(found) == len(expected) + 1 and found[0] is None
    return found == expected or (with_batch and found[1:] == expected)


# --- nearby words --------------------------------------------------------------------------------

_HEADING_LINE = re.compile(r" {0,3}#{1,6}(?:[ \t]|$)")


def _is_prose_line(line: str) -> bool:
    """A line that belongs to a paragraph: neither blank nor a markdown heading."""
    return bool(line.strip()) and not _HEADING_LINE.match(line)


@functools.lru_cache(maxsize=64)
def _line_layout(text: str) -> tuple[list[str], list[int], list[bool]]:
    """The text's lines, where each starts, and which belong to a paragraph."""
    lines = text.split("\n")
    return lines, list(_running_offsets(lines)), [_is_prose_line(line) for line in lines]


def _paragraph_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """Offsets of the paragraph holding ``text[start:end]``; a heading line is a paragraph of its own."""
    lines, line_starts, prose = _line_layout(text)
    first = bisect.bisect_right(line_starts, start) - 1
    last = bisect.bisect_right(line_starts, max(start, end - 1)) - 1
    while prose[first] and first > 0 and prose[first - 1]:
        first -= 1
    while prose[last] and last + 1 < len(lines) and prose[last + 1]:
        last += 1
    return line_starts[first], line_starts[last] + len(lines[last])


def _running_offsets(lines: list[str]) -> Iterator[int]:
    offset = 0
    for line in lines:
        yield offset
        offset += len(line) + 1


def mentions_near(text: str, start: int, end: int, patterns: list[str], window: int = 80) -> bool:
    """Whether any pattern (a case-insensitive regex) matches within ``window`` characters before
    ``start`` or after ``end`` in the normalized ``text``, without leaving the paragraph: a blank line or
    a heading line ends the search."""
    paragraph_start, paragraph_end = _paragraph_bounds(text, start, end)
    before = text[max(paragraph_start, start - window) : start]
    after = text[end : min(paragraph_end, end + window)]
    return any(re.search(pattern, side, re.IGNORECASE) for pattern in patterns for side in (before, after))
