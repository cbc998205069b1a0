"""``serve`` with Kafka: the same process consumes facts from the topic (counted under
channel ``kafka``) and relays domain events to the events topic, beside the HTTP API."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from engine.serve.tokens import Role
from tests.api.conftest import Api
from tests.engine.facts import opened
from tests.kafka.conftest import consume_all, create_topics, kafka_settings, produce, wait_until

pytestmark = pytest.mark.kafka


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_serve_consumes_and_relays(make_api: Callable[..., Api], kafka_bootstrap: str) -> None:
    settings = kafka_settings(kafka_bootstrap)
    create_topics(settings)
    api = make_api(serve_kafka=True, kafka=settings)
    produce(kafka_bootstrap, settings.topics[0],
            [json.dumps(opened(f"K-{i}")).encode() for i in range(5)] + [b"{nope"])
    with api.client(Role.ADMIN) as client:
        def consumed() -> bool:
            return client.get("/v1/deals/K-4").status_code == 200

        wait_until(consumed, timeout=60, what="the consumer stored the facts")
        # the HTTP path works beside it
        assert client.post("/v1/facts", json=opened("H-1")).status_code == 201
    events = consume_all(kafka_bootstrap, settings.events_topic, expect=6, timeout=60)
    # The six openings; the routing book's own events (1.1) follow the batching: aside.
    types = [json.loads(e.value)["type"] for e in events]
    assert len([t for t in types if t.startswith("dealflow.deal.")]) == 6
    assert {t for t in types if not t.startswith("dealflow.deal.")} <= {
        "dealflow.routing_book.started", "dealflow.routing_book.recorded"}

    def counted() -> bool:
        m = api.metrics()
        return m.get('dealflow_facts_ingested_total{channel="kafka",source="crm-web",'
                     'type="deal.opened"}') == 5
    wait_until(counted, timeout=30, what="kafka facts counted")
    m = api.metrics()
    assert m['dealflow_facts_rejected_total{channel="kafka",reason="invalid:(body)"}'] == 1
    assert m['dealflow_facts_ingested_total{channel="http",source="crm-web",'
             'type="deal.opened"}'] == 1
    wait_until(lambda: api.metrics().get("dealflow_outbox_lag_events{}") == 0, timeout=30,
               what="the relay caught up")
