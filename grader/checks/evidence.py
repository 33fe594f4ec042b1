"""Candidate values in a student's answer that stand near the words a check asks for."""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Generic, Protocol, TypeVar

from grader.extract import mentions_near, normalize
from grader.notebook import AnswerBlock


class Located(Protocol):
    """A value found in normalized text: where it starts and ends."""

    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...


Found = TypeVar("Found", bound=Located)

MAX_BLOCK_CHARS = 30_000  # values are looked for in the start of a block: no real answer is longer


def _source_mentions(source: str, patterns: Sequence[str]) -> bool:
    return any(re.search(pattern, source, re.IGNORECASE) for pattern in patterns)


def candidates_near(
    blocks: Sequence[AnswerBlock],
    find: Callable[[str], list[Found]],
    near: Sequence[str],
) -> Iterator[Found]:
    """Everything ``find`` reports in the blocks that stands near one of ``near``.

    A printed value also counts when the code that printed it mentions the words
    (``print(model.count_params())`` is near "param").
    """
    for block in blocks:
        text = normalize(block.text[:MAX_BLOCK_CHARS])
        source_hit = block.kind == "output" and bool(near) and _source_mentions(block.source, near)
        for item in find(block.text[:MAX_BLOCK_CHARS]):
            if not near or source_hit or mentions_near(text, item.start, item.end, list(near)):
                yield item


class Role(Enum):
    """What a value does in the answer: states an answer, is a term of a sum or the left side of an
    equation ("2,800 + 180,200 + 720,400 = 903,400"), or a factor in the working of another quantity
    ("903,400 × 4 B")."""

    ANSWER = "answer"
    TERM = "term"
    FACTOR = "factor"


@dataclass(frozen=True)
class Statement(Generic[Found]):
    """A value found near a check's words, with its role, its sentence, and whether it stands in a
    conclusion ("Answer:", "final", "in total"…) or in a sentence that hedges ("… or …")."""

    item: Found
    role: Role
    sentence: tuple[int, int, int]
    conclusion: bool
    hedging: bool


# A multiplication or division right after a value (its unit included) or right before it makes it a
# factor: "903,400 × 4 B", "50 × 11.24 MB". A plus, minus or "=" after it, or a plus or minus before it,
# makes it a term: "11.24 MB + 3.61 MB =".
_FACTOR_AFTER = re.compile(r"[ \t]*(?:[x×*/]|\btimes\b|\bmal\b|\bvezes\b)[ \t]*[\d(]", re.IGNORECASE)
_FACTOR_BEFORE = re.compile(r"(?:[x×*/]|\btimes\b)[ \t]*\(?$", re.IGNORECASE)
_TERM_AFTER = re.compile(r"[ \t]*(?:[+=]|-(?!>)|\bplus\b)[ \t]*[\d(]", re.IGNORECASE)
_TERM_BEFORE = re.compile(r"(?:\+|(?<![-=<])-|\bplus\b)[ \t]*\(?$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?;](?=\s|$)|\n|[。！？；]")
_PARAGRAPH_END = re.compile(r"\n[ \t]*\n")
# Alternatives ("903,400 or 902,700") and doubt ("I think 903,400, though without biases 902,700; not sure").
_HEDGE = re.compile(
    r"\b(?:or|oder|ou|either|bzw|between|zwischen|entre|antara|atau|oppure|tra|"
    r"maybe|perhaps|not sure|vielleicht|nicht sicher|talvez|não sei|quizás?|creo que|no sé|no tengo claro|"
    r"peut-être|pas sûr|forse|non so|mungkin)\b|或者|或|之间|也许|不确定|\s/\s",
    re.IGNORECASE,
)
_ANNOUNCEMENT_WORDS = 4
_NEAR_WINDOW = 120  # characters either side of a value, within its paragraph
_OPENING_CHARS = 40  # the start of a paragraph that labels what follows
_LABEL_WORDS = 3
_WORD = re.compile(r"[^\W\d_]{3,}")
_CONCLUSION = re.compile(
    r"\b(?:answers?|final\w*|conclusion|summary|in total|in all|altogether|"
    r"ergebnis|antwort|insgesamt|fazit|resposta|resultado|no total|ou seja|respuesta|"
    r"en total|réponse|résultat|au total|jawaban|hasil|risposta|riassunto|in tutto)\b|答|结果|总共|综上",
    re.IGNORECASE,
)


