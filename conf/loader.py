"""Load and validate every configuration file; errors name file, line and field."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conf.env import Environment, read_environment
from conf.schema import validate
from conf.specs import CLUSTER, SITE
from conf.yamlsource import ConfigError, Source, read_yaml

CONF_DIR = Path(__file__).resolve().parent
PROJECT_DIR = CONF_DIR.parent
SITE_ID = re.compile(r"[a-z0-9][a-z0-9-]*")
_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)\}")


@dataclass
class Cluster:
    """Validated cluster settings, with environment overrides applied."""

    settings: dict[str, Any]
    conf_dir: Path
    redis_password: str | None = None
    conf_path: Path | None = None

    def __getattr__(self, name: str) -> Any:
        try:
            return self.settings[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def data_path(self) -> Path:
        path = Path(self.settings["data_dir"])
        return path if path.is_absolute() else PROJECT_DIR / path

    @property
    def index_dir(self) -> Path:
        """Where the index lives: `{data_dir}/index`."""
        return self.data_path / "index"

    @property
    def subscriptions_path(self) -> Path:
        """The subscriptions file or folder (`subscriptions`, relative to conf/)."""
        path = Path(self.settings["subscriptions"])
        return path if path.is_absolute() else self.conf_dir / path

    @property
    def public_url(self) -> str:
        """The web service's public URL: `web.base_url`, else http(s)://host:port of cluster.yaml (never a
        request's Host header)."""
        web = self.settings.get("web") or {}
        if web.get("base_url"):
            return web["base_url"].rstrip("/")
        host = web.get("host") or "127.0.0.1"
        host = "localhost" if host in ("0.0.0.0", "::") else host
        scheme = "https" if web.get("tls_cert") else "http"
        return f"{scheme}://[{host}]:{web.get('port', 8080)}" if ":" in host else f"{scheme}://{host}:{web.get('port', 8080)}"

    @property
    def sites_paths(self) -> list[Path]:
        return [p if p.is_absolute() else self.conf_dir / p for p in map(Path, self.settings["sites_dirs"])]


@dataclass
class Site:
    """One validated site definition; `id` is the file name."""

    id: str
    file: str
    spec: dict[str, Any] = field(repr=False)

    def __getitem__(self, key: str) -> Any:
        return self.spec[key]

    def get(self, key: str, default: Any = None) -> Any:
        value = self.spec.get(key)
        return default if value is None else value

    def to_json(self) -> dict:
        return {"id": self.id, "file": self.file, "spec": self.spec}

    @classmethod
    def from_json(cls, data: dict) -> "Site":
        return cls(data["id"], data["file"], data["spec"])


def load_cluster(path: str | Path | None = None, env: Environment | None = None) -> Cluster:
    env = env or read_environment()
    path = Path(path or env.conf or CONF_DIR / "cluster.yaml")
    source = read_yaml(path) if path.exists() else Source(str(path), {})
    settings, problems = validate(source, CLUSTER)
    if problems:
        raise ConfigError(problems)
    if env.redis_url:
        settings["redis_url"] = env.redis_url
    if env.data_dir:
        settings["data_dir"] = env.data_dir
    return Cluster(settings, path.resolve().parent, env.redis_password, path.resolve())


def substitute(source: Source, variables: dict[str, str]) -> list[str]:
    """Replace ${NAME} in every string of the source; returns problems for unknown names."""
    problems: list[str] = []

    def walk(value, path):
        if isinstance(value, dict):
            return {k: walk(v, path + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, path + (i,)) for i, v in enumerate(value)]
        if isinstance(value, str):
            def repl(match):
                name = match.group(1)
                if name not in variables:
                    problems.append(source.problem(path, f"unknown variable ${{{name}}} (known: {', '.join(sorted(variables)) or 'none'})"))
                    return match.group(0)
                return str(variables[name])
            return _VARIABLE.sub(repl, value)
        return value

    source.data = walk(source.data, ())
    return problems


def default_variables(env: Environment | None = None) -> dict[str, str]:
    env = env or read_environment()
    return {"FARM_PORT": env.farm_port} if env.farm_port else {}


def load_site(path: str | Path, variables: dict[str, str] | None = None) -> Site:
    path = Path(path)
    site_id = path.stem
    source = read_yaml(path)
    problems = []
    if not SITE_ID.fullmatch(site_id):
        problems.append(f"{path}:1: file name must be a slug (lower-case letters, digits, '-'): {site_id!r}")
    problems += substitute(source, default_variables() if variables is None else variables)
    spec, more = validate(source, SITE)
    problems += more
    if problems:
        raise ConfigError(problems)
    return Site(site_id, str(path), spec)


def site_files(dirs: list[Path]) -> list[Path]:
    files = []
    for d in dirs:
        if not d.is_dir():
            raise ConfigError([f"{d}: sites folder not found"])
        files += sorted(d.glob("*.yaml"))
    return files


def site_ids(dirs: list[Path]) -> set[str]:
    """The ids of the sites configured in the folders (their file names), without reading the files."""
    return {p.stem for d in dirs if d.is_dir() for p in d.glob("*.yaml") if SITE_ID.fullmatch(p.stem)}


def load_sites(dirs: list[Path] | Path, variables: dict[str, str] | None = None) -> dict[str, Site]:
    """Every site in the folders, validated; all problems of all files are reported together."""
    dirs = [dirs] if isinstance(dirs, Path) else dirs
    sites: dict[str, Site] = {}
    problems: list[str] = []
    for path in site_files(dirs):
        try:
            site = load_site(path, variables)
        except ConfigError as exc:
            problems += exc.problems
            continue
        if site.id in sites:
            problems.append(f"{path}:1: site id {site.id!r} also defined in {sites[site.id].file}")
            continue
        sites[site.id] = site
    if problems:
        raise ConfigError(problems)
    return sites


def check_config(cluster_path: str | Path | None = None, variables: dict[str, str] | None = None) -> tuple[list[str], int]:
    """Validate every configuration file; returns (problems, number of sites checked)."""
    try:
        cluster = load_cluster(cluster_path)
    except ConfigError as exc:
        return exc.problems, 0
    problems: list[str] = []
    count = 0
    for path in site_files(cluster.sites_paths) if all(p.is_dir() for p in cluster.sites_paths) else []:
        count += 1
        try:
            load_site(path, variables)
        except ConfigError as exc:
            problems += exc.problems
    for p in cluster.sites_paths:
        if not p.is_dir():
            problems.append(f"{p}: sites folder not found")
    return problems, count
