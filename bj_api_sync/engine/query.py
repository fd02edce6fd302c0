"""Validation of the query inputs of the inbound API: domain, order, fields, paging.

Clients never send SQL or Python: a domain is data (JSON, or a Python literal
read with :func:`ast.literal_eval`), an order is a short list of allowlisted
field names with fixed keywords, and every field name is checked against the
allowlist the Odoo layer passes in (``fields``: name -> ``fields_get()``
description of what the caller may see). Anything else is an
:class:`~.errors.ApiError` ``VALIDATION_ERROR`` naming what is wrong.
"""
import ast
import contextlib
import json
import math
import re
from urllib.parse import urlencode

from .errors import ApiError

DOMAIN_OPERATORS = (
    "=", "!=", "<>", "<", "<=", ">", ">=",
    "like", "ilike", "not like", "not ilike", "=like", "=ilike",
    "in", "not in", "child_of", "parent_of", "=?",
)
MAX_DOMAIN_TERMS = 100
MAX_ORDER_ITEMS = 5
# Record ids are PostgreSQL int4: an offset past this can never return a row,
# and a bigger one could overflow the SQL parameter.
MAX_OFFSET = 2**31 - 1
#: Most records one search page may hold (``limit`` / ``per_page``).
MAX_LIMIT = 1000

_LOGICAL = {"&": 2, "|": 2, "!": 1}
_SEGMENT_RE = re.compile(r"[a-z_][a-z0-9_]*")
# Operators that take a list of values; any other operator takes one scalar.
_LIST_OPERATORS = ("in", "not in", "child_of", "parent_of")
_REQUIRES_LIST = ("in", "not in")
_ORDER_ITEM_RE = re.compile(
    r"(?P<field>[a-z_][a-z0-9_]*)"
    r"(?:\s+(?P<dir>(?i:asc|desc)))?"
    r"(?:\s+(?i:nulls)\s+(?P<nulls>(?i:first|last)))?"
)
_UNSORTABLE_TYPES = ("one2many", "many2many", "binary", "json", "html")
_INT_RE = re.compile(r"\s*[+-]?\d+\s*")


def _domain_error(message, **details):
    return ApiError.validation(message, parameter="domain", **details)


def _load_domain(raw):
    """Turn the raw text into Python data: JSON first, then a Python literal."""
    with contextlib.suppress(ValueError, RecursionError):
        return json.loads(raw)
    try:
        # literal_eval only builds constants, lists, tuples, dicts and sets: no
        # names, calls or attributes, so "__import__('os')" is refused here.
        return ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise _domain_error(
            "The domain is neither valid JSON nor a Python literal list "
            f"({type(exc).__name__})"
        ) from None


def _is_scalar(value):
    if isinstance(value, float):
        # NaN and infinities are valid JSON for Python but no sensible filter.
        return math.isfinite(value)
    if isinstance(value, str):
        # PostgreSQL text cannot hold NUL: the driver would fail on it.
        return "\x00" not in value
    return value is None or isinstance(value, (bool, int))


def _check_term(index, item, fields):
    """Validate one ``[field, operator, value]`` leaf; return it as a tuple."""
    if len(item) != 3:
        raise _domain_error(
            f"domain[{index}]: a term must have exactly 3 elements "
            f"[field, operator, value], got {len(item)}",
            index=index,
        )
    path, operator, value = item
    if not isinstance(path, str):
        raise _domain_error(
            f"domain[{index}]: the field of a term must be a string", index=index
        )
    segments = path.split(".")
    for segment in segments:
        if not _SEGMENT_RE.fullmatch(segment):
            raise _domain_error(
                f"domain[{index}]: {path!r} is not a valid field path",
                index=index, field=path,
            )
    if segments[0] != "id" and segments[0] not in fields:
        raise _domain_error(
            f"domain[{index}]: field {segments[0]!r} is not available on this resource",
            index=index, field=segments[0],
        )
    if not isinstance(operator, str) or operator.lower() not in DOMAIN_OPERATORS:
        raise _domain_error(
            f"domain[{index}]: operator {operator!r} is not allowed "
            f"(allowed: {', '.join(DOMAIN_OPERATORS)})",
            index=index, operator=operator if isinstance(operator, str) else repr(operator),
        )
    # Odoo itself lowercases operators, so "ILIKE" means "ilike".
    operator = operator.lower()
    if isinstance(value, (list, tuple)):
        if operator not in _LIST_OPERATORS:
            raise _domain_error(
                f"domain[{index}]: operator {operator!r} takes a single value, not a list",
                index=index, field=path, operator=operator,
            )
        if not all(_is_scalar(v) for v in value):
            raise _domain_error(
                f"domain[{index}]: the values of field {path!r} must be strings, "
                "numbers, booleans or null",
                index=index, field=path,
            )
        value = list(value)
    elif operator in _REQUIRES_LIST:
        raise _domain_error(
            f"domain[{index}]: operator {operator!r} needs a list of values",
            index=index, field=path, operator=operator,
        )
    elif not _is_scalar(value):
        raise _domain_error(
            f"domain[{index}]: the value of field {path!r} must be a string, number, "
            "boolean, null or a list of those",
            index=index, field=path,
        )
    return (path, operator, value)