def _table_header(text: str, position: int) -> str:
    """The first row of the markdown table holding ``position`` ("" outside a table)."""
    lines = text[:position].split("\n")
    if not lines[-1].lstrip().startswith("|"):
        return ""
    rows = list(itertools.takewhile(lambda line: line.lstrip().startswith("|"), reversed(lines)))
    return rows[-1]


@functools.lru_cache(maxsize=256)
def _few_words(paragraph: str) -> bool:
    return len(_WORD.findall(paragraph)) < _LABEL_WORDS


def _near(text: str, start: int, end: int, near: Sequence[str]) -> bool:
    """The check's words stand near the value, head the table it sits in, or open its paragraph
    ("Single prediction: … ≈ 12.6 MB")."""
    paragraph_start, paragraph_end = _bounds(_PARAGRAPH_END, text, start, end)
    opening = text[paragraph_start : paragraph_start + _OPENING_CHARS]
    if _few_words(text[paragraph_start:paragraph_end]):  # a formula labelled just above
        previous_start, _ = _bounds(_PARAGRAPH_END, text, max(0, paragraph_start - 2), max(0, paragraph_start - 2))
        opening += " " + text[previous_start : previous_start + _OPENING_CHARS]
    return (
        mentions_near(text, start, end, list(near), window=_NEAR_WINDOW)
        or _source_mentions(_table_header(text, start), near)
        or _source_mentions(opening, near)
    )


@functools.lru_cache(maxsize=256)
def _in_conclusion(paragraph: str, previous: str) -> bool:
    """Whether a paragraph states conclusions: it says so itself, or it follows a short paragraph that
    announces them ("**Answers**", "Final answer:")."""
    short = bool(previous.strip()) and len(previous.split()) <= _ANNOUNCEMENT_WORDS
    return bool(_CONCLUSION.search(paragraph) or (short and _CONCLUSION.search(previous)))


def _role(text: str, start: int, end: int) -> Role:
    before = text[max(0, start - 12) : start]
    if _FACTOR_AFTER.match(text, end) or _FACTOR_BEFORE.search(before):
        return Role.FACTOR
    if _TERM_AFTER.match(text, end) or _TERM_BEFORE.search(before):
        return Role.TERM
    return Role.ANSWER


@functools.lru_cache(maxsize=64)
def _breaks(pattern: re.Pattern[str], text: str) -> tuple[list[int], list[int]]:
    """Where the pattern's matches start and end in the text, in order."""
    matches = list(pattern.finditer(text))
    return [match.start() for match in matches], [match.end() for match in matches]


def _bounds(pattern: re.Pattern[str], text: str, start: int, end: int) -> tuple[int, int]:
    """The stretch of text holding ``text[start:end]`` between two matches of the pattern."""
    starts, ends = _breaks(pattern, text)
    before = bisect.bisect_right(ends, start) - 1
    after = bisect.bisect_left(starts, end)
    return (ends[before] if before >= 0 else 0), (starts[after] if after < len(starts) else len(text))


def statements_near(
    blocks: Sequence[AnswerBlock],
    find: Callable[[str], list[Found]],
    near: Sequence[str],
) -> list[Statement[Found]]:
    """Everything ``candidates_near`` finds, each with its role, sentence and kind of passage."""
    found: list[Statement[Found]] = []
    for index, block in enumerate(blocks):
        text = normalize(block.text[:MAX_BLOCK_CHARS])
        source_hit = block.kind == "output" and bool(near) and _source_mentions(block.source, near)
        for item in find(block.text[:MAX_BLOCK_CHARS]):
            start, end = item.start, item.end
            if near and not source_hit and not _near(text, start, end, near):
                continue
            sentence_start, sentence_end = _bounds(_SENTENCE_END, text, start, end)
            paragraph_start, paragraph_end = _bounds(_PARAGRAPH_END, text, start, end)
            heading_start, _ = _bounds(_PARAGRAPH_END, text, max(0, paragraph_start - 2), max(0, paragraph_start - 2))
            found.append(
                Statement(
                    item=item,
                    role=_role(text, start, end),
                    sentence=(index, sentence_start, sentence_end),
                    conclusion=_in_conclusion(text[paragraph_start:paragraph_end], text[heading_start:paragraph_start]),
                    hedging=bool(_HEDGE.search(text, sentence_start, sentence_end)),
                )
            )
    return found
