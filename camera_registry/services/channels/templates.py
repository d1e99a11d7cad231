"""The one registry of message kinds sent by ZNS and SMS: their parameters, Vietnamese texts and limits.

Both channels send only pre-registered templates, so each kind is fixed here
once: the ZNS content registered with Zalo (links are not allowed in ZNS
content, so the owner's link is the URL of the template's button), and the
SMS brandname text registered with the gateway, which is the short
Vietnamese text of services/notifications/ without accents. validate()
checks the registry at start-up against the providers' limits, filled with
the longest values we expect, so a template that cannot be sent fails there
rather than at 23:00 on a real request.

Limits, from Zalo:
- ZNS parameters have a type and a maximum length per type: customer name 30,
  code 30, custom label 30, quantity 20, time 20 (hh:mm dd/mm/yyyy, dd/mm/yyyy),
  URL 200 (https://zalo.cloud/blog/cac-dinh-dang-du-lieu-khi-truyen-vao-tham-so-tren-noi-dung-zns/9gubbkay4yyrng86a:
  "Tên khách hàng (30) ... độ dài kí tự tối đa ... là 30 kí tự"; the full type list in
  https://app.unpkg.com/@warriorteam/redai-zalo-sdk@1.32.17/files/dist/types/zns.d.ts).
  Product/brand names are 200 there and 100 in Zalo's newer table; 100 is used.
- A ZNS text paragraph holds at most 400 characters
  (https://help.nxlink.ai/en/docs/ZNS-Template-Content-Data-Format-Requirements).
- An SMS is 160 GSM-7 characters, or 153 per part when concatenated (3GPP TS 23.038);
  each kind states how many parts its longest text takes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import Enum, StrEnum

from ..messages import N_, refusal
from ..vietnamese import strip_accents
from ..wording import MESSAGE_LANGUAGES, say

#: ZNS's most characters in one text paragraph.
ZNS_PARAGRAPH_LIMIT = 400
SMS_SINGLE_LIMIT = 160
SMS_PART_LIMIT = 153
#: GSM 03.38 default alphabet, and its extension table (each extension character takes two).
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "^{}\\[~]|€\f"


class MessageKind(StrEnum):
    """What a message is for; the values are the outbox kinds of services/notifications/."""

    REQUEST = "assignment.request"
    REMINDER = "assignment.reminder"
    RENEWAL = "commitment.renewal"
    INVITATION = "commitment.invitation"  # to sign a first commitment
    ESCALATION = "assignment.escalation"


class ParamType(Enum):
    """A ZNS parameter type: Zalo's label, its length limit, and whether a longer value may be shortened
    (a name reads well cut with an ellipsis; a case number, a time or a link does not)."""

    CUSTOMER_NAME = ("Tên khách hàng", 30, True)
    PRODUCT_BRAND = ("Tên sản phẩm / Thương hiệu", 100, True)
    CUSTOM_LABEL = ("Nhãn tùy chỉnh", 30, False)
    CODE = ("Mã số", 30, False)
    QUANTITY = ("Số lượng / Số tiền", 20, False)
    TIME = ("Thời gian", 20, False)
    URL = ("URL", 200, False)

    def __init__(self, label: str, limit: int, shortenable: bool) -> None:
        self.label = label
        self.limit = limit
        self.shortenable = shortenable


class TemplateError(ValueError):
    """A template, or the values for one, that a provider would refuse."""


@dataclass(frozen=True)
class Param:
    name: str
    type: ParamType
    #: The longest value we expect: validate() checks it fits without shortening.
    plausible: str


@dataclass(frozen=True)
class MessageTemplate:
    """One message kind as both channels send it, its texts English msgids said in the reader's language.

    `zns_text` is the ZNS content (paragraphs separated by blank lines), its
    %(slots)s Zalo's <params>; `zns_button` the label of its button, whose URL
    is the `link` parameter; both None for a kind that never goes by ZNS (the
    escalation goes to the commune police's duty phone by SMS, or the webhook
    gateway: notifications/police.py). `short` is the short text; the SMS is
    that text filled in and stripped of accents (`sms_template` is what is
    registered with the gateway, one per language), at most `sms_parts` SMS long.
    `in_language` gives the template with its texts in one language, as it is
    registered with Zalo and the gateway.
    """

    kind: MessageKind
    params: tuple[Param, ...]
    zns_text: str | None
    zns_button: str | None
    short: str
    sms_parts: int
    language: str = "en"

    @property
    def by_zns(self) -> bool:
        return self.zns_text is not None

    @property
    def sms_template(self) -> str:
        return strip_accents(self.short)

    def in_language(self, language: str) -> MessageTemplate:
        if language == self.language:
            return self
        texts = {name: getattr(self, name) for name in ("zns_text", "zns_button", "short")}
        said = {name: say(language, text) if text is not None else None for name, text in texts.items()}
        return replace(self, language=language, **said)

    def _values(self, values: Mapping[str, str]) -> dict[str, str]:
        missing = [param.name for param in self.params if not str(values.get(param.name) or "").strip()]
        if missing:
            raise TemplateError(
                refusal("%(kind)s: no value for %(names)s", kind=self.kind.value, names=", ".join(missing))
            )
        return {param.name: str(values[param.name]).strip() for param in self.params}

    def zns_data(self, values: Mapping[str, str]) -> dict[str, str]:
        """ZNS `template_data`: every parameter within its type's limit, names shortened with an ellipsis."""
        if not self.by_zns:
            raise TemplateError(f"{self.kind.value} is not sent by ZNS")
        data = self._values(values)
        for param in self.params:
            value, limit = data[param.name], param.type.limit
            if len(value) <= limit:
                continue
            if not param.type.shortenable:
                raise TemplateError(
                    f"{param.name} has {len(value)} characters; ZNS allows {limit} for a {param.type.label}"
                )
            data[param.name] = value[: limit - 1].rstrip() + "…"
        return data

    def short_text(self, values: Mapping[str, str]) -> str:
        """The short text filled in, accents kept: the webhook gateway's text."""
        return self.short % self._values(values)

    def sms_text(self, values: Mapping[str, str]) -> str:
        return strip_accents(self.short_text(values))

    def problems(self) -> list[str]:
        """What a provider would refuse in this template, filled with its plausible values."""
        names = [param.name for param in self.params]
        where = f"{self.kind.value} ({self.language})"
        found = []
        texts = (("ZNS text", self.zns_text),) if self.by_zns else ()
        for label, text in (*texts, ("short text", self.short)):
            unknown = set(_slots(text)) - set(names)
            if unknown:
                found.append(f"{where}: {label} uses undeclared {', '.join(sorted(unknown))}")
        if "link" not in names:
            found.append(f"{where}: no link parameter" + (" for the ZNS button" if self.by_zns else ""))
        if self.by_zns:
            found.extend(self._zns_problems(where))
        if found:
            return found
        plausible = {param.name: param.plausible for param in self.params}
        paragraphs = (self.zns_text % plausible).split("\n\n") if self.by_zns else []
        found.extend(
            f"{where}: a ZNS paragraph of {len(paragraph)} characters (at most {ZNS_PARAGRAPH_LIMIT})"
            for paragraph in paragraphs
            if len(paragraph) > ZNS_PARAGRAPH_LIMIT
        )
        try:
            parts = sms_parts(self.sms_text(plausible))
        except TemplateError as error:
            return [*found, f"{where}: {error}"]
        if parts > self.sms_parts:
            found.append(f"{where}: the SMS takes {parts} parts, more than the {self.sms_parts} stated")
        return found

    def _zns_problems(self, where: str) -> list[str]:
        found = []
        if "link" in _slots(self.zns_text):
            found.append(f"{where}: ZNS content may not hold a link; it goes on the button")
        for param in self.params:
            if len(param.plausible) > param.type.limit:
                found.append(
                    f"{where}: {param.name} may have {len(param.plausible)} characters; "
                    f"ZNS allows {param.type.limit} for a {param.type.label}"
                )
        return found


