"""Benchmark the reverse matcher against one query per topic: new posts against realistic subscriptions.

Run: python bench/bench_match.py [--posts 1000] [--scales 10000 100000 1000000] [--sample 2000] [--learn 1000] [--seed 7]

Posts are tests.synthetic.post_items (press-release-like, title ~30 and body 300-800 characters).
Subscriptions are built from the policy vocabulary of those posts and of the farm (tests.synthetic
FIELDS_/GROUPS/ACTIONS/TOPIC_TAILS, farm.vocab TOPICS and duties): keywords are compounds and phrases
of those parts, broad (드론산업, "청년 일자리", "수소 보급", 청년월세지원) and narrow (드론산업육성).
Popularity is Zipf-like: a few keywords are shared by thousands of officials, most by a handful. Each
official has 1-5 topics: one keyword, a keyword ANDed with a bare noun (드론산업 예산) or another
keyword, an OR of 2-3 keywords; some with a -excluded word, some filtered by region, board kind or
site. A bare noun is never a topic by itself: each occurs in about 19 % of the synthetic posts (their
sentences are templates filled with those nouns), a briefing denser than any real one. The first officials are written as a subscriptions YAML and
read back by notifier.subscription.load_subscriptions, which must give the same objects; the rest
are built as that loader builds them (Topic, parse_query; equal query texts share one parsed Query).

For each scale: the real notifier.match.Matcher is built and matches the posts twice over: cold (a new
matcher that has seen no post, anchoring each topic on its longest terms; one run) and learned (a new
matcher that first learned the term frequencies of `--learn` earlier posts of another seed, as a running
notifier has; fastest of `--repeat` runs), with the candidate checks per post of each; the baseline is
"one query per topic over the new posts" (Topic.accepts and Query.matched_terms on each post, the
brute force of tests/test_notifier.py), timed on a sample of topics and extrapolated linearly to
all topics; the matcher's result on the sampled topics must equal the baseline's, or the bench fails.
Prints markdown tables. `generate` (bench/dense_corpus.py, the dense data of the first version of this
bench, which exercises every query feature on few posts) is used by tests/test_notifier.py.
"""
from __future__ import annotations

import argparse
import gc
import itertools
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dense_corpus import generate  # noqa: E402,F401  (tests/test_notifier.py)
from conf.specs import BOARD_KINDS, REGIONS  # noqa: E402
from conf.yamlsource import MAX_BYTES  # noqa: E402
from farm import vocab  # noqa: E402
from notifier.query import PostFields, Query, QuerySyntaxError, parse_query  # noqa: E402
from notifier.subscription import Subscription, Topic, load_subscriptions  # noqa: E402
from tests.synthetic import ACTIONS, FIELDS_, GIVEN, GROUPS, ORGANIZATIONS, SURNAMES, TOPIC_TAILS, post_items  # noqa: E402

# Words officials exclude (-채용): board words of the posts (notices, events) and a few that never occur.
EXCLUDED = ("채용", "모집", "공고", "입법예고", "설명회", "박람회", "토론회", "포상", "교육생", "축제", "시행규칙", "간담회")
SITES = tuple(f"{org[0]}-{kind}" for org in ORGANIZATIONS for kind in BOARD_KINDS)
TOPIC_COUNTS = ((1, 30), (2, 25), (3, 20), (4, 15), (5, 10))  # topics per official: weight (mean 2.5)
ZIPF = (1.0, 10)  # popularity of the keyword of rank r (from 0): 1 / (r + 10) ** 1.0 (Zipf-Mandelbrot)


