"""PushConsumer against the embedded broker: delivery, the callback contract, retries,
consume-from-where, filters, models, ordering and shutdown."""

import logging
import threading
import time

import pytest

from conftest import wait_until
from rocketmq import exceptions as exc
from rocketmq.broker import dlq_topic
from rocketmq.client import (
    ConsumeFromWhere,
    ConsumeStatus,
    Message,
    MessageModel,
    MessageSelector,
    Producer,
    PushConsumer,
    SendStatus,
)
from rocketmq.consts import MessageProperty


def _send(producer, topic, body="XXXX", keys="XXX", tags="XXX", **props):
    msg = Message(topic)
    msg.set_keys(keys)
    msg.set_tags(tags)
    msg.set_body(body)
    msg.set_property("property", "test")
    for k, v in props.items():
        msg.set_property(k, v)
    ret = producer.send_sync(msg)
    assert ret.status == SendStatus.OK
    return ret


def _mine(consumer, topic):
    return [q for q in consumer.assigned_queues() if q.topic == topic]


@pytest.fixture
def consumers(namesrv):
    made = []

    def make(group, orderly=False, model=MessageModel.CLUSTERING, first=True):
        c = PushConsumer(group, orderly, model)
        c.set_name_server_address(namesrv)
        if first:
            c.set_consume_from_where(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET)
        made.append(c)
        return c

    yield make
    for c in made:
        c.shutdown()


def test_push_consumer_types_match_the_original(producer, topic, consumers, unique):
    ret = _send(producer, topic)
    got = []
    done = threading.Event()

    def on_message(msg):
        got.append(msg)
        done.set()
        return ConsumeStatus.CONSUME_SUCCESS

    c = consumers(unique("cg"))
    c.subscribe(topic, on_message)
    c.start()
    assert done.wait(15)
    msg = got[0]
    assert isinstance(msg.topic, str) and msg.topic == topic
    assert isinstance(msg.id, str) and msg.id == ret.msg_id
    assert msg.body.decode("utf-8") == "XXXX"
    assert msg.keys.decode("utf-8") == "XXX"
    assert msg.tags == b"XXX"
    assert msg.get_property("property").decode("utf-8") == "test"
    assert msg["property"] == b"test"
    assert msg.get_property(MessageProperty.KEYS) == b"XXX"
    assert msg.get_property("missing") == b""
    assert str(msg) == "XXXX" and bytes(msg) == b"XXXX"
    assert repr(msg) == "<ReceivedMessage topic=%r id=%r body=%r>" % (topic, ret.msg_id, b"XXXX")
    assert msg.reconsume_times == 0 and msg.delay_time_level == 0
    assert msg.queue_id == ret.queue_id and msg.queue_offset == 0
    assert msg.store_timestamp >= msg.born_timestamp > 0
    assert msg.store_size > 0 and msg.commit_log_offset >= 0
    assert msg.prepared_transaction_offset == 0
    # The message outlives the callback (the original's was a dangling pointer by now).
    time.sleep(0.1)
    assert msg.body == b"XXXX"


def test_offsets_are_committed_to_the_broker(producer, broker, topic, consumers, unique):
    for i in range(8):
        _send(producer, topic, body=str(i))
    n = []
    g = unique("cg")
    c = consumers(g)
    c.subscribe(topic, lambda m: (n.append(m), ConsumeStatus.CONSUME_SUCCESS)[1])
    c.start()
    wait_until(lambda: len(n) == 8, what="8 messages")
    c.shutdown()
    assert sum(broker.committed_offsets(g, topic).values()) == 8


def test_reconsume_later_redelivers(producer, topic, consumers, unique):
    _send(producer, topic)
    seen = []
    done = threading.Event()

    def on_message(msg):
        seen.append(msg.reconsume_times)
        if len(seen) == 1:
            return ConsumeStatus.RECONSUME_LATER
        assert msg.body == b"XXXX" and msg.topic == topic
        done.set()
        return ConsumeStatus.CONSUME_SUCCESS

    c = consumers(unique("cg"))
    c.subscribe(topic, on_message)
    c.start()
    assert done.wait(20)
    assert seen[:2] == [0, 1]


