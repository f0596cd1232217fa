"""The in-flight bound: past it, 503 with Retry-After at once; below it, normal answers."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from api.batching import MicroBatcher, Overloaded


def run(coro):
    return asyncio.run(coro)


def test_requests_of_one_loop_turn_are_answered_together():
    calls = []

    def predict_rows(rows):
        calls.append(len(rows))
        return [sum(row) for row in rows]

    async def scenario():
        batcher = MicroBatcher(predict_rows, max_in_flight=10)
        return await asyncio.gather(*(batcher.predict([(i, 1)]) for i in range(5)))

    assert run(scenario()) == [[1], [2], [3], [4], [5]]
    assert calls == [1, 1, 1, 1, 1]  # one callback for the turn, rows answered one by one


def test_past_the_bound_requests_are_refused_and_the_bound_recovers():
    async def scenario():
        batcher = MicroBatcher(lambda rows: list(rows), max_in_flight=3)
        first = await asyncio.gather(*(batcher.predict([i]) for i in range(8)),
                                     return_exceptions=True)
        assert batcher.in_flight == 0
        second = await asyncio.gather(*(batcher.predict([i]) for i in range(3)))
        return first, second

    first, second = run(scenario())
    assert first[:3] == [[0], [1], [2]]
    assert all(isinstance(result, Overloaded) for result in first[3:])
    assert second == [[0], [1], [2]]


def test_a_failing_prediction_reaches_its_request_only():
    def predict_rows(rows):
        if rows[0] == "bad":
            raise RuntimeError("boom")
        return list(rows)

    async def scenario():
        batcher = MicroBatcher(predict_rows, max_in_flight=10)
        return await asyncio.gather(batcher.predict(["ok"]), batcher.predict(["bad"]),
                                    return_exceptions=True)

    ok, bad = run(scenario())
    assert ok == ["ok"] and isinstance(bad, RuntimeError)


def test_a_cancelled_request_is_skipped():
    async def scenario():
        batcher = MicroBatcher(lambda rows: list(rows), max_in_flight=10)
        waiting = asyncio.ensure_future(batcher.predict(["gone"]))
        await asyncio.sleep(0)  # enqueued; the flush is scheduled after the cancel
        waiting.cancel()
        kept = await batcher.predict(["kept"])
        return kept, batcher.in_flight

    assert run(scenario()) == (["kept"], 0)


@pytest.mark.parametrize("bound", [1, 4])
def test_http_overload_is_503_with_retry_after(model_dir, row, bound):
    from api.main import create_app
    from api.settings import Settings

    app = create_app(Settings(model_dir=model_dir, max_in_flight=bound, retry_after_s=2))

    async def scenario():
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
                started = time.perf_counter()
                burst = await asyncio.gather(*(client.post("/predict", json=row) for _ in range(40)))
                elapsed = time.perf_counter() - started
                after = await client.post("/predict", json=row)
                health = await client.get("/health")
        return burst, elapsed, after, health

    burst, elapsed, after, health = run(scenario())
    codes = [response.status_code for response in burst]
    # all 40 reach the app in the same loop turn: exactly `bound` are admitted
    assert codes.count(200) == bound and codes.count(503) == 40 - bound
    refused = next(response for response in burst if response.status_code == 503)
    assert refused.headers["retry-after"] == "2"
    assert "retry" in refused.json()["detail"].lower()
    assert elapsed < 5
    assert after.status_code == 200 and health.status_code == 200


def test_the_bound_comes_from_the_environment():
    from api.settings import Settings

    assert Settings.from_env({"API_MAX_IN_FLIGHT": "17"}).max_in_flight == 17
