"""The Ansible deployment: lint, syntax, and a real run inside a namespace host.

The playbook runs with a local connection inside the head namespace of a test network (198.18.0.1),
in check mode, then for real, then again (which must change nothing). Everything it installs goes
under a scratch root (every path is a role variable) and its services run as a throwaway system
user, removed afterwards. The inventory has two hosts on that one namespace, the head and a worker
(each with its own root), so the head's and the workers' templates are all rendered; units are then
checked with `systemd-analyze verify`, the Redis configuration and ACL file are started with a real
redis-server on the namespace's LAN address, and the nginx site is checked with `nginx -t`.
"""
from __future__ import annotations

import json
import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from conf.acl import ROLES, render_acl
from tests.netns import Network, sweep, unavailable_reason

ROOT = Path(__file__).resolve().parent.parent
ANSIBLE = ROOT / "ansible"
HEAD = "198.18.0.1"
OFFICIAL = "name: 김민수 주무관\nemail: kim@example.go.kr\ntopics:\n  - {name: 드론, query: 드론 -채용}\n"
EDITED = "  - {name: 수소, query: 수소 충전소}  # added on the personal page\n"
POLL = 0.05  # seconds between two looks at a condition being waited for
TOOLS = [shutil.which(t) for t in ("ansible-playbook", "ansible-lint")]


def _tool(name: str) -> str:
    path = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not os.path.exists(path):
        pytest.fail(f"{name} is not installed: run bash .ci/setup (it installs the deploy extra: ansible-core, ansible-lint)")
    return path


