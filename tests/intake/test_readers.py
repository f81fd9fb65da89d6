"""Reading JSON Lines and CSV files: every line gives fields or a clear ``line N`` error."""

from __future__ import annotations

import csv
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from veille.intake.importer import validate_record
from veille.intake.readers import (
    CSV_COLUMNS,
    MAX_INTEGER_DIGITS,
    MAX_JSON_DEPTH,
    FileFormatError,
    RawRecord,
    decoded_lines,
    read_csv,
    read_jsonl,
)
from veille.intake.schema import ReportIn


def jsonl(text: bytes) -> list[RawRecord]:
    return list(read_jsonl(decoded_lines(io.BytesIO(text))))


def test_hostile_json_lines_are_errors_that_name_their_line() -> None:
    lines = [
        b'{"external_id": "a"}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"n": ' + b"9" * 5000 + b"}",
        b'{"n": 1e400}',
        b'{"n": -Infinity}',
    ]
    records = jsonl(b"\n".join(lines) + b"\n")
    assert records[0].fields == {"external_id": "a"}
    assert [str(record.error) for record in records[1:]] == [
        f"line 2: (line): nested deeper than {MAX_JSON_DEPTH} levels",
        f"line 3: (line): a number has more than {MAX_INTEGER_DIGITS} digits",
        "line 4: (line): the number 1e400 is out of range",
        "line 5: (line): -Infinity is not a JSON number",
    ]


def test_nesting_up_to_the_limit_is_read() -> None:
    line = '{"a": ' * (MAX_JSON_DEPTH - 1) + "[1]" + "}" * (MAX_JSON_DEPTH - 1)
    assert jsonl(line.encode())[0].error is None
    deeper = '{"a": ' * MAX_JSON_DEPTH + "[1]" + "}" * MAX_JSON_DEPTH
    assert jsonl(deeper.encode())[0].error is not None


JSON_PIECES = st.one_of(
    st.binary(max_size=30),
    st.sampled_from(
        [
            *(b"{", b"}", b"[", b"]", b'"', b"\\", b":", b",", b"\n", b"-", b"e9999"),
            *(b"1" * 30, b'{"external_id": "x"}', b"null", b"NaN", b"\xff", b"\xed\xa0\x80"),
        ]
    ),
)


def _consistent(records: list[RawRecord]) -> None:
    """Each record holds fields or an error naming its line, and its fields validate
    to a report or to line errors (never another exception)."""
    for record in records:
        assert (record.fields is None) != (record.error is None) or record.is_header
        if record.error is not None:
            assert isinstance(record.error, FileFormatError)
            assert str(record.error).startswith(f"line {record.line}: ")
        elif record.fields is not None:
            checked = validate_record(record)
            assert isinstance(checked, ReportIn) or all(
                error.line == record.line for error in checked
            )


@settings(max_examples=300, deadline=None, database=None)
@given(pieces=st.lists(JSON_PIECES, max_size=40))
def test_fuzz_read_jsonl_gives_fields_or_a_line_error(pieces: list[bytes]) -> None:
    records = jsonl(b"".join(pieces))
    _consistent(records)
    assert all(isinstance(record.fields, dict) for record in records if record.error is None)


CSV_CELLS = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            *('"', '""', ",", "\n", "\r", ";", "|", "=", ":", "[", "]", "\x00", "\udcff"),
            *("url:https://example.org[web]", "md5=abc|sha1=def", "kind", "9" * 5000),
        ]
    ),
)


@settings(max_examples=300, deadline=None, database=None)
@given(
    columns=st.lists(st.sampled_from(CSV_COLUMNS), min_size=1, max_size=8, unique=True),
    rows=st.lists(st.lists(CSV_CELLS, max_size=9), max_size=6),
    raw_tail=st.binary(max_size=40),
)
def test_fuzz_read_csv_gives_fields_or_a_line_error(
    columns: list[str], rows: list[list[str]], raw_tail: bytes
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(row)
    data = buffer.getvalue().encode("utf-8", "surrogateescape") + raw_tail
    _consistent(list(read_csv(decoded_lines(io.BytesIO(data)))))
