"""Multi-company: a configuration's records are those of its company (and of none)."""
from odoo.tests import new_test_user, tagged

from ..engine.errors import ApiError
from ..services import inbound_crud, inbound_spec
from .common import BjApiSyncCase
from .fault_server import FaultServer


@tagged("post_install", "-at_install")
class TestCompany(BjApiSyncCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = FaultServer().start()
        cls.addClassCleanup(cls.server.stop)
        cls.company_a = cls.env.company
        cls.company_b = cls.env["res.company"].create({"name": "BJ Other Company"})
        Partner = cls.env["res.partner"]
        cls.shared = Partner.create({"name": "co shared", "company_id": False})
        cls.of_a = Partner.create({"name": "co of A", "company_id": cls.company_a.id})
        cls.of_b = Partner.create({"name": "co of B", "company_id": cls.company_b.id})
        cls.all_three = cls.shared | cls.of_a | cls.of_b

    def setUp(self):
        super().setUp()
        self.server.clear()

    def test_default_is_the_users_company(self):
        config = self.make_out_config(url=self.server.url + "/c")
        self.assertEqual(config.company_id, self.env.company)

    def test_records_of_another_company_are_not_sent(self):
        config = self.make_out_config(url=self.server.url + "/c")
        result = self.Config._make_outbound_http_request(self.all_three, config.id)
        self.assertEqual(result.requests, 2)
        self.assertEqual(self.server.count(), 2)
        sent = {r.json["name"] for r in self.server.requests}
        self.assertEqual(sent, {"co shared", "co of A"})
        self.assertNotIn(self.of_b.id, config._send_now_ids())
        # No company on the config: every company's records.
        config.company_id = False
        self.server.clear()
        self.Config._make_outbound_http_request(self.all_three, config.id)
        self.assertEqual(self.server.count(), 3)

    def test_records_of_another_company_are_not_exposed_inbound(self):
        config = self.make_in_config(endpoint="co-partners", company_id=self.company_a.id)
        resource = inbound_crud.Resource(self.env, inbound_spec.build_spec(config))
        self.assertEqual(resource.find(self.of_a.id), self.of_a)
        self.assertEqual(resource.find(self.shared.id), self.shared)
        with self.assertRaises(ApiError) as caught:
            resource.find(self.of_b.id)
        self.assertEqual(caught.exception.code, "NOT_FOUND")

    def test_users_see_the_configurations_of_their_companies(self):
        config = self.make_out_config(url=self.server.url + "/c", company_id=self.company_b.id)
        user = new_test_user(self.env, login="bj_co_a", company_id=self.company_a.id,
                             company_ids=[(6, 0, self.company_a.ids)],
                             groups="base.group_user,bj_api_sync.group_bj_api_user")
        self.assertFalse(self.Config.with_user(user).search([("id", "=", config.id)]))
        config.company_id = False
        self.assertTrue(self.Config.with_user(user).search([("id", "=", config.id)]))