SLOT = re.compile(r"%\((\w+)\)s")


def _slots(text: str) -> list[str]:
    return SLOT.findall(text)


def sms_parts(text: str) -> int:
    """How many SMS `text` takes in GSM-7; TemplateError for a character GSM-7 cannot carry."""
    outside = sorted({char for char in text if char not in GSM7_BASIC and char not in GSM7_EXTENSION})
    if outside:
        raise TemplateError(
            refusal("the SMS has characters GSM-7 cannot carry: %(chars)s", chars=repr("".join(outside)))
        )
    units = sum(2 if char in GSM7_EXTENSION else 1 for char in text)
    return 1 if units <= SMS_SINGLE_LIMIT else math.ceil(units / SMS_PART_LIMIT)


_POLICE_UNIT = Param("police_unit", ParamType.PRODUCT_BRAND, "Công an xã Quảng Phước Đông, tỉnh Thừa Thiên Huế")
_OWNER_NAME = Param("owner_name", ParamType.CUSTOMER_NAME, "Cửa hàng điện máy Thành Công 2")
_CASE_REF = Param("case_ref", ParamType.CODE, "CAX-2025-HN-BĐ-0012345")
_DEADLINE = Param("deadline", ParamType.TIME, "23:59 31/12/2025")
_LINK = Param("link", ParamType.URL, "https://camera.congan.example.vn/o/" + "x" * 43)
_REQUEST_PARAMS = (
    _OWNER_NAME,
    _POLICE_UNIT,
    Param("ask", ParamType.CUSTOM_LABEL, "đồng ý cho trích xuất"),
    Param("window_start", ParamType.TIME, "23:45 31/12/2025"),
    Param("window_end", ParamType.TIME, "23:59 31/12/2025"),
    _CASE_REF,
    Param("keep_until", ParamType.TIME, "23:59 31/12/2025"),
    _DEADLINE,
    _LINK,
)
# Two deadlines, told apart: %(keep_until)s is when the recorder overwrites the footage, %(deadline)s when the
# answer is due (the police's reply deadline, or the overwrite time when they set none). Each kind's texts are
# whole msgids (the catalogs hold each as it is registered), so a reminder repeats the request's words.
_REQUEST_BUTTON = N_("Answer the request")

