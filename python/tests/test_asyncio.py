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


def test_each_awaitable_send_resolves_with_its_own_result(broker, namesrv, topic, unique):
    # Alone (the send starts on the loop's thread) and many at once (the client's threads send
    # them): every result must be that message's, whatever order the answers come back in.
    async def main():
        async with aio.Producer(unique("apg"), namesrv) as p:
            alone = [await p.send(_msg(topic, "s%d" % i)) for i in range(5)]
            together = await asyncio.gather(
                *(p.send(_msg(topic, "c%d" % i)) for i in range(200))
            )
        return alone + together

    results = asyncio.run(asyncio.wait_for(main(), 60))
    bodies = ["s%d" % i for i in range(5)] + ["c%d" % i for i in range(200)]
    stored = {
        (m.queue_id, m.queue_offset): m
        for m in broker.messages(topic, max_count=1024)
    }
    assert len(stored) == 205
    for body, r in zip(bodies, results):
        assert r.status == SendStatus.OK
        m = stored[(r.queue_id, r.offset)]
        assert m.body == body.encode() and m.id == r.msg_id


def test_close_lets_sends_in_flight_end(broker, namesrv, topic, unique):
    async def main():
        p = aio.Producer(unique("apg"), namesrv)
        await p.start()
        sends = [asyncio.ensure_future(p.send(_msg(topic, "f%d" % i))) for i in range(50)]
        await asyncio.sleep(0)  # every send handed to the client
        await p.close()
        return await asyncio.gather(*sends)

    results = asyncio.run(asyncio.wait_for(main(), 60))
    assert all(r.status == SendStatus.OK for r in results)
    assert broker.message_count(topic) == 50


def test_a_cancelled_send_leaves_the_others_working(broker, namesrv, topic, unique):
    async def main():
        async with aio.Producer(unique("apg"), namesrv) as p:
            first = asyncio.ensure_future(p.send(_msg(topic, "cancelled")))
            await asyncio.sleep(0)
            first.cancel()
            later = await asyncio.gather(*(p.send(_msg(topic, "l%d" % i)) for i in range(20)))
            with pytest.raises(asyncio.CancelledError):
                await first
            return later

    later = asyncio.run(asyncio.wait_for(main(), 60))
    assert [r.status for r in later] == [SendStatus.OK] * 20


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