@pytest.mark.parametrize("behaviour", ["raise", "none", "int"])
def test_a_bad_callback_counts_as_reconsume_later_and_is_logged(
    behaviour, producer, topic, consumers, unique, caplog
):
    caplog.set_level(logging.ERROR, logger="rocketmq")
    _send(producer, topic)
    calls = []
    done = threading.Event()

    def on_message(msg):
        calls.append(msg.reconsume_times)
        if len(calls) > 1:
            done.set()
            return ConsumeStatus.CONSUME_SUCCESS
        if behaviour == "raise":
            raise RuntimeError("bug in the callback")
        if behaviour == "none":
            return None
        return 0  # an int, not a ConsumeStatus

    c = consumers(unique("cg"))
    c.subscribe(topic, on_message)
    c.start()
    # Redelivery goes through the retry topic with delay level 3 (10 s): leave room for a loaded machine.
    assert done.wait(60), "redelivered after the bad result"
    assert calls[1] == 1
    wait_until(
        lambda: any("consumed again later" in r.getMessage() for r in caplog.records),
        what="the log record",
    )
    if behaviour == "raise":
        assert any(r.exc_info and "bug in the callback" in str(r.exc_info[1])
                   for r in caplog.records)


def test_max_reconsume_times_sends_to_the_dead_letter_queue(
    producer, broker, topic, consumers, unique
):
    _send(producer, topic)
    g = unique("cg")
    calls = []
    c = consumers(g)
    c.set_max_reconsume_times(2)
    c.subscribe(topic, lambda m: (calls.append(m.reconsume_times), ConsumeStatus.RECONSUME_LATER)[1])
    c.start()
    wait_until(lambda: broker.message_count(dlq_topic(g)) == 1, timeout=30, what="the DLQ message")
    assert calls == [0, 1, 2]
    dead = broker.messages(dlq_topic(g))[0]
    assert dead.body == b"XXXX"


def test_each_subscription_gets_its_own_callback(producer, broker, consumers, unique):
    t1, t2 = unique("T"), unique("T")
    broker.create_topic(t1)
    broker.create_topic(t2)
    _send(producer, t1, body="one")
    _send(producer, t2, body="two")
    got1, got2 = [], []
    c = consumers(unique("cg"))
    c.subscribe(t1, lambda m: (got1.append(m.body), ConsumeStatus.CONSUME_SUCCESS)[1])
    c.subscribe(t2, lambda m: (got2.append(m.body), ConsumeStatus.CONSUME_SUCCESS)[1])
    c.start()
    wait_until(lambda: got1 and got2, what="both topics")
    assert got1 == [b"one"] and got2 == [b"two"]


def test_start_without_subscription_fails():
    consumer = PushConsumer("testGroup")
    consumer.set_name_server_address("127.0.0.1:9876")
    with pytest.raises(exc.PushConsumerStartFailed):
        consumer.start()


def test_a_new_group_reads_a_young_queue_from_its_start(producer, topic, consumers, unique):
    """RocketMQ's rule, kept by the broker: while a queue still starts at offset 0, a group
    without an offset reads it from 0 whatever consume-from-where says."""
    _send(producer, topic, body="old")
    got = []
    c = consumers(unique("cg"), first=False)  # the default: CONSUME_FROM_LAST_OFFSET
    c.subscribe(topic, lambda m: (got.append(m.body), ConsumeStatus.CONSUME_SUCCESS)[1])
    c.start()
    _send(producer, topic, body="new")
    wait_until(lambda: len(got) == 2, what="both messages")


def test_consume_from_where_settings(unique):
    c = PushConsumer(unique("cg"))
    c.set_consume_from_where(ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET)
    c.set_consume_from_where(ConsumeFromWhere.CONSUME_FROM_TIMESTAMP, time.time() - 60)
    import datetime

    c.set_consume_from_where(ConsumeFromWhere.CONSUME_FROM_TIMESTAMP, datetime.datetime.now())
    with pytest.raises(exc.IllegalArgument):
        c.set_consume_from_where(ConsumeFromWhere.CONSUME_FROM_TIMESTAMP)
    with pytest.raises(ValueError):
        c.set_consume_from_where(7)


def test_tag_expression_filters(producer, topic, consumers, unique):
    for tag in ["TagA", "TagB", "TagC"]:
        _send(producer, topic, body=tag, tags=tag)
    got = []
    c = consumers(unique("cg"))
    c.subscribe(topic, lambda m: (got.append(m.body), ConsumeStatus.CONSUME_SUCCESS)[1],
                "TagA || TagC")
    c.start()
    wait_until(lambda: len(got) == 2, what="two messages")
    time.sleep(0.3)
    assert sorted(got) == [b"TagA", b"TagC"]


