"""Escalation steps and account segments over HTTP and in /metrics, on SQLite and
PostgreSQL: a deal's SLA listing shows its steps, /v1/sla counts them per rule and step,
/v1/segments ranks accounts, and the escalation gauge counts steps by rule, step and state."""

from __future__ import annotations

from datetime import datetime

from engine.serve.tokens import Role
from tests.api.conftest import Api
from tests.engine.facts import STANDARD_PATH, fact, opened

AS_OF = {"as_of": "2026-01-09"}


def test_escalations_and_segments_over_http(api: Api) -> None:
    signed = [fact(kind, "E-2", data, time=f"2026-01-05T10:{n + 1:02d}:00+08:00")
              for n, (kind, data) in enumerate(STANDARD_PATH)]
    facts = [fact("rep.profile_set", "rep-01", {"team": "east", "manager": "boss-1"},
                  time="2026-01-01T09:00:00+08:00"),
             opened("E-1", time="2026-01-05T10:00:00+08:00"),
             opened("E-2", account="acct-big", time="2026-01-05T10:00:00+08:00"), *signed]
    with api.client(Role.ADMIN) as client:
        done = client.post("/v1/facts/batch?wait=true", json=facts).json()
        assert done["accepted"] == len(facts), done
        timer = api.service.engine.sla_timer(api.service.runner)
        # E-1: breach, owner step (2026-01-06 10:00), manager step (2026-01-07 10:00);
        # E-2: its signing call's thank-you e-mail never came: breach and owner step.
        assert timer.tick(datetime.fromisoformat("2026-01-08T00:00:00+08:00")) == 5
        timer.stop()
        head = int(api.service.engine.app.recorder.max_notification_id() or 0)
        params: dict[str, str | int] = {**AS_OF, "min_position": head}

        # The deal's SLA honours min_position (read-your-writes): past the head it is refused,
        # at the head it waits for the views to apply the timer's steps.
        beyond = client.get("/v1/deals/E-1/sla", params={**AS_OF, "min_position": head + 100})
        assert beyond.status_code == 400 and beyond.json()["error"] == "bad_position"
        deal = client.get("/v1/deals/E-1/sla", params=params)
        assert deal.status_code == 200, deal.text
        assert deal.json()["position"] >= head
        (contact,) = [i for i in deal.json()["instances"] if i["rule"] == "first_contact"]
        assert [(s["step"], s["status"], s["outcome"], s["recipient"])
                for s in contact["steps"]] == [("owner+0h", "recorded", "notify", "rep-01"),
                                               ("manager+9h", "recorded", "notify", "boss-1")]
        summary = client.get("/v1/sla", params=params)
        assert summary.status_code == 200, summary.text
        steps = client.get("/v1/sla/escalations", params=params).json()["items"]
        assert {(s["rule"], s["step"], s["recorded"], s["notified"]) for s in steps} == {
            ("first_contact", "manager+9h", 1, 1), ("first_contact", "owner+0h", 1, 1),
            ("thank_you_email", "owner+0h", 1, 1)}

        segments = client.get("/v1/segments", params={"as_of": "2026-01-31"})
        assert segments.status_code == 200, segments.text
        (cny,) = client.get("/v1/segments/currencies",
                            params={"as_of": "2026-01-31"}).json()["items"]
        assert [(a["account"], a["tier"], a["credit"]) for a in cny["accounts"]] == [
            ("acct-big", "high_value", "11500.00")]

    m = api.metrics()
    gauge = {k: v for k, v in m.items() if k.startswith("dealflow_sla_escalation_steps")
             and 'state="recorded"' in k}
    assert gauge == {
        'dealflow_sla_escalation_steps{rule="first_contact",state="recorded",'
        'step="manager+9h",workflow="standard"}': 1,
        'dealflow_sla_escalation_steps{rule="first_contact",state="recorded",'
        'step="owner+0h",workflow="standard"}': 1,
        'dealflow_sla_escalation_steps{rule="thank_you_email",state="recorded",'
        'step="owner+0h",workflow="standard"}': 1,
    }
