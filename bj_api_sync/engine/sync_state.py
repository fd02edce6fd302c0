"""Two-way sync arithmetic that needs no database: payload hashes, the body
envelope and the external ids read from an answer."""
import hashlib

from .http_client import to_json
from .mapping_out import get_dotted

_MISSING = object()


def payload_hash(payload):
    """Return a short stable digest of one record's mapped payload."""
    return hashlib.blake2b(to_json(payload).encode(), digest_size=16).hexdigest()


def wrap(body, envelope):
    """Return ``body`` under the dotted key ``envelope`` (``data`` gives
    ``{"data": body}``, ``a.b`` gives ``{"a": {"b": body}}``); no key: ``body``."""
    for part in reversed([p for p in (envelope or "").strip().split(".") if p]):
        body = {part: body}
    return body


def _text_id(value):
    if value is None or value is False or value == "" or isinstance(value, (dict, list)):
        return None
    return str(value)


def external_id_of(answer, path):
    """Return the external id at the dotted ``path`` of one answer object, or None."""
    return _text_id(get_dotted(answer, path or "id"))


def answer_items(data, count, identifier=None, payloads=()):
    """Return one answer object per sent record (None where unknown), in order.

    A single record (``count`` 1) is answered by the object itself, or by a
    one-item array. A batch is answered by an array: its items are matched to
    the sent payloads by the Record Identifier (``identifier``, an external
    key) when the items carry it, else by position when the lengths agree.
    """
    if count == 1 and isinstance(data, dict):
        return [data]
    if not isinstance(data, list):
        return [None] * count
    items = [item if isinstance(item, dict) else None for item in data]
    if identifier and payloads:
        by_identifier = {}
        for item in items:
            value = get_dotted(item, identifier, _MISSING) if item else _MISSING
            if value is not _MISSING and value is not None:
                by_identifier.setdefault(str(value), item)
        if by_identifier:
            matched = []
            for payload in payloads:
                value = get_dotted(payload, identifier, _MISSING)
                key = None if value is _MISSING or value is None else str(value)
                matched.append(by_identifier.get(key))
            return matched
    if len(items) == count:
        return items
    return [None] * count


def external_ids(data, count, path="id", identifier=None, payloads=()):
    """Return the external id of each sent record read from the answer ``data``."""
    return [None if item is None else external_id_of(item, path)
            for item in answer_items(data, count, identifier, payloads)]
