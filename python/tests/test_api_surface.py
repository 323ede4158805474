"""The names, types, values and signatures of rocketmq-client-python, as its users import them."""

import inspect
from collections import namedtuple

import pytest

import rocketmq
import rocketmq.client as client
import rocketmq.exceptions as exc
from rocketmq.client import (
    ConsumeStatus,
    Message,
    MessageModel,
    Producer,
    PushConsumer,
    ReceivedMessage,
    SendResult,
    SendStatus,
    TransactionMQProducer,
    TransactionStatus,
)
from rocketmq.consts import MessageProperty


def test_all_lists_the_originals_names():
    assert set(client.__all__) == {
        "SendStatus",
        "Message",
        "ReceivedMessage",
        "Producer",
        "PushConsumer",
        "TransactionMQProducer",
        "TransactionStatus",
        "ConsumeStatus",
    }
    for name in ["SendResult", "MessageModel", "TraceModel", "maybe_decode", "_to_bytes", "PY2",
                 "text_type", "binary_type"]:
        assert hasattr(client, name), name
    assert rocketmq.__version__


def test_enum_values():
    assert [(m.name, m.value) for m in SendStatus] == [
        ("OK", 0), ("FLUSH_DISK_TIMEOUT", 1), ("FLUSH_SLAVE_TIMEOUT", 2), ("SLAVE_NOT_AVAILABLE", 3)
    ]
    assert [(m.name, m.value) for m in TransactionStatus] == [
        ("COMMIT", 0), ("ROLLBACK", 1), ("UNKNOWN", 2)
    ]
    assert [(m.name, m.value) for m in ConsumeStatus] == [
        ("CONSUME_SUCCESS", 0), ("RECONSUME_LATER", 1)
    ]
    assert [(m.name, m.value) for m in MessageModel] == [("BROADCASTING", 0), ("CLUSTERING", 1)]
    assert [(m.name, m.value) for m in client.TraceModel] == [("OPEN", 0), ("CLOSE", 1)]
    with pytest.raises(ValueError):
        SendStatus(7)


def test_message_property_values():
    expected = {
        "TRACE_SWITCH": "TRACE_ON", "MSG_REGION": "MSG_REGION", "KEYS": "KEYS", "TAGS": "TAGS",
        "WAIT_STORE_MSG_OK": "WAIT", "DELAY_TIME_LEVEL": "DELAY", "RETRY_TOPIC": "RETRY_TOPIC",
        "REAL_TOPIC": "REAL_TOPIC", "REAL_QUEUE_ID": "REAL_QID",
        "TRANSACTION_PREPARED": "TRAN_MSG", "PRODUCER_GROUP": "PGROUP",
        "MIN_OFFSET": "MIN_OFFSET", "MAX_OFFSET": "MAX_OFFSET", "BUYER_ID": "BUYER_ID",
        "ORIGIN_MESSAGE_ID": "ORIGIN_MESSAGE_ID", "TRANSFER_FLAG": "TRANSFER_FLAG",
        "CORRECTION_FLAG": "CORRECTION_FLAG", "MQ2_FLAG": "MQ2_FLAG",
        "RECONSUME_TIME": "RECONSUME_TIME", "UNIQ_CLIENT_MESSAGE_ID_KEYIDX": "UNIQ_KEY",
        "MAX_RECONSUME_TIMES": "MAX_RECONSUME_TIMES",
        "CONSUME_START_TIMESTAMP": "CONSUME_START_TIME",
    }
    assert {m.name: m.value for m in MessageProperty} == expected


def test_send_result_is_the_originals_namedtuple():
    r = SendResult(SendStatus.OK, "ID", 7)
    status, msg_id, offset = r
    assert (status, msg_id, offset) == (SendStatus.OK, "ID", 7)
    assert r._fields == ("status", "msg_id", "offset")
    assert isinstance(r, tuple) and r == (0, "ID", 7)


def test_signatures():
    def params(f):
        return [(p.name, p.default) for p in inspect.signature(f).parameters.values()]

    empty = inspect.Parameter.empty
    assert params(Producer.__init__) == [
        ("self", empty), ("group_id", empty), ("orderly", False), ("timeout", None),
        ("compress_level", None), ("max_message_size", None),
    ]
    assert params(TransactionMQProducer.__init__) == [
        ("self", empty), ("group_id", empty), ("checker_callback", empty), ("user_args", None),
        ("timeout", None), ("compress_level", None), ("max_message_size", None),
    ]
    assert params(PushConsumer.__init__) == [
        ("self", empty), ("group_id", empty), ("orderly", False),
        ("message_model", MessageModel.CLUSTERING),
    ]
    assert params(PushConsumer.subscribe)[:4] == [
        ("self", empty), ("topic", empty), ("callback", empty), ("expression", "*")
    ]
    assert params(TransactionMQProducer.send_message_in_transaction) == [
        ("self", empty), ("message", empty), ("local_execute", empty), ("user_args", None)
    ]
    for name in ["send_sync", "send_oneway", "send_orderly_with_sharding_key", "set_group",
                 "set_instance_name", "set_name_server_address", "set_name_server_domain",
                 "set_session_credentials", "set_timeout", "set_compress_level",
                 "set_max_message_size", "set_message_trace", "start", "shutdown",
                 "send_async", "send_batch"]:
        assert callable(getattr(Producer, name)), name
    for name in ["set_message_model", "start", "shutdown", "set_group",
                 "set_name_server_address", "set_name_server_domain",
                 "set_session_credentials", "subscribe", "set_thread_count",
                 "set_message_batch_max_size", "set_instance_name", "set_message_trace",
                 "set_consume_from_where", "set_max_reconsume_times"]:
        assert callable(getattr(PushConsumer, name)), name


