"""The one definition of Seoul time: every date a site writes, every schedule and every date shown."""
from zoneinfo import ZoneInfo

from conf.defaults import TIMEZONE

SEOUL = ZoneInfo(TIMEZONE)
