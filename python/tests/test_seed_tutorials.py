"""The Python snippets of the seed tutorial (shared/seeds/004_*.txt, "python操作 RocketMQ"), run as
written except for the name server address, each in its own interpreter.

The consumer and transaction snippets end in ``while True: time.sleep(3600)``: they are stopped
with SIGINT (Ctrl-C) once they have shown what they do, which also checks that Ctrl-C
interrupts the sleep while client threads run and that the interpreter then exits.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

from rocketmq.broker import Broker
from rocketmq.pytest_plugin import TEST_BROKER_PROPERTIES

PRODUCER = '''
from rocketmq.client import Producer, Message

producer = Producer('PID-XXX')
producer.set_name_server_address('127.0.0.1:9876')
producer.start()

msg = Message('TEST-EVAN-TOPIC')
msg.set_keys('EVAN2')
msg.set_tags('EVAN2')
msg.set_body('{test:1231}}')
msg.set_property("name","test")
ret = producer.send_sync(msg)
print(ret.status, ret.msg_id, ret.offset)
producer.shutdown()
'''

CONSUMER = '''

import time

from rocketmq.client import PushConsumer, ConsumeStatus


def callback(msg):
    print(msg.id, msg.body)
    return ConsumeStatus.CONSUME_SUCCESS


consumer = PushConsumer('CID_XXX')
consumer.set_name_server_address('127.0.0.1:9876')
consumer.subscribe('TEST-EVAN-TOPIC', callback)
consumer.start()

while True:
    time.sleep(3600)

consumer.shutdown()
'''

DELAY_PRODUCER = '''
from rocketmq.client import Producer, Message

producer = Producer('PID-XXX')
producer.set_name_server_address('127.0.0.1:9876')
producer.start()

msg = Message('TEST-EVAN-TOPIC')
msg.set_keys('EVAN2')
"""
1: "1s", 2: "5s", 3: "10s", 4: "30s", 5: "1m", 6: "2m", 7: "3m", 8: "4m", 
9: "5m", 10: "6m", 11: "7m", 12: "8m",13: "9m", 14: "10m", 15: "20m", 16: "30m", 
17: "1h", 18: "2h",
"""  # 不同时间对应的不同编号
msg.set_delay_time_level(1)   

msg.set_tags('EVAN22')
msg.set_property("name", "test")
msg.set_body('{test2:12314}}')
ret = producer.send_sync(msg)
print(ret.status, ret.msg_id, ret.offset)
producer.shutdown()
'''

TRANSACTION_PRODUCER = '''
#!/usr/bin/env python
# -*- coding: utf-8 -*-
# @time : 2021/11/10
# @desc : ...
import time

from rocketmq.client import TransactionMQProducer, Message, TransactionStatus


def check_callback(msg):
    # todo mac 电脑测试回查事件并未触发
    """
    roocketmq服务消息回查, 自己的本地逻辑
    回查的回调函数只会在 local_execute() 返回UNKNOWN,或者没有返回的时候执行
   
    :param msg:
    :return:
    """
    # TransactionStatus.COMMIT,TransactionStatus.UNKNOWN,TransactionStatus.ROLLBACK
    print("服务消息回查:", msg.body.decode(), ) 
    return TransactionStatus.COMMIT


def local_execute(msg, user_args):
    """
    发送消息的时候,执行的回调; 执行自己的本地逻辑
    :param msg:
    :param user_args:
    :return:
    """
    # TransactionStatus.COMMIT,TransactionStatus.UNKNOWN,TransactionStatus.ROLLBACK
    print("发送消息回调,执行本地逻辑:", msg.body.decode(), )
    return TransactionStatus.UNKNOWN


producer = TransactionMQProducer('PID-XXX', checker_callback=check_callback)
producer.set_name_server_address('127.0.0.1:9876')
producer.start()

msg = Message('TEST-EVAN-TOPIC')
msg.set_keys('EVAN2')
msg.set_tags('EVAN22')
msg.set_property("name", "test")
msg.set_body('-事务消息--')
ret = producer.send_message_in_transaction(msg, local_execute, None)
print(ret.status, ret.msg_id, ret.offset)
print("事务消息发送成功")
while True:
    time.sleep(3600)
producer.shutdown()

'''

TOPIC = "TEST-EVAN-TOPIC"


@pytest.fixture(scope="module")
def seed_broker():
    # The tutorial's delay levels (level 1 = 1 s); transaction checks every second.
    with Broker(properties=TEST_BROKER_PROPERTIES) as b:
        yield b


def _source(snippet, broker):
    assert "'127.0.0.1:9876'" in snippet
    return snippet.replace("'127.0.0.1:9876'", repr(broker.namesrv_addr))


def _env():
    # Unbuffered, so the parent sees each print as it happens; UTF-8 for the Chinese text.
    return dict(os.environ, PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")


def _run(snippet, broker):
    out = subprocess.run(
        [sys.executable, "-c", _source(snippet, broker)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        env=_env(),
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def _run_until(snippet, broker, wanted, timeout=30.0, then=lambda: True):
    """Runs a never-ending snippet until its output has every string of ``wanted`` and
    ``then()`` holds, then presses Ctrl-C; returns (output, seconds from Ctrl-C to exit)."""
    p = subprocess.Popen(
        [sys.executable, "-c", _source(snippet, broker)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=_env(),
    )
    lines = []
    deadline = time.monotonic() + timeout
    try:
        while not all(any(w in line for line in lines) for w in wanted):
            if time.monotonic() > deadline:
                pytest.fail("snippet output %r lacks %r" % (lines, wanted))
            line = p.stdout.readline()
            if not line:
                pytest.fail("snippet ended early: %s" % p.stderr.read())
            lines.append(line)
        while not then():
            if time.monotonic() > deadline:
                pytest.fail("snippet output %r, but the condition never held" % (lines,))
            time.sleep(0.05)
        interrupted = time.monotonic()
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
        took = time.monotonic() - interrupted
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert "KeyboardInterrupt" in err, err
    return "".join(lines), took


def _status_line(out):
    status, msg_id, offset = out.strip().splitlines()[-1].split()
    assert status in ("SendStatus.OK", "0"), status
    assert len(msg_id) == 32
    return msg_id, int(offset)


def test_seed_producer_then_consumer(seed_broker):
    msg_id, offset = _status_line(_run(PRODUCER, seed_broker))
    assert offset == 0
    out, took = _run_until(CONSUMER, seed_broker, [msg_id])
    assert "%s b'{test:1231}}'" % msg_id in out
    assert took < 10, "Ctrl-C ends the sleeping consumer promptly"


def test_seed_delay_producer(seed_broker):
    before = seed_broker.message_count(TOPIC)
    sent = time.time()
    _status_line(_run(DELAY_PRODUCER, seed_broker))
    deadline = time.time() + 15
    while seed_broker.message_count(TOPIC) == before and time.time() < deadline:
        time.sleep(0.05)
    assert seed_broker.message_count(TOPIC) == before + 1
    assert time.time() - sent >= 1.0, "delay level 1 is one second"
    delivered = [m for m in seed_broker.messages(TOPIC, max_count=100)
                 if m.body == b"{test2:12314}}"]
    assert delivered and delivered[0].tags == b"EVAN22"


def test_seed_transaction_producer(seed_broker):
    def committed():
        return [m for m in seed_broker.messages(TOPIC, max_count=100)
                if m.body == "-事务消息--".encode()]

    out, took = _run_until(
        TRANSACTION_PRODUCER,
        seed_broker,
        ["发送消息回调,执行本地逻辑: -事务消息--", "事务消息发送成功", "服务消息回查: -事务消息--"],
        then=committed,
    )
    status, msg_id, offset = out.splitlines()[1].split()
    assert status in ("SendStatus.OK", "0") and len(msg_id) == 32
    assert committed()[0].tags == b"EVAN22", "the checker's COMMIT made it visible"
    assert took < 10, "Ctrl-C ends the sleeping producer promptly"
