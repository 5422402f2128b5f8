"""Configuration: every problem names file, line and field; valid files load."""
from pathlib import Path

import pytest

from conf.loader import check_config, load_cluster, load_site, load_sites
from conf.yamlsource import ConfigError

VALID = """\
name: 테스트 직원검색
organization: 테스트도
region: 경남
kind: directory
base_url: http://127.0.0.1:${FARM_PORT}
start:
  - url: /staff/list.do
list:
  rows: table.staff tbody tr
  fields:
    name: td.name
    duties: td.duties
"""


def write(tmp_path: Path, text: str, name: str = "test-site.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path, variables=None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_site(path, {"FARM_PORT": "8000"} if variables is None else variables)
    return info.value.problems


def test_valid_site_loads_with_defaults(tmp_path):
    site = load_site(write(tmp_path, VALID), {"FARM_PORT": "8000"})
    assert site.id == "test-site"
    assert site["base_url"] == "http://127.0.0.1:8000"
    assert site["start"] == [{"url": "/staff/list.do", "method": "GET", "formdata": {}}]
    assert site["list"]["fields"]["name"]["css"] == "td.name"
    assert site["encoding"] == "auto" and site["max_pages"] == 5000


def test_bad_indentation_names_file_and_line(tmp_path):
    path = write(tmp_path, VALID.replace("  rows: table", "   rows: table"))
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:10: YAML syntax error")


def test_unknown_key_is_an_error_with_line_and_field(tmp_path):
    path = write(tmp_path, VALID.replace("kind: directory", "kind: directory\nschedul: '0 1 * * *'"))
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:5: schedul: unknown key")
    assert "did you mean 'schedule'" in problem


def test_missing_field_is_named(tmp_path):
    path = write(tmp_path, VALID.replace("organization: 테스트도\n", ""))
    [problem] = problems_of(path)
    assert f"{path}:1: (file): missing required field 'organization'" == problem


def test_bad_regex_and_selector_are_named(tmp_path):
    text = VALID.replace("    duties: td.duties", "    duties: {css: 'td..duties'}\n    phone: {css: td.phone, regex: '(\\d+'}")
    path = write(tmp_path, text)
    problems = problems_of(path)
    assert any(p.startswith(f"{path}:12: list.fields.duties.css: invalid CSS selector") for p in problems), problems
    assert any(p.startswith(f"{path}:13: list.fields.phone.regex: invalid regular expression") for p in problems), problems


def test_bad_xpath_rows_and_choice(tmp_path):
    text = VALID.replace("rows: table.staff tbody tr", "rows: 'xpath://tr[@'").replace("region: 경남", "region: 화성")
    problems = problems_of(write(tmp_path, text))
    assert any(":3: region: must be one of" in p for p in problems)
    assert any(":9: list.rows: invalid XPath" in p for p in problems)


def test_unknown_variable_is_reported(tmp_path):
    problems = problems_of(write(tmp_path, VALID), variables={})
    assert any(":5: base_url: unknown variable ${FARM_PORT}" in p for p in problems)


def test_unknown_record_field_for_kind(tmp_path):
    problems = problems_of(write(tmp_path, VALID.replace("    name: td.name", "    title: td.name")))
    assert any(":11: list.fields.title: unknown directory field" in p for p in problems)


def test_all_problems_of_a_folder_are_reported_together(tmp_path):
    write(tmp_path, VALID, "good.yaml")
    write(tmp_path, VALID.replace("kind: directory", "kind: staff"), "bad-one.yaml")
    write(tmp_path, "name: [unclosed", "bad-two.yaml")
    with pytest.raises(ConfigError) as info:
        load_sites(tmp_path, {"FARM_PORT": "1"})
    text = str(info.value)
    assert "bad-one.yaml:4: kind: must be one of" in text and "bad-two.yaml:1: YAML syntax error" in text


def test_cluster_unknown_key_and_env_override(tmp_path):
    path = write(tmp_path, "redis_url:\nlease_secnds: 3\n", "cluster.yaml")
    with pytest.raises(ConfigError) as info:
        load_cluster(path)
    assert f"{path}:2: lease_secnds: unknown key" in str(info.value)
    from conf.env import read_environment

    ok = write(tmp_path, "data_dir: /tmp/x\n", "ok.yaml")
    cluster = load_cluster(ok, read_environment({"NUGO_REDIS_URL": "redis://h:1/0", "NUGO_REDIS_PASSWORD": "s3"}))
    assert cluster.redis_url == "redis://h:1/0" and cluster.redis_password == "s3"
    assert str(cluster.data_path) == "/tmp/x"


def test_project_configuration_is_valid():
    problems, _ = check_config(variables={"FARM_PORT": "8000"})
    assert problems == []