def test_ansible_lint_production_profile_passes():
    result = subprocess.run([_tool("ansible-lint"), "--offline", "--profile", "production", "--nocolor"],
                            cwd=ANSIBLE, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "Profile 'production' was required, and it passed" in result.stderr + result.stdout


@pytest.mark.parametrize("playbook", ["site.yml", "rolling-update.yml"])
def test_playbooks_pass_the_syntax_check(playbook):
    result = subprocess.run([_tool("ansible-playbook"), "--syntax-check", "-i", "inventory/example/hosts.yml", playbook],
                            cwd=ANSIBLE, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_every_role_variable_is_documented_and_prefixed():
    for role in sorted((ANSIBLE / "roles").iterdir()):
        defaults = (role / "defaults" / "main.yml").read_text(encoding="utf-8")
        names = re.findall(r"^([a-z_][a-z0-9_]*):", defaults, re.M)
        assert names, role.name
        for name in names:
            assert name.startswith(role.name + "_"), (role.name, name)
        for template in (role / "templates").glob("*.j2"):
            text = template.read_text(encoding="utf-8")
            if template.name == "users.acl.j2":
                continue  # Redis ACL files allow no comment line
            first = text.splitlines()[1] if text.startswith("#!") else text.splitlines()[0]
            assert "ansible_managed" in first, template


# --- the real run -------------------------------------------------------------------------------
def _recap(output: str) -> dict[str, dict[str, int]]:
    out = {}
    for host, counts in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", output, re.M):
        out[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counts)}
    return out


class Deployment:
    def __init__(self, net: Network, tmp: Path):
        self.net, self.tmp = net, tmp
        self.user = f"nugot{os.getpid()}{secrets.token_hex(2)}"
        # one throwaway system user per host: the two hosts share this machine's /etc/passwd
        self.users = {"head": self.user, "w1": self.user + "w"}
        self.passwords = {role: secrets.token_urlsafe(18) for role in ROLES}
        # scratch roots the throwaway users can traverse (pytest's own folders are private to root)
        self.scratch = Path(tempfile.mkdtemp(prefix="nugo-ansible-"))
        self.scratch.chmod(0o755)
        self.roots = {"head": self.scratch / "root-head", "w1": self.scratch / "root-w1"}
        self.seconds: list[float] = []

    def host_vars(self, host: str) -> dict:
        root, user = self.roots[host], self.users[host]
        return {
            "ansible_connection": "local", "ansible_python_interpreter": sys.executable, "ansible_host": HEAD,
            "nugo_common_user": user, "nugo_common_group": user,
            "nugo_common_install_packages": False, "nugo_common_python": sys.executable,
            "nugo_common_install_dir": f"{root}/opt/nugo", "nugo_common_venv_site_packages": True,
            "nugo_common_wheel": str(self.wheel), "nugo_common_pip_extra_args": "--no-index",
            "nugo_common_conf_dir": f"{root}/etc/nugo", "nugo_common_data_dir": f"{root}/var/lib/nugo",
            "nugo_common_unit_dir": f"{root}/etc/systemd/system",
            "nugo_common_sites_src": f"{self.tmp}/sites/", "nugo_common_officials_src": f"{self.tmp}/officials",
            "nugo_common_redis_host": HEAD, "nugo_common_cli_wrapper": f"{root}/usr/local/bin/nugo-as",
            "nugo_redis_install_package": False, "nugo_redis_user": user, "nugo_redis_group": user,
            "nugo_redis_conf_dir": f"{root}/etc/redis", "nugo_redis_data_dir": f"{root}/var/lib/redis",
            "nugo_redis_log_file": f"{root}/redis.log", "nugo_redis_pid_file": f"{root}/redis.pid",
            "nugo_redis_maxmemory": "256mb",
            "nugo_web_install_nginx": False, "nugo_web_nginx_dir": f"{root}/etc/nginx", "nugo_web_listen_port": 8081,
            "nugo_web_tls_certificate": f"{root}/tls/cert.pem", "nugo_web_tls_certificate_key": f"{root}/tls/key.pem",
            "nugo_web_tls_port": 8443, "nugo_web_access_log": f"{root}/nginx-access.log",
            "nugo_wol_enabled": True, "nugo_wol_install_ethtool": False, "nugo_wol_shutdown_enabled": True,
            "nugo_wol_script": f"{root}/usr/local/bin/nugo-wake", "nugo_wol_broadcast": "198.18.0.255",
            "nugo_wol_interface": "eth0", "nugo_wol_mac": "00:00:5e:00:53:11",
        }

    def prepare(self) -> None:
        src = self.tmp / "src"
        files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout.split()
        for name in files:
            if (ROOT / name).is_file():
                (src / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, src / name)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                        str(self.tmp / "dist"), str(src)], check=True, capture_output=True, timeout=300)
        self.wheel = next((self.tmp / "dist").glob("nugo-*.whl"))
        # a few sites: the copy module copies file by file, and the farm's 39 would double the run time
        (self.tmp / "sites").mkdir()
        for site in ("seoul", "seoul-press", "daejeon"):
            shutil.copy(ROOT / "conf" / "sites" / "farm" / f"{site}.yaml", self.tmp / "sites")
        (self.tmp / "officials").mkdir()
        (self.tmp / "officials" / "kim.yaml").write_text(OFFICIAL, encoding="utf-8")
        inventory = {"nugo": {"children": {
            "nugo_head": {"hosts": {"head": self.host_vars("head")}},
            "nugo_workers": {"hosts": {"w1": self.host_vars("w1")}}}}}
        (self.tmp / "hosts.yml").write_text(yaml.safe_dump(inventory), encoding="utf-8")

    def env(self) -> dict:
        env = {**os.environ, "ANSIBLE_CONFIG": str(ANSIBLE / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
               "ANSIBLE_FACT_CACHING": "jsonfile", "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(self.tmp / "facts"),
               "ANSIBLE_GATHERING": "smart",
               "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_LOCAL_TEMP": str(self.tmp / "ansible-tmp"),
               "ANSIBLE_REMOTE_TEMP": str(self.tmp / "ansible-tmp"), "PIP_NO_INDEX": "1"}
        env.update({f"NUGO_REDIS_PASSWORD_{role.upper()}": pw for role, pw in self.passwords.items()})
        return env

    def playbook(self, *extra: str, playbook: str = "site.yml") -> tuple[str, dict]:
        argv = [shutil.which("ansible-playbook") or str(Path(sys.executable).parent / "ansible-playbook"),
                "-i", str(self.tmp / "hosts.yml"), "--forks", "1",  # both hosts are this one machine: one at a time
                str(ANSIBLE / playbook), *extra]
        started = time.monotonic()
        result = self.net.run_in("head", argv, env=self.env(), cwd=ANSIBLE, timeout=600, check=False)
        output = result.stdout + result.stderr
        self.seconds.append(round(time.monotonic() - started, 1))
        (self.tmp / f"ansible-{len(list(self.tmp.glob('ansible-*.log')))}.log").write_text(output)
        assert result.returncode == 0, output[-6000:]
        return output, _recap(output)

    def rotate(self) -> None:
        """The runbook's password rotation on the head: a new crawler password first, the old one kept;
        step 2 with the vault's variable (here an extra-vars file), step 3 with the rolling update."""
        self.old_crawler, self.new_crawler = self.passwords["crawler"], secrets.token_urlsafe(18)
        vault = {"vault_nugo_redis_passwords": {**{r: [pw] for r, pw in self.passwords.items()},
                                                "crawler": [self.new_crawler, self.old_crawler]}}
        path = self.tmp / "vault.yml"
        path.write_text(yaml.safe_dump(vault))
        path.chmod(0o600)
        self.acl_output, self.acl_recap = self.playbook("--limit", "nugo_head", "--tags", "nugo_redis_acl", "-e", f"@{path}")
        self.rolling_output, self.rolling_recap = self.playbook("--limit", "head", "-e", f"@{path}",
                                                                playbook="rolling-update.yml")

    def cleanup(self) -> None:
        for user in self.users.values():
            subprocess.run(["userdel", user], capture_output=True)
            subprocess.run(["groupdel", user], capture_output=True)
        shutil.rmtree(self.scratch, ignore_errors=True)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"the playbook runs inside a namespace host: {reason}")
    _tool("ansible-playbook")
    sweep()
    _sweep_users()
    tmp = tmp_path_factory.mktemp("ansible")
    with Network({"head": HEAD}) as net:
        run = Deployment(net, tmp)
        try:
            run.prepare()
            _self_signed(run.roots["head"] / "tls")
            run.check_output, run.check_recap = run.playbook("--check", "--diff")
            run.first_output, run.first_recap = run.playbook()
            official = run.roots["head"] / "var" / "lib" / "nugo" / "officials" / "kim.yaml"
            official.write_text(official.read_text(encoding="utf-8") + EDITED, encoding="utf-8")  # the official's edit
            run.second_output, run.second_recap = run.playbook()
            run.snapshot = {p: p.read_text() for p in run.scratch.rglob("*") if p.suffix in (".acl", ".env")}
            run.rotate()
            yield run
        finally:
            run.cleanup()