def test_exception_hierarchy():
    assert issubclass(exc.RocketMQException, Exception)
    for cls in [exc.NullPointerException, exc.MallocFailed, exc.ProducerException,
                exc.ConsumerException]:
        assert cls.__bases__ == (exc.RocketMQException,)
    for cls in [exc.ProducerStartFailed, exc.ProducerSendSyncFailed,
                exc.ProducerSendOnewayFailed, exc.ProducerSendOrderlyFailed,
                exc.ProducerSendAsyncFailed]:
        assert cls.__bases__ == (exc.ProducerException,)
    assert exc.PushConsumerStartFailed.__bases__ == (exc.ConsumerException,)
    e = exc.ProducerSendAsyncFailed("m", 1, "f", 2, "t")
    assert (str(e), e.error, e.file, e.line, e.type) == ("m", 1, "f", 2, "t")


def test_native_errors_are_both_operation_and_kind():
    e = exc._from_native("send_sync", 3, "no route for topic 'x'")
    assert isinstance(e, exc.ProducerSendSyncFailed)
    assert isinstance(e, exc.RouteNotFound)
    assert type(e).__name__ == "ProducerSendSyncFailed"
    assert e.kind == 3 and e.code is None
    t = exc._from_native("send_sync", 4, "slow")
    assert isinstance(t, TimeoutError) and isinstance(t, exc.RequestTimeout)
    i = exc._from_native("producer", 1, "bad")
    assert isinstance(i, ValueError)
    import pickle

    back = pickle.loads(pickle.dumps(e))
    assert type(back) is type(e) and str(back) == str(e)


def test_message_setters_and_getters():
    m = Message("T")
    m.set_keys("k1 k2")
    m.set_tags(b"TagA")
    m.set_body("héllo")
    m.set_property("a", "1")
    m.set_delay_time_level(3)
    assert m.topic == "T" and m.keys == "k1 k2" and m.tags == "TagA"
    assert m.body == "héllo".encode()
    assert m.get_property("a") == "1" and m.get_property(MessageProperty.DELAY_TIME_LEVEL) == "3"
    m.set_keys(["x", "y"])
    assert m.keys == "x y"
    m.set_body(b"a\0b")
    assert m.body == b"a\0b"
    with pytest.raises(TypeError):
        Message(3)


def test_helpers():
    assert client._to_bytes("é") == "é".encode()
    assert client._to_bytes(b"x") == b"x"
    assert client.maybe_decode(b"x") == "x" and client.maybe_decode("x") == "x"
    with pytest.raises(TypeError):
        client.maybe_decode(None)


def test_received_message_is_the_native_class():
    assert ReceivedMessage.__module__ == "rocketmq.client"
    assert ReceivedMessage.__name__ == "ReceivedMessage"


def test_context_manager_returns_self(namesrv):
    # not started: no name server; the with statement itself must raise clearly
    with pytest.raises(exc.ProducerStartFailed, match="set_name_server_address"):
        with Producer("ctx_group"):
            pass
    p = Producer("ctx_group")
    p.set_name_server_address(namesrv)
    with p as bound:
        assert bound is p


def test_stubs_and_marker_ship_with_the_package():
    import os

    pkg = os.path.dirname(rocketmq.__file__)
    assert os.path.exists(os.path.join(pkg, "py.typed"))
    assert os.path.exists(os.path.join(pkg, "_native.pyi"))


def test_native_stubs_match_the_extension():
    """Every public name of `rocketmq._native` is in `_native.pyi` and vice versa, class by
    class and member by member."""
    import ast
    import os

    from rocketmq import _native

    path = os.path.join(os.path.dirname(rocketmq.__file__), "_native.pyi")
    tree = ast.parse(open(path, encoding="utf-8").read())
    stubbed = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            stubbed[node.name] = {
                n.name for n in node.body
                if isinstance(n, ast.FunctionDef) and (not n.name.startswith("_") or n.name in (
                    "__getitem__", "__bytes__"))
            }
        elif isinstance(node, ast.FunctionDef):
            stubbed[node.name] = None
    actual = {}
    for name in dir(_native):
        if name.startswith("_"):
            continue
        obj = getattr(_native, name)
        if isinstance(obj, type):
            actual[name] = {
                m for m in dir(obj)
                if not m.startswith("_") or m in ("__getitem__", "__bytes__")
            }
        elif callable(obj):
            actual[name] = None
    assert set(stubbed) == set(actual)
    for name, members in actual.items():
        if members is not None:
            assert stubbed[name] == members - {"__init__"}, name
