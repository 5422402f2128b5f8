"""The `nugo` command line."""
import subprocess
import sys

import pytest

from workers.cli import build_parser, main


def test_every_subcommand_has_help(capsys):
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert {"check-config", "redis", "farm", "demo"} <= set(commands)
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
