"""The paper's 17 RTP-LX languages and the names each resource uses for them (paper §3.1.1)."""

from __future__ import annotations

from . import XdetoxError

#: ISO codes as used in the paper's code and figures (zh-hans is drawn as "zh").
PAPER_LANGUAGES: tuple[str, ...] = (
    "ar", "cs", "de", "en", "es", "fr", "hi", "id", "it", "ja", "ko", "nl", "pl", "pt", "ru", "sv", "zh-hans",
)

NAMES = {
    "ar": "Arabic", "cs": "Czech", "de": "German", "en": "English", "es": "Spanish", "fr": "French",
    "hi": "Hindi", "id": "Indonesian", "it": "Italian", "ja": "Japanese", "ko": "Korean", "nl": "Dutch",
    "pl": "Polish", "pt": "Portuguese", "ru": "Russian", "sv": "Swedish", "zh-hans": "Simplified Chinese",
}

#: RTP-LX file locale: RTP_LX_{locale}.json
RTPLX_LOCALE = {code: code.upper() for code in PAPER_LANGUAGES} | {"zh-hans": "ZH-Hans"}

#: Perspective API `languages` value (reference: zh-hans is sent as zh).
PERSPECTIVE_CODE = {code: code for code in PAPER_LANGUAGES} | {"zh-hans": "zh"}

#: File suffix of the paper's 200 parallel prompts (dpo_toxicity_pairwise_{x}_200.jsonl).
PARALLEL200_CODE = {code: code for code in PAPER_LANGUAGES} | {"zh-hans": "zh"}

#: NTREX-128 file codes (newstest2019-ref.{x}.txt; English is the source file).
NTREX_CODE = {
    "ar": "arb", "cs": "ces", "de": "deu", "en": "eng", "es": "spa", "fr": "fra", "hi": "hin", "id": "ind",
    "it": "ita", "ja": "jpn", "ko": "kor", "nl": "nld", "pl": "pol", "pt": "por", "ru": "rus", "sv": "swe",
    "zh-hans": "zho-CN",
}

#: ISO 639-1 code a language identifier reports for each language.
LANGID_CODE = {code: code for code in PAPER_LANGUAGES} | {"zh-hans": "zh"}


def short_label(code: str) -> str:
    """Axis label as in the paper's figures."""
    return "zh" if code == "zh-hans" else code


def check_language(code: str, where: str = "languages") -> str:
    if code not in NAMES:
        raise XdetoxError(
            f"{where}: unknown language code {code!r}; known codes: {', '.join(PAPER_LANGUAGES)}"
        )
    return code
