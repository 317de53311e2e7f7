"""Recognizers of structured identifiers: e-mail, phone, card, IBAN and SSN.

Each one validates what it finds (Luhn for cards, the IBAN checksum, phone-number parsing), so
order numbers and SKUs are not taken for personal data. Plain Python; used by
``aion_assets.memory.scrub.engine``.
"""

from __future__ import annotations

import re

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import EmailRecognizer

from aion_assets.memory.scrub.phones import MemoPhoneNumberMatcher
from aion_assets.memory.scrub.recognizers import make_result


class AionEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recognizer, validating the domain against the bundled suffix list.

    The stock one calls ``tldextract.extract``, which fetches the public-suffix list over HTTP.
    """

    def __init__(self) -> None:
        import tldextract

        self._tld = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)
        super().__init__()

    def validate_result(self, pattern_text: str) -> bool:
        return self._tld(pattern_text.rsplit("@", 1)[-1]).suffix != ""


_ID_PREFIX = re.compile(r"(?:[A-Za-z]+[-_#/]?|#|[A-Za-z]+[-/]\d+[-/])$")  # ORD-, INV/2023/, #
# A word that names the number as a reference, not a phone: "case 96603360", "invoice no. 55512345".
_REF_WORD = re.compile(
    r"\b(?:case|ticket|order|invoice|inv|ref|reference|rma|track(?:ing)?|serial|sku|po|receipt|booking|"
    r"confirmation|account|acct|member|contract|policy|claim|incident|request|parcel|package|shipment|"
    r"consignment|waybill|awb|dhl|ups|usps|fedex|dpd|gls|evri|hermes|postnl|colissimo|bpost|inpost|postnord|"
    r"royal[ \t]+mail|correos|tnt|purolator|yodel)"
    r"(?:[ \t]*(?:no\.?|nr\.?|number|id|#))?[ \t]*[:#]?[ \t]*"
    # the code's first part(s) before the number: "tracking TBA 306 ...", "DHL JJD 0001 ..."
    r"(?-i:(?:[A-Z\d]{1,20}[ \t-]){0,6})$",
    re.IGNORECASE,
)
# ISO 8601 dates and times ("2024-12-07", "2024-12-07T09:30"), which the phone matchers also accept.
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?")
_DIGIT_RUN = re.compile(r"[+(]?\d[\d \t().\-/]{5,28}\d(?:\s*(?:x|ext\.?)\s*\d{1,6})?", re.IGNORECASE)
_DOTTED_QUAD = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


class AionPhoneRecognizer(EntityRecognizer):
    """Phone numbers: libphonenumber's matcher over many regions, plus a shape regex.

    The regex catches what the matcher rejects but people write: ``001-`` prefixes, ``(0)``
    trunk digits after a country code, extensions (``x123``, ``ext. 12``).
    """

    # National formats the shape regex below does not cover; "+"/"00" numbers parse in any region.
    REGIONS = ("US", "GB", "DE", "FR", "IN", "PL")
    _EXT = r"(?:\s*(?:x|ext\.?|extension|#)\s*\d{1,6})?"
    SHAPE = re.compile(
        r"(?<![\w#/.-])(?:"
        r"(?:\+|00)\d{1,3}[\s.-]?(?:\(0\)\s?)?(?:\(?\d{1,5}\)?[\s.-]?){1,5}\d{2,}"  # international
        r"|\(?0\d{1,5}\)?[\s.-]?\d{2,}(?:[\s.-]?\d{2,}){0,4}"  # national, trunk 0
        r"|\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}"  # NANP
        r"|\d{10,12}"
        rf"){_EXT}(?![\w-])",
        re.IGNORECASE,
    )

    def __init__(self) -> None:
        super().__init__(supported_entities=["PHONE_NUMBER"], name="AionPhoneRecognizer",
                         context=["phone", "call", "tel", "mobile", "cell", "number", "reach", "whatsapp"])

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list:
        """Phone-number spans with scores 0.75 (libphonenumber) or 0.5-0.65 (shape only)."""
        import phonenumbers

        out: dict[tuple[int, int], float] = {}
        if sum(c.isdigit() for c in text) < 7:  # no phone number fits; the matcher is the costly part
            return []
        # The matcher scans its whole input per region; give it only the digit runs.
        for window in _DIGIT_RUN.finditer(text):
            chunk, base = window.group(), window.start()
            for region in self.REGIONS:
                for m in MemoPhoneNumberMatcher(chunk, region, leniency=phonenumbers.Leniency.POSSIBLE):
                    # short "possible" numbers are order ids and error codes far more often than phones
                    start = base + m.start
                    if (sum(c.isdigit() for c in m.raw_string) >= 7 and not _ID_PREFIX.search(text[:start])
                            and not _DOTTED_QUAD.fullmatch(m.raw_string)):
                        out[(start, base + m.end)] = 0.75
        for key in [k for k in out if text[k[0] : k[0] + 2].lower() == "0x"]:
            del out[key]  # hexadecimal error codes
        for sm in self.SHAPE.finditer(text):
            digits = sum(c.isdigit() for c in sm.group())
            if digits < 8 or digits > 15 or _DOTTED_QUAD.fullmatch(sm.group()):
                continue
            score = 0.65 if re.search(r"[\s().+-]", sm.group()) else 0.5
            key = (sm.start(), sm.end())
            out[key] = max(out.get(key, 0.0), score)
        return [self._result(s, e, sc) for (s, e), sc in out.items() if not self._reference(text, s, e)]

    @staticmethod
    def _reference(text: str, start: int, end: int) -> bool:
        """True when TEXT[START:END] is a date or a number named as a reference (case, order, invoice)."""
        if _ISO_DATE.fullmatch(text, start, end) or _ISO_DATE.match(text, start):
            return True
        if text.startswith("+", start):  # an international prefix says phone, whatever the label
            return False
        # the label names the whole code, of which the number may be a part: "tracking 9400 1000 0000 0000",
        # "DHL JJD 0001 2345 6789", "Royal Mail tracking AB 1234 5678 9GB"
        return after_reference_label(text, start)

    def _result(self, start: int, end: int, score: float) -> RecognizerResult:
        return make_result(self, "PHONE_NUMBER", start, end, score)


def after_reference_label(text: str, start: int) -> bool:
    """True when the number at START follows a word that names it a reference (case, order, invoice,
    tracking, a carrier's name), possibly after the code's first parts ("DHL JJD 0001 ...")."""
    return _REF_WORD.search(text, max(0, start - 60), start) is not None


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _iban_ok(compact: str) -> bool:
    moved = compact[4:] + compact[:4]
    try:
        return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1
    except ValueError:
        return False


class _SimpleRecognizer(EntityRecognizer):
    """Base for regex-plus-validation recognizers that need their own (case-sensitive) flags."""

    ENTITY = ""

    def __init__(self, context: list[str] | None = None) -> None:
        super().__init__(supported_entities=[self.ENTITY], name=type(self).__name__, context=context)

    def load(self) -> None:
        pass

    def _result(self, start: int, end: int, score: float) -> RecognizerResult:
        return make_result(self, self.ENTITY, start, end, score)


class AionCardRecognizer(_SimpleRecognizer):
    """Payment card numbers: 12-19 digits, single space/dash separators, Luhn-valid."""

    ENTITY = "CREDIT_CARD"
    _RE = re.compile(r"(?<![\w-])\d{4}(?:[ -]?\d{1,7}){1,4}(?![\w-])")

    def __init__(self) -> None:
        super().__init__(context=["card", "credit", "debit", "visa", "mastercard", "amex", "cardholder"])

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list:
        """Luhn-valid digit groups; 12 digits only score low (could be a phone number)."""
        out = []
        for m in self._RE.finditer(text):
            digits = re.sub(r"\D", "", m.group())
            if 12 <= len(digits) <= 19 and _luhn(digits) and len(set(digits)) > 1:
                out.append(self._result(m.start(), m.end(), 0.9 if len(digits) >= 13 else 0.45))
        return out


class AionIbanRecognizer(_SimpleRecognizer):
    """IBANs of any country, compact or in groups of four, validated by the mod-97 checksum."""

    ENTITY = "IBAN_CODE"
    _RE = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{1,4}){3,9}\b")

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list:
        """Longest checksum-valid prefix of each candidate (a trailing word may have been taken)."""
        out = []
        for m in self._RE.finditer(text):
            cand = m.group()
            while len(cand.replace(" ", "")) >= 15:
                if _iban_ok(cand.replace(" ", "")):
                    out.append(self._result(m.start(), m.start() + len(cand), 0.95))
                    break
                cand = cand[: max(cand.rfind(" "), len(cand) - 1)].rstrip() if " " in cand[4:] else cand[:-1]
        return out


class AionSsnRecognizer(_SimpleRecognizer):
    """US social security numbers in the 3-2-4 shape (dashes, spaces or dots), plausible areas."""

    ENTITY = "US_SSN"
    _RE = re.compile(r"(?<![\w-])(\d{3})([- .])(\d{2})\2(\d{4})(?![\w-])")

    def __init__(self) -> None:
        super().__init__(context=["ssn", "social security", "social"])

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list:
        """Valid-looking SSNs (area not 000/666/9xx, group and serial not zero)."""
        out = []
        for m in self._RE.finditer(text):
            area, group, serial = m.group(1), m.group(3), m.group(4)
            if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
                continue
            out.append(self._result(m.start(), m.end(), 0.7))
        return out