TEMPLATES: dict[MessageKind, MessageTemplate] = {
    template.kind: template
    for template in (
        MessageTemplate(
            kind=MessageKind.REQUEST,
            params=_REQUEST_PARAMS,
            zns_text=N_(
                "Dear %(owner_name)s,\n\n"
                "%(police_unit)s asks you to %(ask)s the camera footage recorded from %(window_start)s to "
                "%(window_end)s (case %(case_ref)s). Please keep the footage until %(keep_until)s, after which the "
                "recorder may overwrite it, and answer by %(deadline)s.\n\n"
                "To answer (agree, decline or report that you have no footage), press the button below. "
                "The link is for this request only; please do not pass it on."
            ),
            zns_button=_REQUEST_BUTTON,
            short=N_(
                "%(police_unit)s asks you to %(ask)s camera footage %(window_start)s-%(window_end)s "
                "(case %(case_ref)s). Keep it until %(keep_until)s, answer by %(deadline)s: %(link)s"
            ),
            sms_parts=2,
        ),
        MessageTemplate(
            kind=MessageKind.REMINDER,
            params=(*_REQUEST_PARAMS, Param("number", ParamType.QUANTITY, "12")),
            zns_text=N_(
                "Dear %(owner_name)s,\n\n"
                "Reminder %(number)s: %(police_unit)s asks you to %(ask)s the camera footage recorded from "
                "%(window_start)s to %(window_end)s (case %(case_ref)s). Please keep the footage until "
                "%(keep_until)s, after which the recorder may overwrite it, and answer by %(deadline)s.\n\n"
                "To answer (agree, decline or report that you have no footage), press the button below. "
                "The link is for this request only; please do not pass it on."
            ),
            zns_button=_REQUEST_BUTTON,
            short=N_(
                "Reminder %(number)s: %(police_unit)s asks you to %(ask)s camera footage "
                "%(window_start)s-%(window_end)s (case %(case_ref)s). Keep it until %(keep_until)s, "
                "answer by %(deadline)s: %(link)s"
            ),
            sms_parts=3,
        ),
        MessageTemplate(
            kind=MessageKind.RENEWAL,
            params=(_OWNER_NAME, Param("last_day", ParamType.TIME, "31/12/2025"), _LINK),
            zns_text=N_(
                "Dear %(owner_name)s,\n\n"
                "Your Camera an ninh footage-sharing commitment ends after %(last_day)s. To stay in the "
                "programme, please read and renew the commitment with the button below; there you may also "
                "let it end or withdraw it."
            ),
            zns_button=N_("Renew the commitment"),
            short=N_("Your Camera an ninh footage-sharing commitment ends after %(last_day)s. Renew it at: %(link)s"),
            sms_parts=2,
        ),
        MessageTemplate(
            kind=MessageKind.INVITATION,
            params=(_OWNER_NAME, _POLICE_UNIT, _LINK),
            zns_text=N_(
                "Dear %(owner_name)s,\n\n"
                "%(police_unit)s invites you to join the Camera an ninh programme. Please read and sign the "
                "footage-sharing commitment with the button below; the link is for you alone."
            ),
            zns_button=N_("Read and sign the commitment"),
            short=N_("%(police_unit)s invites you to sign the Camera an ninh footage-sharing commitment at: %(link)s"),
            sms_parts=2,
        ),
        MessageTemplate(
            kind=MessageKind.ESCALATION,
            params=(Param("assignment_id", ParamType.CODE, "1234567890"), _CASE_REF, _OWNER_NAME, _DEADLINE, _LINK),
            zns_text=None,
            zns_button=None,
            short=N_(
                "Assignment #%(assignment_id)s (case %(case_ref)s): camera owner %(owner_name)s has not answered; "
                "the footage may be overwritten after %(deadline)s. See: %(link)s"
            ),
            sms_parts=2,
        ),
    )
}


