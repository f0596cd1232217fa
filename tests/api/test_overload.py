"""The in-flight bound: past it, 503 with Retry-After at once; below it, normal answers."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from api.admission import InFlightLimit, Overloaded


def run(coro):
    return asyncio.run(coro)


async def handler(limit: InFlightLimit, value):
    """A request as the app runs it: admission, then the answer computed inline."""
    limit.admit()
    return value


def test_past_the_bound_in_one_turn_requests_are_refused():
    async def scenario():
        limit = InFlightLimit(3)
        first = await asyncio.gather(*(handler(limit, i) for i in range(8)), return_exceptions=True)
        return first, limit.refused

    results, refused = run(scenario())
    assert results[:3] == [0, 1, 2]
    assert all(isinstance(result, Overloaded) for result in results[3:])
    assert refused == 5


def test_the_bound_is_per_turn_and_recovers():
    async def scenario():
        limit = InFlightLimit(2)
        answers = []
        for _ in range(5):  # one request per turn never reaches the bound
            answers.append(await asyncio.gather(handler(limit, "a"), return_exceptions=True))
            await asyncio.sleep(0)
        burst = await asyncio.gather(*(handler(limit, i) for i in range(4)), return_exceptions=True)
        await asyncio.sleep(0)
        after = await asyncio.gather(handler(limit, "b"), handler(limit, "c"))
        return answers, burst, after

    answers, burst, after = run(scenario())
    assert answers == [["a"]] * 5
    assert burst[:2] == [0, 1] and all(isinstance(r, Overloaded) for r in burst[2:])
    assert after == ["b", "c"]


@pytest.mark.parametrize("bound", [1, 4])
def test_http_overload_is_503_with_retry_after(model_dir, row, bound):
    from api.main import create_app
    from api.settings import Settings

    app = create_app(Settings(model_dir=model_dir, max_in_flight=bound, retry_after_s=2))

    async def scenario():
        async with app.fastapi.router.lifespan_context(app.fastapi):
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
