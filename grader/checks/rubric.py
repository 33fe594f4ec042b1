"""Rubric checks: free text scored by the ideas it states, the way a careful reader would.

The answer (without any restated question) is cut into words; each idea is recognised by its short
phrasings in any covered language. An idea said only inside a negated clause is not credited; a bare
keyword list is capped below full where the question asks for an explanation; an answer in a language
the rubric does not cover is sent to review with its language named. Full marks come at the rubric's
``full_at`` ideas, partial credit from ``partial_at``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from grader.checks.result import CheckResult
from grader.extract import normalize
from grader.notebook import AnswerBlock
from grader.spec import Concept, RubricCheck
from grader.text.form import is_keyword_list, without_question
from grader.text.language import detect_language, language_name
from grader.text.phrasing import Match, Phrasing, compile_phrasing, cues_for, find_phrasing, negation_before
from grader.text.words import Words, words_of

MAX_ANSWER_CHARS = 30_000  # far beyond any real answer to one exercise; a dump of files is not read whole


@dataclass(frozen=True)
class IdeaReading:
    """What the answer says of one idea: where it is stated, negations and wrong claims that kept it
    from counting."""

    concept: Concept
    stated: tuple[Match, ...]
    negated: tuple[tuple[Match, str], ...]
    wrong: tuple[Match, ...] = ()

    @property
    def credited(self) -> bool:
        """Stated, never denied and not mixed with a known wrong claim about it: an answer that says an
        idea and also its negation, or attributes a wrong one to its subject, has not given it."""
        return bool(self.stated) and not self.negated and not self.wrong


def _is_cjk(text: str) -> bool:
    return any("\u3400" <= char <= "\u9fff" for char in text)


@lru_cache(maxsize=4096)
def _compiled(text: str, language: str) -> Phrasing:
    return compile_phrasing(text, language)


def _term(text: str) -> Phrasing:
    """A name or term in no particular language (an architecture, "dens*")."""
    return _compiled(text, "zh" if _is_cjk(text) else "und")


def _anchor_owner(words: Words, concepts: tuple[Concept, ...]) -> dict[int, str]:
    """Token index -> id of the concept whose ``about`` name is mentioned there."""
    owners: dict[int, str] = {}
    for concept in concepts:
        for name in concept.about:
            for match in find_phrasing(_term(name), words):
                owners[match.first] = concept.id
    return owners


def _belongs_to(match: Match, concept: Concept, words: Words, owners: dict[int, str]) -> bool:
    """Whether an idea with ``about`` names is said of its own subject: the nearest name in its sentence
    is its own, or, with no name in the sentence, the last name mentioned before it."""
    if not concept.about:
        return True
    sentence = words.tokens[match.first].sentence
    in_sentence = [index for index in owners if words.tokens[index].sentence == sentence]
    if in_sentence:
        nearest = min(in_sentence, key=lambda index: (abs(index - match.first), index > match.first))
        return owners[nearest] == concept.id
    before = [index for index in owners if index <= match.first]
    return bool(before) and owners[max(before)] == concept.id


def read_ideas(check: RubricCheck, words: Words, language: str | None) -> list[IdeaReading]:
    """How the answer states each of the rubric's ideas."""
    cues = cues_for(language)
    contrast = [_term(term) for term in check.contrast]
    owners = _anchor_owner(words, check.concepts)
    found = {
        concept.id: _without_double_negation(_said(concept, concept.phrasings, words, owners))
        for concept in check.concepts
    }
    spoken_for = frozenset(
        index for matches in found.values() for match in matches if match.phrasing.negative for index in match.tokens
    )
    readings = []
    for concept in check.concepts:
        stated: list[Match] = []
        negated: list[tuple[Match, str]] = []
        for match in found[concept.id]:
            cue = negation_before(match, words, cues, contrast, spoken_for)
            (negated.append((match, cue)) if cue else stated.append(match))
        wrong = [
            match
            for match in _said(concept, concept.wrong, words, owners)
            if _named_in_sentence(match, concept, words, owners)
            and not negation_before(match, words, cues, contrast, spoken_for)
        ]
        readings.append(IdeaReading(concept, tuple(stated), tuple(negated), tuple(wrong)))
    return readings


def _named_in_sentence(match: Match, concept: Concept, words: Words, owners: dict[int, str]) -> bool:
    """Whether the concept's own name stands in the match's sentence: a wrong claim is only held against
    a subject the student names with it."""
    if not concept.about:
        return True
    sentence = words.tokens[match.first].sentence
    return any(owner == concept.id and words.tokens[index].sentence == sentence for index, owner in owners.items())


