"""A two-way sync with a CRM, end to end: configurations made of fields only.

Three outbound configurations of res.partner, created over XML-RPC with field
values and no code anywhere (CONTRACT section 4):

- create: POST ``/customers`` on create; its response line writes the CRM's
  ``id`` onto the partner's ``ref``, its bindings keep that id;
- update: PUT ``/customers/{external_id}`` with the create config's bindings,
  on a change of the name or the email, Only Changed, and an hourly schedule;
- delete: DELETE ``/customers/{external_id}`` with the same bindings, on delete.

A partner is created, changed and deleted through the ORM (each RPC call
commits), and the fake CRM's store is checked after each step; the schedule
run twice sends only what changed, then nothing. A PUT of a customer the CRM
no longer knows gets its 404 and the binding says so.
"""
import json
import time
import uuid

import pytest
import requests
from conftest import wait_for
from fake_crm import FakeCrm

# Bound of every wait for a delivery: queued, committed, picked up by the cron
# worker and sent, on a loaded 2-core machine (normally about a second).
DELIVERY = 30
# Bound of a test's first delivery: the cron worker may first load the registry
# the new rules changed and run the jobs due since the server started (the
# autovacuum alone takes seconds on a small machine).
FIRST_DELIVERY = 90
# How long "nothing arrives" is watched after a step that must send nothing.
QUIET = 3


# -- helpers --------------------------------------------------------------------

def _ids(odoo, model, domain):
    return odoo.rpc(model, "search", domain)


def _partner_fields(odoo, *names):
    rows = odoo.rpc("ir.model.fields", "search_read",
                    [("model", "=", "res.partner"), ("name", "in", list(names))],
                    fields=["name"])
    found = {row["name"]: row["id"] for row in rows}
    assert set(found) == set(names), found
    return found


def _methods(odoo):
    rows = odoo.rpc("ir.model.data", "search_read",
                    [("module", "=", "bj_api_sync"), ("model", "=", "bj.http.method")],
                    fields=["name", "res_id"])
    return {row["name"]: row["res_id"] for row in rows}


def _lines(fields_by_name, *names):
    return [(0, 0, {"external_key": name, "field_id": fields_by_name[name]}) for name in names]


def _binding(odoo, config_id, partner_id):
    rows = odoo.rpc("bj.api.sync.binding", "search_read",
                    [("config_id", "=", config_id), ("res_model", "=", "res.partner"),
                     ("res_id", "=", partner_id)],
                    fields=["external_id", "state", "last_error", "last_payload_hash",
                            "last_sync_at"])
    return rows[0] if rows else None


def _ref(odoo, partner_id):
    return odoo.rpc("res.partner", "read", [partner_id], ["ref"])[0]["ref"]


def _logs(odoo, config_id, *domain):
    return odoo.rpc("bj.api.log", "search_read",
                    [("config_id", "=", config_id), *domain],
                    fields=["http_method", "url", "status_code", "state", "res_ids",
                            "error_message"], order="id")


def _diagnosis(odoo, crm, sync):
    """What the CRM got, what Odoo logged and queued, and the server log: for a
    failing assertion's message."""
    parts = [crm.describe()]
    config_ids = list(sync.ids.values())
    try:
        logs = odoo.rpc("bj.api.log", "search_read", [("config_id", "in", config_ids)],
                        fields=["config_id", "http_method", "url", "status_code", "state",
                                "res_ids", "error_message"], order="id")
        parts.append("bj.api.log:\n" + "\n".join(
            f"  {row['id']} [{row['config_id'] and row['config_id'][1]}] {row['http_method']} "
            f"{row['url']} -> {row['status_code']} {row['state']} res_ids={row['res_ids']} "
            f"{(row['error_message'] or '')[:300]}" for row in logs))
        queued = odoo.rpc("bj.api.outbox", "search_read", [("config_id", "in", config_ids)],
                          fields=["config_id", "event", "state", "res_ids", "request_url",
                                  "last_status_code", "last_error"], order="id")
        parts.append("bj.api.outbox:\n" + "\n".join(f"  {row}" for row in queued))
        bindings = odoo.rpc("bj.api.sync.binding", "search_read",
                            [("config_id", "in", config_ids)],
                            fields=["config_id", "res_id", "external_id", "state", "last_error"])
        parts.append("bj.api.sync.binding:\n" + "\n".join(f"  {row}" for row in bindings))
    except Exception as exc:  # the diagnosis must not hide the failure itself
        parts.append(f"(could not read the logs over XML-RPC: {exc})")
    text = odoo.log_text()
    marked = [line for line in text.splitlines()
              if "odoo.addons.bj_api_sync" in line or " ERROR " in line or " WARNING " in line
              or "ir_cron" in line]
    parts.append("server log, bj_api_sync / cron / warnings / errors (last 60 lines):\n"
                 + "\n".join(marked[-60:]))
    parts.append("server log tail:\n" + text[-2500:])
    return "\n\n".join(parts)


