"""Parse and validate ESP XML documents against :mod:`.spec`, safely.

``defusedxml`` refuses DTDs, entity declarations and external references, so
"billion laughs" and XXE documents fail before any expansion. The tree is then
checked element by element: unknown elements, elements out of order, too many
or missing required elements, bad enum values, numbers, booleans and dates
are all reported with the path of the element at fault (for example
``report/incidentSummary/incidentType``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element as XmlElement
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from veille.intake.esp.spec import ROOTS, Element

Tree = dict[str, Any]

XS_LONG_MIN = -(2**63)
XS_LONG_MAX = 2**63 - 1
_LONG = re.compile(r"[+-]?[0-9]+")
_DOUBLE = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


class EspXmlError(ValueError):
    """The document is not acceptable; ``path`` names the element at fault.

    ``malformed`` when it is not even well-formed XML (or uses a construct
    refused outright: DTDs, entities), as opposed to well-formed XML that
    does not follow the schema.
    """

    def __init__(self, path: str, reason: str, *, malformed: bool = False) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
        self.malformed = malformed


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if tag.startswith("{") else tag


def parse_document(body: bytes, root_name: str) -> Tree:
    """The validated tree of an XML document whose root must be ``root_name``."""
    try:
        root = fromstring(body, forbid_dtd=True)
    except DefusedXmlException as error:
        raise EspXmlError(
            root_name, f"forbidden XML construct: {type(error).__name__}", malformed=True
        ) from None
    except ParseError as error:
        line, column = getattr(error, "position", (0, 0))
        raise EspXmlError(
            root_name, f"not well-formed XML (line {line}, column {column})", malformed=True
        ) from None
    except (ValueError, UnicodeError) as error:
        raise EspXmlError(root_name, f"not well-formed XML: {error}", malformed=True) from None
    except LookupError as error:  # an encoding Python does not know, named in the declaration
        raise EspXmlError(
            f"{root_name} (XML declaration)", f"encoding: {error}; send UTF-8", malformed=True
        ) from None
    name = _local(root.tag)
    if name != root_name:
        raise EspXmlError(name, f"expected a <{root_name}> document")
    result = _complex(root, ROOTS[root_name], root_name)
    assert isinstance(result, dict)
    return result


def _complex(node: XmlElement, spec: Element, path: str) -> Tree:
    tree: Tree = {}
    if node.text and node.text.strip():
        raise EspXmlError(path, "text is not allowed here, only child elements")
    if spec.kind == "choice":
        children = list(node)
        if len(children) != 1:
            allowed = ", ".join(c.element.name for c in spec.children)
            raise EspXmlError(path, f"expected exactly one of {allowed}")
        child = children[0]
        name = _local(child.tag)
        slot = spec.child(name)
        if slot is None:
            allowed = ", ".join(c.element.name for c in spec.children)
            raise EspXmlError(f"{path}/{name}", f"unknown element; expected one of {allowed}")
        tree[name] = [_value(child, slot.element, f"{path}/{name}")]
        return tree
    position = 0
    counts: dict[str, int] = {}
    indexes = _child_indexes(spec)
    names = list(indexes)
    for child in node:
        name = _local(child.tag)
        index = indexes.get(name)
        if index is None:
            raise EspXmlError(
                f"{path}/{name}", f"unknown element in <{spec.name}>; allowed: {', '.join(names)}"
            )
        if index < position:
            raise EspXmlError(
                f"{path}/{name}",
                f"out of order: <{name}> must come before <{names[position]}>",
            )
        position = index
        slot = spec.children[index]
        counts[name] = counts.get(name, 0) + 1
        if slot.max_occurs is not None and counts[name] > slot.max_occurs:
            raise EspXmlError(f"{path}/{name}", f"appears more than {slot.max_occurs} time(s)")
        child_path = f"{path}/{name}" if slot.max_occurs == 1 else f"{path}/{name}[{counts[name]}]"
        tree.setdefault(name, []).append(_value(child, slot.element, child_path))
        if slot.element.attributes and not slot.element.is_complex:
            tree.setdefault(name + "@", []).append(
                {_local(key): value for key, value in child.attrib.items()}
            )
        if child.tail and child.tail.strip():
            raise EspXmlError(path, "text is not allowed here, only child elements")
    for slot in spec.children:
        if counts.get(slot.element.name, 0) < slot.min_occurs:
            raise EspXmlError(f"{path}/{slot.element.name}", "required element is missing")
    return tree


_INDEXES: dict[int, tuple[Element, dict[str, int]]] = {}


def _child_indexes(spec: Element) -> dict[str, int]:
    """The position of each child of a sequence, by name: one look-up per child element.

    Kept by the identity of the spec (module constants, alive as long as the
    process): hashing a frozen spec would walk its whole subtree each time.
    """
    known = _INDEXES.get(id(spec))
    if known is None or known[0] is not spec:
        known = spec, {c.element.name: index for index, c in enumerate(spec.children)}
        _INDEXES[id(spec)] = known
    return known[1]


def _value(node: XmlElement, spec: Element, path: str) -> Any:
    if spec.is_complex:
        return _complex(node, spec, path)
    if spec.kind == "any":
        return " ".join(part.strip() for part in node.itertext() if part.strip())
    if len(node):
        raise EspXmlError(path, "child elements are not allowed here")
    raw = (node.text or "").strip()
    if spec.kind == "flag":
        if raw.lower() in ("", "true", "1"):
            return True
        if raw.lower() in ("false", "0"):
            return False
        raise EspXmlError(path, f"{raw!r} is not a flag (expected empty, true or false)")
    if spec.kind == "text":
        return raw or None
    if not raw:
        raise EspXmlError(path, f"empty; expected a {spec.kind} value")
    return _convert(raw, spec, path)


def _convert(raw: str, spec: Element, path: str) -> Any:
    if spec.kind == "enum":
        if raw not in spec.values:
            allowed = "; ".join(repr(v) for v in spec.values)
            raise EspXmlError(path, f"{raw!r} is not one of {allowed}")
        return raw
    if spec.kind == "bool":
        if raw in ("true", "1"):
            return True
        if raw in ("false", "0"):
            return False
        raise EspXmlError(path, f"{raw!r} is not a boolean (expected true or false)")
    if spec.kind == "int":
        # xs:long: ASCII digits within 64 bits. int() alone would also read "١" (Arabic-Indic
        # one), "1_000" and numbers of any size, which the schema refuses.
        if not _LONG.fullmatch(raw):
            raise EspXmlError(path, f"{raw!r} is not an integer (ASCII digits, optional sign)")
        number = int(raw)
        if not XS_LONG_MIN <= number <= XS_LONG_MAX:
            raise EspXmlError(path, f"{raw!r} is outside the range of xs:long")
        return number
    if spec.kind == "float":
        if not _DOUBLE.fullmatch(raw):
            raise EspXmlError(path, f"{raw!r} is not a number")
        value = float(raw)
        if value != value or value in (float("inf"), float("-inf")):
            raise EspXmlError(path, f"{raw!r} is not a finite number")
        return value
    if spec.kind == "datetime":
        return parse_datetime(raw, path)
    raise AssertionError(spec.kind)


def parse_datetime(raw: str, path: str) -> datetime:
    """An ``xs:dateTime`` as an aware UTC datetime (no zone given: UTC is assumed).

    Only from :data:`EARLIEST` to before :data:`LATEST`: year 1 or 9999 is a
    placeholder, not a date, and the arithmetic done on dates later (a zone
    offset, an expiry, an age) would overflow Python's range.
    """
    try:
        value = datetime.fromisoformat(raw)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
    except (ValueError, OverflowError):
        raise EspXmlError(
            path, f"{raw!r} is not a date-time (expected e.g. 2024-05-01T08:30:00Z)"
        ) from None
    if not EARLIEST <= value < LATEST:
        raise EspXmlError(
            path,
            f"{raw!r} is out of range (from {EARLIEST.year} to {LATEST.year - 1}, in UTC)",
        )
    return value


def first(tree: Tree, name: str) -> Any:
    """The first value of child ``name``, or ``None``."""
    values = tree.get(name)
    return values[0] if values else None


def every(tree: Tree | None, name: str) -> list[Any]:
    """Every value of child ``name`` (empty list when absent)."""
    if not tree:
        return []
    return list(tree.get(name, []))


def attributes(tree: Tree, name: str) -> list[dict[str, str]]:
    """The attributes of each occurrence of leaf child ``name``."""
    return list(tree.get(name + "@", []))