def _without_double_negation(matches: list[Match]) -> list[Match]:
    """Drop a negative phrasing that wraps a positive one: "does not have fewer parameters" is not "does
    not have parameters"; the positive one inside is then read with its negation."""
    positive = [match for match in matches if not match.phrasing.negative]
    return [
        match
        for match in matches
        if not match.phrasing.negative
        or not any(match.first <= inner.first and inner.last <= match.last for inner in positive)
    ]


def _said(concept: Concept, phrasings: dict[str, tuple[str, ...]], words: Words, owners: dict[int, str]) -> list[Match]:
    """Where any of these phrasings is said of the concept's subject."""
    return [
        match
        for language, texts in phrasings.items()
        for text in texts
        for match in find_phrasing(_compiled(text, language), words)
        if _belongs_to(match, concept, words, owners)
    ]


def _partial_score(check: RubricCheck, ideas: int) -> float:
    """Points for ``ideas`` ideas when they fall short of full marks: in proportion, to the half point
    below, never full and never nothing."""
    share = min(ideas, check.full_at - 1) / check.full_at if check.full_at > 1 else 0.5
    return min(check.points - 0.5, max(0.5, math.floor(2 * check.points * share) / 2))


def _score(check: RubricCheck, credited: list[Concept]) -> float:
    ids = {concept.id for concept in credited}
    if len(credited) >= check.full_at and set(check.required) <= ids:
        return check.points
    if len(credited) < check.partial_at:
        return 0.0
    return _partial_score(check, len(credited))


def _quoted(match: Match, words: Words) -> str:
    tokens = words.tokens
    start = max(0, match.first - 3)
    return words.text[tokens[start].start : tokens[match.last].end]


def run_rubric(check: RubricCheck, blocks: list[AnswerBlock], question: str = "") -> CheckResult:
    expected = "; ".join(concept.label for concept in check.concepts)
    prose = "\n\n".join(normalize(block.text) for block in blocks if block.kind in ("markdown", "comment"))
    outputs = "\n\n".join(normalize(block.text) for block in blocks if block.kind == "output")
    text = without_question("\n\n".join(part for part in (prose, outputs) if part.strip()), question)
    too_long = len(text) > MAX_ANSWER_CHARS
    words = words_of(text[:MAX_ANSWER_CHARS])
    if not words.tokens:
        return CheckResult.unanswered(check.id, check.label, check.kind, check.points, expected, "")
    language = detect_language(prose or text)
    readings = read_ideas(check, words, language)
    credited = [reading.concept for reading in readings if reading.credited]
    score = _score(check, credited)
    review = [f"answer longer than {MAX_ANSWER_CHARS:,} characters: only its start was read"] if too_long else []
    notes: list[str] = []
    for reading in readings:
        if reading.wrong:
            notes.append(f'wrong claim about {reading.concept.label}: "{_quoted(reading.wrong[0], words)}"')
        if reading.negated:
            match, cue = reading.negated[0]
            kind = "idea both stated and negated" if reading.stated else "negated idea"
            review.append(f'{kind}: {reading.concept.label} ({cue!r} in "{_quoted(match, words)}")')
    if language and language not in check.languages and language != "en":
        review.append(f"answer in {language_name(language)}, which this rubric has no phrasings for")
    if check.explain and score > 0 and is_keyword_list(words):
        if score == check.points:
            score = _partial_score(check, check.full_at - 1)
            notes.append("keywords without an explanation: capped below full marks")
        review.append("keyword list without sentences")
    if not prose.strip() and outputs.strip() and score < check.points:
        review.append("answered only in code output")
    found_labels = "; ".join(concept.label for concept in credited) or "none of the expected ideas"
    missing = [reading.concept.label for reading in readings if not reading.credited]
    message = (
        f"{check.label}: {score:g}/{check.points:g} ({len(credited)} ideas recognised, {check.full_at} for full marks)"
    )
    if score < check.points and missing:
        message += " — not found: " + "; ".join(missing)
    message += "".join(f"; {note}" for note in notes)
    missing_hints = " ".join(r.concept.hint for r in readings if not r.credited and r.concept.hint)
    return CheckResult(
        check.id,
        check.label,
        check.kind,
        check.points,
        score,
        score >= check.pass_points,
        expected,
        found_labels,
        message,
        missing_hints if score < check.points else "",
        recognised=tuple(concept.label for concept in credited),
        review=tuple(review),
    )
