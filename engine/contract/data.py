"""The ``data`` object of each contract type, as pydantic models.

Unknown extra fields are accepted and kept (``model_extra``); optional fields may be absent
or ``null``.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, field_validator

from engine.contract.values import Amount, Currency, IsoDate, NonEmptyStr, Share, parse_timestamp

__all__ = ["DATA_MODELS", "FORECAST_OVERRIDES", "FactData", "Split"]

ActivityKind = Literal["call", "email", "meeting", "visit"]
ActivityPurpose = Literal["first_call", "thank_you", "follow_up", "needs_discovery", "checkin"]
_PERIOD = re.compile(r"^\d{4}-(Q[1-4]|0[1-9]|1[0-2])$")


def _strict_int(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a whole number")
    if isinstance(value, Decimal):
        if value != value.to_integral_value():
            raise ValueError("must be a whole number")
        return int(value)
    if not isinstance(value, int):
        raise ValueError("must be a whole number")
    return value


def _timestamp_or_date(value: Any) -> Any:
    if isinstance(value, str) and len(value) == 10:
        # A bare date means the start of that day in the commission calendar's zone.
        return parse_timestamp(f"{value}T00:00:00+08:00")
    return parse_timestamp(value)


class FactData(BaseModel):
    """Base of every data model: extra fields allowed and kept."""

    model_config = ConfigDict(extra="allow", frozen=True)


class Split(BaseModel):
    """One rep's share of a deal's credit."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    rep: NonEmptyStr
    share: Share


def _check_splits(splits: list[Split] | None) -> list[Split] | None:
    if splits is None:
        return None
    if not splits:
        raise ValueError("must list at least one {rep, share}")
    total = sum((s.share for s in splits), Decimal(0))
    if total != 1:
        raise ValueError(f"shares must sum to exactly 1, they sum to {total}")
    reps = [s.rep for s in splits]
    if len(set(reps)) != len(reps):
        raise ValueError("a rep appears more than once")
    return splits


class DealOpenedData(FactData):
    """``deal.opened``."""

    workflow: NonEmptyStr
    account: NonEmptyStr
    owner: NonEmptyStr | None = None  # 1.1: absent or null, the engine routes the deal
    amount: Amount
    currency: Currency
    expected_close: IsoDate | None = None
    segment: NonEmptyStr | None = None
    territory: NonEmptyStr | None = None
    partner: NonEmptyStr | None = None
    splits: list[Split] | None = None

    _splits = field_validator("splits")(_check_splits)


class StageChangedData(FactData):
    """``deal.stage_changed``."""

    to: NonEmptyStr


class ActivityLoggedData(FactData):
    """``activity.logged``."""

    kind: ActivityKind
    purpose: ActivityPurpose | None = None
    outcome: NonEmptyStr | None = None


class NeedsRecordedData(FactData):
    """``deal.needs_recorded``."""

    summary: NonEmptyStr


class CustomerInfoCapturedData(FactData):
    """``deal.customer_info_captured``."""

    contact_name: NonEmptyStr
    phone: NonEmptyStr | None = None
    email: NonEmptyStr | None = None


class ProposalSentData(FactData):
    """``proposal.sent``."""

    document: NonEmptyStr | None = None


class MoneyData(FactData):
    """``quote.issued``, ``contract.signed``, ``deal.amount_changed``, ``payment.received``."""

    amount: Amount
    currency: Currency


class EmptyData(FactData):
    """``deal.registration_approved``: no fields."""


class DealLostData(FactData):
    """``deal.lost``."""

    reason: NonEmptyStr


class DealReopenedData(FactData):
    """``deal.reopened``."""

    stage: NonEmptyStr | None = None


