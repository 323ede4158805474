"""PullConsumer: the generator over a topic with broker-kept offsets, and subscribe/poll."""

import time

import pytest

from conftest import wait_until
from rocketmq import exceptions as exc
from rocketmq.client import Message, MessageQueue, PullConsumer, PullStatus


def _send(producer, topic, n, prefix="m"):
    for i in range(n):
        m = Message(topic)
        m.set_body("%s%d" % (prefix, i))
        m.set_tags("even" if i % 2 == 0 else "odd")
        producer.send_sync(m)


@pytest.fixture
def pull_consumer(namesrv, unique):
    made = []

    def make(group=None):
        c = PullConsumer(group or unique("pcg"))
        c.set_name_server_address(namesrv)
        made.append(c)
        return c

    yield make
    for c in made:
        c.shutdown()


def test_pull_reads_everything_once_with_offsets_on_the_broker(
    producer, broker, topic, pull_consumer, unique
):
    _send(producer, topic, 12)
    g = unique("pcg")
    c = pull_consumer(g)
    c.start()
    got = [m.body for m in c.pull(topic)]
    assert sorted(got) == sorted(b"m%d" % i for i in range(12))
    assert sum(broker.committed_offsets(g, topic).values()) == 12
    assert list(c.pull(topic)) == [], "nothing new"
    _send(producer, topic, 3, prefix="n")
    assert sorted(m.body for m in c.pull(topic)) == [b"n0", b"n1", b"n2"]
    c.shutdown()
    # Another consumer of the group continues where the group is.
    c2 = pull_consumer(g)
    c2.start()
    assert list(c2.pull(topic)) == []


def test_pull_filters_by_tag(producer, topic, pull_consumer):
    _send(producer, topic, 10)
    c = pull_consumer()
    c.start()
    got = sorted(m.body for m in c.pull(topic, "even"))
    assert got == sorted(b"m%d" % i for i in range(0, 10, 2))


def test_queue_offsets_and_single_pulls(producer, topic, pull_consumer):
    _send(producer, topic, 8)
    c = pull_consumer()
    with c:
        queues = c.fetch_subscription_message_queues(topic)
        assert len(queues) == 4 and all(isinstance(q, MessageQueue) for q in queues)
        q = max(queues, key=lambda q: len(list(c.pull_queue(q, 0).messages)))
        # A group without an offset on a queue that still starts at 0 is told 0 (RocketMQ).
        assert c.get_message_queue_offset(q) in (-1, 0)
        r = c.pull_queue(q, 0, max_num=1)
        assert r.status is PullStatus.FOUND and len(r.messages) == 1
        assert r.next_begin_offset == 1 and r.min_offset == 0 and r.max_offset >= 1
        c.set_message_queue_offset(q, 1)
        assert c.get_message_queue_offset(q) == 1
        empty = c.pull_queue(q, r.max_offset)
        assert empty.status is PullStatus.NO_NEW_MSG and empty.messages == []


def test_subscribe_and_poll(producer, broker, topic, pull_consumer, unique):
    g = unique("pcg")
    c = pull_consumer(g)
    c.subscribe(topic)
    c.set_auto_commit(False)
    c.start()
    _send(producer, topic, 6)
    got = []
    deadline = time.monotonic() + 15
    while len(got) < 6 and time.monotonic() < deadline:
        got.extend(c.poll(0.5))
    assert sorted(m.body for m in got) == sorted(b"m%d" % i for i in range(6))
    assert c.poll(0.2) == []
    c.commit()
    wait_until(lambda: sum(broker.committed_offsets(g, topic).values()) == 6,
               what="committed offsets")
    assert {q.topic for q in c.assignment()} >= {topic}


def test_seek_rereads(producer, topic, pull_consumer):
    _send(producer, topic, 4)
    c = pull_consumer()
    queues = None
    c.start()
    queues = c.fetch_subscription_message_queues(topic)
    c.assign(queues)
    got = []
    deadline = time.monotonic() + 15
    while len(got) < 4 and time.monotonic() < deadline:
        got.extend(c.poll(0.5))
    q = MessageQueue(got[0].topic, got[0].broker_name, got[0].queue_id)
    c.seek_to_begin(q)
    again = []
    deadline = time.monotonic() + 15
    while not again and time.monotonic() < deadline:
        again.extend(c.poll(0.5))
    assert again[0].queue_offset == 0 and again[0].queue_id == q.queue_id


def test_poll_before_start_says_start_first(unique):
    c = PullConsumer(unique("pcg"))
    with pytest.raises(exc.PullConsumerPullFailed, match="start"):
        c.poll(0.1)
