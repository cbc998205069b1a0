"""Word pools for plausible demo text: partners, contacts, needs, loss reasons, outcomes."""

from __future__ import annotations

__all__ = [
    "CALL_OUTCOMES",
    "CANCEL_REASONS",
    "CONTACT_NAMES",
    "LOSS_REASONS",
    "NEEDS",
    "PARTNERS",
    "PLAN",
    "SPLIT_SHARES",
    "TEAMS",
]

PLAN = "standard-2026"
TEAMS = ("team-north", "team-south")
PARTNERS = (
    "partner-acme",
    "partner-globex",
    "partner-initech",
    "partner-umbrella",
    "partner-hooli",
)
# Shares are decimal text summing to exactly 1; the owner's share comes first.
SPLIT_SHARES = (
    ("0.5", "0.5"),
    ("0.6", "0.4"),
    ("0.7", "0.3"),
    ("0.75", "0.25"),
    ("0.8", "0.2"),
)
CONTACT_NAMES = (
    "Wang Fang",
    "Li Wei",
    "Zhang Min",
    "Liu Yang",
    "Chen Jing",
    "Yang Lei",
    "Zhao Qiang",
    "Huang Li",
    "Zhou Jie",
    "Wu Xia",
    "王芳",
    "李伟",
    "陈静",
    "Sun Hao",
    "Ma Lin",
    "Hu Yan",
)
NEEDS = (
    "Replace the legacy CRM for the sales office",
    "ERP integration for three plants",
    "Warehouse scanning for the east-China DC",
    "Field-service scheduling for 40 engineers",
    "Consolidate billing across subsidiaries",
    "Customer portal with WeChat login",
    "需要与现有ERP系统集成",
    "Quality-inspection records for the new line",
    "Dealer ordering and rebate tracking",
    "Data migration and training for 120 users",
)
LOSS_REASONS = {
    "early": ("no_response", "not_a_fit", "duplicate_lead", "no_budget"),
    "middle": ("no_budget", "competitor", "no_decision", "timing"),
    "late": ("price", "competitor", "no_decision", "procurement_freeze"),
}
CANCEL_REASONS = ("customer_withdrew", "credit_check_failed", "scope_dispute", "merger")
CALL_OUTCOMES = ("connected", "connected", "connected", "voicemail", "callback_requested")
