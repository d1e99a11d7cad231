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
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum

from ..vietnamese import strip_accents

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
    """One message kind as both channels send it.

    `zns_text` is the ZNS content (paragraphs separated by blank lines), its
    {slots} Zalo's <params>; `zns_button` the label of its button, whose URL
    is the `link` parameter; both None for a kind that never goes by ZNS (the
    escalation goes to the commune police's duty phone by SMS, or the webhook
    gateway: notifications/police.py). `short` is the Vietnamese short text; the SMS is
    that text filled in and stripped of accents (`sms_template` is what is
    registered with the gateway), at most `sms_parts` SMS long.
    """

    kind: MessageKind
    params: tuple[Param, ...]
    zns_text: str | None
    zns_button: str | None
    short: str
    sms_parts: int

    @property
    def by_zns(self) -> bool:
        return self.zns_text is not None

    @property
    def sms_template(self) -> str:
        return strip_accents(self.short)

    def _values(self, values: Mapping[str, str]) -> dict[str, str]:
        missing = [param.name for param in self.params if not str(values.get(param.name) or "").strip()]
        if missing:
            raise TemplateError(f"{self.kind.value}: no value for {', '.join(missing)}")
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

    def sms_text(self, values: Mapping[str, str]) -> str:
        return strip_accents(self.short.format_map(self._values(values)))

    def problems(self) -> list[str]:
        """What a provider would refuse in this template, filled with its plausible values."""
        names = [param.name for param in self.params]
        found = []
        texts = (("ZNS text", self.zns_text),) if self.by_zns else ()
        for label, text in (*texts, ("short text", self.short)):
            unknown = set(_slots(text)) - set(names)
            if unknown:
                found.append(f"{self.kind.value}: {label} uses undeclared {', '.join(sorted(unknown))}")
        if "link" not in names:
            found.append(f"{self.kind.value}: no link parameter" + (" for the ZNS button" if self.by_zns else ""))
        if self.by_zns:
            found.extend(self._zns_problems())
        if found:
            return found
        plausible = {param.name: param.plausible for param in self.params}
        paragraphs = self.zns_text.format_map(plausible).split("\n\n") if self.by_zns else []
        found.extend(
            f"{self.kind.value}: a ZNS paragraph of {len(paragraph)} characters (at most {ZNS_PARAGRAPH_LIMIT})"
            for paragraph in paragraphs
            if len(paragraph) > ZNS_PARAGRAPH_LIMIT
        )
        try:
            parts = sms_parts(self.sms_text(plausible))
        except TemplateError as error:
            return [*found, f"{self.kind.value}: {error}"]
        if parts > self.sms_parts:
            found.append(f"{self.kind.value}: the SMS takes {parts} parts, more than the {self.sms_parts} stated")
        return found

    def _zns_problems(self) -> list[str]:
        found = []
        if "link" in _slots(self.zns_text):
            found.append(f"{self.kind.value}: ZNS content may not hold a link; it goes on the button")
        for param in self.params:
            if len(param.plausible) > param.type.limit:
                found.append(
                    f"{self.kind.value}: {param.name} may have {len(param.plausible)} characters; "
                    f"ZNS allows {param.type.limit} for a {param.type.label}"
                )
        return found


def _slots(text: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(text) if name]


def sms_parts(text: str) -> int:
    """How many SMS `text` takes in GSM-7; TemplateError for a character GSM-7 cannot carry."""
    outside = sorted({char for char in text if char not in GSM7_BASIC and char not in GSM7_EXTENSION})
    if outside:
        raise TemplateError(f"the SMS has characters GSM-7 cannot carry: {''.join(outside)!r}")
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
_GREETING = "Kính gửi {owner_name},\n\n"
# Two deadlines, told apart: {keep_until} is when the recorder overwrites the footage, {deadline} when the
# answer is due (the police's reply deadline, or the overwrite time when they set none).
_REQUEST_ZNS = (
    "{police_unit} đề nghị ông/bà {ask} dữ liệu camera ghi lại từ {window_start} đến {window_end} "
    "(vụ việc {case_ref}). Xin giữ dữ liệu đến {keep_until}, sau thời điểm này đầu thu có thể ghi đè, "
    "và trả lời trước {deadline}.\n\n"
    "Để trả lời (đồng ý, từ chối hoặc báo không có dữ liệu), xin bấm nút bên dưới. "
    "Liên kết chỉ dùng cho đề nghị này; xin đừng chuyển cho người khác."
)
_REQUEST_SHORT = (
    "{police_unit} đề nghị ông/bà {ask} dữ liệu camera {window_start}-{window_end} "
    "(vụ việc {case_ref}). Giữ đến {keep_until}, trả lời trước {deadline}: {link}"
)

