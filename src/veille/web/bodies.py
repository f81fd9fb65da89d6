"""Reading request bodies with a size limit, and streamed multipart uploads.

FastAPI would read a whole body (or spool a whole upload) before the route
runs; these helpers stop at the configured limit instead and hash uploads as
they stream in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from veille.intake.uploads import SpooledFile, SpoolWriter, UploadTooLarge


def _printable(name: str) -> str:
    """A file name without control characters (a NUL cannot be stored)."""
    return "".join(ch for ch in name if ch.isprintable())


class BodyTooLarge(ValueError):
    """The request body is larger than allowed."""


class BadBody(ValueError):
    """The request body cannot be read as announced; ``field`` names the part at fault."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


async def read_limited(request: Request, limit: int) -> bytes:
    """The whole body, refusing (early) anything over ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"body: larger than the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(f"body: larger than the limit of {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise BadBody("body", "the client disconnected before sending it all") from None
    return b"".join(chunks)


@dataclass
class MultipartUpload:
    """The fields and the one file of a multipart upload."""

    fields: dict[str, str] = field(default_factory=dict)
    file: SpooledFile | None = None


async def read_upload(
    request: Request, spool_dir: Path, max_file_bytes: int, file_field: str = "file"
) -> MultipartUpload:
    """Stream a ``multipart/form-data`` body: small fields in memory, the file to the spool."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise BadBody("content-type", "expected multipart/form-data with a boundary")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_file_bytes + 1024 * 1024:
        raise BodyTooLarge(f"file: larger than the limit of {max_file_bytes} bytes")
    result = MultipartUpload()
    header_name = bytearray()
    header_value = bytearray()
    headers: dict[bytes, bytes] = {}
    current: dict[str, object] = {}
    writer: list[SpoolWriter] = []

    def on_part_begin() -> None:
        headers.clear()
        current.clear()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_name.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        headers[bytes(header_name).lower()] = bytes(header_value)
        header_name.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        _, params = parse_options_header(headers.get(b"content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        current["name"] = name
        if name == file_field:
            if writer:
                raise BadBody(file_field, "only one file per upload")
            filename = params.get(b"filename")
            writer.append(
                SpoolWriter(
                    spool_dir,
                    max_file_bytes,
                    _printable(filename.decode("utf-8", "replace"))[:500] if filename else None,
                )
            )
        else:
            current["buffer"] = bytearray()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if current.get("name") == file_field:
            writer[0].write(data[start:end])
            return
        buffer = current.get("buffer")
        if isinstance(buffer, bytearray):
            buffer.extend(data[start:end])
            if len(buffer) > 4096:
                raise BadBody(str(current.get("name")), "field longer than 4096 bytes")

    def on_part_end() -> None:
        buffer = current.get("buffer")
        if isinstance(buffer, bytearray):
            try:
                result.fields[str(current.get("name"))] = buffer.decode("utf-8")
            except UnicodeDecodeError:
                raise BadBody(str(current.get("name")), "not valid UTF-8") from None

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
        },
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except UploadTooLarge as error:
        raise BodyTooLarge(str(error)) from None
    except MultipartParseError as error:
        for item in writer:
            item.discard()
        raise BadBody("body", f"malformed multipart data: {error}") from None
    except ClientDisconnect:
        for item in writer:
            item.discard()
        raise BadBody("body", "the client disconnected before sending it all") from None
    except BaseException:
        for item in writer:
            item.discard()
        raise
    if writer:
        result.file = writer[0].finish()
    return result