def parse_domain(raw, fields, *, max_terms=MAX_DOMAIN_TERMS):
    """Parse and validate a client domain; return it as a list (terms as tuples).

    ``raw`` is JSON text (``'[["customer_rank", ">", 0]]'``), Python-literal
    text (tuples, ``True``/``False``/``None``; read with ``ast.literal_eval``,
    never ``eval``), an already parsed list/tuple, or ``None``/``""`` for ``[]``.
    Items are ``"&"``, ``"|"``, ``"!"`` or ``[field, operator, value]``; the
    whole must be a well-formed prefix expression once Odoo's implicit ``"&"``
    are added. Fields are dotted paths whose first segment is in ``fields``
    (or ``id``); operators come from :data:`DOMAIN_OPERATORS`; values are
    scalars (strings without NUL characters), or lists of scalars for
    ``in``/``not in``/``child_of``/``parent_of`` (``in``/``not in`` require a
    list). At most ``max_terms`` items.

    Raises ``ApiError("VALIDATION_ERROR")`` with ``details["parameter"] ==
    "domain"`` and, for an item, its ``index`` (and ``field``/``operator``).
    """
    if raw is None:
        return []
    if isinstance(raw, str):
        if not raw.strip():
            return []
        raw = _load_domain(raw)
    if not isinstance(raw, (list, tuple)):
        raise _domain_error(
            f"The domain must be a list of terms, got {type(raw).__name__}"
        )
    if len(raw) > max_terms:
        raise _domain_error(
            f"The domain has {len(raw)} items; at most {max_terms} are allowed",
            max_terms=max_terms,
        )
    domain = []
    for index, item in enumerate(raw):
        if isinstance(item, str):
            if item not in _LOGICAL:
                raise _domain_error(
                    f"domain[{index}]: {item!r} is not a logical operator "
                    "('&', '|' or '!') nor a term",
                    index=index,
                )
            domain.append(item)
        elif isinstance(item, (list, tuple)):
            domain.append(_check_term(index, item, fields))
        else:
            raise _domain_error(
                f"domain[{index}]: expected a term [field, operator, value] or "
                f"'&', '|', '!', got {type(item).__name__}",
                index=index,
            )
    # Read right to left: each term pushes one operand, each prefix operator
    # consumes its arity and pushes its result. Operands left over at the end
    # are joined by Odoo's implicit '&'.
    operands = 0
    for index in range(len(domain) - 1, -1, -1):
        item = domain[index]
        if isinstance(item, tuple):
            operands += 1
            continue
        arity = _LOGICAL[item]
        if operands < arity:
            raise _domain_error(
                f"domain[{index}]: operator {item!r} needs {arity} operand(s) "
                f"after it, found {operands}",
                index=index, operator=item,
            )
        operands -= arity - 1
    return domain


def _order_error(message, **details):
    return ApiError.validation(message, parameter="order", **details)