def keywords() -> tuple[list[str], list[str], list[str]]:
    """(broad keywords, narrow keywords: their parts joined by spaces; bare nouns), each sorted."""
    fields, groups = list(dict.fromkeys(FIELDS_)), list(dict.fromkeys(GROUPS))
    tails = (*ACTIONS, *TOPIC_TAILS)
    nouns = set(fields) | set(groups)
    broad = {f"{a} {b}" for a in fields for b in fields if a != b}              # 드론 산업
    broad |= {f"{a} {b}" for a in fields for b in tails}                        # 드론 육성, 수소 기반 조성
    broad |= {f"{g} {f}" for g in groups for f in fields}                       # 청년 일자리
    broad |= set(vocab.TOPICS) | set(vocab.SHARED_DUTIES)                        # 청년 일자리 창출, 탄소중립
    broad |= {duty for department in vocab.DEPARTMENTS for duty in department[3]}  # 청년월세지원
    broad -= nouns
    narrow = {f"{a}{b} {t}" for a in fields for b in fields if a != b for t in tails} - broad  # 드론산업 육성
    return sorted(broad), sorted(narrow), sorted(nouns)


def zipf(count: int) -> list[float]:
    exponent, offset = ZIPF
    return list(itertools.accumulate(1.0 / (rank + offset) ** exponent for rank in range(count)))


