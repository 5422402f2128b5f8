"""How far `nugo draft-site` gets on every farm layout: draft from the start URL, crawl the draft unedited
(engine extraction, no Redis), compare with the farm's ground truth field by field.
Run: python3 bench/draft_sites.py  (prints the table of docs/SITES.md)"""
from __future__ import annotations

import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conf.loader import load_site  # noqa: E402
from crawlers.draft_run import draft_site  # noqa: E402
from crawlers.draft_site import write  # noqa: E402
from crawlers.politefetch import PoliteFetcher  # noqa: E402
from farm import Farm  # noqa: E402
from farm.probe import read_site  # noqa: E402

STAFF = ("bureau", "department", "team", "position", "name", "phone", "duties", "email")
POST = ("title", "date", "department", "body", "attachments", "attachment_links", "extra", "pinned", "url")


def _value(record: dict, name: str, kind: str):
    value = record.get(name)
    if name == "date" and value:
        return str(value)[:10] if "T" in str(value) and str(value)[11:16] == "00:00" else str(value)[:16].replace("T", " ")
    if isinstance(value, (list, dict)):
        return repr(value) if value else None
    return value or None


def measure(farm: Farm, site_id: str) -> dict:
    """{family, site, fields: {name: (right, total)}, exact: bool, problems: [...], notes: [...]}"""
    info = next(s for s in farm.sites if s["id"] == site_id)
    url = info["start_urls"][0]
    fetch = PoliteFetcher({"base_url": url, "allow_private_addresses": True}, interval=0.0)
    out = {"family": info["family"], "site": site_id, "fields": {}, "exact": False, "problems": [], "notes": []}
    try:
        draft = draft_site(url, fetch)
    except (OSError, ValueError) as exc:
        out["problems"] = [f"no draft: {exc}"]
        return out
    out["notes"] = draft.notes
    path = Path(tempfile.mkdtemp()) / f"{site_id}.yaml"
    problems = write(draft, path)
    if problems:
        out["problems"] = problems
        return out
    out["yaml"] = path.read_text(encoding="utf-8")
    site = load_site(path, {})
    records = read_site(site.spec)
    kind = info["kind"]
    names = STAFF if kind == "directory" else POST
    truth = [r for r in farm.manifest()["staff" if kind == "directory" else "posts"] if r["site"] == site_id]
    if kind == "board":
        records = list({r["post_id"]: r for r in records}.values())
        for r in truth:
            r["date"] = r["date"]
    for name in names:
        want = Counter(_value(r, name, kind) for r in truth)
        if set(want) == {None}:
            continue
        got = Counter(_value(r, name, kind) for r in records)
        out["fields"][name] = (sum((want & got).values()), len(truth))
    compared = [n for n in names if n in out["fields"]]  # fields the truth has (a draft may read more, e.g. 조회수)
    key = lambda r: tuple(_value(r, n, kind) for n in compared)  # noqa: E731
    out["exact"] = Counter(map(key, records)) == Counter(map(key, truth))
    return out


def families(farm: Farm) -> list[str]:
    seen: dict[str, str] = {}
    for s in farm.sites:
        seen.setdefault(s["family"], s["id"])
    return list(seen.values())


def table(results: list[dict]) -> str:
    rows = ["| family | site | unedited draft = truth | fields right (values right / records) | to edit |", "|---|---|---|---|---|"]
    for r in results:
        fields = ", ".join(f"{n} {a}/{b}" for n, (a, b) in r["fields"].items())
        wrong = [n for n, (a, b) in r["fields"].items() if a < b]
        rows.append(f"| {r['family']} | {r['site']} | {'yes' if r['exact'] else 'no'} | {fields or '-'} | "
                    f"{', '.join(wrong) or ('-' if r['exact'] else '; '.join(r['problems']) or 'record count')} |")
    return "\n".join(rows)


if __name__ == "__main__":
    with Farm(seed=1) as running:
        results = [measure(running, s) for s in families(running)]
    print(table(results))
