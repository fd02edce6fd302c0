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
