"""What is clearly wrong is refused before anything is signed: bad accuracy, outside the area, too fast."""
from __future__ import annotations

import math

import redis

from visits.errors import Rejected
from visits.geo import inside
from visits.korean import metres
from visits.tokens import redis_key

# Atomically: refuse a different place within min_seconds of the last proof, and more than max_per_hour
# proofs in this clock hour; else record this one. ARGV: now, lat, lon, min_seconds, same_place_m,
# max_per_hour. Returns {'ok'} | {'place', age, distance} | {'hour', count}.
_RATE = """
local now, lat, lon = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local last = redis.call('GET', KEYS[1])
if last then
  local ok, data = pcall(cjson.decode, last)
  if ok and type(data) == 'table' and tonumber(data.t) and tonumber(data.lat) and tonumber(data.lon) then
    local age = now - tonumber(data.t)
    if age >= 0 and age < tonumber(ARGV[4]) then
      local r = math.pi / 180
      local dlat, dlon = (lat - data.lat) * r, (lon - data.lon) * r
      local h = math.sin(dlat / 2) ^ 2 + math.cos(lat * r) * math.cos(data.lat * r) * math.sin(dlon / 2) ^ 2
      local distance = 2 * 6371008.8 * math.asin(math.min(1, math.sqrt(h)))
      if distance > tonumber(ARGV[5]) then return {'place', tostring(age), tostring(distance)} end
    end
  end
end
local count = redis.call('INCR', KEYS[2])
if count == 1 then redis.call('EXPIRE', KEYS[2], 3600) end
if count > tonumber(ARGV[6]) then return {'hour', tostring(count)} end
redis.call('SET', KEYS[1], cjson.encode({t = now, lat = lat, lon = lon}), 'EX', tonumber(ARGV[4]))
return {'ok'}
"""


def check_position(lat: float, lon: float, accuracy: float, settings: dict) -> None:
    """Refuse impossible or clearly wrong positions (Rejected, Korean)."""
    if not all(math.isfinite(v) for v in (lat, lon, accuracy)) or not (-90 <= lat <= 90 and -180 <= lon <= 180) \
            or accuracy < 0:
        raise Rejected("위치 값이 올바르지 않습니다.", "bad_position")
    if accuracy > settings["max_accuracy_m"]:
        raise Rejected(f"위치 정확도가 {metres(accuracy)}로, 허용 한도 {metres(settings['max_accuracy_m'])}보다 나쁩니다. "
                       "밖으로 나가거나 GPS를 켜고 다시 시도하세요.", "accuracy")
    if not inside((lat, lon), settings["area"]):
        raise Rejected("보고된 위치가 대한민국 밖입니다. 휴대전화의 위치 설정을 확인하세요.", "outside")


def check_rate(client: redis.Redis, prefix: str, official_id: str, lat: float, lon: float, now: float,
               settings: dict) -> None:
    """Refuse a second proof for a different place within seconds, and floods; records this request."""
    hour = int(now // 3600)
    keys = [redis_key("last", prefix, official=official_id), redis_key("hour", prefix, official=official_id, hour=hour)]
    result = [x.decode() if isinstance(x, bytes) else str(x) for x in client.eval(
        _RATE, 2, *keys, repr(float(now)), repr(lat), repr(lon), settings["min_seconds_between_places"],
        settings["same_place_m"], settings["max_per_hour"])]
    if result[0] == "place":
        raise Rejected(f"{float(result[1]):.0f}초 전에 {metres(float(result[2]))} 떨어진 다른 곳의 증빙을 받았습니다. "
                       f"{settings['min_seconds_between_places']}초 안에 서로 다른 곳의 증빙은 받을 수 없습니다.", "too_fast")
    if result[0] == "hour":
        raise Rejected(f"한 시간에 받을 수 있는 증빙 {settings['max_per_hour']}건을 넘었습니다. 잠시 뒤 다시 시도하세요.",
                       "too_many")
