"""요있다: how big is the QR code of a proof? Version and size at error correction M, read back by zxing-cpp.

    python3 bench/bench_visit_qr.py

Signs each sample claim with a fresh Ed25519 key (the real encoder: CBOR claim, COSE_Sign1, zlib, Base45,
prefix), then reports the text length, the COSE and compressed sizes, the smallest QR version at level M
(segno, no error boost), whether zxing-cpp reads the PNG back, and the time to sign and to verify.
"""
from __future__ import annotations

import io
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import zxingcpp  # noqa: E402
from PIL import Image  # noqa: E402

from visits import codec, qr  # noqa: E402
from visits.claim import Claim  # noqa: E402
from visits.keys import KeyStore  # noqa: E402

PREFIX = "YO1:"
NOW = 1_764_554_400  # 2025-12-01 11:00 KST: a 10-digit time, as every time until 2286
TRIP = dict(trip_id=17, destination=(35.227_100, 128.681_000), radius_m=300)
BASE = dict(official_id="kim-minsu", name="김민수 주무관", organization="경상남도", issued_at=NOW, lat=35.227_912,
            lon=128.681_734, accuracy_m=14, ledger_index=12_345)
SAMPLES = [
    ("typical: trip, name with rank, province", {**BASE, **TRIP}),
    ("no trip", BASE),
    ("trip, organization with its office", {**BASE, **TRIP, "organization": "경상남도 기획조정실"}),
    ("trip, long id, 4-syllable name, city + department",
     {**BASE, **TRIP, "official_id": "namgung-minsu-2", "name": "남궁민수 행정주사보",
      "organization": "창원특례시 스마트혁신과"}),
    ("trip, ledger index in the millions", {**BASE, **TRIP, "ledger_index": 4_000_000}),
]


def measure(store: KeyStore, claim: Claim) -> dict:
    kid, private = store.signer()
    text, cose = codec.encode(claim, kid, private, PREFIX)
    code = qr.make(text, boost=False)
    png = qr.png(text)
    read = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    return {"chars": len(text), "cose": len(cose), "compressed": len(zlib.compress(cose, 9)),
            "version": code.version, "error": code.error, "modules": code.symbol_size(border=0)[0],
            "png": len(png), "read": bool(read) and read[0].text == text}


def timing(store: KeyStore, claim: Claim, rounds: int = 300) -> tuple[float, float]:
    kid, private = store.signer()
    ring = store.keyring()
    sign, verify = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        text, _ = codec.encode(claim, kid, private, PREFIX)
        t1 = time.perf_counter()
        codec.verify(text, ring, PREFIX, now=NOW)
        t2 = time.perf_counter()
        sign.append(t1 - t0)
        verify.append(t2 - t1)
    return statistics.median(sign) * 1000, statistics.median(verify) * 1000


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        store = KeyStore(Path(tmp) / "visits")
        store.rotate(now=NOW - 86_400)  # a key older than the sample claims
        print("| claim | text chars | COSE bytes | zlib bytes | QR (level M) | modules | PNG bytes (scale 6) | zxing reads it |")
        print("|---|---|---|---|---|---|---|---|")
        typical = None
        for name, values in SAMPLES:
            m = measure(store, Claim(**values))
            typical = typical or m
            print(f"| {name} | {m['chars']} | {m['cose']} | {m['compressed']} | version {m['version']}-{m['error']} "
                  f"| {m['modules']}×{m['modules']} | {m['png']:,} | {'yes' if m['read'] else 'NO'} |")
        sign, verify = timing(store, Claim(**SAMPLES[0][1]))
        print(f"\nsign (encode) median {sign:.3f} ms, verify (decode + signature) median {verify:.3f} ms, 300 rounds")
        capacity = 311  # alphanumeric characters of a version-10 symbol at level M (ISO/IEC 18004 table 7)
        print(f"typical claim: {typical['chars']} of the {capacity} characters a version-10-M symbol holds "
              f"({capacity - typical['chars']} to spare: about {(capacity - typical['chars']) * 2 // 3 // 3} more "
              "Korean syllables of name and organization)")
        return 0 if typical["version"] <= 10 else 1


if __name__ == "__main__":
    sys.exit(main())
