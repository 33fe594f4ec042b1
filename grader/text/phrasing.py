"""Short phrasings of an idea found in an answer's words, in any order, with a few words in between, and
whether what was found sits in a negated clause.

A phrasing is a few words in one language ("share weights", "Gewichte teilen", "共享 权重"). Each word
matches a word of the answer with the same Snowball stem in that language; a word with ``*`` matches
by wildcard on the accent-folded word ("*gewicht*" finds "Gewichtsteilung"); a Chinese word matches a
run of the answer's characters. All words must stand in one sentence within a short window.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from enum import Enum

from grader.text.words import Token, Words, fold, stem, words_of

WORD_GAP = 4  # words allowed between the words of a phrasing (more for Chinese, whose words are short)
CJK_GAP = 6
NEGATION_REACH = 6  # how many words before an idea a negation still applies to it
DENIAL_REACH = 8  # how many words after an idea "… is not true" still denies it
TRUE = frozenset(
    {
        "true",
        "correct",
        "right",
        "so",
        "stimmt",
        "richtig",
        "wahr",
        "verdade",
        "certo",
        "cierto",
        "verdad",
        "vrai",
        "exact",
        "benar",
        "vero",
        "这样",
        "如此",
        "正确",
    }
)
MYTH = frozenset({"myth", "mythos", "mito", "mythe", "misconception", "误解", "迷思"})

NEGATION_CUES: dict[str, frozenset[str]] = {
    "en": frozenset({"not", "no", "never", "cannot", "without", "neither", "nor", "none", "nothing", "nobody"}),
    "de": frozenset(
        {"nicht", "kein", "keine", "keinen", "keinem", "keiner", "keines", "nie", "niemals", "ohne", "weder", "nichts"}
    ),
    # "pas" alone is also a noun (a stride: "les pas et le pooling"), so French negation is read from "ne"/"n'"
    "fr": frozenset({"ne", "jamais", "sans", "aucun", "aucune", "ni", "rien"}),
    "es": frozenset({"no", "nunca", "sin", "ningun", "ninguna", "ninguno", "ni", "jamas", "nada"}),
    "pt": frozenset({"nao", "nunca", "sem", "nenhum", "nenhuma", "nem", "jamais", "nada"}),
    "it": frozenset({"non", "mai", "senza", "nessun", "nessuna", "nessuno", "ne", "niente"}),
    "id": frozenset({"tidak", "bukan", "tanpa", "tak", "belum", "tiada"}),
    "zh": frozenset(
        {
            "不",
            "没",
            "没有",
            "无",
            "无法",
            "不能",
            "不会",
            "不是",
            "并非",
            "非",
            "未",
            "不用",
            "不需要",
            "不必",
            "毫无",
            "并不",
            "从不",
            "从未",
        }
    ),
}
# "and" ends what a negation before it applies to: "no parameters and keeps the strongest value".
COORDINATING = frozenset({"and", "und", "et", "e", "y", "dan", "和", "并且", "而且", "以及", "并"})
# Words that make what follows a term of comparison: "than a dense network", "比 DNN".
COMPARATIVE = frozenset({"than", "als", "que", "do", "da", "dari", "daripada", "di", "比"})
# Words that follow a negation without negating the idea: "not only", "nicht nur", "não só"...
_NOT_ONLY = frozenset(
    {
        "only",
        "just",
        "merely",
        "nur",
        "bloss",
        "so",
        "apenas",
        "solo",
        "solamente",
        "seulement",
        "que",
        "hanya",
        "仅",
        "只",
        "仅仅",
        "matter",
    }
)


class PartKind(Enum):
    STEM = "stem"
    WILDCARD = "wildcard"
    CJK = "cjk"


@dataclass(frozen=True)
class Part:
    kind: PartKind
    value: str


@dataclass(frozen=True)
class Phrasing:
    """One way of saying an idea, compiled for matching."""

    language: str
    text: str
    parts: tuple[Part, ...]
    negative: bool
    cue_parts: tuple[int, ...] = ()

    @property
    def gap(self) -> int:
        return CJK_GAP if self.language == "zh" else WORD_GAP


@dataclass(frozen=True)
class Match:
    """Where a phrasing was found: the answer's token indices it used."""

    phrasing: Phrasing
    tokens: tuple[int, ...]

    @property
    def first(self) -> int:
        return min(self.tokens)

    @property
    def last(self) -> int:
        return max(self.tokens)


