"""rocketmq-rs for Python: the rocketmq-client-python API (``rocketmq.client``) on a Rust core,
with an embedded broker for tests (``rocketmq.broker``) and an asyncio API (``rocketmq.aio``).

No system library, no $HOME/logs: logs go to the ``logging`` logger ``"rocketmq"``.
"""

from ._native import __version__

__all__ = ["__version__"]
