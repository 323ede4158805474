"""The rocketmq-client-python API, name for name, on the rocketmq-rs core.

Code written for ``rocketmq-client-python`` 2.x runs unchanged::

    from rocketmq.client import Producer, Message

    producer = Producer('PID-XXX')
    producer.set_name_server_address('127.0.0.1:9876')
    producer.start()
    msg = Message('TEST-TOPIC')
    msg.set_keys('KEY')
    msg.set_tags('TAG')
    msg.set_body('{"hello": 1}')
    ret = producer.send_sync(msg)
    print(ret.status, ret.msg_id, ret.offset)
    producer.shutdown()

What differs, on purpose (each fixes a complaint about the original):

* ``with Producer(...) as p`` binds the producer (the original bound ``None``).
* Bodies are bytes with a length: a NUL byte does not cut them.
* ``ReceivedMessage`` owns its data: keeping it after the callback is safe.
* A callback that raises or returns something other than a ``ConsumeStatus`` /
  ``TransactionStatus`` counts as ``RECONSUME_LATER`` / ``UNKNOWN`` and is logged through the
  ``logging`` logger ``"rocketmq"`` (the original handed C++ an undefined value).
* Each ``subscribe`` callback gets its own topic's messages (the original's last callback got
  every topic's).
* Blocking calls release the GIL and Ctrl-C interrupts them; shutdown waits for running
  callbacks; everything still running is shut down at interpreter exit.
* No files under ``$HOME``: logs go to ``logging``.

And what the original lacked: ``send_async``, ``send_batch``, ``PullConsumer``, consume-from-where
and max reconsume times on ``PushConsumer``, SQL92 selectors (``MessageSelector.by_sql``),
delivery at a given time (``Message.set_deliver_time``), and an asyncio API (``rocketmq.aio``).
"""

import logging
import os
import urllib.request
from collections import namedtuple
from enum import IntEnum
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Union,
)

from . import _lifecycle
from . import _native
from .exceptions import IllegalArgument, _from_native

__all__ = [
    "SendStatus",
    "Message",
    "ReceivedMessage",
    "Producer",
    "PushConsumer",
    "TransactionMQProducer",
    "TransactionStatus",
    "ConsumeStatus",
]

# Names the original made importable from here without listing them in __all__.
PY2 = False
text_type = str
binary_type = bytes

_log = logging.getLogger("rocketmq")


def _to_bytes(s: Union[str, bytes, bytearray, memoryview]) -> bytes:
    if isinstance(s, str):
        return s.encode("utf-8")
    return bytes(s)


def maybe_decode(val: Union[str, bytes]) -> str:
    if isinstance(val, bytes):
        return val.decode("utf-8")
    if isinstance(val, str):
        return val
    raise TypeError("Expects string types, but got %s" % type(val))


def _text(name: str, value: Union[str, bytes]) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8")
    raise TypeError("%s must be str or bytes, not %s" % (name, type(value).__name__))


# --- Results and enums (the original's names and values) -------------------------------------


class SendStatus(IntEnum):
    OK = 0
    FLUSH_DISK_TIMEOUT = 1
    FLUSH_SLAVE_TIMEOUT = 2
    SLAVE_NOT_AVAILABLE = 3


class TransactionStatus(IntEnum):
    COMMIT = 0
    ROLLBACK = 1
    UNKNOWN = 2


class ConsumeStatus(IntEnum):
    CONSUME_SUCCESS = 0
    RECONSUME_LATER = 1


class MessageModel(IntEnum):
    BROADCASTING = 0
    CLUSTERING = 1


class TraceModel(IntEnum):
    OPEN = 0
    CLOSE = 1


class ConsumeFromWhere(IntEnum):
    """Where a group starts on a queue it has no committed offset for."""

    CONSUME_FROM_LAST_OFFSET = 0
    CONSUME_FROM_FIRST_OFFSET = 1
    CONSUME_FROM_TIMESTAMP = 2


class PullStatus(IntEnum):
    FOUND = 0
    NO_NEW_MSG = 1
    NO_MATCHED_MSG = 2
    OFFSET_ILLEGAL = 3


_SendResultBase = namedtuple("SendResult", ["status", "msg_id", "offset"])