def _sweep_users() -> None:
    """Throwaway users of earlier runs whose test process is gone."""
    for entry in pwd.getpwall():
        match = re.fullmatch(r"nugot(\d+)[0-9a-f]{4}w?", entry.pw_name)
        if match and not Path(f"/proc/{match.group(1)}").exists():
            subprocess.run(["userdel", entry.pw_name], capture_output=True)
            subprocess.run(["groupdel", entry.pw_name], capture_output=True)


def _self_signed(folder: Path) -> None:
    folder.mkdir(parents=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=nugo.test",
                    "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")], check=True, capture_output=True)


def test_check_mode_then_apply_then_a_second_apply_changes_nothing(deployed, capsys):
    check, first, second = deployed.check_recap, deployed.first_recap, deployed.second_recap
    with capsys.disabled():
        print(f"\n[ansible] inside namespace host {HEAD} (local connection): check mode {check}; "
              f"apply {first}; second apply {second}; seconds {deployed.seconds}")
    assert set(second) == {"head", "w1"}
    assert all(c["failed"] == 0 and c["unreachable"] == 0 for c in (*check.values(), *first.values(), *second.values()))
    assert all(c["changed"] > 0 for c in first.values())
    assert all(c["changed"] == 0 for c in second.values()), deployed.second_output[-4000:]


