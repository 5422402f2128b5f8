"""Documentation stays in step with the code."""
import importlib.util
from pathlib import Path

from conf.env import ENV_VARS

ROOT = Path(__file__).resolve().parent.parent


def test_configuration_reference_is_current():
    spec = importlib.util.spec_from_file_location("gen", ROOT / "docs" / "gen_config_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (ROOT / "docs" / "CONFIGURATION.md").read_text(encoding="utf-8") == module.render(), \
        "run: python3 docs/gen_config_reference.py"


def test_every_environment_variable_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ENV_VARS:
        assert f"`{name}`" in readme


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 -m pytest -q" in readme and "python3 -m pytest -q" in ci
    assert "bash .ci/setup" in readme and "bash .ci/setup" in ci
