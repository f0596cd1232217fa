"""An emulated arm64 build of api/ (the seed's image runs on amd64 and arm64). It runs only where a
qemu-aarch64 binfmt handler is registered and an arm64 python base image is present; the tests never
register a handler (that changes the host for every process) and never fetch a base."""
import json
import os
import subprocess
from pathlib import Path

import pytest

from playbooks_kit import ROOT

pytestmark = pytest.mark.integration

HANDLER = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
BASE = os.environ.get("RIGHTSIZE_ARM64_BASE_IMAGE", "local/python:3.11-slim-arm64")
IMAGE = "rightsize/test-arm64-api:latest"


def arm64_base_missing():
    if not HANDLER.exists() or "enabled" not in HANDLER.read_text(errors="ignore"):
        return f"no qemu-aarch64 binfmt handler ({HANDLER} absent or disabled); tests never register one"
    inspected = subprocess.run(["docker", "image", "inspect", BASE], capture_output=True, text=True)
    if inspected.returncode != 0:
        return f"no arm64 base image {BASE} (set RIGHTSIZE_ARM64_BASE_IMAGE to an arm64 python image)"
    if json.loads(inspected.stdout)[0].get("Architecture") != "arm64":
        return f"{BASE} is not an arm64 image"
    return ""


def test_api_image_builds_and_runs_for_arm64(docker_ready):
    reason = arm64_base_missing()
    if reason:
        pytest.skip(reason)
    try:
        subprocess.run(["docker", "build", "-q", "--build-arg", f"BASE_IMAGE={BASE}", "-t", IMAGE, str(ROOT / "api")],
                       check=True, capture_output=True, timeout=3600)
        built = json.loads(subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True, text=True,
                                          check=True).stdout)[0]
        assert built["Architecture"] == "arm64"
        machine = subprocess.run(["docker", "run", "--rm", IMAGE, "python", "-c",
                                  "import platform, api.model; print(platform.machine())"],
                                 capture_output=True, text=True, timeout=300)
        assert machine.stdout.strip() == "aarch64", machine.stderr[-2000:]
    finally:
        subprocess.run(["docker", "image", "rm", "-f", IMAGE], capture_output=True)
