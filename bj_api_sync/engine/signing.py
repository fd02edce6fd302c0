"""Standard Webhooks signatures of outbound deliveries.

A signing secret is ``whsec_`` followed by the base64 of random key bytes.
Each attempt carries three headers (https://www.standardwebhooks.com):

- ``webhook-id``: the message id, the same on every retry of one delivery
  (the delivery's ``Idempotency-Key``);
- ``webhook-timestamp``: the attempt's time, whole seconds since the epoch;
- ``webhook-signature``: ``v1,`` + base64 of HMAC-SHA256, keyed with the
  decoded secret, of ``{id}.{timestamp}.{body}`` where ``body`` is the exact
  bytes sent (empty when the request has no body).

Any Standard Webhooks library verifies them (``standardwebhooks`` on PyPI and
npm, Svix's libraries). Standard library only; does not import Odoo.
"""

import base64
import binascii
import hashlib
import hmac
import secrets
import time

PREFIX = "whsec_"
#: Random key bytes of a generated secret (the spec asks for 24 to 64).
KEY_BYTES = 32
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
HEADERS = (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)


class SigningSecretError(ValueError):
    """The signing secret is not ``whsec_`` + base64 of a key (the secret is not quoted)."""


def generate_secret(nbytes: int = KEY_BYTES) -> str:
    """Return a new signing secret: ``whsec_`` + base64 of ``nbytes`` random bytes."""
    if nbytes < 24:
        raise ValueError("a signing key has at least 24 bytes")
    return PREFIX + base64.b64encode(secrets.token_bytes(nbytes)).decode("ascii")


def decode_secret(secret: str) -> bytes:
    """Return the key bytes of ``secret`` (``whsec_`` optional, padding optional).

    Raises :class:`SigningSecretError` for an empty secret or one that is not
    base64; the message never contains the secret itself.
    """
    text = (secret or "").strip()
    if text.startswith(PREFIX):
        text = text[len(PREFIX):]
    try:
        # As the reference libraries: unpadded base64 is accepted.
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SigningSecretError("the signing secret is not whsec_ followed by base64") from exc
    if not key:
        raise SigningSecretError("the signing secret is empty")
    return key


def signature(secret: str, msg_id: str, timestamp: int, body: bytes | str | None) -> str:
    """Return the ``webhook-signature`` value (``v1,<base64>``) of one message."""
    if body is None:
        body = b""
    elif isinstance(body, str):
        body = body.encode("utf-8")
    content = f"{msg_id}.{int(timestamp)}.".encode() + body
    digest = hmac.new(decode_secret(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def sign(secret: str, msg_id: str, timestamp: int | float | None = None,
         body: bytes | str | None = None) -> dict[str, str]:
    """Return the three Standard Webhooks headers of one attempt.

    ``timestamp`` defaults to now (seconds since the epoch, fractions dropped);
    ``body`` is the exact bytes sent (str is encoded as UTF-8, None is empty).
    """
    if not msg_id:
        raise ValueError("a signed message needs an id")
    stamp = int(time.time() if timestamp is None else timestamp)
    return {
        ID_HEADER: str(msg_id),
        TIMESTAMP_HEADER: str(stamp),
        SIGNATURE_HEADER: signature(secret, str(msg_id), stamp, body),
    }