TEMPLATES: dict[MessageKind, MessageTemplate] = {
    template.kind: template
    for template in (
        MessageTemplate(
            kind=MessageKind.REQUEST,
            params=_REQUEST_PARAMS,
            zns_text=_GREETING + _REQUEST_ZNS,
            zns_button="Trả lời đề nghị",
            short=_REQUEST_SHORT,
            sms_parts=2,
        ),
        MessageTemplate(
            kind=MessageKind.REMINDER,
            params=(*_REQUEST_PARAMS, Param("number", ParamType.QUANTITY, "12")),
            zns_text=_GREETING + "Nhắc lại lần {number}: " + _REQUEST_ZNS,
            zns_button="Trả lời đề nghị",
            short="Nhắc lại lần {number}: " + _REQUEST_SHORT,
            sms_parts=3,
        ),
        MessageTemplate(
            kind=MessageKind.RENEWAL,
            params=(_OWNER_NAME, Param("last_day", ParamType.TIME, "31/12/2025"), _LINK),
            zns_text=_GREETING
            + (
                "Cam kết chia sẻ dữ liệu Camera an ninh của ông/bà hết hiệu lực sau ngày {last_day}. "
                "Để tiếp tục tham gia chương trình, xin đọc và gia hạn cam kết bằng nút bên dưới; "
                "tại đó ông/bà cũng có thể không gia hạn hoặc rút lại cam kết."
            ),
            zns_button="Gia hạn cam kết",
            short=(
                "Cam kết chia sẻ dữ liệu Camera an ninh của ông/bà hết hiệu lực sau ngày {last_day}. "
                "Gia hạn tại: {link}"
            ),
            sms_parts=2,
        ),
        MessageTemplate(
            kind=MessageKind.INVITATION,
            params=(_OWNER_NAME, _POLICE_UNIT, _LINK),
            zns_text=_GREETING
            + (
                "{police_unit} mời ông/bà tham gia chương trình Camera an ninh. "
                "Xin đọc và ký cam kết chia sẻ dữ liệu camera bằng nút bên dưới; liên kết chỉ dành cho ông/bà."
            ),
            zns_button="Đọc và ký cam kết",
            short="{police_unit} mời ông/bà ký cam kết chia sẻ dữ liệu Camera an ninh tại: {link}",
            sms_parts=2,
        ),
        MessageTemplate(
            kind=MessageKind.ESCALATION,
            params=(Param("assignment_id", ParamType.CODE, "1234567890"), _CASE_REF, _OWNER_NAME, _DEADLINE, _LINK),
            zns_text=None,
            zns_button=None,
            short=(
                "Phiếu #{assignment_id} (vụ việc {case_ref}): chủ camera {owner_name} chưa trả lời; "
                "dữ liệu có thể bị ghi đè sau {deadline}. Xem: {link}"
            ),
            sms_parts=2,
        ),
    )
}

#: The kinds that go by ZNS, each with its approved template (CHANNEL_ZNS_TEMPLATE_<NAME>).
ZNS_KINDS = tuple(kind for kind in MessageKind if TEMPLATES[kind].by_zns)


def validate(
    zns_template_ids: Mapping[MessageKind, str] | None = None,
    templates: Iterable[MessageTemplate] | None = None,
) -> None:
    """Check every message kind at start-up; TemplateError listing all that a provider would refuse.

    With `zns_template_ids` (ZnsSettings.template_ids), also that each kind sent by ZNS has its approved ZNS
    template; a kind that never goes by ZNS needs none.
    """
    registry = {template.kind: template for template in (TEMPLATES.values() if templates is None else templates)}
    problems = [f"{kind.value}: no template" for kind in MessageKind if kind not in registry]
    for template in registry.values():
        problems.extend(template.problems())
    if zns_template_ids is not None:
        problems.extend(
            f"{kind.value}: no ZNS template id (CHANNEL_ZNS_TEMPLATE_{kind.name})"
            for kind, template in registry.items()
            if template.by_zns and not (zns_template_ids.get(kind) or "").strip()
        )
    if problems:
        raise TemplateError("; ".join(problems))
