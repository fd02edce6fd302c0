from . import (
    bj_api_cache_mixin,
    bj_api_idempotency_key,
    bj_api_log,
    bj_api_log_rollup,
    bj_api_oauth2_token,
    bj_api_outbox,
    bj_api_outbox_retention,
    bj_api_rate_limit,
    bj_api_sync_binding,
    bj_api_sync_config,
    bj_api_sync_config_import,
    bj_api_sync_config_inbound,
    bj_api_sync_config_line,
    bj_api_sync_config_oauth2,
    bj_api_sync_config_signing,
    bj_api_sync_config_sync,
    bj_api_sync_config_triggers,
    bj_api_sync_header,
    bj_api_sync_param,
    bj_api_sync_send_now,
    bj_api_webhook,
    bj_http_method,
    ir_http,
    res_config_settings,
)

# isort: off
# Last: its SQL view reads the tables of the models above.
from . import bj_api_dashboard
# isort: on

