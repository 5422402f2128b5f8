"""The Redis ACL table (conf/acl.py): loaded by a real redis-server, nothing dangerous given, Ansible's copy current."""
from __future__ import annotations

import subprocess
import time

import pytest
import redis

from conf import acl
from conf.embedded_redis import free_port, redis_server_binary

POLL = 0.05  # seconds between two looks at a condition being waited for
PASSWORDS = {role: f"pw-{role}-0123456789" for role in acl.ROLES}


@pytest.fixture(scope="module")
def acl_server(tmp_path_factory):
    """A redis-server that loads the rendered ACL file (with two passwords for the crawler: rotation)."""
    tmp = tmp_path_factory.mktemp("acl")
    passwords = {**PASSWORDS, "crawler": [PASSWORDS["crawler"], "old-crawler-password"]}
    (tmp / "users.acl").write_text(acl.render_acl(passwords, "nugo"))
    port = free_port()
    proc = subprocess.Popen([redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--aclfile", str(tmp / "users.acl"), "--dir", str(tmp), "--logfile", str(tmp / "log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    admin = redis.Redis(port=port, username="admin", password=PASSWORDS["admin"], socket_timeout=5)
    deadline = time.monotonic() + 15
    while True:
        try:
            admin.ping()
            break
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"redis-server refused the ACL file: {(tmp / 'log').read_text()[-800:]}")
            time.sleep(POLL)
    yield port, admin
    proc.terminate()
    proc.wait(10)


def test_ansible_reads_a_current_copy_of_the_table():
    assert acl.JSON_PATH.read_text(encoding="utf-8") == acl.acl_json_text(), "run: python3 -m conf.acl --write"


def test_every_role_is_limited_to_the_prefix_and_named_commands():
    for role in acl.ROLES:
        rule = acl.role_rule(role, "nugo")
        if role == "admin":
            continue
        keys = [part for part in rule.split() if "~" in part]
        assert keys and all(k.split("~", 1)[1].startswith("nugo:") for k in keys), (role, keys)
        assert "+@" not in rule and "allkeys" not in rule and "allchannels" not in rule and "-@all" in rule


def test_the_server_loads_the_file_and_the_default_user_is_off(acl_server):
    port, admin = acl_server
    users = {line.split()[1]: line for line in (u if isinstance(u, str) else u.decode() for u in admin.acl_list())}
    assert set(users) == set(acl.ROLES) | {"default"}
    assert " off " in users["default"]
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=port, socket_timeout=5, protocol=2).get("nugo:active")


def test_no_role_but_admin_may_run_an_administrative_command(acl_server):
    _, admin = acl_server
    for role in acl.ROLES:
        for command in acl.FORBIDDEN:
            args = command.split("|") + {"config": ["get", "x"], "acl": ["list"], "keys": ["*"], "debug": ["help"],
                                         "module": ["list"], "migrate": ["h", "1", "k", "0", "1"],
                                         "replicaof": ["no", "one"], "slaveof": ["no", "one"],
                                         "swapdb": ["0", "1"], "client|kill": ["1.2.3.4:5"]}.get(command, [])
            reply = admin.execute_command("ACL", "DRYRUN", role, *args)
            allowed = reply in (b"OK", "OK")
            assert allowed == (role == "admin"), (role, command, reply)


def test_rotation_accepts_both_passwords_and_nothing_else(acl_server):
    port, _ = acl_server
    for password in (PASSWORDS["crawler"], "old-crawler-password"):
        assert redis.Redis(port=port, username="crawler", password=password, socket_timeout=5).ping()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=port, username="crawler", password=PASSWORDS["web"], socket_timeout=5).ping()


def test_the_password_never_appears_in_the_file():
    text = acl.render_acl(PASSWORDS)
    assert not any(p in text for p in PASSWORDS.values())
    with pytest.raises(ValueError):
        acl.render_acl({**PASSWORDS, "web": ""})


def test_the_product_starts_against_the_acl_server_and_refuses_an_open_one(acl_server, tmp_path):
    """conf.connection's refusal (the lead's) agrees with the ACL file: ours passes, a password-less Redis is refused."""
    from conf.connection import InsecureRedis, refuse_open_redis

    port, _ = acl_server
    refuse_open_redis(f"redis://crawler:{PASSWORDS['crawler']}@127.0.0.1:{port}/0", allow=False)
    open_port = free_port()
    proc = subprocess.Popen([redis_server_binary(), "--port", str(open_port), "--bind", "127.0.0.1", "--save", "",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        probe = redis.Redis(port=open_port, socket_timeout=2)
        deadline = time.monotonic() + 10
        while True:
            try:
                probe.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(POLL)
        with pytest.raises(InsecureRedis, match="비밀번호 없이"):
            refuse_open_redis(f"redis://127.0.0.1:{open_port}/0", allow=False)
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("role", ["crawler", "indexer", "scheduler"])
def test_celery_runs_under_each_role_that_runs_celery(acl_server, role):
    """A real Celery worker, task, result, broadcast ping and inspect through the role's ACL user, with
    broker and result keys under {prefix}:celery: (kombu's global_keyprefix), as the deployment sets it."""
    from celery import Celery
    from celery.contrib.testing.worker import start_worker
    import celery.contrib.testing.tasks  # noqa: F401 - registers celery.ping, used by start_worker

    port, admin = acl_server
    url = f"redis://{role}:{PASSWORDS[role]}@127.0.0.1:{port}/0"
    app = Celery(f"acl-{role}", broker=url, backend=url)
    prefix = {"global_keyprefix": "nugo:celery:"}
    app.conf.update(broker_transport_options=prefix, result_backend_transport_options=prefix,
                    worker_hijack_root_logger=False, task_default_queue="crawl")

    @app.task(name=f"add_numbers_{role}")
    def add(a, b):
        return a + b

    admin.acl_log_reset()
    with start_worker(app, queues=["crawl"], pool="solo", loglevel="WARNING", perform_ping_check=True):
        assert add.delay(2, 3).get(timeout=20) == 5
        assert app.control.ping(timeout=3)
        assert app.control.inspect(timeout=3).active() is not None
    denied = [e for e in admin.acl_log(count=50) if e.get("username") == role and e.get("reason") != "auth"]
    assert not denied, denied
    assert all(k.startswith(b"nugo:celery:") for k in admin.scan_iter(count=1000))


def test_every_key_of_the_key_table_is_written_by_some_role_and_read_by_all(acl_server):
    """The ACL follows conf/keys.py: a key added to the table is never NOPERM for every service."""
    import re as _re

    from conf.keys import TABLE

    _, admin = acl_server
    for spec in TABLE:
        if spec.type == "channel":
            continue
        key = "nugo:" + _re.sub(r"\{[a-z_]+\}", "x1", spec.pattern)
        writers = [role for role in acl.ROLES if role != "admin"
                   and admin.execute_command("ACL", "DRYRUN", role, "DEL", key) in (b"OK", "OK")]
        assert writers, f"no role may write {key} ({spec.owner})"
        for role in acl.ROLES:
            assert admin.execute_command("ACL", "DRYRUN", role, "EXISTS", key) in (b"OK", "OK"), (role, key)
