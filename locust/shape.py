"""The load's shape: the seed's steps (+users_step users every step_duration seconds up to users),
or a search probe's hold (ramp to users in ramp_s, then one held step); the schedule is steps.py's."""
import time

from locust import LoadTestShape

from steps import load_at, schedule, spawn_rate


class StepLoadShape(LoadTestShape):
    """Steps taken from the rightsize command-line options; each step start is reported."""

    on_step = None  # set by the locustfile: callable(step_number, users, start_ts, planned_end_ts)

    def __init__(self):
        super().__init__()
        self._current = None

    def tick(self):
        options = self.runner.environment.parsed_options
        steps = schedule(options.rs_shape, options.rs_users, options.rs_users_step, options.rs_step_duration,
                         options.rs_ramp_s, options.rs_hold_s, options.rs_warmup_s)
        run_time = self.get_run_time()
        found = load_at(run_time, steps)
        if found is None:
            return None
        index, users = found
        if index is not None and index != self._current:
            self._current = index
            _, step_start, step_end = steps[index]
            start = time.time() - (run_time - step_start)
            if self.on_step:
                self.on_step(index + 1, users, start, start + step_end - step_start)
        return users, spawn_rate(options.rs_shape, users, options.rs_users_step, options.rs_spawn_s,
                                 options.rs_ramp_s)
