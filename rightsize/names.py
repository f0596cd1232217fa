"""Variant names and docker sizes: one function builds a name, one parses it.

A variant is named c<cpu>-m<MiB rounded up>M-r<replicas> (c0.5-m512M-r1) by the playbooks (its
results folder, its compose project) and read back by the report and the search planner.
"""
import math
import re

MIB = 1024 * 1024
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_UNIT = {"": 1, "b": 1, "k": 1024, "m": MIB, "g": 1024 * MIB, "t": 1024 * 1024 * MIB}
VARIANT_NAME = re.compile(r"^c(?P<cpu>[0-9]+(?:\.[0-9]+)?)-m(?P<mem>[0-9]+)M-r(?P<replicas>[0-9]+)$")


def docker_bytes(size):
    """Bytes of a docker memory size (512M, 1g, 1.5G, 268435456); ValueError when it is not one."""
    match = _SIZE.match(str(size))
    if not match:
        raise ValueError(f"{size!r} is not a docker memory size (e.g. 256M, 1G, 1.5g)")
    number, unit = match.groups()
    value = int(math.ceil(float(number) * _UNIT[unit.lower()]))
    if value <= 0:
        raise ValueError(f"{size!r} is not a positive memory size")
    return value


def cpu_text(cpu):
    """The shortest decimal of a CPU count: 0.25, 0.5, 1, 2."""
    value = float(cpu)
    return f"{value:.6f}".rstrip("0").rstrip(".")


def variant_name(cpu, mem, replicas):
    """c<cpu>-m<MiB rounded up>M-r<replicas>: one name per variant however it was spelt."""
    mib = int(math.ceil(docker_bytes(mem) / MIB))
    return f"c{cpu_text(cpu)}-m{mib}M-r{int(replicas)}"


def parse_variant_name(name):
    """cpu, mem, mem_bytes and replicas of a variant name; None when the name is not one."""
    match = VARIANT_NAME.match(str(name))
    if not match:
        return None
    mem_mib = int(match["mem"])
    return {"cpu": float(match["cpu"]), "mem": f"{mem_mib}M", "mem_bytes": mem_mib * MIB,
            "replicas": int(match["replicas"])}


def compose_project(name):
    """A compose project name for a variant (lowercase, no dots)."""
    return "rightsize-" + name.lower().replace(".", "_")