class DealReassignedData(FactData):
    """``deal.reassigned``."""

    owner: NonEmptyStr
    splits: list[Split] | None = None

    _splits = field_validator("splits")(_check_splits)

    @field_validator("owner", mode="before")
    @classmethod
    def _owner_given(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must name the new owner (null is not accepted)")
        return value


class ContractCancelledData(FactData):
    """``contract.cancelled``."""

    reason: NonEmptyStr
    refund_amount: Amount | None = None


class SurveyRespondedData(FactData):
    """``survey.responded``."""

    score: Annotated[int, BeforeValidator(_strict_int)]

    @field_validator("score")
    @classmethod
    def _in_range(cls, value: int) -> int:
        if not 1 <= value <= 5:
            raise ValueError(f"score {value} must be from 1 to 5")
        return value


class QuotaSetData(FactData):
    """``rep.quota_set``."""

    period: NonEmptyStr
    amount: Amount
    currency: Currency
    team: NonEmptyStr | None = None

    @field_validator("period")
    @classmethod
    def _period_format(cls, value: str) -> str:
        if not _PERIOD.match(value):
            raise ValueError(f"{value!r} is not a period like 2026-Q1 or 2026-03")
        return value


class PlanAssignedData(FactData):
    """``rep.plan_assigned``; ``effective_from`` defaults to the fact's ``time``."""

    plan: NonEmptyStr
    effective_from: Annotated[datetime, BeforeValidator(_timestamp_or_date)] | None = None


def _json_int(value: Any) -> Any:
    # A JSON integer only: the decoder hands ``2.0`` over as a Decimal, ``"2"`` as text.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a JSON integer (not a boolean, 2.0 or \"2\")")
    return value


def _json_bool(value: Any) -> Any:
    if not isinstance(value, bool):
        raise ValueError("must be a JSON boolean (true or false)")
    return value


def _string_list(value: Any) -> Any:
    if not isinstance(value, list):
        raise ValueError("must be a list of strings")
    for item in value:
        if not isinstance(item, str):
            raise ValueError(f"must be a list of strings, {item!r} is not a string")
    return value


StringList = Annotated[list[str], BeforeValidator(_string_list)]


class ProfileSetData(FactData):
    """``rep.profile_set`` (1.1): who the rep is for routing.

    Absent (or null) ``manager``: none; absent lists: any; absent ``capacity``: no limit;
    absent ``active``: true. A present empty list matches nothing.
    """

    team: NonEmptyStr
    manager: NonEmptyStr | None = None
    territories: StringList | None = None
    segments: StringList | None = None
    capacity: Annotated[int, BeforeValidator(_json_int)] | None = None
    active: Annotated[bool, BeforeValidator(_json_bool)] | None = None

    @field_validator("capacity")
    @classmethod
    def _not_negative(cls, value: int | None) -> int | None:
        if value is not None and value < 0:
            raise ValueError(f"capacity {value} must be 0 or more")
        return value


#: ``deal.forecast_set`` categories (1.1); case-sensitive, ``auto`` returns to the stage's.
FORECAST_OVERRIDES = ("pipeline", "best_case", "commit", "omitted", "auto")
_QUARTER = re.compile(r"^\d{4}-Q[1-4]$")


class ForecastSetData(FactData):
    """``deal.forecast_set`` (1.1): the owner's forecast category for an open deal."""

    category: NonEmptyStr

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if value not in FORECAST_OVERRIDES:
            raise ValueError(f"{value!r} is not a forecast category; known (case-sensitive): "
                             f"{', '.join(FORECAST_OVERRIDES)}")
        return value


class ExpectedCloseChangedData(FactData):
    """``deal.expected_close_changed`` (1.1): the deal's new expected close date."""

    expected_close: IsoDate


class ForecastSubmittedData(FactData):
    """``forecast.submitted`` (1.1, subject = rep id): a rep's forecast call for a quarter."""

    period: NonEmptyStr
    amount: Amount
    currency: Currency

    @field_validator("period")
    @classmethod
    def _a_quarter(cls, value: str) -> str:
        if not _QUARTER.match(value):
            raise ValueError(f"{value!r} is not a quarter like 2026-Q1")
        return value


DATA_MODELS: dict[str, type[FactData]] = {
    "deal.opened": DealOpenedData,
    "deal.stage_changed": StageChangedData,
    "activity.logged": ActivityLoggedData,
    "deal.needs_recorded": NeedsRecordedData,
    "deal.customer_info_captured": CustomerInfoCapturedData,
    "proposal.sent": ProposalSentData,
    "quote.issued": MoneyData,
    "deal.registration_approved": EmptyData,
    "contract.signed": MoneyData,
    "deal.lost": DealLostData,
    "deal.reopened": DealReopenedData,
    "deal.reassigned": DealReassignedData,
    "deal.amount_changed": MoneyData,
    "payment.received": MoneyData,
    "contract.cancelled": ContractCancelledData,
    "survey.responded": SurveyRespondedData,
    "rep.quota_set": QuotaSetData,
    "rep.plan_assigned": PlanAssignedData,
    "rep.profile_set": ProfileSetData,
    "deal.forecast_set": ForecastSetData,
    "deal.expected_close_changed": ExpectedCloseChangedData,
    "forecast.submitted": ForecastSubmittedData,
}
