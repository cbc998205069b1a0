"""A commission plan version as validated data: basis, period, splits, rate tiers, bonuses,
clawback window and rounding.

A plan is identified by ``id``; each ``version`` of it takes effect at ``effective_from``
(the first version may leave it out: in effect from the beginning). Load definitions through
:mod:`projections.commissions.loader`, which turns any failure into a
:class:`CommissionPlanError` naming the file and the field.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from engine.errors import ConfigurationError

__all__ = [
    "Basis",
    "BonusRule",
    "ClawbackRule",
    "CommissionPlanError",
    "PeriodRule",
    "PlanVersion",
    "Rounding",
    "SplitMode",
    "Tier",
]

Basis = Literal["booking", "cash"]
SplitMode = Literal["at_signing", "owner_only", "full"]
PeriodUnit = Literal["quarter", "month"]
_ROUNDING_MODES = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN}


class CommissionPlanError(ConfigurationError):
    """A commission plan definition is invalid or unknown; the message names the field."""


def _non_negative(value: Decimal) -> Decimal:
    if not value.is_finite() or value < 0:
        raise ValueError(f"{value} must be a finite number, not negative")
    return value


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.utcoffset() is None:
        raise ValueError("must carry a UTC offset, e.g. 2026-04-01T00:00:00+08:00")
    return value


NonNegative = Annotated[Decimal, AfterValidator(_non_negative)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Tier(_Frozen):
    """Rate ``rate`` on the part of credit from ``from_attainment`` x quota up to the next
    tier (marginal). The first tier starts at 0; its rate is the plan's *base rate*."""

    from_attainment: NonNegative
    rate: NonNegative

    @field_validator("rate")
    @classmethod
    def _a_fraction(cls, value: Decimal) -> Decimal:
        if value > 1:
            raise ValueError(f"rate {value} is above 1 (write 5 % as 0.05)")
        return value


class BonusRule(_Frozen):
    """``amount`` in the quota's currency, once per period, when credit reaches
    ``at_attainment`` x quota."""

    at_attainment: Annotated[Decimal, Field(gt=0)]
    amount: NonNegative


class ClawbackRule(_Frozen):
    """A cancellation at most ``window_hours`` after signing (inclusive) reverses the deal's
    rate lines in the cancellation's period."""

    window_hours: Annotated[int, Field(ge=0)]

    @property
    def window(self) -> timedelta:
        """The window as a duration."""
        return timedelta(hours=self.window_hours)


class PeriodRule(_Frozen):
    """Statement periods: calendar quarters or months in ``timezone``."""

    unit: PeriodUnit = "quarter"
    timezone: str = "Asia/Shanghai"

    _zone: ZoneInfo = PrivateAttr()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    def model_post_init(self, context: object, /) -> None:
        """Resolve the zone once."""
        self._zone = ZoneInfo(self.timezone)

    def local(self, at: datetime) -> datetime:
        """Instant ``at`` in the period's time zone."""
        return at.astimezone(self._zone)

    def label(self, at: datetime) -> str:
        """The period containing instant ``at``: ``2026-Q1`` or ``2026-03``."""
        local = at.astimezone(self._zone)
        if self.unit == "quarter":
            return f"{local.year}-Q{(local.month - 1) // 3 + 1}"
        return f"{local.year}-{local.month:02d}"


class Rounding(_Frozen):
    """How each line's amount is rounded: ``places`` decimals, ``half_up`` or ``half_even``."""

    places: Annotated[int, Field(ge=0, le=6)] = 2
    mode: Literal["half_up", "half_even"] = "half_up"

    def apply(self, value: Decimal) -> Decimal:
        """Round one line's amount."""
        return value.quantize(Decimal(1).scaleb(-self.places), rounding=_ROUNDING_MODES[self.mode])


class PlanVersion(_Frozen):
    """One version of a commission plan; see the module docstring and docs/commissions.md."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    version: Annotated[int, Field(ge=1)]
    effective_from: Annotated[datetime | None, AfterValidator(_aware)] = None
    description: str | None = None
    basis: Basis = "booking"
    period: PeriodRule = PeriodRule()
    splits: SplitMode = "at_signing"
    tiers: tuple[Tier, ...]
    bonuses: tuple[BonusRule, ...] = ()
    clawback: ClawbackRule | None = None
    rounding: Rounding = Rounding()

    @field_validator("tiers")
    @classmethod
    def _ordered_tiers(cls, tiers: tuple[Tier, ...]) -> tuple[Tier, ...]:
        if not tiers:
            raise ValueError("a plan needs at least one tier")
        if tiers[0].from_attainment != 0:
            raise ValueError(f"the first tier must start at 0, not {tiers[0].from_attainment}")
        for before, after in pairwise(tiers):
            if after.from_attainment <= before.from_attainment:
                raise ValueError(
                    f"tiers must start at increasing attainments: {after.from_attainment} "
                    f"follows {before.from_attainment}"
                )
        return tiers

    @field_validator("bonuses")
    @classmethod
    def _distinct_bonuses(cls, bonuses: tuple[BonusRule, ...]) -> tuple[BonusRule, ...]:
        levels = [b.at_attainment for b in bonuses]
        if len(set(levels)) != len(levels):
            raise ValueError(f"two bonuses at the same attainment: {levels}")
        return tuple(sorted(bonuses, key=lambda b: b.at_attainment))

    @model_validator(mode="after")
    def _amounts_fit_rounding(self) -> PlanVersion:
        for index, bonus in enumerate(self.bonuses):
            if self.rounding.apply(bonus.amount) != bonus.amount:
                raise ValueError(
                    f"bonuses.{index}.amount: {bonus.amount} has more than "
                    f"{self.rounding.places} decimals"
                )
        return self

    @property
    def base_rate(self) -> Decimal:
        """The first tier's rate: used without a quota and for other currencies."""
        return self.tiers[0].rate

    @property
    def label(self) -> str:
        """``standard-2026 v1``."""
        return f"{self.id} v{self.version}"