class SendResult(_SendResultBase):
    """``(status, msg_id, offset)`` as in the original: ``offset`` is the queue offset.

    Also (not part of the tuple): ``offset_msg_id``, ``queue_id``, ``broker_name`` and
    ``transaction_id``.
    """

    def __new__(
        cls,
        status,
        msg_id,
        offset,
        offset_msg_id=None,
        queue_id=None,
        broker_name=None,
        transaction_id=None,
    ):
        self = super().__new__(cls, status, msg_id, offset)
        self.offset_msg_id = offset_msg_id
        self.queue_id = queue_id
        self.broker_name = broker_name
        self.transaction_id = transaction_id
        return self


# Sends return SendResults built by the native layer (once per send, cheaper there than here);
# it takes the SendStatus members by number (0..3, in order).
_SEND_STATUSES = list(SendStatus)
assert all(s.value == i for i, s in enumerate(_SEND_STATUSES))
_native.set_send_result_type(SendResult, _SEND_STATUSES)


MessageQueue = namedtuple("MessageQueue", ["topic", "broker_name", "queue_id"])
MessageQueue.__doc__ = "A queue of a topic on a broker."

PullResult = namedtuple(
    "PullResult", ["status", "next_begin_offset", "min_offset", "max_offset", "messages"]
)
PullResult.__doc__ = "What one ``PullConsumer.pull_queue`` found."


class MessageSelector:
    """A subscription filter: by tag (``"*"``, ``"TagA || TagB"``) or by an SQL92 expression
    over message properties (``"a > 5 AND color = 'red'"``; the broker needs
    ``enablePropertyFilter=true``). Pass it where a tag expression is expected."""

    __slots__ = ("expression", "sql")

    def __init__(self, expression: str, sql: bool = False) -> None:
        self.expression = expression
        self.sql = sql

    @classmethod
    def by_tag(cls, expression: str = "*") -> "MessageSelector":
        return cls(expression, False)

    @classmethod
    def by_sql(cls, expression: str) -> "MessageSelector":
        return cls(expression, True)

    def __repr__(self) -> str:
        return "MessageSelector.%s(%r)" % ("by_sql" if self.sql else "by_tag", self.expression)


def _selector(expression: Union[str, bytes, MessageSelector]):
    if isinstance(expression, MessageSelector):
        return expression.expression, expression.sql
    return _text("expression", expression), False


# --- Messages ---------------------------------------------------------------------------------


class Message:
    """A message to send."""

    __slots__ = ("_topic", "_body", "_properties", "_flag")

    def __init__(self, topic: Union[str, bytes]) -> None:
        # Once per send: the common case (str) without a call.
        self._topic = topic if type(topic) is str else _text("topic", topic)
        self._body = b""
        self._properties = {}  # type: Dict[str, str]
        self._flag = 0

    def set_keys(self, keys: Union[str, bytes, Iterable[str]]) -> None:
        """Business keys the broker indexes: one string (spaces separate keys) or a list."""
        if isinstance(keys, (str, bytes, bytearray)):
            self._properties["KEYS"] = _text("keys", keys)
        else:
            self._properties["KEYS"] = " ".join(_text("key", k) for k in keys)

    def set_tags(self, tags: Union[str, bytes]) -> None:
        self._properties["TAGS"] = _text("tags", tags)

    def set_body(self, body: Union[str, bytes, bytearray, memoryview]) -> None:
        """``str`` is sent as UTF-8; bytes are sent as they are, NUL bytes included."""
        self._body = body if type(body) is bytes else _to_bytes(body)

    def set_property(self, key: Union[str, bytes], value: Union[str, bytes]) -> None:
        self._properties[_text("key", key)] = _text("value", value)

    def set_delay_time_level(self, delay_time_level: int) -> None:
        """Deliver after a broker delay level: 1=1s 2=5s 3=10s 4=30s 5=1m ... 18=2h."""
        self._properties["DELAY"] = str(int(delay_time_level))

    # Additions ------------------------------------------------------------------------------

    def set_deliver_time(self, when: Union[float, int, Any]) -> None:
        """Deliver at a given time: a ``datetime`` or seconds since the epoch.

        Sets RocketMQ 5's ``TIMER_DELIVER_MS`` property, which the rocketmq-rs broker (and
        RocketMQ 5 brokers) honour; a RocketMQ 4.x broker delivers such a message at once."""
        if hasattr(when, "timestamp"):
            when = when.timestamp()
        self._properties["TIMER_DELIVER_MS"] = str(int(float(when) * 1000))

    def set_delay(self, seconds: float) -> None:
        """Deliver after ``seconds`` (any duration, unlike delay levels): RocketMQ 5's
        ``TIMER_DELAY_MS`` property, as for ``set_deliver_time``."""
        self._properties["TIMER_DELAY_MS"] = str(int(float(seconds) * 1000))

    def set_flag(self, flag: int) -> None:
        """The user flag, stored as is."""
        self._flag = int(flag)

    @property
    def topic(self) -> str:
        return self._topic

    @property
    def body(self) -> bytes:
        return self._body

    @property
    def keys(self) -> str:
        return self._properties.get("KEYS", "")

    @property
    def tags(self) -> str:
        return self._properties.get("TAGS", "")

    @property
    def flag(self) -> int:
        return self._flag

    @property
    def properties(self) -> Dict[str, str]:
        return dict(self._properties)

    def get_property(self, key: Union[str, bytes, Any]) -> Optional[str]:
        key = getattr(key, "value", key)
        return self._properties.get(_text("key", key))

    def _parts(self):
        return (self._topic, self._body, self._properties, self._flag)

    def __repr__(self) -> str:
        return "<Message topic=%r tags=%r keys=%r body=%r>" % (
            self._topic,
            self.tags,
            self.keys,
            self._body,
        )


