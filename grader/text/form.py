"""The form of an answer, apart from the ideas in it: the question copied back, a bare list of
keywords instead of sentences, an answer in words at all."""

from __future__ import annotations

import re

from grader.text.words import Words, words_of

_COPIED_SHARE = 0.8  # a sentence made mostly of the question's words restates it
_MIN_COPIED_WORDS = 6  # shorter lines ("Q: ResNet?") label an answer rather than restate the question
_SENTENCE = re.compile(r"(?<=[.!?;。！？；])\s+|\n+")
# Where a keyword list breaks: line ends, sentence ends, slashes, arrows.
_FRAGMENT_BREAK = re.compile(r"[.!?;]\s|[。！？；]|\n|\s/\s|/|->|=>|→|⇒")
_SENTENCE_WORDS = 6  # a fragment this long (or 12 Chinese characters) reads as a sentence
_SENTENCE_CJK_CHARS = 12


def without_question(answer: str, question: str) -> str:
    """The answer without the sentences that only restate the question."""
    question_words = {token.folded for token in words_of(question).tokens}
    if not question_words:
        return answer
    kept = []
    for sentence in _SENTENCE.split(answer):
        words = [token.folded for token in words_of(sentence).tokens]
        copied = len(words) >= _MIN_COPIED_WORDS and (
            sum(word in question_words for word in words) / len(words) >= _COPIED_SHARE
        )
        if not copied:
            kept.append(sentence)
    return "\n".join(kept)


def is_keyword_list(words: Words) -> bool:
    """Whether the answer is only fragments (keywords, arrows, slashes), with no sentence in it."""
    fragments = [fragment for fragment in _FRAGMENT_BREAK.split(words.text) if words_of(fragment).tokens]
    if len(fragments) < 2:  # one short sentence is brief, not a list
        return False
    for fragment in fragments:
        tokens = words_of(fragment).tokens
        cjk_chars = sum(len(token.written) for token in tokens if token.cjk)
        if len([token for token in tokens if not token.cjk]) >= _SENTENCE_WORDS or cjk_chars >= _SENTENCE_CJK_CHARS:
            return False
    return True