def test_the_officials_files_are_seeded_once_and_writable_by_the_web_service(deployed):
    """The personal page writes an official's own file: it lives in the data folder, the web unit may write it,
    and the next deployment keeps the official's edit (the second apply above changed nothing)."""
    head = deployed.roots["head"]
    folder = head / "var" / "lib" / "nugo" / "officials"
    assert (folder / "kim.yaml").read_text(encoding="utf-8") == OFFICIAL + EDITED
    assert folder.stat().st_uid == pwd.getpwnam(deployed.user).pw_uid and oct(folder.stat().st_mode)[-3:] == "750"
    assert f"subscriptions: {folder}" in (head / "etc" / "nugo" / "cluster.yaml").read_text(encoding="utf-8")
    web = next(p for p in _units(head) if p.name == "nugo-web.service").read_text()
    assert f"ReadWritePaths={folder}" in web


def test_credentials_are_readable_by_root_and_the_service_user_only(deployed):
    conf = deployed.roots["head"] / "etc" / "nugo"
    for role in ("crawler", "indexer", "web", "scheduler"):
        path = conf / "env" / f"{role}.env"
        text = deployed.snapshot[path]  # as the apply left it (a rotation test changes it later)
        assert f"NUGO_REDIS_URL=redis://{role}@{HEAD}:6379/0" in text
        assert f"NUGO_REDIS_PASSWORD={deployed.passwords[role]}" in text
        assert path.stat().st_mode & 0o777 == 0o640 and path.stat().st_uid == 0
    assert sorted(p.name for p in (deployed.roots["w1"] / "etc" / "nugo" / "env").iterdir()) == ["crawler.env"]
    for output in (deployed.check_output, deployed.first_output, deployed.second_output):
        assert not any(pw in output for pw in deployed.passwords.values())


def test_the_rendered_acl_file_is_the_one_conf_acl_renders(deployed):
    rendered = deployed.snapshot[deployed.roots["head"] / "etc" / "redis" / "users.acl"]
    assert rendered == render_acl({role: [pw] for role, pw in deployed.passwords.items()}, "nugo")


def _units(root: Path) -> list[Path]:
    folder = root / "etc" / "systemd" / "system"
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".service", ".target", ".timer"))


def test_rendered_units_pass_systemd_analyze_verify(deployed, capsys):
    verify = shutil.which("systemd-analyze")
    if verify is None:
        pytest.fail("systemd-analyze is missing (Debian's systemd package)")
    checked = []
    for host, root in deployed.roots.items():
        folder = deployed.tmp / f"verify-{host}"
        folder.mkdir()
        for unit in _units(root):
            name = unit.name.replace("@.service", "@1.service")  # a template is verified as an instance
            shutil.copy(unit, folder / name)
        files = sorted(str(p) for p in folder.iterdir())
        result = subprocess.run([verify, "verify", "--man=no", *files], capture_output=True, text=True, timeout=120,
                                env={**os.environ, "SYSTEMD_LOG_LEVEL": "notice"})
        ours = [line for line in (result.stdout + result.stderr).splitlines() if str(folder) in line or "nugo" in line]
        assert result.returncode == 0 and not ours, (host, result.returncode, "\n".join(ours) or result.stderr[-3000:])
        checked += [Path(f).name for f in files]
    head_units = {p.name for p in _units(deployed.roots["head"])}
    assert {"nugo-crawler@.service", "nugo-celery-worker.service", "nugo-index.service", "nugo-scheduler.service",
            "nugo-web.service", "nugo.target", "nugo-wake.service", "nugo-wake.timer"} <= head_units
    assert {"nugo-wol-arm.service", "nugo-shutdown.timer"} <= {p.name for p in _units(deployed.roots["w1"])}
    with capsys.disabled():
        print(f"\n[ansible] systemd-analyze verify: {len(checked)} rendered units clean ({', '.join(sorted(set(checked)))})")


def test_units_are_hardened(deployed):
    units = {p.name: p.read_text() for p in _units(deployed.roots["head"])}
    for name in ("nugo-crawler@.service", "nugo-celery-worker.service", "nugo-index.service", "nugo-scheduler.service",
                 "nugo-web.service"):
        text = units[name]
        for line in ("Restart=always", "NoNewPrivileges=yes", "ProtectSystem=strict", f"User={deployed.user}",
                     "PartOf=nugo.target"):
            assert line in text, (name, line)
        assert re.search(r"^MemoryMax=\S+", text, re.M), name
        assert "NUGO_REDIS_PASSWORD" not in text and "EnvironmentFile=" in text
    assert "--max-memory-mb" in units["nugo-celery-worker.service"] and "--max-tasks" in units["nugo-celery-worker.service"]
    assert "--queues index --concurrency 1" in units["nugo-index.service"]
    assert f"ReadWritePaths={deployed.roots['head']}/var/lib/nugo" in units["nugo-crawler@.service"]


