"""asyncio API: awaitable sends and an async-iterator consumer.

::

    from rocketmq.aio import Producer, Consumer
    from rocketmq.client import Message

    async with Producer("pg", namesrv_addr=addr) as p:
        result = await p.send(Message("orders"))

    async with Consumer("cg", namesrv_addr=addr) as c:
        c.subscribe("orders")          # before start, or at any time
        async for msg in c:            # ReceivedMessage
            handle(msg)

Sends complete on the client's threads and resolve the awaiting future through the event
loop; nothing blocks the loop. The consumer is a ``PullConsumer`` in subscribe mode: offsets
of the messages it yielded are committed every few seconds and on ``close()`` (or at once with
``await c.commit()``), so a message is redelivered only if the process dies before that.
"""

import asyncio
import functools
from typing import Any, AsyncIterator, Callable, List, Optional, Sequence, Union

from . import client
from .client import Message, MessageModel, MessageSelector, SendResult

__all__ = ["Producer", "Consumer"]


class Producer:
    """An asyncio producer. Settings are those of ``rocketmq.client.Producer``; use its setters
    through ``sync`` (``p.sync.set_timeout(1000)``) or the keyword arguments here."""

    def __init__(
        self,
        group_id: str,
        namesrv_addr: Optional[str] = None,
        *,
        timeout: Optional[int] = None,
        compress_level: Optional[int] = None,
        max_message_size: Optional[int] = None,
    ) -> None:
        self.sync = client.Producer(
            group_id,
            timeout=timeout,
            compress_level=compress_level,
            max_message_size=max_message_size,
        )
        if namesrv_addr is not None:
            self.sync.set_name_server_address(namesrv_addr)

    async def _blocking(self, fn: Callable, *args) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(fn, *args))

    async def start(self) -> None:
        await self._blocking(self.sync.start)

    async def close(self) -> None:
        await self._blocking(self.sync.shutdown)

    shutdown = close

    async def __aenter__(self) -> "Producer":
        await self.start()
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        await self.close()

    async def send(self, msg: Message) -> SendResult:
        """Sends and resolves with the ``SendResult`` (or raises ``ProducerSendAsyncFailed``)."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()  # type: asyncio.Future

        def settle(result: Optional[SendResult], exc: Optional[BaseException]) -> None:
            if fut.cancelled():
                return
            if exc is not None:
                fut.set_exception(exc)
            else:
                fut.set_result(result)

        def on_success(result: SendResult) -> None:
            _call_soon(loop, settle, result, None)

        def on_exception(exc: BaseException) -> None:
            _call_soon(loop, settle, None, exc)

        self.sync.send_async(msg, on_success, on_exception)
        return await fut

    async def send_batch(self, msgs: Sequence[Message]) -> SendResult:
        return await self._blocking(self.sync.send_batch, list(msgs))

    async def send_orderly_with_sharding_key(self, msg: Message, sharding_key: str) -> SendResult:
        return await self._blocking(self.sync.send_orderly_with_sharding_key, msg, sharding_key)

    async def send_oneway(self, msg: Message) -> None:
        await self._blocking(self.sync.send_oneway, msg)


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Callable, *args) -> None:
    try:
        loop.call_soon_threadsafe(fn, *args)
    except RuntimeError:
        # The loop is closed: nobody is waiting any more.
        pass


class Consumer:
    """An asyncio consumer: ``async for msg in consumer``.

    :param poll_timeout: how long one poll waits on a client thread for messages, in seconds.
    """

    def __init__(
        self,
        group_id: str,
        namesrv_addr: Optional[str] = None,
        *,
        message_model: MessageModel = MessageModel.CLUSTERING,
        poll_timeout: float = 1.0,
    ) -> None:
        self.sync = client.PullConsumer(group_id, message_model)
        if namesrv_addr is not None:
            self.sync.set_name_server_address(namesrv_addr)
        self._poll_timeout = poll_timeout
        self._buffer = []  # type: List[Any]
        # A poll still running when its awaiting task was cancelled: its messages are the next
        # ones yielded, never dropped.
        self._pending = None  # type: Optional[asyncio.Future]

    def subscribe(self, topic: str, expression: Union[str, MessageSelector] = "*") -> None:
        self.sync.subscribe(topic, expression)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.sync.start)

    async def close(self) -> None:
        """Commits what was yielded and stops."""
        loop = asyncio.get_running_loop()
        if self._pending is not None:
            try:
                await asyncio.shield(self._pending)
            except Exception:  # noqa: BLE001 - closing anyway
                pass
        await loop.run_in_executor(None, self.sync.shutdown)

    shutdown = close

    async def commit(self) -> None:
        """Commits the offsets of everything yielded so far, now."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.sync.commit)

    async def __aenter__(self) -> "Consumer":
        await self.start()
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        await self.close()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        while not self._buffer:
            self._buffer = await self._poll()
        return self._buffer.pop(0)

    async def _poll(self) -> List[Any]:
        if self._pending is None:
            loop = asyncio.get_running_loop()
            self._pending = loop.run_in_executor(None, self.sync.poll, self._poll_timeout)
        fut = self._pending
        try:
            # Shielded: cancelling the awaiting task leaves the poll's result for the next call.
            msgs = await asyncio.shield(fut)
        finally:
            if fut.done():
                self._pending = None
        return list(msgs)

    async def get(self, timeout: Optional[float] = None) -> Any:
        """The next message; ``asyncio.TimeoutError`` after ``timeout`` seconds."""
        return await asyncio.wait_for(self.__anext__(), timeout)
