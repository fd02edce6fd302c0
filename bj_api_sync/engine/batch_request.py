"""Batch requests parsed: ``{"operations": [...], "options": {...}}`` checked."""
from .errors import ApiError
from .mapping_in import _is_record_id, _short, require_object, require_top_level_keys

MAX_BATCH_OPERATIONS = 1000
_BATCH_METHODS = ("create", "update", "delete")


def parse_batch(body, *, max_operations=MAX_BATCH_OPERATIONS):
    """Validate a batch body; return ``(operations, options)``.

    ``body`` is ``{"operations": [{"method", "id"?, "data"?}], "options":
    {...}}``. Each operation comes back as ``{"index", "method", "id",
    "data"}`` (``id``/``data`` ``None`` where not used). Rules: 1 to
    ``max_operations`` operations; ``method`` is create, update or delete;
    update/delete need a positive integer ``id``, create takes none;
    create/update need a ``data`` object, delete takes none; no other keys.
    ``options.transaction`` and ``options.continue_on_error`` are booleans
    (default ``False``) and cannot both be true; other option keys are passed
    through; other top-level keys are refused. Every faulty operation is
    listed in one ``VALIDATION_ERROR`` with
    ``details == {"parameter": "operations", "errors": [{"index", "message"}]}``.
    """
    require_top_level_keys(body, ("operations", "options"),
                           '{"operations": [...], "options": {...}}')
    operations = body.get("operations")
    if not isinstance(operations, list):
        raise ApiError(
            "VALIDATION_ERROR",
            "'operations' must be a JSON array of operations",
            {"parameter": "operations"},
        )
    if not operations:
        raise ApiError(
            "VALIDATION_ERROR",
            "'operations' is empty: send at least one operation",
            {"parameter": "operations"},
        )
    if len(operations) > max_operations:
        raise ApiError(
            "VALIDATION_ERROR",
            f"Too many operations ({len(operations)}); at most {max_operations} "
            "per batch",
            {"parameter": "operations", "maximum": max_operations},
        )
    options = body.get("options")
    options = {} if options is None else dict(require_object(options, "options"))
    for key in ("transaction", "continue_on_error"):
        options.setdefault(key, False)
        if not isinstance(options[key], bool):
            raise ApiError(
                "VALIDATION_ERROR",
                f"Option {key!r} must be a boolean",
                {"parameter": f"options.{key}"},
            )
    if options["transaction"] and options["continue_on_error"]:
        raise ApiError(
            "VALIDATION_ERROR",
            "Options 'transaction' and 'continue_on_error' are contradictory: a "
            "transaction is rolled back as a whole at the first error",
            {"parameter": "options"},
        )
    result = []
    errors = []
    for index, operation in enumerate(operations):
        try:
            result.append(_parse_operation(index, operation))
        except ValueError as exc:
            errors.append({"index": index, "message": str(exc)})
    if errors:
        message = (
            f"Operation #{errors[0]['index']}: {errors[0]['message']}"
            if len(errors) == 1
            else f"{len(errors)} operations are invalid"
        )
        raise ApiError(
            "VALIDATION_ERROR", message, {"parameter": "operations", "errors": errors}
        )
    return result, options


def _parse_operation(index, operation):
    """Validate one batch operation; a ``ValueError`` says what is wrong."""
    if not isinstance(operation, dict):
        raise ValueError("an operation must be a JSON object")
    extra = sorted(k for k in operation if k not in ("method", "id", "data"))
    if extra:
        raise ValueError("unknown key(s): " + ", ".join(extra))
    method = operation.get("method")
    if method not in _BATCH_METHODS:
        raise ValueError(
            f"'method' must be one of {', '.join(_BATCH_METHODS)}, got {_short(method)}"
        )
    record_id = operation.get("id")
    data = operation.get("data")
    if method == "create":
        if record_id is not None:
            raise ValueError("'create' takes no 'id'")
    elif not _is_record_id(record_id):
        raise ValueError(f"'{method}' needs a positive integer 'id'")
    if method == "delete":
        if data is not None:
            raise ValueError("'delete' takes no 'data'")
    elif not isinstance(data, dict):
        raise ValueError(f"'{method}' needs a 'data' object")
    return {"index": index, "method": method, "id": record_id, "data": data}
