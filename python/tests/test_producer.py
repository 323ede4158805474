"""Producer against the embedded broker: every send mode, settings and errors."""

import http.server
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import wait_until
from rocketmq import exceptions as exc
from rocketmq.broker import Broker
from rocketmq.client import Message, MessageQueue, Producer, SendResult, SendStatus
from rocketmq.consts import MessageProperty


def _msg(topic, body="XXXX", keys="send_sync", tags="XXX"):
    m = Message(topic)
    m.set_keys(keys)
    m.set_tags(tags)
    m.set_body(body)
    return m


def test_send_sync_stores_the_message_intact(producer, broker, topic):
    m = _msg(topic, body=b"hello\0binary\xff")
    m.set_property("property", "test")
    ret = producer.send_sync(m)
    assert isinstance(ret, SendResult)
    assert ret.status == SendStatus.OK and ret.status is SendStatus.OK
    assert isinstance(ret.msg_id, str) and len(ret.msg_id) == 32
    assert ret.offset == 0
    stored = broker.messages(topic, ret.queue_id)
    assert len(stored) == 1
    s = stored[0]
    assert s.body == b"hello\0binary\xff", "NUL bytes do not cut the body"
    assert s.keys == b"send_sync" and s.tags == b"XXX"
    assert s.get_property("property") == b"test"
    assert s.id == ret.msg_id
    assert s.offset_msg_id == ret.offset_msg_id


def test_send_sync_from_many_threads(producer, broker, topic):
    with ThreadPoolExecutor(max_workers=5) as pool:
        results = list(pool.map(lambda i: producer.send_sync(_msg(topic, body=str(i))), range(50)))
    assert all(r.status == SendStatus.OK for r in results)
    assert len({r.msg_id for r in results}) == 50
    assert broker.message_count(topic) == 50


def test_send_oneway(producer, broker, topic):
    assert producer.send_oneway(_msg(topic)) is None
    wait_until(lambda: broker.message_count(topic) == 1, what="the oneway message")


def test_send_orderly_with_sharding_key_keeps_a_key_on_one_queue(broker, namesrv, topic):
    p = Producer("orderly_producer_group", True)
    p.set_name_server_address(namesrv)
    p.start()
    try:
        queues = {key: set() for key in ["order1", "order2", "order3"]}
        for i in range(30):
            key = "order%d" % (i % 3 + 1)
            m = _msg(topic, body="%s-%d" % (key, i))
            m.set_property("property", "test")
            ret = p.send_orderly_with_sharding_key(m, key)
            assert ret.status == SendStatus.OK
            queues[key].add(ret.queue_id)
        assert all(len(q) == 1 for q in queues.values())
        for key, (qid,) in queues.items():
            bodies = [m.body.decode() for m in broker.messages(topic, qid, max_count=100)
                      if m.body.decode().startswith(key + "-")]
            assert bodies == sorted(bodies, key=lambda b: int(b.split("-")[1]))
            stored = broker.messages(topic, qid, max_count=1)[0]
            assert stored.get_property("__SHARDINGKEY") in (b"order1", b"order2", b"order3")
    finally:
        p.shutdown()


def test_send_batch_lands_in_one_queue_with_consecutive_offsets(producer, broker, topic):
    msgs = [_msg(topic, body="b%d" % i) for i in range(10)]
    ret = producer.send_batch(msgs)
    assert ret.status == SendStatus.OK
    assert len(ret.msg_id.split(",")) == 10
    stored = broker.messages(topic, ret.queue_id, max_count=100)
    assert [m.body for m in stored] == [b"b%d" % i for i in range(10)]
    assert [m.queue_offset for m in stored] == list(range(10))


def test_send_async_calls_on_success(producer, broker, topic):
    done = threading.Event()
    results, errors = [], []

    def ok(r):
        results.append((r, threading.current_thread().name))
        if len(results) == 20:
            done.set()

    for i in range(20):
        producer.send_async(_msg(topic, body=str(i)), ok, errors.append)
    assert done.wait(15)
    assert not errors
    assert all(isinstance(r, SendResult) and r.status == SendStatus.OK for r, _ in results)
    assert all(name != threading.main_thread().name for _, name in results)
    assert broker.message_count(topic) == 20


def test_send_async_calls_on_exception(unique):
    # A name server nobody listens on: the route lookup fails in the background.
    p = Producer(unique("pg"))
    p.set_name_server_address("127.0.0.1:9")
    p.set_timeout(1000)
    p.start()
    try:
        got = []
        done = threading.Event()
        p.send_async(_msg("AnyTopic"), lambda r: None, lambda e: (got.append(e), done.set()))
        assert done.wait(15)
        assert isinstance(got[0], exc.ProducerSendAsyncFailed)
        assert isinstance(got[0], (exc.NetworkError, exc.RequestTimeout, exc.RouteNotFound))
        assert str(got[0])
    finally:
        p.shutdown()


def test_send_async_callback_errors_are_logged(producer, topic, caplog):
    done = threading.Event()

    def boom(r):
        done.set()
        raise RuntimeError("callback bug")

    producer.send_async(_msg(topic), boom, None)
    assert done.wait(10)
    wait_until(lambda: any("send_async callback raised" in r.message for r in caplog.records),
               what="the log record")


