"""The api_payloads file (JSON lines, one request body each): its check, its record, the probe body."""
import hashlib
import json
import os

from rightsize.names import MIB

PAYLOADS_MAX_BYTES = 64 * MIB


def payload_errors(path, max_bytes=PAYLOADS_MAX_BYTES):
    """Problems with an api_payloads file (JSON lines), naming the file and the first bad line."""
    if not path:
        return []
    if not os.path.isfile(path):
        return [f"api_payloads={path}: no such file on the controller"]
    size = os.path.getsize(path)
    if size > max_bytes:
        return [f"api_payloads={path}: {size} bytes, above the {max_bytes} byte limit (Locust loads it whole)"]
    lines = 0
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                json.loads(line)
            except json.JSONDecodeError as error:
                return [f"api_payloads={path}: line {number} is not a JSON value ({error.msg})"]
            lines += 1
    if lines == 0:
        return [f"api_payloads={path}: the file holds no request body (one JSON value per line)"]
    return []


def payload_info(path):
    """What a run records of its payloads file: name, body count and sha256."""
    if not path:
        return {"name": None, "lines": None, "sha256": None, "source": "generated Covertype rows"}
    with open(path, "rb") as handle:
        data = handle.read()
    lines = sum(1 for line in data.splitlines() if line.strip())
    return {"name": os.path.basename(path), "lines": lines, "sha256": hashlib.sha256(data).hexdigest(),
            "source": os.path.abspath(path)}


def probe_body(path):
    """The body sent once before the load: the file's first line, or a typical Covertype row."""
    if path:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    return json.loads(line)
    return {"elevation": 2500, "aspect": 180, "slope": 15, "horizontal_distance_to_hydrology": 200,
            "vertical_distance_to_hydrology": 50, "horizontal_distance_to_roadways": 1000,
            "hillshade_9am": 200, "hillshade_noon": 230, "hillshade_3pm": 150,
            "horizontal_distance_to_fire_points": 800, "wilderness_area": 1, "soil_type": 10}
