"""index.text: the one-pass search form equals folding the cleaned text, on hostile text."""
from __future__ import annotations

import random

from index.text import clean, clean_fold, fold

# every kind of space and control the cleaner handles, Hangul (precomposed and conjoining jamo that NFC
# composes), Latin with combining marks and case
ALPHABET = [chr(c) for c in (*range(0x00, 0x250), *range(0x1100, 0x1200), *range(0x2000, 0x2070), *range(0xAC00, 0xAC40),
                             0x3000, 0xFEFF, 0x85, 0xA0, 0x1680, 0x180E, 0x202F, 0x205F, 0x0303, 0x0130, 0x1E9E)]


def test_clean_fold_equals_fold_of_clean():
    rng = random.Random(20261202)
    for _ in range(20_000):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 16)))
        assert clean_fold(text) == fold(clean(text)), repr(text)
    assert clean_fold(None) == "" and clean_fold(42) == "42"
    assert clean_fold("  청년\u200b 일자리\t정책\x00 ") == "청년일자리정책"
    assert clean_fold("\u1100\u1161 Drone") == "가drone"  # conjoining jamo composed, lower case
