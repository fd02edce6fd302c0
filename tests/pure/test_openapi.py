"""Tests of bj_api_sync.engine.openapi: the OpenAPI 3.0.3 document."""
import copy
import json
import re

import pytest

from bj_api_sync.engine.errors import STATUS_BY_CODE
from bj_api_sync.engine.openapi import build_document

BASE = "/api/sync/v1"
ERROR_STATUSES = {"400", "401", "403", "404", "405", "409", "413", "429", "500"}

PARTNER = {
    "endpoint": "res.partner",
    "model": "res.partner",
    "name": "Partners",
    "methods": ["GET", "POST", "PUT", "DELETE"],
    "fields": {
        "name": {"type": "char", "string": "Name", "required": True},
        "email": {"type": "char", "string": "Email"},
        "is_company": {"type": "boolean", "string": "Is a Company"},
        "customer_rank": {"type": "integer", "string": "Customer Rank"},
        "credit_limit": {"type": "float"},
        "balance": {"type": "monetary", "readonly": True},
        "type": {"type": "selection", "selection": [["contact", "Contact"],
                                                    ["invoice", "Invoice"]]},
        "lang": {"type": "selection", "selection": [["en_US", "English"]], "required": True},
        "birthday": {"type": "date"},
        "create_date": {"type": "datetime", "readonly": True, "string": "Created on"},
        "country": {"type": "many2one", "relation": "res.country"},
        "child_ids": {"type": "one2many", "relation": "res.partner"},
        "tags": {"type": "many2many", "relation": "res.partner.category"},
        "image": {"type": "binary"},
        "props": {"type": "json"},
        "notes": {"type": "html"},
        "address.city": {"type": "char", "string": "City"},
        "address.zip": {"type": "char", "required": True},
        "address.geo.lat": {"type": "float"},
        "meta.created": {"type": "datetime", "readonly": True},
    },
    "identifier": "email",
    "auth_type": "bearer",
    "custom_headers": [],
}
PRODUCT = {
    "endpoint": "product.product",
    "model": "product.product",
    "name": "Products",
    "methods": ["GET"],
    "fields": {"name": {"type": "char", "required": True}},
    "identifier": None,
    "auth_type": "custom",
    "custom_headers": ["X-Api-Key", "X-Tenant"],
}
ORDER = {
    "endpoint": "orders",
    "model": "sale.order",
    "name": "Orders",
    "methods": ["POST", "DELETE"],
    "fields": {"name": {"type": "char"}},
    "identifier": None,
    "auth_type": "none",
    "custom_headers": [],
}
BASIC = {
    "endpoint": "basic-thing",
    "model": "res.country",
    "name": "Countries",
    "methods": ["PUT"],
    "fields": {"code": {"type": "char"}},
    "auth_type": "basic",
    "custom_headers": [],
}
RESOURCES = [PARTNER, PRODUCT, ORDER, BASIC]


@pytest.fixture(scope="module")
def doc():
    return build_document(copy.deepcopy(RESOURCES))


def _operations(document):
    for path, item in document["paths"].items():
        for verb, operation in item.items():
            if verb in ("get", "post", "put", "delete"):
                yield path, verb, operation


def _resolve(document, ref):
    assert ref.startswith("#/")
    node = document
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _all_refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _all_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _all_refs(value)


# -- document structure ---------------------------------------------------------------


def test_header(doc):
    assert doc["openapi"] == "3.0.3"
    assert doc["info"]["title"] == "bj_api_sync"
    assert doc["info"]["version"] == "17.0"
    assert doc["servers"] == [{"url": "/"}]


def test_header_arguments():
    document = build_document([], title="T", version="1.2", server_url="https://x.test")
    assert document["info"]["title"] == "T"
    assert document["info"]["version"] == "1.2"
    assert document["servers"] == [{"url": "https://x.test"}]


def test_document_is_json_serialisable(doc):
    assert json.loads(json.dumps(doc)) == doc


def test_deterministic_and_order_independent():
    first = build_document(copy.deepcopy(RESOURCES))
    second = build_document(copy.deepcopy(list(reversed(RESOURCES))))
    assert json.dumps(first, sort_keys=False) == json.dumps(second, sort_keys=False)


