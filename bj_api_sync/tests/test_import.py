"""Pull: GET configurations that import records page by page."""
from odoo.exceptions import ValidationError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .common import BjApiSyncCase
from .fault_server import FaultServer, Response


def people(start, count, prefix="imp"):
    return [{"name": f"{prefix} {n}", "mail": f"{prefix}{n}@example.com"}
            for n in range(start, start + count)]


@tagged("post_install", "-at_install")
class TestImport(BjApiSyncCase):
    """Imports from a paged API on 127.0.0.1."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = FaultServer().start()
        cls.addClassCleanup(cls.server.stop)
        cls.Partner = cls.env["res.partner"]

    def setUp(self):
        super().setUp()
        self.server.clear()

    def make_import(self, **vals):
        values = {
            "name": "CRM import", "url": self.server.url + "/people",
            "http_method_ids": [(6, 0, self.method_get.ids)], "response_action": "import",
            "import_items_path": "records", "page_size": 2,
            "filter_domain": "[('email', '=like', 'imp%')]",
        }
        values.update(vals)
        config = self.make_out_config(**values)
        self.env["bj.api.sync.config.line"].create([
            {"config_id": config.id, "external_key": "name",
             "field_id": self._field("res.partner", "name").id},
            {"config_id": config.id, "external_key": "mail", "is_identifier": True,
             "field_id": self._field("res.partner", "email").id},
        ])
        return config

    def imported(self, prefix="imp"):
        return self.Partner.search([("email", "=like", f"{prefix}%@example.com")], order="id")

    def test_page_numbers_create_then_update(self):
        config = self.make_import(import_pagination="page")
        pages = [Response(200, {"records": people(1, 2)}), Response(200, {"records": people(3, 2)}),
                 Response(200, {"records": people(5, 1)})]
        self.server.script("/people", list(pages))
        result = config._run_import()
        self.assertEqual({k: result[k] for k in ("created", "updated", "failed", "pages")},
                         {"created": 5, "updated": 0, "failed": 0, "pages": 3})
        self.assertIsNone(result["error"])
        self.assertEqual(self.imported().mapped("name"), [f"imp {n}" for n in range(1, 6)])
        self.assertEqual([r.query for r in self.server.requests], [
            {"page": ["1"], "per_page": ["2"]}, {"per_page": ["2"], "page": ["2"]},
            {"per_page": ["2"], "page": ["3"]}])
        logs = self.env["bj.api.log"].browse(result["log_ids"])
        self.assertEqual(logs.mapped("state"), ["success"] * 3)
        self.assertIn("2 item(s), 2 created, 0 updated, 0 failed", logs[0].summary)
        # Again, with a new name: the identifier (mail) updates, nothing is duplicated.
        changed = [dict(p, name=p["name"].upper()) for p in people(1, 5)]
        self.server.script("/people", [Response(200, {"records": changed[:2]}),
                                       Response(200, {"records": changed[2:4]}),
                                       Response(200, {"records": changed[4:]})])
        again = config._run_import()
        self.assertEqual((again["created"], again["updated"]), (0, 5))
        self.assertEqual(self.imported().mapped("name"), [f"IMP {n}" for n in range(1, 6)])

    def test_next_link_in_body_and_link_header(self):
        config = self.make_import(import_pagination="next_link",
                                  import_next_path="pagination.next")
        self.server.script("/people", [
            Response(200, {"records": people(1, 2), "pagination": {"next": "/people?page=2"}}),
            Response(200, {"records": people(3, 2), "pagination": {"next": None}},
                     headers={"Link": f'<{self.server.url}/people?page=3>; rel="next"'}),
            Response(200, {"records": people(5, 1), "pagination": {}}),
        ])
        result = config._run_import()
        self.assertEqual((result["created"], result["pages"]), (5, 3))
        self.assertEqual([r.query.get("page") for r in self.server.requests],
                         [None, ["2"], ["3"]])

    def test_next_link_to_another_server_is_not_followed(self):
        config = self.make_import(import_pagination="next_link", import_next_path="next")
        elsewhere = self.server.url.replace("127.0.0.1", "localhost") + "/people?page=2"
        self.server.script("/people", [Response(200, {"records": people(1, 2),
                                                      "next": elsewhere})])
        result = config._run_import()
        self.assertEqual((result["created"], result["pages"]), (2, 1))
        self.assertIn("leaves http://127.0.0.1", result["error"])
        self.assertEqual(self.server.count(), 1)  # the credentials went nowhere else

    def test_offset_and_cursor(self):
        config = self.make_import(import_pagination="offset", import_page_param="page",
                                  import_size_param="per_page")
        self.server.script("/people", [Response(200, {"records": people(1, 2)}),
                                       Response(200, {"records": []})])
        self.assertEqual(config._run_import()["pages"], 2)
        self.assertEqual([r.query for r in self.server.requests], [
            {"offset": ["0"], "limit": ["2"]}, {"limit": ["2"], "offset": ["2"]}])
        self.server.clear()
        cursor = self.make_import(name="Cursor", import_pagination="cursor",
                                  import_cursor_path="meta.next", import_cursor_param="after",
                                  import_size_param="")
        self.server.script("/people", [
            Response(200, {"records": people(10, 2), "meta": {"next": "abc"}}),
            Response(200, {"records": people(12, 1), "meta": {"next": None}})])
        result = cursor._run_import()
        self.assertEqual((result["created"], result["pages"]), (3, 2))
        self.assertEqual([r.query for r in self.server.requests], [{}, {"after": ["abc"]}])

    def test_bad_item_is_logged_with_its_identifier_and_skipped(self):
        config = self.make_import()
        items = people(1, 3)
        items[1]["name"] = {"not": "a name"}
        self.server.script("/people", [Response(200, {"records": items + ["text"]})])
        result = config._run_import()
        self.assertEqual((result["created"], result["failed"]), (2, 2))
        log = self.env["bj.api.log"].browse(result["log_ids"])
        self.assertIn("Item mail='imp2@example.com'", log.summary)
        self.assertIn("Item #4", log.summary)

    def test_failing_page_stops_the_run_and_keeps_what_was_imported(self):
        config = self.make_import(import_pagination="page", max_retries=1, retry_backoff=0)
        self.server.script("/people", [Response(200, {"records": people(1, 2)}),
                                       Response(503, {"e": 1}), Response(503, {"e": 2})])
        with mute_logger("odoo.addons.bj_api_sync.engine.http_client"):
            result = config._run_import()
        self.assertEqual((result["created"], result["pages"]), (2, 1))
        self.assertIn("Page 2 failed", result["error"])
        self.assertEqual(self.server.count(), 3)  # page 2 tried twice
        self.assertEqual(len(self.imported()), 2)
        logs = self.env["bj.api.log"].browse(result["log_ids"])
        self.assertEqual(logs.mapped("state"), ["success", "failed"])
        self.assertEqual(logs[1].attempt, 2)

    def test_items_not_where_configured_stop_the_run(self):
        config = self.make_import(import_items_path="data.items")
        self.server.script("/people", [Response(200, {"records": people(1, 1)})])
        result = config._run_import()
        self.assertIn("no 'data.items'", result["error"])
        self.assertEqual(result["created"], 0)

    def test_relational_line_by_the_mapping_configs_identifier(self):
        countries = self.make_out_config(name="Countries", model_id=self.country_model.id)
        self.env["bj.api.sync.config.line"].create({
            "config_id": countries.id, "external_key": "iso", "is_identifier": True,
            "field_id": self._field("res.country", "code").id})
        config = self.make_import()
        self.env["bj.api.sync.config.line"].create({
            "config_id": config.id, "external_key": "country", "value_type": "relational",
            "field_id": self._field("res.partner", "country_id").id,
            "mapping_config_id": countries.id})
        self.server.script("/people", [Response(200, {"records": [
            dict(people(1, 1)[0], country="BE")]})])
        result = config._run_import()
        self.assertEqual(result["created"], 1, result)
        self.assertEqual(self.imported().country_id, self.env.ref("base.be"))

    def test_runs_as_the_run_as_user(self):
        reader = new_test_user(self.env, login="bj_import_reader", groups="base.group_portal")
        config = self.make_import(user_id=reader.id)
        self.server.script("/people", [Response(200, {"records": people(1, 1)})])
        result = config._run_import()
        self.assertEqual((result["created"], result["failed"]), (0, 1))
        config.user_id = self.env.ref("base.user_admin")
        self.server.script("/people", [Response(200, {"records": people(1, 1)})])
        result = config._run_import()
        self.assertEqual(result["created"], 1)
        self.assertEqual(self.imported().create_uid, self.env.ref("base.user_admin"))

    def test_import_needs_get(self):
        with self.assertRaisesMessage(ValidationError, "GET"):
            self.make_import(http_method_ids=[(6, 0, self.method_post.ids)])
        with self.assertRaisesMessage(ValidationError, "Cursor Path"):
            self.make_import(import_pagination="cursor")

    def test_import_now_tells_the_counts(self):
        config = self.make_import()
        self.server.script("/people", [Response(200, {"records": people(1, 2)})])
        action = config.action_import_now()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("2 created, 0 updated, 0 failed, in 1 page(s)", action["params"]["message"])