def test_large_bodies_are_compressed_and_come_back_whole(producer, broker, topic):
    body = (b"0123456789abcdef" * 8192)  # 128 KiB, compressible
    ret = producer.send_sync(_msg(topic, body=body))
    stored = broker.messages(topic, ret.queue_id)[0]
    assert stored.sys_flag & 0x1, "stored compressed"
    assert zlib.decompress(stored.body) == body


def test_max_message_size_refuses_before_the_wire(namesrv, topic, unique):
    p = Producer(unique("pg"), max_message_size=1024)
    p.set_name_server_address(namesrv)
    with p:
        with pytest.raises(exc.ProducerSendSyncFailed) as e:
            p.send_sync(_msg(topic, body=b"x" * 2048))
        assert isinstance(e.value, exc.IllegalArgument)
        assert isinstance(e.value, ValueError)


def test_empty_body_is_an_illegal_argument(producer, topic):
    with pytest.raises(exc.IllegalArgument, match="empty"):
        producer.send_sync(Message(topic))


def test_send_before_start_says_start_first(topic):
    p = Producer("never_started")
    with pytest.raises(exc.ProducerSendSyncFailed, match="start"):
        p.send_sync(_msg(topic))
    with pytest.raises(exc.ClientStateError):
        p.send_oneway(_msg(topic))
    p.shutdown()  # harmless


def test_settings_are_validated(unique):
    p = Producer(unique("pg"))
    with pytest.raises(exc.IllegalArgument):
        p.set_compress_level(11)
    with pytest.raises(ValueError):
        p.set_timeout(0)
    p.set_timeout(1000)
    p.set_compress_level(9)
    p.set_max_message_size(1 << 20)
    p.set_instance_name("inst")
    p.set_session_credentials("ak", "sk", "ALIYUN")
    p.set_message_trace(False)


def test_unknown_topic_without_auto_create_is_route_not_found(unique):
    with Broker(properties={"autoCreateTopicEnable": False}) as b:
        p = Producer(unique("pg"), timeout=2000)
        p.set_name_server_address(b.namesrv_addr)
        with p:
            with pytest.raises(exc.ProducerSendSyncFailed) as e:
                p.send_sync(_msg("NoSuchTopic"))
            assert isinstance(e.value, exc.RouteNotFound)
            assert "NoSuchTopic" in str(e.value)


def test_delay_time_level_delivers_later(producer, broker, topic):
    m = _msg(topic)
    m.set_delay_time_level(1)  # 100 ms on the test broker
    producer.send_sync(m)
    assert broker.message_count(topic) == 0
    wait_until(lambda: broker.message_count(topic) == 1, what="the delayed message")
    stored = broker.messages(topic)[0]
    assert stored.store_timestamp - stored.born_timestamp >= 100
    # Like Java's broker, delivery clears the delay level.
    assert stored.get_property(MessageProperty.DELAY_TIME_LEVEL) == b""


def test_deliver_time_delivers_at_that_time(producer, broker, topic):
    m = _msg(topic, body="timed")
    at = time.time() + 1.0
    m.set_deliver_time(at)
    assert m.get_property("TIMER_DELIVER_MS") == str(int(at * 1000))
    assert producer.send_sync(m).status == SendStatus.OK
    assert broker.message_count(topic) == 0
    wait_until(lambda: broker.message_count(topic) == 1, what="the timed message")
    assert time.time() >= at - 0.05
    assert broker.messages(topic)[0].body == b"timed"


def test_set_delay_takes_any_duration(producer, broker, topic):
    m = _msg(topic)
    m.set_delay(0.3)
    sent = time.time()
    producer.send_sync(m)
    wait_until(lambda: broker.message_count(topic) == 1, what="the delayed message")
    assert time.time() - sent >= 0.25


def test_send_to_queue_and_publish_queues(producer, broker, topic):
    queues = producer.fetch_publish_queues(topic)
    assert sorted(q.queue_id for q in queues) == [0, 1, 2, 3]
    assert all(isinstance(q, MessageQueue) and q.topic == topic for q in queues)
    ret = producer.send_to_queue(_msg(topic), queues[2])
    assert ret.queue_id == queues[2].queue_id
    assert broker.offsets(topic)[queues[2].queue_id] == (0, 1)


def test_name_server_domain_is_looked_up_at_start(namesrv, topic, unique):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            assert self.path == "/rocketmq/nsaddr"
            body = namesrv.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        p = Producer(unique("pg"))
        p.set_name_server_domain("http://127.0.0.1:%d/rocketmq/nsaddr" % server.server_port)
        with p:
            assert p.send_sync(_msg(topic)).status == SendStatus.OK
    finally:
        server.shutdown()


def test_two_producers_in_one_process_have_distinct_client_ids(namesrv, unique):
    a, b = Producer(unique("pg")), Producer(unique("pg"))
    for p in (a, b):
        p.set_name_server_address(namesrv)
        p.start()
    try:
        assert a.client_id != b.client_id
    finally:
        a.shutdown()
        b.shutdown()