def test_input_not_mutated():
    resources = copy.deepcopy(RESOURCES)
    build_document(resources)
    assert resources == RESOURCES


def test_every_ref_resolves(doc):
    refs = set(_all_refs(doc))
    assert refs
    for ref in refs:
        _resolve(doc, ref)


# -- paths and verbs ----------------------------------------------------------------------


def test_partner_paths_all_verbs(doc):
    paths = doc["paths"]
    assert set(paths[f"{BASE}/res.partner"]) == {"post"}
    assert set(paths[f"{BASE}/res.partner/batch"]) == {"post"}
    assert set(paths[f"{BASE}/res.partner/search"]) == {"get"}
    assert set(paths[f"{BASE}/res.partner/{{id}}"]) == {"get", "put", "delete", "parameters"}


def test_get_only_resource(doc):
    paths = doc["paths"]
    assert f"{BASE}/product.product" not in paths
    assert f"{BASE}/product.product/batch" not in paths
    assert set(paths[f"{BASE}/product.product/search"]) == {"get"}
    assert set(paths[f"{BASE}/product.product/{{id}}"]) == {"get", "parameters"}


def test_post_delete_resource(doc):
    paths = doc["paths"]
    assert set(paths[f"{BASE}/orders"]) == {"post"}
    assert set(paths[f"{BASE}/orders/batch"]) == {"post"}
    assert f"{BASE}/orders/search" not in paths
    assert set(paths[f"{BASE}/orders/{{id}}"]) == {"delete", "parameters"}


def test_put_only_resource(doc):
    paths = doc["paths"]
    assert set(paths[f"{BASE}/basic-thing/{{id}}"]) == {"put", "parameters"}
    assert not [p for p in paths if p.startswith(f"{BASE}/basic-thing") and "{id}" not in p]


def test_methods_are_case_insensitive():
    resource = dict(ORDER, methods=["post"])
    assert f"{BASE}/orders" in build_document([resource])["paths"]


def test_no_methods_no_paths():
    resource = dict(ORDER, methods=[])
    paths = build_document([resource])["paths"]
    assert not [p for p in paths if p.startswith(f"{BASE}/orders")]


def test_id_path_parameter(doc):
    item = doc["paths"][f"{BASE}/res.partner/{{id}}"]
    param = _resolve(doc, item["parameters"][0]["$ref"])
    assert param == {"name": "id", "in": "path", "required": True,
                     "description": "Database id of the record",
                     "schema": {"type": "integer", "minimum": 1}}


def test_operation_ids_unique_and_stable(doc):
    ids = [op["operationId"] for _p, _v, op in _operations(doc)]
    assert len(ids) == len(set(ids))
    assert {"res_partner_create", "res_partner_search", "res_partner_read",
            "res_partner_update", "res_partner_delete", "res_partner_batch",
            "product_product_search", "product_product_read", "orders_create",
            "orders_batch", "orders_delete", "basic_thing_update",
            "webhooks_create", "webhooks_list", "webhooks_delete",
            "events_subscribe", "openapi_document"} == set(ids)


def test_colliding_names_get_numbers():
    resources = [dict(PARTNER), dict(PARTNER, endpoint="res_partner")]
    document = build_document(resources)
    ids = [op["operationId"] for _p, _v, op in _operations(document)]
    assert len(ids) == len(set(ids))
    assert "res_partner_create" in ids and "res_partner_2_create" in ids
    schemas = document["components"]["schemas"]
    assert {"ResPartner", "ResPartnerInput", "ResPartnerUpdate",
            "ResPartner2", "ResPartner2Input", "ResPartner2Update"} <= set(schemas)


