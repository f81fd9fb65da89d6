"""Telling a shared address from one busy offender.

An IP address or a device id links two reports only if one person is behind
both. A carrier-grade NAT gateway, a public Wi-Fi hotspot, a dynamic address
leased to one subscriber after another, or a household's shared device is
behind many people; one busy offender is one account (or a few, joined by
their other identifiers) behind many reports. Counting reports cannot tell
them apart: counting the *accounts* behind the address can. The reports that
carry the address are grouped by the accounts they also carry (e-mail,
phone, username, payment handle, P2P client id), reports sharing an account
being one group; an address behind more groups than the limit is shared and
is not linked on. Reports that carry no account say nothing either way and
are not counted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from veille.linking.profiles import linking_key
from veille.store.models import Identifier, Report, ReportIdentifier
from veille.store.sql import among
from veille.vocab import IdentifierKind, Marking

ADDRESS_KINDS = (IdentifierKind.IP, IdentifierKind.DEVICE_ID)
"""Identifiers that stand for a connection or a machine, which people share."""
ACCOUNT_KINDS = (
    IdentifierKind.EMAIL,
    IdentifierKind.PHONE,
    IdentifierKind.USERNAME,
    IdentifierKind.PAYMENT_HANDLE,
    IdentifierKind.P2P_CLIENT_ID,
)
"""Identifiers that stand for one person's account."""
_IN_BATCH = 900


def _batches(values: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(values), _IN_BATCH):
        yield values[start : start + _IN_BATCH]


def count_account_groups(accounts_of_reports: Iterable[Iterable[str]]) -> int:
    """How many groups of reports share no account: reports sharing one are one group.

    Each element lists the accounts (linking keys) of one report; a report
    with none is not counted.
    """
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    firsts: list[str] = []
    for accounts in accounts_of_reports:
        ids = list(accounts)
        if not ids:
            continue
        root = find(ids[0])
        for other in ids[1:]:
            other_root = find(other)
            if other_root != root:
                parent[other_root] = root
        firsts.append(ids[0])
    return len({find(first) for first in firsts})


def shared_addresses(
    session: Session, pending_identifiers: Select[Any], max_accounts: int
) -> dict[str, tuple[str, int | None]]:
    """Addresses of the pending reports behind more than ``max_accounts`` groups of accounts.

    Returns linking key → (reason, report count), for the stop-list. Red
    reports are not counted (stop entries are read by every operator).
    """
    not_red = Report.marking != Marking.RED
    report_count = func.count(ReportIdentifier.report_id)
    addresses: dict[int, tuple[IdentifierKind, str, str]] = {}
    for identifier_id, kind, value, platform in session.execute(
        select(Identifier.id, Identifier.kind, Identifier.value, Identifier.platform)
        .join(ReportIdentifier, ReportIdentifier.identifier_id == Identifier.id)
        .join(Report, Report.id == ReportIdentifier.report_id)
        .where(Identifier.kind.in_(ADDRESS_KINDS), Identifier.id.in_(pending_identifiers), not_red)
        .group_by(Identifier.id, Identifier.kind, Identifier.value, Identifier.platform)
        .having(report_count > 1)
    ):
        addresses[identifier_id] = (kind, value, platform)
    if not addresses:
        return {}
    reports_of: dict[int, list[int]] = defaultdict(list)
    for batch in _batches(sorted(addresses)):
        for identifier_id, report_id in session.execute(
            select(ReportIdentifier.identifier_id, ReportIdentifier.report_id)
            .join(Report, Report.id == ReportIdentifier.report_id)
            .where(among(ReportIdentifier.identifier_id, batch), not_red)
        ):
            reports_of[identifier_id].append(report_id)
    # Accounts are compared by linking key: two spellings of one account are one account.
    accounts_of: dict[int, list[str]] = defaultdict(list)
    report_ids = sorted({r for reports in reports_of.values() for r in reports})
    for batch in _batches(report_ids):
        # Kinds are told apart here: with the kind in the query, SQLite scans the
        # identifiers of every report of those kinds instead of those of the batch.
        for report_id, kind, value, platform in session.execute(
            select(
                ReportIdentifier.report_id, Identifier.kind, Identifier.value, Identifier.platform
            )
            .join(Identifier, Identifier.id == ReportIdentifier.identifier_id)
            .where(among(ReportIdentifier.report_id, batch))
        ):
            if kind in ACCOUNT_KINDS:
                accounts_of[report_id].append(linking_key(kind, value, platform))
    shared: dict[str, tuple[str, int | None]] = {}
    for identifier_id, reports in reports_of.items():
        groups = count_account_groups(accounts_of.get(r, ()) for r in reports)
        if groups > max_accounts:
            kind, value, platform = addresses[identifier_id]
            what = "address" if kind is IdentifierKind.IP else "device"
            shared[linking_key(kind, value, platform)] = (
                f"{what} behind {groups} unrelated accounts in {len(reports)} reports (limit "
                f"{max_accounts}): a shared gateway, public Wi-Fi, a dynamic address that "
                "changed hands or a shared device",
                len(reports),
            )
    return shared