ReceivedMessage = _native.ReceivedMessage


# --- Callback contracts ---------------------------------------------------------------------


def _callback_raised(callback: Callable, msg) -> None:
    """Logs the exception a consumer callback raised (called while it is being handled): the
    message counts as ``RECONSUME_LATER``."""
    _log.exception(
        "rocketmq: consumer callback %r raised on message %s of %s; it will be consumed "
        "again later",
        callback,
        msg.id,
        msg.topic,
    )


def _consume_result(callback: Callable, msg, result) -> int:
    """What a consumer callback's `result` other than ``CONSUME_SUCCESS`` counts as: 0 or 1
    (logged unless it is ``RECONSUME_LATER``)."""
    if isinstance(result, ConsumeStatus):
        return int(result)
    _log.error(
        "rocketmq: consumer callback %r returned %r for message %s of %s, not a ConsumeStatus; "
        "it will be consumed again later (return ConsumeStatus.CONSUME_SUCCESS when done)",
        callback,
        result,
        msg.id,
        msg.topic,
    )
    return 1


_CONSUME_SUCCESS = ConsumeStatus.CONSUME_SUCCESS


def _call_transaction(what: str, callback: Callable, *args) -> int:
    """A user transaction callback; anything but a TransactionStatus (including raising) is
    UNKNOWN (the broker asks again later), and logged."""
    try:
        result = callback(*args)
    except BaseException:  # noqa: BLE001
        _log.exception(
            "rocketmq: %s %r raised; the transaction stays UNKNOWN and the broker will check it",
            what,
            callback,
        )
        return TransactionStatus.UNKNOWN
    if isinstance(result, TransactionStatus):
        return int(result)
    _log.error(
        "rocketmq: %s %r returned %r, not a TransactionStatus; the transaction stays UNKNOWN "
        "and the broker will check it",
        what,
        callback,
        result,
    )
    return TransactionStatus.UNKNOWN


def _fetch_name_server_address(domain: str, timeout: float = 3.0) -> str:
    """Name servers from a domain, as RocketMQ's address server serves them
    (``http://<domain>:8080/rocketmq/nsaddr``, or a full URL)."""
    url = domain if "://" in domain else "http://%s:8080/rocketmq/nsaddr" % domain
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.read().decode("utf-8").strip()
    except OSError as e:
        raise _from_native(
            "start_producer",
            6,
            "cannot fetch the name server address from %s: %s; check the domain or use "
            "set_name_server_address" % (url, e),
        ) from None


# --- Shared client plumbing -------------------------------------------------------------------


