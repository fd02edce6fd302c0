"""openapi.json and the API agree, on a prefork server.

What a fuzzer reads from the document must be what the API does: the
examples of a resource are accepted by it, the keys the document calls
required are the ones a create cannot do without, and Odoo's business errors
(a RedirectWarning when deleting a contact linked to a user) are 4xx answers
with Odoo's message, never an internal error.
"""
import uuid

SETUP = """
F = env['ir.model.fields']._get
methods = env['bj.http.method'].search([])
admin = env.ref('base.user_admin')
common = dict(request_type='in', http_method_ids=[(6, 0, methods.ids)], auth_type='bearer',
              user_id=admin.id, rate_limit_per_minute=0, rate_limit_per_hour=0)
env['bj.api.sync.config'].create(dict(common, name='e2e mapped {tag}', endpoint='mapped-{tag}',
    model_id=env['ir.model']._get('res.partner').id,
    line_ids=[(0, 0, {{'external_key': 'full_name', 'field_id': F('res.partner', 'name').id}}),
              (0, 0, {{'external_key': 'email_address',
                       'field_id': F('res.partner', 'email').id}})]))
env['bj.api.sync.config'].create(dict(common, name='e2e tags {tag}', endpoint='tags-{tag}',
    model_id=env['ir.model']._get('res.partner.category').id))
env['res.partner'].create({{'name': 'e2e example {tag}'}})
env['res.partner.category'].create({{'name': 'e2e tag {tag}'}})
linked = env['res.users'].create({{'name': 'e2e linked {tag}', 'login': 'e2e_linked_{tag}'}})
print('BJ-E2E-PARTNER', linked.partner_id.id)
print('BJ-E2E-KEY', env['res.users.apikeys'].with_user(admin)._generate(None, 'bj e2e'))
env.cr.commit()
"""


def _setup(odoo):
    tag = uuid.uuid4().hex[:8]
    out = odoo.shell(SETUP.format(tag=tag))
    values = dict(ln.split()[:2] for ln in out.splitlines() if ln.startswith("BJ-E2E-"))
    return tag, values["BJ-E2E-KEY"], int(values["BJ-E2E-PARTNER"])


def _resolve(document, node):
    while "$ref" in node:
        for part in node["$ref"][2:].split("/"):
            document = document[part]
        node = document
    return node


def _parameters(document, operation):
    return {p["name"]: p for p in (_resolve(document, ref) for ref in operation["parameters"])}


def test_examples_and_required_keys_agree_with_the_api(odoo):
    tag, key, _partner = _setup(odoo)
    auth = {"Authorization": f"Bearer {key}"}
    response = odoo.http("GET", "/api/sync/v1/openapi.json", headers=auth)
    assert response.status_code == 200, response.text[:500]
    document = response.json()
    for endpoint in (f"mapped-{tag}", f"tags-{tag}"):
        base = f"/api/sync/v1/{endpoint}"
        search = _parameters(document, document["paths"][f"{base}/search"]["get"])
        params = {"domain": search["domain"]["example"], "order": search["order"]["example"],
                  "fields": ",".join(search["fields"]["example"])}
        response = odoo.http("GET", f"{base}/search", params=params, headers=auth)
        assert response.status_code == 200, (endpoint, params, response.text[:500])
        records = response.json()["records"]
        assert records, (endpoint, params)
        read = _parameters(document, document["paths"][f"{base}/{{id}}"]["get"])
        response = odoo.http("GET", f"{base}/{records[0]['id']}", headers=auth,
                             params={"fields": ",".join(read["fields"]["example"])})
        assert response.status_code == 200, (endpoint, response.text[:500])
        # A create with the required keys only is accepted; without them, refused.
        create = _resolve(document, document["paths"][base]["post"]["requestBody"]["content"]
                          ["application/json"]["schema"]["properties"]["data"])
        required = create.get("required", [])
        assert required, endpoint  # full_name (CHECK constraint), name (required field)
        data = dict.fromkeys(required, f"e2e {tag}")
        response = odoo.http("POST", base, json={"data": data}, headers=auth)
        assert response.status_code == 201, (endpoint, data, response.text[:500])
        response = odoo.http("POST", base, json={"data": {}}, headers=auth)
        assert response.status_code == 400, (endpoint, response.text[:500])
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_redirect_warning_is_a_400_with_odoos_message(odoo):
    tag, key, partner_id = _setup(odoo)
    # The admin may manage users: Odoo raises a RedirectWarning, not a UserError.
    response = odoo.http("DELETE", f"/api/sync/v1/mapped-{tag}/{partner_id}",
                         headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 400, response.text[:500]
    body = response.json()
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert "linked to an active user" in body["error"]["message"]
    assert odoo.rpc("res.partner", "search_count", [("id", "=", partner_id)]) == 1
    trace = body["error"]["trace_id"]
    assert f"Inbound API internal error (trace {trace})" not in odoo.log_text()
