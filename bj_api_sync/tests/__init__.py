from . import (
    test_config_constraints,
    test_http_inbound_auth,
    test_http_inbound_crud,
    test_http_inbound_errors,
    test_http_inbound_webhooks,
    test_install,
    test_line_constraints,
    test_log_purge,
    test_outbound,
    test_outbox_concurrency,
    test_security,
    test_views,
)