class _Client:
    """Settings collected before ``start()``, the native client after it."""

    _start_op = "producer"
    _kind = "client"

    def __init__(self, group_id: str) -> None:
        self._group = _text("group_id", group_id)
        self._options = {}  # type: Dict[str, Any]
        self._name_server_domain = None  # type: Optional[str]
        self._native = None  # type: Any

    def _set(self, key: str, value: Any) -> None:
        if self._native is not None:
            _log.warning(
                "rocketmq: %s is set on a started %s; it takes effect at the next start()",
                key,
                self._kind,
            )
        self._options[key] = value

    def _settings(self) -> Dict[str, Any]:
        settings = dict(self._options)
        if settings.get("namesrv_addr") is None and self._name_server_domain:
            settings["namesrv_addr"] = _fetch_name_server_address(self._name_server_domain)
        if settings.get("namesrv_addr") is None and not os.environ.get("NAMESRV_ADDR"):
            raise _from_native(
                self._start_op,
                1,
                "no name server address: call set_name_server_address('host:port') before "
                "start() (or set NAMESRV_ADDR)",
            )
        return settings

    def _running(self, op: str):
        native = self._native
        if native is None:
            raise _from_native(op, 2, "the %s is not started: call start() first" % self._kind)
        return native

    @property
    def client_id(self) -> Optional[str]:
        """``ip@instance``: how brokers know this client (None before start)."""
        return self._native.client_id if self._native is not None else None

    def set_group(self, group_name: str) -> None:
        if self._native is not None:
            _log.warning("rocketmq: set_group on a started %s takes effect at the next start()",
                         self._kind)
        self._group = _text("group_name", group_name)

    def set_instance_name(self, name: str) -> None:
        self._set("instance_name", _text("name", name))

    def set_name_server_address(self, addr: str) -> None:
        """``host:port``, or several as ``host1:port1;host2:port2``."""
        self._set("namesrv_addr", _text("addr", addr))

    def set_name_server_domain(self, domain: str) -> None:
        """Look the name servers up at ``start()`` from an address server:
        ``http://<domain>:8080/rocketmq/nsaddr`` (or pass a full URL)."""
        self._name_server_domain = _text("domain", domain)

    def set_session_credentials(self, access_key: str, access_secret: str, channel: str) -> None:
        """ACL credentials signing every request. ``channel`` is accepted for compatibility
        and not sent (RocketMQ's ACL does not use it)."""
        self._set("access_key", _text("access_key", access_key))
        self._set("secret_key", _text("access_secret", access_secret))
        self._channel = channel

    def set_namespace(self, namespace: str) -> None:
        """Topics and groups are sent as ``<namespace>%<name>``."""
        self._set("namespace", _text("namespace", namespace))

    def set_message_trace(self, message_trace: Union[bool, TraceModel]) -> None:
        """Accepted for compatibility; message tracing is not implemented, and asking for it
        is logged."""
        on = message_trace is TraceModel.OPEN or message_trace is True
        if on:
            _log.warning("rocketmq: message trace is not supported by rocketmq-rs; ignored")

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exec_type, value, traceback) -> None:
        self.shutdown()

    def start(self) -> None:
        """Connects to the name server and brokers. Safe to call twice."""
        if self._native is not None:
            return
        native = self._create_native(self._settings())
        native.start()
        self._native = native
        _lifecycle.track_client(self)

    def shutdown(self) -> None:
        """Stops the client: producers unregister and close their connections; consumers
        commit their offsets and wait (up to ``shutdown_timeout`` seconds) for callbacks still
        running. Safe to call twice."""
        native, self._native = self._native, None
        if native is None:
            return
        _lifecycle.forget(self)
        self._shutdown_native(native)

    def __repr__(self) -> str:
        return "<%s group=%r%s %s>" % (
            type(self).__name__,
            self._group,
            self._repr_details(),
            "running" if self._native is not None else "stopped",
        )

    # What the kinds of client do differently.

    def _create_native(self, settings: Dict[str, Any]):  # pragma: no cover - overridden
        """The native client, configured and not started."""
        raise NotImplementedError

    def _shutdown_native(self, native) -> None:
        native.shutdown()

    def _repr_details(self) -> str:
        return ""


# --- Producers --------------------------------------------------------------------------------