def test_schema_name_collision_with_shared_schema():
    document = build_document([dict(ORDER, endpoint="error")])
    schemas = document["components"]["schemas"]
    assert schemas["Error"]["properties"]["success"] == {"type": "boolean", "enum": [False]}
    assert "Error2" in schemas and "Error2Input" in schemas
    create = document["paths"][f"{BASE}/error"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["data"] == {"$ref": "#/components/schemas/Error2Input"}


@pytest.mark.parametrize("endpoint", ["webhooks", "events", "openapi.json", "", "a/b"])
def test_reserved_or_bad_endpoints(endpoint):
    with pytest.raises(ValueError, match="cannot be published"):
        build_document([dict(ORDER, endpoint=endpoint)])


def test_duplicate_endpoint():
    with pytest.raises(ValueError, match="duplicate endpoint 'orders'"):
        build_document([ORDER, dict(ORDER)])


def test_conflicting_keys():
    bad = dict(ORDER, fields={"address": {"type": "char"}, "address.city": {"type": "char"}})
    with pytest.raises(ValueError, match="address"):
        build_document([bad])


# -- request and response bodies ------------------------------------------------------------


def _json_schema(part):
    return part["content"]["application/json"]["schema"]


def test_create_operation(doc):
    op = doc["paths"][f"{BASE}/res.partner"]["post"]
    body = _json_schema(op["requestBody"])
    assert op["requestBody"]["required"] is True
    assert body["required"] == ["data"]
    assert body["properties"]["data"] == {"$ref": "#/components/schemas/ResPartnerInput"}
    return_fields = body["properties"]["options"]["properties"]["return_fields"]
    assert return_fields["type"] == "array"
    assert set(return_fields["items"]["enum"]) == {"id", *PARTNER["fields"]}
    created = op["responses"]["201"]
    out = _json_schema(created)
    assert out["required"] == ["success", "id", "data"]
    assert out["properties"]["id"] == {"type": "integer"}
    assert out["properties"]["data"] == {"$ref": "#/components/schemas/ResPartner"}
    assert "200" not in op["responses"]


def test_search_operation(doc):
    op = doc["paths"][f"{BASE}/res.partner/search"]["get"]
    names = [_resolve(doc, p["$ref"])["name"] for p in op["parameters"]]
    assert names == ["X-Request-Id", "domain", "fields", "limit", "offset", "order", "page",
                     "per_page"]
    for ref in op["parameters"][1:]:
        assert _resolve(doc, ref["$ref"])["in"] == "query"
    out = _json_schema(op["responses"]["200"])
    assert out["required"] == ["success", "count", "records", "pagination"]
    assert out["properties"]["records"] == {
        "type": "array", "items": {"$ref": "#/components/schemas/ResPartner"}}
    assert out["properties"]["pagination"] == {"$ref": "#/components/schemas/Pagination"}
    pagination = doc["components"]["schemas"]["Pagination"]
    assert set(pagination["properties"]) == {"total", "page", "per_page", "pages", "next",
                                             "previous"}
    assert pagination["properties"]["next"]["nullable"] is True


def test_read_update_delete_operations(doc):
    item = doc["paths"][f"{BASE}/res.partner/{{id}}"]
    read = _json_schema(item["get"]["responses"]["200"])
    assert read["properties"]["data"] == {"$ref": "#/components/schemas/ResPartner"}
    update = item["put"]
    assert _json_schema(update["requestBody"])["properties"]["data"] == {
        "$ref": "#/components/schemas/ResPartnerUpdate"}
    out = _json_schema(update["responses"]["200"])
    assert out["required"] == ["success", "id", "updated_fields", "write_date"]
    assert out["properties"]["write_date"] == {"type": "string", "format": "date-time"}
    delete = item["delete"]
    assert delete["requestBody"]["required"] is False
    options = _json_schema(delete["requestBody"])["properties"]["options"]
    assert options["properties"]["archive_instead"]["type"] == "boolean"
    assert _json_schema(delete["responses"]["200"])["required"] == ["success", "message", "id"]


def test_batch_operation(doc):
    op = doc["paths"][f"{BASE}/res.partner/batch"]["post"]
    body = _json_schema(op["requestBody"])
    operations = body["properties"]["operations"]
    assert operations["minItems"] == 1
    assert operations["maxItems"] == 1000
    create, update, delete = operations["items"]["oneOf"]
    assert create["properties"]["method"]["enum"] == ["create"]
    assert create["required"] == ["method", "data"]
    assert create["properties"]["data"] == {"$ref": "#/components/schemas/ResPartnerInput"}
    assert "id" not in create["properties"]
    assert update["required"] == ["method", "id", "data"]
    assert update["properties"]["data"] == {"$ref": "#/components/schemas/ResPartnerUpdate"}
    assert update["properties"]["id"]["minimum"] == 1
    assert delete["required"] == ["method", "id"]
    assert set(delete["properties"]) == {"method", "id"}
    for operation in (create, update, delete):
        assert operation["additionalProperties"] is False
    options = body["properties"]["options"]["properties"]
    assert options["transaction"]["default"] is False
    assert options["continue_on_error"]["default"] is False
    results = _json_schema(op["responses"]["200"])["properties"]["results"]
    assert results["items"] == {"$ref": "#/components/schemas/BatchResult"}


# -- errors, headers, security ---------------------------------------------------------------


def test_every_operation_documents_errors_and_headers(doc):
    for _path, _verb, op in _operations(doc):
        responses = op["responses"]
        assert set(responses) >= ERROR_STATUSES
        for status in ERROR_STATUSES:
            response = _resolve(doc, responses[status]["$ref"])
            assert _json_schema(response) == {"$ref": "#/components/schemas/Error"}
            assert {"X-Request-Id", "X-RateLimit-Limit", "X-RateLimit-Remaining",
                    "X-RateLimit-Reset"} <= set(response["headers"])
        success = [s for s in responses if s.startswith("2")]
        assert len(success) == 1
        assert {"X-Request-Id", "X-RateLimit-Limit", "X-RateLimit-Remaining",
                "X-RateLimit-Reset"} <= set(responses[success[0]]["headers"])
        assert _resolve(doc, op["parameters"][0]["$ref"])["name"] == "X-Request-Id"


def test_error_responses_extra_headers_and_codes(doc):
    responses = doc["components"]["responses"]
    assert "Retry-After" in responses["RateLimitExceeded"]["headers"]
    assert "Allow" in responses["MethodNotAllowed"]["headers"]
    assert "WWW-Authenticate" in responses["AuthenticationError"]["headers"]
    for response in responses.values():
        example = response["content"]["application/json"]["example"]
        assert example["success"] is False
        assert example["error"]["code"] in STATUS_BY_CODE
        assert re.fullmatch(r"req_[A-Za-z0-9_-]{8,64}", example["error"]["trace_id"])
    codes = {r["content"]["application/json"]["example"]["error"]["code"]
             for r in responses.values()}
    assert codes == set(STATUS_BY_CODE)


def test_error_schema(doc):
    error = doc["components"]["schemas"]["Error"]
    assert error["required"] == ["success", "error"]
    inner = error["properties"]["error"]
    assert inner["required"] == ["code", "message", "details", "trace_id"]
    assert inner["properties"]["code"]["enum"] == list(STATUS_BY_CODE)
    assert inner["properties"]["details"]["type"] == "object"


def test_response_headers_components(doc):
    headers = doc["components"]["headers"]
    assert headers["X-Request-Id"]["required"] is True
    for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
                 "Retry-After"):
        assert headers[name]["schema"]["type"] == "integer"


