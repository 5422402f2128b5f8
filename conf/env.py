"""The one place that reads environment variables."""
from __future__ import annotations

import os
from dataclasses import dataclass

ENV_VARS = {
    "NUGO_CONF": "path of cluster.yaml (default: conf/cluster.yaml of the project)",
    "NUGO_REDIS_URL": "Redis URL of the cluster; overrides redis_url in cluster.yaml",
    "NUGO_REDIS_PASSWORD": "password of the cluster's Redis (never written in YAML)",
    "NUGO_DATA_DIR": "overrides data_dir in cluster.yaml",
    "NUGO_FARM_PORT": "port of a running site farm, substituted for ${FARM_PORT} in site files",
    "NUGO_SMTP_PASSWORD": "password of the SMTP user (smtp.username in cluster.yaml) for digests and operator mail",
}


@dataclass(frozen=True)
class Environment:
    conf: str | None
    redis_url: str | None
    redis_password: str | None
    data_dir: str | None
    farm_port: str | None
    smtp_password: str | None = None


def read_environment(environ: dict | None = None) -> Environment:
    env = os.environ if environ is None else environ
    return Environment(
        conf=env.get("NUGO_CONF") or None,
        redis_url=env.get("NUGO_REDIS_URL") or None,
        redis_password=env.get("NUGO_REDIS_PASSWORD") or None,
        data_dir=env.get("NUGO_DATA_DIR") or None,
        farm_port=env.get("NUGO_FARM_PORT") or None,
        smtp_password=env.get("NUGO_SMTP_PASSWORD") or None,
    )
