"""Make ``bj_api_sync.engine`` importable without importing Odoo (see tests/addon_package.py)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import addon_package  # noqa: E402

addon_package.install()