def test_security_schemes(doc):
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["type"] == "http"
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert schemes["basicAuth"]["type"] == "http"
    assert schemes["basicAuth"]["scheme"] == "basic"
    assert schemes["header_x_api_key"] == {
        "type": "apiKey", "in": "header", "name": "X-Api-Key",
        "description": "Custom header X-Api-Key (auth type custom)"}
    assert schemes["header_x_tenant"]["name"] == "X-Tenant"


def test_security_per_auth_type(doc):
    paths = doc["paths"]
    assert paths[f"{BASE}/res.partner"]["post"]["security"] == [{"bearerAuth": []}]
    assert paths[f"{BASE}/basic-thing/{{id}}"]["put"]["security"] == [{"basicAuth": []}]
    assert paths[f"{BASE}/product.product/search"]["get"]["security"] == [
        {"header_x_api_key": [], "header_x_tenant": []}]
    assert paths[f"{BASE}/orders"]["post"]["security"] == []
    assert paths[f"{BASE}/orders/{{id}}"]["delete"]["security"] == []


def test_custom_headers_shared_case_insensitively():
    other = dict(PRODUCT, endpoint="other", custom_headers=["x-api-key"])
    document = build_document([PRODUCT, other])
    schemes = document["components"]["securitySchemes"]
    assert [k for k in schemes if k.startswith("header_")] == [
        "header_x_api_key", "header_x_tenant"]
    assert document["paths"][f"{BASE}/other/search"]["get"]["security"] == [
        {"header_x_api_key": []}]


