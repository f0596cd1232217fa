"""The load path's capacity per hop (rightsize.loadpath): what preflight refuses and why."""
import pytest

from rightsize import loadpath

LOCAL_GROUPS = {"target": ["localhost"], "loadgen": ["localhost"]}


def local_hostvars(nofile="20000", conntrack="262144", cores=2):
    return {"localhost": {"ansible_facts": {"processor_vcpus": cores}, "preflight_nofile_hard": nofile,
                          "preflight_port_range": "32768\t60999", "preflight_conntrack_max": conntrack}}


def by_hop(path):
    return {h["hop"]: h for h in path["hops"]}


def test_local_default_avoids_docker_proxy_and_carries_ten_thousand_users():
    [path] = loadpath.from_hostvars(LOCAL_GROUPS, local_hostvars(), layouts=[{"replicas": 1, "balancer": False}],
                                    userland_proxy="auto", nofile=20000, workers_per_host=0)
    hops = by_hop(path)
    assert "publish" not in hops and hops["conntrack"]["capacity"] == 262144
    assert hops["generator"]["capacity"] == 2 * (20000 - 64)
    assert hops["client ports"]["capacity"] == 60999 - 32768 + 1
    assert hops["service"]["capacity"] == 20000 - 64
    assert loadpath.layout_errors(10000, [path]) == []


def test_docker_proxy_on_a_local_loadgen_refuses_past_its_open_files():
    """The defect of issue 17: docker-proxy's 6 files per connection under dockerd's 20,000."""
    [path] = loadpath.from_hostvars(LOCAL_GROUPS, local_hostvars(), layouts=[{"replicas": 1, "balancer": False}],
                                    userland_proxy="true", nofile=20000, workers_per_host=0)
    assert by_hop(path)["publish"]["capacity"] == (20000 - 64) // 6 == 3322
    assert loadpath.layout_errors(3000, [path]) == []
    [message] = loadpath.layout_errors(3500, [path])
    assert "publish hop carries about 3322" in message and "userland-proxy" in message and "users=3500" in message


def test_remote_loadgen_goes_through_nat_whatever_the_proxy_setting():
    groups = {"target": ["box"], "loadgen": ["lg1", "lg2"]}
    hostvars = {"box": {"ansible_facts": {"processor_vcpus": 2}, "preflight_nofile_hard": "1048576",
                        "preflight_conntrack_max": None},
                "lg1": {"ansible_facts": {"processor_vcpus": 2}, "preflight_nofile_hard": "unlimited"},
                "lg2": {"ansible_facts": {"processor_vcpus": 2}, "preflight_nofile_hard": "4096"}}
    [path] = loadpath.from_hostvars(groups, hostvars, layouts=[{"replicas": 1, "balancer": False}],
                                    userland_proxy="true", nofile=65536, workers_per_host=2)
    hops = by_hop(path)
    assert "publish" not in hops and hops["conntrack"]["capacity"] is None  # unknown: not judged
    assert hops["generator"]["capacity"] == 2 * (4096 - 64)  # the unlimited host adds no bound
    assert "client ports" not in hops


def test_balancer_hop_counts_two_connections_per_client_and_every_worker():
    [one, two] = loadpath.from_hostvars(
        LOCAL_GROUPS, local_hostvars(), layouts=[{"replicas": 1, "balancer": False}, {"replicas": 2, "balancer": True},
                                                 {"replicas": 2, "balancer": True}],
        userland_proxy="auto", nofile=20000, workers_per_host=0)
    assert "balancer" not in by_hop(one)
    balancer = by_hop(two)["balancer"]
    assert balancer["capacity"] == 2 * (20000 - 256) // 2
    assert loadpath.nginx_worker_connections(20000) == 19744
    assert loadpath.layout_errors(10000, [two]) == []
    [small] = loadpath.from_hostvars(LOCAL_GROUPS, local_hostvars(), layouts=[{"replicas": 3, "balancer": True}],
                                     userland_proxy="auto", nofile=4096, workers_per_host=0)
    [message] = loadpath.layout_errors(5000, [small])  # 3 x 4,032 service files are enough
    assert message.startswith("3 replica(s) behind nginx: the load path's balancer hop carries about 3840")


@pytest.mark.parametrize("setting, hard, expected", [
    ("auto", "20000", 20000), ("auto", "1048576", 65536), ("auto", "unlimited", 65536), ("8192", "20000", 8192),
])
def test_container_nofile(setting, hard, expected):
    assert loadpath.container_nofile(setting, hard) == expected


def test_plan_line_names_the_narrowest_hop():
    paths = loadpath.from_hostvars(LOCAL_GROUPS, local_hostvars(conntrack="5000"),
                                   layouts=[{"replicas": 1, "balancer": False}], userland_proxy="auto",
                                   nofile=20000, workers_per_host=0)
    assert loadpath.summary_line(4500, paths) == \
        "load path for 4500 users: 1 replica(s): narrowest hop conntrack ~5000 connections"
