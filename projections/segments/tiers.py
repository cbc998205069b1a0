"""Account tiers (issue 11, item 4): a pure function of each account's credit.

Within one currency, accounts are ranked by credit, descending, ties by account id (code
point order). An account is ``high_value`` while the accounts ranked before it hold less
than 70 % of the currency's total credit, ``potential`` while they hold less than 90 %, else
``ordinary``; an account whose credit is zero or less is ``ordinary`` whatever its rank.
The first account is ``high_value`` (0 % < 70 %).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

__all__ = ["HIGH_VALUE", "ORDINARY", "POTENTIAL", "TIERS", "rank"]

HIGH_VALUE = "high_value"
POTENTIAL = "potential"
ORDINARY = "ordinary"
TIERS = (HIGH_VALUE, POTENTIAL, ORDINARY)
_HIGH = 70  # percent
_POTENTIAL = 90


def rank(credits: Mapping[str, Decimal]) -> list[tuple[str, str, Decimal]]:
    """(account, tier, share of the total held by the accounts ranked before it) for each
    account of one currency, in rank order; tiers compare exactly (the share is for
    display). With no positive credit at all every account is ``ordinary``, share 0."""
    ordered = sorted(credits.items(), key=lambda item: (-item[1], item[0]))
    total = sum((c for c in credits.values() if c > 0), Decimal(0))
    before = Decimal(0)
    ranked: list[tuple[str, str, Decimal]] = []
    for account, credit in ordered:
        share = before / total if total > 0 else Decimal(0)
        if credit <= 0:
            tier = ORDINARY
        # Exact: amounts have 2 decimals, so these products are never rounded.
        elif before * 100 < _HIGH * total:
            tier = HIGH_VALUE
        elif before * 100 < _POTENTIAL * total:
            tier = POTENTIAL
        else:
            tier = ORDINARY
        ranked.append((account, tier, share))
        if credit > 0:
            before += credit
    return ranked