def test_the_rendered_redis_config_is_hardened_and_serves_the_acl_users(deployed, capsys):
    root = deployed.roots["head"]
    conf = root / "etc" / "redis" / "redis.conf"
    (root / "var" / "lib" / "redis").mkdir(parents=True, exist_ok=True)
    # Not under systemd here: started by hand, as root, with the rendered file.
    proc = deployed.net.popen("head", ["redis-server", str(conf), "--supervised", "no"], log=deployed.tmp / "redis.out")
    try:
        probe = ("import json, redis, socket, sys\n"
                 "pw = json.loads(sys.argv[1])\n"
                 "s = socket.create_connection(('198.18.0.1', 6379), timeout=5); s.sendall(b'*1\\r\\n$4\\r\\nPING\\r\\n')\n"
                 "out = {'anonymous': s.recv(100).decode().strip()}\n"
                 "admin = redis.Redis(host='198.18.0.1', username='admin', password=pw['admin'])\n"
                 "out['config'] = {k: admin.config_get(k)[k] for k in ('bind', 'protected-mode', 'appendonly', 'appendfsync', 'maxmemory-policy')}\n"
                 "crawler = redis.Redis(host='198.18.0.1', username='crawler', password=pw['crawler'])\n"
                 "out['crawler'] = str(crawler.ping())\n"
                 "try:\n    crawler.flushall(); out['flushall'] = 'allowed'\n"
                 "except redis.RedisError as e:\n    out['flushall'] = type(e).__name__\n"
                 "print(json.dumps(out))\n")
        deadline = time.monotonic() + 20
        while True:
            result = deployed.net.run_in("head", [sys.executable, "-c", probe, json.dumps(deployed.passwords)],
                                         env=os.environ.copy(), check=False)
            if result.returncode == 0 or time.monotonic() > deadline or proc.poll() is not None:
                break
            time.sleep(POLL)
        assert result.returncode == 0, result.stderr[-2000:] + (root / "redis.log").read_text()[-2000:]
        out = json.loads(result.stdout)
    finally:
        proc.terminate()
        proc.wait(10)
    with capsys.disabled():
        print(f"\n[ansible] rendered redis.conf on {HEAD}: {out}")
    assert out["anonymous"] == "-NOAUTH Authentication required."
    assert out["config"] == {"bind": f"{HEAD} 127.0.0.1", "protected-mode": "yes", "appendonly": "yes",
                             "appendfsync": "everysec", "maxmemory-policy": "noeviction"}
    assert out["crawler"] == "True" and out["flushall"] == "NoPermissionError"


