"""Every knob of the service, read from the environment once, in one object."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Mapping

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "model"


@dataclass(frozen=True)
class Settings:
    model_dir: Path = DEFAULT_MODEL_DIR
    host: str = "0.0.0.0"
    port: int = 8000
    # 0 = one per CPU the container may use (cgroup quota, else the CPU affinity mask).
    workers: int = 0
    # Requests admitted and not yet answered, per worker; past it: 503 + Retry-After.
    max_in_flight: int = 256
    retry_after_s: int = 1
    max_body_bytes: int = 64 * 1024
    max_batch_rows: int = 100
    log_level: str = "warning"
    access_log: bool = False

    ENV_PREFIX = "API_"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """``API_<FIELD>`` variables (``API_MAX_IN_FLIGHT=64``); a bad value fails start-up."""
        environ = os.environ if environ is None else environ
        values = {}
        for field in fields(cls):
            raw = environ.get(cls.ENV_PREFIX + field.name.upper())
            if raw is None or raw == "":
                continue
            values[field.name] = _parse(field.name, field.type, raw)
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        positive = ("port", "max_in_flight", "max_body_bytes", "max_batch_rows", "retry_after_s")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{self.ENV_PREFIX}{name.upper()} must be >= 1")
        if self.workers < 0:
            raise ValueError(f"{self.ENV_PREFIX}WORKERS must be >= 0 (0 = from the CPU quota)")


def _parse(name: str, kind: str, raw: str):
    try:
        if kind == "int":
            return int(raw)
        if kind == "bool":
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind == "Path":
            return Path(raw)
        return raw
    except ValueError:
        raise ValueError(f"{Settings.ENV_PREFIX}{name.upper()}={raw!r} is not a valid {kind}") from None
