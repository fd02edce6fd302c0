"""The claim of an Idempotency-Key goes when the call's transaction ends, either way."""
from datetime import datetime
from types import SimpleNamespace
from unittest.mock import patch

from odoo.tests import TransactionCase, tagged
from odoo.tools.misc import Callbacks

from ..services import inbound_idempotency


@tagged("post_install", "-at_install")
class TestIdempotencyClaimHooks(TransactionCase):

    def releases(self, end):
        """Keep an answer on a stand-in cursor, end its transaction with ``end``
        (``"postcommit"`` or ``"postrollback"``); return the claims released."""
        cr = SimpleNamespace(execute=lambda *args, **kwargs: None, postcommit=Callbacks(),
                             postrollback=Callbacks())
        env = SimpleNamespace(cr=cr, registry=self.registry)
        found = inbound_idempotency.Claim("caller", "key", "fp", 1, 2, "POST", "/x", "req_1",
                                          datetime(2026, 12, 2), 42)
        released = []
        with patch.object(inbound_idempotency, "release",
                          lambda registry, claim: released.append(claim.row_id)):
            inbound_idempotency.keep(env, found, 201, "{}", {})
            self.assertEqual(released, [], "released before the transaction ended")
            getattr(cr, end).run()
        return released

    def test_commit_releases_the_claim(self):
        self.assertEqual(self.releases("postcommit"), [42])

    def test_a_rollback_after_the_answer_releases_the_claim(self):
        # Odoo retries a call whose commit-time flush failed to serialize: the
        # retry must not find its own claim running (409 to itself).
        self.assertEqual(self.releases("postrollback"), [42])
