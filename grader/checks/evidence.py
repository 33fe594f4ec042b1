"""Candidate values in a student's answer that stand near the words a check asks for."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from grader.extract import mentions_near, normalize
from grader.notebook import AnswerBlock

Found = TypeVar("Found")


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
        text = normalize(block.text)
        source_hit = block.kind == "output" and bool(near) and _source_mentions(block.source, near)
        for item in find(block.text):
            if not near or source_hit or mentions_near(text, item.start, item.end, list(near)):
                yield item
