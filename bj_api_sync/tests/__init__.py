from . import test_install
from . import test_config_constraints
from . import test_line_constraints
from . import test_security
from . import test_log_purge
from . import test_views
