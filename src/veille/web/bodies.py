"""Reading request bodies with a size limit, and streamed multipart uploads.

FastAPI would read a whole body (or spool a whole upload) before the route
runs; these helpers stop at the configured limit instead and hash uploads as
they stream in. :mod:`veille.web.limits` bounds every body before any route
runs; the limits here are the routes' own, checked again where the route
knows more (a file's size inside a multipart body).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from veille.intake.uploads import SpooledFile, SpoolWriter, UploadTooLarge

# An upload is a few small fields and one file (the ESP API sends `id` and `file`).
# Without these caps a client could send millions of tiny parts, or one endless part
# header, and each would be kept in memory until the body ends.
MAX_UPLOAD_PARTS = 16
MAX_FIELD_BYTES = 4096
MAX_PART_HEADERS = 8
MAX_PART_HEADER_BYTES = 4096


def _printable(name: str) -> str:
    """A file name without control characters (a NUL cannot be stored)."""
    return "".join(ch for ch in name if ch.isprintable())


class BodyTooLarge(ValueError):
    """The request body is larger than allowed."""

    http_status = 413


class BadBody(ValueError):
    """The request body cannot be read as announced; ``field`` names the part at fault."""

    http_status = 400

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


class BodyTimeout(BadBody):
    """The client stopped sending its body (see ``VEILLE_BODY_CHUNK_TIMEOUT_S``)."""

    http_status = 408


def too_large(limit: int) -> BodyTooLarge:
    """The error for a body over ``limit`` bytes (the same words wherever it is found)."""
    return BodyTooLarge(f"body: larger than the limit of {limit} bytes")


async def read_limited(request: Request, limit: int) -> bytes:
    """The whole body, refusing (early) anything over ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
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
    """Stream a ``multipart/form-data`` body: small fields in memory, the file to the spool.

    Raises :class:`BodyTooLarge` for a file over ``max_file_bytes``, and
    :class:`BadBody` for anything else that is wrong: not multipart, malformed,
    more than :data:`MAX_UPLOAD_PARTS` parts, a field over :data:`MAX_FIELD_BYTES`,
    or a body that ends before its closing boundary (``field`` is then
    ``file_field`` if the file had begun, else ``body``). On any error no
    file is left in the spool.
    """
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
    parts = [0]
    ended = [False]

    def on_part_begin() -> None:
        parts[0] += 1
        if parts[0] > MAX_UPLOAD_PARTS:
            raise BadBody("body", f"more than {MAX_UPLOAD_PARTS} parts")
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
            if len(buffer) > MAX_FIELD_BYTES:
                raise BadBody(
                    str(current.get("name")), f"field longer than {MAX_FIELD_BYTES} bytes"
                )

    def on_part_end() -> None:
        buffer = current.get("buffer")
        if isinstance(buffer, bytearray):
            try:
                result.fields[str(current.get("name"))] = buffer.decode("utf-8")
            except UnicodeDecodeError:
                raise BadBody(str(current.get("name")), "not valid UTF-8") from None

    def on_end() -> None:
        ended[0] = True

    try:
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
                "on_end": on_end,
            },
            max_header_count=MAX_PART_HEADERS,
            max_header_size=MAX_PART_HEADER_BYTES,
        )
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
        # The parser accepts a body that simply stops: without this check a cut-off
        # upload would be stored as if it were the whole file.
        if not ended[0]:
            raise BadBody(
                file_field if writer else "body", "upload ended before its closing boundary"
            )
    except UploadTooLarge as error:
        raise BodyTooLarge(str(error)) from None
    except FormParserError as error:
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
