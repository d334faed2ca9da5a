"""How deliveries behave: which endpoints may be called, timeouts, retries, bounds."""

from __future__ import annotations

from dataclasses import dataclass, field

from trk import settings
from trk.webhooks.targets import AllowList


@dataclass(frozen=True)
class DeliveryPolicy:
    """Defaults follow MLflow where it has one (retries, backoff cap); the rest keep a
    registry write free of delivery costs and a short CLI process quick to exit."""

    allow: AllowList = field(default_factory=AllowList)
    timeout_s: float = 10.0  # per socket operation; an attempt ends by twice this
    max_attempts: int = 4  # the first try and 3 retries, as MLflow
    backoff_s: float = 1.0  # 1s, 2s, 4s, ... between attempts
    max_backoff_s: float = 60.0
    # A receiver's Retry-After is honoured up to this: it delays a retry, and a delivery that
    # waits longer mostly waits out the process (a CLI command flushes for flush_s).
    max_retry_after_s: float = 30.0
    queue_size: int = 1000  # events beyond this are dropped (and logged), never waited for
    workers: int = 4  # concurrent deliveries, so one hanging receiver does not stall the rest
    flush_s: float = 10.0  # how long a finishing process waits for pending deliveries
    keep: int = 100  # delivery records kept per webhook
    max_webhooks: int = 100  # per store (a server: --max-webhooks); each event fans out to all

    @classmethod
    def from_settings(cls) -> DeliveryPolicy:
        """From `TRK_WEBHOOK_ALLOW_HOSTS`, `TRK_MAX_WEBHOOKS` and the `TRK_WEBHOOK_*` numbers."""
        n = settings.webhook_number
        return cls(
            allow=AllowList.parse(settings.webhook_allow_hosts()),
            timeout_s=n("TRK_WEBHOOK_TIMEOUT_SECONDS", cls.timeout_s),
            max_attempts=max(1, int(n("TRK_WEBHOOK_MAX_ATTEMPTS", cls.max_attempts))),
            backoff_s=n("TRK_WEBHOOK_BACKOFF_SECONDS", cls.backoff_s),
            flush_s=n("TRK_WEBHOOK_FLUSH_SECONDS", cls.flush_s),
            max_webhooks=int(n(settings.MAX_WEBHOOKS_ENV, cls.max_webhooks)),
        )

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        wait = self.backoff_s * 2.0 ** (attempt - 1)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_retry_after_s))
        return min(wait, self.max_backoff_s)
