"""Two presidio recognizers made offline and fast without changing what they find.

Imported only when a :class:`~rippleops.runtime.analyzers.pii.PiiScanner` is built, since
presidio-analyzer (and the spaCy library it imports) is in the ``data`` extra.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import phonenumbers
import tldextract
from phonenumbers import PhoneMetadata
from phonenumbers.phonenumbermatcher import PhoneNumberMatcher
from phonenumbers.phonenumberutil import (
    COUNTRY_CODES_FOR_NON_GEO_REGIONS,
    SUPPORTED_REGIONS,
    NumberParseException,
    country_code_for_region,
    region_code_for_country_code,
    region_codes_for_country_code,
)
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import EmailRecognizer, PhoneRecognizer

# The public-suffix list bundled with tldextract: no download, no cache folder.
_OFFLINE_TLDS = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)
_PLUS = re.compile("[+\uff0b]")  # libphonenumber's plus signs
_DIGIT = re.compile(r"\d")  # what libphonenumber's candidate pattern takes as a digit
# Only digits, spaces and the punctuation of plain numbers: no extension marker (x, #, ext, ;, ,,).
_NO_EXTENSION = re.compile(r"[\d\s().\-/\[\]]*")
_DESCS = (
    "general_desc",
    "fixed_line",
    "mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "personal_number",
    "voip",
    "pager",
    "uan",
    "voicemail",
)


class OfflineEmailRecognizer(EmailRecognizer):
    """presidio's e-mail recognizer, checking the domain against the bundled suffix list."""

    def validate_result(self, pattern_text: str) -> bool:
        return bool(_OFFLINE_TLDS(pattern_text).fqdn)


def _metadata(region: str) -> PhoneMetadata:
    metadata = PhoneMetadata.metadata_for_region(region)
    if metadata is None:
        raise ValueError(f"libphonenumber has no metadata for region {region!r}")
    return metadata


def _shortest(metadata: Any) -> int | None:
    lengths = [
        n
        for name in _DESCS
        if (desc := getattr(metadata, name, None)) is not None
        for n in desc.possible_length
        if n > 0
    ]
    return min(lengths) if lengths else None


def _longest(metadata: Any) -> int | None:
    lengths = [
        n
        for name in _DESCS
        if (desc := getattr(metadata, name, None)) is not None
        for n in desc.possible_length
        if n > 0
    ]
    return max(lengths) if lengths else None


def _shortest_international() -> int:
    """Fewest digits of any valid number written with its country code, over all regions."""
    best = 99
    for region in SUPPORTED_REGIONS:
        n = _shortest(PhoneMetadata.metadata_for_region(region))
        if n is not None:
            best = min(best, len(str(country_code_for_region(region))) + n)
    for code in COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        n = _shortest(PhoneMetadata.metadata_for_nongeo_region(code))
        if n is not None:
            best = min(best, len(str(code)) + n)
    return best


def _pure_group(rule: str | None) -> bool:
    # No transform, or one that keeps a captured part ("\\2"): stripping then only removes digits.
    return not rule or re.fullmatch(r"\\\d", rule) is not None


@dataclass(frozen=True)
class _Bounds:
    """How many digits a number written in national form in one region can have."""

    fewest: int  # below this, never valid
    most: int | None  # above this (and with no extension), never valid; None: no bound

    @classmethod
    def national(cls, region: str) -> _Bounds:
        code = country_code_for_region(region)
        shared = [_metadata(r) for r in region_codes_for_country_code(code)]
        own = _metadata(region)
        main = _metadata(region_code_for_country_code(code))
        if not all(_pure_group(m.national_prefix_transform_rule) for m in (own, main)):
            return cls(1, None)  # a transform can add digits: no bound either way
        fewest = min([n for m in shared if (n := _shortest(m)) is not None] or [1])
        longest = max([n for m in shared if (n := _longest(m)) is not None] or [0])
        prefixes = [m.national_prefix_for_parsing or "" for m in (own, main)]
        if not longest or any(c in p for p in prefixes for c in "*+{"):
            return cls(fewest, None)
        # The country code may be written without "+", then a national prefix (a pattern no
        # longer than its own text, having no repetition) before the national number.
        return cls(fewest, len(str(code)) + max(len(p) for p in prefixes) + longest)


class _ShortCutMatcher(PhoneNumberMatcher):
    """libphonenumber's matcher, never parsing a string that cannot be a valid number.

    libphonenumber parses each candidate and then parts of it ("inner matches") through
    ``_parse_and_verify``. A string with no plus sign, no international prefix of the region
    anywhere in its digits and so written in national form, needs as many digits as the
    region's shortest national number, and (without an extension) no more than country code
    + national prefix + longest number. Outside those bounds parsing or validation fails
    for sure, so this returns ``None`` at once: what the base class returns after parsing.
    """

    def __init__(self, text: str, region: str, leniency: int, bounds: tuple[_Bounds, re.Pattern[str]]) -> None:
        super().__init__(text, region, leniency=leniency)
        self._bounds, self._idd = bounds

    def _parse_and_verify(self, candidate: str, offset: int) -> Any:
        digits = _DIGIT.findall(candidate)
        n = len(digits)
        too_short = n < self._bounds.fewest
        too_long = self._bounds.most is not None and n > self._bounds.most and _NO_EXTENSION.fullmatch(candidate)
        if (too_short or too_long) and not self._international(candidate, digits):
            return None
        return super()._parse_and_verify(candidate, offset)

    def _international(self, candidate: str, digits: list[str]) -> bool:
        # A plus sign, or the region's international prefix anywhere in the digits (it may
        # start an inner match): then the country, and its lengths, could be any.
        return _PLUS.search(candidate) is not None or self._idd.search("".join(str(int(d)) for d in digits)) is not None


class FastPhoneRecognizer(PhoneRecognizer):
    """presidio's phone recognizer (same regions, leniency VALID, score and spans), faster."""

    #: No valid number written with its country code has fewer digits.
    MIN_INTERNATIONAL = _shortest_international()
    #: No valid number in the default regions has fewer digits (German ones can have 4).
    MIN_DIGITS = min(
        [MIN_INTERNATIONAL] + [_Bounds.national(r).fewest for r in PhoneRecognizer.DEFAULT_SUPPORTED_REGIONS]
    )

    def __init__(self, **kwargs: Any) -> None:
        if kwargs.get("leniency", 1) != 1:
            raise ValueError("FastPhoneRecognizer's length bounds hold for leniency VALID (1) only")
        super().__init__(**kwargs)
        self._bounds = {
            region: (
                _Bounds.national(region),
                re.compile(_metadata(region).international_prefix or "(?!)"),
            )
            for region in self.supported_regions
        }

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        # The body of PhoneRecognizer.analyze, on the short-cut matcher.
        results: list[RecognizerResult] = []
        for region in self.supported_regions:
            for match in _ShortCutMatcher(text, region, 1, self._bounds[region]):
                try:
                    parsed = phonenumbers.parse(text[match.start : match.end])
                    found_region = phonenumbers.region_code_for_number(parsed)
                except NumberParseException:
                    found_region = region
                result = self._get_recognizer_result(match, text, found_region, nlp_artifacts)  # type: ignore[no-untyped-call]
                results.append(result)
        deduped: list[RecognizerResult] = EntityRecognizer.remove_duplicates(results)
        return deduped
