"""Group commit: concurrent batches combined into one transaction give each request its own
outcomes, in order, as if taken one after the other."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from engine.ingest.batch import BatchResult, Outcome, RawInput
from engine.serve.group import GroupCommitter


class _Recording:
    """A fake ingest: remembers each call's inputs; slow, so requests pile up."""

    def __init__(self, fail_on: bytes | None = None) -> None:
        self.calls: list[list[bytes]] = []
        self.fail_on = fail_on

    def __call__(self, inputs: Sequence[RawInput]) -> BatchResult:
        time.sleep(0.05)
        self.calls.append([i.raw for i in inputs])
        if self.fail_on is not None and self.fail_on in self.calls[-1]:
            raise RuntimeError("boom")
        return BatchResult(outcomes=[Outcome("accepted", i.origin, fact_id=i.raw.decode())
                                     for i in inputs], last_position=len(self.calls))


def _batch(name: str, n: int) -> list[RawInput]:
    return [RawInput(f"{name}{k}".encode(), name) for k in range(n)]


def _submit_all(committer: GroupCommitter, batches: list[list[RawInput]]
                ) -> list[BatchResult | BaseException]:
    results: list[BatchResult | BaseException] = [RuntimeError("not run")] * len(batches)

    def run(i: int) -> None:
        try:
            results[i] = committer.submit(batches[i])
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
        time.sleep(0.005)
    for t in threads:
        t.join()
    return results


def test_waiting_batches_share_a_transaction_and_keep_their_outcomes() -> None:
    fake = _Recording()
    batches = [_batch(name, 3) for name in "abcde"]
    results = _submit_all(GroupCommitter(fake, max_inputs=9), batches)
    assert len(fake.calls) < len(batches)  # some were combined
    assert all(len(call) <= 9 for call in fake.calls)
    flat = [raw for call in fake.calls for raw in call]
    assert flat == [i.raw for b in batches for i in b]  # arrival order kept
    for batch, result in zip(batches, results, strict=True):
        assert isinstance(result, BatchResult)
        assert [o.fact_id for o in result.outcomes] == [i.raw.decode() for i in batch]


def test_a_failed_transaction_fails_every_request_in_it() -> None:
    fake = _Recording(fail_on=b"b0")
    results = _submit_all(GroupCommitter(fake, max_inputs=100), [_batch("a", 1),
                                                                 _batch("b", 1),
                                                                 _batch("c", 1)])
    failed_calls = [call for call in fake.calls if b"b0" in call]
    failed = {raw.decode() for call in failed_calls for raw in call}
    for name, result in zip("abc", results, strict=True):
        assert isinstance(result, RuntimeError) == (f"{name}0" in failed)


def test_a_batch_larger_than_the_cap_goes_alone() -> None:
    fake = _Recording()
    (result,) = _submit_all(GroupCommitter(fake, max_inputs=2), [_batch("a", 5)])
    assert isinstance(result, BatchResult) and len(result.outcomes) == 5
    assert fake.calls == [[f"a{k}".encode() for k in range(5)]]


@pytest.mark.parametrize("n", [1, 8])
def test_every_request_is_answered(n: int) -> None:
    fake = _Recording()
    results = _submit_all(GroupCommitter(fake, max_inputs=4), [_batch(str(i), 3)
                                                               for i in range(n)])
    assert all(isinstance(r, BatchResult) and len(r.outcomes) == 3 for r in results)
