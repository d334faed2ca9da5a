"""Rank-0 logging: in distributed training every process runs the same script, and only one
of them should make a run. A process whose rank is not 0 gets a run that logs nothing
(`TRK_LOG_ALL_RANKS=1` lets every rank log)."""

from __future__ import annotations

import logging

from trk import settings

log = logging.getLogger("trk.tracking")
_said = False


def logs_here() -> bool:
    """Whether this process logs runs: rank 0, no rank at all, or every rank asked for."""
    rank = settings.distributed_rank()
    if rank in (None, 0) or settings.log_all_ranks():
        return True
    global _said
    if not _said:
        _said = True
        log.info(
            "trk: rank %s is not rank 0, so its runs log nothing (TRK_LOG_ALL_RANKS=1 to log "
            "from every rank)",
            rank,
        )
    return False
