"""Tests of paging through an external API's answers (pull)."""

import pytest

from bj_api_sync.engine.pagination import PageError, Pager, items_of, link_header_next

URL = "https://api.test/items"


def test_items_at_a_path_or_the_answer_itself():
    assert items_of({"data": {"items": [{"a": 1}]}}, "data.items") == [{"a": 1}]
    assert items_of([{"a": 1}, {"a": 2}], "") == [{"a": 1}, {"a": 2}]
    assert items_of({"a": 1}, "") == [{"a": 1}]
    assert items_of({"records": None}, "records") == []
    assert items_of(None, "") == []


@pytest.mark.parametrize("data, path", [({"x": []}, "records"), ({"records": 3}, "records"),
                                        ("text", "")])
def test_items_missing_or_not_a_list(data, path):
    with pytest.raises(PageError):
        items_of(data, path)


def test_none_reads_one_page():
    pager = Pager()
    assert pager.first_params() == []
    assert pager.next_request(1, 100, {}, {}, URL, []) is None


def test_page_numbers_until_a_short_page():
    pager = Pager("page", size=2)
    first = pager.first_params()
    assert first == [("page", "1"), ("per_page", "2")]
    assert pager.next_request(1, 2, {}, {}, URL, first) == (URL, [("per_page", "2"), ("page", "2")])
    assert pager.next_request(2, 1, {}, {}, URL, first) is None
    assert pager.next_request(2, 0, {}, {}, URL, first) is None


def test_page_with_own_names():
    pager = Pager("page", size=50, page_param="p", size_param="n")
    assert pager.first_params() == [("p", "1"), ("n", "50")]


def test_offset_defaults_to_offset_and_limit():
    pager = Pager("offset", size=10, page_param="page", size_param="per_page")
    first = pager.first_params()
    assert first == [("offset", "0"), ("limit", "10")]
    assert pager.next_request(1, 10, {}, {}, URL, first) == (URL, [("limit", "10"), ("offset", "10")])
    assert pager.next_request(3, 10, {}, {}, URL, first)[1][-1] == ("offset", "30")
    assert pager.next_request(3, 9, {}, {}, URL, first) is None


def test_cursor_until_empty():
    pager = Pager("cursor", size=5, size_param="limit", cursor_path="meta.next",
                  cursor_param="after")
    assert pager.first_params() == [("limit", "5")]
    nxt = pager.next_request(1, 5, {"meta": {"next": "c2"}}, {}, URL, [("limit", "5")])
    assert nxt == (URL, [("limit", "5"), ("after", "c2")])
    assert pager.next_request(2, 5, {"meta": {"next": None}}, {}, URL, nxt[1]) is None
    assert pager.next_request(2, 5, {"meta": {}}, {}, URL, nxt[1]) is None


def test_next_link_in_body_resolved_against_the_current_url():
    pager = Pager("next_link", next_path="pagination.next")
    data = {"pagination": {"next": "/api/sync/v1/res.partner/search?page=2&per_page=2"}}
    url = "http://127.0.0.1:8069/api/sync/v1/res.partner/search?per_page=2"
    assert pager.next_request(1, 2, data, {}, url, []) == (
        "http://127.0.0.1:8069/api/sync/v1/res.partner/search?page=2&per_page=2", [])
    assert pager.next_request(2, 2, {"pagination": {"next": None}}, {}, url, []) is None


def test_next_link_from_link_header():
    pager = Pager("next_link")
    headers = {"link": '<https://api.test/items?page=1>; rel="prev", '
                       '<https://api.test/items?page=3>; rel="next"'}
    assert pager.next_request(2, 10, [], headers, URL, []) == ("https://api.test/items?page=3", [])
    assert pager.next_request(2, 10, [], {}, URL, []) is None


def test_link_header_parsing():
    assert link_header_next('<a>; rel=next') == "a"
    assert link_header_next('<a>; rel="prev first"') is None
    assert link_header_next('<a>; title="x"; rel="last next"') == "a"
    assert link_header_next("") is None


def test_max_pages_bounds_every_style():
    for style in ("page", "offset", "cursor", "next_link"):
        pager = Pager(style, size=1, max_pages=3, cursor_path="c", next_path="n")
        assert pager.next_request(3, 1, {"c": "x", "n": "/x"}, {}, URL, []) is None
        assert pager.next_request(2, 1, {"c": "x", "n": "/x"}, {}, URL, []) is not None


def test_unknown_style():
    with pytest.raises(ValueError):
        Pager("pages")


@pytest.mark.parametrize("link", ["https://evil.test/items?page=2", "http://api.test/items?page=2",
                                  "https://api.test:8443/items?page=2", "//evil.test/x"])
def test_next_link_to_another_server_is_refused(link):
    pager = Pager("next_link", next_path="next")
    with pytest.raises(PageError, match="leaves https://api.test:443"):
        pager.next_request(1, 10, {"next": link}, {}, URL, [])
    with pytest.raises(PageError):
        pager.next_request(1, 10, [], {"Link": f'<{link}>; rel="next"'}, URL, [])


def test_next_link_on_the_same_server_is_followed():
    pager = Pager("next_link", next_path="next")
    assert pager.next_request(1, 10, {"next": "https://API.test:443/items?page=2"}, {}, URL,
                              [])[0] == "https://API.test:443/items?page=2"
