from . import (
    test_config_constraints,
    test_examples,
    test_install,
    test_line_constraints,
    test_log_purge,
    test_outbound,
    test_outbox_concurrency,
    test_security,
    test_views,
)
