"""Owners: invited to renew a sharing commitment that is running out, or to sign a first one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ...models import (
    OutboxMessage,
    Owner,
    SharingCommitment,
)
from ...timezones import local_time
from ..channels.templates import MessageKind
from ..commitments import last_day_in_force
from .outbox import Texts, _queue, owner_channels, owner_link_slot
from .settings import ChannelPlan


def last_valid_day(valid_until: datetime) -> str:
    """The end date a message names: the commitment's last day in force, as the owner's page gives it."""
    return last_day_in_force(valid_until).strftime("%d/%m/%Y")


def _renewal_texts(commitment: SharingCommitment, link_url: str) -> Texts:
    owner = commitment.owner
    last_day = last_valid_day(commitment.valid_until)
    short = (
        f"Cam kết chia sẻ dữ liệu Camera an ninh của ông/bà hết hiệu lực sau ngày {last_day}. Gia hạn tại: {link_url}"
    )
    phone = owner.commune.police_phone if owner.commune else None
    body = "\n".join(
        [
            f"Kính gửi {owner.name},",
            "",
            f"Cam kết chia sẻ dữ liệu camera ông/bà đã ký ngày {local_time(commitment.signed_at, '%d/%m/%Y')} "
            f"có hiệu lực đến hết ngày {last_day}.",
            "Để tiếp tục tham gia chương trình Camera an ninh, xin đọc và gia hạn cam kết tại liên kết dành riêng "
            "cho ông/bà:",
            link_url,
            "",
            "Tại liên kết này ông/bà cũng có thể không gia hạn hoặc rút lại cam kết.",
            *([f"Điện thoại trực ban Công an {owner.commune.name}: {phone}"] if phone else []),
        ]
    )
    parameters = {"owner_name": owner.name, "last_day": last_day}
    return Texts(short, "Mời gia hạn cam kết chia sẻ dữ liệu Camera an ninh", body, parameters)


def invite_renewal(
    session: Session, commitment: SharingCommitment, base_url: str, plan: ChannelPlan, now: datetime
) -> list[OutboxMessage]:
    """Invite the owner to renew a commitment that is running out, through a new commitment link (minted when
    the invitation is sent, valid until `valid_until`); by ZNS or SMS it waits out the quiet hours."""
    recipients = owner_channels(commitment.owner, plan)
    if not recipients:
        return []
    link_url = owner_link_slot(base_url)
    return _queue(
        session,
        key=f"commitment:{commitment.id}:renewal",
        kind=MessageKind.RENEWAL.value,
        recipients=recipients,
        texts=_renewal_texts(commitment, link_url),
        payload={"commitment_id": commitment.id, "link": link_url, "valid_until": commitment.valid_until.isoformat()},
        now=now,
    )


def _invitation_texts(owner: Owner, link_url: str) -> Texts:
    police_unit = f"Công an {owner.commune.name}" if owner.commune else "Công an xã, phường"
    phone = owner.commune.police_phone if owner.commune else None
    body = "\n".join(
        [
            f"Kính gửi {owner.name},",
            "",
            f"{police_unit} mời ông/bà tham gia chương trình Camera an ninh: khi có vụ việc, công an đề nghị "
            "ông/bà giữ lại và cung cấp bản sao dữ liệu camera liên quan.",
            "Xin đọc và ký cam kết chia sẻ dữ liệu tại liên kết dành riêng cho ông/bà:",
            link_url,
            "",
            "Nếu ông/bà không muốn tham gia, xin bỏ qua tin này.",
            *([f"Điện thoại trực ban {police_unit}: {phone}"] if phone else []),
        ]
    )
    short = f"{police_unit} mời ông/bà ký cam kết chia sẻ dữ liệu Camera an ninh tại: {link_url}"
    parameters = {"owner_name": owner.name, "police_unit": police_unit}
    return Texts(short, "Mời ký cam kết chia sẻ dữ liệu Camera an ninh", body, parameters)


def invite_signature(
    session: Session, owner: Owner, base_url: str, plan: ChannelPlan, now: datetime, link_expires_at: datetime
) -> list[OutboxMessage]:
    """Invite an owner with no commitment to sign one, through a commitment link naming none (minted when the
    invitation is sent, valid until `link_expires_at`); by ZNS or SMS it waits out the quiet hours."""
    recipients = owner_channels(owner, plan)
    if not recipients:
        return []
    link_url = owner_link_slot(base_url)
    return _queue(
        session,
        key=f"owner:{owner.id}:commitment-invitation:{now:%Y%m%dT%H%M%S}",
        kind=MessageKind.INVITATION.value,
        recipients=recipients,
        texts=_invitation_texts(owner, link_url),
        payload={"invited_owner_id": owner.id, "link": link_url, "link_expires_at": link_expires_at.isoformat()},
        now=now,
    )
