"""Partition fences: one holder per (group, topic, partition), on both backends."""

from __future__ import annotations

from engine.kafka.fence import PartitionFence
from engine.store.sql import sql_engine


def test_a_partition_fence_has_one_holder_at_a_time(store_url: str) -> None:
    sql = sql_engine(store_url)
    first, second = (PartitionFence(store_url, sql, "g") for _ in range(2))
    other_group = PartitionFence(store_url, sql, "h")
    try:
        assert first.acquire("facts", 0)
        assert first.acquire("facts", 0)  # re-entrant for its holder
        assert not second.acquire("facts", 0)
        assert second.acquire("facts", 1)
        assert other_group.acquire("facts", 0)
        first.release("facts", 0)
        assert second.acquire("facts", 0)
        assert second.held == {("facts", 0), ("facts", 1)}
        second.close()
        assert first.acquire("facts", 1)
    finally:
        for fence in (first, second, other_group):
            fence.close()
        sql.dispose()