def test_sql92_selector_filters_on_properties(producer, topic, consumers, unique):
    for i in range(10):
        _send(producer, topic, body=str(i), a=str(i))
    got = []
    c = consumers(unique("cg"))
    c.subscribe(topic, lambda m: (got.append(int(m.body)), ConsumeStatus.CONSUME_SUCCESS)[1],
                MessageSelector.by_sql("a >= 7"))
    c.start()
    wait_until(lambda: len(got) == 3, what="three messages")
    time.sleep(0.3)
    assert sorted(got) == [7, 8, 9]


def test_broadcasting_delivers_to_every_consumer(producer, topic, consumers, unique, tmp_path):
    g = unique("cg")
    got = {0: [], 1: []}
    for i in (0, 1):
        c = consumers(g, model=MessageModel.BROADCASTING)
        c.set_offset_store_dir(tmp_path)
        c.subscribe(topic, lambda m, i=i: (got[i].append(m.body), ConsumeStatus.CONSUME_SUCCESS)[1])
        c.start()
    for i in range(4):
        _send(producer, topic, body=str(i))
    wait_until(lambda: len(got[0]) == 4 and len(got[1]) == 4, what="both consumers")


def test_clustering_shares_the_queues(producer, topic, consumers, unique):
    g = unique("cg")
    got = {0: [], 1: []}
    cs = []
    for i in (0, 1):
        c = consumers(g)
        c.subscribe(topic, lambda m, i=i: (got[i].append(m.body), ConsumeStatus.CONSUME_SUCCESS)[1])
        c.start()
        cs.append(c)
    wait_until(
        lambda: sorted(len(_mine(c, topic)) for c in cs) == [2, 2],
        what="two queues each",
    )
    for i in range(20):
        _send(producer, topic, body=str(i))
    wait_until(lambda: len(got[0]) + len(got[1]) >= 20, what="20 messages")
    assert sorted(got[0] + got[1], key=int) == [str(i).encode() for i in range(20)]


def test_orderly_consumer_keeps_per_key_order(namesrv, topic, consumers, unique):
    p = Producer(unique("pg"), orderly=True)
    p.set_name_server_address(namesrv)
    with p:
        for i in range(30):
            m = Message(topic)
            key = "k%d" % (i % 3)
            m.set_body("%s:%d" % (key, i))
            p.send_orderly_with_sharding_key(m, key)
    got = {}
    lock = threading.Lock()

    def on_message(msg):
        key, n = msg.body.decode().split(":")
        with lock:
            got.setdefault(key, []).append(int(n))
        return ConsumeStatus.CONSUME_SUCCESS

    c = consumers(unique("cg"), orderly=True)
    c.subscribe(topic, on_message)
    c.start()
    wait_until(lambda: sum(len(v) for v in got.values()) == 30, what="30 messages")
    for key, ns in got.items():
        assert ns == sorted(ns), key


def test_batch_max_size_still_calls_back_per_message(producer, topic, consumers, unique):
    for i in range(10):
        _send(producer, topic, body=str(i))
    got = []
    c = consumers(unique("cg"))
    c.set_message_batch_max_size(4)
    c.set_thread_count(2)
    c.subscribe(topic, lambda m: (got.append(m.body), ConsumeStatus.CONSUME_SUCCESS)[1])
    c.start()
    wait_until(lambda: len(got) == 10, what="10 messages")

def test_messages_kept_from_batched_deliveries_outlive_the_consumer(
    producer, topic, consumers, unique
):
    # A consumed message shares its delivery with the consumer instead of being copied: each
    # kept message must still be itself after the consumer let go of the delivery, retried
    # ones included.
    for i in range(12):
        _send(producer, topic, body="b%d" % i, keys="k%d" % i)
    kept = []
    done = set()
    lock = threading.Lock()

    def on_message(msg):
        with lock:
            kept.append(msg)
            # b5 fails once: its delivery goes back to the broker and comes again (with the
            # messages consumed before it in that delivery, as in the original).
            if msg.body == b"b5" and msg.reconsume_times == 0:
                return ConsumeStatus.RECONSUME_LATER
            done.add(msg.body)
        return ConsumeStatus.CONSUME_SUCCESS

    c = consumers(unique("cg"))
    c.set_message_batch_max_size(4)
    c.subscribe(topic, on_message)
    c.start()
    wait_until(lambda: len(done) == 12, what="12 messages consumed")
    c.shutdown()
    assert {m.body for m in kept} == {b"b%d" % i for i in range(12)}
    for m in kept:
        n = int(m.body[1:])
        assert m.keys == b"k%d" % n and m.topic == topic and str(m) == "b%d" % n
    retried = [m for m in kept if m.body == b"b5"]
    assert sorted(m.reconsume_times for m in retried) == [0, 1]