def parse_order(raw, fields, *, default="id"):
    """Validate a sort specification; return it normalised (``"name asc, id desc"``).

    Accepts a comma list of ``field [asc|desc] [nulls first|nulls last]`` (at
    most 5 items, each field once). A field must be ``id`` or in ``fields`` and
    sortable: stored (``store`` missing counts as stored) and not of type
    one2many, many2many, binary, json or html. ``None``/blank returns
    ``default`` unchanged. Anything else is a ``VALIDATION_ERROR`` with
    ``details["parameter"] == "order"``.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return default
    if not isinstance(raw, str):
        raise _order_error(f"The order must be a string, got {type(raw).__name__}")
    items = raw.split(",")
    if len(items) > MAX_ORDER_ITEMS:
        raise _order_error(
            f"The order has {len(items)} items; at most {MAX_ORDER_ITEMS} are allowed",
            max_items=MAX_ORDER_ITEMS,
        )
    parts = []
    seen = set()
    for position, item in enumerate(items):
        match = _ORDER_ITEM_RE.fullmatch(item.strip())
        if not match:
            raise _order_error(
                f"Invalid order item {item.strip()!r}: expected "
                "'field [asc|desc] [nulls first|nulls last]'",
                item=item.strip(), index=position,
            )
        name = match["field"]
        if name != "id":
            desc = fields.get(name)
            if desc is None:
                raise _order_error(
                    f"Cannot sort on {name!r}: no such field on this resource",
                    field=name,
                )
            if not desc.get("store", True) or desc.get("type") in _UNSORTABLE_TYPES:
                raise _order_error(f"Cannot sort on field {name!r}", field=name)
        if name in seen:
            raise _order_error(f"Field {name!r} appears twice in the order", field=name)
        seen.add(name)
        part = f"{name} {(match['dir'] or 'asc').lower()}"
        if match["nulls"]:
            part += f" nulls {match['nulls'].lower()}"
        parts.append(part)
    return ", ".join(parts)


def parse_fields(raw, fields, *, default=None, parameter="fields"):
    """Validate a field selection; return the list of names, deduplicated in order.

    ``raw`` is a comma list (``"name,email"``), a JSON list text
    (``'["name", "email"]'``), a list of strings, or ``None``/blank. Blank
    entries are dropped. ``id`` is always allowed; any other name must be in
    ``fields``, else ``VALIDATION_ERROR`` with ``details == {"parameter":
    "fields", "unknown": [...]}`` listing every unknown name. An empty
    selection gives ``default`` (or every name of ``fields`` when ``None``).
    ``parameter`` names the input in error details (``options.return_fields``).
    """
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("["):
            try:
                raw = json.loads(text)
            except (ValueError, RecursionError):
                raise ApiError(
                    "VALIDATION_ERROR",
                    "The fields parameter is neither a comma-separated list nor a "
                    "valid JSON list",
                    {"parameter": parameter},
                ) from None
        else:
            raw = text.split(",")
    if raw is None:
        raw = []
    if not isinstance(raw, (list, tuple)) or not all(isinstance(n, str) for n in raw):
        raise ApiError(
            "VALIDATION_ERROR",
            "The fields parameter must be a list of field names",
            {"parameter": parameter},
        )
    names = []
    unknown = []
    for name in (n.strip() for n in raw):
        if not name or name in names or name in unknown:
            continue
        if name == "id" or name in fields:
            names.append(name)
        else:
            unknown.append(name)
    if unknown:
        raise ApiError(
            "VALIDATION_ERROR",
            "Unknown field(s): " + ", ".join(unknown),
            {"parameter": parameter, "unknown": unknown},
        )
    if not names:
        return list(default) if default is not None else list(fields)
    return names


def _paging_int(args, name, minimum, maximum):
    """Read one integer argument; ``None`` when absent or blank."""
    raw = args.get(name)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool) or not (
        isinstance(raw, int) or (isinstance(raw, str) and _INT_RE.fullmatch(raw))
    ):
        raise ApiError(
            "VALIDATION_ERROR",
            f"Parameter {name!r} must be an integer",
            {"parameter": name, "value": str(raw)[:100]},
        )
    value = int(raw)
    if value < minimum:
        raise ApiError(
            "VALIDATION_ERROR",
            f"Parameter {name!r} must be at least {minimum}",
            {"parameter": name, "minimum": minimum},
        )
    if value > maximum:
        raise ApiError(
            "VALIDATION_ERROR",
            f"Parameter {name!r} must be at most {maximum}",
            {"parameter": name, "maximum": maximum},
        )
    return value


def parse_paging(args, *, default_limit=100, max_limit=MAX_LIMIT):
    """Read ``limit``/``offset`` or ``page``/``per_page`` (1-based page) from ``args``.

    Returns ``{"limit", "offset", "page", "per_page"}`` with ``per_page ==
    limit`` and ``page == offset // limit + 1``. Non-integers, ``limit`` or
    ``per_page`` below 1 or above ``max_limit``, a negative ``offset``, a
    ``page`` below 1, or mixing the two styles raise ``VALIDATION_ERROR``
    naming the parameter (``details["parameter"]``, plus ``"maximum"`` or
    ``"minimum"``).
    """
    offset_style = [n for n in ("limit", "offset") if _present(args, n)]
    page_style = [n for n in ("page", "per_page") if _present(args, n)]
    if offset_style and page_style:
        raise ApiError(
            "VALIDATION_ERROR",
            "Use either limit/offset or page/per_page, not both "
            f"(got {', '.join(offset_style + page_style)})",
            {"parameter": page_style[0]},
        )
    default_limit = max(1, min(default_limit, max_limit))
    if page_style:
        per_page = _paging_int(args, "per_page", 1, max_limit) or default_limit
        # One bound whatever per_page is, so that clients (and the OpenAPI
        # document) can know it: every page up to it starts within MAX_OFFSET.
        page = _paging_int(args, "page", 1, max_page(max_limit)) or 1
        limit, offset = per_page, (page - 1) * per_page
    else:
        limit = _paging_int(args, "limit", 1, max_limit) or default_limit
        offset = _paging_int(args, "offset", 0, MAX_OFFSET) or 0
    return {"limit": limit, "offset": offset, "page": offset // limit + 1, "per_page": limit}


def max_page(max_limit=MAX_LIMIT):
    """Highest ``page`` accepted: the last whose records all start within ``MAX_OFFSET``."""
    return MAX_OFFSET // max_limit + 1


def _present(args, name):
    value = args.get(name)
    return value is not None and not (isinstance(value, str) and not value.strip())


def pagination_block(*, total, limit, offset, base_path, query):
    """Return the ``pagination`` object of a search answer.

    ``{"total", "page", "per_page", "pages", "next", "previous"}`` where
    ``per_page == limit``, ``page == offset // limit + 1``, ``pages ==
    ceil(total / per_page)`` (0 when ``total`` is 0). ``next``/``previous``
    are ``base_path?<query>`` links, ``None`` past either end, with the other
    keys of ``query`` kept in their given order:

    - when ``offset`` is a multiple of ``limit``, with ``page``/``per_page``
      set (in place when ``query`` had them, else appended) and
      ``limit``/``offset`` removed; ``previous`` is clamped to the last page
      when ``page`` is beyond it;
    - otherwise (a window no page number can express) with ``limit``/
      ``offset``: ``next`` starts where this window ends, ``previous`` ends
      where it starts (or at ``total``), so that no record is listed twice.
    """
    per_page = max(1, int(limit))
    offset = int(offset)
    page = offset // per_page + 1
    pages = math.ceil(total / per_page) if total > 0 else 0

    def link(values, drop):
        pairs = []
        placed = set()
        for key, value in query.items():
            if key in drop:
                continue
            if key in values:
                if key not in placed:
                    pairs.append((key, values[key]))
                    placed.add(key)
                continue
            pairs.append((key, value))
        pairs += [(key, value) for key, value in values.items() if key not in placed]
        return f"{base_path}?{urlencode(pairs)}"

    if offset % per_page == 0:
        def page_link(target):
            return link({"page": target, "per_page": per_page}, ("limit", "offset"))

        next_link = page_link(page + 1) if page < pages else None
        previous = page_link(min(page - 1, pages)) if page > 1 and pages > 0 else None
    else:
        next_link = (
            link({"limit": per_page, "offset": offset + per_page}, ("page", "per_page"))
            if offset + per_page < total else None
        )
        end = min(offset, total)
        start = max(0, end - per_page)
        previous = (
            link({"limit": end - start, "offset": start}, ("page", "per_page"))
            if end > 0 else None
        )
    return {
        "total": total,
        "page": page,
        "per_page": per_page,
        "pages": pages,
        "next": next_link,
        "previous": previous,
    }
