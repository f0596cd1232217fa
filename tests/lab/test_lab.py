"""The lab itself: separate hosts with their own hostname and files, reachable over real SSH."""

import os
import uuid

import pytest

pytestmark = pytest.mark.lab


def _need_two(lab):
    if len(lab.hosts) < 2:
        pytest.skip("needs RIGHTSIZE_LAB_HOSTS >= 2")


def test_hostnames_are_the_namespace_names_and_distinct(lab):
    names = [lab.ssh(h, "hostname").stdout.strip() for h in lab.hosts]
    assert names == [h.name for h in lab.hosts]
    assert len(set(names)) == len(names)


def test_opt_is_private_per_host(lab):
    _need_two(lab)
    first, second = lab.hosts[0], lab.hosts[1]
    path = f"/opt/rightsize-lab-probe-{uuid.uuid4().hex}"
    lab.ssh(first, f"echo {first.name} > {path}")
    try:
        assert lab.ssh(first, f"cat {path}").stdout.strip() == first.name
        assert lab.ssh(second, f"test -e {path}", check=False).returncode == 1, "file leaked to the 2nd host"
        assert not os.path.exists(path), "file leaked to the box (target)"
    finally:
        lab.ssh(first, f"rm -f {path}", check=False)


def test_hosts_reach_each_other(lab):
    # bridged host-to-host traffic: dropped by Docker's FORWARD policy without the lab's rule
    _need_two(lab)
    first = lab.hosts[0]
    for other in lab.hosts[1:]:
        r = lab.ssh(first, f"timeout 5 bash -c 'exec 3<>/dev/tcp/{other.addr}/22'", check=False)
        assert r.returncode == 0, f"{first.name} cannot reach {other.name}:22: {r.stderr}"


def test_hosts_resolve_each_other_and_the_target(lab):
    first = lab.hosts[0]
    out = lab.ssh(first, "getent hosts lab-target " + " ".join(h.name for h in lab.hosts)).stdout
    assert lab.target_addr in out
    for h in lab.hosts:
        assert h.addr in out


def test_inventory_lists_target_and_loadgen(lab):
    yaml = pytest.importorskip("yaml")
    inv = yaml.safe_load(lab.inventory.read_text())["all"]["children"]
    target = inv["target"]["hosts"]["lab-target"]
    assert target["ansible_connection"] == "local"
    assert target["ansible_python_interpreter"] == "/usr/bin/python3"
    loadgen = inv["loadgen"]["hosts"]
    assert list(loadgen) == [h.name for h in lab.hosts]
    for h in lab.hosts:
        assert loadgen[h.name]["ansible_host"] == h.addr
        assert loadgen[h.name]["ansible_user"] == "root"
