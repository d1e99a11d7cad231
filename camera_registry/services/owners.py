"""Camera owners. Their contact data is personal data: shown only to roles that
need it (admin, the police of the owner's commune), and every disclosure,
change or anonymisation is written to the audit trail. Changes name the version
they were read at, or none (unconditional); see services.records."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from ..db import after_read, write_in_batches
from ..models import AdminUnit, Owner, OwnerKind
from .access import Actor
from .audit import record
from .channels.phones import PhoneError, entered_phone, normalise_phone
from .listing import Page, page_of, readable
from .records import add_new, apply_changes, flush, get_readable, get_writable, require_unique, with_commune_id

CONTACT_FIELDS = ("phone", "email", "address")
ANONYMISED_NAME = "Đã ẩn danh"
PHONE_BATCH = 500


@dataclass(frozen=True)
class OwnerCard:
    """What a caller may see of an owner; contact fields are None when hidden."""

    id: int
    external_id: str
    kind: OwnerKind
    name: str
    commune_id: int | None
    commune_code: str | None
    phone: str | None
    email: str | None
    address: str | None
    contacts_shown: bool
    version: int
    #: The language the owner's messages are written in (None: Vietnamese).
    language: str | None = None


def owner_cards(
    session: Session, actor: Actor, owners: list[Owner], *, seen_on: str | None = None, request_id: int | None = None
) -> list[OwnerCard]:
    """What `actor` may see of each owner; disclosing contact data is audited (after the read, when it is one),
    with where it was shown (`seen_on`: request_page, map, owners_api, place_search) and, on a request's page, as
    an event of that request, so its timeline and the admins' contact-reads page can say so."""
    shown = [owner for owner in owners if actor.sees_contacts(owner.commune_id)]
    if shown:
        details = {"owner_ids": [owner.id for owner in shown], "seen_on": seen_on}
        entity = ("request", request_id) if request_id is not None else ("owner", None)
        after_read(session, lambda writer: record(writer, actor, "owner.contacts_read", *entity, details=details))
    shown_ids = {owner.id for owner in shown}
    return [
        OwnerCard(
            id=o.id,
            external_id=o.external_id,
            kind=o.kind,
            name=o.name,
            commune_id=o.commune_id,
            commune_code=o.commune.code if o.commune_id else None,
            **{name: getattr(o, name) if o.id in shown_ids else None for name in CONTACT_FIELDS},
            contacts_shown=o.id in shown_ids,
            version=o.version,
            language=o.language,
        )
        for o in owners
    ]


def list_owners(
    session: Session,
    actor: Actor,
    *,
    commune_code: str | None = None,
    kind: OwnerKind | None = None,
    page: int = 1,
    page_size: int = 50,
) -> Page[OwnerCard]:
    statement = select(Owner).where(readable(actor, Owner.commune_id)).order_by(Owner.id)
    if commune_code is not None:
        statement = statement.join(AdminUnit, Owner.commune_id == AdminUnit.id).where(AdminUnit.code == commune_code)
    if kind is not None:
        statement = statement.where(Owner.kind == kind)
    found = page_of(session, statement, page, page_size)
    return Page(owner_cards(session, actor, found.items, seen_on="owners_api"), found.total)


def get_owner(session: Session, actor: Actor, owner_id: int) -> OwnerCard:
    [card] = owner_cards(session, actor, [get_readable(session, actor, Owner, owner_id, "owner")], seen_on="owners_api")
    return card


def create_owner(
    session: Session,
    actor: Actor,
    *,
    external_id: str,
    kind: OwnerKind,
    name: str,
    commune_code: str,
    phone: str | None = None,
    email: str | None = None,
    address: str | None = None,
    language: str | None = None,
) -> OwnerCard:
    values = with_commune_id(
        session,
        actor,
        {
            "external_id": external_id,
            "kind": kind,
            "name": name,
            "commune_code": commune_code,
            "phone": entered_phone(phone, "phone"),
            "email": email,
            "address": address,
            "language": language,
        },
        "owners",
    )
    require_unique(session, Owner, "external_id", external_id, "owner")
    return get_owner(session, actor, add_new(session, actor, Owner(**values), "owner").id)


def update_owner(
    session: Session, actor: Actor, owner_id: int, changes: dict, *, expected_version: int | None = None
) -> OwnerCard:
    owner = get_writable(session, actor, Owner, owner_id, "owner", expected_version)
    if "external_id" in changes:
        require_unique(session, Owner, "external_id", changes["external_id"], "owner", exclude_id=owner.id)
    if "phone" in changes:
        changes = {**changes, "phone": entered_phone(changes["phone"], "phone")}
    changes = with_commune_id(session, actor, changes, "owners")
    apply_changes(session, actor, owner, changes, "owner.update", "owner")
    return get_owner(session, actor, owner.id)


def anonymise_owner(session: Session, actor: Actor, owner_id: int, *, expected_version: int | None = None) -> OwnerCard:
    """Erase the owner's personal data on request; cameras and history stay, unnamed."""
    owner = get_writable(session, actor, Owner, owner_id, "owner", expected_version)
    owner.name = ANONYMISED_NAME
    for name in CONTACT_FIELDS:
        setattr(owner, name, None)
    flush(session, "owner", owner.id)
    record(session, actor, "owner.anonymise", "owner", owner.id)
    return get_owner(session, actor, owner.id)


@dataclass
class StoredPhones:
    """What normalising the stored phones did: the owners rewritten, and those left as typed, with the reason."""

    normalised: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)


def normalise_stored_phones(
    session_factory: sessionmaker[Session], actor: Actor, *, batch_size: int = PHONE_BATCH
) -> StoredPhones:
    """Rewrite the phones stored as typed, before entry normalised them, as 84XXXXXXXXX, `batch_size` owners per
    write unit; a number that is not a mobile one stays as it is, for a person to correct."""
    found = StoredPhones()
    after = [0]  # the last owner id of the last committed batch

    def batch(session: Session) -> int:
        owners = session.scalars(
            select(Owner).where(Owner.id > after[0], Owner.phone.is_not(None)).order_by(Owner.id).limit(batch_size)
        ).all()
        normalised, refused, last = [], {}, owners[-1].id if owners else after[0]
        for owner in owners:
            try:
                phone = normalise_phone(owner.phone)
            except PhoneError as error:
                refused[owner.id] = str(error)
                continue
            if phone != owner.phone:
                owner.phone = phone
                normalised.append(owner.id)
        if normalised:
            record(session, actor, "owner.phones_normalised", "owner", None, details={"owner_ids": normalised})

        def committed(_session: Session) -> None:
            # Only now: a batch retried after a failed commit is done again, not skipped or counted twice.
            found.normalised.extend(normalised)
            found.refused.update(refused)
            after[0] = last

        event.listen(session, "after_commit", committed)
        return len(owners)

    write_in_batches(session_factory, batch, batch_size)
    return found


__all__ = [
    "OwnerCard",
    "StoredPhones",
    "anonymise_owner",
    "create_owner",
    "get_owner",
    "list_owners",
    "normalise_stored_phones",
    "update_owner",
]