class SubscriptionMix:
    """Officials with realistic topics, in a fixed order (a smaller scale is a prefix of a larger one)."""

    def __init__(self, seed: int = 7):
        self.rng = random.Random(seed)
        broad, narrow, nouns = keywords()
        # Popularity rank: broad keywords before narrow ones, each in a random order (not by how often
        # a keyword occurs in the posts).
        self.rng.shuffle(broad)
        self.rng.shuffle(narrow)
        self.rng.shuffle(nouns)
        compounds = broad + narrow
        self.compounds, self.nouns = compounds, nouns
        self.compound_weights, self.noun_weights = zipf(len(compounds)), zipf(len(nouns))
        self.queries: dict[str, Query] = {}
        self.count = 0

    def keyword(self) -> str:
        """A multi-part keyword written as one word (드론산업) or, one time in seven, as a "phrase"."""
        text = self.rng.choices(self.compounds, cum_weights=self.compound_weights)[0]
        if " " in text and self.rng.random() < 0.15:
            return f'"{text}"'
        return text.replace(" ", "")

    def noun(self) -> str:
        return self.rng.choices(self.nouns, cum_weights=self.noun_weights)[0]

    def query_text(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.60:
            parts = [self.keyword()]                                    # 드론산업
        elif roll < 0.75:
            parts = [self.keyword(), self.noun()]                       # 드론산업 예산
        elif roll < 0.80:
            parts = [self.keyword(), self.keyword()]                    # 수소충전 "도시 재생"
        else:
            parts = [" OR ".join(self.keyword() for _ in range(rng.randint(2, 3)))]  # 탄소중립 OR 온실가스감축
        if rng.random() < 0.12:
            parts.append("-" + (rng.choice(EXCLUDED) if rng.random() < 0.8 else self.noun()))
        return " ".join(parts)

    def topic(self, taken: set[str]) -> Topic:
        rng = self.rng
        while True:
            text = self.query_text()
            if text in taken:
                continue
            query = self.queries.get(text)
            if query is None:
                try:
                    query = self.queries[text] = parse_query(text)
                except QuerySyntaxError:  # e.g. a word both required and excluded: draw again
                    continue
            break
        taken.add(text)
        regions = frozenset(rng.sample(REGIONS, rng.choice((1, 1, 1, 2)))) if rng.random() < 0.25 else None
        kinds = frozenset(rng.sample(BOARD_KINDS, rng.choice((1, 2)))) if rng.random() < 0.10 else None
        sites = frozenset(rng.sample(SITES, rng.choice((1, 2, 3)))) if rng.random() < 0.03 else None
        return Topic(text, query, sites, regions, kinds)

    def official(self) -> Subscription:
        rng = self.rng
        self.count += 1
        counts, weights = zip(*TOPIC_COUNTS)
        taken: set[str] = set()
        topics = tuple(self.topic(taken) for _ in range(rng.choices(counts, weights)[0]))
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        return Subscription(f"official-{self.count:07d}", f"{name} 주무관", topics)

    def officials(self, count: int) -> list[Subscription]:
        enabled = gc.isenabled()
        gc.disable()  # millions of small objects: full collections would make generation quadratic
        try:
            return [self.official() for _ in range(count)]
        finally:
            if enabled:
                gc.enable()


def realistic(posts: int, subscriptions: int, seed: int = 7) -> tuple[list[dict], list[Subscription]]:
    return post_items(posts, seed=seed), SubscriptionMix(seed).officials(subscriptions)


def to_yaml(subscriptions: list[Subscription]) -> str:
    """The subscriptions file an operator would write (JSON strings are YAML double-quoted scalars)."""
    def q(value: str) -> str:
        return json.dumps(value, ensure_ascii=False)

    lines = ["officials:"]
    for sub in subscriptions:
        lines += [f"  - id: {sub.id}", f"    name: {q(sub.name)}", "    topics:"]
        for topic in sub.topics:
            lines += [f"      - name: {q(topic.name)}", f"        query: {q(topic.query.source)}"]
            for key in ("sites", "regions", "board_kinds"):
                values = getattr(topic, key)
                if values:
                    lines.append(f"        {key}: [{', '.join(q(v) for v in sorted(values))}]")
    return "\n".join(lines) + "\n"


def check_loading_path(subscriptions: list[Subscription]) -> int:
    """Write the largest prefix that fits one subscriptions file, load it, compare; the officials checked."""
    count = len(subscriptions)
    while True:
        text = to_yaml(subscriptions[:count])
        if len(text.encode()) <= MAX_BYTES:
            break
        count = count * MAX_BYTES // len(text.encode()) * 95 // 100
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "subscriptions.yaml"
        path.write_text(text, encoding="utf-8")
        loaded = load_subscriptions(path)
    expected = [replace(sub, file=str(path)) for sub in subscriptions[:count]]
    if loaded != expected:
        bad = next(i for i, (a, b) in enumerate(zip(loaded, expected)) if a != b) if len(loaded) == count else -1
        raise SystemExit(f"FAIL: load_subscriptions disagrees with the generator (official {bad}): "
                         f"{loaded[bad] if bad >= 0 else len(loaded)} != {expected[bad] if bad >= 0 else count}")
    return count


def baseline(posts: list[dict], topics: list[tuple[str, Topic]]) -> tuple[list[tuple], float, float]:
    """One query per topic over the new posts: (matches, time to prepare the posts, time for the topics)."""
    started = time.perf_counter()
    fields = [(post, PostFields(post)) for post in posts]
    prepared = time.perf_counter() - started
    out = []
    started = time.perf_counter()
    for official_id, topic in topics:
        accepts, matched_terms, name = topic.accepts, topic.query.matched_terms, topic.name
        for post, post_fields in fields:
            if accepts(post):
                terms = matched_terms(post_fields)
                if terms is not None:
                    out.append((official_id, name, post["id"], terms))
    return out, prepared, time.perf_counter() - started


def popularity(subscriptions: list[Subscription]) -> dict:
    """How many officials share each positive term (normalized), and the mix of topic shapes."""
    officials: Counter = Counter()
    shapes: Counter = Counter()
    topics = 0
    for sub in subscriptions:
        terms = set()
        for topic in sub.topics:
            topics += 1
            query = topic.query
            terms.update(t.text for t in query.positive_terms)
            shapes["phrase"] += '"' in query.source
            shapes["OR"] += any(len(g) > 1 for g in query.groups)
            shapes["AND"] += len(query.groups) > 1
            shapes["NOT"] += bool(query.excluded)
            shapes["filter"] += bool(topic.sites or topic.regions or topic.board_kinds)
        officials.update(terms)
    counts = sorted(officials.values(), reverse=True)
    return {"terms": len(counts), "top": officials.most_common(3), "median": statistics.median(counts),
            "handful": sum(c <= 5 for c in counts) / len(counts), "thousands": sum(c >= 1000 for c in counts),
            "shapes": {k: v / topics for k, v in shapes.items()}}


def rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def candidates_per_post(matcher, posts: list[dict]) -> float:
    """Mean number of distinct checks a post makes candidates (those whose anchor it hits)."""
    total = 0
    for post in posts:
        chosen: set[int] = set()
        for n in matcher.hits(post):
            chosen.update(matcher.anchors.get(n, ()))
        total += len(chosen)
    return total / max(1, len(posts))


def bench_scale(posts: list[dict], subs: list[Subscription], sample: int, seed: int, repeat: int,
                earlier: list[dict]) -> dict:
    from notifier.match import Matcher

    started = time.perf_counter()
    matcher = Matcher(subs)
    built = time.perf_counter() - started
    # cold: a matcher that has seen no post anchors each check on its longest terms
    cold_candidates = candidates_per_post(matcher, posts[:200])
    gc.collect()
    started = time.perf_counter()
    matcher.match(posts)
    cold = time.perf_counter() - started
    # learned: what a running notifier knows, the term frequencies of earlier posts (another seed); a fresh
    # matcher, since the cold one re-anchored on these very posts at the end of its batch
    del matcher
    gc.collect()
    fresh = Matcher(subs)
    started = time.perf_counter()
    fresh.learn(earlier)
    learned = time.perf_counter() - started
    matcher = fresh
    warm_candidates = candidates_per_post(matcher, posts[:200])
    best = None
    for _ in range(repeat):
        gc.collect()
        started, cpu = time.perf_counter(), time.process_time()
        matches = matcher.match(posts)
        took, cpu = time.perf_counter() - started, time.process_time() - cpu
        if best is None or took < best[0]:
            best = (took, cpu)
    took, cpu = best
    scanned = None
    for _ in range(repeat):  # the matcher's scan alone (normalization and Aho-Corasick), for where the time goes
        started = time.perf_counter()
        for post in posts:
            matcher.hits(post)
        scanned = min(scanned or float("inf"), time.perf_counter() - started)
    all_topics = [(sub.id, topic) for sub in subs for topic in sub.topics]
    chosen = random.Random(seed).sample(all_topics, min(sample, len(all_topics)))
    expected, prepared, evaluated = baseline(posts, chosen)
    keys = {(official_id, topic.name) for official_id, topic in chosen}
    got = sorted(tuple(m) for m in matches if (m[0], m[1]) in keys)
    if got != sorted(expected):
        missing, extra = set(expected) - set(got), set(got) - set(expected)
        raise SystemExit(f"FAIL: the matcher differs from one query per topic on {len(subs):,} subscriptions: "
                         f"{len(missing)} missing (e.g. {sorted(missing)[:2]}), {len(extra)} extra (e.g. {sorted(extra)[:2]})")
    extrapolated = prepared + evaluated * len(all_topics) / len(chosen)
    row = {"subs": len(subs), "topics": matcher.topic_count, "checks": len(matcher.checks) + len(matcher.simple),
           "terms": len(matcher.terms), "build": built, "match": took, "scan": scanned, "cpu": cpu, "rate": len(posts) / took,
           "matches": len(matches), "match_rate": len(matches) / took, "per_post": len(matches) / len(posts),
           "sampled": len(chosen), "sample_time": prepared + evaluated, "sample_matches": len(expected),
           "baseline": extrapolated, "ratio": extrapolated / took, "rss": rss_gb(),
           "cold_rate": len(posts) / cold, "learn": learned, "learned_posts": len(earlier),
           "cold_candidates": cold_candidates, "warm_candidates": warm_candidates}
    row["density"] = 100 * row["per_post"] / row["topics"]
    del matcher, matches
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1000, help="new posts matched in one batch")
    parser.add_argument("--scales", type=int, nargs="+", default=[10_000, 100_000, 1_000_000],
                        help="numbers of subscriptions (officials)")
    parser.add_argument("--sample", type=int, default=2000, help="topics evaluated by the baseline per scale")
    parser.add_argument("--repeat", type=int, default=3, help="match runs per scale (the fastest is reported)")
    parser.add_argument("--learn", type=int, default=1000,
                        help="earlier posts (another seed) whose term frequencies the matcher learns first")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    posts = post_items(args.posts, seed=args.seed)
    earlier = [{**p, "id": f"earlier-{p['id']}"} for p in post_items(args.learn, seed=args.seed + 1000)]
    mix = SubscriptionMix(args.seed)
    subs: list[Subscription] = []
    rows, notes = [], []
    for scale in sorted(args.scales):
        started = time.perf_counter()
        subs += mix.officials(scale - len(subs))
        generated = time.perf_counter() - started
        if not rows:
            checked = check_loading_path(subs)
            notes.append(f"- Loading path: the first {checked:,} officials, written as one subscriptions YAML "
                         "(the loader's 1 MB limit), read back by `load_subscriptions` equal the generated objects.")
        pop = popularity(subs)
        row = bench_scale(posts, subs, args.sample, args.seed, args.repeat, earlier)
        row.update(pop=pop, generated=generated)
        rows.append(row)
        print(f"# {scale:,} subscriptions done (generated in {generated:.1f} s, peak RSS {row['rss']:.2f} GB)",
              file=sys.stderr, flush=True)

    print(f"Command: `{' '.join(['python3', 'bench/bench_match.py', *argv])}`")
    print(f"({args.posts:,} new posts from tests.synthetic.post_items; Python {sys.version.split()[0]}; "
          f"matcher: fastest of {args.repeat} runs after learning the term frequencies of {args.learn:,} earlier posts)\n")
    print("| subscriptions | topics | distinct checks | build (s) | match (s) | match CPU (s) | posts/s | matches "
          "| of which scan (s) | matches/s | topics matched per post | density | one query per topic (s) | speed-up | peak RSS (GB) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['subs']:,} | {r['topics']:,} | {r['checks']:,} | {r['build']:.2f} | {r['match']:.3f} "
              f"| {r['cpu']:.3f} | {r['rate']:,.0f} | {r['matches']:,} | {r['scan']:.3f} | {r['match_rate']:,.0f} | {r['per_post']:,.1f} "
              f"| {r['density']:.3f} % | {r['baseline']:,.0f} | {r['ratio']:,.0f}x | {r['rss']:.1f} |")
    print("\n| subscriptions | cold matcher: posts/s | candidate checks per post | learning (s) "
          "| learned: posts/s | candidate checks per post | matched checks per post |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['subs']:,} | {r['cold_rate']:,.0f} | {r['cold_candidates']:,.0f} | {r['learn']:.2f} "
              f"| {r['rate']:,.0f} | {r['warm_candidates']:,.0f} | {r['per_post']:,.1f} |")
    print("\n| subscriptions | distinct terms | most shared terms (officials) | officials per term, median "
          "| terms with ≤ 5 officials | terms with ≥ 1,000 officials |")
    print("|---:|---:|---|---:|---:|---:|")
    for r in rows:
        pop = r["pop"]
        top = ", ".join(f"{term} ({count:,})" for term, count in pop["top"])
        print(f"| {r['subs']:,} | {pop['terms']:,} | {top} | {pop['median']:g} | {100 * pop['handful']:.0f} % "
              f"| {pop['thousands']:,} |")
    shapes = rows[-1]["pop"]["shapes"]
    print()
    print("- Topics: " + ", ".join(f"{100 * shapes.get(k, 0):.0f} % {label}" for k, label in
                                   (("phrase", "with a phrase"), ("OR", "with OR"), ("AND", "with AND"),
                                    ("NOT", "with a -excluded term"), ("filter", "filtered by region, board kind or site"))))
    print("- Scan: `Matcher.hits` on every post (fields normalized, one Aho-Corasick pass), the part of the "
          "match time that does not depend on how many topics are candidates.")
    print("- Density: mean topics matched per post, as % of all topics. Distinct checks: the distinct "
          "(query, filters) the matcher evaluates (topics sharing one are evaluated once).")
    print("- One query per topic: `Topic.accepts` and `Query.matched_terms` of each topic on each new post "
          "(each post normalized once), timed on a random sample of topics and extrapolated linearly to all "
          "topics; on the sample the matcher's matches equal the baseline's exactly (checked):")
    for r in rows:
        print(f"  {r['subs']:,} subscriptions: {r['sampled']:,} topics in {r['sample_time']:.1f} s, "
              f"{r['sample_matches']:,} matches.")
    print("\n".join(notes))


if __name__ == "__main__":
    main()
