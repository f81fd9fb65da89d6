"""Hash lists ("banks"): import, list, export and tombstone known items.

Every function takes a session and leaves committing to the caller, so a
failed import writes nothing. Re-importing a file is idempotent: items are
keyed by their strongest hash within the list, and only changed fields are
written. Removed items are tombstoned, never deleted, so exports still tell
partners what was withdrawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from veille.media.listformats import HASH_FIELDS, ListEntry, ListFormatError
from veille.media.models import HashList, KnownItem
from veille.media.signals import SignalError, guess_signal_type, signal_type
from veille.store.audit import current_actor, record_event
from veille.store.models import AuditEvent
from veille.store.types import utcnow
from veille.vocab import Marking

_FIELDS = (
    *HASH_FIELDS,
    "category",
    "series",
    "victim_identified",
    "offender_identified",
    "is_distributed",
)


class HashListNotFound(LookupError):
    """No hash list of that name."""


@dataclass(frozen=True)
class ListMetadata:
    """Provenance of an imported list."""

    source: str | None = None
    licence: str | None = None
    marking: str = "amber"
    category_scheme: str | None = None
    threshold_bits: int = 31


@dataclass(frozen=True)
class ImportSummary:
    """What an import changed."""

    list_id: int
    created: int
    updated: int
    unchanged: int
    removed: int


def _validate_metadata(meta: ListMetadata) -> None:
    try:
        Marking(meta.marking)
    except ValueError:
        allowed = ", ".join(m.value for m in Marking)
        raise ListFormatError(
            f"--marking: {meta.marking!r} is not a marking (expected one of: {allowed})"
        ) from None
    if not 0 <= meta.threshold_bits <= 47:
        raise ListFormatError(
            f"--threshold: {meta.threshold_bits} is out of range (expected 0–47 bits)"
        )


def get_list(session: Session, name: str) -> HashList:
    """The list called ``name``."""
    found = session.scalar(select(HashList).where(HashList.name == name))
    if found is None:
        raise HashListNotFound(f"no hash list named {name!r} (see 'veille lists list')")
    return found


def import_list(
    session: Session,
    name: str,
    entries: Sequence[ListEntry],
    list_format: str,
    meta: ListMetadata | None = None,
) -> ImportSummary:
    """Create or update the list ``name`` with ``entries`` (idempotent)."""
    meta = meta or ListMetadata()
    _validate_metadata(meta)
    hash_list = session.scalar(select(HashList).where(HashList.name == name))
    now = utcnow()
    if hash_list is None:
        hash_list = HashList(name=name, list_format=list_format, imported_at=now)
        session.add(hash_list)
    hash_list.source = meta.source or hash_list.source
    hash_list.licence = meta.licence or hash_list.licence
    hash_list.marking = meta.marking
    hash_list.category_scheme = meta.category_scheme or hash_list.category_scheme
    hash_list.threshold_bits = meta.threshold_bits
    hash_list.list_format = list_format
    hash_list.updated_at = now
    session.flush()
    existing = {
        item.item_key: item
        for item in session.scalars(select(KnownItem).where(KnownItem.list_id == hash_list.id))
    }
    created = updated = unchanged = removed = 0
    seen: set[str] = set()
    for entry in entries:
        key = entry.item_key
        if key in seen:
            continue
        seen.add(key)
        item = existing.get(key)
        tags = ";".join(entry.tags) or None
        if item is None:
            item = KnownItem(list_id=hash_list.id, item_key=key, added_at=now)
            for field_name in _FIELDS:
                setattr(item, field_name, getattr(entry, field_name))
            item.tags = tags
            item.tombstoned_at = now if entry.removed else None
            session.add(item)
            if entry.removed:
                removed += 1
            else:
                created += 1
            continue
        changed = False
        for field_name in _FIELDS:
            value = getattr(entry, field_name)
            if value is not None and getattr(item, field_name) != value:
                setattr(item, field_name, value)
                changed = True
        if tags and item.tags != tags:
            item.tags, changed = tags, True
        if entry.removed and item.tombstoned_at is None:
            item.tombstoned_at = now
            removed += 1
        elif not entry.removed and item.tombstoned_at is not None:
            item.tombstoned_at, changed = None, True
        if changed:
            updated += 1
        elif not entry.removed:
            unchanged += 1
    session.flush()
    record_event(
        session,
        actor=current_actor(),
        action="list.import",
        object_type="hash_list",
        object_id=name,
        detail=f"{list_format}: {created} added, {updated} updated, {unchanged} unchanged, "
        f"{removed} removed",
    )
    return ImportSummary(hash_list.id, created, updated, unchanged, removed)


def list_history(session: Session, name: str, limit: int = 20) -> list[dict[str, object]]:
    """The imports and removals of list ``name``, newest first: when, who and what changed."""
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.object_type == "hash_list", AuditEvent.object_id == name)
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )
    return [
        {"at": event.at, "actor": event.actor, "action": event.action, "detail": event.detail}
        for event in events
    ]


def list_lists(session: Session) -> list[dict[str, object]]:
    """Every list with its provenance and item counts."""
    live = func.sum(case((KnownItem.tombstoned_at.is_(None), 1), else_=0))
    rows = session.execute(
        select(HashList, func.count(KnownItem.id), live)
        .outerjoin(KnownItem, KnownItem.list_id == HashList.id)
        .group_by(HashList.id)
        .order_by(HashList.name)
    ).all()
    return [
        {
            "name": hash_list.name,
            "items": int(live_count or 0),
            "removed": int(total) - int(live_count or 0),
            "source": hash_list.source,
            "licence": hash_list.licence,
            "marking": hash_list.marking,
            "category_scheme": hash_list.category_scheme,
            "format": hash_list.list_format,
            "threshold_bits": hash_list.threshold_bits,
            "imported_at": hash_list.imported_at,
            "updated_at": hash_list.updated_at,
        }
        for hash_list, total, live_count in rows
    ]


def export_entries(session: Session, name: str) -> list[ListEntry]:
    """Every item of the list, tombstoned ones marked ``removed``, in import order."""
    hash_list = get_list(session, name)
    items = session.scalars(
        select(KnownItem).where(KnownItem.list_id == hash_list.id).order_by(KnownItem.id)
    )
    return [
        ListEntry(
            **{field_name: getattr(item, field_name) for field_name in _FIELDS},
            tags=[tag for tag in (item.tags or "").split(";") if tag],
            removed=item.tombstoned_at is not None,
        )
        for item in items
    ]


def parse_hash_argument(value: str) -> tuple[str, str]:
    """``md5:<hex>``/``pdq <hex>``-style or bare hash → (signal name, normalised hash)."""
    text = value.strip()
    for separator in (":", " "):
        if separator in text:
            kind_name, _, raw = text.partition(separator)
            kind = signal_type(kind_name)
            return kind.name, kind.validate(raw)
    kind = guess_signal_type(text)
    return kind.name, kind.validate(text)


def remove_items(
    session: Session, name: str, hashes: Sequence[str], when: datetime | None = None
) -> int:
    """Tombstone the items of list ``name`` carrying any of ``hashes``; returns how many."""
    hash_list = get_list(session, name)
    conditions = []
    for position, value in enumerate(hashes, start=1):
        try:
            kind, normalised = parse_hash_argument(value)
        except SignalError as error:
            raise ListFormatError(f"hash {position}: {error}") from None
        conditions.append(getattr(KnownItem, kind) == normalised)
        if kind == "pdq":
            # A bare 64-hex string may also be a SHA-256.
            conditions.append(KnownItem.sha256 == normalised)
    if not conditions:
        return 0
    items = session.scalars(
        select(KnownItem).where(
            KnownItem.list_id == hash_list.id,
            KnownItem.tombstoned_at.is_(None),
            or_(*conditions),
        )
    ).all()
    stamp = when or utcnow()
    for item in items:
        item.tombstoned_at = stamp
    hash_list.updated_at = stamp
    session.flush()
    record_event(
        session,
        actor=current_actor(),
        action="list.remove",
        object_type="hash_list",
        object_id=name,
        detail=f"{len(items)} removed",
    )
    return len(items)
