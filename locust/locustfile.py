"""rightsize load: users posting request bodies to the model service, in steps.

Run by the `loadtest` role as one master and several workers (see README). Every process takes its
identity from the environment (RIGHTSIZE_OUT: the variant's folder on this host, RIGHTSIZE_HOST: the
inventory name), because Locust forwards the master's command-line options to its workers.
"""
import json
import os
import random
import select
import time

import gevent
from gevent import monkey
from geventhttpclient.connectionpool import ConnectionPool
from locust import FastHttpUser, __version__ as LOCUST_VERSION, events, task
from locust.runners import MasterRunner, WorkerRunner

from payloads import PayloadSource, encode_body, generated_bodies, load_payloads
from recorder import LatencyRecorder
from shape import StepLoadShape  # noqa: F401  (Locust picks the shape class up from this module)

OUT = os.environ.get("RIGHTSIZE_OUT", os.path.join(os.getcwd(), "rightsize-out"))
HOST = os.environ.get("RIGHTSIZE_HOST") or os.uname().nodename
PAYLOADS = os.environ.get("RIGHTSIZE_PAYLOADS", "")
# encoded once: every user posts these bytes in turn (docs/generator.md: a worker's CPU per request);
# without a payloads file, GENERATED_BODIES random valid rows drawn once per worker process
GENERATED_BODIES = 8192
_BODIES = ([encode_body(body) for body in load_payloads(PAYLOADS)] if PAYLOADS
           else generated_bodies(GENERATED_BODIES, seed=os.getpid()))
# the headers Locust's `json=` sets, so the service sees the requests it saw when bodies were dicts
_JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


@events.init_command_line_parser.add_listener
def _add_arguments(parser):
    group = parser.add_argument_group("rightsize")
    group.add_argument("--rs-users", type=int, default=500, help="users of the last step")
    group.add_argument("--rs-users-step", type=int, default=500, help="users added each step")
    group.add_argument("--rs-step-duration", type=float, default=60, help="seconds per step")
    group.add_argument("--rs-spawn-s", type=float, default=5, help="seconds to spawn a step's users")
    group.add_argument("--rs-wait-min", type=float, default=1, help="seconds between requests, low")
    group.add_argument("--rs-wait-max", type=float, default=3, help="seconds between requests, high")
    group.add_argument("--rs-predict-path", default="/predict", help="path the bodies are posted to")
    # a search probe's shape (steps.py, docs/search.md): ramp climbs the steps above; hold ramps to
    # --rs-users in --rs-ramp-s, then holds one step of --rs-warmup-s + --rs-hold-s
    group.add_argument("--rs-shape", choices=("ramp", "hold"), default="ramp", help="climb the steps or hold")
    group.add_argument("--rs-ramp-s", type=float, default=30, help="hold: seconds to start every user")
    group.add_argument("--rs-hold-s", type=float, default=60, help="hold: seconds measured after the warm-up")
    group.add_argument("--rs-warmup-s", type=float, default=0, help="hold: the report's warm-up of the held step")


_POLL = monkey.get_original("select", "poll")


def _socket_alive(_pool, sock) -> bool:
    """Whether a pooled keep-alive socket can take the next request: not readable while idle (a FIN
    or stray bytes), asked with poll(2). geventhttpclient asks select(2), which refuses descriptors
    >= 1024: past ~1,000 users in a worker every request found its socket "dead", closed it and
    opened a new one (a DNS lookup in gevent's thread pool, a TCP handshake on both sides) for
    every request (docs/generator.md measures the locustfile before and after)."""
    try:
        fd = sock.fileno()
        if fd < 0:
            return False
        poller = _POLL()
        poller.register(fd, select.POLLIN | select.POLLPRI)
        return not poller.poll(0)  # POLLHUP and POLLERR are reported too: not alive
    except (AttributeError, OSError, ValueError):
        return False


if hasattr(ConnectionPool, "_is_socket_alive"):  # geventhttpclient 2.6 (under Locust 2.47) has it
    ConnectionPool._is_socket_alive = _socket_alive


def _options(environment):
    return environment.parsed_options


