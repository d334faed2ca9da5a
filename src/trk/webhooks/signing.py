"""The delivery header contract (MLflow's names) and its HMAC-SHA256 signature.

The signed content is `"<delivery id>.<unix timestamp>.<raw body>"`; the header value is
`v1,<base64 of the HMAC-SHA256 digest>`, so MLflow's documented receiver code verifies it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
VERSION = "v1"


def sign(secret: str, delivery_id: str, timestamp: str, body: str) -> str:
    """The `X-MLflow-Signature` value for one delivery attempt."""
    content = f"{delivery_id}.{timestamp}.{body}".encode()
    digest = hmac.new(secret.encode(), content, hashlib.sha256).digest()
    return f"{VERSION},{base64.b64encode(digest).decode()}"


def verify(secret: str, delivery_id: str, timestamp: str, body: str, signature: str) -> bool:
    """True when `signature` is `sign(...)` of these values (constant-time compare)."""
    return hmac.compare_digest(sign(secret, delivery_id, timestamp, body), signature)