class Producer(_Client):
    """A producer. Thread-safe: one producer may send from many threads."""

    _start_op = "start_producer"
    _kind = "producer"

    def __init__(
        self,
        group_id: str,
        orderly: bool = False,
        timeout: Optional[int] = None,
        compress_level: Optional[int] = None,
        max_message_size: Optional[int] = None,
    ) -> None:
        super().__init__(group_id)
        # The C++ core made an orderly producer differ only by a tag; so does this one.
        self._orderly = bool(orderly)
        if timeout is not None:
            self.set_timeout(timeout)
        if compress_level is not None:
            self.set_compress_level(compress_level)
        if max_message_size is not None:
            self.set_max_message_size(max_message_size)

    def _create_native(self, settings: Dict[str, Any]):
        return _native.Producer(self._group, settings)

    # Settings -------------------------------------------------------------------------------

    def set_timeout(self, timeout: int) -> None:
        """Budget of one send, retries included, in milliseconds (default 3000)."""
        timeout = int(timeout)
        if timeout <= 0:
            raise _from_native("producer", 1, "timeout must be a positive number of ms")
        self._set("send_timeout_ms", timeout)

    def set_compress_level(self, level: int) -> None:
        """zlib level 0-9 for bodies over 4 KiB (default 5)."""
        level = int(level)
        if not 0 <= level <= 9:
            raise _from_native("producer", 1, "compress level must be 0-9, not %d" % level)
        self._set("compress_level", level)

    def set_max_message_size(self, max_size: int) -> None:
        """Largest body accepted, in bytes (default 4 MiB, as Java's client)."""
        max_size = int(max_size)
        if max_size <= 0:
            raise _from_native("producer", 1, "max message size must be positive")
        self._set("max_message_size", max_size)

    def set_retry_times(self, times: int) -> None:
        """Extra attempts on other queues/brokers when a send fails (default 2)."""
        self._set("retry_times", int(times))

    # Sending --------------------------------------------------------------------------------

    def send_sync(self, msg: Message) -> SendResult:
        # Once per send: `_running` and `_parts` inlined.
        native = self._native
        if native is None:
            native = self._running("send_sync")
        return native.send_sync((msg._topic, msg._body, msg._properties, msg._flag))

    def send_oneway(self, msg: Message) -> None:
        self._running("send_oneway").send_oneway(msg._parts())

    def send_orderly_with_sharding_key(self, msg: Message, sharding_key: str) -> SendResult:
        """Messages with the same sharding key go to the same queue, in order."""
        native = self._running("send_orderly")
        return native.send_orderly(msg._parts(), _text("sharding_key", sharding_key))

    def send_batch(self, msgs: Sequence[Message]) -> SendResult:
        """Sends messages of one topic in one request; they land in one queue with
        consecutive offsets. ``msg_id`` lists their ids, comma separated."""
        native = self._running("send_batch")
        return native.send_batch([m._parts() for m in msgs])

    def send_to_queue(self, msg: Message, queue: MessageQueue) -> SendResult:
        """Sends to one given queue (see ``fetch_publish_queues``)."""
        native = self._running("send_sync")
        return native.send_to_queue(msg._parts(), tuple(queue))

    def fetch_publish_queues(self, topic: str) -> List[MessageQueue]:
        return [MessageQueue(*q) for q in self._running("producer").fetch_publish_queues(topic)]

    def send_async(
        self,
        msg: Message,
        on_success: Optional[Callable[[SendResult], Any]],
        on_exception: Optional[Callable[[BaseException], Any]],
    ) -> None:
        """Returns at once; ``on_success(SendResult)`` or ``on_exception(exc)`` runs on a client
        thread when the send completes. Keep them short: they hold up other completions.
        Exceptions they raise are logged."""
        native = self._running("send_async")

        def done(result, exc):
            try:
                if exc is None:
                    if on_success is not None:
                        on_success(result)
                elif on_exception is not None:
                    on_exception(exc)
                else:
                    _log.error("rocketmq: async send of %r failed: %s", msg, exc)
            except BaseException:  # noqa: BLE001
                _log.exception("rocketmq: send_async callback raised")

        native.send_async(msg._parts(), done)


class TransactionMQProducer(Producer):
    """A producer of transactional messages.

    ``checker_callback(msg) -> TransactionStatus`` answers the broker when it asks about a
    transaction left UNKNOWN; it runs on a client thread. (The broker asks after its
    ``transactionTimeOut``, every ``transactionCheckInterval``: a minute by default.)
    """

    def __init__(
        self,
        group_id: str,
        checker_callback: Callable[[Any], TransactionStatus],
        user_args: Any = None,
        timeout: Optional[int] = None,
        compress_level: Optional[int] = None,
        max_message_size: Optional[int] = None,
    ) -> None:
        # Keyword arguments: the original passed these positionally into the wrong slots.
        super().__init__(
            group_id,
            timeout=timeout,
            compress_level=compress_level,
            max_message_size=max_message_size,
        )
        if not callable(checker_callback):
            raise TypeError("checker_callback must be callable")
        self._checker = checker_callback
        self._user_args = user_args

    def _create_native(self, settings: Dict[str, Any]):
        checker = self._checker

        def check(msg) -> int:
            return _call_transaction("transaction checker", checker, msg)

        return _native.TransactionProducer(self._group, settings, check)

    def send_message_in_transaction(
        self,
        message: Message,
        local_execute: Callable[[Any, Any], TransactionStatus],
        user_args: Any = None,
    ) -> SendResult:
        """Sends a half message, runs ``local_execute(msg, user_args)`` on this thread once the
        broker stored it, and commits or rolls back as it answers (UNKNOWN: the checker decides
        later). Returns the half message's ``SendResult``. ``user_args`` arrives as given."""
        native = self._running("send_transaction")

        def local(msg, args) -> int:
            return _call_transaction("local transaction", local_execute, msg, args)

        return native.send_message_in_transaction(message._parts(), local, user_args)


