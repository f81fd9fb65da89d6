"""A shared address (gateway, Wi-Fi, dynamic lease, household device) against one busy offender."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from tests.linking.helpers import email, import_records, ip, make_world, record
from veille.linking.clusters import cluster_of_report
from veille.linking.engine import link_reports
from veille.linking.gateways import count_account_groups
from veille.linking.models import StopEntry
from veille.linking.stoplist import LinkLimits, StopListError
from veille.store.db import Database


def _cluster(database: Database, report_id: int) -> int | None:
    with database.session() as session:
        return cluster_of_report(session, report_id)


def _username(handle: str, platform: str = "chirpline") -> dict[str, str]:
    return {"kind": "username", "value": handle, "platform": platform}


def test_account_groups_join_reports_that_share_an_account() -> None:
    assert count_account_groups([["a"], ["a"], ["a", "b"], ["b"]]) == 1
    assert count_account_groups([["a"], ["b"], ["c"]]) == 3
    assert count_account_groups([["a"], [], ["b", "c"], ["c"]]) == 2
    assert count_account_groups([[], []]) == 0


def test_an_address_behind_unrelated_accounts_links_none_of_them(
    database: Database, tmp_path: Path
) -> None:
    """Two strangers behind one public Wi-Fi address stay apart; each keeps their own links."""
    make_world(database)
    ids = import_records(
        database,
        tmp_path,
        [
            record("a1", [ip("203.0.113.9"), email("anna@example.com")]),
            record("a2", [email("anna@example.com")]),
            record("b1", [ip("203.0.113.9"), _username("brook")]),
            record("b2", [_username("brook")]),
        ],
    )
    summary = link_reports(database)
    assert summary.keys_stopped == 1
    assert _cluster(database, ids["a1"]) == _cluster(database, ids["a2"])
    assert _cluster(database, ids["b1"]) == _cluster(database, ids["b2"])
    assert _cluster(database, ids["a1"]) != _cluster(database, ids["b1"])
    with database.session() as session:
        entry = session.scalars(select(StopEntry)).one()
    assert entry.key == "ip:203.0.113.9"
    assert entry.source == "auto"
    assert entry.report_count == 2
    assert "behind 2 unrelated accounts" in entry.reason


def test_one_busy_offender_behind_an_address_is_linked_through_it(
    database: Database, tmp_path: Path
) -> None:
    """One account (in two spellings of one e-mail) behind many reports: the address links."""
    make_world(database)
    records = [
        record(f"o{n}", [ip("198.18.4.20"), email("Night.Owl@example.org")]) for n in range(6)
    ]
    # The same person's handle, joined to the e-mail by one report that carries both.
    records.append(
        record("h", [ip("198.18.4.20"), _username("nightowl"), email("night.owl@example.org")])
    )
    records.append(record("h2", [ip("198.18.4.20"), _username("nightowl")]))
    # Reports with no account say nothing against the address.
    records.append(record("bare", [ip("198.18.4.20")]))
    ids = import_records(database, tmp_path, records)
    summary = link_reports(database)
    assert summary.keys_stopped == 0
    assert len({_cluster(database, report_id) for report_id in ids.values()}) == 1


def test_a_household_device_used_by_two_people_links_no_one(
    database: Database, tmp_path: Path
) -> None:
    make_world(database)
    device = {"kind": "device_id", "value": "dev-7f3a"}
    ids = import_records(
        database,
        tmp_path,
        [
            record("o1", [device, email("owner@example.net")]),
            record("o2", [device, email("owner@example.net")]),
            record("k1", [device, email("kin@example.net")]),
        ],
    )
    link_reports(database)
    assert _cluster(database, ids["o1"]) == _cluster(database, ids["o2"])
    assert _cluster(database, ids["k1"]) != _cluster(database, ids["o1"])
    with database.session() as session:
        entry = session.scalars(select(StopEntry)).one()
    assert entry.key == "device_id:dev-7f3a"
    assert "device behind 2 unrelated accounts" in entry.reason


def test_a_higher_account_limit_lets_a_small_household_link(
    database: Database, tmp_path: Path
) -> None:
    make_world(database)
    ids = import_records(
        database,
        tmp_path,
        [
            record("a", [ip("198.18.9.9"), email("one@example.com")]),
            record("b", [ip("198.18.9.9"), email("two@example.com")]),
        ],
    )
    summary = link_reports(database, limits=LinkLimits(max_accounts_per_address=2))
    assert summary.keys_stopped == 0
    assert _cluster(database, ids["a"]) == _cluster(database, ids["b"])


def test_red_reports_are_not_counted_behind_an_address(database: Database, tmp_path: Path) -> None:
    """A red report's account would reveal it to every operator through the stop-list."""
    make_world(database)
    import_records(
        database,
        tmp_path,
        [
            record("a", [ip("192.0.2.44"), email("amber.one@example.com")]),
            record("b", [ip("192.0.2.44"), email("amber.one@example.com")]),
            record("r", [ip("192.0.2.44"), email("red.one@example.com")], marking="red"),
        ],
    )
    summary = link_reports(database)
    assert summary.keys_stopped == 0


def test_the_account_limit_must_be_positive() -> None:
    with pytest.raises(StopListError, match="max_accounts_per_address"):
        LinkLimits(max_accounts_per_address=0)


def test_tagged_spellings_of_one_mailbox_are_one_account_behind_an_address(
    database: Database, tmp_path: Path
) -> None:
    make_world(database)
    ids = import_records(
        database,
        tmp_path,
        [
            record("a", [ip("198.18.7.7"), email("ann@example.org")]),
            record("b", [ip("198.18.7.7"), email("ann+pics@example.org")]),
            record("c", [email("ann+alt@example.org")]),
        ],
    )
    summary = link_reports(database)
    assert summary.keys_stopped == 0
    assert len({_cluster(database, report_id) for report_id in ids.values()}) == 1
