"""TransactionMQProducer: local transactions, broker checks, and the callback contract."""

import logging
import threading

import pytest

from conftest import wait_until
from rocketmq import exceptions as exc
from rocketmq.client import (
    Message,
    SendResult,
    SendStatus,
    TransactionMQProducer,
    TransactionStatus,
)


def _msg(topic, body):
    m = Message(topic)
    m.set_keys("tx")
    m.set_body(body)
    return m


@pytest.fixture
def tx_producer(namesrv, unique):
    made = []

    def make(checker):
        p = TransactionMQProducer(unique("tpg"), checker)
        p.set_name_server_address(namesrv)
        p.start()
        made.append(p)
        return p

    yield make
    for p in made:
        p.shutdown()


def _bodies(broker, topic):
    return sorted(m.body for m in broker.messages(topic))


def test_commit_is_visible_and_rollback_is_not(broker, topic, tx_producer):
    p = tx_producer(lambda m: TransactionStatus.ROLLBACK)
    seen = []

    def local(msg, user_args):
        seen.append((msg.body, user_args, threading.current_thread() is threading.main_thread()))
        return TransactionStatus.COMMIT if msg.body == b"commit" else TransactionStatus.ROLLBACK

    args = {"order": 42}  # any Python object, passed as is
    r1 = p.send_message_in_transaction(_msg(topic, "commit"), local, args)
    r2 = p.send_message_in_transaction(_msg(topic, "rollback"), local, args)
    assert isinstance(r1, SendResult) and r1.status == SendStatus.OK
    assert r2.status == SendStatus.OK
    assert seen == [(b"commit", args, True), (b"rollback", args, True)]
    wait_until(lambda: _bodies(broker, topic) == [b"commit"], what="the committed message")


def test_local_execute_sees_the_half_message(broker, topic, tx_producer):
    p = tx_producer(lambda m: TransactionStatus.ROLLBACK)
    got = []

    def local(msg, _):
        got.append(msg)
        return TransactionStatus.COMMIT

    r = p.send_message_in_transaction(_msg(topic, "x"), local)
    msg = got[0]
    assert msg.topic == topic and msg.body.decode() == "x" and msg.keys == b"x"[:0] + b"tx"
    assert msg.id == r.msg_id
    assert msg.get_property("TRAN_MSG") == b"true"


def test_unknown_is_checked_by_the_checker(broker, topic, tx_producer):
    checked = threading.Event()
    check_bodies = []

    def check(msg):
        check_bodies.append(msg.body.decode("utf-8"))
        checked.set()
        return TransactionStatus.COMMIT

    p = tx_producer(check)
    p.send_message_in_transaction(_msg(topic, "XXXX"), lambda m, a: TransactionStatus.UNKNOWN)
    assert checked.wait(20), "the broker checks an UNKNOWN transaction"
    assert set(check_bodies) == {"XXXX"}


def test_a_checkers_commit_becomes_visible(broker, topic, tx_producer):
    p = tx_producer(lambda msg: TransactionStatus.COMMIT)
    p.send_message_in_transaction(_msg(topic, "XXXX"), lambda m, a: TransactionStatus.UNKNOWN)
    wait_until(lambda: _bodies(broker, topic) == [b"XXXX"], timeout=10, what="the checked commit")


@pytest.mark.parametrize("bad", ["raise", "none"])
def test_bad_local_execute_leaves_it_unknown_and_logs(broker, topic, tx_producer, bad, caplog):
    caplog.set_level(logging.ERROR, logger="rocketmq")
    checked = threading.Event()

    def check(msg):
        checked.set()
        return TransactionStatus.ROLLBACK

    def local(msg, args):
        if bad == "raise":
            raise ValueError("local transaction bug")
        return None

    p = tx_producer(check)
    r = p.send_message_in_transaction(_msg(topic, "x"), local)
    assert r.status == SendStatus.OK
    assert checked.wait(20), "UNKNOWN: the broker asks the checker"
    assert any("transaction stays UNKNOWN" in rec.getMessage() for rec in caplog.records)
    assert broker.message_count(topic) == 0


def test_a_raising_checker_is_logged_and_asked_again(broker, topic, tx_producer, caplog):
    caplog.set_level(logging.ERROR, logger="rocketmq")
    calls = []

    def check(msg):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("checker bug")
        return TransactionStatus.COMMIT

    p = tx_producer(check)
    p.send_message_in_transaction(_msg(topic, "y"), lambda m, a: TransactionStatus.UNKNOWN)
    wait_until(lambda: len(calls) >= 2, timeout=20, what="a second check")
    assert any("transaction checker" in rec.getMessage() for rec in caplog.records)
    wait_until(lambda: _bodies(broker, topic) == [b"y"], what="the commit of the second check")


def test_plain_sends_work_on_a_transaction_producer(broker, topic, tx_producer):
    p = tx_producer(lambda m: TransactionStatus.COMMIT)
    assert p.send_sync(_msg(topic, "plain")).status == SendStatus.OK
    assert broker.message_count(topic) == 1


def test_send_in_transaction_before_start(topic):
    p = TransactionMQProducer("tx_never_started", lambda m: TransactionStatus.COMMIT)
    with pytest.raises(exc.ProducerSendTransactionFailed, match="start"):
        p.send_message_in_transaction(_msg(topic, "z"), lambda m, a: TransactionStatus.COMMIT)


def test_constructor_keywords_land_in_the_right_place():
    p = TransactionMQProducer("tx_kw", lambda m: TransactionStatus.COMMIT, None, 1500, 4, 2048)
    assert p._options["send_timeout_ms"] == 1500
    assert p._options["compress_level"] == 4
    assert p._options["max_message_size"] == 2048
    assert p._orderly is False
