"""Exceptions, with the class names and hierarchy of rocketmq-client-python.

Every error says what failed and what to do about it; none is ever ``None``.

Two families meet here:

* the *operation* classes of the original (``ProducerSendSyncFailed``, ``PushConsumerStartFailed``,
  ...), so existing ``except`` clauses keep working;
* one class per *kind* of error (``RouteNotFound``, ``RequestTimeout``, ``BrokerResponseError``,
  ``NetworkError``, ...), so code can tell a missing topic from a dead broker.

An error raised by the client is an instance of both: a ``send_sync`` that finds no route raises
an exception that is a ``ProducerSendSyncFailed`` *and* a ``RouteNotFound``.
"""

from typing import Dict, Optional, Tuple, Type

__all__ = [
    "RocketMQException",
    "NullPointerException",
    "MallocFailed",
    "ProducerException",
    "ProducerStartFailed",
    "ProducerSendSyncFailed",
    "ProducerSendOnewayFailed",
    "ProducerSendOrderlyFailed",
    "ProducerSendAsyncFailed",
    "ProducerSendBatchFailed",
    "ProducerSendTransactionFailed",
    "ConsumerException",
    "PushConsumerStartFailed",
    "PullConsumerStartFailed",
    "PullConsumerPullFailed",
    "IllegalArgument",
    "ClientStateError",
    "RouteNotFound",
    "RequestTimeout",
    "BrokerResponseError",
    "NetworkError",
    "LocalIOError",
    "EmbeddedBrokerError",
]


class RocketMQException(Exception):
    """RocketMQ exception base class.

    ``kind`` is the core's error number (see ``_KINDS``) or ``None``; ``code`` the broker's
    response code when a broker answered with an error, else ``None``.
    """

    kind: Optional[int] = None
    code: Optional[int] = None
    _op: Optional[str] = None

    def __reduce__(self):  # type: ignore[override]
        # Classes made by `_from_native` are not importable by name: rebuild through it.
        if self._op is not None:
            return (_from_native, (self._op, self.kind, str(self), self.code))
        return super().__reduce__()


# --- The original classes (rocketmq-client-python 2.x), same names, same bases. ---------------


class NullPointerException(RocketMQException):
    pass


class MallocFailed(RocketMQException):
    pass


class ProducerException(RocketMQException):
    pass


class ProducerStartFailed(ProducerException):
    pass


class ProducerSendSyncFailed(ProducerException):
    pass


class ProducerSendOnewayFailed(ProducerException):
    pass


class ProducerSendOrderlyFailed(ProducerException):
    pass


class ProducerSendAsyncFailed(ProducerException):
    """Passed to ``send_async``'s ``on_exception`` (and raised by an awaited send).

    The original's constructor took ``(msg, error, file, line, type)`` from C++; those are kept
    for compatibility (``file`` and ``line`` are empty: the error comes from Rust, not a C++
    source line).
    """

    def __init__(self, msg, error=None, file="", line=0, type=""):  # noqa: A002 - original name
        super().__init__(msg)
        self.error = error
        self.file = file
        self.line = line
        self.type = type


class ConsumerException(RocketMQException):
    pass


class PushConsumerStartFailed(ConsumerException):
    pass


# --- Operation classes the original lacked (it lacked the operations). -----------------------


class ProducerSendBatchFailed(ProducerException):
    pass


class ProducerSendTransactionFailed(ProducerException):
    pass


class PullConsumerStartFailed(ConsumerException):
    pass


class PullConsumerPullFailed(ConsumerException):
    pass


# --- One class per kind of error. -----------------------------------------------------------


class IllegalArgument(RocketMQException, ValueError):
    """The call was refused before touching the network (bad topic, empty body, too large, ...)."""


class ClientStateError(RocketMQException):
    """The client is not in a state that allows the call (not started, already shut down)."""


class RouteNotFound(RocketMQException):
    """No name server knows the topic: create it, or check the name server address."""


class RequestTimeout(RocketMQException, TimeoutError):
    """The operation did not finish in time."""


class BrokerResponseError(RocketMQException):
    """A broker or name server answered with an error; ``code`` holds its response code."""


class NetworkError(RocketMQException, ConnectionError):
    """A connection could not be made or broke."""


class LocalIOError(RocketMQException, OSError):
    """A local file (for example a broadcasting consumer's offsets) could not be used."""


class EmbeddedBrokerError(RocketMQException):
    """The embedded broker (``rocketmq.broker.Broker``) failed to start, stop or answer."""


# The core's stable error numbers (`rocketmq::client::ErrorKind`); never renumbered.
_KINDS: Dict[int, Type[RocketMQException]] = {
    1: IllegalArgument,
    2: ClientStateError,
    3: RouteNotFound,
    4: RequestTimeout,
    5: BrokerResponseError,
    6: NetworkError,
    7: LocalIOError,
}

# The native layer names the failed operation; this picks the original's class for it.
_OPS: Dict[str, Type[RocketMQException]] = {
    "start_producer": ProducerStartFailed,
    "send_sync": ProducerSendSyncFailed,
    "send_oneway": ProducerSendOnewayFailed,
    "send_orderly": ProducerSendOrderlyFailed,
    "send_async": ProducerSendAsyncFailed,
    "send_batch": ProducerSendBatchFailed,
    "send_transaction": ProducerSendTransactionFailed,
    "producer": ProducerException,
    "start_push_consumer": PushConsumerStartFailed,
    "start_pull_consumer": PullConsumerStartFailed,
    "pull": PullConsumerPullFailed,
    "consumer": ConsumerException,
}

_COMBINED: Dict[Tuple[type, type], type] = {}


def _combined(op_cls: type, kind_cls: type) -> type:
    """A class that is both ``op_cls`` and ``kind_cls``, named like ``op_cls``."""
    key = (op_cls, kind_cls)
    cls = _COMBINED.get(key)
    if cls is None:
        cls = type(op_cls.__name__, (op_cls, kind_cls), {"__module__": __name__})
        cls.__qualname__ = "%s[%s]" % (op_cls.__name__, kind_cls.__name__)
        _COMBINED[key] = cls
    return cls


def _from_native(
    op: str, kind: Optional[int], message: str, code: Optional[int] = None
) -> RocketMQException:
    """The exception for operation ``op`` failing with error ``kind`` (called from Rust)."""
    op_cls = _OPS.get(op, RocketMQException)
    kind_cls = _KINDS.get(kind) if kind is not None else None
    cls = _combined(op_cls, kind_cls) if kind_cls is not None else op_cls
    if issubclass(cls, ProducerSendAsyncFailed):
        exc = cls(message, kind)  # type: RocketMQException
    else:
        exc = cls(message)
    exc.kind = kind
    exc.code = code
    exc._op = op
    return exc
