"""Several hosts on one machine: Linux network namespaces on a bridge, for multi-host tests.

    with Network({"head": "198.18.0.1", "w1": "198.18.0.11"}) as net:
        net.add_addresses("head", ["198.18.0.100", "198.18.0.101"])
        proc = net.popen("w1", ["python3", "-m", "workers.cli", "worker"], env={...})
        net.cut("w1"); net.restore("w1")        # the host's cable, pulled at the switch and plugged back
        net.freeze("w1"); net.thaw("w1")        # SIGSTOP / SIGCONT of every process of the host
        net.call_in("head", farm.start)         # create sockets of this process inside a host

Layout: a "switch" namespace holds a bridge; each host namespace has `eth0` (a veth whose peer is a
port of that bridge) with its address in 198.18.0.0/24 (the benchmarking range) and `lo` up. There
is no default route and no NAT, and nothing is created in, or changed on, the root namespace. Names
carry a prefix, the creating pid and a random part, so runs never clash and `sweep()` can remove what
a crashed earlier run left behind.
"""
from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

NAME_PREFIX = "nugot"
NETNS_DIR = Path("/var/run/netns")
SUBNET_BITS = 24
CLONE_NEWNET = 0x40000000
POLL = 0.05  # seconds between two looks at a condition being waited for


class NetnsUnavailable(RuntimeError):
    """Network namespaces cannot be created here (no CAP_NET_ADMIN, or no `ip`)."""


def _ip(*args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], input=input, text=True, capture_output=True, check=check)


def unavailable_reason() -> str | None:
    """Why namespaces cannot be made here, or None when they can (a probe namespace is made and removed)."""
    if shutil.which("ip") is None:
        return "the `ip` command (Debian's iproute2) is not installed"
    probe = f"{NAME_PREFIX}-probe-{os.getpid()}-{secrets.token_hex(2)}"
    result = _ip("netns", "add", probe, check=False)
    if result.returncode != 0:
        return f"cannot create network namespaces (needs root / CAP_NET_ADMIN): {result.stderr.strip()}"
    try:
        veth = _ip("-n", probe, "link", "add", "p0", "type", "veth", "peer", "name", "p1", check=False)
        if veth.returncode != 0:
            return f"cannot create veth pairs inside a namespace: {veth.stderr.strip()}"
    finally:
        _ip("netns", "del", probe, check=False)
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pids_in(ns: str) -> list[int]:
    """Every process whose network namespace is `ns`."""
    result = _ip("netns", "pids", ns, check=False)
    return [int(p) for p in result.stdout.split()] if result.returncode == 0 else []


def _kill_namespace_processes(ns: str, timeout: float = 10.0) -> None:
    for sig in (signal.SIGCONT, signal.SIGTERM):
        for pid in pids_in(ns):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + timeout
    while pids_in(ns) and time.monotonic() < deadline:
        time.sleep(POLL)
    for pid in pids_in(ns):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while pids_in(ns) and time.monotonic() < deadline:
        time.sleep(POLL)


def sweep() -> list[str]:
    """Remove the namespaces (and their processes) of earlier runs whose creating process is gone."""
    removed = []
    listing = _ip("netns", "list", check=False).stdout.split("\n")
    for line in listing:
        name = line.split(" ")[0]
        if not name.startswith(NAME_PREFIX + "-"):
            continue
        try:
            creator = int(name.split("-")[1])
        except (IndexError, ValueError):
            creator = 0
        if creator and _alive(creator) and creator != 0:
            continue
        _kill_namespace_processes(name, timeout=3)
        _ip("netns", "del", name, check=False)
        removed.append(name)
    return removed


