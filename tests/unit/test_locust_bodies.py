"""The bodies a worker posts, encoded once (locust/payloads.py): the bytes Locust's `json=` sent before."""
import json
import random

from payloads import (COVERTYPE_RANGES, PayloadSource, encode_body, generated_bodies, load_payloads, random_body,
                      random_row)


def test_a_generated_body_is_the_json_of_the_row_the_same_draws_give():
    for seed in range(50):
        body = random_body(random.Random(seed))
        assert body == json.dumps(random_row(random.Random(seed))).encode()


def test_generated_rows_reach_both_ends_of_every_range():
    rng = random.Random(5)
    rows = [json.loads(random_body(rng)) for _ in range(100_000)]
    for field, (low, high) in COVERTYPE_RANGES.items():
        values = {row[field] for row in rows}
        assert min(values) == low and max(values) == high, field
        assert all(isinstance(v, int) for v in values)


def test_next_bytes_follows_next_over_a_file(tmp_path):
    path = tmp_path / "bodies.jsonl"
    path.write_text('{"a": 1}\n[2, 3]\n"four"\n')
    bodies = load_payloads(str(path))
    plain, encoded = PayloadSource(bodies, seed=9), PayloadSource([encode_body(b) for b in bodies], seed=9)
    as_given = PayloadSource(bodies, seed=9)
    for _ in range(7):
        expected = json.dumps(plain.next()).encode()
        assert encoded.next_bytes() == expected      # encoded once, shared by every user
        assert as_given.next_bytes() == expected     # or encoded as it goes


def test_next_bytes_without_a_file_gives_fresh_rows():
    source = PayloadSource(seed=2)
    bodies = [source.next_bytes() for _ in range(20)]
    assert len(set(bodies)) == 20
    assert all(set(json.loads(b)) == set(COVERTYPE_RANGES) for b in bodies)


def test_a_worker_s_generated_pool_is_valid_distinct_rows_and_users_start_apart():
    pool = generated_bodies(2048, seed=3)
    assert pool == generated_bodies(2048, seed=3) and pool != generated_bodies(2048, seed=4)
    assert len(set(pool)) > 2000                     # distinct draws, not one row repeated
    assert all(set(json.loads(b)) == set(COVERTYPE_RANGES) for b in pool[:50])
    starts = {PayloadSource(pool, seed=s).next_bytes() for s in range(20)}
    assert len(starts) == 20                         # users begin at different rows of the pool
