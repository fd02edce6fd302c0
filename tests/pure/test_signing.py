"""Standard Webhooks signatures: the signing module and the HTTP client's signed attempts.

Deliveries are verified with the ``standardwebhooks`` package (requirements-test.txt),
the reference implementation receivers use. Where a pin set does not install it, the
same checks run against ``_ReferenceWebhook`` below, a line-for-line port of the
package's ``Webhook.verify`` (tolerance five minutes), so no test is skipped.
"""

import base64
import hashlib
import hmac
import json
import logging
import time

import pytest

from bj_api_sync.engine import http_client as hc
from bj_api_sync.engine import signing
from bj_api_sync.tests.fault_server import FaultServer, Response

try:
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError
except ImportError:  # a pin set without the package: see the module docstring
    Webhook = WebhookVerificationError = None


class _ReferenceVerificationError(Exception):
    pass


class _ReferenceWebhook:
    """The verification of the ``standardwebhooks`` package, for pin sets without it."""

    def __init__(self, secret):
        if secret.startswith("whsec_"):
            secret = secret[len("whsec_"):]
        self.key = base64.b64decode(secret + "==")

    def verify(self, data, headers, *, json_parse=True):
        data = data if isinstance(data, str) else data.decode()
        headers = {k.lower(): v for k, v in headers.items()}
        msg_id = headers.get("webhook-id")
        stamp = headers.get("webhook-timestamp")
        sigs = headers.get("webhook-signature")
        if not (msg_id and stamp and sigs):
            raise _ReferenceVerificationError("Missing required headers")
        if abs(time.time() - float(stamp)) > 300:
            raise _ReferenceVerificationError("Message timestamp too old or too new")
        expected = hmac.new(self.key, f"{msg_id}.{int(float(stamp))}.{data}".encode(),
                            hashlib.sha256).digest()
        for versioned in sigs.split(" "):
            version, sig = versioned.split(",")
            if version == "v1" and hmac.compare_digest(expected, base64.b64decode(sig)):
                return json.loads(data) if json_parse else None
        raise _ReferenceVerificationError("No matching signature found")


VERIFIER = Webhook or _ReferenceWebhook
VERIFY_ERROR = WebhookVerificationError or _ReferenceVerificationError


@pytest.fixture
def server():
    with FaultServer() as srv:
        yield srv
    hc.close_sessions()


@pytest.fixture(params=["direct", "requests"])
def session(request):
    """Both send paths: the direct urllib3 path, and requests' own (trust_env on)."""
    s = hc._new_session()
    if request.param == "requests":
        s.trust_env = True
    assert hc._direct_ok(s) is (request.param == "direct")
    yield s
    s.close()


# ------------------------------------------------------------------ signing module


def test_generated_secret_shape_and_randomness():
    secret = signing.generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[len("whsec_"):])) == 32
    assert signing.generate_secret() != secret
    with pytest.raises(ValueError):
        signing.generate_secret(16)