class Network:
    """A switch namespace with a bridge, and one namespace per host plugged into it."""

    def __init__(self, hosts: dict[str, str]):
        self.hosts = dict(hosts)              # host name -> address
        self.run = f"{NAME_PREFIX}-{os.getpid()}-{secrets.token_hex(3)}"
        self.switch = f"{self.run}-sw"
        self.procs: list[subprocess.Popen] = []
        self.created: list[str] = []
        self.extra: dict[str, list[str]] = {name: [] for name in hosts}

    # --- lifecycle ---------------------------------------------------------------------------
    def ns(self, host: str) -> str:
        return f"{self.run}-{host}"

    def create(self) -> "Network":
        try:
            self._add_namespace(self.switch)
            sw = ["-n", self.switch]
            _ip(*sw, "link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0")
            _ip(*sw, "link", "set", "br0", "up")
            for index, (host, address) in enumerate(self.hosts.items()):
                ns = self.ns(host)
                self._add_namespace(ns)
                port = f"p{index}"
                _ip(*sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
                _ip(*sw, "link", "set", port, "master", "br0", "up")
                _ip("-n", ns, "addr", "add", f"{address}/{SUBNET_BITS}", "dev", "eth0")
                _ip("-n", ns, "link", "set", "eth0", "up")
                _ip("-n", ns, "link", "set", "lo", "up")
        except BaseException:
            self.destroy()
            raise
        return self

    def _add_namespace(self, name: str) -> None:
        _ip("netns", "add", name)
        self.created.append(name)

    def destroy(self) -> None:
        """Stop every process of every host, then remove the namespaces (the veths and bridge go with them)."""
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    proc.send_signal(signal.SIGCONT)
                except ProcessLookupError:
                    pass
        for name in reversed(self.created):
            _kill_namespace_processes(name)
        for proc in self.procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for name in reversed(self.created):
            _ip("netns", "del", name, check=False)
        self.created.clear()

    def __enter__(self) -> "Network":
        return self.create()

    def __exit__(self, *exc) -> None:
        self.destroy()

    def namespaces(self) -> list[str]:
        return list(self.created)

    # --- addresses and links -----------------------------------------------------------------
    def add_addresses(self, host: str, addresses: Iterable[str]) -> None:
        """More addresses on a host's eth0 (the farm's sites on the head)."""
        lines = "".join(f"addr add {a}/{SUBNET_BITS} dev eth0\n" for a in addresses)
        _ip("-n", self.ns(host), "-batch", "-", input=lines)
        self.extra[host] += list(addresses)

    def _port(self, host: str) -> str:
        return f"p{list(self.hosts).index(host)}"

    def cut(self, host: str) -> None:
        """Pull the host's cable at the switch: its packets are dropped, its sockets see silence."""
        _ip("-n", self.switch, "link", "set", self._port(host), "down")

    def restore(self, host: str) -> None:
        _ip("-n", self.switch, "link", "set", self._port(host), "up")

    def link_up(self, host: str) -> bool:
        out = _ip("-n", self.switch, "-o", "link", "show", self._port(host)).stdout
        return ",UP" in out or "<UP" in out

    # --- processes ---------------------------------------------------------------------------
    def command(self, host: str, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.ns(host), *argv]

    def popen(self, host: str, argv: list[str], *, env: dict | None = None, log: str | Path | None = None,
              cwd: str | Path | None = None, **kwargs) -> subprocess.Popen:
        """Start a process inside a host (`ip netns exec` execs it: the Popen pid is the process itself)."""
        out = open(log, "ab") if log else subprocess.DEVNULL
        try:
            proc = subprocess.Popen(self.command(host, argv), env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, **kwargs)
        finally:
            if log:
                out.close()
        self.procs.append(proc)
        return proc

    def run_in(self, host: str, argv: list[str], *, env: dict | None = None, cwd: str | Path | None = None,
               timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        """Run a command inside a host to its end; output captured as text."""
        result = subprocess.run(self.command(host, argv), env=env, cwd=cwd, capture_output=True, text=True,
                                timeout=timeout, stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} in {host} exited {result.returncode}:\n"
                                 f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def pids(self, host: str) -> list[int]:
        return pids_in(self.ns(host))

    def signal_all(self, host: str, sig: int) -> list[int]:
        pids = self.pids(host)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        return pids

    def freeze(self, host: str) -> list[int]:
        """SIGSTOP every process of the host (as a hung PC would be); returns their pids."""
        return self.signal_all(host, signal.SIGSTOP)

    def thaw(self, host: str) -> list[int]:
        return self.signal_all(host, signal.SIGCONT)

    def stop_all(self, host: str, timeout: float = 15.0) -> None:
        """SIGTERM every process of the host, SIGKILL what is left after `timeout`."""
        _kill_namespace_processes(self.ns(host), timeout)

    def call_in(self, host: str, fn: Callable, *args, **kwargs):
        """Call fn in a thread that has entered the host's network namespace: sockets it creates live
        there (a listening socket keeps its namespace whichever thread later accepts on it)."""
        result: dict = {}

        def target():
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(NETNS_DIR / self.ns(host), os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns into {self.ns(host)}: {os.strerror(err)}")
            finally:
                os.close(fd)
            try:
                result["value"] = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                result["error"] = exc

        thread = threading.Thread(target=target, name=f"netns-{host}")
        thread.start()
        thread.join()
        if "error" in result:
            raise result["error"]
        return result.get("value")
