"""Where the inbound API lives: its base path and the names that are not resources."""

#: The base path of every route of the inbound API.
API_BASE = "/api/sync/v1"

#: Endpoint names a configuration may not take: the API's own routes and path
#: parts (an endpoint with one of these names would be shadowed by them).
RESERVED_ENDPOINTS = frozenset({"webhooks", "events", "openapi.json", "search", "batch"})


def is_api_path(path):
    """Tell whether the URL path ``path`` belongs to the inbound API."""
    return path == API_BASE or path.startswith(API_BASE + "/")
