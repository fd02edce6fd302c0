from . import (
    bj_api_log,
    bj_api_outbox,
    bj_api_rate_limit,
    bj_api_sync_config,
    bj_api_sync_config_inbound,
    bj_api_sync_config_line,
    bj_api_sync_header,
    bj_api_sync_param,
    bj_api_webhook,
    bj_http_method,
    ir_http,
    res_config_settings,
)
