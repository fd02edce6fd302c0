"""Browser tour: an outbound configuration made through the form, tested, and its logs.

Runs headless Chromium through ``HttpCase.start_tour``; where Odoo finds no
Chromium (``google-chrome``, ``chromium``, ``chromium-browser`` on the PATH) the
test is reported skipped ("Chrome executable not found"), never passed.
"""

from urllib.parse import urlencode

from odoo.tests import HttpCase, tagged

from .fault_server import FaultServer

SINK_PATH = "/tour/customers"


@tagged("post_install", "-at_install", "bj_api_sync_tour")
class TestTourConfig(HttpCase):
    """The tour bj_api_sync_config_tour (static/tests/tours/) against a local sink."""

    def setUp(self):
        super().setUp()
        self.sink = FaultServer().start()
        self.addCleanup(self.sink.stop)

    def test_config_form_test_connection_and_logs(self):
        """Create an outbound config in the form, Test Connection, open its Logs."""
        sink_url = self.sink.url + SINK_PATH
        # The tour reads the sink's address from the start URL (its port is free-picked).
        query = urlencode({"debug": "1", "bj_tour_sink": sink_url})
        self.start_tour(
            f"/web?{query}#action=bj_api_sync.action_bj_api_sync_config",
            "bj_api_sync_config_tour",
            login="admin",
        )

        config = self.env["bj.api.sync.config"].search([("name", "=", "Tour Outbound Sync")])
        self.assertEqual(len(config), 1, "the form saved exactly one configuration")
        self.assertEqual(config.request_type, "out")
        self.assertEqual(config.model_id.model, "res.partner")
        self.assertEqual(config.url, sink_url)
        self.assertEqual(config.http_method_ids.mapped("name"), ["POST"])
        self.assertEqual(
            sorted((line.field_id.name, line.external_key) for line in config.line_ids),
            [("city", "address.city"), ("ref", "customer_ref")],
        )
        self.assertEqual(
            [(h.key, h.value) for h in config.header_ids], [("X-Tour-Header", "tour-header-value")]
        )
        self.assertEqual(config.auth_type, "bearer")
        self.assertEqual(config.bearer_token, "tour-secret-token")

        # Test Connection reached the sink once, with the header and the token set in the form.
        received = self.sink.requests
        self.assertEqual(len(received), 1, [(r.method, r.path) for r in received])
        request = received[0]
        self.assertEqual((request.method, request.path), ("HEAD", SINK_PATH))
        self.assertEqual(request.headers.get("Authorization"), "Bearer tour-secret-token")
        self.assertEqual(request.headers.get("X-Tour-Header"), "tour-header-value")

        log = self.env["bj.api.log"].search([("config_id", "=", config.id)])
        self.assertEqual(len(log), 1)
        self.assertEqual((log.state, log.status_code, log.http_method), ("success", 200, "HEAD"))
        self.assertNotIn("tour-secret-token", log.request_headers or "")
