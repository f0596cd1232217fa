"""The step schedule, free of Locust imports (importing locust monkey-patches the process).

rightsize/steps.py is the definition; locust/steps.py is its byte-for-byte copy, shipped to the
loadgen hosts beside the locustfile (they do not have the rightsize package); a unit test keeps
the two identical.

A load has one of two shapes (docs/search.md, "Probe shape"):
- ramp: the steps, users_step, 2 x users_step, ... users, each step_duration long, back to back;
- hold: ramp to users in ramp_s, then one held step of warmup_s + hold_s. The report leaves out the
  first warmup_s of every step, so the held step is measured over [ramp end + warmup_s, + hold_s].
Either way the master writes one steps.csv row per step (start and planned end), and the report
cuts every step's window by the same rule.
"""

SHAPES = ("ramp", "hold")


def step_users(users: int, users_step: int) -> list:
    """User count of each step: users_step, 2 x users_step, ... and users itself last."""
    counts = list(range(users_step, users + 1, users_step))
    if not counts or counts[-1] != users:
        counts.append(users)
    return counts


def step_at(run_time: float, counts: list, step_duration: float):
    """(index, users) of the step running at run_time seconds, or None once every step is over."""
    index = int(run_time // step_duration)
    if index >= len(counts):
        return None
    return index, counts[index]


def schedule(shape: str, users: int, users_step: int, step_duration: float, ramp_s: float = 0.0,
             hold_s: float = 0.0, warmup_s: float = 0.0) -> list:
    """The steps of a load as (users, start_s, end_s), seconds from its start.

    ramp: step_users(users, users_step), step_duration each from 0; hold: one step of users from
    ramp_s to ramp_s + warmup_s + hold_s (the users are spawned during [0, ramp_s))."""
    if shape == "hold":
        return [(users, float(ramp_s), float(ramp_s) + warmup_s + hold_s)]
    if shape != "ramp":
        raise ValueError(f"shape {shape!r}: expected one of {', '.join(SHAPES)}")
    return [(count, k * step_duration, (k + 1) * step_duration)
            for k, count in enumerate(step_users(users, users_step))]


def load_seconds(steps: list) -> float:
    """How long a schedule's load lasts: the end of its last step."""
    return steps[-1][2]


def load_at(run_time: float, steps: list):
    """(index of the step running or None while ramping up to the first, users wanted) at run_time
    seconds, or None once the load is over."""
    if run_time >= steps[-1][2]:
        return None
    for index, (users, start, end) in enumerate(steps):
        if start <= run_time < end:
            return index, users
    return None, steps[0][0]


def spawn_rate(shape: str, users: int, users_step: int, spawn_s: float, ramp_s: float) -> float:
    """Users started per second: a step's new users in spawn_s (ramp), or all of them in ramp_s
    (hold); at least one."""
    added, seconds = (users, ramp_s) if shape == "hold" else (users_step, spawn_s)
    return max(added / max(seconds, 0.1), 1.0)


def pick_shape(probe_shape: str, users: int, users_step: int, step_duration: float, ramp_s: float,
               hold_s: float, warmup_s: float) -> str:
    """ramp or hold for a search run: probe_shape itself, or for auto, hold whenever ramping up and
    holding one window is shorter than climbing the steps."""
    if probe_shape in SHAPES:
        return probe_shape
    if probe_shape != "auto":
        raise ValueError(f"probe shape {probe_shape!r}: expected auto, ramp or hold")
    held = load_seconds(schedule("hold", users, users_step, step_duration, ramp_s, hold_s, warmup_s))
    climbed = load_seconds(schedule("ramp", users, users_step, step_duration))
    return "hold" if held < climbed else "ramp"