class Sync:
    """The three configurations of one test, their CRM and their partners' prefix."""

    def __init__(self, odoo, crm, tag, ids, cron_id):
        self.odoo, self.crm, self.tag, self.ids, self.cron_id = odoo, crm, tag, ids, cron_id

    def name(self, suffix):
        """A partner name inside the configurations' filter domain."""
        return f"crm-e2e-{self.tag}-{suffix}"

    def why(self):
        """The diagnosis text of a failing assertion."""
        return _diagnosis(self.odoo, self.crm, self)

    def new_requests(self, since, timeout=DELIVERY, count=1):
        """Wait (bounded) until the CRM got ``count`` requests after the first
        ``since``; return the requests after ``since``."""
        wait_for(lambda: self.crm.count() >= since + count, timeout=timeout)
        return self.crm.requests_since(since)

    def quiet(self, since):
        """Watch for QUIET seconds; return what the CRM got after ``since`` (should be [])."""
        time.sleep(QUIET)
        return self.crm.requests_since(since)

    def run_schedule(self):
        """Run the update configuration's scheduled action now, as its cron record
        (synchronously, in an RPC worker; the call commits)."""
        self.odoo.rpc("ir.cron", "method_direct_trigger", [self.cron_id])


@pytest.fixture
def crm():
    """A fake CRM of this test on 127.0.0.1."""
    with FakeCrm() as server:
        yield server


@pytest.fixture
def sync(odoo, crm):
    """Create, update and delete configurations to ``crm`` for partners named
    ``crm-e2e-<tag>-*``, made over XML-RPC of field values only; archived after
    the test (which deactivates their rules and schedule)."""
    tag = uuid.uuid4().hex[:10]
    model_id = _ids(odoo, "ir.model", [("model", "=", "res.partner")])[0]
    fields_by_name = _partner_fields(odoo, "name", "email", "phone", "ref")
    methods = _methods(odoo)
    common = {
        "request_type": "out", "model_id": model_id,
        "filter_domain": repr([("name", "=like", f"crm-e2e-{tag}-%")]),
    }
    create_id = odoo.rpc("bj.api.sync.config", "create", {
        **common, "name": f"crm e2e {tag} create", "url": crm.url + "/customers",
        "http_method_ids": [(6, 0, [methods["http_method_post"]])],
        "trigger_on_create": True,
        "line_ids": _lines(fields_by_name, "name", "email", "phone"),
        "response_line_ids": [(0, 0, {"external_key": "id", "field_id": fields_by_name["ref"],
                                      "usage": "response"})],
    })
    update_id = odoo.rpc("bj.api.sync.config", "create", {
        **common, "name": f"crm e2e {tag} update", "url": crm.url + "/customers/{external_id}",
        "http_method_ids": [(6, 0, [methods["http_method_put"]])],
        "binding_config_id": create_id,
        "trigger_on_write": True,
        # Not ref: the create config's write-back of the CRM's id must not send a PUT.
        "trigger_field_ids": [(6, 0, [fields_by_name["name"], fields_by_name["email"]])],
        "only_changed": True,
        "cron_interval_number": 1, "cron_interval_type": "hours",
        "line_ids": _lines(fields_by_name, "name", "email", "phone"),
    })
    delete_id = odoo.rpc("bj.api.sync.config", "create", {
        **common, "name": f"crm e2e {tag} delete", "url": crm.url + "/customers/{external_id}",
        "http_method_ids": [(6, 0, [methods["http_method_delete"]])],
        "binding_config_id": create_id,
        "trigger_on_unlink": True,
    })
    ids = {"create": create_id, "update": update_id, "delete": delete_id}
    owned = odoo.rpc("bj.api.sync.config", "read", list(ids.values()),
                     ["automation_ids", "cron_id"])
    by_id = {row["id"]: row for row in owned}
    assert by_id[create_id]["automation_ids"], "the create config owns no automation rule"
    assert by_id[update_id]["automation_ids"], "the update config owns no automation rule"
    assert by_id[delete_id]["automation_ids"], "the delete config owns no automation rule"
    assert by_id[update_id]["cron_id"], "the update config owns no scheduled action"
    assert not by_id[create_id]["cron_id"], "a config without an interval owns a schedule"
    cron_id = by_id[update_id]["cron_id"][0]
    # The test runs the schedule itself: the cron worker running it too, between
    # two steps, would make "which run sent this" ambiguous.
    odoo.rpc("ir.cron", "write", [cron_id], {"nextcall": "2099-01-01 00:00:00"})
    try:
        yield Sync(odoo, crm, tag, ids, cron_id)
    finally:
        odoo.rpc("bj.api.sync.config", "write", list(ids.values()), {"active": False})