def test_custom_without_headers_has_no_security():
    document = build_document([dict(PRODUCT, custom_headers=[])])
    assert document["paths"][f"{BASE}/product.product/search"]["get"]["security"] == []


# -- resource schemas ----------------------------------------------------------------------------


def test_output_schema_types(doc):
    props = doc["components"]["schemas"]["ResPartner"]["properties"]
    assert props["id"] == {"type": "integer", "readOnly": True}
    # Required text may still answer null: mapped keys give null for "".
    assert props["name"] == {"type": "string", "nullable": True, "description": "Name"}
    assert props["email"] == {"type": "string", "nullable": True, "description": "Email"}
    assert props["is_company"] == {"type": "boolean", "description": "Is a Company"}
    assert props["customer_rank"] == {"type": "integer", "minimum": -(2**31),
                                      "maximum": 2**31 - 1, "description": "Customer Rank"}
    assert props["credit_limit"] == {"type": "number"}
    assert props["balance"] == {"type": "number", "readOnly": True}
    assert props["type"] == {"type": "string", "enum": ["contact", "invoice", None],
                             "nullable": True}
    assert props["lang"] == {"type": "string", "enum": ["en_US"]}
    assert props["birthday"] == {"type": "string", "format": "date", "nullable": True}
    assert props["create_date"] == {"type": "string", "format": "date-time", "nullable": True,
                                    "readOnly": True, "description": "Created on"}
    assert props["country"] == {
        "type": "object", "nullable": True,
        "properties": {"id": {"type": "integer"},
                       "name": {"type": "string", "nullable": True}}}
    assert props["child_ids"] == {"type": "array", "items": {"type": "integer"}}
    assert props["tags"] == {"type": "array", "items": {"type": "integer"}}
    assert props["image"] == {"type": "string", "format": "byte", "nullable": True}
    assert props["props"] == {}
    assert props["notes"] == {"type": "string", "nullable": True}


def test_output_schema_nested_keys(doc):
    props = doc["components"]["schemas"]["ResPartner"]["properties"]
    address = props["address"]
    assert address["type"] == "object"
    assert address["properties"]["city"] == {"type": "string", "nullable": True,
                                             "description": "City"}
    assert address["properties"]["zip"] == {"type": "string", "nullable": True}
    assert address["properties"]["geo"]["properties"]["lat"] == {"type": "number"}
    assert "address.city" not in props
    assert props["meta"]["properties"]["created"]["readOnly"] is True


def test_input_schema(doc):
    schema = doc["components"]["schemas"]["ResPartnerInput"]
    props = schema["properties"]
    assert "id" not in props
    for readonly in ("balance", "create_date"):
        assert readonly not in props
    assert "meta" not in props  # nothing writable inside
    assert schema["required"] == ["address", "lang", "name"]
    assert props["address"]["required"] == ["zip"]
    assert "required" not in props["address"]["properties"]["geo"]
    assert props["country"]["nullable"] is True
    one_of = props["country"]["oneOf"]
    assert one_of[0] == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
    assert one_of[1]["type"] == "object"
    assert one_of[1]["required"] == ["id"]
    assert props["tags"]["type"] == "array"
    assert props["tags"]["items"] == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
    assert "ORM commands" in props["tags"]["description"]
    assert "nullable" not in props["tags"]
    assert props["customer_rank"]["nullable"] is True  # null -> empty on input
    assert "nullable" not in props["is_company"]
    assert "'email' matches an existing record" in schema["description"]


def test_update_schema_is_partial(doc):
    schema = doc["components"]["schemas"]["ResPartnerUpdate"]
    assert "required" not in schema
    assert "required" not in schema["properties"]["address"]
    assert set(schema["properties"]) == set(
        doc["components"]["schemas"]["ResPartnerInput"]["properties"])