def test_a_consume_thread_keeps_its_python_thread_state(producer, topic, consumers, unique):
    # One thread state per consume thread for its whole life (not one per callback): what a
    # callback keeps in a threading.local is there in the next callback on that thread.
    for i in range(5):
        _send(producer, topic, body=str(i))
    local = threading.local()
    seen = []

    def on_message(msg):
        local.calls = getattr(local, "calls", 0) + 1
        seen.append((threading.get_ident(), local.calls))
        return ConsumeStatus.CONSUME_SUCCESS

    c = consumers(unique("cg"))
    c.set_thread_count(1)
    c.subscribe(topic, on_message)
    c.start()
    wait_until(lambda: len(seen) >= 5, what="5 messages")
    assert len({ident for ident, _ in seen}) == 1
    assert [calls for _, calls in seen] == list(range(1, len(seen) + 1))


def test_suspend_and_resume(producer, topic, consumers, unique):
    got = []
    c = consumers(unique("cg"))
    c.subscribe(topic, lambda m: (got.append(m.body), ConsumeStatus.CONSUME_SUCCESS)[1])
    c.start()
    wait_until(lambda: len(_mine(c, topic)) == 4, what="the queues")
    c.suspend()
    time.sleep(0.2)
    c.resume()
    _send(producer, topic, body="after-resume")
    wait_until(lambda: got == [b"after-resume"], timeout=30, what="the message after resume")


def test_shutdown_waits_for_running_callbacks(producer, topic, unique, namesrv):
    _send(producer, topic)
    started, finished = threading.Event(), threading.Event()
    after_shutdown = []
    stopping = threading.Event()

    def slow(msg):
        if stopping.is_set():
            after_shutdown.append(msg)
        started.set()
        time.sleep(1.0)
        finished.set()
        return ConsumeStatus.CONSUME_SUCCESS

    c = PushConsumer(unique("cg"))
    c.set_name_server_address(namesrv)
    c.set_consume_from_where(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET)
    c.subscribe(topic, slow)
    c.start()
    assert started.wait(15)
    stopping.set()
    c.shutdown()
    assert finished.is_set(), "shutdown returned only after the running callback"
    time.sleep(0.3)
    assert not after_shutdown


def test_consumer_as_context_manager(producer, topic, unique, namesrv):
    got = []
    c = PushConsumer(unique("cg"))
    c.set_name_server_address(namesrv)
    c.set_consume_from_where(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET)
    c.subscribe(topic, lambda m: (got.append(m), ConsumeStatus.CONSUME_SUCCESS)[1])
    _send(producer, topic)
    with c as bound:
        assert bound is c
        wait_until(lambda: got, what="the message")
    assert c.assigned_queues() == []


def test_a_callback_may_shut_its_own_consumer_down(producer, topic, unique, namesrv, caplog):
    # The core joins every consume thread but the caller's: no wait for itself.
    _send(producer, topic)
    took = []
    c = PushConsumer(unique("cg"))
    c.shutdown_timeout = 60.0

    def stop_here(msg):
        t = time.monotonic()
        c.shutdown()
        took.append(time.monotonic() - t)
        return ConsumeStatus.CONSUME_SUCCESS

    c.set_name_server_address(namesrv)
    c.set_consume_from_where(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET)
    c.subscribe(topic, stop_here)
    with caplog.at_level(logging.WARNING, logger="rocketmq"):
        c.start()
        wait_until(lambda: took, what="shutdown inside the callback to return")
    assert took[0] < 30.0
    assert "still running" not in caplog.text


def test_store_size_is_the_stored_record_size(broker, topic, unique, namesrv, consumers):
    # A compressed body: the stored record is smaller than the body the callback sees.
    p = Producer(unique("pg"), compress_level=5)
    p.set_name_server_address(namesrv)
    p.start()
    try:
        body = b"z" * 20000
        m = Message(topic)
        m.set_body(body)
        p.send_sync(m)
    finally:
        p.shutdown()
    got = []
    c = consumers(unique("cg"))
    c.subscribe(topic, lambda m: (got.append(m), ConsumeStatus.CONSUME_SUCCESS)[1])
    c.start()
    wait_until(lambda: got, what="the message")
    stored = broker.messages(topic)
    assert len(stored) == 1 and got[0].body == body
    assert got[0].store_size == stored[0].store_size < len(body)
