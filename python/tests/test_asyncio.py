"""rocketmq.aio: awaitable sends and the async-iterator consumer."""

import asyncio
import threading

import pytest

from rocketmq import aio
from rocketmq import exceptions as exc
from rocketmq.client import Message, SendResult, SendStatus


def _msg(topic, body):
    m = Message(topic)
    m.set_body(body)
    return m


def test_awaitable_send_does_not_block_the_loop(broker, namesrv, topic, unique):
    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        t = asyncio.ensure_future(ticker())
        async with aio.Producer(unique("apg"), namesrv) as p:
            results = await asyncio.gather(*(p.send(_msg(topic, "a%d" % i)) for i in range(50)))
            batch = await p.send_batch([_msg(topic, "b%d" % i) for i in range(5)])
        t.cancel()
        return results, batch, ticks

    results, batch, ticks = asyncio.run(main())
    assert all(isinstance(r, SendResult) and r.status == SendStatus.OK for r in results)
    assert batch.status == SendStatus.OK
    assert ticks > 50, "the loop kept running while sends were in flight"
    assert broker.message_count(topic) == 55


def test_awaitable_send_raises(unique):
    async def main():
        p = aio.Producer(unique("apg"), "127.0.0.1:9", timeout=1000)
        await p.start()
        try:
            await p.send(_msg("AnyTopic", "x"))
        finally:
            await p.close()

    with pytest.raises(exc.ProducerSendAsyncFailed):
        asyncio.run(main())


def test_async_iterator_consumer(broker, namesrv, producer, topic, unique):
    for i in range(10):
        producer.send_sync(_msg(topic, "m%d" % i))
    g = unique("acg")

    async def main():
        got = []
        async with aio.Consumer(g, namesrv, poll_timeout=0.2) as c:
            c.subscribe(topic)
            async for msg in c:
                got.append(msg.body)
                if len(got) == 10:
                    break
            await c.commit()
        return got

    got = asyncio.run(asyncio.wait_for(main(), 30))
    assert sorted(got) == sorted(b"m%d" % i for i in range(10))
    assert sum(broker.committed_offsets(g, topic).values()) == 10


def test_cancelled_get_loses_nothing(namesrv, producer, topic, unique):
    async def main():
        async with aio.Consumer(unique("acg"), namesrv, poll_timeout=0.5) as c:
            c.subscribe(topic)
            with pytest.raises(asyncio.TimeoutError):
                await c.get(timeout=0.1)  # cancels a poll in flight
            threading.Thread(target=producer.send_sync, args=(_msg(topic, "late"),)).start()
            return await c.get(timeout=15)

    msg = asyncio.run(main())
    assert msg.body == b"late"
