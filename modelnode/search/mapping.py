"""Index mappings and settings: parse, validate, dynamic mapping, and how each field type reads values.

``Mapping`` is built from a ``mappings`` body (``Mapping.parse``) and validated the way OpenSearch does,
with its error types and wording: ``mapper_parsing_exception`` (``MapperParsingError``) for a bad
mapping or a document that does not fit, ``strict_dynamic_mapping_exception``, and
``illegal_argument_exception`` for merge conflicts on ``PUT _mapping``.

Field types: ``text`` (``analyzer`` standard/simple/whitespace/keyword, multi-fields under ``fields``),
``keyword`` (``ignore_above``, ``normalizer: lowercase``), the numerics (``long integer short byte
double float half_float scaled_float unsigned_long``), ``boolean``, ``date`` (stored as epoch millis;
``format`` with OpenSearch's named formats and simple Java patterns), ``object``, ``nested``,
``knn_vector`` (validated as the k-NN plugin does), ``rank_features`` and ``sparse_vector`` (read like
``rank_features``).

Documents: services call ``prepare_document(source, doc_id)`` (or ``validate_document`` then
``merge_dynamic``) before storing, so a document that does not fit is refused and nothing is stored;
``stored_source(source)`` applies the mapping's ``_source`` includes/excludes for output. Keep the
full source in storage: the derived indexes are rebuilt from it, and ``_source.excludes`` (often used
for embeddings) would otherwise lose the vectors on rebuild.

Settings: ``parse_settings`` flattens and validates index settings (``index.`` prefix optional),
``update_settings`` applies ``PUT _settings``, ``settings_to_json`` gives the ``GET _settings`` shape.

Accepted but not applied (documented differences): ``null_value``, ``store``, ``doc_values``,
``eager_global_ordinals``, ``term_vector``, ``index_prefixes``, ``index_phrases``, ``locale``,
``meta``, ``boost`` (deprecated in OpenSearch too), ``include_in_parent``/``include_in_root``.
Refused with a clear error: ``copy_to``, non-empty ``dynamic_templates``, custom analyzers and
normalizers, ``knn_vector`` with ``data_type`` byte/binary or a trained ``model_id``.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelnode.errors import IllegalArgument, MapperParsingError, StrictDynamicMappingError
from modelnode.search.analysis import ANALYZERS

# -- type tables ------------------------------------------------------------------------------------

INTEGER_TYPES: dict[str, tuple[int, int, str]] = {
    "long": (-(2**63), 2**63 - 1, "a long"),
    "integer": (-(2**31), 2**31 - 1, "an integer"),
    "short": (-(2**15), 2**15 - 1, "a short"),
    "byte": (-(2**7), 2**7 - 1, "a byte"),
    "unsigned_long": (0, 2**64 - 1, "an unsigned long"),
}
FLOAT_TYPES = frozenset({"double", "float", "half_float", "scaled_float"})
NUMERIC_TYPES = frozenset(INTEGER_TYPES) | FLOAT_TYPES
OBJECT_TYPES = frozenset({"object", "nested"})
LEAF_TYPES = frozenset({"text", "keyword", "boolean", "date", "knn_vector", "rank_features", "sparse_vector"}) | (
    NUMERIC_TYPES
)

METADATA_FIELDS = frozenset(
    {"_id", "_index", "_source", "_routing", "_seq_no", "_primary_term", "_version", "_field_names", "_ignored"}
)
# Strings.INVALID_FILENAME_CHARS: a knn_vector field name becomes part of a file name in OpenSearch.
_INVALID_FILENAME_CHARS = ["\\", "/", "*", "?", '"', "<", ">", "|", " ", ","]

_COMMON = frozenset({"type", "meta", "boost", "copy_to", "fields"})
_PARAMS: dict[str, frozenset[str]] = {
    "text": _COMMON
    | {
        "analyzer",
        "search_analyzer",
        "search_quote_analyzer",
        "index",
        "store",
        "norms",
        "similarity",
        "index_options",
        "position_increment_gap",
        "fielddata",
        "fielddata_frequency_filter",
        "eager_global_ordinals",
        "term_vector",
        "index_prefixes",
        "index_phrases",
    },
    "keyword": _COMMON
    | {
        "ignore_above",
        "index",
        "store",
        "doc_values",
        "null_value",
        "normalizer",
        "eager_global_ordinals",
        "similarity",
        "norms",
        "split_queries_on_whitespace",
        "index_options",
    },
    "boolean": _COMMON | {"index", "store", "doc_values", "null_value"},
    "date": _COMMON
    | {"format", "locale", "index", "store", "doc_values", "null_value", "ignore_malformed", "print_format"},
    "knn_vector": frozenset(
        {"type", "dimension", "data_type", "space_type", "method", "mode", "compression_level", "model_id"}
        | {"doc_values", "store", "meta"}
    ),
    "rank_features": frozenset({"type", "positive_score_impact", "meta"}),
    "sparse_vector": frozenset({"type", "method", "meta"}),
}
for _t in NUMERIC_TYPES:
    _PARAMS[_t] = _COMMON | {"index", "store", "doc_values", "null_value", "coerce", "ignore_malformed"}
_PARAMS["scaled_float"] = _PARAMS["scaled_float"] | {"scaling_factor"}
_OBJECT_PARAMS = {"object": frozenset({"type", "properties", "dynamic", "enabled"})}
_OBJECT_PARAMS["nested"] = _OBJECT_PARAMS["object"] | {"include_in_parent", "include_in_root"}

# Parameters PUT _mapping may change on an existing field (everything else must stay as it is).
_UPDATABLE = frozenset(
    {"ignore_above", "meta", "search_analyzer", "search_quote_analyzer", "boost", "fields", "eager_global_ordinals"}
    | {"fielddata", "fielddata_frequency_filter", "ignore_malformed", "coerce", "null_value"}
)

SPACE_TYPES = ("l2", "cosinesimil", "innerproduct", "l1", "linf")
KNN_ENGINES = ("faiss", "lucene", "nmslib")
KNN_METHODS: dict[str, frozenset[str]] = {
    "hnsw": frozenset({"m", "ef_construction", "ef_search", "encoder"}),
    "ivf": frozenset({"nlist", "nprobes", "encoder"}),
    "flat": frozenset({"encoder"}),
}
KNN_MAX_DIMENSION = 16000
KNN_DEFAULT_PARAMETERS = {"hnsw": {"m": 16, "ef_construction": 100}, "ivf": {"nlist": 4, "nprobes": 1}, "flat": {}}

# OpenSearch's built-in analyzers we do not implement (a clearer error than "not configured").
_OPENSEARCH_ANALYZERS = frozenset(
    {
        "stop",
        "pattern",
        "fingerprint",
        "arabic",
        "armenian",
        "basque",
        "bengali",
        "brazilian",
        "bulgarian",
        "catalan",
        "cjk",
        "czech",
        "danish",
        "dutch",
        "english",
        "estonian",
        "finnish",
        "french",
        "galician",
        "german",
        "greek",
        "hindi",
        "hungarian",
        "indonesian",
        "irish",
        "italian",
        "latvian",
        "lithuanian",
        "norwegian",
        "persian",
        "portuguese",
        "romanian",
        "russian",
        "sorani",
        "spanish",
        "swedish",
        "turkish",
        "thai",
    }
)

DEFAULT_DATE_FORMAT = "strict_date_optional_time||epoch_millis"
_DYNAMIC_SLASH_DATE_FORMAT = "yyyy/MM/dd HH:mm:ss||yyyy/MM/dd||epoch_millis"


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


# -- mapping ----------------------------------------------------------------------------------------


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _is_object(node: dict[str, Any]) -> bool:
    return node.get("type", "object") in OBJECT_TYPES and ("type" in node or "properties" in node)


def _unsupported(name: str, extra: dict[str, Any]) -> _Problem:
    listed = ", ".join(f"{k} : {java_string(v)}" for k, v in extra.items())
    return _Problem(f"Mapping definition for [{name}] has unsupported parameters:  [{listed}]")


def _int_param(value: Any, param: str, field: str) -> int:
    if isinstance(value, bool):
        raise _Problem(f"Failed to parse value [{java_string(value)}] for [{param}] of field [{field}]")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _Problem(f"Failed to parse value [{java_string(value)}] for [{param}] of field [{field}]") from None


class Mapping:
    """An index's mapping: a tree of properties plus root options (``dynamic``, ``_source``, ...)."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.settings: dict[str, Any] = dict(settings or {})
        self._props: dict[str, Any] = {}
        self._root: dict[str, Any] = {}  # dynamic, _source, _meta, date_detection, ...
        self._leaves: dict[str, dict[str, Any]] = {}
        self._objects: dict[str, str] = {}
        self._indexed: list[tuple[str, dict[str, Any]]] = []
        self.version = 0  # bumped on every change, so callers know when to persist

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def parse(cls, body: dict[str, Any] | None, settings: dict[str, Any] | None = None) -> Mapping:
        """The mapping of a new index (``mappings`` of ``PUT /{index}``, or a stored ``to_json()``)."""
        mapping = cls(settings)
        if body:
            root, props = mapping._parse_root(body)
            mapping._root = root
            mapping._set_props(props)
        return mapping

    @property
    def knn_enabled(self) -> bool:
        return bool(self.settings.get("index.knn", False))

    def _wrap(self, problem: _Problem) -> MapperParsingError:
        return MapperParsingError(
            f"Failed to parse mapping [_doc]: {problem.reason}",
            caused_by={"type": problem.cause_type, "reason": problem.reason},
        )

    def _parse_root(self, body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        try:
            if not isinstance(body, dict):
                raise _Problem(f"Expected map for property [mappings] but got a {type(body).__name__}")
            if set(body) == {"_doc"} and isinstance(body["_doc"], dict):
                body = body["_doc"]
            root: dict[str, Any] = {}
            extra = {}
            for key, value in body.items():
                if key == "properties":
                    continue
                if key == "dynamic":
                    root["dynamic"] = _dynamic_value(value, "_doc")
                elif key == "_source":
                    root["_source"] = _parse_source_option(value)
                elif key in ("_meta", "_routing"):
                    if not isinstance(value, dict):
                        raise _Problem(f"[{key}] must be an object")
                    root[key] = copy.deepcopy(value)
                elif key in ("date_detection", "numeric_detection"):
                    root[key] = parse_bool_param(value, "mapper_parsing_exception")
                elif key == "dynamic_date_formats":
                    root[key] = copy.deepcopy(value)
                elif key == "dynamic_templates":
                    if value:
                        raise _Problem("[dynamic_templates] are not supported by modelnode's search engine")
                    root[key] = []
                else:
                    extra[key] = value
            if extra:
                listed = ", ".join(f"{k} : {java_string(v)}" for k, v in extra.items())
                raise _Problem(f"Root mapping definition has unsupported parameters:  [{listed}]")
            props = self._parse_properties(body.get("properties", {}), "")
            return root, props
        except _Problem as problem:
            raise self._wrap(problem) from None

    def _parse_properties(self, props: Any, prefix: str) -> dict[str, Any]:
        if not isinstance(props, dict):
            raise _Problem(f"Expected map for property [properties] on field [{prefix or '_doc'}] but got a {props!r}")
        out: dict[str, Any] = {}
        for raw_name, node in props.items():
            if not isinstance(raw_name, str) or not raw_name.strip():
                raise _Problem("field name cannot be an empty string")
            parts = raw_name.split(".")
            if any(not p for p in parts):
                raise _Problem(f"Invalid field name [{raw_name}]: field names cannot contain empty path segments")
            if not prefix and parts[0] in METADATA_FIELDS:
                raise _Problem(f"Field [{parts[0]}] is a metadata field and cannot be added inside a document.")
            # "a.b": {...} is shorthand for a: {properties: {b: {...}}}
            target, path = out, prefix
            for part in parts[:-1]:
                path = _join(path, part)
                existing = target.setdefault(part, {"properties": {}})
                if not _is_object(existing):
                    raise _Problem(f"Field [{path}] is defined both as an object and a field")
                target = existing.setdefault("properties", {})
            name = parts[-1]
            full = _join(path, name)
            parsed = self._parse_field(full, node)
            if name in target and _is_object(target[name]) and _is_object(parsed):
                target[name]["properties"].update(parsed.get("properties", {}))
            else:
                target[name] = parsed
        return out

    def _parse_field(self, full: str, node: Any) -> dict[str, Any]:
        if not isinstance(node, dict):
            raise _Problem(f"Expected map for property [fields] on field [{full}] but got a {java_string(node)}")
        ftype = node.get("type")
        if ftype is None:
            if "properties" in node:
                ftype = "object"
            else:
                raise _Problem(f"No type specified for field [{full}]")
        if not isinstance(ftype, str):
            raise _Problem(f"No handler for type [{java_string(ftype)}] declared on field [{full}]")
        if ftype in OBJECT_TYPES:
            return self._parse_object(full, ftype, node)
        if ftype not in LEAF_TYPES:
            raise _Problem(f"No handler for type [{ftype}] declared on field [{full}]")
        unknown = [k for k in node if k not in _PARAMS[ftype]]
        if unknown:
            raise _Problem(f"unknown parameter [{unknown[0]}] on mapper [{full}] of type [{ftype}]")
        if "copy_to" in node:
            raise _Problem("[copy_to] is not supported by modelnode's search engine")
        out = {k: copy.deepcopy(v) for k, v in node.items() if k != "fields"}
        _FIELD_VALIDATORS.get(ftype, _no_check)(self, full, out)
        if ftype in NUMERIC_TYPES:
            _check_numeric_params(full, ftype, out)
        if "fields" in node:
            fields = node["fields"]
            if not isinstance(fields, dict):
                raise _Problem(f"Expected map for property [fields] on field [{full}] but got a {java_string(fields)}")
            subs: dict[str, Any] = {}
            for sub_name, sub in fields.items():
                if isinstance(sub, dict) and sub.get("type", "object") in OBJECT_TYPES:
                    raise _Problem(f"Type [{sub.get('type', 'object')}] cannot be used in multi field")
                if isinstance(sub, dict) and "fields" in sub:
                    raise _Problem(f"Field [{full}.{sub_name}] cannot define multi-fields inside a multi-field")
                subs[sub_name] = self._parse_field(_join(full, sub_name), sub)
            out["fields"] = subs
        return out

    def _parse_object(self, full: str, ftype: str, node: dict[str, Any]) -> dict[str, Any]:
        extra = {k: v for k, v in node.items() if k not in _OBJECT_PARAMS[ftype]}
        if extra:
            raise _unsupported(full, extra)
        out: dict[str, Any] = {}
        if ftype == "nested" or "type" in node:
            out["type"] = ftype
        if "dynamic" in node:
            out["dynamic"] = _dynamic_value(node["dynamic"], full)
        if "enabled" in node:
            out["enabled"] = parse_bool_param(node["enabled"], "mapper_parsing_exception")
            if ftype == "nested" and not out["enabled"]:
                raise _Problem(f"[enabled] parameter can't be set to false for nested field [{full}]")
        for key in ("include_in_parent", "include_in_root"):
            if key in node:
                out[key] = parse_bool_param(node[key], "mapper_parsing_exception")
        out["properties"] = self._parse_properties(node.get("properties", {}), full)
        return out

    # -- derived views -----------------------------------------------------------------------------
    def _set_props(self, props: dict[str, Any]) -> None:
        leaves: dict[str, dict[str, Any]] = {}
        objects: dict[str, str] = {}

        def walk(node_props: dict[str, Any], prefix: str, nested: str | None) -> None:
            for name, node in node_props.items():
                full = _join(prefix, name)
                if _is_object(node):
                    kind = node.get("type", "object")
                    objects[full] = kind
                    if node.get("enabled", True):
                        walk(node.get("properties", {}), full, full if kind == "nested" else nested)
                    continue
                leaves[full] = self._resolve(full, node, full, nested)
                for sub_name, sub in node.get("fields", {}).items():
                    leaves[_join(full, sub_name)] = self._resolve(_join(full, sub_name), sub, full, nested)

        walk(props, "", None)
        limit = int(self.settings.get("index.mapping.total_fields.limit", 1000))
        if len(leaves) + len(objects) > limit:
            raise IllegalArgument(f"Limit of total fields [{limit}] has been exceeded")
        self._props = props
        self._leaves = leaves
        self._objects = objects
        self._indexed = sorted(leaves.items())
        self.version += 1

    def _resolve(self, path: str, node: dict[str, Any], source_path: str, nested: str | None) -> dict[str, Any]:
        """The mapping of one leaf with every default filled in (what the field indexes read)."""
        ftype = node["type"]
        out = {k: v for k, v in node.items() if k != "fields"}
        if source_path != path:
            out["_source_path"] = source_path
        if nested:
            out["_nested_path"] = nested
        out.setdefault("index", True)
        if ftype == "text":
            out.setdefault("analyzer", "standard")
            out.setdefault("search_analyzer", out["analyzer"])
            out.setdefault("search_quote_analyzer", out["search_analyzer"])
            out.setdefault("position_increment_gap", 100)
            out.setdefault("norms", True)
            out.setdefault("index_options", "positions")
            out.setdefault("fielddata", False)
        elif ftype == "keyword":
            out.setdefault("ignore_above", 2147483647)
        elif ftype == "date":
            out.setdefault("format", DEFAULT_DATE_FORMAT)
        elif ftype in NUMERIC_TYPES:
            out.setdefault("coerce", True)
            out.setdefault("ignore_malformed", False)
        elif ftype == "knn_vector":
            out.update(_resolve_knn(node))
        elif ftype in ("rank_features", "sparse_vector"):
            out.setdefault("positive_score_impact", True)
        if ftype in ("date", *NUMERIC_TYPES):
            out.setdefault("ignore_malformed", False)
        for key in ("index", "norms", "fielddata", "coerce", "ignore_malformed", "positive_score_impact"):
            if key in out and isinstance(out[key], str):
                out[key] = out[key] == "true"
        return out

    def indexed_fields(self) -> list[tuple[str, dict[str, Any]]]:
        """Every leaf field as ``(dotted path, resolved mapping)``, multi-fields (``title.keyword``) and
        nested sub-fields (``passage_chunk_embedding.knn``) included. A multi-field's dict has
        ``_source_path`` (where its values are in ``_source``); a field under a ``nested`` object has
        ``_nested_path``. Do not mutate the dicts."""
        return self._indexed

    def field(self, path: str) -> dict[str, Any] | None:
        """The resolved mapping of a leaf field (or multi-field), or None."""
        return self._leaves.get(path)

    def field_type(self, path: str) -> str | None:
        leaf = self._leaves.get(path)
        if leaf is not None:
            return str(leaf["type"])
        return self._objects.get(path)

    def object_type(self, path: str) -> str | None:
        """``object`` / ``nested`` for an object path, else None."""
        return self._objects.get(path)

    def nested_paths(self) -> list[str]:
        return sorted(p for p, kind in self._objects.items() if kind == "nested")

    def leaf_paths(self, pattern: str = "*") -> list[str]:
        """Leaf fields whose path matches a simple ``*`` wildcard pattern (``title*``, ``*.keyword``)."""
        if pattern == "*":
            return [p for p, _ in self._indexed]
        regex = wildcard_regex(pattern)
        return [p for p, _ in self._indexed if regex.fullmatch(p)]

    def source_path(self, path: str) -> str:
        leaf = self._leaves.get(path)
        return str(leaf.get("_source_path", path)) if leaf else path

    @property
    def dynamic(self) -> str:
        return str(self._root.get("dynamic", "true"))

    @property
    def source_enabled(self) -> bool:
        return bool(self._root.get("_source", {}).get("enabled", True))

    @property
    def source_includes(self) -> list[str]:
        return list(self._root.get("_source", {}).get("includes", []))

    @property
    def source_excludes(self) -> list[str]:
        return list(self._root.get("_source", {}).get("excludes", []))

    def stored_source(self, source: dict[str, Any]) -> dict[str, Any] | None:
        """The ``_source`` OpenSearch would store and return for a document (the mapping's
        ``_source`` includes/excludes applied; None when ``_source`` is disabled)."""
        if not self.source_enabled:
            return None
        includes, excludes = self.source_includes, self.source_excludes
        if not includes and not excludes:
            return source
        return filter_source(source, includes, excludes)

    def to_json(self) -> dict[str, Any]:
        """The ``mappings`` object of ``GET /{index}/_mapping`` (properties sorted by name)."""
        out: dict[str, Any] = {}
        for key in ("dynamic", "_meta", "_routing", "_source", "date_detection", "numeric_detection"):
            if key in self._root:
                out[key] = copy.deepcopy(self._root[key])
        if "dynamic_date_formats" in self._root:
            out["dynamic_date_formats"] = copy.deepcopy(self._root["dynamic_date_formats"])
        if self._props:
            out["properties"] = _props_json(self._props)
        return out

    # -- PUT _mapping -------------------------------------------------------------------------------
    def add(self, body: dict[str, Any]) -> bool:
        """Merge a ``PUT /{index}/_mapping`` body. Atomic: on any error nothing changes.
        Returns True when the mapping changed."""
        root, props = self._parse_root(body)
        merged = copy.deepcopy(self._props)
        _merge_props(merged, props, "")
        new_root = copy.deepcopy(self._root)
        for key, value in root.items():
            if key == "_source" and value != new_root.get("_source", value):
                raise IllegalArgument(
                    "Mapper for [_source] conflicts with existing mapper:\n\t"
                    f"Cannot update parameter [_source] from [{java_string(new_root.get('_source'))}] "
                    f"to [{java_string(value)}]"
                )
            new_root[key] = value
        if merged == self._props and new_root == self._root:
            return False
        self._set_props(merged)
        self._root = new_root
        return True

    # -- documents ---------------------------------------------------------------------------------
    def validate_document(self, source: dict[str, Any], doc_id: str | None = None) -> None:
        """Raise ``MapperParsingError`` (or ``StrictDynamicMappingError``) when ``source`` cannot be
        indexed: a value a field cannot take, a strict object, ... Changes nothing."""
        self._plan(source, doc_id)

    def merge_dynamic(self, source: dict[str, Any]) -> bool:
        """Add the mappings OpenSearch's dynamic mapping creates for ``source``'s new fields.
        Returns True when the mapping changed. Validate the document first (``prepare_document``)."""
        tree = self._dynamic_tree(source)
        if tree is None:
            return False
        self._set_props(tree)
        return True

    def prepare_document(self, source: dict[str, Any], doc_id: str | None = None) -> bool:
        """Validate ``source`` and apply its dynamic mappings, atomically (nothing changes when the
        document is refused). Returns True when the mapping changed (persist it)."""
        tree = self._plan(source, doc_id)
        if tree is None:
            return False
        self._set_props(tree)
        return True

    def _plan(self, source: Any, doc_id: str | None) -> dict[str, Any] | None:
        if not isinstance(source, dict):
            raise MapperParsingError("failed to parse, document is empty")
        for key in source:
            if key in METADATA_FIELDS:
                raise MapperParsingError(
                    f"Field [{key}] is a metadata field and cannot be added inside a document. "
                    "Use the index API request parameters."
                )
        tree = self._dynamic_tree(source)
        _Validator(self, doc_id).walk(source, tree if tree is not None else self._props, "")
        if tree is not None:
            probe = Mapping(self.settings)
            probe._set_props(tree)  # the total-fields limit
        return tree

    def _dynamic_tree(self, source: dict[str, Any]) -> dict[str, Any] | None:
        """The properties tree with ``source``'s dynamic additions, or None when nothing is new."""
        dyn = _Dynamic(self)
        if not dyn.walk(source, self._props, "", self.dynamic, mutate=False):
            return None
        tree = copy.deepcopy(self._props)
        dyn.walk(source, tree, "", self.dynamic, mutate=True)
        return tree


def _no_check(mapping: Mapping, full: str, node: dict[str, Any]) -> None:
    return None


def _dynamic_value(value: Any, name: str) -> str:
    if value in (True, "true"):
        return "true"
    if value in (False, "false"):
        return "false"
    if value == "strict":
        return "strict"
    raise _Problem(f"Could not convert [{name}.dynamic] to boolean: [{java_string(value)}] (use true, false or strict)")


def _parse_source_option(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Problem("[_source] must be an object")
    out: dict[str, Any] = {}
    extra = {}
    for key, v in value.items():
        if key == "enabled":
            out["enabled"] = parse_bool_param(v, "mapper_parsing_exception")
        elif key in ("includes", "excludes"):
            items = [v] if isinstance(v, str) else v
            if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
                raise _Problem(f"[_source.{key}] must be a list of strings")
            out[key] = list(items)
        else:
            extra[key] = v
    if extra:
        raise _unsupported("_source", extra)
    return out


def _check_text(mapping: Mapping, full: str, node: dict[str, Any]) -> None:
    for key in ("analyzer", "search_analyzer", "search_quote_analyzer"):
        if key in node:
            _check_analyzer(node[key], full)
    if "search_analyzer" in node and "analyzer" not in node:
        pass  # allowed: the index analyzer stays standard
    for key in ("index", "norms", "fielddata", "store", "index_phrases", "eager_global_ordinals"):
        if key in node:
            node[key] = parse_bool_param(node[key], "mapper_parsing_exception")
    if "index_options" in node and node["index_options"] not in ("docs", "freqs", "positions", "offsets"):
        raise _Problem(
            f"Unknown value [{java_string(node['index_options'])}] for field [index_options] - accepted values are "
            "[positions, docs, freqs, offsets]"
        )
    if "position_increment_gap" in node:
        gap = _int_param(node["position_increment_gap"], "position_increment_gap", full)
        if gap < 0:
            raise _Problem("[position_increment_gap] cannot be negative")
        node["position_increment_gap"] = gap
    _check_similarity(node, full)


def _check_analyzer(name: Any, full: str) -> None:
    if isinstance(name, str) and name in ANALYZERS:
        return
    if isinstance(name, str) and name in _OPENSEARCH_ANALYZERS:
        supported = ", ".join(sorted(k for k in ANALYZERS if k != "default"))
        raise _Problem(
            f"analyzer [{name}] on field [{full}] is not supported by modelnode's search engine "
            f"(supported: {supported})"
        )
    raise _Problem(f"analyzer [{java_string(name)}] has not been configured in mappings")


def _check_similarity(node: dict[str, Any], full: str) -> None:
    sim = node.get("similarity")
    if sim is None or sim in ("BM25", "default"):
        return
    if sim == "boolean":
        raise _Problem(f"similarity [boolean] on field [{full}] is not supported by modelnode's search engine")
    raise _Problem(f"Unknown Similarity type [{java_string(sim)}] for field [{full}]")


def _check_keyword(mapping: Mapping, full: str, node: dict[str, Any]) -> None:
    if "ignore_above" in node:
        value = _int_param(node["ignore_above"], "ignore_above", full)
        if value < 0:
            raise _Problem(f"[ignore_above] must be positive, got [{value}]")
        node["ignore_above"] = value
    normalizer = node.get("normalizer")
    if normalizer is not None and normalizer != "lowercase":
        raise _Problem(f"normalizer [{java_string(normalizer)}] not found for field [{full}]")
    for key in ("index", "store", "doc_values", "norms", "split_queries_on_whitespace", "eager_global_ordinals"):
        if key in node:
            node[key] = parse_bool_param(node[key], "mapper_parsing_exception")
    _check_similarity(node, full)


def _check_boolean(mapping: Mapping, full: str, node: dict[str, Any]) -> None:
    for key in ("index", "store", "doc_values"):
        if key in node:
            node[key] = parse_bool_param(node[key], "mapper_parsing_exception")


def _check_date(mapping: Mapping, full: str, node: dict[str, Any]) -> None:
    if "format" in node:
        if not isinstance(node["format"], str) or not node["format"].strip():
            raise _Problem(f"Invalid format: [{java_string(node['format'])}]")
        DateFormat(node["format"])
    for key in ("index", "store", "doc_values", "ignore_malformed"):
        if key in node:
            node[key] = parse_bool_param(node[key], "mapper_parsing_exception")


def _check_numeric_params(full: str, ftype: str, node: dict[str, Any]) -> None:
    for key in ("index", "store", "doc_values", "coerce", "ignore_malformed"):
        if key in node:
            node[key] = parse_bool_param(node[key], "mapper_parsing_exception")
    if ftype == "scaled_float":
        if "scaling_factor" not in node:
            raise _Problem(f"Field [{full}] misses required parameter [scaling_factor]", "illegal_argument_exception")
        sf = node["scaling_factor"]
        if isinstance(sf, bool) or not isinstance(sf, int | float) or not math.isfinite(sf) or sf <= 0:
            raise _Problem(f"[scaling_factor] must be a positive number, got [{java_string(sf)}]")


def _check_rank_features(mapping: Mapping, full: str, node: dict[str, Any]) -> None:
    if "positive_score_impact" in node:
        node["positive_score_impact"] = parse_bool_param(node["positive_score_impact"], "mapper_parsing_exception")


def _check_sparse_vector(mapping: Mapping, full: str, node: dict[str, Any]) -> None:
    if "method" in node and not isinstance(node["method"], dict):
        raise _Problem(f"[method] of sparse_vector field [{full}] must be an object")


def _check_knn(mapping: Mapping, full: str, node: dict[str, Any]) -> None:
    """The k-NN plugin's checks on a knn_vector mapping (KNNVectorFieldMapper.TypeParser)."""
    bad = next((c for c in full if c in _INVALID_FILENAME_CHARS), None)
    if bad is not None:
        listed = ", ".join(f"'{c}'" for c in _INVALID_FILENAME_CHARS)
        raise _Problem(
            f"Vector field name must not include invalid characters of [{listed}]. "
            f"Provided field name=[{full}] had a disallowed character [{bad}]",
            "illegal_argument_exception",
        )
    if "model_id" in node:
        if "method" in node:
            raise _Problem(
                f"Method and model can not be both specified in the mapping: {full}", "illegal_argument_exception"
            )
        raise _Problem(
            f"[model_id] on field [{full}]: trained k-NN models are not supported by modelnode; "
            "use [method] (hnsw or flat) instead"
        )
    if "dimension" not in node or node["dimension"] is None:
        raise _Problem(f"Dimension value missing for vector: {full}", "illegal_argument_exception")
    dim_raw = node["dimension"]
    try:
        if isinstance(dim_raw, bool):
            raise ValueError
        dimension = int(dim_raw) if not isinstance(dim_raw, str) else int(dim_raw.strip())
    except (TypeError, ValueError):
        raise _Problem(
            f"Unable to parse [dimension] from provided value [{java_string(dim_raw)}] for vector [{full}]",
            "illegal_argument_exception",
        ) from None
    if dimension <= 0:
        raise _Problem(f"Dimension value must be greater than 0 for vector: {full}", "illegal_argument_exception")
    if dimension > KNN_MAX_DIMENSION:
        raise _Problem(
            f"Dimension value cannot be greater than {KNN_MAX_DIMENSION} for vector: {full}",
            "illegal_argument_exception",
        )
    node["dimension"] = dimension
    data_type = node.get("data_type", "float")
    if not isinstance(data_type, str) or data_type.lower() not in ("float", "byte", "binary"):
        raise _Problem(
            "Invalid value provided for [data_type] field. Supported values are [float,byte,binary]",
            "illegal_argument_exception",
        )
    if data_type.lower() != "float":
        raise _Problem(
            f"[data_type] [{data_type}] on field [{full}] is not supported by modelnode's search engine; "
            "only [float] vectors are"
        )
    top_space = node.get("space_type")
    if top_space is not None:
        _check_space(top_space)
    choices = (("mode", ("in_memory", "on_disk")), ("compression_level", ("1x", "2x", "4x", "8x", "16x", "32x")))
    for key, allowed in choices:
        if key in node and node[key] is not None and node[key] not in allowed:
            raise _Problem(
                f"Unknown value [{java_string(node[key])}] for field [{key}] - accepted values are "
                f"[{', '.join(allowed)}]"
            )
    mode_set = node.get("mode") is not None or node.get("compression_level") is not None
    if not mapping.knn_enabled:
        if "method" in node:
            raise _Problem(
                "Cannot set modelId or method parameters when index.knn setting is false",
                "illegal_argument_exception",
            )
        if mode_set:
            raise _Problem(
                f"Compression and mode can not be specified in a flat mapping configuration for field: {full}"
            )
        return
    if "method" not in node:
        return
    if mode_set:
        raise _Problem(
            f'Compression and mode can not be specified in a "method" mapping configuration for field: {full}'
        )
    method = node["method"]
    if not isinstance(method, dict):
        raise _Problem('Unable to parse mapping into KNNMethodContext. Object not of type "Map"')
    for key, value in method.items():
        if key == "engine":
            if not isinstance(value, str):
                raise _Problem('"engine" must be a string')
            if value.lower() not in KNN_ENGINES:
                raise _Problem(f"Invalid engine type: {value}", "illegal_argument_exception")
        elif key == "space_type":
            if not isinstance(value, str):
                raise _Problem('"space_type" must be a string')
            _check_space(value)
        elif key == "name":
            if not isinstance(value, str):
                raise _Problem("name has to be a string")
        elif key == "parameters":
            if value is not None and not isinstance(value, dict):
                raise _Problem("Unable to parse parameters for main method component")
        else:
            raise _Problem(f"Invalid parameter: {key}")
    name = method.get("name")
    if not name:
        raise _Problem("name needs to be set")
    if name not in KNN_METHODS:
        raise _Problem(
            f"Validation Failed: 1: Invalid method name: {name}. Valid values are: [{', '.join(KNN_METHODS)}];",
            "validation_exception",
        )
    method_space = method.get("space_type")
    if top_space is not None and method_space is not None and top_space != method_space:
        raise _Problem(
            'Space type in "method" and top level space type should be same or one of them should be defined'
        )
    for pname, pvalue in (method.get("parameters") or {}).items():
        if pname not in KNN_METHODS[name]:
            raise _Problem(
                f"Validation Failed: 1: Invalid parameter for method [{name}]: {pname};", "validation_exception"
            )
        if pname == "encoder":
            if not isinstance(pvalue, dict):
                raise _Problem("Validation Failed: 1: [encoder] must be an object;", "validation_exception")
            continue
        if isinstance(pvalue, bool) or not isinstance(pvalue, int) or pvalue <= 0:
            raise _Problem(
                f"Validation Failed: 1: parameter [{pname}] of method [{name}] must be a positive integer, "
                f"got [{java_string(pvalue)}];",
                "validation_exception",
            )


def _check_space(value: Any) -> None:
    if not isinstance(value, str) or value.lower() not in SPACE_TYPES:
        raise _Problem(
            f"Unable to find space: {java_string(value)} . Valid values are: [{', '.join(SPACE_TYPES)}]",
            "illegal_argument_exception",
        )


def _resolve_knn(node: dict[str, Any]) -> dict[str, Any]:
    method = node.get("method") or {}
    space = str(method.get("space_type") or node.get("space_type") or "l2").lower()
    name = method.get("name") or "hnsw"
    params = {**KNN_DEFAULT_PARAMETERS.get(name, {}), **(method.get("parameters") or {})}
    return {
        "dimension": int(node["dimension"]),
        "data_type": "float",
        "space_type": space,
        "method": {
            "name": name,
            "engine": str(method.get("engine") or "faiss").lower(),
            "space_type": space,
            "parameters": params,
        },
    }


_FIELD_VALIDATORS: dict[str, Callable[[Mapping, str, dict[str, Any]], None]] = {
    "text": _check_text,
    "keyword": _check_keyword,
    "boolean": _check_boolean,
    "date": _check_date,
    "knn_vector": _check_knn,
    "rank_features": _check_rank_features,
    "sparse_vector": _check_sparse_vector,
}


def _props_json(props: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in sorted(props):
        node = props[name]
        if _is_object(node):
            obj: dict[str, Any] = {}
            kind = node.get("type", "object")
            sub = node.get("properties", {})
            if kind == "nested" or not sub:
                obj["type"] = kind
            for key in ("dynamic", "enabled", "include_in_parent", "include_in_root"):
                if key in node:
                    obj[key] = node[key]
            if sub:
                obj["properties"] = _props_json(sub)
            out[name] = obj
        else:
            leaf = {k: copy.deepcopy(v) for k, v in node.items() if k != "fields"}
            if node.get("fields"):
                leaf["fields"] = _props_json(node["fields"])
            out[name] = leaf
    return out


def _resolved_params(node: dict[str, Any]) -> dict[str, Any]:
    """A leaf's non-updatable parameters with defaults, for PUT _mapping conflict checks."""
    defaults: dict[str, Any] = {"index": True}
    ftype = node["type"]
    if ftype == "text":
        defaults.update(analyzer="standard", norms=True, index_options="positions", position_increment_gap=100)
    if ftype == "knn_vector":
        return {"type": ftype, **_resolve_knn(node)}
    if ftype == "date":
        defaults["format"] = DEFAULT_DATE_FORMAT
    out = {**defaults, **{k: v for k, v in node.items() if k not in _UPDATABLE}}
    return out


def _merge_props(target: dict[str, Any], incoming: dict[str, Any], prefix: str) -> None:
    for name, new in incoming.items():
        full = _join(prefix, name)
        old = target.get(name)
        if old is None:
            target[name] = new
            continue
        old_obj, new_obj = _is_object(old), _is_object(new)
        if old_obj and not new_obj:
            raise IllegalArgument(f"can't merge a non object mapping [{full}] with an object mapping")
        if new_obj and not old_obj:
            raise IllegalArgument(f"mapper [{full}] cannot be changed from type [{old['type']}] to [ObjectMapper]")
        if old_obj:
            old_kind, new_kind = old.get("type", "object"), new.get("type", "object")
            if old_kind != new_kind:
                which = "nested to non-nested" if old_kind == "nested" else "non-nested to nested"
                raise IllegalArgument(f"object mapping [{full}] can't be changed from {which}")
            if "enabled" in new and new["enabled"] != old.get("enabled", True):
                raise IllegalArgument(f"the [enabled] parameter can't be updated for the object mapping [{full}]")
            if "dynamic" in new:
                old["dynamic"] = new["dynamic"]
            _merge_props(old.setdefault("properties", {}), new.get("properties", {}), full)
            continue
        if old["type"] != new["type"]:
            raise IllegalArgument(f"mapper [{full}] cannot be changed from type [{old['type']}] to [{new['type']}]")
        old_params, new_params = _resolved_params(old), _resolved_params(new)
        conflicts = [
            f"Cannot update parameter [{key}] from [{java_string(old_params.get(key, 'default'))}] "
            f"to [{java_string(new_params.get(key, 'default'))}]"
            for key in sorted(set(old_params) | set(new_params))
            if old_params.get(key) != new_params.get(key)
        ]
        if conflicts:
            raise IllegalArgument(f"Mapper for [{full}] conflicts with existing mapper:\n\t" + "\n\t".join(conflicts))
        for key, value in new.items():
            if key in _UPDATABLE and key != "fields":
                old[key] = value
        if "fields" in new:
            _merge_props(old.setdefault("fields", {}), new["fields"], full)


class _Dynamic:
    """OpenSearch's dynamic mapping: what new fields of a document become."""

    def __init__(self, mapping: Mapping) -> None:
        self.date_detection = mapping._root.get("date_detection", True)
        self.numeric_detection = mapping._root.get("numeric_detection", False)

    def walk(self, obj: dict[str, Any], props: dict[str, Any], path: str, dynamic: str, *, mutate: bool) -> bool:
        changed = False
        for key, value in obj.items():
            if not isinstance(key, str) or not key.strip():
                raise MapperParsingError("field name cannot be an empty string")
            parts = key.split(".")
            if any(not p for p in parts):
                raise MapperParsingError(
                    f"object field starting or ending with a [.] makes object resolution ambiguous: [{key}]"
                )
            cur_props, cur_path, cur_dynamic = props, path, dynamic
            skip = False
            for part in parts[:-1]:
                node = cur_props.get(part)
                full = _join(cur_path, part)
                if node is None:
                    if cur_dynamic == "strict":
                        raise StrictDynamicMappingError(
                            f"mapping set to strict, dynamic introduction of [{part}] within "
                            f"[{cur_path or '_doc'}] is not allowed"
                        )
                    if cur_dynamic == "false":
                        skip = True
                        break
                    if not mutate:
                        return True
                    node = cur_props[part] = {"properties": {}}
                    changed = True
                elif not _is_object(node):
                    raise MapperParsingError(
                        f"Could not dynamically add mapping for field [{_join(cur_path, key)}]. Existing mapping "
                        f"for [{full}] must be of type object but found [{node['type']}]."
                    )
                if node.get("enabled", True) is False:
                    skip = True
                    break
                cur_dynamic = node.get("dynamic", cur_dynamic)
                cur_props = node.setdefault("properties", {}) if mutate else node.get("properties", {})
                cur_path = full
            if skip:
                continue
            if self._value(value, parts[-1], cur_props, cur_path, cur_dynamic, mutate=mutate):
                if not mutate:
                    return True
                changed = True
        return changed

    def _value(self, value: Any, name: str, props: dict[str, Any], parent: str, dynamic: str, *, mutate: bool) -> bool:
        node = props.get(name)
        full = _join(parent, name)
        changed = False
        if node is None:
            sample = _first_value(value)
            if sample is None:
                return False
            if dynamic == "strict":
                raise StrictDynamicMappingError(
                    f"mapping set to strict, dynamic introduction of [{name}] within [{parent or '_doc'}] "
                    "is not allowed"
                )
            if dynamic == "false":
                return False
            if not mutate:
                return True
            node = props[name] = self._infer(sample)
            changed = True
        if _is_object(node):
            if node.get("enabled", True) is False:
                return changed
            sub_dynamic = node.get("dynamic", dynamic)
            for item in _iter_objects(value, full, name):
                sub_props = node.setdefault("properties", {}) if mutate else node.get("properties", {})
                if self.walk(item, sub_props, full, sub_dynamic, mutate=mutate):
                    if not mutate:
                        return True
                    changed = True
        return changed

    def _infer(self, sample: Any) -> dict[str, Any]:
        if isinstance(sample, dict):
            return {"properties": {}}
        if isinstance(sample, bool):
            return {"type": "boolean"}
        if isinstance(sample, int):
            return {"type": "long"}
        if isinstance(sample, float):
            return {"type": "float"}
        text = str(sample)
        if self.date_detection:
            fmt = _looks_like_date(text)
            if fmt == DEFAULT_DATE_FORMAT:
                return {"type": "date"}
            if fmt is not None:
                return {"type": "date", "format": fmt}
        if self.numeric_detection:
            if re.fullmatch(r"[+-]?\d+", text.strip()):
                return {"type": "long"}
            try:
                float(text)
                return {"type": "float"}
            except ValueError:
                pass
        return {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}


def _first_value(value: Any) -> Any:
    if isinstance(value, list):
        for item in value:
            found = _first_value(item)
            if found is not None:
                return found
        return None
    return value


def _iter_objects(value: Any, full: str, name: str) -> Iterator[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    for item in items:
        if item is None:
            continue
        if isinstance(item, list):
            yield from _iter_objects(item, full, name)
        elif isinstance(item, dict):
            yield item
        else:
            raise MapperParsingError(
                f"object mapping for [{full}] tried to parse field [{name}] as object, but found a concrete value"
            )


class _Validator:
    """Checks every value of a document against the (tentative) mapping tree."""

    def __init__(self, mapping: Mapping, doc_id: str | None) -> None:
        self.mapping = mapping
        self.doc_id = "null" if doc_id is None else doc_id
        self._date_formats: dict[str, DateFormat] = {}

    def walk(self, obj: dict[str, Any], props: dict[str, Any], path: str) -> None:
        for key, value in obj.items():
            parts = key.split(".")
            cur_props, cur_path = props, path
            for part in parts[:-1]:
                node = cur_props.get(part)
                if node is None or not _is_object(node) or node.get("enabled", True) is False:
                    cur_props = None  # type: ignore[assignment]
                    break
                cur_props, cur_path = node.get("properties", {}), _join(cur_path, part)
            if cur_props is None:
                continue
            name = parts[-1]
            node = cur_props.get(name)
            if node is None:
                continue  # dynamic: false (or nothing to map: null / [])
            full = _join(cur_path, name)
            if _is_object(node):
                if node.get("enabled", True) is False:
                    continue
                for item in _iter_objects(value, full, name):
                    self.walk(item, node.get("properties", {}), full)
                continue
            self.leaf(full, node, value)
            for sub_name, sub in node.get("fields", {}).items():
                self.leaf(_join(full, sub_name), sub, value)

    def fail(self, full: str, ftype: str, value: Any, problem: ValueProblem) -> MapperParsingError:
        preview = java_string(value)
        return MapperParsingError(
            f"failed to parse field [{full}] of type [{ftype}] in document with id '{self.doc_id}'. "
            f"Preview of field's value: '{preview}'",
            caused_by={"type": problem.cause_type, "reason": problem.reason},
        )

    def leaf(self, full: str, node: dict[str, Any], value: Any) -> None:
        ftype = node["type"]
        try:
            if ftype == "knn_vector":
                self._vector(node, value)
                return
            if ftype in ("rank_features", "sparse_vector"):
                self._features(full, value)
                return
        except ValueProblem as problem:
            raise self.fail(full, ftype, value, problem) from None
        for item in _flatten(value):
            try:
                self._scalar(full, node, ftype, item)
            except ValueProblem as problem:
                if ftype in NUMERIC_TYPES | {"date"} and _truthy(node.get("ignore_malformed")):
                    continue
                raise self.fail(full, ftype, item, problem) from None

    def _scalar(self, full: str, node: dict[str, Any], ftype: str, item: Any) -> None:
        if isinstance(item, dict):
            raise ValueProblem(f"Can't get text on a START_OBJECT at {full}", "illegal_state_exception")
        if ftype in ("text", "keyword"):
            keyword_value(item)
        elif ftype == "boolean":
            parse_boolean(item)
        elif ftype == "date":
            fmt = self._date_formats.get(full)
            if fmt is None:
                fmt = self._date_formats[full] = DateFormat(node.get("format"))
            fmt.parse(item)
        elif ftype in NUMERIC_TYPES:
            coerce = _truthy(node.get("coerce", True))
            parse_number(ftype, item, coerce=coerce, scaling_factor=node.get("scaling_factor"))

    def _vector(self, node: dict[str, Any], value: Any) -> None:
        if value is None:
            return
        items = value if isinstance(value, list) else [value]
        dimension = int(node["dimension"])
        space = str(node.get("space_type") or (node.get("method") or {}).get("space_type") or "l2").lower()
        # Fast path for the common case (a list of JSON numbers): one numpy pass instead of a
        # Python loop per element, which dominated bulk indexing of embeddings.
        if all(type(item) is float or type(item) is int for item in items):
            arr = np.asarray(items, dtype=np.float32)  # (dimension,)
            if not np.isfinite(arr).all():
                bad = "NaN" if np.isnan(arr).any() else "infinity"
                raise ValueProblem(f"KNN vector values cannot be {bad}")
            if len(arr) != dimension:
                raise ValueProblem(f"Vector dimension mismatch. Expected: {dimension}, Given: {len(arr)}")
            if space == "cosinesimil" and not arr.any():
                raise ValueProblem(f"zero vector is not supported when space type is [{space}]")
            return
        floats: list[float] = []
        for item in items:
            if isinstance(item, bool) or not isinstance(item, int | float | str):
                raise ValueProblem(
                    f"Current token ({_token_name(item)}) not numeric, can not use numeric value accessors",
                    "illegal_argument_exception",
                )
            try:
                f = float(np.float32(float(item)))
            except (ValueError, OverflowError):
                raise ValueProblem(f'For input string: "{item}"', "number_format_exception") from None
            if math.isnan(f):
                raise ValueProblem("KNN vector values cannot be NaN")
            if math.isinf(f):
                raise ValueProblem("KNN vector values cannot be infinity")
            floats.append(f)
        if len(floats) != dimension:
            raise ValueProblem(f"Vector dimension mismatch. Expected: {dimension}, Given: {len(floats)}")
        if space == "cosinesimil" and not any(floats):
            raise ValueProblem(f"zero vector is not supported when space type is [{space}]")

    def _features(self, full: str, value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            raise ValueProblem(
                f"[rank_features] fields must be json objects, expected a START_OBJECT but got: {_token_name(value)}"
            )
        for feature, weight in value.items():
            if isinstance(weight, bool) or not isinstance(weight, int | float | str):
                raise ValueProblem(
                    "[rank_features] fields take hashes that map a feature to a strictly positive float, but got "
                    f"unexpected token {_token_name(weight)}"
                )
            try:
                f = float(np.float32(float(weight)))
            except (ValueError, OverflowError):
                raise ValueProblem(f'For input string: "{weight}"', "number_format_exception") from None
            if not math.isfinite(f):
                raise ValueProblem(
                    f"featureValue must be finite, got: {java_string(f)} for feature {feature} on field {full}"
                )
            if f < 1.17549435e-38:
                raise ValueProblem(
                    f"featureValue must be a positive normal float, got: {java_string(weight)} for feature {feature} "
                    f"on field {full} which is less than the minimum positive normal float: 1.17549435E-38"
                )


def _truthy(value: Any) -> bool:
    return value is True or value == "true"


def _flatten(value: Any) -> Iterator[Any]:
    if isinstance(value, list):
        for item in value:
            yield from _flatten(item)
    elif value is not None:
        yield value


# -- _source filtering -------------------------------------------------------------------------------


def wildcard_regex(pattern: str) -> re.Pattern[str]:
    """``*`` (any run of characters) as a regex; everything else literal."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def filter_source(source: dict[str, Any], includes: list[str], excludes: list[str]) -> dict[str, Any]:
    """OpenSearch's ``_source`` filtering: dotted paths and ``*`` wildcards, arrays of objects
    filtered element-wise; an object emptied by the includes disappears."""
    inc = [wildcard_regex(p) for p in includes]
    exc = [wildcard_regex(p) for p in excludes]
    inc_raw = list(includes)
    return _filter_map(source, "", inc, inc_raw, exc)


def _filter_map(
    obj: dict[str, Any], prefix: str, inc: list[re.Pattern[str]], inc_raw: list[str], exc: list[re.Pattern[str]]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        path = _join(prefix, key)
        if any(r.fullmatch(path) for r in exc):
            continue
        included = not inc or any(r.fullmatch(path) for r in inc)
        if included and not exc:
            out[key] = value
            continue
        could_descend = not inc or any(_may_match_below(raw, path) for raw in inc_raw)
        if isinstance(value, dict):
            if included:
                out[key] = _filter_map(value, path, [], [], exc)
            elif could_descend:
                sub = _filter_map(value, path, inc, inc_raw, exc)
                if sub:
                    out[key] = sub
        elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
            if included or could_descend:
                items = []
                for v in value:
                    if isinstance(v, dict):
                        sub = _filter_map(v, path, [] if included else inc, [] if included else inc_raw, exc)
                        if sub or included:
                            items.append(sub)
                    elif included:
                        items.append(v)
                if items or included:
                    out[key] = items
        elif included:
            out[key] = value
    return out


def _may_match_below(pattern: str, path: str) -> bool:
    """Could ``pattern`` match some path under ``path``? (``a.b`` / ``a.*`` / ``*.c`` below ``a``)."""
    if "*" in pattern:
        head = pattern.split("*", 1)[0]
        return head.startswith(path + ".") or (path + ".").startswith(head)
    return pattern.startswith(path + ".")


# -- index settings -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Setting:
    kind: str  # bool | int | str | time | any
    default: Any = None
    minimum: int | None = None
    dynamic: bool = True
    final: bool = False


SETTINGS: dict[str, _Setting] = {
    "index.number_of_shards": _Setting("int", 1, 1, dynamic=False, final=True),
    "index.number_of_replicas": _Setting("int", 1, 0),
    "index.number_of_routing_shards": _Setting("int", None, 1, dynamic=False, final=True),
    "index.auto_expand_replicas": _Setting("any"),
    "index.refresh_interval": _Setting("time", "1s"),
    "index.max_result_window": _Setting("int", 10000, 1),
    "index.max_inner_result_window": _Setting("int", 100, 0),
    "index.hidden": _Setting("bool", False),
    "index.codec": _Setting("str", "default", dynamic=False),
    "index.translog.durability": _Setting("str", "request"),
    "index.blocks.read_only": _Setting("bool", False),
    "index.blocks.read_only_allow_delete": _Setting("bool", False),
    "index.blocks.write": _Setting("bool", False),
    "index.blocks.read": _Setting("bool", False),
    "index.mapping.total_fields.limit": _Setting("int", 1000, 0),
    "index.mapping.depth.limit": _Setting("int", 20, 1),
    "index.mapping.nested_fields.limit": _Setting("int", 50, 0),
    "index.mapping.nested_objects.limit": _Setting("int", 10000, 0),
    "index.query.default_field": _Setting("any", ["*"]),
    "index.default_pipeline": _Setting("str", "_none"),
    "index.final_pipeline": _Setting("str", "_none"),
    "index.search.default_pipeline": _Setting("str", "_none"),
    "index.knn": _Setting("bool", False, dynamic=False),
    "index.knn.algo_param.ef_search": _Setting("int", 100, 2),
    "index.knn.algo_param.ef_construction": _Setting("int", 100, 2, dynamic=False),
    "index.knn.algo_param.m": _Setting("int", 16, 2, dynamic=False),
    "index.knn.space_type": _Setting("str", "l2", dynamic=False),
    "index.knn.advanced.approximate_threshold": _Setting("int", 0, -1),
    "index.knn.memory_optimized_search": _Setting("bool", False, dynamic=False),
    "index.knn.derived_source.enabled": _Setting("bool", False, dynamic=False),
    "index.sparse": _Setting("bool", False, dynamic=False),
}
_PRIVATE_SETTINGS = frozenset({"index.uuid", "index.version.created", "index.creation_date", "index.provided_name"})
_TIME_VALUE = re.compile(r"-1|0|\d+(?:\.\d+)?(?:nanos|micros|ms|s|m|h|d)")


def _flatten_settings(body: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in body.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten_settings(value, full + "."))
        else:
            out[full] = value
    return out


def _normalize_setting_key(key: str) -> str:
    return key if key.startswith("index.") else f"index.{key}"


def _convert_setting(key: str, spec: _Setting, value: Any) -> Any:
    if spec.kind == "bool":
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise IllegalArgument(f"Failed to parse value [{java_string(value)}] as only [true] or [false] are allowed.")
    if spec.kind == "int":
        if isinstance(value, bool):
            raise IllegalArgument(f"Failed to parse value [{java_string(value)}] for setting [{key}]")
        try:
            number = int(value) if not isinstance(value, float) or value == int(value) else None
        except (TypeError, ValueError):
            number = None
        if number is None:
            raise IllegalArgument(f"Failed to parse value [{java_string(value)}] for setting [{key}]")
        if spec.minimum is not None and number < spec.minimum:
            raise IllegalArgument(f"Failed to parse value [{number}] for setting [{key}] must be >= {spec.minimum}")
        return number
    if spec.kind == "time":
        text = str(value)
        if not _TIME_VALUE.fullmatch(text):
            raise IllegalArgument(
                f"failed to parse setting [{key}] with value [{text}] as a time value: unit is missing or unrecognized"
            )
        return text
    if spec.kind == "str":
        if isinstance(value, list | dict):
            raise IllegalArgument(f"Failed to parse value [{java_string(value)}] for setting [{key}]")
        text = java_string(value)
        if key == "index.knn.space_type" and text.lower() not in SPACE_TYPES:
            raise IllegalArgument(f"Unable to find space: {text} . Valid values are: [{', '.join(SPACE_TYPES)}]")
        return text
    return value


def parse_settings(body: dict[str, Any] | None) -> dict[str, Any]:
    """Index settings of ``PUT /{index}`` as a flat dict with typed values, e.g.
    ``{"index.knn": True, "index.knn.algo_param.ef_search": 100, "index.default_pipeline": "p"}``.

    Nested or flat keys, ``index.`` prefix optional. Only the settings given are returned (see
    ``SETTINGS`` for defaults). Unknown settings are refused like OpenSearch."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise IllegalArgument("settings must be an object")
    out: dict[str, Any] = {}
    for raw_key, value in _flatten_settings(body).items():
        key = _normalize_setting_key(raw_key)
        if key in _PRIVATE_SETTINGS:
            raise IllegalArgument(f"private index setting [{key}] can not be set explicitly")
        if key.startswith(("index.analysis.", "index.similarity.")):
            raise IllegalArgument(
                f"[{key}]: custom analysis and similarity settings are not supported by modelnode's search engine"
            )
        spec = SETTINGS.get(key)
        if spec is None:
            raise IllegalArgument(
                f"unknown setting [{key}] please check that any required plugins are installed, or check the "
                "breaking changes documentation for removed settings"
            )
        if value is None:
            continue
        out[key] = _convert_setting(key, spec, value)
    return out


def update_settings(current: dict[str, Any], body: dict[str, Any], index_name: str) -> dict[str, Any]:
    """``PUT /{index}/_settings``: the new flat settings. Static settings cannot change on an open
    index and final ones never; ``null`` resets a setting to its default."""
    if not isinstance(body, dict):
        raise IllegalArgument("settings must be an object")
    if set(body) == {"settings"} and isinstance(body["settings"], dict):
        body = body["settings"]
    flat = _flatten_settings(body)
    nulls = [_normalize_setting_key(k) for k, v in flat.items() if v is None]
    parsed = parse_settings({k: v for k, v in flat.items() if v is not None})
    for key in nulls:
        if key not in SETTINGS:
            raise IllegalArgument(
                f"unknown setting [{key}] please check that any required plugins are installed, or check the "
                "breaking changes documentation for removed settings"
            )
    changed = [k for k in [*parsed, *nulls] if current.get(k) != parsed.get(k)]
    for key in changed:
        spec = SETTINGS[key]
        if spec.final:
            raise IllegalArgument(f"final index setting [{key}], not updateable")
        if not spec.dynamic:
            raise IllegalArgument(f"Can't update non dynamic settings [[{key}]] for open indices [[{index_name}]]")
    out = dict(current)
    out.update(parsed)
    for key in nulls:
        out.pop(key, None)
    return out


def setting(settings: dict[str, Any], key: str) -> Any:
    """A setting's value, or its default."""
    if key in settings:
        return settings[key]
    spec = SETTINGS.get(key)
    return None if spec is None else spec.default


def settings_to_json(flat: dict[str, Any]) -> dict[str, Any]:
    """Flat settings as ``GET _settings`` shows them: nested objects of strings, with OpenSearch's
    rule for a key that is both a value and a prefix (``"knn": "true", "knn.algo_param": {...}``)."""
    out: dict[str, Any] = {}
    for key in sorted(flat):
        _process_setting(out, "", key, _setting_string(flat[key]))
    return out


def _setting_string(value: Any) -> Any:
    if isinstance(value, list):
        return [_setting_string(v) for v in value]
    return java_string(value)


def _process_setting(target: dict[str, Any], prefix: str, setting_key: str, value: Any) -> None:
    dot = setting_key.find(".")
    if dot == -1:
        inner = target.get(prefix + setting_key)
        if isinstance(inner, dict):
            for k, v in inner.items():
                target[f"{prefix}{setting_key}.{k}"] = v
        target[prefix + setting_key] = value
        return
    key, rest = setting_key[:dot], setting_key[dot + 1 :]
    existing = target.get(prefix + key)
    if existing is None:
        new: dict[str, Any] = {}
        _process_setting(new, "", rest, value)
        target[prefix + key] = new
    elif isinstance(existing, dict):
        _process_setting(existing, "", rest, value)
    else:
        _process_setting(target, f"{prefix}{key}.", rest, value)


__all__ = [
    "DEFAULT_DATE_FORMAT",
    "FLOAT_TYPES",
    "INTEGER_TYPES",
    "LEAF_TYPES",
    "NUMERIC_TYPES",
    "SETTINGS",
    "DateFormat",
    "Mapping",
    "ValueProblem",
    "filter_source",
    "java_string",
    "keyword_value",
    "millis_to_iso",
    "parse_boolean",
    "parse_date_math",
    "parse_number",
    "parse_settings",
    "parse_time_zone",
    "setting",
    "settings_to_json",
    "update_settings",
    "wildcard_regex",
]