def test_resource_without_identifier_has_no_upsert_note(doc):
    assert "upsert" not in doc["components"]["schemas"]["OrdersInput"]["description"]


def test_integer_selection_and_unknown_types():
    fields = {"prio": {"type": "selection", "selection": [[1, "Low"], [2, "High"]],
                       "required": True},
              "ref": {"type": "reference"}, "weird": {"type": "properties"}}
    document = build_document([dict(ORDER, fields=fields)])
    props = document["components"]["schemas"]["Orders"]["properties"]
    assert props["prio"] == {"type": "integer", "enum": [1, 2]}
    assert props["ref"] == {"type": "string", "nullable": True}
    assert props["weird"] == {}


# -- webhooks ---------------------------------------------------------------------------------------


def test_webhook_routes(doc):
    paths = doc["paths"]
    assert set(paths[f"{BASE}/webhooks"]) == {"post", "get"}
    assert set(paths[f"{BASE}/webhooks/{{id}}"]) == {"delete", "parameters"}
    assert set(paths[f"{BASE}/events/subscribe"]) == {"post"}
    register = paths[f"{BASE}/webhooks"]["post"]
    assert _json_schema(register["requestBody"]) == {
        "$ref": "#/components/schemas/WebhookInput"}
    assert _json_schema(register["responses"]["201"]) == {
        "$ref": "#/components/schemas/WebhookCreated"}
    subscribe = paths[f"{BASE}/events/subscribe"]["post"]
    assert _json_schema(subscribe["requestBody"]) == {
        "$ref": "#/components/schemas/EventSubscriptionInput"}
    assert register["security"] == [{"bearerAuth": []}, {"basicAuth": []}]


def test_webhook_schemas(doc):
    schemas = doc["components"]["schemas"]
    webhook = schemas["WebhookInput"]
    assert webhook["required"] == ["url", "events", "model"]
    assert set(webhook["properties"]) == {"url", "events", "model", "fields", "conditions",
                                          "authentication", "signing"}
    auth = schemas["WebhookAuthentication"]["properties"]
    assert set(auth) == {"type", "token", "username", "password", "header_name",
                         "header_value"}
    assert auth["type"]["enum"] == ["none", "basic", "bearer", "custom"]
    subscribe = schemas["EventSubscriptionInput"]
    assert subscribe["required"] == ["events", "model", "callback_url"]
    assert subscribe["properties"]["events"]["items"]["enum"] == [
        "record.created", "record.updated", "record.deleted", "state.changed"]
    assert subscribe["properties"]["filters"]["type"] == "object"
    assert subscribe["properties"]["signing"]["type"] == "boolean"
    created = schemas["WebhookCreated"]
    assert created["required"] == ["success", "webhook_id", "status"]
    assert created["properties"]["signing_secret"]["type"] == "string"


def test_empty_resource_list_still_describes_webhooks():
    document = build_document([])
    assert f"{BASE}/webhooks" in document["paths"]
    assert f"{BASE}/openapi.json" in document["paths"]


# -- validation against the OpenAPI 3.0.3 meta-schema ---------------------------------------------


def test_validates_with_openapi_spec_validator(doc):
    """The only test skipped without openapi-spec-validator (structure is tested above)."""
    validator = pytest.importorskip("openapi_spec_validator")

    def check(document):
        validator.validate(document, cls=validator.OpenAPIV30SpecValidator)

    check(doc)
    check(build_document([]))
    check(build_document([dict(PARTNER), dict(PARTNER, endpoint="res_partner")]))
    # the validator does catch a broken document
    broken = copy.deepcopy(doc)
    del broken["paths"][f"{BASE}/res.partner"]["post"]["responses"]
    with pytest.raises(Exception):
        check(broken)


