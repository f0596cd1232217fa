"""Request bodies: random valid Covertype rows, or lines of a JSON-lines file (api_payloads).

Bodies are handed out as encoded JSON (bytes, posted with `data=`): a file's lines are encoded once
when loaded, generated rows are written straight into a byte template, a pool of them drawn once per
worker. Nothing is encoded or drawn per request (a worker's CPU per request: docs/generator.md).
"""
import json
import random

# The seed's 12 fields with physically plausible ranges (Covertype: 30 m cells in Roosevelt NF).
COVERTYPE_RANGES = {
    "elevation": (1850, 3900),
    "aspect": (0, 360),
    "slope": (0, 66),
    "horizontal_distance_to_hydrology": (0, 1400),
    "vertical_distance_to_hydrology": (-170, 600),
    "horizontal_distance_to_roadways": (0, 7100),
    "hillshade_9am": (0, 255),
    "hillshade_noon": (0, 255),
    "hillshade_3pm": (0, 255),
    "horizontal_distance_to_fire_points": (0, 7200),
    "wilderness_area": (0, 3),
    "soil_type": (0, 39),
}


_LOWS = tuple(low for low, _ in COVERTYPE_RANGES.values())
_SPANS = tuple(high - low + 1 for low, high in COVERTYPE_RANGES.values())
# json.dumps(row) with its %d placeholders: the bytes `json=` would have sent for that row
_TEMPLATE = json.dumps({field: 0 for field in COVERTYPE_RANGES}).replace(": 0", ": %d").encode("ascii")


def _draw(rng: random.Random) -> tuple:
    rand = rng.random  # uniform over [low, high], as randint but without its per-call overhead
    return tuple(low + int(rand() * span) for low, span in zip(_LOWS, _SPANS))


def random_row(rng: random.Random) -> dict:
    """One valid Covertype row: every field an integer inside its physical range."""
    return dict(zip(COVERTYPE_RANGES, _draw(rng)))


def random_body(rng: random.Random) -> bytes:
    """random_row(rng) as the JSON bytes json.dumps would give, without building the dict."""
    return _TEMPLATE % _draw(rng)


def generated_bodies(count: int, seed=None) -> list:
    """count fresh random rows, encoded: a worker draws them once at start and its users post them
    in turn (no row drawn per request: docs/generator.md)."""
    rng = random.Random(seed)
    return [random_body(rng) for _ in range(count)]


def encode_body(body) -> bytes:
    """A request body as posted: json.dumps(body), UTF-8 (what Locust's `json=` sends)."""
    return json.dumps(body).encode("utf-8")


def load_payloads(path: str) -> list:
    """The request bodies of a JSON-lines file, one JSON value per non-empty line."""
    bodies = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                bodies.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not a JSON value ({error.msg})") from None
    if not bodies:
        raise ValueError(f"{path}: no request bodies")
    return bodies


class PayloadSource:
    """Bodies for one user: the file's lines in turn from a random start, or fresh random rows.

    Users start at different offsets, so together they spread evenly over the file. next() gives
    the body itself; next_bytes() the same sequence encoded (bodies given as bytes are used as they
    are: encode a file's bodies once, with encode_body, and share the list among users).
    """

    def __init__(self, bodies=None, seed=None):
        self._rng = random.Random(seed)
        self._bodies = bodies
        self._next = self._rng.randrange(len(bodies)) if bodies else 0

    def next(self):
        if not self._bodies:
            return random_row(self._rng)
        return self._take()

    def next_bytes(self) -> bytes:
        if not self._bodies:
            return random_body(self._rng)
        body = self._take()
        return body if isinstance(body, bytes) else encode_body(body)

    def _take(self):
        body = self._bodies[self._next]
        self._next = (self._next + 1) % len(self._bodies)
        return body
