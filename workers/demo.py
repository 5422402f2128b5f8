"""`nugo demo`: the whole product on one machine, against the site farm, with no command typed after it.

It is `nugo up` with the site farm running in the same process, schedules shortened so something
happens while you watch (directories at once and then nightly, boards every minute), and sample news
published on the farm every minute, so the example officials' feeds fill up.
"""
from __future__ import annotations

from pathlib import Path

from conf.loader import PROJECT_DIR, load_cluster

# Sample news the demo publishes on farm boards, so the example officials' feeds fill up while it runs.
SAMPLE_NEWS = [
    ("gyeongnam-press", "경남도, 드론 실증 특구 확대 지정", "경상남도는 드론산업육성을 위해 실증 특구를 넓힌다고 밝혔다."),
    ("busan-announce", "청년 일자리 박람회 참가 기업 모집", "부산광역시는 청년 일자리 박람회에 참가할 기업을 모집한다."),
    ("korea-kr-press", "탄소중립 이행 점검 회의 개최", "정부는 온실가스 감축 목표 이행을 점검했다."),
    ("seoul-press", "수소 충전소 확충 계획 발표", "서울시는 수소 충전소를 두 배로 늘린다고 밝혔다."),
    ("jeju-press", "저출생 대응 출산 지원 확대", "제주도는 저출생 대책으로 출산 지원금을 늘린다."),
]


def demo_conf(conf: str | None, cycle: float) -> Path:
    """A cluster.yaml for the demo: the project's settings with boards every `cycle` seconds."""
    import yaml

    cluster = load_cluster(conf)
    base = Path(cluster.conf_path or PROJECT_DIR / "conf" / "cluster.yaml")
    data = (yaml.safe_load(base.read_text(encoding="utf-8")) if base.exists() else None) or {}
    data.update(data_dir=str(cluster.data_path), sites_dirs=[str(p) for p in cluster.sites_paths],
                subscriptions=str(cluster.subscriptions_path), board_schedule=f"every {int(cycle)}s")
    folder = cluster.data_path / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cluster.yaml"
    path.write_text("# written by nugo demo from " + str(base) + "\n" + yaml.safe_dump(data, allow_unicode=True),
                    encoding="utf-8")
    return path


def run_demo(conf: str | None, *, seed: int = 1, farm_port: int = 0, web_port: int | None = None, workers: int = 2,
             cycle: float = 60.0) -> int:
    from conf.connection import redis_client
    from notifier.subscription import load_subscriptions
    from notifier.tokens import ensure_tokens
    from workers.up import run_up

    path = demo_conf(conf, cycle)
    cluster = load_cluster(path)
    officials = load_subscriptions(cluster.subscriptions_path) if cluster.subscriptions_path.exists() else []
    tokens = ensure_tokens(redis_client(cluster), cluster.key_prefix, [o.id for o in officials])
    root = cluster.public_url if web_port is None else cluster.public_url.rsplit(":", 1)[0] + f":{web_port}"
    print("누고 · 어딨노 데모: 사이트 농장을 크롤하고 색인한 뒤, 게시판을 "
          f"{cycle:g}초마다 다시 수집하고 농장에 예시 보도자료를 올립니다.")
    for official in officials:
        print(f"  {official.name:<12} 개인 피드: {root}/feeds/{tokens[official.id]}.rss")
    if officials:
        print(f"  피드 리더로 읽기: echo {root}/feeds/{tokens[officials[0].id]}.rss > urls && newsboat -u urls")
    return run_up(str(path), crawl_workers=workers, web_port=web_port, farm_port=farm_port, news_every=cycle)