def test_serialized_output_matches_schemas(doc):
    """What engine.serialize emits validates against the documented schemas."""
    schema_validator = pytest.importorskip("openapi_schema_validator")
    from bj_api_sync.engine.errors import ApiError
    from bj_api_sync.engine.serialize import serialize_record

    fields = {k: v for k, v in PARTNER["fields"].items() if "." not in k}
    record = serialize_record({
        "id": 4, "name": "A", "email": False, "is_company": False, "customer_rank": False,
        "credit_limit": 1.5, "balance": False, "type": False, "lang": "en_US",
        "birthday": "2024-01-15", "create_date": "2024-01-15 10:00:00",
        "country": (3, "France"), "child_ids": [1, 2], "tags": False, "image": b"aGk=",
        "props": {"a": 1}, "notes": False,
    }, fields)
    schemas = doc["components"]["schemas"]
    schema_validator.validate(record, schemas["ResPartner"],
                              cls=schema_validator.OAS30Validator)
    body = ApiError("NOT_FOUND", "x").to_body("req_0123456789abcdef01234567")
    schema_validator.validate(body, schemas["Error"], cls=schema_validator.OAS30Validator)
    with pytest.raises(Exception):
        schema_validator.validate({**record, "customer_rank": "x"}, schemas["ResPartner"],
                                  cls=schema_validator.OAS30Validator)


# -- examples, selections and required keys from the resource's own keys ----------------

MAPPED = {
    "endpoint": "partners",
    "model": "res.partner",
    "name": "Mapped partners",
    "methods": ["GET", "POST", "PUT"],
    "fields": {
        "address.city": {"type": "char"},
        "full_name": {"type": "char", "required": True},
        "email_address": {"type": "char"},
        "lang": {"type": "selection", "selection": [["en_US", "English"]], "required": True,
                 "has_default": True},
        "code": {"type": "char", "size": 2},
    },
    "selectable": ["address.city", "full_name", "email_address", "lang", "code", "name",
                   "email"],
    "auth_type": "bearer",
}


def _parameter(document, operation, name):
    for ref in operation["parameters"]:
        parameter = _resolve(document, ref["$ref"])
        if parameter["name"] == name:
            return parameter
    raise AssertionError(name)


def test_examples_use_the_resource_keys():
    document = build_document([MAPPED, dict(ORDER, methods=["GET"])])
    search = document["paths"][f"{BASE}/partners/search"]["get"]
    domain = _parameter(document, search, "domain")
    # The first simple key: a dotted key cannot be used in a domain.
    assert json.loads(domain["example"]) == [["full_name", "!=", False]]
    fields = _parameter(document, search, "fields")
    assert fields["example"] == ["address.city", "full_name"]
    assert (fields["style"], fields["explode"]) == ("form", False)
    assert fields["schema"]["items"]["enum"] == sorted(
        {"id", *MAPPED["selectable"]})
    read = document["paths"][f"{BASE}/partners/{{id}}"]["get"]
    assert _parameter(document, read, "fields") == fields
    # Each resource has its own parameters.
    orders = document["paths"][f"{BASE}/orders/search"]["get"]
    assert json.loads(_parameter(document, orders, "domain")["example"]) == [
        ["name", "!=", False]]
    assert _parameter(document, orders, "fields")["schema"]["items"]["enum"] == ["id", "name"]
    no_simple_key = build_document([dict(ORDER, methods=["GET"], fields={"a.b": {"type": "char"}})])
    search = no_simple_key["paths"][f"{BASE}/orders/search"]["get"]
    assert json.loads(_parameter(no_simple_key, search, "domain")["example"]) == [
        ["id", ">", 0]]


def test_required_keys_without_default_and_closed_inputs():
    schemas = build_document([MAPPED])["components"]["schemas"]
    create = schemas["PartnersInput"]
    assert create["required"] == ["full_name"]  # lang has a default
    assert create["additionalProperties"] is False
    assert create["properties"]["address"]["additionalProperties"] is False
    assert "nullable" not in create["properties"]["full_name"]
    assert "nullable" not in create["properties"]["lang"]
    assert create["properties"]["code"]["maxLength"] == 2
    update = schemas["PartnersUpdate"]
    assert "required" not in update
    assert update["additionalProperties"] is False
    assert "nullable" not in update["properties"]["full_name"]


def test_examples_validate_against_their_schemas():
    validator = pytest.importorskip("openapi_schema_validator")
    document = build_document(copy.deepcopy(RESOURCES) + [MAPPED])
    for ref, parameter in document["components"]["parameters"].items():
        if "example" in parameter:
            validator.validate(parameter["example"], parameter["schema"],
                               cls=validator.OAS30Validator)
            assert ref


