"""The `nugo` command line."""
import subprocess
import sys

import pytest

from workers.cli import build_parser, main


def test_every_subcommand_has_help(capsys):
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert {"check-config", "redis", "worker", "crawl", "index", "search", "serve", "feeds", "digest", "farm", "demo"} <= set(commands)
    for name, sub in commands.items():
        assert sub.format_help().strip(), name
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    assert "누고" in capsys.readouterr().out


def test_check_config_reports_file_line_field(tmp_path):
    sites = tmp_path / "sites"
    sites.mkdir()
    (sites / "broken.yaml").write_text("name: x\norganisation: y\n", encoding="utf-8")
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(f"sites_dirs: [{sites}]\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "workers.cli", "--conf", str(cluster), "check-config"],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert f"{sites}/broken.yaml:2: organisation: unknown key" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_check_config_passes_on_project_configuration():
    proc = subprocess.run([sys.executable, "-m", "workers.cli", "check-config"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "설정 정상" in proc.stdout


def test_crawl_command_seeds_runs_workers_and_summarises(tmp_path):
    """`nugo crawl SITE… --workers N` against the farm, with the embedded Redis it starts itself."""
    import os

    from farm import Farm

    cluster = tmp_path / "cluster.yaml"
    sites = os.path.join(os.path.dirname(__file__), "..", "conf", "sites", "farm")
    cluster.write_text(f"data_dir: {tmp_path}\ndefault_interval: 0.05\nsites_dirs: [{os.path.abspath(sites)}]\n")
    with Farm(seed=1) as farm:
        env = {**os.environ, "NUGO_FARM_PORT": str(farm.port)}
        env.pop("NUGO_REDIS_URL", None)
        base = [sys.executable, "-m", "workers.cli", "--conf", str(cluster)]
        try:
            proc = subprocess.run(base + ["crawl", "seoul", "ulsan-press", "--workers", "2", "--timeout", "120"],
                                  capture_output=True, text=True, env=env, timeout=180)
            assert proc.returncode == 0, proc.stderr[-2000:]
            assert "크롤 시작: 사이트 2개" in proc.stdout
            rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines() if line.startswith(("seoul", "ulsan-press"))}
            assert rows["seoul"][1] == "완료" and int(rows["seoul"][3]) == 161
            assert rows["ulsan-press"][1] == "완료" and int(rows["ulsan-press"][3]) == 31
            unknown = subprocess.run(base + ["crawl", "nowhere"], capture_output=True, text=True, env=env)
            assert unknown.returncode != 0 and "알 수 없는 사이트: nowhere" in unknown.stderr
        finally:
            stopped = subprocess.run(base + ["redis", "stop"], capture_output=True, text=True, env=env)
    assert "멈췄습니다" in stopped.stdout
    assert not (tmp_path / "redis" / "redis.json").exists()
