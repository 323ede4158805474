"""rocketmq-rs for Python: the rocketmq-client-python API (``rocketmq.client``) on a Rust core,
with an embedded broker for tests (``rocketmq.broker``) and an asyncio API (``rocketmq.aio``).

No system library, no $HOME/logs: the core's log records go to the ``logging`` logger
``"rocketmq.core"`` (WARNING and above unless ``set_core_log_level`` says otherwise), the
binding's own to ``"rocketmq"``.
"""

import logging
from typing import Union

from ._native import __version__

__all__ = ["__version__", "set_core_log_level"]


def set_core_log_level(level: Union[int, str]) -> None:
    """Forward the core's log events at or above ``level`` (``logging.DEBUG``, ``"INFO"``, ...)
    to the logger ``"rocketmq.core"``."""
    from . import _native

    if isinstance(level, str):
        level = logging.getLevelName(level.upper())
        if not isinstance(level, int):
            raise ValueError("unknown logging level %r" % (level,))
    _native.set_log_level(max(0, min(int(level), 255)))
