"""Make ``bj_api_sync.engine`` importable without importing Odoo.

The addon's ``__init__`` imports its Odoo models; the pure tier must not. A bare
package object pointing at the addon folder lets ``bj_api_sync.engine.*`` (and the
addon's test helpers that import no Odoo) be imported on any machine.
"""
import pathlib
import sys
import types

ROOT = pathlib.Path(__file__).resolve().parents[2]
ADDON = ROOT / "bj_api_sync"

if "bj_api_sync" not in sys.modules:
    _pkg = types.ModuleType("bj_api_sync")
    _pkg.__path__ = [str(ADDON)]
    sys.modules["bj_api_sync"] = _pkg
    _tests = types.ModuleType("bj_api_sync.tests")
    _tests.__path__ = [str(ADDON / "tests")]
    sys.modules["bj_api_sync.tests"] = _tests