def templates_in(language: str) -> dict[MessageKind, MessageTemplate]:
    """Every kind's template with its texts in `language`, as registered with Zalo and the SMS gateway."""
    return {kind: template.in_language(language) for kind, template in TEMPLATES.items()}


def registered_sms_templates() -> list[str]:
    """The SMS texts to register with the brandname gateway: every kind's, in every language."""
    return [template.sms_template for language in MESSAGE_LANGUAGES for template in templates_in(language).values()]


#: The kinds that go by ZNS, each with its approved template per language (CHANNEL_ZNS_TEMPLATE_<NAME>, and
#: CHANNEL_ZNS_TEMPLATE_<NAME>_EN for owners who read English).
ZNS_KINDS = tuple(kind for kind in MessageKind if TEMPLATES[kind].by_zns)


def zns_template_setting(kind: MessageKind, language: str) -> str:
    """The setting that names `kind`'s approved ZNS template in `language`; Vietnamese's has no suffix."""
    suffix = "" if language == MESSAGE_LANGUAGES[0] else f"_{language.upper()}"
    return f"CHANNEL_ZNS_TEMPLATE_{kind.name}{suffix}"


def validate(
    zns_template_ids: Mapping[str, Mapping[MessageKind, str]] | None = None,
    templates: Iterable[MessageTemplate] | None = None,
) -> None:
    """Check every message kind in every language at start-up; TemplateError listing all that a provider would
    refuse.

    With `zns_template_ids` (ZnsSettings.template_ids: by language, then kind), also that each kind sent by ZNS
    has its approved Vietnamese ZNS template, and that another language has a template for every such kind or
    for none (its owners then get SMS or e-mail); a kind that never goes by ZNS needs none.
    """
    registry = {template.kind: template for template in (TEMPLATES.values() if templates is None else templates)}
    problems = [f"{kind.value}: no template" for kind in MessageKind if kind not in registry]
    for template in registry.values():
        for language in MESSAGE_LANGUAGES:
            problems.extend(template.in_language(language).problems())
    if zns_template_ids is not None:
        by_zns = [kind for kind, template in registry.items() if template.by_zns]
        for language in MESSAGE_LANGUAGES:
            ids = zns_template_ids.get(language) or {}
            missing = [kind for kind in by_zns if not (ids.get(kind) or "").strip()]
            if language != MESSAGE_LANGUAGES[0] and len(missing) == len(by_zns):
                continue
            problems.extend(
                f"{kind.value}: no ZNS template id ({zns_template_setting(kind, language)})" for kind in missing
            )
    if problems:
        raise TemplateError("; ".join(problems))
