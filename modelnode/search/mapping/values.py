"""How field values are read: numbers, booleans, keywords, dates (formats, time zones, date math),
and the two problem types (``_Problem`` for a bad mapping, ``ValueProblem`` for a bad value).
Shared with the field indexes and queries, which import them through ``modelnode.search.mapping``."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelnode.errors import IllegalArgument

from .types import _DYNAMIC_SLASH_DATE_FORMAT, DEFAULT_DATE_FORMAT, INTEGER_TYPES


class _Problem(IllegalArgument):
    """A mapping problem found while parsing; ``Mapping.parse``/``add`` wrap it as OpenSearch does
    (``mapper_parsing_exception``: "Failed to parse mapping [_doc]: ..."). Raised elsewhere (a bad
    ``format`` in a range query) it is an ordinary 400 ``illegal_argument_exception``."""

    def __init__(self, reason: str, cause_type: str = "mapper_parsing_exception") -> None:
        super().__init__(reason)
        self.cause_type = cause_type


class ValueProblem(Exception):
    """A document value a field cannot take; ``cause_type``/``reason`` are OpenSearch's caused_by."""

    def __init__(self, reason: str, cause_type: str = "illegal_argument_exception") -> None:
        super().__init__(reason)
        self.reason = reason
        self.cause_type = cause_type


# -- small converters shared with the field indexes and queries ------------------------------------


