"""Tests of URL placeholders: {external_id}, {field}, {field.sub}."""

import pytest

from bj_api_sync.engine.url_template import (
    TemplateError,
    encode,
    field_paths,
    placeholders,
    render,
    uses_external_id,
)

CRM = "https://crm.example.com/customers/{external_id}"


def test_no_placeholder():
    assert placeholders("https://x.test/a?b=1") == ()
    assert render("https://x.test/a", {}) == "https://x.test/a"


def test_names_in_order_once():
    url = "https://x.test/{country_id.code}/{external_id}/{ref}/{external_id}"
    assert placeholders(url) == ("country_id.code", "external_id", "ref")
    assert field_paths(url) == ("country_id.code", "ref")
    assert uses_external_id(url)
    assert not uses_external_id("https://x.test/{ref}")


@pytest.mark.parametrize("url", ["https://x.test/{ref", "https://x.test/ref}",
                                 "https://x.test/{}", "https://x.test/{a b}",
                                 "https://x.test/{1abc}", "https://x.test/{a..b}",
                                 "https://x.test/{{ref}}"])
def test_malformed_is_refused(url):
    with pytest.raises(TemplateError):
        placeholders(url)


def test_render_encodes_each_value_as_one_segment():
    assert render(CRM, external_id="crm/1 ?&") == "https://crm.example.com/customers/crm%2F1%20%3F%26"
    assert render("https://x.test/{a}?q={b.c}", {"a": "é", "b.c": 12}) == \
        "https://x.test/%C3%A9?q=12"


def test_render_keeps_external_id_for_later():
    partial = render("https://x.test/{ref}/{external_id}", {"ref": "R 1"}, keep_external_id=True)
    assert partial == "https://x.test/R%201/{external_id}"
    assert render(partial, external_id="e1") == "https://x.test/R%201/e1"


@pytest.mark.parametrize("missing", [None, False, ""])
def test_render_without_external_id_raises(missing):
    with pytest.raises(ValueError):
        render(CRM, external_id=missing)


def test_render_unknown_path_raises_key_error():
    with pytest.raises(KeyError):
        render("https://x.test/{ref}", {})


@pytest.mark.parametrize("value, text", [(None, ""), (False, ""), (True, "true"), (0, "0"),
                                         (1.5, "1.5"), ("a/b", "a%2Fb")])
def test_encode(value, text):
    assert encode(value) == text
