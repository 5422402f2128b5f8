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


def test_the_architecture_page_names_places_that_exist():
    """docs/ARCHITECTURE.md says where each rule lives: every `path`: `Symbol` it names must be there."""
    import ast
    import re

    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    named = 0
    for row in re.findall(r"^\|[^|]+\|([^|]+)\|$", text, re.M):
        for path, symbols in re.findall(r"`([a-z_/]+\.py)`(?::\s*((?:`[\w.]+`(?:,\s*)?)+))?", row):
            assert (ROOT / path).is_file(), path
            tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
            defined = {f"{c.name}.{f.name}" for c in tree.body if isinstance(c, ast.ClassDef)
                       for f in c.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}
            defined |= {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))}
            for symbol in re.findall(r"`([\w.]+)`", symbols):
                assert symbol in defined, f"{path} has no {symbol}"
                named += 1
    assert named >= 10