def cues_for(language: str | None) -> frozenset[str]:
    """Negation words of the answer's language (English when unknown); Chinese cues always apply to
    Chinese words."""
    return NEGATION_CUES.get(language or "en", NEGATION_CUES["en"]) | NEGATION_CUES["zh"]


def compile_phrasing(text: str, language: str) -> Phrasing:
    """Compile a phrasing written in ``language``."""
    parts: list[Part] = []
    if language == "zh":
        for word in text.split():
            parts.append(
                Part(PartKind.CJK, word)
                if any("\u3400" <= c <= "\u9fff" for c in word)
                else Part(PartKind.STEM, stem(word.lower(), "en"))
            )
    else:
        for word in text.split():
            if "*" in word:
                parts.append(Part(PartKind.WILDCARD, fold(word)))
            else:
                parts.extend(Part(PartKind.STEM, stem(token.written, language)) for token in words_of(word).tokens)
    cues = NEGATION_CUES.get(language, frozenset()) | NEGATION_CUES["zh"]
    cue_stems = {
        stem(token.written, "en" if language == "zh" else language)
        for token in words_of(text).tokens
        if token.folded in cues
    }
    cue_parts = tuple(
        index
        for index, part in enumerate(parts)
        if part.kind is not PartKind.WILDCARD and (part.value in cues or part.value in cue_stems)
    )
    return Phrasing(language, text, tuple(parts), bool(cue_parts), cue_parts)


def _part_positions(part: Part, words: Words, language: str) -> list[int]:
    """Every position in the answer where this word of a phrasing stands."""
    if part.kind is PartKind.WILDCARD:
        return sorted(
            position
            for word, positions in words.by_word().items()
            if fnmatch.fnmatchcase(word, part.value)
            for position in positions
        )
    if part.kind is PartKind.CJK:
        if part.value not in words.text:
            return []
        tokens = words.tokens
        found = []
        for i, token in enumerate(tokens):
            if not token.cjk:
                continue
            run = "".join(
                tokens[j].written for j in range(i, min(i + 4, len(tokens))) if tokens[j].sentence == token.sentence
            )
            if part.value in token.written or run.startswith(part.value):
                found.append(i)
        return found
    return words.with_stem(part.value, "en" if language == "zh" else language)


def _windows(positions: list[list[int]], width: int) -> list[tuple[int, ...]]:
    """Every choice of one distinct position per part that fits in ``width`` consecutive tokens."""
    results: list[tuple[int, ...]] = []

    def extend(chosen: tuple[int, ...], rest: list[list[int]]) -> None:
        if not rest:
            results.append(chosen)
            return
        for position in rest[0]:
            if position in chosen:
                continue
            candidate = (*chosen, position)
            if max(candidate) - min(candidate) < width:
                extend(candidate, rest[1:])

    extend((), positions)
    return results


def _by_part(order: list[int], chosen: tuple[int, ...]) -> tuple[int, ...]:
    """Positions chosen in ``order`` put back in the phrasing's own order of parts."""
    placed = dict(zip(order, chosen, strict=True))
    return tuple(placed[index] for index in range(len(order)))


def _cue_first(phrasing: Phrasing, chosen: tuple[int, ...]) -> bool:
    others = [position for index, position in enumerate(chosen) if index not in phrasing.cue_parts]
    return not others or all(chosen[index] < min(others) for index in phrasing.cue_parts)


