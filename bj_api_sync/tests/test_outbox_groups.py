"""The outbox worker's groups: claimed, sent and written together, in order per record."""
from datetime import timedelta
from unittest import mock

from odoo.tests import tagged

from ..services import outbound
from .common import BjApiSyncCase
from .fault_server import FaultServer, Response


@tagged("post_install", "-at_install")
class TestOutboxGroups(BjApiSyncCase):
    """Groups of deliveries against a real HTTP server on 127.0.0.1."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = FaultServer().start()
        cls.addClassCleanup(cls.server.stop)
        cls.Outbox = cls.env["bj.api.outbox"]
        cls.Log = cls.env["bj.api.log"]
        cls.partners = cls.env["res.partner"].create(
            [{"name": f"Group {i}", "email": f"g{i}@example.com"} for i in range(6)])
        cls.post = cls.make_out_config(name="Groups", url=cls.server.url + "/c",
                                       max_retries=2, retry_backoff=1.0)
        cls.env["bj.api.sync.config.line"].create({
            "config_id": cls.post.id, "external_key": "name",
            "field_id": cls._field("res.partner", "name").id})

    def setUp(self):
        super().setUp()
        self.server.clear()

    def queue(self, partner, n, config=None, event="update"):
        return self.Outbox._enqueue(config or self.post, partner, event, payloads=[{"n": n}])

    def test_a_group_is_sent_and_written_together(self):
        items = self.Outbox._enqueue(self.post, self.partners, "create")
        self.Outbox.flush_model()
        queries = self.cr.sql_log_count
        self.assertEqual(self.Outbox._cron_deliver(group_size=50), 6)
        # The claim, the outcomes, the earlier attempts, the log rows, the next
        # run's look-up and a few reads: not one statement per item.
        self.assertLess(self.cr.sql_log_count - queries, 20)
        self.assertEqual(items.mapped("state"), ["done"] * 6)
        self.assertEqual(items.mapped("attempt_count"), [1] * 6)
        self.assertEqual(items.mapped("last_status_code"), [200] * 6)
        self.assertTrue(all(items.mapped("last_attempt_at")))
        self.assertEqual({r.idempotency_key for r in self.server.requests},
                         set(items.mapped("idempotency_key")))
        logs = self.Log.search([("outbox_id", "in", items.ids)])
        self.assertEqual(len(logs), 6)
        self.assertEqual(set(logs.mapped("state")), {"success"})
        for item in items:
            self.assertEqual(item.log_ids.res_ids, item.res_ids)

    def test_a_run_builds_each_factory_once_for_all_its_groups(self):
        items = self.Outbox._enqueue(self.post, self.partners[:3], "create")
        built = []
        real_init = outbound.RequestFactory.__init__

        def counting_init(factory, config, timeout=None):
            built.append(config.id)
            real_init(factory, config, timeout)

        with mock.patch.object(outbound.RequestFactory, "__init__", counting_init):
            self.assertEqual(self.Outbox._cron_deliver(group_size=1), 3)
            self.assertEqual(built, [self.post.id], "one factory for the run's three groups")
            self.assertEqual(items.mapped("state"), ["done"] * 3)
            # The next run reads the config again.
            self.queue(self.partners[3], 7)
            self.assertEqual(self.Outbox._cron_deliver(group_size=1), 1)
            self.assertEqual(built, [self.post.id] * 2)
        self.assertEqual(len(self.Log.search([("outbox_id", "in", items.ids)])), 3)

    def test_items_of_one_record_go_one_per_group_in_queued_order(self):
        one, two = self.partners[:2]
        first, second, third = (self.queue(one, n) for n in range(3))
        other = self.queue(two, 9)
        self.Outbox.flush_model()
        claimed = self.Outbox._claim(10)
        self.assertEqual(claimed, first | other, "one item per record, the earliest")
        self.assertEqual(self.Outbox._cron_deliver(group_size=10), 4)
        sent = [r.json["n"] for r in self.server.requests]
        self.assertEqual([n for n in sent if n != 9], [0, 1, 2])
        self.assertEqual((first | second | third | other).mapped("state"), ["done"] * 4)

    def test_a_retrying_item_holds_back_the_later_ones_until_final(self):
        one = self.partners[0]
        self.server.script("/c", [Response(500, {}), Response(200, {}), Response(200, {})])
        first, second = self.queue(one, 0), self.queue(one, 1)
        self.Outbox._cron_deliver()
        self.assertEqual(first.state, "retrying")
        self.assertEqual(second.state, "pending")
        self.assertEqual([r.json["n"] for r in self.server.requests], [0])
        # Due again: the retry goes first, then the update it held back.
        first.next_attempt_at = outbound.utc_now() - timedelta(seconds=1)
        self.Outbox._cron_deliver()
        self.assertEqual([r.json["n"] for r in self.server.requests], [0, 0, 1])
        self.assertEqual((first.state, second.state), ("done", "done"))

    def test_a_failed_item_no_longer_holds_back_the_later_ones(self):
        one = self.partners[0]
        self.server.script("/c", [Response(400, {}), Response(200, {})])
        first, second = self.queue(one, 0), self.queue(one, 1)
        self.Outbox._cron_deliver()
        self.assertEqual((first.state, second.state), ("failed", "done"))
        self.assertEqual([r.json["n"] for r in self.server.requests], [0, 1])

    def test_other_configs_and_records_are_not_held_back(self):
        one, two = self.partners[:2]
        other_config = self.make_out_config(name="Other", url=self.server.url + "/o")
        self.server.script("/c", [Response(500, {})])
        first = self.queue(one, 0)
        self.Outbox._cron_deliver()
        self.assertEqual(first.state, "retrying")
        later = self.queue(one, 1, config=other_config) | self.queue(two, 2)
        self.Outbox._cron_deliver()
        self.assertEqual(later.mapped("state"), ["done", "done"])

    def test_an_update_after_its_create_in_one_group_gets_the_new_external_id(self):
        partner = self.partners[3]
        put = self.make_out_config(
            name="Groups update", url=self.server.url + "/c/{external_id}",
            http_method_ids=[(6, 0, self.method_put.ids)], binding_config_id=self.post.id)
        create = self.Outbox._enqueue(self.post, partner, "create")
        update = self.Outbox._enqueue(put, partner, "update", payloads=[{"n": 1}])
        self.server.script("/c", [Response(201, {"id": "crm_g"})])
        self.Outbox.flush_model()
        self.assertEqual(self.Outbox._claim(10), create | update, "both in one group")
        self.Outbox._cron_deliver()
        self.assertEqual((create.state, update.state), ("done", "done"), update.last_error)
        self.assertEqual([(r.method, r.raw_path) for r in self.server.requests],
                         [("POST", "/c"), ("PUT", "/c/crm_g")])

    def test_earlier_attempts_settle_when_the_delivery_finishes(self):
        one = self.partners[4]
        self.server.script("/c", [Response(503, {}), Response(200, {})])
        item = self.queue(one, 0)
        self.Outbox._cron_deliver()
        self.assertEqual(item.log_ids.mapped("state"), ["retrying"])
        item.next_attempt_at = outbound.utc_now() - timedelta(seconds=1)
        self.Outbox._cron_deliver()
        self.assertEqual(item.state, "done")
        self.assertEqual(sorted(item.log_ids.mapped("state")), ["failed", "success"])
        self.assertEqual(sorted(item.log_ids.mapped("attempt")), [1, 2])

    def test_a_backlog_wakes_the_other_delivery_workers(self):
        Trigger = self.env["ir.cron.trigger"].sudo()
        others = self.env["ir.cron"].browse([
            self.env.ref(f"bj_api_sync.ir_cron_outbox_deliver_{n}").id for n in (2, 3, 4)])
        last = Trigger.search([], order="id desc", limit=1).id or 0
        self.Outbox._enqueue(self.post, self.partners[:3], "create")
        self.Outbox._cron_deliver(group_size=10)
        self.assertFalse(Trigger.search([("id", ">", last), ("cron_id", "in", others.ids)]),
                         "no backlog: the other workers are left asleep")
        self.Outbox._enqueue(self.post, self.partners[:3], "update")
        self.Outbox._cron_deliver(group_size=2)
        woken = Trigger.search([("id", ">", last), ("cron_id", "in", others.ids)]).cron_id
        self.assertEqual(woken, others, "a full group: every other worker is triggered")
