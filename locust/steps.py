"""The step schedule, free of Locust imports (importing locust monkey-patches the process).

rightsize/steps.py is the definition; locust/steps.py is its byte-for-byte copy, shipped to the
loadgen hosts beside the locustfile (they do not have the rightsize package); a unit test keeps
the two identical.
"""


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