def find_phrasing(phrasing: Phrasing, words: Words) -> list[Match]:
    """Every place in the answer where the phrasing is said: in each sentence, the tightest windows that do
    not overlap."""
    matches: list[Match] = []
    everywhere = []
    for part in phrasing.parts:
        found = _part_positions(part, words, phrasing.language)
        if not found:
            return matches  # most phrasings stop here: one of their words is not in the answer
        everywhere.append(found)
    tokens = words.tokens
    by_sentence: list[dict[int, list[int]]] = []
    for found in everywhere:
        grouped: dict[int, list[int]] = {}
        for i in found:
            grouped.setdefault(tokens[i].sentence, []).append(i)
        by_sentence.append(grouped)
    shared = set.intersection(*(set(grouped) for grouped in by_sentence))
    for sentence in sorted(shared):
        positions = [grouped[sentence] for grouped in by_sentence]
        order = sorted(range(len(positions)), key=lambda index: len(positions[index]))
        windows = [
            _by_part(order, chosen)
            for chosen in _windows([positions[index] for index in order], len(phrasing.parts) + phrasing.gap)
        ]
        # said negatively, the negation comes first: "not need weights", never "need weights … not"
        windows = [chosen for chosen in windows if _cue_first(phrasing, chosen)]
        used: set[int] = set()
        for chosen in sorted(windows, key=lambda chosen: max(chosen) - min(chosen)):
            span = set(range(min(chosen), max(chosen) + 1))
            if not span & used:
                used |= span
                matches.append(Match(phrasing, tuple(sorted(chosen))))
    return sorted(matches, key=lambda match: match.first)


def negation_before(
    match: Match, words: Words, cues: frozenset[str], contrast: list[Phrasing], spoken_for: frozenset[int] = frozenset()
) -> str | None:
    """The negation word that governs this match, or None.

    A negation counts when it stands in the match's clause, at most a few words before it (with no "and"
    in between) or between its words; it is not "not only"; it is not part of another idea said
    negatively (``spoken_for``: "no parameters and keeps the strongest value"); and the clause is not
    about the thing the answer contrasts with (a dense network "does not share weights"). A phrasing
    that is negative itself ("no parameters") is never negated again.
    """
    if match.phrasing.negative:
        return None
    tokens = words.tokens
    clause = tokens[match.first].clause
    denial = _denied_after(match, words, cues)
    if denial:
        return denial
    start = max(0, match.first - NEGATION_REACH)
    for index in range(start, match.last + 1):
        token = tokens[index]
        if index in match.tokens or index in spoken_for or token.folded not in cues:
            continue
        if any(tokens[i].clause != token.clause for i in match.tokens):  # the idea reaches past the negated clause
            continue
        following = tokens[index + 1].folded if index + 1 < len(tokens) else ""
        if following in _NOT_ONLY or _restrictive(tokens, index):
            continue
        if any(tokens[between].written.lower() in COORDINATING for between in range(index + 1, match.first)):
            continue
        if _clause_mentions(words, clause, contrast):
            return None
        return token.written
    return None


def _denied_after(match: Match, words: Words, cues: frozenset[str]) -> str | None:
    """A denial right after the idea in its sentence: "… stimmt nicht", "… is not true", "… is a myth",
    "…，其实并不是这样"."""
    tokens = words.tokens
    sentence = tokens[match.first].sentence
    after = [token for token in tokens[match.last + 1 : match.last + 1 + DENIAL_REACH] if token.sentence == sentence]
    folded = [token.folded for token in after]
    if any(word in MYTH for word in folded):
        return next(token.written for token in after if token.folded in MYTH)
    for position, word in enumerate(folded):
        if word in cues and (set(folded[max(0, position - 2) : position + 3]) & TRUE):
            return after[position].written
    return None


def _restrictive(tokens: tuple[Token, ...], index: int) -> bool:
    """French "ne … que" means "only": "il ne garde que la plus forte"."""
    after = tokens[index + 1 : index + 4]
    return tokens[index].folded == "ne" and any(token.folded in {"que", "qu"} for token in after)


def _clause_mentions(words: Words, clause: int, phrasings: list[Phrasing]) -> bool:
    """Whether one of the phrasings is said in the clause as what is negated about ("a dense network does
    not …"), not as a term of comparison ("… no fewer than a dense network")."""
    inside = {i for i, token in enumerate(words.tokens) if token.clause == clause}
    for phrasing in phrasings:
        for match in find_phrasing(phrasing, words):
            compared = any(words.tokens[i].folded in COMPARATIVE for i in range(max(0, match.first - 2), match.first))
            if set(match.tokens) <= inside and not compared:
                return True
    return False
