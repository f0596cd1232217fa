"""The load's pure parts: step schedule, payloads, latency histograms."""
import json
import random

import pytest

# locust/ is on pytest's pythonpath (pyproject.toml): its modules import each other by their plain
# names, as on the loadgen hosts where they are copied side by side
from payloads import COVERTYPE_RANGES, PayloadSource, load_payloads, random_row
from recorder import LatencyRecorder
from steps import step_at, step_users


def test_step_users_and_schedule():
    counts = step_users(1200, 500)
    assert counts == [500, 1000, 1200]
    assert step_at(0, counts, 60) == (0, 500)
    assert step_at(59.9, counts, 60) == (0, 500)
    assert step_at(60, counts, 60) == (1, 1000)
    assert step_at(179.9, counts, 60) == (2, 1200)
    assert step_at(180, counts, 60) is None


def test_random_rows_are_valid_and_deterministic():
    rows = [random_row(random.Random(7)) for _ in range(2)]
    assert rows[0] == rows[1]
    rng = random.Random(1)
    for _ in range(1000):
        row = random_row(rng)
        assert set(row) == set(COVERTYPE_RANGES)
        for field, (low, high) in COVERTYPE_RANGES.items():
            assert low <= row[field] <= high


def test_payload_file_is_read_in_turn(tmp_path):
    path = tmp_path / "bodies.jsonl"
    path.write_text('{"a": 1}\n\n[2]\n"three"\n')
    bodies = load_payloads(str(path))
    assert bodies == [{"a": 1}, [2], "three"]
    source = PayloadSource(bodies, seed=3)
    seen = [source.next() for _ in range(6)]
    assert sorted(map(json.dumps, seen[:3])) == sorted(map(json.dumps, bodies))
    assert seen[:3] == seen[3:]


def test_payload_file_errors_name_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n{oops\n')
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        load_payloads(str(path))


def test_recorder_writes_finished_seconds_only(tmp_path):
    now = [1000.2]
    recorder = LatencyRecorder(str(tmp_path / "latency" / "h-1.csv"), clock=lambda: now[0])
    recorder.on_request(response_time=1.2)
    recorder.on_request(response_time=2.0)
    recorder.on_request(response_time=1.7, exception=RuntimeError("boom"))
    assert recorder.flush() == 0          # second 1000 is not over yet
    now[0] = 1001.1
    recorder.on_request(response_time=0.4)
    assert recorder.flush() == 2
    recorder.close()
    lines = (tmp_path / "latency" / "h-1.csv").read_text().splitlines()
    assert lines == ["ts,ok,ms,count", "1000,0,2,1", "1000,1,2,2", "1001,1,1,1"]


class _Response:
    def __init__(self, status_code):
        self.status_code = status_code


def test_recorder_tallies_connection_and_http_errors_apart(tmp_path):
    now = [2000.5]
    recorder = LatencyRecorder(str(tmp_path / "latency" / "h-2.csv"), clock=lambda: now[0])
    recorder.on_request(response_time=0.3, exception=ConnectionRefusedError(111), response=_Response(0))
    recorder.on_request(response_time=0.2, exception=ConnectionRefusedError(111), response=None)
    recorder.on_request(response_time=9.0, exception=RuntimeError("502"), response=_Response(502))
    recorder.on_request(response_time=4.0, response=_Response(200))
    now[0] = 2001.0
    recorder.close()
    errors = (tmp_path / "errors" / "h-2.csv").read_text().splitlines()
    assert errors == ["ts,kind,status,count", "2000,connection,0,2", "2000,http,502,1"]
    latency = (tmp_path / "latency" / "h-2.csv").read_text().splitlines()
    assert latency == ["ts,ok,ms,count", "2000,0,1,2", "2000,0,9,1", "2000,1,4,1"]