def test_the_rendered_nginx_site_passes_nginx_t(deployed):
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if nginx is None:
        pytest.fail("nginx is missing: run bash .ci/setup (it installs Debian's nginx)")
    root = deployed.roots["head"]
    site = root / "etc" / "nginx" / "sites-enabled" / "nugo.conf"
    assert site.is_symlink() and site.resolve() == (root / "etc" / "nginx" / "sites-available" / "nugo.conf")
    text = site.read_text()
    for directive in ("client_header_timeout 10s", "client_body_timeout 10s", "proxy_buffering on",
                      f"listen {HEAD}:8081", f"listen {HEAD}:8443 ssl", "server 127.0.0.1:8080"):
        assert directive in text, directive
    main = deployed.tmp / "nginx.conf"
    main.write_text(f"pid {deployed.tmp}/nginx.pid;\nerror_log {deployed.tmp}/nginx-error.log;\n"
                    f"events {{}}\nhttp {{\n  access_log off;\n  include {site};\n}}\n")
    result = deployed.net.run_in("head", [nginx, "-t", "-q", "-c", str(main), "-p", str(deployed.tmp)], check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_nginx_logs_no_token_and_answers_a_too_long_address_in_json(deployed):
    """The rendered site, served by a real nginx in the head: a feed token never reaches its access log, and an
    address longer than nginx's buffers gets the API's JSON error (not nginx's HTML page)."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    root = deployed.roots["head"]
    site = root / "etc" / "nginx" / "sites-enabled" / "nugo.conf"
    prefix = deployed.tmp / "nginx-run"
    prefix.mkdir(exist_ok=True)
    main = prefix / "nginx.conf"
    main.write_text(f"pid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\nevents {{}}\n"
                    f"http {{\n  client_body_temp_path {prefix}/body;\n  proxy_temp_path {prefix}/proxy;\n"
                    f"  include {site};\n}}\n")
    proc = deployed.net.popen("head", [nginx, "-c", str(main), "-p", str(prefix), "-g", "daemon off;"],
                              log=prefix / "stdout.log")
    try:
        secret = secrets.token_urlsafe(24)
        for _ in range(100):  # nginx is up when it answers (502: no web service behind it here)
            out = deployed.net.run_in("head", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                               f"http://{HEAD}:8081/feeds/{secret}.rss"], check=False)
            if out.stdout.strip() not in ("", "000"):
                break
            time.sleep(0.1)
        deployed.net.run_in("head", ["curl", "-s", "-o", "/dev/null", f"http://{HEAD}:8081/me/{secret}?x=1"], check=False)
        long = deployed.net.run_in("head", ["curl", "-s", "-k", "-w", "\n%{http_code} %{content_type}",  # TLS is on here
                                            f"https://{HEAD}:8443/api/search?q={'가' * 3000}"], check=False)
    finally:
        proc.terminate()
        proc.wait(10)
    body, _, code = long.stdout.rpartition("\n")
    assert code.startswith("414 application/json") and json.loads(body)["error"]["status"] == 414, long.stdout[-300:]
    log = (root / "nginx-access.log").read_text(encoding="utf-8")
    assert "/feeds/TOKEN.rss" in log and "/me/TOKEN?x=1" in log
    assert secret not in log


def test_nugo_as_runs_a_command_as_the_service_user_with_a_roles_credentials(deployed):
    wrapper = deployed.roots["w1"] / "usr" / "local" / "bin" / "nugo-as"
    result = deployed.net.run_in("head", [str(wrapper), "crawler", "check-config"], env=os.environ.copy(), check=False)
    can_run_python = subprocess.run(["runuser", "-u", deployed.users["w1"], "--", sys.executable, "-c", "pass"],
                                    capture_output=True).returncode == 0
    if can_run_python:
        assert result.returncode == 0 and "설정 정상" in result.stdout, result.stdout + result.stderr
    else:  # this machine's Python lives under a folder private to root (pyenv in /root): the user gets as far as exec
        venv_nugo = deployed.roots["w1"] / "opt" / "nugo" / "venv" / "bin" / "nugo"
        assert result.stderr.strip() == f"runuser: failed to execute {venv_nugo}: Permission denied", result.stderr
    refused = deployed.net.run_in("head", [str(wrapper), "scheduler", "check-config"], env=os.environ.copy(), check=False)
    assert refused.returncode == 2 and "usage" in refused.stderr  # a worker PC has the crawler's credentials only


def test_password_rotation_as_in_the_runbook(deployed, capsys):
    with capsys.disabled():
        print(f"\n[ansible] rotation: --tags nugo_redis_acl {deployed.acl_recap}; rolling-update {deployed.rolling_recap}")
    assert deployed.acl_recap["head"]["changed"] == 1 and deployed.acl_recap["head"]["failed"] == 0
    acl_file = (deployed.roots["head"] / "etc" / "redis" / "users.acl").read_text()
    assert acl_file == render_acl({**{r: [pw] for r, pw in deployed.passwords.items()},
                                   "crawler": [deployed.new_crawler, deployed.old_crawler]}, "nugo")
    env = (deployed.roots["head"] / "etc" / "nugo" / "env" / "crawler.env").read_text()
    assert f"NUGO_REDIS_PASSWORD={deployed.new_crawler}\n" in env and deployed.old_crawler not in env
    assert deployed.rolling_recap["head"]["failed"] == 0
    assert deployed.new_crawler not in deployed.acl_output + deployed.rolling_output


def test_the_runbooks_vault_steps_and_placeholders_are_refused(tmp_path):
    """Runbook section 1, steps 2-4 as a new user types them: copy the example inventory and the vault
    example, encrypt it; the play then refuses the placeholders with its Korean/English message."""
    prod = tmp_path / "ansible"
    shutil.copytree(ANSIBLE, prod, ignore=shutil.ignore_patterns("roles"))
    (prod / "roles").symlink_to(ANSIBLE / "roles")
    shutil.copytree(prod / "inventory" / "example", prod / "inventory" / "prod")
    (prod / "inventory" / "prod" / "group_vars" / "all").mkdir(parents=True)
    vault = prod / "inventory" / "prod" / "group_vars" / "all" / "vault.yml"
    shutil.copy(prod / "vault.example.yml", vault)
    secret = tmp_path / "vault-pass"
    secret.write_text(secrets.token_urlsafe(16))
    env = {**os.environ, "ANSIBLE_CONFIG": str(prod / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    env = {k: v for k, v in env.items() if not k.startswith("NUGO_REDIS_PASSWORD_")}
    bindir = Path(_tool("ansible-playbook")).parent
    subprocess.run([str(bindir / "ansible-vault"), "encrypt", "--vault-password-file", str(secret), str(vault)],
                   check=True, capture_output=True, env=env, cwd=prod)
    assert vault.read_text().startswith("$ANSIBLE_VAULT;")
    inventory = json.loads(subprocess.run(
        [str(bindir / "ansible-inventory"), "-i", "inventory/prod", "--vault-password-file", str(secret), "--list"],
        check=True, capture_output=True, text=True, env=env, cwd=prod).stdout)
    assert set(inventory["nugo_head"]["hosts"]) == {"pc1"} and len(inventory["nugo_workers"]["hosts"]) == 4
    pc1 = inventory["_meta"]["hostvars"]["pc1"]
    assert pc1["vault_nugo_redis_passwords"]["crawler"] == ["CHANGE-ME"]
    # The first task refuses the placeholders, before anything is installed (pc1 made local for the test).
    result = subprocess.run([_tool("ansible-playbook"), "-i", "inventory/prod", "--vault-password-file", str(secret),
                             "--limit", "pc1", "-e", "ansible_connection=local", "-e", f"ansible_python_interpreter={sys.executable}",
                             "--check", "site.yml"], capture_output=True, text=True, env=env, cwd=prod, timeout=300)
    assert result.returncode != 0
    assert "비밀번호가 없거나 너무 짧습니다" in result.stdout and "No usable password for Redis ACL user" in result.stdout
    assert "CHANGE-ME" not in result.stdout  # no_log: even a placeholder is not printed


def test_the_head_wakes_the_workers_with_magic_packets(deployed):
    """The rendered nugo-wake script, run on the head, broadcasts Wake-on-LAN packets for w1's MAC."""
    import socket

    def listen():
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("0.0.0.0", 9))
        sock.settimeout(10)
        return sock

    sock = deployed.net.call_in("head", listen)  # the head's own broadcasts come back to it
    try:
        script = deployed.roots["head"] / "usr" / "local" / "bin" / "nugo-wake"
        result = deployed.net.run_in("head", [str(script)], env=os.environ.copy())
        packets = [sock.recvfrom(200)[0] for _ in range(3)]
    finally:
        sock.close()
    assert "00:00:5e:00:53:11" in result.stdout
    assert packets == [b"\xff" * 6 + bytes.fromhex("00005e005311") * 16] * 3


def test_every_unit_runs_a_command_the_cli_accepts(deployed):
    """ExecStart lines are parsed by the real `nugo` argument parser: a renamed option fails here."""
    from workers.cli import build_parser

    parser = build_parser()
    seen = 0
    for root in deployed.roots.values():
        for unit in _units(root):
            for line in unit.read_text().splitlines():
                if line.startswith("ExecStart=") and line.split()[0].endswith("/bin/nugo"):
                    args = parser.parse_args(line.split()[1:])
                    assert args.command in ("worker", "celery-worker", "scheduler", "serve"), line
                    seen += 1
    assert seen >= 7