def java_string(value: Any) -> str:
    """How OpenSearch prints a parsed JSON value in messages (Java's ``toString`` of maps and lists)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={java_string(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(java_string(v) for v in value) + "]"
    return str(value)


def parse_bool_param(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise _Problem(f"Failed to parse value [{java_string(value)}] as only [true] or [false] are allowed.", what)


def keyword_value(value: Any) -> str:
    """A scalar as the string a keyword/text field indexes (``true``, ``42``, ``4.5``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    raise ValueProblem(f"Can't get text on a {'START_OBJECT' if isinstance(value, dict) else 'START_ARRAY'}")


def parse_boolean(value: Any) -> bool:
    """OpenSearch's boolean field: JSON booleans, ``"true"``/``"false"``, and ``""`` (false)."""
    if isinstance(value, bool):
        return value
    if value == "true":
        return True
    if value in ("false", ""):
        return False
    raise ValueProblem(f"Failed to parse value [{java_string(value)}] as only [true] or [false] are allowed.")


def parse_number(
    field_type: str, value: Any, *, coerce: bool = True, scaling_factor: float | None = None
) -> int | float:
    """A JSON value as the number a numeric field stores (``float`` rounded to float32, ``half_float``
    to float16, ``scaled_float`` to a multiple of 1/scaling_factor), or ``ValueProblem``."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueProblem(
            f"Current token ({_token_name(value)}) not numeric, can not use numeric value accessors",
            "json_parse_exception" if not isinstance(value, dict | list) else "illegal_argument_exception",
        )
    if field_type in INTEGER_TYPES:
        lo, hi, name = INTEGER_TYPES[field_type]
        if isinstance(value, str):
            text = value.strip()
            try:
                number: int | float = int(text)
            except ValueError:
                try:
                    f = float(text)
                except ValueError:
                    raise ValueProblem(f'For input string: "{value}"', "number_format_exception") from None
                if not coerce or not math.isfinite(f):
                    raise ValueProblem(f'For input string: "{value}"', "number_format_exception") from None
                number = f
        else:
            number = value
        if isinstance(number, float):
            if not math.isfinite(number):
                raise ValueProblem(f"Value [{java_string(number)}] is out of range for {name}")
            if not coerce and number != int(number):
                raise ValueProblem(f"Value [{number}] has a decimal part")
            if number < lo or number > hi:
                raise ValueProblem(f"Value [{number}] is out of range for {name}")
            number = int(number)  # truncates toward zero, like OpenSearch's coercion
        if number < lo or number > hi:
            raise ValueProblem(f"Value [{number}] is out of range for {name}")
        return number
    if isinstance(value, str):
        try:
            f = float(value.strip())
        except ValueError:
            raise ValueProblem(f'For input string: "{value}"', "number_format_exception") from None
    else:
        f = float(value)
    if field_type == "float":
        f = float(np.float32(f)) if abs(f) <= 3.4028234663852886e38 else math.inf * (1 if f > 0 else -1)
    elif field_type == "half_float":
        f = float(np.float16(f)) if abs(f) <= 65504.0 else math.inf * (1 if f > 0 else -1)
    if not math.isfinite(f):
        raise ValueProblem(f"[{field_type}] supports only finite values, but got [{java_string(value)}]")
    if field_type == "scaled_float" and scaling_factor:
        f = _java_round(f * scaling_factor) / scaling_factor
    return f


def _java_round(x: float) -> int:
    return math.floor(x + 0.5)


def _token_name(value: Any) -> str:
    if isinstance(value, bool):
        return "VALUE_TRUE" if value else "VALUE_FALSE"
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    if value is None:
        return "VALUE_NULL"
    return "VALUE_STRING"


# -- dates -------------------------------------------------------------------------------------------

_UNIT_ORDER = ["year", "month", "day", "hour", "minute", "second", "milli"]
_ISO_DATE = re.compile(
    r"(?P<y>[+-]?\d{4,9})(?:-(?P<M>\d{1,2})(?:-(?P<d>\d{1,2})"
    r"(?:T(?P<H>\d{1,2})(?::(?P<m>\d{1,2})(?::(?P<s>\d{1,2})(?:[.,](?P<S>\d{1,9}))?)?)?)?)?)?"
    r"(?P<z>Z|[+-]\d{2}(?::?\d{2})?)?"
)
_STRICT_ISO_DATE = re.compile(
    r"(?P<y>\d{4})(?:-(?P<M>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2})(?::(?P<m>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<S>\d{1,9}))?)?)?)?)?)?"
    r"(?P<z>Z|[+-]\d{2}(?::?\d{2})?)?"
)


def _java_pattern_regex(pattern: str) -> re.Pattern[str]:
    """A Java DateTimeFormatter pattern (the common letters) as a regex with named groups."""
    out: list[str] = []
    i = 0
    letters = {
        "y": ("y", r"\d{4}", r"\d{2}"),
        "u": ("y", r"\d{4}", r"\d{2}"),
        "M": ("M", r"\d{2}", r"\d{1,2}"),
        "d": ("d", r"\d{2}", r"\d{1,2}"),
        "H": ("H", r"\d{2}", r"\d{1,2}"),
        "m": ("m", r"\d{2}", r"\d{1,2}"),
        "s": ("s", r"\d{2}", r"\d{1,2}"),
    }
    while i < len(pattern):
        ch = pattern[i]
        if ch == "'":
            j = pattern.find("'", i + 1)
            if j < 0:
                raise _Problem(f"Invalid format: [{pattern}]: Pattern ends with an incomplete string literal")
            out.append(re.escape(pattern[i + 1 : j]) if j > i + 1 else "'")
            i = j + 1
            continue
        if ch.isalpha():
            j = i
            while j < len(pattern) and pattern[j] == ch:
                j += 1
            count = j - i
            if ch in letters:
                group, wide, narrow = letters[ch]
                if group == "y" and count == 2:
                    out.append(rf"(?P<yy>{narrow})")
                else:
                    out.append(rf"(?P<{group}>{wide if count >= 2 else narrow})")
            elif ch == "S":
                out.append(rf"(?P<S>\d{{{count}}})")
            elif ch in "ZXx":
                out.append(r"(?P<z>Z|[+-]\d{2}(?::?\d{2})?)")
            else:
                raise _Problem(f"Invalid format: [{pattern}]: Unknown pattern letter: {ch}")
            i = j
            continue
        out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out))


_NAMED_FORMATS: dict[str, str] = {
    "strict_date": "yyyy-MM-dd",
    "date": "yyyy-MM-dd",
    "basic_date": "yyyyMMdd",
    "strict_date_hour_minute_second": "yyyy-MM-dd'T'HH:mm:ss",
    "date_hour_minute_second": "yyyy-MM-dd'T'HH:mm:ss",
    "strict_date_hour_minute": "yyyy-MM-dd'T'HH:mm",
    "date_hour_minute": "yyyy-MM-dd'T'HH:mm",
    "strict_year_month": "yyyy-MM",
    "year_month": "yyyy-MM",
    "strict_year": "yyyy",
    "year": "yyyy",
    "strict_hour_minute_second": "HH:mm:ss",
    "hour_minute_second": "HH:mm:ss",
}
_ISO_NAMED = {
    "strict_date_optional_time": _STRICT_ISO_DATE,
    "strict_date_optional_time_nanos": _STRICT_ISO_DATE,
    "strict_date_time": _STRICT_ISO_DATE,
    "strict_date_time_no_millis": _STRICT_ISO_DATE,
    "date_optional_time": _ISO_DATE,
    "date_time": _ISO_DATE,
    "date_time_no_millis": _ISO_DATE,
    "iso8601": _ISO_DATE,
}


@dataclass(frozen=True)
class _Parsed:
    millis: int
    unit: str  # the finest component given: year .. milli


class DateFormat:
    """``format`` of a date field: alternatives joined by ``||`` (named formats, Java patterns,
    ``epoch_millis``, ``epoch_second``)."""

    def __init__(self, spec: str | None = None) -> None:
        self.spec = spec or DEFAULT_DATE_FORMAT
        self._parsers: list[Callable[[str, dt.tzinfo], _Parsed | None]] = []
        for part in self.spec.split("||"):
            name = part.strip()
            if name in ("epoch_millis", "epoch_second"):
                self._parsers.append(_epoch_parser(name == "epoch_second"))
            elif name in _ISO_NAMED:
                self._parsers.append(_regex_parser(_ISO_NAMED[name]))
            else:
                self._parsers.append(_regex_parser(_java_pattern_regex(_NAMED_FORMATS.get(name, name))))

    def parse(self, value: Any, tz: dt.tzinfo = dt.UTC) -> _Parsed:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueProblem(f"failed to parse date field [{java_string(value)}] with format [{self.spec}]")
        text = str(value) if not isinstance(value, float) else repr(value)
        if isinstance(value, int | float) and any(p in self.spec for p in ("epoch_millis", "epoch_second")):
            text = str(int(value)) if isinstance(value, int) or value == int(value) else repr(value)
        for parser in self._parsers:
            parsed = parser(text, tz)
            if parsed is not None:
                return parsed
        raise ValueProblem(f"failed to parse date field [{text}] with format [{self.spec}]")

    def millis(self, value: Any) -> int:
        return self.parse(value).millis


def _epoch_parser(seconds: bool) -> Callable[[str, dt.tzinfo], _Parsed | None]:
    pattern = re.compile(r"-?\d+(?:\.\d+)?")

    def parse(text: str, tz: dt.tzinfo) -> _Parsed | None:
        if not pattern.fullmatch(text):
            return None
        number = float(text) if "." in text else int(text)
        millis = number * 1000 if seconds else number
        return _Parsed(math.floor(millis), "second" if seconds and "." not in text else "milli")

    return parse


def _regex_parser(regex: re.Pattern[str]) -> Callable[[str, dt.tzinfo], _Parsed | None]:
    def parse(text: str, tz: dt.tzinfo) -> _Parsed | None:
        m = regex.fullmatch(text)
        if m is None:
            return None
        g = m.groupdict()
        year = int(g["y"]) if g.get("y") else (2000 + int(g["yy"]) if g.get("yy") else 1970)
        fields = [("M", "month", 1), ("d", "day", 1), ("H", "hour", 0), ("m", "minute", 0), ("s", "second", 0)]
        unit = "year" if (g.get("y") or g.get("yy")) else "day"
        values: dict[str, int] = {}
        for key, name, default in fields:
            v = g.get(key)
            if v is not None:
                values[name] = int(v)
                unit = name
            else:
                values[name] = default
        frac = g.get("S")
        micros = 0
        if frac:
            micros = int((frac + "000000")[:6])
            unit = "milli"
        zone = g.get("z")
        tzinfo = _parse_offset(zone) if zone else tz
        try:
            moment = dt.datetime(
                year, values["month"], values["day"], values["hour"], values["minute"], values["second"], micros
            )
        except ValueError:
            return None
        moment = moment.replace(tzinfo=tzinfo)
        return _Parsed(_to_millis(moment), unit)

    return parse


def _parse_offset(zone: str) -> dt.tzinfo:
    if zone == "Z":
        return dt.UTC
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))


def parse_time_zone(value: Any) -> dt.tzinfo:
    """``time_zone`` of a range query: ``+01:00``, ``-0800``, ``Z``, ``UTC`` or an IANA name."""
    if not isinstance(value, str) or not value:
        raise IllegalArgument(f"Invalid time zone [{java_string(value)}]")
    if value in ("Z", "UTC", "GMT"):
        return dt.UTC
    if re.fullmatch(r"[+-]\d{2}(:?\d{2})?", value):
        return _parse_offset(value)
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(value)
    except Exception:
        raise IllegalArgument(f"Unknown time-zone ID: {value}") from None


def _to_millis(moment: dt.datetime) -> int:
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def millis_to_iso(millis: int) -> str:
    """Epoch millis as ``strict_date_optional_time`` output (``2015-01-01T12:10:30.000Z``)."""
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=millis)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_MATH = re.compile(r"([+-])(\d+)([yMwdhHms])|/([yMwdhHms])")
_UNIT_NAMES = {"y": "year", "M": "month", "w": "week", "d": "day", "h": "hour", "H": "hour", "m": "minute"}
_UNIT_NAMES["s"] = "second"


def parse_date_math(
    value: Any,
    date_format: DateFormat,
    *,
    round_up: bool = False,
    tz: dt.tzinfo = dt.UTC,
    now_ms: int | None = None,
) -> int:
    """A range bound on a date field: a date in the field's format, ``now``, or date math
    (``now-1d/d``, ``2024-01-01||+1M``). ``round_up`` (``gt``/``lte``) rounds to the last millisecond
    of the rounding unit and fills a partial date's missing fields with their maximum, as OpenSearch."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return date_format.parse(value, tz).millis
    if not isinstance(value, str):
        raise ValueProblem(f"failed to parse date field [{java_string(value)}] with format [{date_format.spec}]")
    if value.startswith("now"):
        anchor = now_ms if now_ms is not None else _to_millis(dt.datetime.now(dt.UTC))
        rest = value[3:]
    elif "||" in value:
        date_part, rest = value.split("||", 1)
        anchor = date_format.parse(date_part, tz).millis
    else:
        parsed = date_format.parse(value, tz)
        if round_up and parsed.unit != "milli":
            return _round(parsed.millis, parsed.unit, tz, up=True)
        return parsed.millis
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=anchor)
    moment = moment.astimezone(tz)
    pos = 0
    while pos < len(rest):
        m = _MATH.match(rest, pos)
        if m is None:
            raise ValueProblem(f"operation [{rest[pos:]}] is not supported in date math [{value}]", "parse_exception")
        pos = m.end()
        if m.group(4):
            moment = _floor(moment, _UNIT_NAMES[m.group(4)])
            if round_up:
                moment = _ceil_last_milli(moment, _UNIT_NAMES[m.group(4)])
            continue
        amount = int(m.group(2)) * (1 if m.group(1) == "+" else -1)
        moment = _add(moment, _UNIT_NAMES[m.group(3)], amount)
    return _to_millis(moment)