# -- the fake CRM itself (no Odoo) ---------------------------------------------------

def test_fake_crm_answers_like_a_crm(crm):
    base = crm.url + "/customers"
    created = requests.post(base, json={"name": "A", "id": "mine"}, timeout=5)
    assert created.status_code == 201
    assert created.json() == {"id": "crm_1", "name": "A"}
    assert requests.get(base + "/crm_1", timeout=5).json() == {"id": "crm_1", "name": "A"}
    replaced = requests.put(base + "/crm_1", json={"email": "a@example.com"}, timeout=5)
    assert (replaced.status_code, replaced.json()) == (200, {"id": "crm_1",
                                                             "email": "a@example.com"})
    assert crm.customers == {"crm_1": {"email": "a@example.com"}}
    unknown = requests.put(base + "/crm_9", json={"name": "B"}, timeout=5)
    assert (unknown.status_code, unknown.json()["error"]) == (404, "not_found")
    assert requests.delete(base + "/crm_1", timeout=5).status_code == 204
    assert requests.delete(base + "/crm_1", timeout=5).status_code == 404
    assert crm.customers == {}
    batch = requests.post(base, json=[{"name": "C"}, {"name": "D"}], timeout=5).json()
    assert [item["id"] for item in batch] == ["crm_2", "crm_3"]
    assert [(r.method, r.path) for r in crm.requests][:3] == [
        ("POST", "/customers"), ("GET", "/customers/crm_1"), ("PUT", "/customers/crm_1")]
    assert crm.requests[0].json == {"name": "A", "id": "mine"}
    assert crm.requests[0].headers.get("content-type") == "application/json"


# -- the round trip ------------------------------------------------------------------

