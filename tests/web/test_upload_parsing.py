"""Streamed multipart uploads (``read_upload``): bounded, and complete or refused."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.requests import Request
from starlette.types import Message

from veille.web.bodies import (
    MAX_UPLOAD_PARTS,
    BadBody,
    BodyTooLarge,
    MultipartUpload,
    read_upload,
)

BOUNDARY = "veille-boundary"


def request_of(chunks: Sequence[bytes], boundary: str = BOUNDARY) -> Request:
    """A Starlette request whose body arrives in ``chunks``, as a server passes it on."""
    pending = list(chunks) or [b""]

    async def receive() -> Message:
        if not pending:
            return {"type": "http.disconnect"}
        body = pending.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    content_type = f"multipart/form-data; boundary={boundary}".encode()
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/ispws/upload",
        "headers": [(b"content-type", content_type)],
    }
    return Request(scope, receive)


def upload(chunks: Sequence[bytes], spool: Path, max_file_bytes: int = 4096) -> MultipartUpload:
    return asyncio.run(read_upload(request_of(chunks), spool, max_file_bytes))


def part(name: str, content: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return (
        f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + content + b"\r\n"
    )


END = f"--{BOUNDARY}--\r\n".encode()
FILE = bytes(range(256)) * 8


def test_a_complete_upload_gives_its_fields_and_file(tmp_path: Path) -> None:
    received = upload([part("id", b"12"), part("file", FILE, "a.bin"), END], tmp_path)
    assert received.fields == {"id": "12"}
    assert received.file is not None and received.file.path.read_bytes() == FILE


@pytest.mark.parametrize("cut", [10, 100, len(FILE) // 2, len(FILE) + 60])
def test_an_upload_without_its_closing_boundary_is_refused(tmp_path: Path, cut: int) -> None:
    body = part("id", b"12") + part("file", FILE, "a.bin")
    with pytest.raises(BadBody) as refused:
        upload([body[:cut]], tmp_path)
    assert refused.value.reason == "upload ended before its closing boundary"
    assert refused.value.field == ("file" if cut > len(part("id", b"12")) + 80 else "body")
    assert list(tmp_path.iterdir()) == []


def test_many_small_fields_are_refused_while_they_stream_in(tmp_path: Path) -> None:
    fields = [part(f"f{n}", b"x") for n in range(100_000)]
    with pytest.raises(BadBody, match=f"more than {MAX_UPLOAD_PARTS} parts"):
        upload(fields, tmp_path)


def test_an_endless_part_header_is_refused(tmp_path: Path) -> None:
    head = f"--{BOUNDARY}\r\nX-Padding: ".encode()
    with pytest.raises(BadBody, match="malformed multipart data"):
        upload([head] + [b"a" * 1024] * 1000, tmp_path)


def test_too_many_part_headers_are_refused(tmp_path: Path) -> None:
    headers = b"".join(f"X-Header-{n}: 1\r\n".encode() for n in range(50))
    body = f"--{BOUNDARY}\r\n".encode() + headers + b"\r\n" + b"12\r\n" + END
    with pytest.raises(BadBody, match="malformed multipart data"):
        upload([body], tmp_path)


def test_an_overlong_boundary_is_refused_as_bad_input(tmp_path: Path) -> None:
    long = "b" * 300
    request = request_of([b"--" + long.encode() + b"--\r\n"], boundary=long)
    with pytest.raises(BadBody, match="malformed multipart data"):
        asyncio.run(read_upload(request, tmp_path, 4096))


PIECES = st.one_of(
    st.binary(max_size=40),
    st.sampled_from(
        [
            f"--{BOUNDARY}\r\n".encode(),
            f"\r\n--{BOUNDARY}\r\n".encode(),
            f"\r\n--{BOUNDARY}--\r\n".encode(),
            END,
            b'Content-Disposition: form-data; name="file"; filename="x.jpg"\r\n\r\n',
            b'Content-Disposition: form-data; name="id"\r\n\r\n',
            b"Content-Disposition: form-data; name*=UTF-8''%FF\r\n\r\n",
            b"Content-Type: image/jpeg\r\n",
            b"\r\n",
            b"\xff\xd8\xff" * 20,
        ]
    ),
)


@settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(pieces=st.lists(PIECES, max_size=12), split=st.integers(min_value=1, max_value=64))
def test_fuzz_read_upload_gives_an_upload_or_a_clear_refusal(
    tmp_path: Path, pieces: list[bytes], split: int
) -> None:
    body = b"".join(pieces)
    chunks = [body[start : start + split] for start in range(0, len(body), split)]
    spool = tmp_path / "spool"
    try:
        received = upload(chunks, spool, max_file_bytes=256)
    except (BadBody, BodyTooLarge) as error:
        assert str(error)
        left = list(spool.iterdir()) if spool.exists() else []
        assert left == []
        return
    # Accepted only whole: the closing boundary was there.
    assert f"--{BOUNDARY}--".encode() in body
    if received.file is not None:
        assert received.file.path.exists()
        received.file.path.unlink()
