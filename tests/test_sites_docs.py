"""The worked examples of docs/CONFIGURATION.md are valid site files and do what the text says."""
from __future__ import annotations

import pytest

from conf.schema import validate
from conf.site_examples import EXAMPLES, site_text
from conf.specs import SITE
from conf.yamlsource import parse_yaml
from crawlers.extract import parse_detail, parse_list, post_record, start_requests


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e["title"].split(" (")[0])
def test_every_documented_example_validates_and_extracts(example):
    spec, problems = validate(parse_yaml(site_text(example), "example.yaml"), SITE)
    assert problems == []
    request = start_requests(spec)[0]
    result = parse_list(spec, request, example["page"])
    if spec["kind"] == "board":
        records = [post_record(spec, d["url"], values, parse_detail(spec, example["detail"], d["url"]))
                   for d, values in result.details]
    else:
        records = result.records
    assert [{k: r.get(k) for k in want} for r, want in zip(records, example["expect"])] == example["expect"]
    assert len(records) == len(example["expect"])
    if "follows" in example:
        assert [r["url"] for r in result.lists] == example["follows"] and result.denied_links == 1


def test_the_reference_shows_every_example():
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "CONFIGURATION.md").read_text(encoding="utf-8")
    for example in EXAMPLES:
        assert example["title"] in text and example["yaml"] in text
