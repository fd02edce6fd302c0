from . import controllers, models


def uninstall_hook(env):
    """Delete the automation rules and scheduled actions that configurations and
    webhooks own: their code calls this addon's models, which are going away."""
    env["bj.api.webhook"].with_context(active_test=False).search([]).unlink()
    configs = env["bj.api.sync.config"].with_context(active_test=False).search([])
    configs._bj_remove_owned_triggers()
    env["bj.api.log.rollup"]._drop_database_objects()
