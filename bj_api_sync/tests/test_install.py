from odoo.tests import tagged

from .common import BjApiSyncCase


@tagged("post_install", "-at_install")
class TestInstall(BjApiSyncCase):
    """The contract's models, fields, types and defaults exist as installed."""

    CONFIG_FIELDS = {
        "name": ("char", None),
        "active": ("boolean", True),
        "request_type": ("selection", "out"),
        "model_id": ("many2one", None),
        "model_name": ("char", None),
        "filter_domain": ("char", "[]"),
        "url": ("char", None),
        "endpoint": ("char", None),
        "http_method_ids": ("many2many", None),
        "connection_timeout": ("float", 5.0),
        "read_timeout": ("float", 15.0),
        "auth_type": ("selection", "none"),
        "auth_login": ("char", None),
        "auth_password": ("char", None),
        "bearer_token": ("char", None),
        "line_ids": ("one2many", None),
        "header_ids": ("one2many", None),
        "param_ids": ("one2many", None),
        "is_paginated": ("boolean", None),
        "page_size": ("integer", 100),
        "max_retries": ("integer", 3),
        "retry_backoff": ("float", 1.0),
        "user_id": ("many2one", None),
        "rate_limit_per_minute": ("integer", 100),
        "rate_limit_per_hour": ("integer", 1000),
        "log_ids": ("one2many", None),
    }
    LINE_FIELDS = {
        "config_id": "many2one",
        "sequence": "integer",
        "field_id": "many2one",
        "external_key": "char",
        "is_identifier": "boolean",
        "value_type": "selection",
        "related_path": "char",
        "mapping_config_id": "many2one",
        "python_code": "text",
        "python_mode": "selection",
    }
    LOG_FIELDS = {
        "config_id": "many2one",
        "direction": "selection",
        "http_method": "char",
        "url": "char",
        "request_headers": "text",
        "request_body": "text",
        "status_code": "integer",
        "response_headers": "text",
        "response_body": "text",
        "duration_ms": "float",
        "state": "selection",
        "error_message": "text",
        "attempt": "integer",
        "res_model": "char",
        "res_ids": "char",
        "trace_id": "char",
        "create_date": "datetime",
    }

    def test_config_fields_types_and_defaults(self):
        fields = self.Config._fields
        defaults = self.Config.default_get(list(self.CONFIG_FIELDS))
        for name, (ftype, default) in self.CONFIG_FIELDS.items():
            self.assertIn(name, fields, name)
            self.assertEqual(fields[name].type, ftype, name)
            if default is not None:
                self.assertEqual(defaults.get(name), default, name)
        self.assertTrue(fields["name"].required)
        self.assertTrue(fields["request_type"].required)
        self.assertTrue(fields["model_id"].required)
        self.assertTrue(fields["model_name"].store)
        self.assertEqual(fields["model_id"].comodel_name, "ir.model")
        self.assertEqual(fields["http_method_ids"].comodel_name, "bj.http.method")
        self.assertEqual(fields["line_ids"].comodel_name, "bj.api.sync.config.line")
        self.assertEqual(fields["header_ids"].comodel_name, "bj.api.sync.header")
        self.assertEqual(fields["param_ids"].comodel_name, "bj.api.sync.param")
        self.assertEqual(fields["log_ids"].comodel_name, "bj.api.log")
        self.assertEqual(fields["user_id"].comodel_name, "res.users")
        self.assertEqual(
            [key for key, _label in fields["request_type"].selection], ["in", "out"]
        )
        self.assertEqual(
            [key for key, _label in fields["auth_type"].selection],
            ["none", "basic", "bearer", "custom", "oauth2"],  # oauth2: CONTRACT section 5
        )

    def test_line_header_param_log_fields(self):
        line_fields = self.env["bj.api.sync.config.line"]._fields
        for name, ftype in self.LINE_FIELDS.items():
            self.assertEqual(line_fields[name].type, ftype, name)
        self.assertTrue(line_fields["config_id"].required)
        self.assertEqual(line_fields["config_id"].ondelete, "cascade")
        self.assertTrue(line_fields["external_key"].required)
        self.assertEqual(
            [key for key, _label in line_fields["value_type"].selection],
            ["plain", "relational", "python", "relational_python"],
        )
        self.assertEqual(
            [key for key, _label in line_fields["python_mode"].selection],
            ["evaluate", "execute"],
        )
        defaults = self.env["bj.api.sync.config.line"].default_get(["python_mode"])
        self.assertEqual(defaults["python_mode"], "evaluate")
        for model in ("bj.api.sync.header", "bj.api.sync.param"):
            model_fields = self.env[model]._fields
            for name in ("config_id", "key", "value"):
                self.assertIn(name, model_fields, f"{model}.{name}")
        param_fields = self.env["bj.api.sync.param"]._fields
        self.assertEqual(param_fields["field_id"].comodel_name, "ir.model.fields")
        self.assertEqual(param_fields["operator"].type, "selection")
        log_fields = self.env["bj.api.log"]._fields
        for name, ftype in self.LOG_FIELDS.items():
            self.assertEqual(log_fields[name].type, ftype, name)
        self.assertEqual(
            [key for key, _label in log_fields["state"].selection],
            ["success", "failed", "retrying", "pending", "skipped"],
        )
        self.assertEqual(
            [key for key, _label in log_fields["direction"].selection], ["in", "out"]
        )

    def test_http_methods_shipped(self):
        names = self.env["bj.http.method"].search([]).mapped("name")
        self.assertEqual(sorted(names), ["DELETE", "GET", "POST", "PUT"])

    def test_admin_is_manager_and_purge_cron_exists(self):
        self.assertTrue(self.env.ref("base.user_admin").has_group("bj_api_sync.group_bj_api_manager"))
        cron = self.env.ref("bj_api_sync.ir_cron_purge_logs")
        self.assertEqual(cron.numbercall, -1)
        self.assertTrue(cron.active)
        menu = self.env.ref("bj_api_sync.menu_bj_api_root")
        self.assertEqual(menu.parent_id, self.env.ref("base.menu_custom"))

    def test_inbound_endpoint_defaults_to_model(self):
        config = self.make_in_config()
        self.assertEqual(config.endpoint, "res.partner")
        self.assertEqual(config.model_name, "res.partner")
