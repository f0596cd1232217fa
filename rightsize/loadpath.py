"""How many concurrent connections the load path carries, hop by hop (docs/load-path.md).

Every Locust user holds one keep-alive connection. Between a Locust worker and the model each
connection passes through hops with their own limits, and the smallest decides how many users a
run can send before the harness, not the service, starts refusing them:

- generator: each worker holds its users' sockets under its open-file limit;
- client ports: a loadgen host has `ip_local_port_range` source ports towards one address:port;
- publish: on the target, a published port reached from the same host is carried by docker-proxy
  (6 open files per connection, under dockerd's open-file limit) unless the engine runs with
  `"userland-proxy": false`, when the kernel NATs it; NAT (and traffic from other hosts) takes
  one conntrack entry per connection;
- balancer: nginx in front of replicas holds a client connection and, while a request is in
  flight, an upstream one: `worker_connections` per worker, under `worker_rlimit_nofile`;
- service: without nginx, every connection ends in the API container, under its `ulimits`.

Pure functions: preflight gathers the host figures and the report shows the result.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

DOCKER_PROXY_FILES_PER_CONNECTION = 6  # two sockets, two splice pipes (measured, see docs)
RESERVED_FILES = 64                    # files a process needs besides its connections
NGINX_RESERVED_CONNECTIONS = 256       # worker_connections kept out of the client share


@dataclass(frozen=True)
class Hop:
    hop: str            # generator, client ports, publish, conntrack, balancer, service
    capacity: int | None  # concurrent connections it carries; None: not known (not judged)
    setting: str        # the setting that sets the capacity
    detail: str         # how the figure was reached

    def as_dict(self) -> dict:
        return asdict(self)


def nginx_worker_connections(nofile: int) -> int:
    """worker_connections for a container open-file limit: all but what nginx keeps for itself."""
    return max(512, int(nofile) - NGINX_RESERVED_CONNECTIONS)


def _limit(value) -> int | None:
    """An open-file or table limit as read on a host ('unlimited', '', None: not a bound)."""
    if value is None:
        return None
    text = str(value).strip()
    if text in ("", "unlimited", "infinity"):
        return None
    return int(text)


def port_range_size(text) -> int | None:
    """Source ports of `/proc/sys/net/ipv4/ip_local_port_range` ('32768\\t60999')."""
    if text is None or not str(text).split():
        return None
    low, high = (int(x) for x in str(text).split()[:2])
    return high - low + 1


def hops(*, loadgen: dict[str, dict], target: dict, local: bool, userland_proxy: bool, balancer: bool,
         replicas: int, nofile: int) -> list[Hop]:
    """The hops of one run's load path with their capacities.

    loadgen: {host: {"workers": n, "nofile": hard limit, "port_range": ip_local_port_range text}};
    target: {"cores": n, "nofile": the engine's hard open-file limit, "conntrack_max": text or None};
    local: a loadgen host is the target (loopback traffic); userland_proxy: the engine's setting there;
    balancer: nginx in front; nofile: the open-file limit given to the API and nginx containers.
    """
    out = []
    per_worker, ports = [], []
    for host, facts in sorted(loadgen.items()):
        limit = _limit(facts.get("nofile"))
        workers = max(1, int(facts.get("workers") or 1))
        if limit is not None:
            per_worker.append((host, workers, workers * max(0, limit - RESERVED_FILES)))
        size = port_range_size(facts.get("port_range"))
        if size is not None:
            ports.append((host, size))
    if per_worker:
        total = sum(c for _, _, c in per_worker)
        shown = ", ".join(f"{h}: {w} worker(s) x (nofile - {RESERVED_FILES})" for h, w, _ in per_worker)
        out.append(Hop("generator", total, "open-file hard limit of the loadgen hosts (ulimit -Hn)", shown))
    if ports:
        total = sum(size for _, size in ports)
        out.append(Hop("client ports", total, "net.ipv4.ip_local_port_range on the loadgen hosts",
                       ", ".join(f"{h}: {s} source ports to the entry address" for h, s in ports)))
    engine_nofile = _limit(target.get("nofile"))
    if local and userland_proxy:
        capacity = None if engine_nofile is None else \
            (engine_nofile - RESERVED_FILES) // DOCKER_PROXY_FILES_PER_CONNECTION
        out.append(Hop("publish", capacity, 'docker-proxy (the engine\'s "userland-proxy": true) under '
                       "dockerd's open-file limit",
                       f"({engine_nofile} - {RESERVED_FILES}) / {DOCKER_PROXY_FILES_PER_CONNECTION} "
                       "open files per proxied connection"))
    else:
        conntrack = _limit(target.get("conntrack_max"))
        out.append(Hop("conntrack", conntrack, "net.netfilter.nf_conntrack_max on the target",
                       "one NAT entry per connection to the published port"))
    if balancer:
        workers = max(1, int(target.get("cores") or 1))
        per = nginx_worker_connections(nofile)
        out.append(Hop("balancer", workers * per // 2, "nginx worker_connections (from api_nofile)",
                       f"{workers} worker(s) x {per} worker_connections / 2 (a client and an upstream "
                       "connection per request in flight); listen reuseport spreads clients evenly"))
        out.append(Hop("service", replicas * max(0, nofile - RESERVED_FILES), "api_nofile (container ulimits)",
                       f"{replicas} replica(s) x ({nofile} - {RESERVED_FILES}); nginx reuses upstream "
                       "connections, so the replicas see far fewer"))
    else:
        out.append(Hop("service", max(0, nofile - RESERVED_FILES), "api_nofile (container ulimits)",
                       f"every connection ends in the one API container: {nofile} - {RESERVED_FILES}"))
    return out


def narrowest(path: list[Hop]) -> Hop | None:
    known = [h for h in path if h.capacity is not None]
    return min(known, key=lambda h: h.capacity) if known else None


def errors(users: int, path: list[Hop]) -> list[str]:
    """One message per hop that cannot carry `users` concurrent connections."""
    return [f"the load path's {h.hop} hop carries about {h.capacity} concurrent connections, fewer than "
            f"users={users} ({h.setting}: {h.detail}); lower users or widen that hop (docs/load-path.md)"
            for h in path if h.capacity is not None and h.capacity < users]


def from_hostvars(groups: dict, hostvars: dict, *, layouts: list[dict], userland_proxy, nofile: int,
                  workers_per_host: int) -> list[dict]:
    """The load path of each distinct layout ({"replicas", "balancer"}) of a run, from the facts
    preflight gathered on every host (preflight_nofile_hard, preflight_port_range,
    preflight_conntrack_max, ansible_facts.processor_vcpus): [{"replicas", "balancer", "hops"}]."""
    target_name = groups["target"][0]
    target_vars = hostvars[target_name]
    local = target_name in groups.get("loadgen", [])
    wanted = str(userland_proxy).strip().lower()
    proxy = (not local) if wanted == "auto" else wanted in ("true", "yes", "1")
    loadgen = {}
    for host in groups.get("loadgen", []):
        facts = hostvars[host]
        cores = int((facts.get("ansible_facts") or {}).get("processor_vcpus") or 1)
        loadgen[host] = {"workers": int(workers_per_host) if int(workers_per_host) > 0 else cores,
                         "nofile": facts.get("preflight_nofile_hard"),
                         "port_range": facts.get("preflight_port_range")}
    target = {"cores": int((target_vars.get("ansible_facts") or {}).get("processor_vcpus") or 1),
              "nofile": target_vars.get("preflight_nofile_hard"),
              "conntrack_max": target_vars.get("preflight_conntrack_max")}
    out, seen = [], set()
    for layout in layouts:
        key = (int(layout["replicas"]), bool(layout["balancer"]))
        if key in seen:
            continue
        seen.add(key)
        path = hops(loadgen=loadgen, target=target, local=local, userland_proxy=proxy, balancer=key[1],
                    replicas=key[0], nofile=int(nofile))
        out.append({"replicas": key[0], "balancer": key[1], "hops": [h.as_dict() for h in path]})
    return out


def layout_errors(users: int, layouts: list[dict]) -> list[str]:
    """errors() of every layout from from_hostvars, prefixed with the layout when there are several."""
    out = []
    for layout in layouts:
        path = [Hop(**h) for h in layout["hops"]]
        shape = f"{layout['replicas']} replica(s){' behind nginx' if layout['balancer'] else ''}"
        out.extend(f"{shape}: {message}" for message in errors(int(users), path))
    return out


def summary_line(users: int, layouts: list[dict]) -> str:
    """One line for the plan: the narrowest hop of each layout against the users."""
    parts = []
    for layout in layouts:
        hop = narrowest([Hop(**h) for h in layout["hops"]])
        shape = f"{layout['replicas']} replica(s){' + nginx' if layout['balancer'] else ''}"
        parts.append(f"{shape}: narrowest hop {hop.hop} ~{hop.capacity} connections" if hop else
                     f"{shape}: no hop limit known")
    return f"load path for {users} users: " + "; ".join(parts)


NOFILE_AUTO_MAX = 65536  # api_nofile=auto: the target's hard limit, at most this


def container_nofile(setting, host_hard) -> int:
    """The open-file limit the API and nginx containers get (compose `ulimits`): api_nofile, or with
    `auto` the target's hard limit (a container cannot exceed the engine's), at most 65536."""
    if str(setting).strip().lower() != "auto":
        return int(setting)
    hard = _limit(host_hard)
    return NOFILE_AUTO_MAX if hard is None else min(hard, NOFILE_AUTO_MAX)