def test_partner_round_trip_through_the_crm(odoo, crm, sync):
    name = sync.name("one")

    # 1. create: POST /customers, the CRM's id comes back onto ref and the binding
    partner_id = odoo.rpc("res.partner", "create", {"name": name, "email": "one@example.com"})
    got = sync.new_requests(0, timeout=FIRST_DELIVERY)
    assert [(r.method, r.path) for r in got] == [("POST", "/customers")], sync.why()
    assert got[0].json == {"name": name, "email": "one@example.com", "phone": None}, sync.why()
    assert crm.customers == {"crm_1": {"name": name, "email": "one@example.com",
                                       "phone": None}}, sync.why()
    assert wait_for(lambda: _ref(odoo, partner_id) == "crm_1", timeout=DELIVERY), sync.why()
    binding = wait_for(lambda: _binding(odoo, sync.ids["create"], partner_id), timeout=DELIVERY)
    assert binding, sync.why()
    assert (binding["external_id"], binding["state"]) == ("crm_1", "synced"), sync.why()
    assert binding["last_payload_hash"] and binding["last_sync_at"], binding
    # the write-back of ref is no change of name or email: no PUT for it
    assert sync.quiet(1) == [], sync.why()

    # 2. update a trigger field: PUT /customers/crm_1 replaces the customer
    odoo.rpc("res.partner", "write", [partner_id], {"email": "two@example.com"})
    got = sync.new_requests(1)
    assert [(r.method, r.path) for r in got] == [("PUT", "/customers/crm_1")], sync.why()
    assert got[0].json == {"name": name, "email": "two@example.com", "phone": None}
    assert crm.customer("crm_1") == {"name": name, "email": "two@example.com",
                                     "phone": None}, sync.why()
    # the PUT writes the create config's binding (the one it uses): a new payload hash
    first_hash = binding["last_payload_hash"]
    binding = wait_for(lambda: (lambda b: b if b and b["last_payload_hash"] != first_hash
                                else None)(_binding(odoo, sync.ids["create"], partner_id)),
                       timeout=DELIVERY)
    assert binding, sync.why()
    assert (binding["external_id"], binding["state"]) == ("crm_1", "synced"), sync.why()
    assert _ref(odoo, partner_id) == "crm_1"

    # 3. a change of a field that is sent but triggers nothing: the schedule sends it
    odoo.rpc("res.partner", "write", [partner_id], {"phone": "+32 2 555 01 01"})
    assert sync.quiet(2) == [], sync.why()
    sync.run_schedule()
    got = sync.new_requests(2)
    assert [(r.method, r.path) for r in got] == [("PUT", "/customers/crm_1")], sync.why()
    assert crm.customer("crm_1") == {"name": name, "email": "two@example.com",
                                     "phone": "+32 2 555 01 01"}, sync.why()

    # 4. the schedule again: nothing changed, nothing sent, the log says skipped
    skipped_before = len(_logs(odoo, sync.ids["update"], ("state", "=", "skipped")))
    sync.run_schedule()
    assert sync.quiet(3) == [], sync.why()
    skipped = _logs(odoo, sync.ids["update"], ("state", "=", "skipped"))
    assert len(skipped) == skipped_before + 1, sync.why()
    assert str(partner_id) in (skipped[-1]["res_ids"] or "").split(","), skipped[-1]
    assert crm.customer("crm_1")["phone"] == "+32 2 555 01 01"

    # 5. delete: DELETE /customers/crm_1, the binding says deleted
    odoo.rpc("res.partner", "unlink", [partner_id])
    got = sync.new_requests(3)
    assert [(r.method, r.path) for r in got] == [("DELETE", "/customers/crm_1")], sync.why()
    assert crm.customers == {}, sync.why()
    assert wait_for(lambda: (_binding(odoo, sync.ids["create"], partner_id) or {}).get(
        "state") == "deleted", timeout=DELIVERY), sync.why()
    assert _binding(odoo, sync.ids["create"], partner_id)["external_id"] == "crm_1"
    assert sync.quiet(4) == [], sync.why()


def test_put_of_a_customer_the_crm_forgot_fails_with_its_404(odoo, crm, sync):
    name = sync.name("gone")
    partner_id = odoo.rpc("res.partner", "create", {"name": name, "email": "gone@example.com"})
    got = sync.new_requests(0, timeout=FIRST_DELIVERY)
    assert [(r.method, r.path) for r in got] == [("POST", "/customers")], sync.why()
    assert wait_for(lambda: (_binding(odoo, sync.ids["create"], partner_id) or {}).get(
        "state") == "synced", timeout=DELIVERY), sync.why()
    # Someone deletes the customer in the CRM itself: Odoo still holds its id.
    assert crm.forget("crm_1")

    odoo.rpc("res.partner", "write", [partner_id], {"name": name + "-renamed"})
    got = sync.new_requests(1)
    assert [(r.method, r.path) for r in got] == [("PUT", "/customers/crm_1")], sync.why()
    binding = wait_for(lambda: (lambda b: b if b and b["state"] == "failed" else None)(
        _binding(odoo, sync.ids["create"], partner_id)), timeout=DELIVERY)
    assert binding, sync.why()
    assert binding["external_id"] == "crm_1"
    assert "404" in (binding["last_error"] or ""), binding
    logs = _logs(odoo, sync.ids["update"])
    assert logs and (logs[-1]["state"], logs[-1]["status_code"]) == ("failed", 404), sync.why()
    assert json.loads(got[0].body)["name"] == name + "-renamed"
    # a 404 is not retried
    assert sync.quiet(2) == [], sync.why()
