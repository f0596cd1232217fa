"""The seed's step load: +users_step users every step_duration seconds up to users, then stop."""
import time

from locust import LoadTestShape

from steps import step_at, step_users


class StepLoadShape(LoadTestShape):
    """Steps taken from the rightsize command-line options; each step start is reported."""

    on_step = None  # set by the locustfile: callable(step_number, users, start_ts, planned_end_ts)

    def __init__(self):
        super().__init__()
        self._current = None

    def tick(self):
        options = self.runner.environment.parsed_options
        counts = step_users(options.rs_users, options.rs_users_step)
        run_time = self.get_run_time()
        found = step_at(run_time, counts, options.rs_step_duration)
        if found is None:
            return None
        index, users = found
        if index != self._current:
            self._current = index
            start = time.time() - (run_time - index * options.rs_step_duration)
            if self.on_step:
                self.on_step(index + 1, users, start, start + options.rs_step_duration)
        spawn_rate = max(options.rs_users_step / max(options.rs_spawn_s, 0.1), 1.0)
        return users, spawn_rate
