import base64
import json

from odoo.tests import tagged

from ..engine.masking import MASK
from .http_common import BjApiHttpCase


def basic(login, password):
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()


@tagged("post_install", "-at_install", "bj_api_sync_http")
class TestInboundAuth(BjApiHttpCase):
    """Every auth mode, good and bad credentials, and who the request runs as."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config_user = cls.make_user("cfg", "base.group_user,base.group_partner_manager")
        cls.other_user = cls.make_user("other", "base.group_user,base.group_partner_manager")
        cls.other_key = cls.make_key(cls.other_user)
        common = {"user_id": cls.config_user.id}
        cls.bearer = cls.make_config(endpoint="p_bearer", auth_type="bearer",
                                     bearer_token=f"tok-{cls.tag}-secret", **common)
        cls.basic = cls.make_config(endpoint="p_basic", auth_type="basic",
                                    auth_login="erp", auth_password=f"pw-{cls.tag}", **common)
        cls.custom = cls.make_config(
            endpoint="p_custom", auth_type="custom",
            header_ids=[(0, 0, {"key": "X-Client-Id", "value": "shop"}),
                        (0, 0, {"key": "X-Client-Secret", "value": f"s3-{cls.tag}"})],
            **common,
        )
        cls.none = cls.make_config(endpoint="p_none", auth_type="none", **common)

    def _create_as(self, endpoint, headers, status=201):
        response = self.opener.post(
            self.base_url() + f"/api/sync/v1/{endpoint}",
            json={"data": {"name": f"auth {endpoint}"}}, headers=headers, timeout=60,
        )
        body = self.assertJson(response, status,
                               "AUTHENTICATION_ERROR" if status == 401 else None)
        if status == 401:
            self.assertTrue(response.headers.get("WWW-Authenticate"))
        if status >= 400:
            return None
        return self.env["res.partner"].browse(body["id"]).create_uid

    def test_bearer_config_token_runs_as_config_user(self):
        uid = self._create_as("p_bearer", {"Authorization": f"Bearer tok-{self.tag}-secret"})
        self.assertEqual(uid, self.config_user)

    def test_bearer_api_key_runs_as_key_owner(self):
        uid = self._create_as("p_bearer", {"Authorization": f"Bearer {self.other_key}"})
        self.assertEqual(uid, self.other_user)

    def test_bearer_refused(self):
        self._create_as("p_bearer", {"Authorization": "Bearer wrong"}, 401)
        # The key with its last character changed (to one it is not already).
        wrong = self.other_key[:-1] + ("1" if self.other_key.endswith("0") else "0")
        self._create_as("p_bearer", {"Authorization": f"Bearer {wrong}"}, 401)
        self._create_as("p_bearer", {}, 401)
        self._create_as("p_bearer", {"Authorization": basic("erp", f"pw-{self.tag}")}, 401)
        self.assertFalse(self.env["res.partner"].search([("name", "=", "auth p_bearer")]))

    def test_basic_config_credentials_and_api_key(self):
        uid = self._create_as("p_basic", {"Authorization": basic("erp", f"pw-{self.tag}")})
        self.assertEqual(uid, self.config_user)
        uid = self._create_as("p_basic",
                              {"Authorization": basic(self.other_user.login, self.other_key)})
        self.assertEqual(uid, self.other_user)

    def test_basic_refused(self):
        self._create_as("p_basic", {"Authorization": basic("erp", "wrong")}, 401)
        # Another user's login with my key.
        self._create_as("p_basic", {"Authorization": basic(self.api_user.login, self.other_key)},
                        401)
        self._create_as("p_basic", {"Authorization": f"Bearer {self.other_key}"}, 401)
        self._create_as("p_basic", {}, 401)

    def test_custom_headers(self):
        uid = self._create_as("p_custom", {"X-Client-Id": "shop",
                                           "X-Client-Secret": f"s3-{self.tag}"})
        self.assertEqual(uid, self.config_user)
        self._create_as("p_custom", {"X-Client-Id": "shop"}, 401)
        self._create_as("p_custom", {"X-Client-Id": "shop", "X-Client-Secret": "nope"}, 401)
        self._create_as("p_custom", {"Authorization": f"Bearer {self.other_key}"}, 401)

    def test_none_runs_as_config_user(self):
        uid = self._create_as("p_none", {})
        self.assertEqual(uid, self.config_user)

    def test_portal_user_api_key_refused(self):
        portal = self.make_user("portal", "base.group_portal")
        key = self.make_key(portal)
        self._create_as("p_bearer", {"Authorization": f"Bearer {key}"}, 401)
        self._create_as("p_basic", {"Authorization": basic(portal.login, key)}, 401)

    def test_archived_user_refused(self):
        user = self.make_user("gone", "base.group_user,base.group_partner_manager")
        key = self.make_key(user)
        self.assertEqual(self._create_as("p_bearer", {"Authorization": f"Bearer {key}"}), user)
        user.active = False
        self._create_as("p_bearer", {"Authorization": f"Bearer {key}"}, 401)

    def test_config_user_must_be_active_internal_not_superuser(self):
        headers = {"Authorization": f"Bearer tok-{self.tag}-secret"}
        self.bearer.user_id = self.env.ref("base.user_root")
        self._create_as("p_bearer", headers, 401)
        portal = self.make_user("portal2", "base.group_portal")
        self.bearer.user_id = portal
        self._create_as("p_bearer", headers, 401)
        # Saved before the constraint, or its user removed since: no Run As User.
        self.env.cr.execute("UPDATE bj_api_sync_config SET user_id = NULL WHERE id IN %s",
                            (tuple((self.bearer | self.none).ids),))
        self.env.invalidate_all()
        self._create_as("p_bearer", headers, 401)
        self._create_as("p_none", {}, 401)

    def test_a_half_configured_config_says_which_setting_is_missing(self):
        self.bearer.user_id = self.make_user("portal3", "base.group_portal")
        response = self.opener.post(self.base_url() + "/api/sync/v1/p_bearer",
                                    json={"data": {"name": "x"}}, timeout=60,
                                    headers={"Authorization": f"Bearer tok-{self.tag}-secret"})
        body = self.assertJson(response, 401, "AUTHENTICATION_ERROR")
        self.assertEqual(body["error"]["details"], {"missing": "user_id",
                                                    "setting": "Run As User"})
        self.assertIn("Run As User", self.log_of(response).error_message)
        # A wrong token learns nothing of the kind.
        response = self.opener.post(self.base_url() + "/api/sync/v1/p_bearer",
                                    json={"data": {"name": "x"}}, timeout=60,
                                    headers={"Authorization": "Bearer not-the-token"})
        body = self.assertJson(response, 401, "AUTHENTICATION_ERROR")
        self.assertEqual(body["error"]["details"], {})
        self.assertNotIn("Run As User", body["error"]["message"])

    def test_user_without_write_access_gets_403_and_nothing_changes(self):
        reader = self.make_user("reader", "base.group_user")
        key = self.make_key(reader)
        partner = self.env["res.partner"].create({"name": "Read only for you"})
        headers = {"Authorization": f"Bearer {key}"}
        response = self.opener.put(
            self.base_url() + f"/api/sync/v1/p_bearer/{partner.id}",
            json={"data": {"name": "changed"}}, headers=headers, timeout=60,
        )
        self.assertJson(response, 403, "PERMISSION_DENIED")
        partner.invalidate_recordset()
        self.assertEqual(partner.name, "Read only for you")
        self._create_as("p_bearer", headers, 403)
        response = self.opener.get(self.base_url() + f"/api/sync/v1/p_bearer/{partner.id}",
                                   headers=headers, timeout=60)
        self.assertEqual(self.assertJson(response, 200)["data"]["name"], "Read only for you")

    @staticmethod
    def _logged_headers(log):
        """The request headers of a log row, by lower-cased name."""
        lines = (log.request_headers or "").splitlines()
        pairs = (line.split(":", 1) for line in lines if ":" in line)
        return {name.strip().lower(): value.strip() for name, value in pairs}

    def test_secrets_never_logged(self):
        """A custom config's header values and a body's password are masked in the log."""
        response = self.opener.post(
            self.base_url() + "/api/sync/v1/p_custom",
            json={"data": {"name": "logged"}, "password": "hunter2"},
            headers={"X-Client-Id": "shop", "X-Client-Secret": f"s3-{self.tag}"}, timeout=60,
        )
        self.assertJson(response, 400, "VALIDATION_ERROR")
        log = self.log_of(response)
        dump = f"{log.request_headers}\n{log.request_body}\n{log.url}\n{log.response_body}"
        self.assertNotIn(f"s3-{self.tag}", dump)
        self.assertNotIn("hunter2", dump)
        # The row holds the call, masked: an empty row would pass the checks above.
        headers = self._logged_headers(log)
        self.assertEqual(headers.get("content-type"), "application/json")
        # Every header value of a custom config is one of its credentials.
        self.assertEqual(headers.get("x-client-id"), MASK)
        self.assertEqual(headers.get("x-client-secret"), MASK)
        self.assertEqual(json.loads(log.request_body),
                         {"data": {"name": "logged"}, "password": MASK})
        self.assertIn("/api/sync/v1/p_custom", log.url)
        self.assertIn("VALIDATION_ERROR", log.response_body)

    def test_api_key_never_logged(self):
        response = self.opener.get(self.base_url() + "/api/sync/v1/p_bearer/search?limit=1",
                                   headers={"Authorization": f"Bearer {self.other_key}"},
                                   timeout=60)
        self.assertJson(response, 200)
        log = self.log_of(response)
        self.assertNotIn(self.other_key, log.request_headers)
        self.assertEqual(self._logged_headers(log).get("authorization"), f"Bearer {MASK}")
