"""YAML read with limits: size, nesting depth, node count, and no aliases.

PyYAML's ``safe_load`` refuses arbitrary objects but not an alias bomb: a
few hundred bytes of anchors, each used several times by the next, expand
to gigabytes (a 289-byte document became a 254 MB answer). Veille's YAML
files (a triage policy, a synthetic scenario) are small, shallow and have no
use for anchors, so :func:`load_yaml_limited` refuses anchors and aliases
before anything is built, and bounds the bytes, the depth and the number of
nodes. Every refusal is a :class:`YamlLimitError` with a short message.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import AliasEvent, CollectionStartEvent, NodeEvent
from yaml.nodes import Node

# A policy is a few kilobytes and a scenario under ten: these leave ample room.
MAX_YAML_BYTES = 256 * 1024
MAX_YAML_DEPTH = 20
MAX_YAML_NODES = 20_000
MAX_MESSAGE_CHARS = 200


class YamlLimitError(ValueError):
    """YAML that is malformed or beyond the limits; the message is short and names the place."""


def clip(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters, marked when cut (for messages that echo input)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _LimitedLoader(yaml.SafeLoader):
    """A safe loader that refuses anchors and aliases and counts depth and nodes."""

    def __init__(self, stream: str, max_depth: int, max_nodes: int) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0
        self._max_depth = max_depth
        self._max_nodes = max_nodes

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        if isinstance(event, AliasEvent) or (
            isinstance(event, NodeEvent) and event.anchor is not None
        ):
            raise YamlLimitError(
                f"{_where(event)}anchors and aliases (&name, *name) are not allowed"
            )
        self._nodes += 1
        if self._nodes > self._max_nodes:
            raise YamlLimitError(f"{_where(event)}more than {self._max_nodes} values")
        nested = isinstance(event, CollectionStartEvent)
        if nested:
            self._depth += 1
            if self._depth > self._max_depth:
                raise YamlLimitError(f"{_where(event)}nested deeper than {self._max_depth} levels")
        try:
            return super().compose_node(parent, index)
        finally:
            if nested:
                self._depth -= 1


def _where(event: Any) -> str:
    mark = getattr(event, "start_mark", None)
    return f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""


def load_yaml_limited(
    text: str,
    *,
    max_bytes: int = MAX_YAML_BYTES,
    max_depth: int = MAX_YAML_DEPTH,
    max_nodes: int = MAX_YAML_NODES,
) -> Any:
    """Parse one YAML document within the limits; raises :class:`YamlLimitError` otherwise."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise YamlLimitError(f"{size} bytes is more than the {max_bytes} allowed")
    loader: _LimitedLoader | None = None
    try:
        loader = _LimitedLoader(text, max_depth, max_nodes)
        return loader.get_single_data()
    except YamlLimitError:
        raise
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = error.problem or error.context or "cannot be parsed"
        raise YamlLimitError(clip(f"{where}not valid YAML: {problem}", MAX_MESSAGE_CHARS)) from None
    except (yaml.YAMLError, ValueError, OverflowError, RecursionError) as error:
        # The safe constructor raises ValueError for values such as a
        # 5,000-digit integer or a timestamp on 30 February.
        raise YamlLimitError(clip(f"not valid YAML: {error}", MAX_MESSAGE_CHARS)) from None
    finally:
        if loader is not None:
            loader.dispose()


__all__ = ["MAX_YAML_BYTES", "YamlLimitError", "clip", "load_yaml_limited"]
