"""Paging through an external API's answers (pull): which items a page holds and
how the next page is asked for (``page``, ``offset``, ``cursor``, ``next_link``)."""
import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from .mapping_out import get_dotted

STYLES = ("none", "page", "offset", "cursor", "next_link")
_LINK = re.compile(r'<([^>]*)>\s*((?:;\s*[^;,]*)*)')
_REL = re.compile(r'rel\s*=\s*"?([^";]*)"?', re.IGNORECASE)


class PageError(ValueError):
    """An answer's items are not where the configuration says."""


def items_of(data, path):
    """Return the list of items of an answer: at the dotted ``path``, or the
    answer itself (a list, or one object) when ``path`` is empty."""
    node = get_dotted(data, path) if path else data
    if path and node is None and not (isinstance(data, dict) and path in data):
        raise PageError(f"the answer has no {path!r}")
    if node is None:
        return []
    if isinstance(node, dict):
        return [node]
    if isinstance(node, list):
        return node
    raise PageError(f"{path or 'the answer'} is a {type(node).__name__}, not a list of objects")


def link_header_next(value):
    """Return the ``rel="next"`` URL of a ``Link`` header, or None."""
    for match in _LINK.finditer(value or ""):
        for rel in _REL.findall(match.group(2)):
            if "next" in rel.lower().split():
                return match.group(1).strip()
    return None


@dataclass(frozen=True)
class Pager:
    """How one configuration pages: its style, query names and bounds."""

    style: str = "none"
    size: int = 100
    page_param: str = ""
    size_param: str = ""
    cursor_path: str = ""
    cursor_param: str = ""
    next_path: str = ""
    max_pages: int = 1000

    def __post_init__(self):
        if self.style not in STYLES:
            raise ValueError(f"unknown pagination {self.style!r}")

    @property
    def _names(self):
        if self.style == "offset":
            return (self.page_param if self.page_param not in ("", "page") else "offset",
                    self.size_param if self.size_param not in ("", "per_page") else "limit")
        return self.page_param or "page", self.size_param or "per_page"

    def first_params(self):
        """Return the query parameters of the first page."""
        position, size = self._names
        if self.style == "page":
            return [(position, "1"), (size, str(self.size))]
        if self.style == "offset":
            return [(position, "0"), (size, str(self.size))]
        if self.style == "cursor" and self.size_param:
            return [(self.size_param, str(self.size))]
        return []

    def next_request(self, number, count, data, headers, url, params):
        """Return ``(url, params)`` of the page after page ``number`` (1-based),
        which held ``count`` items, or None when there is no next page.

        ``url`` and ``params`` are those of the page just read: ``next_link``
        resolves a relative link against ``url``.
        """
        if self.style == "none" or number >= self.max_pages:
            return None
        position, size = self._names
        if self.style in ("page", "offset"):
            if count < self.size or count == 0:
                return None
            value = number + 1 if self.style == "page" else number * self.size
            return url, _replace(params, position, str(value))
        if self.style == "cursor":
            cursor = get_dotted(data, self.cursor_path) if self.cursor_path else None
            if cursor in (None, False, "") or isinstance(cursor, (dict, list)) or count == 0:
                return None
            return url, _replace(params, self.cursor_param or "cursor", str(cursor))
        link = get_dotted(data, self.next_path) if self.next_path else None
        if not isinstance(link, str) or not link:
            link = link_header_next(_header(headers, "Link"))
        if not link:
            return None
        target = urljoin(url, link)
        # The configuration's credentials go with every page: never to another server.
        if _origin(target) != _origin(url):
            raise PageError(f"the next link {target!r} leaves {_origin(url)}; not followed")
        return target, []


def _origin(url):
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def _replace(params, key, value):
    return [(k, v) for k, v in params if k != key] + [(key, value)]


def _header(headers, name):
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return value
    return None
