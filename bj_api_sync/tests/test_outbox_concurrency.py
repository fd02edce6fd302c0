from odoo import SUPERUSER_ID, api
from odoo.tests import tagged

from .common import BjApiSyncCase
from .fault_server import FaultServer


@tagged("post_install", "-at_install")
class TestOutboxConcurrency(BjApiSyncCase):
    """Claims between real, separate transactions (data committed for the test)."""

    def _env(self, cr):
        return api.Environment(cr, SUPERUSER_ID, {})

    def test_workers_never_share_an_item_and_a_dead_workers_item_is_taken_again(self):
        with self.registry.cursor() as cr:
            env = self._env(cr)
            config = env["bj.api.sync.config"].create({
                "name": "Concurrency", "request_type": "out",
                "model_id": env["ir.model"]._get("res.partner").id,
                "url": "http://127.0.0.1:9/x",
                "http_method_ids": [(6, 0, env.ref("bj_api_sync.http_method_post").ids)],
            })
            items = env["bj.api.outbox"].create([
                {"config_id": config.id, "idempotency_key": f"k{i}", "payload": "{}"}
                for i in range(2)
            ])
            item_ids, config_id = set(items.ids), config.id
        cursors = [self.registry.cursor() for _i in range(3)]
        try:
            first = self._env(cursors[0])["bj.api.outbox"]._claim_next()
            second = self._env(cursors[1])["bj.api.outbox"]._claim_next()
            third = self._env(cursors[2])["bj.api.outbox"]._claim_next()
            self.assertEqual({first.id, second.id}, item_ids)
            self.assertFalse(third, "both items are locked by running workers")
            cursors[0].rollback()  # the first worker dies before it finished
            cursors[2].rollback()
            again = self._env(cursors[2])["bj.api.outbox"]._claim_next()
            self.assertEqual(again.id, first.id)
        finally:
            for cr in cursors:
                cr.rollback()
                cr.close()
            with self.registry.cursor() as cr:
                env = self._env(cr)
                env["bj.api.outbox"].browse(list(item_ids)).unlink()
                env["bj.api.sync.config"].browse(config_id).unlink()

    def test_deliver_now_and_retry_leave_an_item_a_worker_is_sending_to_that_worker(self):
        server = FaultServer().start()
        self.addCleanup(server.stop)
        with self.registry.cursor() as cr:
            env = self._env(cr)
            config = env["bj.api.sync.config"].create({
                "name": "Deliver now", "request_type": "out",
                "model_id": env["ir.model"]._get("res.partner").id,
                "url": server.url + "/now",
                "http_method_ids": [(6, 0, env.ref("bj_api_sync.http_method_post").ids)],
            })
            item = env["bj.api.outbox"].create(
                {"config_id": config.id, "idempotency_key": "now-1", "payload": "{}"})
            item_id, config_id = item.id, config.id
        worker, user = self.registry.cursor(), self.registry.cursor()
        try:
            claimed = self._env(worker)["bj.api.outbox"]._claim_next()
            self.assertEqual(claimed.id, item_id)
            # The user's button must neither send the item a second time nor
            # wait for the worker's lock.
            user.execute("SET LOCAL lock_timeout = '2s'")
            action = self._env(user)["bj.api.outbox"].browse(item_id).action_deliver_now()
            self.assertEqual(server.count(), 0)
            self.assertIn("left to it", action["params"]["message"])
            # Retry does not wait for the worker either, and says so.
            action = self._env(user)["bj.api.outbox"].browse(item_id).action_retry()
            self.assertEqual(action["params"]["type"], "warning")
            self.assertIn("1 being sent right now", action["params"]["message"])
        finally:
            for cr in (worker, user):
                cr.rollback()
                cr.close()
            with self.registry.cursor() as cr:
                env = self._env(cr)
                env["bj.api.outbox"].browse(item_id).unlink()
                env["bj.api.sync.config"].browse(config_id).unlink()

    def test_groups_of_two_workers_never_overlap_and_keep_each_records_order(self):
        with self.registry.cursor() as cr:
            env = self._env(cr)
            config = env["bj.api.sync.config"].create({
                "name": "Concurrent groups", "request_type": "out",
                "model_id": env["ir.model"]._get("res.partner").id,
                "url": "http://127.0.0.1:9/x",
                "http_method_ids": [(6, 0, env.ref("bj_api_sync.http_method_post").ids)],
            })
            # Records 1..4 once each, then record 1 again: its update.
            items = env["bj.api.outbox"].create([
                {"config_id": config.id, "idempotency_key": f"g{i}", "payload": "{}",
                 "res_model": "res.partner", "res_ids": str(rid)}
                for i, rid in enumerate([1, 2, 3, 4, 1])
            ])
            item_ids, config_id = items.ids, config.id
        cursors = [self.registry.cursor() for _i in range(3)]
        try:
            first = self._env(cursors[0])["bj.api.outbox"]._claim(2)
            second = self._env(cursors[1])["bj.api.outbox"]._claim(10)
            third = self._env(cursors[2])["bj.api.outbox"]._claim(10)
            self.assertEqual(first.ids, item_ids[:2])
            # Not the update of record 1: its create is held by the first worker.
            self.assertEqual(second.ids, item_ids[2:4])
            self.assertFalse(third)
            cursors[0].rollback()  # the first worker dies mid-group
            cursors[2].rollback()
            again = self._env(cursors[2])["bj.api.outbox"]._claim(10)
            self.assertEqual(again.ids, item_ids[:2], "its items are taken again, in order")
        finally:
            for cr in cursors:
                cr.rollback()
                cr.close()
            with self.registry.cursor() as cr:
                env = self._env(cr)
                env["bj.api.outbox"].browse(item_ids).unlink()
                env["bj.api.sync.config"].browse(config_id).unlink()
