from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import BjApiSyncCase


@tagged("post_install", "-at_install")
class TestConfigConstraints(BjApiSyncCase):
    """Every configuration constraint: the good case and each bad case with its message."""

    def test_outbound_good_case(self):
        config = self.make_out_config()
        self.assertEqual(config.http_method_ids, self.method_post)

    def test_outbound_needs_url(self):
        with self.assertRaisesMessage(ValidationError, "needs a Request URL"):
            self.make_out_config(url=False)

    def test_outbound_url_must_be_http(self):
        for bad in ("ftp://example.com/x", "example.com/x", "http://"):
            with self.subTest(url=bad), self.assertRaisesMessage(
                ValidationError, "absolute http:// or https:// URL"
            ):
                self.make_out_config(url=bad)

    def test_outbound_needs_exactly_one_method(self):
        with self.assertRaisesMessage(ValidationError, r"exactly one HTTP method \(it has 0\)"):
            self.make_out_config(http_method_ids=[(5, 0, 0)])
        with self.assertRaisesMessage(ValidationError, r"exactly one HTTP method \(it has 2\)"):
            self.make_out_config(
                http_method_ids=[(6, 0, (self.method_post | self.method_put).ids)]
            )

    def test_outbound_credentials_are_required_by_their_authentication(self):
        for vals, missing in (
            ({"auth_type": "bearer"}, "Bearer Token"),
            ({"auth_type": "basic", "auth_password": "pw"}, "Login"),
            ({"auth_type": "custom"}, r"at least one header \(Headers tab\)"),
        ):
            with self.subTest(**vals), self.assertRaisesMessage(
                    ValidationError, f"authentication needs {missing}"):
                self.make_out_config(**vals)
        self.make_out_config(auth_type="bearer", bearer_token="t")
        self.make_out_config(auth_type="basic", auth_login="me")
        self.make_out_config(auth_type="custom",
                             header_ids=[(0, 0, {"key": "X-Key", "value": "k"})])
        config = self.make_out_config(auth_type="bearer", bearer_token="t")
        with self.assertRaisesMessage(ValidationError, "needs Bearer Token"):
            config.bearer_token = False

    def test_inbound_own_credentials_need_a_run_as_user(self):
        for vals in ({"auth_type": "none"},
                     {"auth_type": "bearer", "bearer_token": "t"},
                     {"auth_type": "basic", "auth_login": "me", "auth_password": "pw"},
                     {"auth_type": "custom",
                      "header_ids": [(0, 0, {"key": "X-Key", "value": "k"})]}):
            with self.subTest(**vals), self.assertRaisesMessage(
                    ValidationError, "authentication needs Run As User"):
                self.make_in_config(user_id=False, **vals)
        # Bearer or Basic without credentials of its own: callers use their API keys.
        self.make_in_config(user_id=False, auth_type="bearer")
        self.make_in_config(user_id=False, auth_type="basic", endpoint="partners_basic")

    def test_inbound_may_have_several_methods_and_no_url(self):
        config = self.make_in_config()
        self.assertEqual(len(config.http_method_ids), 4)
        self.assertFalse(config.url)

    def test_timeouts_in_range(self):
        self.make_out_config(connection_timeout=1, read_timeout=300)
        self.make_out_config(connection_timeout=60, read_timeout=1)
        for vals, message in (
            ({"connection_timeout": 0.5}, "Connection Timeout must be between 1.0 and 60.0"),
            ({"connection_timeout": 61}, "Connection Timeout must be between 1.0 and 60.0"),
            ({"read_timeout": 0}, "Read Timeout must be between 1.0 and 300.0"),
            ({"read_timeout": 301}, "Read Timeout must be between 1.0 and 300.0"),
        ):
            with self.subTest(vals=vals), self.assertRaisesMessage(ValidationError, message):
                self.make_out_config(**vals)

    def test_page_size_positive(self):
        self.make_out_config(page_size=1)
        for size in (0, -5):
            with self.subTest(size=size), self.assertRaisesMessage(
                ValidationError, "Page Size must be a positive number"
            ):
                self.make_out_config(page_size=size)

    def test_retries_and_backoff(self):
        self.make_out_config(max_retries=0, retry_backoff=0)
        with self.assertRaisesMessage(ValidationError, "Max Retries must be between 0 and 10"):
            self.make_out_config(max_retries=11)
        with self.assertRaisesMessage(ValidationError, "Max Retries must be between 0 and 10"):
            self.make_out_config(max_retries=-1)
        with self.assertRaisesMessage(ValidationError, "Retry Backoff cannot be negative"):
            self.make_out_config(retry_backoff=-1)

    def test_rate_limits_not_negative(self):
        self.make_in_config(rate_limit_per_minute=0, rate_limit_per_hour=0)
        with self.assertRaisesMessage(ValidationError, "Rate limits cannot be negative"):
            self.make_in_config(endpoint="partners2", rate_limit_per_minute=-1)

    def test_filter_domain_good_cases(self):
        config = self.make_out_config(company_id=False,
                                      filter_domain="[('is_company', '=', True)]")
        self.assertEqual(config._get_filter_domain(), [("is_company", "=", True)])
        # The seed's example with datetime arithmetic works as in Odoo's domain fields.
        config = self.make_out_config(
            company_id=False,
            filter_domain="[('create_date', '>=', (datetime.now() - timedelta(days=7))"
            ".strftime('%Y-%m-%d'))]"
        )
        domain = config._get_filter_domain()
        self.assertEqual(domain[0][0], "create_date")
        self.assertRegex(domain[0][2], r"^\d{4}-\d{2}-\d{2}$")
        config = self.make_out_config(
            company_id=False,
            filter_domain="[('write_date', '>=', context_today() - relativedelta(days=1)),"
            " ('create_uid', '=', uid)]"
        )
        self.assertEqual(config._get_filter_domain()[1], ("create_uid", "=", self.env.uid))
        config = self.make_out_config(
            company_id=False,
            filter_domain="[('write_date', '<', datetime.datetime.now() + datetime.timedelta(days=1))]"
        )
        self.assertEqual(type(config._get_filter_domain()[0][2]).__name__, "datetime")
        self.assertEqual(
            self.make_out_config(company_id=False, filter_domain=False)._get_filter_domain(), [])
        # A company keeps the records to it (and to no company).
        config = self.make_out_config(filter_domain="[('is_company', '=', True)]")
        self.assertEqual(config._get_filter_domain(), [
            "&", ("is_company", "=", True), "|", ("company_id", "=", False),
            ("company_id", "=", self.env.company.id)])

    def test_filter_domain_bad_cases(self):
        for bad, detail in (
            ("[('no_such_field', '=', 1)]", "no_such_field"),
            ("[('name', '=', ", ""),
            ("{'name': 1}", "a domain is a list"),
            ("[('name', 'bogus-op', 1)]", ""),
            ("__import__('os').system('true')", ""),
        ):
            with self.subTest(domain=bad), self.assertRaisesMessage(
                ValidationError, "The filter domain of Customer to CRM Sync is not valid for res.partner"
            ) as caught:
                self.make_out_config(filter_domain=bad)
            self.assertIn(detail, str(caught.exception))

    def test_endpoint_unique_among_active_inbound(self):
        first = self.make_in_config(endpoint="customers")
        with self.assertRaisesMessage(
            ValidationError, "'customers' is already used by the active inbound configuration Partners API"
        ):
            self.make_in_config(name="Other", endpoint="customers")
        # An archived duplicate is fine, and so is an outbound config with the same value.
        archived = self.make_in_config(name="Old", endpoint="customers-old")
        archived.active = False
        archived.endpoint = "customers"
        self.make_out_config(endpoint="customers")
        # Re-activating the archived duplicate is refused.
        with self.assertRaisesMessage(ValidationError, "already used"):
            archived.active = True
        first.active = False
        archived.active = True
        self.assertTrue(archived.active)

    def test_endpoint_safe_in_url(self):
        self.make_in_config(endpoint="res.partner")
        self.make_in_config(endpoint="my_customers-v2")
        for bad in ("with space", "a/b", "é", "-leading", "x" * 129, "webhooks", "openapi.json", "a?b"):
            with self.subTest(endpoint=bad), self.assertRaisesMessage(
                ValidationError, "is not usable in a URL"
            ):
                self.make_in_config(endpoint=bad)

    def test_log_count_smart_button(self):
        config = self.make_out_config()
        self.env["bj.api.log"].create(
            [{"config_id": config.id, "direction": "out", "state": "success"} for _i in range(3)]
        )
        config.invalidate_recordset(["log_count"])
        self.assertEqual(config.log_count, 3)
        action = config.action_view_logs()
        self.assertEqual(action["res_model"], "bj.api.log")
        self.assertEqual(action["domain"], [("config_id", "=", config.id)])

    def test_outbound_method_is_one_choice(self):
        config = self.make_out_config()
        self.assertEqual(config.http_method_id, self.method_post)
        config.http_method_id = self.method_put
        self.assertEqual(config.http_method_ids, self.method_put)
        config = self.make_out_config(http_method_ids=False, http_method_id=self.method_get.id)
        self.assertEqual(config.http_method_ids, self.method_get)
        # Inbound, the verbs are the many2many; the one-method field never cuts them.
        inbound = self.make_in_config(http_method_id=self.method_get.id)
        self.assertEqual(len(inbound.http_method_ids), 4)
        inbound.write({"http_method_id": self.method_get.id, "name": "Renamed"})
        self.assertEqual(len(inbound.http_method_ids), 4)
