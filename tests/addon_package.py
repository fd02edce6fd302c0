"""Make ``bj_api_sync.engine`` and the addon's Odoo-free test helpers importable
without importing Odoo.

The addon's ``__init__`` imports its Odoo models; the pure tier must not, and the
end-to-end tier drives Odoo from outside. A bare package object pointing at the
addon folder lets ``bj_api_sync.engine.*`` and ``bj_api_sync.tests.fault_server``
be imported on any machine.
"""
import pathlib
import sys
import types

ROOT = pathlib.Path(__file__).resolve().parents[1]
ADDON = ROOT / "bj_api_sync"


def install():
    """Register the bare ``bj_api_sync`` and ``bj_api_sync.tests`` packages (once)."""
    if "bj_api_sync" in sys.modules:
        return
    package = types.ModuleType("bj_api_sync")
    package.__path__ = [str(ADDON)]
    sys.modules["bj_api_sync"] = package
    tests = types.ModuleType("bj_api_sync.tests")
    tests.__path__ = [str(ADDON / "tests")]
    sys.modules["bj_api_sync.tests"] = tests
