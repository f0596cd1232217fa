"""Request bodies: random valid Covertype rows, or lines of a JSON-lines file (api_payloads)."""
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


def random_row(rng: random.Random) -> dict:
    """One valid Covertype row: every field an integer inside its physical range."""
    return {field: rng.randint(low, high) for field, (low, high) in COVERTYPE_RANGES.items()}


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

    Users start at different offsets, so together they spread evenly over the file.
    """

    def __init__(self, bodies=None, seed=None):
        self._rng = random.Random(seed)
        self._bodies = bodies
        self._next = self._rng.randrange(len(bodies)) if bodies else 0

    def next(self):
        if not self._bodies:
            return random_row(self._rng)
        body = self._bodies[self._next]
        self._next = (self._next + 1) % len(self._bodies)
        return body
