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

Modules (a pure split of the former ``mapping.py``; import from this package, not the modules):

- ``types``: field-type tables, accepted parameters, k-NN options and defaults.
- ``values``: number/boolean/keyword/date parsing (``DateFormat``, date math, time zones) and the
  ``_Problem``/``ValueProblem`` error types.
- ``params``: per-type checks of mapping parameters while a mapping is parsed.
- ``parse``: the ``Mapping`` class (parsing, resolved views, ``PUT _mapping`` merge, documents).
- ``dynamic``: dynamic mapping of new document fields.
- ``validate``: per-type validation of document values.
- ``source``: ``_source`` includes/excludes filtering.
- ``settings``: index settings.
"""

from __future__ import annotations

from .dynamic import _Dynamic as _Dynamic
from .parse import Mapping, search_analyzer
from .settings import SETTINGS, parse_settings, setting, settings_to_json, update_settings
from .settings import _Setting as _Setting
from .source import filter_source, wildcard_regex
from .types import DEFAULT_DATE_FORMAT, FLOAT_TYPES, INTEGER_TYPES, LEAF_TYPES, NUMERIC_TYPES
from .types import KNN_DEFAULT_PARAMETERS as KNN_DEFAULT_PARAMETERS
from .types import KNN_ENGINES as KNN_ENGINES
from .types import KNN_MAX_DIMENSION as KNN_MAX_DIMENSION
from .types import KNN_METHODS as KNN_METHODS
from .types import METADATA_FIELDS as METADATA_FIELDS
from .types import OBJECT_TYPES as OBJECT_TYPES
from .types import SPACE_TYPES as SPACE_TYPES
from .validate import _Validator as _Validator
from .values import (
    DateFormat,
    ValueProblem,
    java_string,
    keyword_value,
    millis_to_iso,
    parse_boolean,
    parse_date_math,
    parse_number,
    parse_time_zone,
)
from .values import _Problem as _Problem
from .values import parse_bool_param as parse_bool_param

# The ``X as X`` imports above keep names the old single module offered outside ``__all__`` (other
# public tables and helpers, and the private classes reports and debugging refer to, such as
# ``mapping._Validator``) importable from the package, without widening ``import *``.

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
    "search_analyzer",
    "setting",
    "settings_to_json",
    "update_settings",
    "wildcard_regex",
]
