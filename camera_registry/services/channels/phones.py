"""Vietnamese mobile numbers, normalised to 84XXXXXXXXX: the form ZNS and the SMS gateways take.

Owners' numbers arrive as people write them ("0987 654 321", "+84 987654321",
"(098) 765-4321", a spreadsheet's "987654321" that lost its 0). Only mobile
numbers can receive ZNS or SMS, so a number is refused with the reason a
person can act on: a landline, a wrong length, or an 11-digit number from
before the 2018 conversion, with the 10-digit prefix it became.

Prefixes after the conversion (Ministry of Information and Communications,
from 15/09/2018; the last 7 digits were kept), as listed at
https://fptcorp.com.vn/danh-sach-dau-so-di-dong-10-so-tai-viet-nam-moi-nhat,
https://lawnet.vn/en/laws/what-is-the-current-list-of-prefixes-of-vietnamese-phone-numbers-of-mobile-network-operators-what-i-134777.html
and https://convert-phone-numbers.en.aptoide.com/app (old to new prefixes).
Itel's 087 and Reddi's 055 are as the operators announce them; the pages
above do not list them, though eSMS's callbacks name both networks
(docs/channels.md).
"""

from __future__ import annotations

import re

from ..errors import ValidationFailed
from ..messages import domain_term, refusal

#: The two digits after the leading 0 of every 10-digit mobile number, and the network they belong to.
MOBILE_PREFIXES: dict[str, str] = {
    **dict.fromkeys(("86", "96", "97", "98", "32", "33", "34", "35", "36", "37", "38", "39"), "Viettel"),
    **dict.fromkeys(("89", "90", "93", "70", "76", "77", "78", "79"), "MobiFone"),
    **dict.fromkeys(("88", "91", "94", "81", "82", "83", "84", "85"), "VinaPhone"),
    **dict.fromkeys(("92", "56", "58"), "Vietnamobile"),
    **dict.fromkeys(("99", "59"), "Gmobile"),
    "87": "Itel",
    "55": "Reddi",
}

#: 11-digit prefixes (with their 0) retired in 2018, and the 10-digit prefix each became.
OLD_PREFIXES: dict[str, str] = {
    **{f"016{digit}": f"03{digit}" for digit in "23456789"},
    "0120": "070",
    "0121": "079",
    "0122": "077",
    "0126": "076",
    "0128": "078",
    "0123": "083",
    "0124": "084",
    "0125": "085",
    "0127": "081",
    "0129": "082",
    "0186": "056",
    "0188": "058",
    "0199": "059",
}

#: Hà Nội's and Hồ Chí Minh City's landline area codes are three digits; every other province's is four.
THREE_DIGIT_AREA_CODES = ("024", "028")

_SEPARATORS = re.compile(r"[\s.\-()/]")


class PhoneError(ValueError):
    """A number that cannot receive ZNS or SMS; the message says why, for a person to fix."""


def _national(raw: str) -> str:
    """The number as dialled inside Vietnam (leading 0), from any of the usual ways of writing it."""
    digits = _SEPARATORS.sub("", raw or "")
    if not digits:
        raise PhoneError(refusal("no phone number given"))
    if digits.startswith("+"):
        digits = digits[1:]
        if not digits.startswith("84"):
            raise PhoneError(refusal("not a Vietnamese number: country code +%(code)s", code=digits[:3]))
    elif digits.startswith("0084"):
        digits = digits[2:]
    if not digits.isdigit():
        raise PhoneError(refusal("a phone number has digits only, not %(raw)s", raw=repr(raw.strip())))
    if digits.startswith("84") and len(digits) in (11, 12):
        digits = digits[2:]
    if digits.startswith("0"):
        return digits
    if len(digits) in (9, 10):
        # A spreadsheet that read the number as an integer dropped its leading 0.
        return "0" + digits
    raise PhoneError(refusal("10 digits expected, got %(count)s", count=len(digits)))


def normalise_phone(raw: str) -> str:
    """`raw` as 84XXXXXXXXX when it is a Vietnamese mobile number; PhoneError saying why otherwise."""
    national = _national(raw)
    if national.startswith("02"):
        area = national[:3] if national.startswith(THREE_DIGIT_AREA_CODES) else national[:4]
        raise PhoneError(refusal("not a Vietnamese mobile number: landline prefix %(area)s", area=area))
    if len(national) == 11 and national[:4] in OLD_PREFIXES:
        raise PhoneError(
            refusal("old 11-digit prefix %(old)s became %(new)s", old=national[:4], new=OLD_PREFIXES[national[:4]])
        )
    if len(national) != 10:
        raise PhoneError(refusal("10 digits expected, got %(count)s", count=len(national)))
    if national[1:3] not in MOBILE_PREFIXES:
        raise PhoneError(
            refusal("not a Vietnamese mobile number: no network uses prefix %(prefix)s", prefix=national[:3])
        )
    return "84" + national[1:]


def entered_phone(raw: str | None, field: str) -> str | None:
    """A number someone entered, as it is stored (84XXXXXXXXX), or None when left blank; ValidationFailed naming
    `field` and the reason otherwise. Every entry path calls it, so what one refuses none stores."""
    if raw is None or not raw.strip():
        return None
    try:
        return normalise_phone(raw)
    except PhoneError as error:
        raise ValidationFailed(
            refusal("%(field)s is not a Vietnamese mobile number", field=domain_term(field)), {field: [error.args[0]]}
        ) from None


def readable_phone(phone: str) -> str:
    """A number as people read and dial it: 0987 654 321. One stored before numbers were normalised that is not
    a mobile number (a landline, a typo) is shown as it was typed, for a person to call or correct."""
    try:
        national = "0" + normalise_phone(phone)[2:]
    except PhoneError:
        return phone
    return f"{national[:4]} {national[4:7]} {national[7:]}"


def network(phone: str) -> str:
    """The network a normalised number belongs to (by its prefix; a number moved between networks keeps it)."""
    return MOBILE_PREFIXES[phone[2:4]]