class ModelUser(FastHttpUser):
    """A client of the model service: posts one body, waits between(wait_min, wait_max), repeats.

    The per-request path is kept short (docs/generator.md): the think time is Locust's between()
    drawn from values read once, the body comes encoded, the options are read in on_start."""

    def on_start(self):
        options = _options(self.environment)
        self._wait_min = options.rs_wait_min
        self._wait_span = options.rs_wait_max - options.rs_wait_min
        self._path = options.rs_predict_path
        self.bodies = PayloadSource(_BODIES)
        # a prediction service keeps no session: no cookie jar to consult and fill on every request
        # (http.cookiejar consulted and filled on every request, in a profile of a worker: docs/generator.md)
        self.client.client.cookiejar = None

    def wait_time(self):
        return self._wait_min + random.random() * self._wait_span  # between(min, max)'s own draw

    @task
    def predict(self):
        self.client.post(self._path, data=self.bodies.next_bytes(), headers=_JSON_HEADERS, name="predict")


def _write_pid(role):
    pids = os.path.join(OUT, "pids")
    os.makedirs(pids, exist_ok=True)
    with open(os.path.join(pids, f"{role}-{os.getpid()}.pid"), "w", encoding="ascii") as handle:
        handle.write(f"{os.getpid()}\n")


def _every_second(action):
    def loop():
        while True:
            gevent.sleep(1.0)
            action()

    return gevent.spawn(loop)


@events.init.add_listener
def _on_init(environment, **_kwargs):
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        _write_pid("worker")
        recorder = LatencyRecorder(os.path.join(OUT, "latency", f"{HOST}-{os.getpid()}.csv"))
        environment.events.request.add_listener(recorder.on_request)
        _every_second(recorder.flush)
        environment.events.quitting.add_listener(lambda **_: recorder.close())
    elif isinstance(runner, MasterRunner):
        _write_pid("master")
        _MasterLog(environment)


class _MasterLog:
    """The master's own records: step starts, connected workers each second, and how it ended."""

    def __init__(self, environment):
        self.environment = environment
        self.seen = set()
        self.min_workers = None
        os.makedirs(OUT, exist_ok=True)
        self.steps = open(os.path.join(OUT, "steps.csv"), "a", encoding="ascii")
        if self.steps.tell() == 0:
            self.steps.write("step,users,start_ts,planned_end_ts\n")
        self.workers = open(os.path.join(OUT, "master_workers.csv"), "a", encoding="ascii")
        if self.workers.tell() == 0:
            self.workers.write("ts,workers\n")
        StepLoadShape.on_step = self.on_step
        environment.events.worker_connect.add_listener(self.on_connect)
        environment.events.test_start.add_listener(self.on_start)
        environment.events.test_stopping.add_listener(self.on_stopping)
        environment.events.quitting.add_listener(self.on_quit)
        self.running = False
        self.sampler = _every_second(self.sample)

    def on_step(self, step, users, start_ts, planned_end_ts):
        self.steps.write(f"{step},{users},{start_ts:.3f},{planned_end_ts:.3f}\n")
        self.steps.flush()

    def on_connect(self, client_id, **_kwargs):
        self.seen.add(client_id)
        self.write_status(final=False)

    def on_start(self, **_kwargs):
        self.running = True

    def on_stopping(self, **_kwargs):
        self.running = False  # workers leaving after the last step are not lost

    def sample(self):
        count = self.environment.runner.worker_count
        self.workers.write(f"{time.time():.3f},{count}\n")
        self.workers.flush()
        if self.running:
            self.min_workers = count if self.min_workers is None else min(self.min_workers, count)

    def write_status(self, final):
        options = self.environment.parsed_options
        status = {
            "end_ts": time.time() if final else None,
            "exit_code": self.environment.process_exit_code if final else None,
            "expected_workers": getattr(options, "expect_workers", None),
            "min_workers": self.min_workers,
            "workers_seen": sorted(self.seen),
            "hosts_seen": sorted({client.rsplit("_", 1)[0] for client in self.seen}),
            "locust_version": LOCUST_VERSION,
        }
        with open(os.path.join(OUT, "master.json"), "w", encoding="ascii") as handle:
            json.dump(status, handle, indent=1)

    def on_quit(self, **_kwargs):
        expected = getattr(self.environment.parsed_options, "expect_workers", None)
        if expected and self.min_workers is not None and self.min_workers < expected:
            # a worker lost midway: its share of the load was missing, the run cannot be trusted
            self.environment.process_exit_code = 3
        self.sampler.kill()  # no sample into the closed file
        self.write_status(final=True)
        self.steps.close()
        self.workers.close()
