"""Placeholders in outbound URLs: ``{external_id}``, ``{field}`` and ``{field.sub}``.

``https://crm.example.com/customers/{external_id}`` is rendered per record with
the id the other side gave it (its binding) and ``{country_id.code}`` with the
record's values, each URL-encoded as one path segment or query value.
"""
import re
from urllib.parse import quote

EXTERNAL_ID = "external_id"

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")


class TemplateError(ValueError):
    """The URL's braces or placeholder names are malformed."""


def placeholders(template):
    """Return the placeholder names of ``template`` in order, each once.

    Raises :class:`TemplateError` for an unbalanced brace or a name that is
    not a dotted field path.
    """
    template = template or ""
    if "{" not in template and "}" not in template:
        return ()
    rest = _PLACEHOLDER.sub("", template)
    if "{" in rest or "}" in rest:
        raise TemplateError(f"unbalanced brace in {template!r}")
    names = []
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1).strip()
        if not _PATH.match(name):
            raise TemplateError(f"{{{match.group(1)}}} is not a field path")
        if name not in names:
            names.append(name)
    return tuple(names)


def field_paths(template):
    """Return the field paths (``name``, ``partner_id.ref``) ``template`` reads."""
    return tuple(name for name in placeholders(template) if name != EXTERNAL_ID)


def uses_external_id(template):
    """Tell whether ``template`` needs the record's external id."""
    return EXTERNAL_ID in placeholders(template)


def encode(value):
    """Return ``value`` as URL text: False and None give an empty segment."""
    if value is None or value is False:
        return ""
    if value is True:
        return "true"
    return quote(str(value), safe="")


def render(template, values=None, external_id=None, *, keep_external_id=False):
    """Return ``template`` with its placeholders replaced, URL-encoded.

    ``values`` maps field paths to values; ``external_id`` fills
    ``{external_id}`` unless ``keep_external_id``, which leaves it for a later
    rendering (the id is only known at delivery). A field path missing from
    ``values`` raises KeyError; a missing external id raises ValueError.
    """
    values = values or {}

    def substitute(match):
        name = match.group(1).strip()
        if name == EXTERNAL_ID:
            if keep_external_id:
                return match.group(0)
            if external_id in (None, False, ""):
                raise ValueError("no external id")
            return encode(external_id)
        return encode(values[name])

    return _PLACEHOLDER.sub(substitute, template or "")