def test_parameter_filters_of_the_config_are_search_parameters():
    resource = dict(ORDER, methods=["GET"], filters=[
        {"name": "mail", "field": "email", "type": "char", "operator": "="},
        {"name": "rank", "field": "customer_rank", "type": "integer", "operator": ">"},
        {"name": "ids", "field": "id", "type": "integer", "operator": "in"},
        {"name": "vip", "field": "is_company", "type": "boolean", "operator": "="},
        {"name": "limit", "field": "color", "type": "integer", "operator": "="},
    ])
    document = build_document([resource])
    search = document["paths"][f"{BASE}/orders/search"]["get"]
    inline = {p["name"]: p for p in search["parameters"] if "$ref" not in p}
    assert set(inline) == {"mail", "rank", "ids", "vip"}  # limit is the paging one
    assert inline["mail"]["schema"] == {"type": "string"}
    assert inline["rank"]["schema"]["type"] == "integer"
    assert inline["rank"]["description"] == "Filter: customer_rank > value"
    assert inline["ids"]["schema"] == {"type": "array", "items": inline["rank"]["schema"]}
    assert (inline["ids"]["style"], inline["ids"]["explode"]) == ("form", False)
    assert inline["vip"]["schema"] == {"type": "boolean"}


def test_input_text_excludes_nul_characters():
    validator = pytest.importorskip("openapi_schema_validator")
    schemas = build_document([MAPPED])["components"]["schemas"]
    text = schemas["PartnersInput"]["properties"]["full_name"]
    validator.validate("Ada Lovelace\n\u00e9", text, cls=validator.OAS30Validator)
    with pytest.raises(Exception):
        validator.validate("a\x00b", text, cls=validator.OAS30Validator)
    assert "pattern" not in schemas["Partners"]["properties"]["full_name"]


def test_key_conflict():
    from bj_api_sync.engine.openapi import key_conflict

    assert key_conflict(["a.b", "a.c", "ab", "b"]) is None
    assert "address" in key_conflict(["address", "address.city"])
    assert "address.city" in key_conflict(["address.city.x", "address.city"])


def test_write_operations_document_the_idempotency_key(doc):
    writes = reads = 0
    for path, verb, op in _operations(doc):
        params = [_resolve(doc, p["$ref"])["name"] if "$ref" in p else p["name"]
                  for p in op["parameters"]]
        responses = op["responses"]
        success = next(s for s in responses if s.startswith("2"))
        is_write = path.startswith("/api/sync/v1/") and verb in ("post", "put", "delete") \
            and not path.startswith(("/api/sync/v1/webhooks", "/api/sync/v1/events"))
        if is_write:
            writes += 1
            assert "Idempotency-Key" in params, (path, verb)
            assert responses["409"] == {"$ref": "#/components/responses/WriteConflict"}
            assert responses["422"] == {"$ref": "#/components/responses/IdempotencyKeyReused"}
            assert "Idempotent-Replayed" in responses[success]["headers"]
        else:
            reads += 1
            assert "Idempotency-Key" not in params, (path, verb)
            assert "422" not in responses
            assert responses["409"] == {"$ref": "#/components/responses/DuplicateRecord"}
            assert "Idempotent-Replayed" not in responses[success]["headers"]
    assert writes >= 4 and reads >= 2
    components = doc["components"]
    key = components["parameters"]["IdempotencyKey"]
    assert (key["in"], key["schema"]["maxLength"]) == ("header", 255)
    assert re.fullmatch(key["schema"]["pattern"], "0f8fad5b-d9cb-469f-a165-70867728950e")
    assert not re.fullmatch(key["schema"]["pattern"], " x")
    codes = {name: r["content"]["application/json"]["example"]["error"]["code"]
             for name, r in components["responses"].items()}
    assert codes["WriteConflict"] == "IDEMPOTENCY_KEY_IN_USE"
    assert codes["IdempotencyKeyReused"] == "IDEMPOTENCY_KEY_REUSED"
    assert components["headers"]["Idempotent-Replayed"]["schema"]["enum"] == ["true"]
