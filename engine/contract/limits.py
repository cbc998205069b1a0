"""Limits on one input, so that hostile input can neither exhaust memory nor fill the disk.

Every entry point (HTTP, Kafka, JSONL) hands its inputs to the same parser
(:func:`engine.contract.envelope.parse_fact`), which applies these limits: an input larger
than ``max_bytes``, a string (value or key) longer than ``max_string`` characters, or JSON
nested deeper than ``max_depth`` is rejected naming the field and the limit (the setting
that sets it), and stored as a rejection like any other invalid input, but with only its
first ``max_kept_bytes`` bytes (:meth:`InputLimits.kept`).

The settings (``engine.settings.Settings``) are ``input_max_bytes``, ``input_max_string``,
``input_max_depth`` and ``rejection_max_raw_bytes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.errors import InvalidFactError

__all__ = ["DEFAULT_LIMITS", "InputLimits"]


@dataclass(frozen=True, slots=True)
class InputLimits:
    """The limits of one input; the defaults are the settings' defaults."""

    #: Most bytes one input (a fact) may have (``input_max_bytes``).
    max_bytes: int = 64 * 1024
    #: Most characters of any string of an input, keys included (``input_max_string``).
    max_string: int = 4096
    #: Deepest nesting of objects and arrays, the fact itself being level 1
    #: (``input_max_depth``).
    max_depth: int = 16
    #: Most bytes of a rejected input kept in the rejections store
    #: (``rejection_max_raw_bytes``).
    max_kept_bytes: int = 16 * 1024

    def check_size(self, raw: bytes | str) -> None:
        """Refuse an input of more than ``max_bytes`` bytes (before decoding it)."""
        size = len(raw) if isinstance(raw, bytes) else len(raw.encode(errors="replace"))
        if size > self.max_bytes:
            raise InvalidFactError(
                f"(body): {size} bytes, more than the limit input_max_bytes={self.max_bytes}",
                field="(body)")

    def check_shape(self, raw: bytes | str, obj: Any) -> None:
        """Refuse a decoded input with a string longer than ``max_string`` characters or
        nesting deeper than ``max_depth``, naming where (``data.note``) and the limit."""
        # Fast path (nearly every fact): no string can be longer than the whole input, and
        # nesting cannot be deeper than the number of opening brackets.
        if len(raw) <= self.max_string and (
                raw.count(b"{") + raw.count(b"[") if isinstance(raw, bytes)
                else raw.count("{") + raw.count("[")) <= self.max_depth:
            return
        self._walk(obj, "", 1)

    def _walk(self, value: Any, path: str, depth: int) -> None:
        if isinstance(value, str):
            if len(value) > self.max_string:
                where = path or "(body)"
                raise InvalidFactError(
                    f"{where}: {len(value)} characters, more than the limit "
                    f"input_max_string={self.max_string}", field=where)
            return
        if not isinstance(value, dict | list):
            return
        if depth > self.max_depth:
            where = path or "(body)"
            raise InvalidFactError(
                f"{where}: nested deeper than the limit input_max_depth={self.max_depth}",
                field=where)
        if isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                if len(key) > self.max_string:
                    where = path or "(body)"
                    raise InvalidFactError(
                        f"{where}: a key of {len(key)} characters, more than the limit "
                        f"input_max_string={self.max_string}", field=where)
                self._walk(item, child[:200], depth + 1)
        else:
            for index, item in enumerate(value):
                self._walk(item, f"{path}.{index}" if path else str(index), depth + 1)

    def kept(self, raw: bytes) -> bytes:
        """What the rejections store keeps of a rejected input: its first
        ``max_kept_bytes`` bytes."""
        return raw if len(raw) <= self.max_kept_bytes else raw[:self.max_kept_bytes]


#: The limits used when none are given (the settings' defaults).
DEFAULT_LIMITS = InputLimits()
