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

Sends complete on the client's threads, which queue the outcome and wake the event loop once
for whatever finished meanwhile; the loop resolves the awaiting futures. Nothing blocks the
loop, and no client thread waits for the GIL on the loop's behalf. The consumer is a ``PullConsumer`` in subscribe mode: offsets
of the messages it yielded are committed every few seconds and on ``close()`` (or at once with
``await c.commit()``), so a message is redelivered only if the process dies before that.
"""

import asyncio
import collections
import functools
import itertools
from typing import Any, AsyncIterator, Callable, Deque, Dict, List, Optional, Sequence, Union

from . import _native, client
from .client import Message, MessageModel, MessageSelector, SendResult
from .exceptions import _from_native

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
        # Sends in flight by token, and where their outcomes arrive (one queue per event loop
        # that sent, watched by that loop).
        self._waiting = {}  # type: Dict[int, asyncio.Future]
        self._tokens = itertools.count()
        self._completions = {}  # type: Dict[asyncio.AbstractEventLoop, Any]

    async def _blocking(self, fn: Callable, *args) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(fn, *args))

    async def start(self) -> None:
        await self._blocking(self.sync.start)

    async def close(self) -> None:
        """Lets the sends in flight on this loop end (each does, within the send timeout and
        its retries), then stops."""
        loop = asyncio.get_running_loop()
        in_flight = [f for f in self._waiting.values() if f.get_loop() is loop]
        if in_flight:
            await asyncio.wait(in_flight, timeout=_CLOSE_WAIT_S)
        await self._blocking(self.sync.shutdown)
        completions, self._completions = self._completions, {}
        for owner, c in completions.items():
            _call_on(owner, loop, owner.remove_reader, c.fileno())
        if loop in completions:
            self._resolve(completions[loop])
        # Sends the shutdown left without an outcome fail rather than hang their awaiters.
        waiting, self._waiting = self._waiting, {}
        for fut in waiting.values():
            exc = _from_native("send_async", 2, "the producer was closed before the send ended")
            _call_on(fut.get_loop(), loop, _settle, fut, None, exc)

    shutdown = close

    async def __aenter__(self) -> "Producer":
        await self.start()
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        await self.close()

    async def send(self, msg: Message) -> SendResult:
        """Sends and resolves with the ``SendResult`` (or raises ``ProducerSendAsyncFailed``)."""
        native = self.sync._running("send_async")
        loop = asyncio.get_running_loop()
        completions = self._completions.get(loop)
        if completions is None:
            completions = self._watch(loop)
        token = next(self._tokens)
        fut = loop.create_future()  # type: asyncio.Future
        # Alone, the send is started on this thread (no hand-off before the request leaves);
        # with others in flight, the client's threads send them together.
        start_here = not self._waiting
        self._waiting[token] = fut
        try:
            native.send_async_into(msg._parts(), completions, token, start_here)
        except BaseException:
            del self._waiting[token]
            raise
        return await fut

    def _watch(self, loop: asyncio.AbstractEventLoop) -> Any:
        completions = _native.Completions()
        loop.add_reader(completions.fileno(), self._resolve, completions)
        self._completions[loop] = completions
        return completions

    def _resolve(self, completions: Any) -> None:
        # On the loop's thread, when sends have finished.
        waiting = self._waiting
        for token, result, exc in completions.drain():
            fut = waiting.pop(token, None)
            if fut is not None:
                _settle(fut, result, exc)

    async def send_batch(self, msgs: Sequence[Message]) -> SendResult:
        return await self._blocking(self.sync.send_batch, list(msgs))

    async def send_orderly_with_sharding_key(self, msg: Message, sharding_key: str) -> SendResult:
        return await self._blocking(self.sync.send_orderly_with_sharding_key, msg, sharding_key)

    async def send_oneway(self, msg: Message) -> None:
        await self._blocking(self.sync.send_oneway, msg)


# Most `close()` waits for sends in flight; each ends on its own well before (send timeout 3 s
# by default, and two retries).
_CLOSE_WAIT_S = 60.0


def _call_on(owner: asyncio.AbstractEventLoop, current: asyncio.AbstractEventLoop, fn, *args):
    """``fn(*args)`` on ``owner``'s thread: now if it is the running loop, else posted to it
    (unless it is closed: nobody is waiting there any more)."""
    if owner is current:
        fn(*args)
        return
    try:
        owner.call_soon_threadsafe(fn, *args)
    except RuntimeError:  # closed
        pass


def _settle(fut: asyncio.Future, result: Any, exc: Optional[BaseException]) -> None:
    if fut.done():  # cancelled by its awaiter
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(result)


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
        self._buffer = collections.deque()  # type: Deque[Any]
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
            self._buffer.extend(await self._poll())
        return self._buffer.popleft()

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
