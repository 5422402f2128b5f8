"""What is refused before anything is signed: the area, accuracy, rate limits; and the settings themselves."""
from __future__ import annotations

import pytest

from visits.errors import Rejected
from visits.geo import distance_m, inside
from visits.guard import check_position, check_rate
from visits.settings import DEFAULTS, KOREA_AREA, resolve

IN_KOREA = {"서울시청": (37.5663, 126.9779), "부산": (35.1796, 129.0756), "제주": (33.4996, 126.5312),
            "마라도": (33.1171, 126.2669), "독도": (37.2426, 131.8669), "울릉도": (37.4845, 130.9057),
            "백령도": (37.9670, 124.6300), "연평도": (37.6650, 125.6990), "교동도": (37.7800, 126.2700),
            "강화": (37.7470, 126.4880), "파주": (37.7600, 126.7800), "고성": (38.3800, 128.4680),
            "가거도": (34.0700, 125.1100), "거제": (34.8800, 128.6200), "철원": (38.1460, 127.3130)}
OUTSIDE = {"Tokyo": (35.6812, 139.7671), "Tsushima": (34.40, 129.33), "Fukuoka": (33.5902, 130.4017),
           "Pyongyang": (39.0392, 125.7625), "Kaesong": (37.9700, 126.5500), "Haeju": (38.04, 125.71),
           "Beijing": (39.90, 116.40), "Shanghai": (31.23, 121.47), "Wonsan": (39.15, 127.44), "zero": (0.0, 0.0),
           "swapped Seoul": (126.9779, 37.5663)}


@pytest.mark.parametrize("name", IN_KOREA)
def test_places_in_korea_are_inside_the_area(name):
    """Catches an area that refuses officials on the islands and the border counties."""
    assert inside(IN_KOREA[name], KOREA_AREA)


@pytest.mark.parametrize("name", OUTSIDE)
def test_places_outside_korea_are_not(name):
    """Catches an area (or a bounding box) that lets Japan, China, the North, 0/0 or swapped coordinates in."""
    assert not inside(OUTSIDE[name], KOREA_AREA)


def test_distance_is_right_within_a_metre():
    """Catches a wrong distance formula (degrees as metres, swapped axes)."""
    assert abs(distance_m((37.5663, 126.9779), (35.1796, 129.0756)) - 325_000) < 2_000  # Seoul-Busan ~325 km
    assert abs(distance_m((35.0, 128.0), (35.001, 128.0)) - 111.2) < 1


def test_accuracy_limit_and_impossible_values():
    """Catches an accuracy limit off by its boundary, and NaN or negative values passing."""
    settings = resolve()
    check_position(*IN_KOREA["부산"], 149.0, settings)
    for lat, lon, accuracy, code in [(*IN_KOREA["부산"], 151.0, "accuracy"), (float("nan"), 1.0, 1.0, "bad_position"),
                                     (*IN_KOREA["부산"], -1.0, "bad_position"), (*OUTSIDE["Tokyo"], 5.0, "outside")]:
        with pytest.raises(Rejected) as caught:
            check_position(lat, lon, accuracy, settings)
        assert caught.value.code == code


def test_rate_limits_per_official(redis_client, prefix):
    """Different places within seconds are refused, the same place is not, and the hourly cap holds."""
    settings = resolve({"min_seconds_between_places": 60, "max_per_hour": 3})
    check_rate(redis_client, prefix, "kim-minsu", *IN_KOREA["부산"], 1000.0, settings)
    check_rate(redis_client, prefix, "kim-minsu", IN_KOREA["부산"][0] + 0.001, IN_KOREA["부산"][1], 1010.0, settings)
    with pytest.raises(Rejected) as caught:
        check_rate(redis_client, prefix, "kim-minsu", *IN_KOREA["서울시청"], 1020.0, settings)
    assert caught.value.code == "too_fast" and "10초 전" in caught.value.reason
    check_rate(redis_client, prefix, "lee-seoyeon", *IN_KOREA["서울시청"], 1020.0, settings)  # someone else
    check_rate(redis_client, prefix, "kim-minsu", *IN_KOREA["부산"], 1030.0, settings)
    with pytest.raises(Rejected) as caught:
        check_rate(redis_client, prefix, "kim-minsu", *IN_KOREA["부산"], 1040.0, settings)
    assert caught.value.code == "too_many"


def test_a_planted_last_position_does_not_break_the_rate_check(redis_client, prefix):
    """Redis values are hostile input: a non-JSON or odd value is ignored by the Lua check, not an error."""
    settings = resolve()
    for planted in ("not json", '{"t": "x"}', "[1,2]", '{"t": 1e309, "lat": 0, "lon": 0}'):
        redis_client.set(f"{prefix}:visit:last:kim-minsu", planted)
        check_rate(redis_client, prefix, "kim-minsu", *IN_KOREA["부산"], 1000.0, settings)


def test_settings_are_checked():
    """Catches misspelt or nonsensical settings being accepted silently."""
    assert resolve() == resolve({}) and set(DEFAULTS) == set(resolve())
    for bad in ({"nope": 1}, {"max_accuracy_m": -5}, {"max_per_hour": 1.5}, {"qr_prefix": "yo1:"},
                {"area": [[1, 2]]}, {"min_seconds_between_places": True}):
        with pytest.raises(ValueError):
            resolve(bad)
    assert resolve({"area": [[0, 0], [0, 1], [1, 1]]})["area"] == ((0.0, 0.0), (0.0, 1.0), (1.0, 1.0))
