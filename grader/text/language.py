"""Which language an answer is written in.

Detection uses lingua over a fixed set of languages students commonly write in, so an answer in a
language a rubric does not cover can be named rather than silently scored as if it said nothing.
"""

from __future__ import annotations

import re
from functools import lru_cache

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

# ISO 639-1 codes of the languages told apart; every code with a Snowball stemmer is stemmed.
DETECTED = (
    "en",
    "de",
    "fr",
    "es",
    "pt",
    "it",
    "nl",
    "id",
    "zh",
    "ja",
    "ko",
    "ru",
    "pl",
    "tr",
    "vi",
    "sv",
)
_MIN_LETTERS = 25  # shorter text is not enough to tell a language reliably
_CONFIDENCE = 0.5
_NOT_PROSE = re.compile(r"`[^`]*`|```.*?```|https?://\S+|[\d\W_]+", re.DOTALL)


@lru_cache(maxsize=1)
def _detector() -> LanguageDetector:
    languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in DETECTED]
    # Trigram models only: they load in a fraction of a second and tell these languages apart well on
    # answer-length text.
    return LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()


def language_name(code: str) -> str:
    """The English name of a language code ("pt" -> "Portuguese")."""
    try:
        language = Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper()))
    except AttributeError:
        return code
    return language.name.capitalize()


def _prose_letters(text: str) -> str:
    return " ".join(_NOT_PROSE.sub(" ", text).split())


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of the answer's main language, or None when the text is too short or mixed
    to say."""
    prose = _prose_letters(text)
    if sum(char.isalpha() for char in prose) < _MIN_LETTERS and not _has_cjk(prose):
        return None
    confidences = _detector().compute_language_confidence_values(prose)
    if not confidences or confidences[0].value < _CONFIDENCE:
        return None
    return confidences[0].language.iso_code_639_1.name.lower()


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)
