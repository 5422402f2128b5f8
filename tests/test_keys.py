"""The key table is complete and its builders refuse parts that could escape their place."""
import importlib.util
import re
from pathlib import Path

import pytest

from conf.keys import TABLE, Keys, known
from crawlers.frontier_lua import SCRIPTS
from crawlers.politeness import CLAIM, RELEASE

ROOT = Path(__file__).resolve().parent.parent


def lua_keys(source: str) -> set[str]:
    """Keys the Lua builds as `P .. ":a:" .. var .. ":b"`, with every variable part given as `x`."""
    out = set()
    for chain in re.findall(r'P((?: \.\. (?:"[^"]*"|[A-Za-z_][A-Za-z_0-9.]*(?:\[[0-9]\])?))+)', source):
        pieces = re.findall(r'"([^"]*)"|([A-Za-z_][A-Za-z_0-9.]*(?:\[[0-9]\])?)', chain)
        out.add("nugo" + "".join(lit if lit or not var else "x" for lit, var in pieces))
    return out


def test_every_key_the_lua_scripts_build_is_in_the_table():
    names = set().union(*(lua_keys(source) for source in SCRIPTS.values()))
    assert len(names) > 15, names
    for key in names:
        assert known("nugo", key), key
    keys = Keys("nugo")
    assert "KEYS[1] .. ':' .. ARGV[1]" in CLAIM + RELEASE  # the gate's slot key: sending:{host}
    assert known("nugo", keys.sending + ":127.0.1.5:8080")


def test_every_builder_gives_a_key_of_the_table():
    keys = Keys("nugo")
    built = [keys.run("seoul-20240501T090000-abc"), keys.run_site("r1"), keys.run_errors("r1"), keys.active,
             keys.site_runs("seoul"), keys.slot("seoul", "20240501T010000"), keys.cancel("seoul"), keys.ready,
             keys.intervals, keys.inflight, keys.workers, keys.poison, keys.counters, keys.queue("127.0.1.5:8080"),
             keys.delayed("www.seoul.go.kr"), keys.done, keys.next, keys.robots("www.seoul.go.kr"),
             keys.collected("seoul-press"), keys.validators("seoul-press"), keys.items, keys.flags,
             keys.notifier("posts"), keys.notifier("alerts", "kim"), keys.feed_tokens, keys.feed_tokens_by_official]
    for key in built:
        assert known("nugo", key), key


@pytest.mark.parametrize("bad", ["../../victim", "a:b", "seoul*", "", "Seoul", "x y", "a" * 65])
def test_hostile_parts_are_refused(bad):
    keys = Keys("nugo")
    with pytest.raises(ValueError):
        keys.site_runs(bad)
    with pytest.raises(ValueError):
        keys.notifier("alerts", bad)


@pytest.mark.parametrize("bad", ["a:b:c", "host/path", "h*", "", "x y"])
def test_hostile_hosts_and_run_ids_are_refused(bad):
    with pytest.raises(ValueError):
        Keys("nugo").queue(bad)
    if bad != "h*":
        with pytest.raises(ValueError):
            Keys("nugo").run(bad + ":")


def test_keys_reference_is_current():
    spec = importlib.util.spec_from_file_location("gen_keys", ROOT / "docs" / "gen_keys.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (ROOT / "docs" / "KEYS.md").read_text(encoding="utf-8") == module.render(), "run: python3 docs/gen_keys.py"
    assert len({s.pattern for s in TABLE}) == len(TABLE)
