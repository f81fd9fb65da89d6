"""Hash-list file formats: round trips and bad files that name the line and field."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veille.media.listformats import (
    ListEntry,
    ListFormatError,
    parse_csv,
    parse_list,
    parse_te,
    parse_vics,
    write_list,
)

_hex = st.binary(min_size=1).map(lambda b: b)


def _h(length: int) -> st.SearchStrategy[str | None]:
    return st.one_of(
        st.none(), st.binary(min_size=length // 2, max_size=length // 2).map(bytes.hex)
    )


_text = st.one_of(
    st.none(),
    st.text(alphabet="abcdefghij 0123-_", min_size=1, max_size=12).map(str.strip).filter(bool),
)
_flag = st.one_of(st.none(), st.booleans())
entries = st.builds(
    ListEntry,
    md5=_h(32), sha1=_h(40), sha256=_h(64), pdq=_h(64), category=_text, series=_text,
    victim_identified=_flag, offender_identified=_flag, is_distributed=_flag,
    tags=st.lists(st.text(alphabet="abcxyz", min_size=1, max_size=5), max_size=3),
    removed=st.booleans(),
).filter(lambda e: any((e.md5, e.sha1, e.sha256, e.pdq)))  # fmt: skip


@given(st.lists(entries, max_size=8))
def test_csv_and_vics_round_trip(items: list[ListEntry]) -> None:
    for fmt in ("csv", "vics"):
        assert parse_list(write_list(items, fmt, "bank"), fmt) == items


@given(st.lists(entries, max_size=8))
def test_te_round_trip_keeps_live_hashes(items: list[ListEntry]) -> None:
    parsed = parse_te(write_list(items, "te", "bank"))
    expected = [
        (name, getattr(e, name))
        for e in items
        if not e.removed
        for name in ("md5", "sha1", "sha256", "pdq")
        if getattr(e, name)
    ]
    got = [
        (name, getattr(e, name))
        for e in parsed
        for name in ("md5", "sha1", "sha256", "pdq")
        if getattr(e, name)
    ]
    assert got == expected


def test_scenario_csv_columns_are_read() -> None:
    text = (
        "md5,sha1,sha256,pdq,category,series,victim_identified,offender_identified,is_distributed,tags\n"
        f"{'A' * 32},,,,2,series-7,true,false,yes,a;b\n"
    )
    (entry,) = parse_csv(text)
    assert entry.md5 == "a" * 32 and entry.category == "2" and entry.series == "series-7"
    assert (entry.victim_identified, entry.offender_identified, entry.is_distributed) == (
        True,
        False,
        True,
    )
    assert entry.tags == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("md5,category\nabc,1\n", "line 2, field md5: md5: 'abc' is not a MD5 hash"),
        ("md5,victim_identified\n" + "a" * 32 + ",maybe\n", "line 2, field victim_identified"),
        ("category\n1\n", "line 1: header ['category'] has no hash column"),
        ("md5,category\n,1\n", "line 2: no hash"),
        ("md5\n" + "a" * 32 + ",extra\n", "line 2: more fields"),
    ],
)
def test_bad_csv_names_line_and_field(text: str, message: str) -> None:
    with pytest.raises(ListFormatError) as error:
        parse_csv(text)
    assert message in str(error.value)


def test_vics_layouts_and_errors() -> None:
    v1 = (
        '{"value": [{"Media": [{"MD5": "'
        + "A" * 32
        + '", "Category": 1, "VictimIdentified": true}]}]}'
    )
    v2 = (
        '{"@odata.context": "x", "value": [{"MediaID": 1, "SHA1": "'
        + "B" * 40
        + '", "Category": 0}]}'
    )
    assert parse_vics(v1)[0].md5 == "a" * 32 and parse_vics(v1)[0].victim_identified is True
    assert parse_vics(v2)[0].sha1 == "b" * 40 and parse_vics(v2)[0].category == "0"
    with pytest.raises(
        ListFormatError,
        match=r"value\[0\]\.Media\[0\], field MD5|value\[0\]\.Media\[0\], field md5",
    ):
        parse_vics('{"value": [{"Media": [{"MD5": "nothex"}]}]}')
    with pytest.raises(ListFormatError, match="line 2, column"):
        parse_vics('{"value": [\n  oops]}')
    with pytest.raises(ListFormatError, match='"value" array'):
        parse_vics("[]")


def test_te_lines_and_errors() -> None:
    text = "# a comment\npdq " + "0" * 64 + "\nmd5 " + "f" * 32 + "  # trailing\n\n"
    parsed = parse_te(text)
    assert [e.pdq or e.md5 for e in parsed] == ["0" * 64, "f" * 32]
    with pytest.raises(
        ListFormatError, match="line 1, field signal_type: unknown signal type 'tmk'"
    ):
        parse_te("tmk abc\n")
    with pytest.raises(ListFormatError, match="line 2: expected '<signal_type> <hash>'"):
        parse_te("md5 " + "f" * 32 + "\nmd5\n")
    with pytest.raises(ListFormatError, match="line 1, field pdq"):
        parse_te("pdq 1234\n")
