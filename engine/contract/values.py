"""Value types of the external contract: amounts, currencies, shares, timestamps, dates.

Amounts never pass through float: the JSON decoder hands numbers over as ``Decimal`` (or
``int``) and strings are parsed as decimal text.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

__all__ = [
    "Amount",
    "Currency",
    "IsoDate",
    "NonEmptyStr",
    "Share",
    "parse_amount",
    "parse_timestamp",
]

_DECIMAL_TEXT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_CENT = Decimal("0.01")
#: Digits an amount may have before the decimal point.
_MAX_INTEGER_DIGITS = 18


def _to_decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a decimal string or number, not a boolean")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        if not _DECIMAL_TEXT.match(value.strip()):
            raise ValueError(f"{what} {value!r} is not a decimal number")
        try:
            result = Decimal(value.strip())
        except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid text
            raise ValueError(f"{what} {value!r} is not a decimal number") from exc
    else:
        raise ValueError(f"{what} must be a decimal string or number")
    if not result.is_finite():
        raise ValueError(f"{what} must be finite")
    return result


def parse_amount(value: Any) -> Decimal:
    """An amount: decimal text or JSON number, not negative, at most 2 decimals by value."""
    amount = _to_decimal(value, "amount")
    if amount < 0:
        raise ValueError(f"amount {value} must not be negative")
    # Bounded so that every later sum and rate stays exact in Decimal's 28 digits (and the
    # checks below cannot fail: 1e400 once raised DivisionImpossible here).
    if amount != 0 and amount.adjusted() >= _MAX_INTEGER_DIGITS:
        raise ValueError(f"amount {value} is too large (at most {_MAX_INTEGER_DIGITS} "
                         "digits before the decimal point)")
    # Normalise "12500.100" and "12500.1" alike to two places, so equal amounts look equal;
    # compared exactly, so that no digit beyond the cents is rounded away.
    cents = amount.quantize(_CENT)
    if cents != amount:
        raise ValueError(f"amount {value} has more than 2 decimals")
    return cents


def _parse_share(value: Any) -> Decimal:
    share = _to_decimal(value, "share")
    if not Decimal(0) < share <= Decimal(1):
        raise ValueError(f"share {value} must be greater than 0 and at most 1")
    return share


#: The common shape, ``2026-01-01T08:00:14+08:00`` (ASCII digits, no fraction, a numeric
#: offset): :data:`_RFC3339` matches it too, and reads it with ``fromisoformat`` as it is.
_PLAIN_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", re.ASCII)


def parse_timestamp(value: Any) -> datetime:
    """An RFC 3339 timestamp with an offset (``Z`` or ``+08:00``); naive times are refused."""
    # Nearly every fact's time has the common shape: one simpler match, and the full path
    # below only for the rest (and for an invalid date or time of that shape, which it
    # then names).
    if type(value) is str and len(value) == 25 and _PLAIN_RFC3339.fullmatch(value):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 timestamp string")
    match = _RFC3339.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not an RFC 3339 timestamp with an offset")
    day, clock, fraction, offset = match.groups()
    if fraction is None and value[10] == "T" and offset[0] != "Z" and offset[0] != "z":
        # The common shape (``2026-01-01T08:00:14+08:00``) is already what fromisoformat
        # reads, to the same value as the rebuilt text below; any error is left to that.
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    micro = (fraction or ".0")[1:7].ljust(6, "0")
    offset = "+00:00" if offset in ("Z", "z") else offset
    try:
        return datetime.fromisoformat(f"{day}T{clock}.{micro}{offset}")
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid timestamp: {exc}") from exc


def _parse_date(value: Any) -> date:
    if not isinstance(value, str):
        raise ValueError("must be a date string YYYY-MM-DD")
    try:
        return date.fromisoformat(value) if len(value) == 10 else _bad_date(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a date YYYY-MM-DD") from exc


def _bad_date(value: str) -> date:
    raise ValueError(f"{value!r} is not a date YYYY-MM-DD")


def _check_currency(value: str) -> str:
    if not _CURRENCY.match(value):
        raise ValueError(f"{value!r} is not an ISO 4217 currency code (three capital letters)")
    return value


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _strict_str(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


NonEmptyStr = Annotated[str, BeforeValidator(_strict_str), AfterValidator(_non_empty)]
Amount = Annotated[Decimal, BeforeValidator(parse_amount)]
Share = Annotated[Decimal, BeforeValidator(_parse_share)]
Currency = Annotated[str, BeforeValidator(_strict_str), AfterValidator(_check_currency)]
IsoDate = Annotated[date, BeforeValidator(_parse_date)]