# --- Push consumer ------------------------------------------------------------------------------


class PushConsumer(_Client):
    """Messages are pushed to callbacks registered with ``subscribe``.

    Callbacks run on the consumer's threads (``set_thread_count``, default 20), one message per
    call; they return ``ConsumeStatus.CONSUME_SUCCESS`` when done, anything else (or raising)
    means "again later".
    """

    _start_op = "start_push_consumer"
    _kind = "consumer"

    #: How long ``shutdown()`` waits for callbacks still running, in seconds.
    shutdown_timeout = 30.0

    def __init__(
        self,
        group_id: str,
        orderly: bool = False,
        message_model: MessageModel = MessageModel.CLUSTERING,
    ) -> None:
        super().__init__(group_id)
        self._orderly = bool(orderly)
        self._subscriptions = {}  # type: Dict[str, Any]
        self._callbacks = {}  # type: Dict[str, Callable]
        self.set_message_model(message_model)

    def _repr_details(self) -> str:
        return " topics=%r" % sorted(self._subscriptions)

    def set_message_model(self, model: MessageModel) -> None:
        self._set("message_model", int(MessageModel(model)))

    def set_thread_count(self, thread_count: int) -> None:
        if int(thread_count) < 1:
            raise _from_native("consumer", 1, "thread count must be at least 1")
        self._set("thread_count", int(thread_count))

    def set_message_batch_max_size(self, max_size: int) -> None:
        """Messages handed over at once (default 1). With more than one, the callback still
        gets them one by one, and a failure sends the whole batch back."""
        if int(max_size) < 1:
            raise _from_native("consumer", 1, "batch max size must be at least 1")
        self._set("batch_max_size", int(max_size))

    # Additions ------------------------------------------------------------------------------

    def set_consume_from_where(
        self, where: ConsumeFromWhere, timestamp: Union[None, float, Any] = None
    ) -> None:
        """Where a new group starts: the last offset (default), the first, or a time
        (``timestamp``: a ``datetime`` or seconds since the epoch)."""
        where = ConsumeFromWhere(where)
        self._set("consume_from_where", int(where))
        if timestamp is not None:
            if hasattr(timestamp, "timestamp"):
                timestamp = timestamp.timestamp()
            self._set("consume_timestamp_ms", int(float(timestamp) * 1000))
        elif where is ConsumeFromWhere.CONSUME_FROM_TIMESTAMP:
            raise IllegalArgument("CONSUME_FROM_TIMESTAMP needs a timestamp")

    def set_max_reconsume_times(self, times: int) -> None:
        """Deliveries before a message goes to the dead-letter queue ``%DLQ%<group>``
        (default 16; -1 restores the default)."""
        self._set("max_reconsume_times", int(times))

    def set_pull_batch_size(self, size: int) -> None:
        self._set("pull_batch_size", int(size))

    def set_max_cache_message_count(self, count: int) -> None:
        """Flow control: stop pulling a queue with this many messages waiting (default 1000)."""
        self._set("max_cached_messages_per_queue", int(count))

    def set_suspend_time(self, seconds: float) -> None:
        """Orderly: pause of a queue after RECONSUME_LATER (default 1 s)."""
        self._set("suspend_current_queue_time_ms", int(seconds * 1000))

    def set_offset_store_dir(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Broadcasting: where offsets are kept (default under the temporary directory)."""
        self._set("offset_store_dir", os.fspath(path))

    # Subscriptions -----------------------------------------------------------------------------

    def subscribe(
        self,
        topic: str,
        callback: Callable[[Any], ConsumeStatus],
        expression: Union[str, MessageSelector] = "*",
    ) -> None:
        """Consume ``topic``'s messages matching ``expression`` (a tag expression such as
        ``"TagA || TagB"``, or a ``MessageSelector``) with ``callback``."""
        if not callable(callback):
            raise TypeError("callback must be callable")
        topic = _text("topic", topic)
        expr, sql = _selector(expression)
        self._subscriptions[topic] = (expr, sql)
        self._callbacks[topic] = callback
        native = self._native
        if native is not None:
            native.subscribe(topic, expr, sql)
            native.rebalance_now()

    def unsubscribe(self, topic: str) -> None:
        self._subscriptions.pop(topic, None)
        self._callbacks.pop(topic, None)
        if self._native is not None:
            self._native.unsubscribe(topic)

    def _listener(self) -> Callable:
        callbacks = self._callbacks

        def listener(msgs) -> int:
            # 0 = CONSUME_SUCCESS, 1 = RECONSUME_LATER (plain ints). A callback that raises,
            # or returns anything but a ConsumeStatus, counts as RECONSUME_LATER and is logged.
            # This runs per message: the common case without further calls.
            for msg in msgs:
                cb = callbacks.get(msg.topic)
                if cb is None:
                    _log.error(
                        "rocketmq: no callback for topic %s (unsubscribed?); message %s will be "
                        "consumed again later",
                        msg.topic,
                        msg.id,
                    )
                    return 1
                try:
                    result = cb(msg)
                except BaseException:  # noqa: BLE001 - never take down a consume thread
                    _callback_raised(cb, msg)
                    return 1
                if result is not _CONSUME_SUCCESS and _consume_result(cb, msg, result):
                    return 1
            return 0

        return listener

    def _create_native(self, settings: Dict[str, Any]):
        native = _native.PushConsumer(self._group, settings)
        for topic, (expr, sql) in self._subscriptions.items():
            native.subscribe(topic, expr, sql)
        if self._callbacks:
            native.set_listener(self._listener(), self._orderly)
        return native

    def _shutdown_native(self, native) -> None:
        if not native.shutdown(self.shutdown_timeout):
            _log.warning(
                "rocketmq: consumer %s shut down while callbacks were still running after %.0f s",
                self._group,
                self.shutdown_timeout,
            )

    def suspend(self) -> None:
        """Stops fetching new messages until ``resume()``."""
        self._running("consumer").suspend()

    def resume(self) -> None:
        self._running("consumer").resume()

    def assigned_queues(self) -> List[MessageQueue]:
        """The queues this consumer reads now (after rebalancing with its group)."""
        native = self._native
        return [MessageQueue(*q) for q in native.assigned_queues()] if native else []

    def persist_offsets(self) -> None:
        """Commits consumed offsets to the broker now (otherwise every 5 s and at shutdown)."""
        self._running("consumer").persist_offsets()


# --- Pull consumer ------------------------------------------------------------------------------


class PullConsumer(_Client):
    """Reads messages when asked, with offsets kept on the broker for the group.

    Two ways to use it:

    * ``pull(topic)``: a generator over every queue of the topic from the group's committed
      offset; offsets are committed as you iterate (the API of the original's unmerged
      PullConsumer, without its use-after-free).
    * ``subscribe(topic)`` then ``poll()``: queues are shared among the group's consumers;
      offsets are committed every 5 s, at shutdown, and by ``commit()``.
    """

    _start_op = "start_pull_consumer"
    _kind = "consumer"

    def __init__(
        self, group_id: str, message_model: MessageModel = MessageModel.CLUSTERING
    ) -> None:
        super().__init__(group_id)
        self._subscriptions = {}  # type: Dict[str, Any]
        self._set("message_model", int(MessageModel(message_model)))
        # A new group reads a queue from its first message (pull consumers chose their offsets
        # themselves in the original; starting at the end would skip what is there).
        self._set("consume_from_where", int(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET))

    set_namesrv_domain = _Client.set_name_server_domain

    def set_consume_from_where(
        self, where: ConsumeFromWhere, timestamp: Union[None, float, Any] = None
    ) -> None:
        PushConsumer.set_consume_from_where(self, where, timestamp)  # type: ignore[arg-type]

    def set_auto_commit(self, enabled: bool, interval: float = 5.0) -> None:
        """``poll`` mode: commit offsets every ``interval`` seconds and at shutdown (default)."""
        self._set("auto_commit", bool(enabled))
        self._set("auto_commit_interval_ms", int(interval * 1000))

    def set_poll_batch_size(self, size: int) -> None:
        self._set("poll_batch_size", int(size))

    def _create_native(self, settings: Dict[str, Any]):
        native = _native.PullConsumer(self._group, settings)
        for topic, (expr, sql) in self._subscriptions.items():
            native.subscribe(topic, expr, sql)
        return native

    # Queues and offsets ------------------------------------------------------------------------

    def fetch_subscription_message_queues(self, topic: str) -> List[MessageQueue]:
        """The readable queues of a topic."""
        return [
            MessageQueue(*q) for q in self._running("consumer").fetch_message_queues(topic)
        ]

    def get_message_queue_offset(self, mq: MessageQueue) -> int:
        """The group's committed offset of a queue (the next to read), -1 if none."""
        return self._running("consumer").committed(tuple(mq))

    def set_message_queue_offset(self, mq: MessageQueue, offset: int) -> None:
        """Commits ``offset`` (the next to read) for a queue to the broker."""
        self._running("consumer").commit({tuple(mq): int(offset)})

    def pull_queue(
        self,
        mq: MessageQueue,
        offset: int,
        expression: Union[str, MessageSelector] = "*",
        max_num: int = 32,
        timeout: float = 10.0,
    ) -> PullResult:
        """One pull of a queue from ``offset``; no offset is read or committed."""
        expr, sql = _selector(expression)
        if sql:
            raise IllegalArgument("pull_queue filters by tag only; use subscribe() for SQL92")
        status, nxt, lo, hi, msgs = self._running("pull").pull(
            tuple(mq), expr, int(offset), int(max_num), float(timeout)
        )
        return PullResult(PullStatus(status), nxt, lo, hi, msgs)

    def pull(
        self, topic: str, expression: Union[str, MessageSelector] = "*", max_num: int = 32
    ) -> Iterator[Any]:
        """Every new message of ``topic`` matching ``expression``, queue by queue, from the
        group's committed offsets; each queue's offset is committed once the messages of a
        pull have been iterated past. Ends when every queue has nothing new."""
        for mq in self.fetch_subscription_message_queues(topic):
            offset = self.get_message_queue_offset(mq)
            if offset < 0:
                offset = 0
            while True:
                r = self.pull_queue(mq, offset, expression, max_num)
                if r.status is PullStatus.FOUND:
                    for msg in r.messages:
                        yield msg
                elif r.status is PullStatus.NO_NEW_MSG:
                    break
                if r.next_begin_offset == offset:
                    break
                offset = r.next_begin_offset
                self.set_message_queue_offset(mq, offset)

    # Subscribe and poll ------------------------------------------------------------------------

    def subscribe(self, topic: str, expression: Union[str, MessageSelector] = "*") -> None:
        topic = _text("topic", topic)
        expr, sql = _selector(expression)
        self._subscriptions[topic] = (expr, sql)
        if self._native is not None:
            self._native.subscribe(topic, expr, sql)

    def assign(self, queues: Iterable[MessageQueue]) -> None:
        """Read exactly these queues (no sharing with the group); instead of ``subscribe``."""
        self._running("consumer").assign([tuple(q) for q in queues])

    def poll(self, timeout: float = 1.0) -> List[Any]:
        """Messages of the subscribed queues, waiting up to ``timeout`` seconds for some."""
        return self._running("pull").poll(float(timeout))

    def commit(self, offsets: Optional[Mapping[MessageQueue, int]] = None) -> None:
        """Commits ``offsets`` (queue → next offset), or everything ``poll`` returned so far."""
        native = self._running("consumer")
        if offsets is None:
            native.commit_all()
        else:
            native.commit({tuple(q): int(o) for q, o in offsets.items()})

    def committed(self, mq: MessageQueue) -> int:
        return self.get_message_queue_offset(mq)

    def seek(self, mq: MessageQueue, offset: int) -> None:
        self._running("consumer").seek(tuple(mq), int(offset))

    def seek_to_begin(self, mq: MessageQueue) -> None:
        self._running("consumer").seek_to_begin(tuple(mq))

    def seek_to_end(self, mq: MessageQueue) -> None:
        self._running("consumer").seek_to_end(tuple(mq))

    def seek_to_timestamp(self, mq: MessageQueue, timestamp: Union[float, Any]) -> None:
        if hasattr(timestamp, "timestamp"):
            timestamp = timestamp.timestamp()
        self._running("consumer").seek_to_timestamp(tuple(mq), int(float(timestamp) * 1000))

    def pause(self, queues: Iterable[MessageQueue]) -> None:
        self._running("consumer").pause([tuple(q) for q in queues])

    def resume(self, queues: Iterable[MessageQueue]) -> None:
        self._running("consumer").resume([tuple(q) for q in queues])

    def assignment(self) -> List[MessageQueue]:
        native = self._native
        return [MessageQueue(*q) for q in native.assignment()] if native else []

