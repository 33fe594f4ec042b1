"""Answers as words: tokens with their sentence and clause, lower-cased, accent-folded and stemmed.

Sentences end at full stops, question and exclamation marks, semicolons, arrows and line breaks;
clauses also end at commas, colons, slashes, brackets and contrasting conjunctions ("but", "aber",
"mas", "但是"…). Chinese, which has no spaces, is cut into words with jieba. Stems come from the Snowball
stemmer of the language asked for, so "shares", "shared" and "sharing" are one word in English and
"geteilt"/"teilen" come close in German.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

import snowballstemmer

_STEMMERS = {
    "en": "english",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "pt": "portuguese",
    "it": "italian",
    "nl": "dutch",
    "id": "indonesian",
    "ru": "russian",
    "sv": "swedish",
    "tr": "turkish",
}
STEMMED_LANGUAGES = tuple(_STEMMERS)
CONTRASTING_CONJUNCTIONS = frozenset(
    {
        "but",
        "however",
        "whereas",
        "while",
        "although",
        "though",
        "yet",
        "aber",
        "jedoch",
        "sondern",
        "während",
        "wahrend",
        "doch",
        "mas",
        "porém",
        "porem",
        "enquanto",
        "contudo",
        "entretanto",
        "pero",
        "mientras",
        "sino",
        "aunque",
        "mais",
        "tandis",
        "cependant",
        "alors",
        "tetapi",
        "namun",
        "sedangkan",
        "但",
        "但是",
        "而",
        "然而",
        "可是",
        "不过",
    }
)
_PIECES = re.compile(
    r"""
      (?P<dims>\d+[ \t]*[xX][ \t]*\d+)                # 1x1, 3 x 3
    | (?P<number>\d+(?:[.,]\d+)*)
    | (?P<cjk>[\u3400-\u9fff\uf900-\ufaff]+)
    | (?P<arrow>[↓↑])                                  # notes: "batch ↓", "stride ↑"
    | (?P<word>[^\W\d_]+(?:['’][^\W\d_]+)*)
    | (?P<sentence_end>[.!?;](?=\s|$)|\n|[。！？；]|->|=>|→|⇒|\u2192)
    | (?P<clause_end>[,:/()\[\]，、：（）|]|\s[-–—]\s)
    """,
    re.VERBOSE,
)
_NEGATED_CONTRACTION = re.compile(r"^(?P<head>\w+?)n['’]t$")
_IRREGULAR_NOT = {"can": "can", "won": "will", "shan": "shall", "ain": "is"}


@dataclass(frozen=True)
class Token:
    """A word: as written (lower case), accent-folded, its offsets in the text, sentence and clause."""

    written: str
    folded: str
    start: int
    end: int
    sentence: int
    clause: int
    cjk: bool = False


@dataclass
class Words:
    """The tokens of a text, with stems computed per language on demand."""

    text: str
    tokens: tuple[Token, ...]
    _stems: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    _by_stem: dict[str, dict[str, list[int]]] = field(default_factory=dict, repr=False)
    _by_word: dict[str, list[int]] | None = field(default=None, repr=False)

    def stems(self, language: str) -> tuple[str, ...]:
        if language not in self._stems:
            self._stems[language] = tuple(stem(token.written, language) for token in self.tokens)
        return self._stems[language]

    def with_stem(self, value: str, language: str) -> list[int]:
        """Positions of the words whose stem in ``language`` is ``value``."""
        if language not in self._by_stem:
            index: dict[str, list[int]] = {}
            for position, word_stem in enumerate(self.stems(language)):
                index.setdefault(word_stem, []).append(position)
            self._by_stem[language] = index
        return self._by_stem[language].get(value, [])

    def by_word(self) -> dict[str, list[int]]:
        """Positions of each accent-folded word."""
        if self._by_word is None:
            self._by_word = {}
            for position, token in enumerate(self.tokens):
                self._by_word.setdefault(token.folded, []).append(position)
        return self._by_word

    def sentences(self) -> list[range]:
        """Token index ranges, one per sentence."""
        ranges: list[range] = []
        start = 0
        for index in range(1, len(self.tokens) + 1):
            if index == len(self.tokens) or self.tokens[index].sentence != self.tokens[start].sentence:
                ranges.append(range(start, index))
                start = index
        return ranges


def fold(word: str) -> str:
    """Lower case without accents: "Überanpassung" -> "uberanpassung"."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


_THREAD = threading.local()


def _stemmer(language: str) -> snowballstemmer.stemmer | None:
    """This thread's stemmer for ``language``: a Snowball stemmer keeps state while it stems, so notebooks
    graded side by side must not share one."""
    stemmers = _THREAD.__dict__.setdefault("stemmers", {})
    if language not in stemmers:
        name = _STEMMERS.get(language)
        stemmers[language] = snowballstemmer.stemmer(name) if name else None
    return stemmers[language]


@lru_cache(maxsize=200_000)
def stem(word: str, language: str) -> str:
    """The Snowball stem of the accent-folded word (so "resolução" and "resolucao" agree); the folded word
    itself where no stemmer exists."""
    stemmer = _stemmer(language)
    folded = fold(word)
    return stemmer.stemWord(folded) if stemmer else folded


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


def _split_word(word: str) -> list[str]:
    """ "doesn't" -> ["does", "not"], "can't" -> ["can", "not"], "l'image" -> ["l", "image"]."""
    lowered = word.lower().replace("’", "'")
    contraction = _NEGATED_CONTRACTION.match(lowered)
    if contraction:
        head = contraction.group("head")
        return [_IRREGULAR_NOT.get(head, head), "not"]
    parts = [part for part in lowered.split("'") if part]
    # French "n'a pas": the elided "ne" is a negation; a bare "n" ("n filtres") is a variable
    return ["ne" if part == "n" and index == 0 and len(parts) > 1 else part for index, part in enumerate(parts)]


def words_of(text: str) -> Words:
    """Tokenize ``text`` into words with sentence and clause numbers."""
    tokens: list[Token] = []
    sentence = clause = 0
    for match in _PIECES.finditer(text):
        kind, piece = match.lastgroup, match.group()
        if kind == "sentence_end":
            sentence, clause = sentence + 1, clause + 1
            continue
        if kind == "clause_end":
            clause += 1
            continue
        if kind == "cjk":
            offset = match.start()
            for part in _jieba().cut(piece):
                if part in CONTRASTING_CONJUNCTIONS:
                    clause += 1
                tokens.append(Token(part, part, offset, offset + len(part), sentence, clause, cjk=True))
                offset += len(part)
            continue
        if kind == "arrow":
            tokens.append(Token(piece, piece, match.start(), match.end(), sentence, clause))
            continue
        if kind == "dims":
            written = re.sub(r"[ \t]*[xX][ \t]*", "x", piece)
            tokens.append(Token(written, written, match.start(), match.end(), sentence, clause))
            continue
        parts = _split_word(piece) if kind == "word" else [piece]
        if parts and parts[0] in CONTRASTING_CONJUNCTIONS:
            clause += 1
        for part in parts:
            tokens.append(Token(part, fold(part), match.start(), match.end(), sentence, clause))
    return Words(text, tuple(tokens))