def _floor(moment: dt.datetime, unit: str) -> dt.datetime:
    if unit == "year":
        return moment.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "month":
        return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "week":
        start = moment - dt.timedelta(days=moment.weekday())
        return start.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "day":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    if unit == "minute":
        return moment.replace(second=0, microsecond=0)
    return moment.replace(microsecond=0)


def _add(moment: dt.datetime, unit: str, amount: int) -> dt.datetime:
    if unit in ("year", "month"):
        months = moment.month - 1 + amount * (12 if unit == "year" else 1)
        year, month = moment.year + months // 12, months % 12 + 1
        day = min(moment.day, _days_in_month(year, month))
        return moment.replace(year=year, month=month, day=day)
    seconds = {"week": 604800, "day": 86400, "hour": 3600, "minute": 60, "second": 1}[unit]
    return moment + dt.timedelta(seconds=seconds * amount)


def _days_in_month(year: int, month: int) -> int:
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return (nxt - dt.timedelta(days=1)).day


def _ceil_last_milli(floored: dt.datetime, unit: str) -> dt.datetime:
    return _add(floored, unit, 1) - dt.timedelta(milliseconds=1)


def _round(millis: int, unit: str, tz: dt.tzinfo, *, up: bool) -> int:
    moment = (dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=millis)).astimezone(tz)
    moment = _floor(moment, unit)
    if up:
        moment = _ceil_last_milli(moment, unit)
    return _to_millis(moment)


def _looks_like_date(value: str) -> str | None:
    """Date detection for dynamic mapping: the ``format`` to map with, or None (not a date)."""
    if len(value) < 8 or not value[:4].isdigit():
        return None
    if _STRICT_ISO_DATE.fullmatch(value) and re.match(r"\d{4}-\d{2}-\d{2}", value):
        return DEFAULT_DATE_FORMAT
    if re.fullmatch(r"\d{4}/\d{2}/\d{2}(?: \d{2}:\d{2}:\d{2})?", value):
        return _DYNAMIC_SLASH_DATE_FORMAT
    return None
