from lxml import etree

from odoo.tests import tagged

from .common import BjApiSyncCase


@tagged("post_install", "-at_install")
class TestViews(BjApiSyncCase):
    """Every view of the addon loads for a manager and a user, in Odoo 17 syntax."""

    def test_every_view_loads(self):
        views = self.env["ir.ui.view"].browse(
            self.env["ir.model.data"]
            .search([("module", "=", "bj_api_sync"), ("model", "=", "ir.ui.view")])
            .mapped("res_id")
        )
        self.assertGreaterEqual(len(views), 7)
        for view in views:
            self.assertNotIn("attrs=", view.arch_db, view.xml_id)
            self.assertNotIn("states=", view.arch_db, view.xml_id)
            for user in (self.bj_manager, self.bj_user):
                with self.subTest(view=view.xml_id, user=user.login):
                    model = self.env[view.model].with_user(user)
                    if view.model == "res.config.settings":
                        model = model.sudo()
                    elif model._transient and user == self.bj_user:
                        # Manager-only dialogs (Send Now): users may not open them.
                        self.assertFalse(model.check_access_rights("read", raise_exception=False))
                        continue
                    result = model.get_views([(view.id if not view.inherit_id else False,
                                               view.type)])
                    self.assertIn(view.type, result["views"])

    def test_config_form_hides_secrets_from_users(self):
        arch = self.Config.with_user(self.bj_user).get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertNotIn('name="bearer_token"', arch)
        arch = self.Config.with_user(self.bj_manager).get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn('name="bearer_token"', arch)
        self.assertIn('name="line_ids"', arch)
        for page in ("field_mappings", "headers", "params", "authentication", "advanced"):
            self.assertIn(f'name="{page}"', arch)

    def test_actions_and_menus(self):
        for xmlid in ("bj_api_sync.action_bj_api_sync_config", "bj_api_sync.action_bj_api_log"):
            action = self.env["ir.actions.act_window"]._for_xml_id(xmlid)
            self.assertIn("tree", action["view_mode"])
        menus = self.env["ir.ui.menu"].with_user(self.bj_user)._visible_menu_ids()
        self.assertIn(self.env.ref("bj_api_sync.menu_bj_api_log").id, menus)

    def _form_arch(self, model):
        arch = self.env[model].with_user(self.bj_manager).get_views(
            [(False, "form")])["views"]["form"]["arch"]
        return etree.fromstring(arch)

    def test_config_form_says_units_and_hides_outbound_only_settings_inbound(self):
        form = self._form_arch("bj.api.sync.config")
        timeouts = form.xpath("//group[@name='timeouts']")[0]
        self.assertEqual(timeouts.get("invisible"), "request_type != 'out'")
        for name in ("connection_timeout", "read_timeout", "retry_backoff"):
            row = form.xpath(f"//field[@name='{name}']/parent::div")[0]
            self.assertEqual(row.xpath("span/text()"), ["seconds"], name)
        run_as = form.xpath("//field[@name='user_id']")[0]
        self.assertIn("'no_create': True", run_as.get("options"))

    def test_log_state_is_a_badge_not_a_workflow(self):
        form = self._form_arch("bj.api.log")
        self.assertFalse(form.xpath("//field[@widget='statusbar']"))
        self.assertEqual(form.xpath("//field[@name='state']/@widget"), ["badge"])

    def test_config_list_help_points_to_the_archived_example(self):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "bj_api_sync.action_bj_api_sync_config")
        self.assertIn("Customer to CRM Sync (example)", action["help"])
        example = self.env.ref("bj_api_sync.example_config_customer_crm")
        self.assertFalse(example.active)

    def test_lines_show_technical_names_and_open_their_script_with_its_variables(self):
        form = self._form_arch("bj.api.sync.config")
        self.assertTrue(form.xpath("//field[@name='line_ids']//field[@name='field_name']"))
        self.assertTrue(form.xpath("//field[@name='line_ids']//button[@name='action_edit_script']"))
        config = self.make_out_config(line_ids=[(0, 0, {
            "external_key": "upper", "value_type": "python", "python_code": "value",
            "field_id": self.env["ir.model.fields"]._get("res.partner", "name").id})])
        line = config.line_ids
        self.assertEqual(line.field_name, "name")
        action = line.action_edit_script()
        self.assertEqual((action["res_id"], action["target"]), (line.id, "new"))
        arch = self.env[line._name].get_views([(action["views"][0][0], "form")])["views"][
            "form"]["arch"]
        for variable in ("request_data", "float_compare", "log(message)"):
            self.assertIn(variable, arch)

    def test_inbound_form_shows_the_full_endpoint_url(self):
        self.env["ir.config_parameter"].sudo().set_param("web.base.url", "https://erp.example.com/")
        config = self.make_in_config(endpoint="customers-api")
        self.assertEqual(config.endpoint_url, "https://erp.example.com/api/sync/v1/customers-api")
        self.assertFalse(self.make_out_config().endpoint_url)
