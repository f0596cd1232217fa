"""The helpers the loadtest role runs on the hosts, fast: samplers on fake /proc and cgroup trees,
the progress line on a fake variant folder, rs-bg/rs-stop on real (short) processes."""
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

FILES = Path(__file__).resolve().parents[2] / "roles" / "loadtest" / "files"


def helper(name):
    """A script of roles/loadtest/files (they are copied to the hosts, not packaged)."""
    spec = importlib.util.spec_from_file_location(name, FILES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_target_sampler_reads_cgroup_v1_and_v2_trees(tmp_path):
    sampler = helper("target_sampler")
    proc, cg = tmp_path / "proc", tmp_path / "cg"
    write(proc / "mounts", f"cgroup {cg}/cpu cgroup rw,cpu 0 0\ncgroup {cg}/cpuacct cgroup rw,cpuacct 0 0\n"
                           f"cgroup {cg}/memory cgroup rw,memory 0 0\n")
    write(proc / "42" / "cgroup", "4:memory:/docker/abc\n3:cpuacct:/docker/abc\n2:cpu:/docker/abc\n")
    dirs = sampler.cgroup_dirs(42, sampler.cgroup_mounts(str(proc)), str(proc))
    assert dirs == {"cpu": f"{cg}/cpu/docker/abc", "cpuacct": f"{cg}/cpuacct/docker/abc",
                    "memory": f"{cg}/memory/docker/abc", "v2": False}
    write(cg / "cpu/docker/abc/cpu.stat", "nr_periods 10\nnr_throttled 2\nthrottled_time 5000\n")
    write(cg / "cpuacct/docker/abc/cpuacct.usage", "123456789\n")
    write(cg / "memory/docker/abc/memory.usage_in_bytes", "1000\n")
    write(cg / "memory/docker/abc/memory.stat", "total_inactive_file 300\ncache 5\n")
    assert sampler.sample(dirs) == (123456789, 10, 2, 5000, 700)

    write(proc / "mounts", f"cgroup2 {cg}/unified cgroup2 rw 0 0\n")
    write(proc / "43" / "cgroup", "0::/system.slice/docker-def.scope\n")
    dirs = sampler.cgroup_dirs(43, sampler.cgroup_mounts(str(proc)), str(proc))
    folder = f"{cg}/unified/system.slice/docker-def.scope"
    assert dirs == {"cpu": folder, "cpuacct": folder, "memory": folder, "v2": True}
    write(Path(folder) / "cpu.stat", "usage_usec 2000\nnr_periods 4\nnr_throttled 1\nthrottled_usec 7\n")
    write(Path(folder) / "memory.current", "5000\n")
    write(Path(folder) / "memory.stat", "inactive_file 1000\n")
    assert sampler.sample(dirs) == (2000000, 4, 1, 7000, 4000)


def test_loadgen_sampler_reads_host_and_process_times(tmp_path):
    sampler = helper("loadgen_sampler")
    proc = tmp_path / "proc"
    tick = os.sysconf("SC_CLK_TCK")
    write(proc / "stat", f"cpu  {tick * 3} 0 {tick} {tick * 50} {tick} 0 0 0 0 0\ncpu0 1 2 3\n")
    assert sampler.host_busy_seconds(str(proc)) == pytest.approx(4.0)  # user + system, not idle/iowait
    write(proc / "77" / "stat", "77 (locust (x)) S " + " ".join(["0"] * 10) + f" {tick * 2} {tick} 0 0\n")
    assert sampler.process_seconds(77, str(proc)) == pytest.approx(3.0)
    pids = tmp_path / "pids"
    for name in ("worker-12.pid", "master-9.pid", "other-1.pid", "worker-3.txt"):
        write(pids / name, "x")
    assert sampler.locust_pids(str(pids)) == [(9, "master"), (12, "worker")]


def test_progress_line_of_a_finished_step(tmp_path):
    out = tmp_path / "variant"
    write(out / "steps.csv", "step,users,start_ts,planned_end_ts\n1,100,1000.0,1020.0\n2,200,1020.0,1040.0\n")
    history = ["Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,"
               "99.99%,100%,Total Request Count,Total Failure Count"]
    for ts in range(1000, 1042):  # the master's counters step every 3 s, as workers report
        count = (ts - 1000) // 3 * 3 * 50
        history.append(f"{ts},100,,Aggregated,50,0,3,3,3,3,4,7,9,9,9,9,9,{count},{count // 100}")
    write(out / "locust_stats_history.csv", "\n".join(history) + "\n")
    write(out / "loadgen" / "h.csv", "ts,host,pid,role,cpu_s,ncpu\n1010.5,h,5,worker,1.0,2\n1019.5,h,5,worker,2.8,2\n"
                                     "1010.5,h,0,host,9,2\n1019.5,h,0,host,19,2\n")
    write(out / "master_workers.csv", "ts,workers\n1011,2\n1015,1\n")
    run = subprocess.run([sys.executable, str(FILES / "rs_progress.py"), "--out", str(out), "--host", "h",
                          "--step", "1", "--steps", "2", "--expected-workers", "2", "--timeout", "5"],
                         capture_output=True, text=True, check=True)
    figures = json.loads(run.stdout)
    assert figures["users"] == 100 and figures["rps"] == pytest.approx(50.0, rel=0.05)
    assert figures["p95_ms"] == 7.0 and figures["failure_pct"] == pytest.approx(1.0, rel=0.2)
    assert figures["generator_cpu_pct"] == pytest.approx(20.0, rel=0.01)
    assert figures["valid"] is False and "1 of 2 workers" in figures["line"]
    write(out / "bg" / "master.pid.rc", "0\n")
    run = subprocess.run([sys.executable, str(FILES / "rs_progress.py"), "--out", str(out), "--host", "h",
                          "--step", "3", "--steps", "3", "--timeout", "5"], capture_output=True, text=True, check=True)
    assert json.loads(run.stdout)["line"] == "step 3/3: not run (the load ended before it)"


def test_rs_bg_runs_under_a_deadline_and_rs_stop_ends_the_group(tmp_path):
    pidfile, log = tmp_path / "x.pid", tmp_path / "x.log"
    started = subprocess.run([str(FILES / "rs-bg"), str(pidfile), str(log), "30", "sh", "-c", "echo hi; sleep 30"],
                             capture_output=True, text=True, check=True)
    leader = int(started.stdout)
    assert int(pidfile.read_text()) == leader
    time.sleep(0.3)
    assert log.read_text() == "hi\n"
    stopped = subprocess.run([str(FILES / "rs-stop"), str(pidfile)], capture_output=True, text=True, check=True)
    assert stopped.stdout.strip() == f"stopped {leader}" and not pidfile.exists()
    deadline = time.time() + 5
    while time.time() < deadline and not Path(f"{pidfile}.rc").exists():
        time.sleep(0.05)
    assert Path(f"{pidfile}.rc").read_text().strip() not in ("", "0")  # ended by TERM, not by itself
    # a deadline stops the command by itself; rs-stop on a finished or foreign PID does nothing
    quick = tmp_path / "q.pid"
    subprocess.run([str(FILES / "rs-bg"), str(quick), str(tmp_path / "q.log"), "1", "sleep", "20"],
                   capture_output=True, check=True)
    deadline = time.time() + 8
    while time.time() < deadline and not Path(f"{quick}.rc").exists():
        time.sleep(0.1)
    assert Path(f"{quick}.rc").read_text().strip() == "124"  # timeout's exit code
    write(tmp_path / "foreign.pid", f"{os.getpid()}\n")
    assert subprocess.run([str(FILES / "rs-stop"), str(tmp_path / "foreign.pid")], capture_output=True,
                          text=True, check=True).stdout == ""