def test_sign_matches_the_specification_and_the_library():
    secret = "whsec_" + base64.b64encode(b"k" * 24).decode()
    headers = signing.sign(secret, "msg_1", 1700000000, b'{"a":1}')
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-timestamp"] == "1700000000"
    digest = hmac.new(b"k" * 24, b'msg_1.1700000000.{"a":1}', hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(digest).decode()
    if Webhook is not None:
        import datetime

        stamp = datetime.datetime.fromtimestamp(1700000000, tz=datetime.timezone.utc)
        assert Webhook(secret).sign("msg_1", stamp, '{"a":1}') == headers["webhook-signature"]


def test_a_fresh_signature_verifies_and_tampering_does_not():
    secret = signing.generate_secret()
    body = '{"name":"Zoë","n":1}'.encode()
    headers = signing.sign(secret, "idem-1", None, body)
    assert VERIFIER(secret).verify(body, headers) == {"name": "Zoë", "n": 1}
    with pytest.raises(VERIFY_ERROR):
        VERIFIER(secret).verify(body.replace(b"1", b"2"), headers)
    with pytest.raises(VERIFY_ERROR):
        VERIFIER(signing.generate_secret()).verify(body, headers)
    with pytest.raises(VERIFY_ERROR):
        VERIFIER(secret).verify(body, {**headers, "webhook-id": "idem-2"})


def test_an_old_timestamp_is_refused():
    secret = signing.generate_secret()
    body = b'{"a":1}'
    old = signing.sign(secret, "idem-1", time.time() - 600, body)
    with pytest.raises(VERIFY_ERROR):
        VERIFIER(secret).verify(body, old)


def test_unpadded_and_prefixless_secrets_decode_alike():
    key = b"0123456789abcdefghijklmn0"  # 25 bytes: base64 with padding
    padded = base64.b64encode(key).decode()
    assert padded.endswith("=")
    assert signing.decode_secret("whsec_" + padded) == key
    assert signing.decode_secret(padded.rstrip("=")) == key


@pytest.mark.parametrize("bad", ["", "whsec_", "whsec_not base64!!"])
def test_a_bad_secret_raises_without_quoting_it(bad):
    with pytest.raises(signing.SigningSecretError) as caught:
        signing.sign(bad, "m", 1, b"")
    if bad.strip() and bad != "whsec_":
        assert "not base64!!" not in str(caught.value)


# ------------------------------------------------------------------ signed attempts


def test_each_attempt_is_signed_over_the_bytes_sent(server, session):
    secret = signing.generate_secret()
    server.script(None, [Response(500, {}), Response(200, {"ok": 1})])
    request = hc.OutboundRequest("POST", server.url + "/hook",
                                 json_body={"name": "Zoë", "amount": 1.5},
                                 idempotency_key="idem-42", signing_secret=secret)
    first = hc.send_once(request, session=session)
    assert first.outcome == "retry"
    time.sleep(1.05)  # the next second: a fresh timestamp
    second = hc.send_once(request, session=session)
    assert second.ok
    received = server.requests
    assert len(received) == 2
    for attempt, result in zip(received, (first, second)):
        assert attempt.headers["webhook-id"] == "idem-42" == attempt.idempotency_key
        assert VERIFIER(secret).verify(attempt.body, dict(attempt.headers))
        # What the log keeps is what was sent, and never the secret.
        assert result.sent_headers["webhook-signature"] == attempt.headers["webhook-signature"]
        assert secret not in json.dumps(result.sent_headers)
    stamps = [int(r.headers["webhook-timestamp"]) for r in received]
    assert stamps[1] > stamps[0]
    assert abs(stamps[1] - time.time()) < 5
    assert received[0].headers["webhook-signature"] != received[1].headers["webhook-signature"]
    with pytest.raises(VERIFY_ERROR):
        VERIFIER(secret).verify(received[1].body + b" ", dict(received[1].headers))


def test_unsigned_requests_carry_no_signature_headers(server, session):
    hc.send_once(hc.OutboundRequest("POST", server.url + "/h", json_body={"a": 1},
                                    idempotency_key="k"), session=session)
    assert not any(h.lower().startswith("webhook-") for h in server.requests[0].headers)


def test_bodyless_request_is_signed_over_an_empty_body(server, session):
    secret = signing.generate_secret()
    hc.send_once(hc.OutboundRequest("GET", server.url + "/h", idempotency_key="get-1",
                                    signing_secret=secret), session=session)
    attempt = server.requests[0]
    assert attempt.body == b""
    assert VERIFIER(secret).verify(b"", dict(attempt.headers), json_parse=False) is None
    expected = signing.sign(secret, "get-1", int(attempt.headers["webhook-timestamp"]), b"")
    assert attempt.headers["webhook-signature"] == expected["webhook-signature"]


def test_callers_webhook_headers_are_replaced_and_custom_key_is_the_id(server, session):
    secret = signing.generate_secret()
    hc.send_once(hc.OutboundRequest(
        "POST", server.url + "/h", json_body={"a": 1}, idempotency_key="ignored",
        headers={"Idempotency-Key": "mine", "Webhook-Signature": "v1,forged"},
        signing_secret=secret), session=session)
    attempt = server.requests[0]
    assert attempt.headers["webhook-id"] == "mine"
    assert attempt.headers["webhook-signature"] != "v1,forged"
    assert VERIFIER(secret).verify(attempt.body, dict(attempt.headers)) == {"a": 1}


def test_without_an_idempotency_key_a_message_id_is_made(server, session):
    secret = signing.generate_secret()
    hc.send_once(hc.OutboundRequest("POST", server.url + "/h", json_body={"a": 1},
                                    signing_secret=secret), session=session)
    attempt = server.requests[0]
    assert attempt.headers["webhook-id"].startswith("msg_")
    assert VERIFIER(secret).verify(attempt.body, dict(attempt.headers)) == {"a": 1}


def test_an_unusable_secret_fails_the_attempt_without_sending_or_quoting_it(
        server, session, caplog):
    secret = "whsec_%%%-secret-value-%%%"
    with caplog.at_level(logging.DEBUG):
        result = hc.send_once(hc.OutboundRequest("POST", server.url + "/h", json_body={},
                                                 signing_secret=secret), session=session)
    assert result.outcome == "fail"
    assert "signing secret" in result.error
    assert server.count() == 0
    assert "secret-value" not in result.error
    assert "secret-value" not in caplog.text


def test_the_secret_is_not_in_the_requests_repr():
    secret = signing.generate_secret()
    request = hc.OutboundRequest("POST", "http://127.0.0.1:9/", signing_secret=secret)
    assert secret not in repr(request)
