"""A real image registry for the tests: Debian's docker-registry (Distribution 2.8) on a loopback
port, htpasswd auth with a bcrypt entry, started by the suite and stopped by its PID.

The packages (docker-registry, apache2-utils for htpasswd) are installed with apt when missing, as
the lab fixture installs its own (tests/lab/up.sh). The package's own service is never started or
stopped here: this registry has its own config, data folder and port. The Docker engine trusts
127.0.0.0/8 registries without TLS, so no daemon setting is needed.
"""
import base64
import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

PACKAGES = {"docker-registry": "docker-registry", "htpasswd": "apache2-utils"}
MANIFEST_TYPES = ", ".join(["application/vnd.docker.distribution.manifest.v2+json",
                            "application/vnd.docker.distribution.manifest.list.v2+json",
                            "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json"])


def ensure_packages():
    missing = [package for command, package in PACKAGES.items() if shutil.which(command) is None]
    if not missing:
        return
    if os.geteuid() != 0:
        raise RuntimeError(f"the registry tests need {', '.join(missing)} (apt-get install -y {' '.join(missing)})")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], check=True, env=env,
                   capture_output=True, timeout=900)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Registry:
    host: str          # 127.0.0.1:<port>
    username: str
    password: str
    process: subprocess.Popen
    log: Path

    def get(self, path, accept="", method="GET"):
        """(status, headers, parsed JSON body or None) of an authenticated request to /v2/<path>."""
        request = urllib.request.Request(f"http://{self.host}/v2/{path}", method=method)
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        if accept:
            request.add_header("Accept", accept)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                body = answer.read()
                return answer.status, dict(answer.headers), (json.loads(body) if body and method == "GET" else None)
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), None

    def digest_of(self, repository, tag):
        status, headers, _ = self.get(f"{repository}/manifests/{tag}", accept=MANIFEST_TYPES, method="HEAD")
        return headers.get("Docker-Content-Digest") if status == 200 else None


def start_registry(root: Path, username="rs-reg-user", timeout=30) -> Registry:
    ensure_packages()
    password = "pw-" + secrets.token_hex(12)
    root.mkdir(parents=True, exist_ok=True)
    entry = subprocess.run(["htpasswd", "-Bbn", username, password], capture_output=True, text=True, check=True)
    (root / "htpasswd").write_text(entry.stdout)
    host = f"127.0.0.1:{free_port()}"
    config = root / "config.yml"
    config.write_text(json.dumps({  # JSON is YAML
        "version": 0.1,
        "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(root / "data")}},
        "http": {"addr": host, "secret": secrets.token_hex(16)},
        "auth": {"htpasswd": {"realm": "rightsize-test", "path": str(root / "htpasswd")}},
    }))
    log = root / "registry.log"
    with log.open("w") as out:
        process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    registry = Registry(host, username, password, process, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if registry.get("")[0] == 200:
                return registry
        except OSError:
            pass
        time.sleep(0.2)
    stop_registry(registry)
    raise RuntimeError(f"docker-registry did not answer on {host} within {timeout} s: {log.read_text()[-2000:]}")


def untag_images(host: str):
    """Remove the local tags and digests this registry's images left (the image itself stays while
    another tag, such as rightsize/inference-api:latest, names it)."""
    listed = subprocess.run(["docker", "images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}"],
                            capture_output=True, text=True)
    for line in listed.stdout.splitlines():
        repo, tag, digest = (line.split() + ["", "", ""])[:3]
        if not repo.startswith(host + "/"):
            continue
        refs = ([f"{repo}:{tag}"] if tag and tag != "<none>" else []) + \
               ([f"{repo}@{digest}"] if digest and digest != "<none>" else [])
        for ref in refs:
            subprocess.run(["docker", "image", "rm", ref], capture_output=True)


def stop_registry(registry: Registry):
    """By its PID: this registry only, never the package's service."""
    if registry.process.poll() is None:
        registry.process.terminate()
        try:
            registry.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            registry.process.kill()
            registry.process.wait(timeout=10)
