"""An embedded RocketMQ name server and broker, in this process, for tests and local work.

::

    from rocketmq.broker import Broker
    from rocketmq.client import Producer, Message

    with Broker() as broker:                      # free ports, temporary store
        broker.create_topic("orders", queues=4)
        with Producer("pg") as p:
            p.set_name_server_address(broker.namesrv_addr)
            p.send_sync(Message("orders"))
        assert broker.message_count("orders") == 1

The store lives in a new directory under the system temporary directory (never under $HOME)
and is removed on exit unless ``keep=True`` or a ``store_dir`` was given. Store files are small
(16 MiB commitlog files) unless ``small_store=False``.

Everything after ``start()`` looks inside the running broker directly, without the wire:
topics, queue offsets, a group's committed offsets, the stored messages of a queue.
"""

import os
import shutil
import tempfile
import time
from typing import Dict, List, Mapping, Optional, Tuple, Union

from . import _lifecycle
from . import _native
from .exceptions import EmbeddedBrokerError

__all__ = ["Broker", "retry_topic", "dlq_topic"]


def retry_topic(group: str) -> str:
    """The topic a group's messages go to for another try: ``%RETRY%<group>``."""
    return "%RETRY%" + group


def dlq_topic(group: str) -> str:
    """The dead-letter topic of a group: ``%DLQ%<group>``."""
    return "%DLQ%" + group


def _properties_text(properties: Union[None, str, Mapping[str, object]]) -> str:
    if properties is None:
        return ""
    if isinstance(properties, str):
        return properties
    lines = []
    for k, v in properties.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        lines.append("%s=%s" % (k, v))
    return "\n".join(lines)


class Broker:
    """A name server and a broker in this process.

    :param store_dir: where the store lives; default a new temporary directory.
    :param keep: keep a temporary store after shutdown (its path is ``store_dir``).
    :param host: IP address to listen on and advertise.
    :param namesrv_port: name server port; 0 picks a free one.
    :param broker_port: broker port; 0 picks a free one.
    :param properties: ``broker.conf`` settings, as a mapping or ``key=value`` lines
        (for example ``{"transactionCheckInterval": 1000}``).
    :param small_store: use small store files (16 MiB commitlog files).
    """

    def __init__(
        self,
        store_dir: Union[None, str, "os.PathLike[str]"] = None,
        *,
        keep: bool = False,
        host: str = "127.0.0.1",
        namesrv_port: int = 0,
        broker_port: int = 0,
        properties: Union[None, str, Mapping[str, object]] = None,
        small_store: bool = True,
    ) -> None:
        self._given_store_dir = os.fspath(store_dir) if store_dir is not None else None
        self._keep = keep
        self._host = host
        self._namesrv_port = namesrv_port
        self._broker_port = broker_port
        self._properties = _properties_text(properties)
        self._small_store = small_store
        self._native = None  # type: Optional[_native.EmbeddedBroker]
        self._owned_dir = None  # type: Optional[str]

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> "Broker":
        """Starts both servers; returns (self) once clients can use ``namesrv_addr``."""
        if self._native is not None:
            return self
        store_dir = self._given_store_dir
        if store_dir is None:
            store_dir = tempfile.mkdtemp(prefix="rocketmq-rs-store-")
            self._owned_dir = store_dir
        try:
            self._native = _native.EmbeddedBroker.start(
                store_dir,
                True,
                self._namesrv_port,
                self._broker_port,
                self._host,
                self._properties,
                self._small_store,
            )
        except BaseException:
            self._remove_owned_dir()
            raise
        _lifecycle.track_broker(self)
        return self

    def shutdown(self) -> None:
        """Stops the broker and the name server and joins their threads; removes a temporary
        store unless ``keep``. Safe to call twice."""
        native, self._native = self._native, None
        if native is None:
            return
        _lifecycle.forget(self)
        native.shutdown()
        if not self._keep:
            self._remove_owned_dir()

    close = shutdown

    def _remove_owned_dir(self) -> None:
        if self._owned_dir is not None:
            shutil.rmtree(self._owned_dir, ignore_errors=True)
            self._owned_dir = None

    def __enter__(self) -> "Broker":
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        if self._native is None:
            return "<Broker (not running)>"
        return "<Broker namesrv=%s broker=%s store=%s>" % (
            self.namesrv_addr,
            self.broker_addr,
            self.store_dir,
        )

    def _running(self) -> "_native.EmbeddedBroker":
        if self._native is None:
            raise EmbeddedBrokerError(
                "the broker is not running: call start() or use it as a context manager"
            )
        return self._native

    @property
    def running(self) -> bool:
        return self._native is not None

    @property
    def namesrv_addr(self) -> str:
        """``host:port`` of the name server, for ``set_name_server_address``."""
        return self._running().namesrv_addr

    @property
    def broker_addr(self) -> str:
        """``host:port`` of the broker itself."""
        return self._running().broker_addr

    @property
    def broker_name(self) -> str:
        return self._running().broker_name

    @property
    def store_dir(self) -> str:
        if self._native is not None:
            return os.fspath(self._native.store_dir)
        return self._owned_dir or self._given_store_dir or ""

    # --- set-up ----------------------------------------------------------------------------

    def create_topic(self, topic: str, queues: int = 4, order: bool = False) -> None:
        """Creates (or changes) a topic; its route is on the name server when this returns."""
        self._running().create_topic(topic, queues, order)

    def create_group(
        self,
        group: str,
        retry_max_times: int = 16,
        broadcast: bool = True,
        retry_queue_nums: int = 1,
    ) -> None:
        """Creates (or changes) a consumer group's settings on the broker."""
        self._running().create_group(group, retry_max_times, broadcast, retry_queue_nums)

    # --- looking inside ---------------------------------------------------------------------

    def topics(self, include_system: bool = False) -> List[str]:
        """Topic names (including retry and dead-letter topics once they exist)."""
        return self._running().topics(include_system)

    def topic_config(self, topic: str) -> Optional[Dict[str, object]]:
        """``read_queue_nums``, ``write_queue_nums``, ``perm`` and ``order`` of a topic, or
        None for an unknown topic."""
        return self._running().topic_config(topic)

    def groups(self) -> List[str]:
        return self._running().groups()

    def queue_ids(self, topic: str) -> List[int]:
        return self._running().queue_ids(topic)

    def min_offset(self, topic: str, queue_id: int) -> int:
        return self._running().min_offset(topic, queue_id)

    def max_offset(self, topic: str, queue_id: int) -> int:
        """The next offset to be written: how many messages the queue ever held."""
        return self._running().max_offset(topic, queue_id)

    def offsets(self, topic: str) -> Dict[int, Tuple[int, int]]:
        """Queue id → (min offset, max offset) for every queue of a topic."""
        n = self._running()
        return {q: (n.min_offset(topic, q), n.max_offset(topic, q)) for q in n.queue_ids(topic)}

    def message_count(self, topic: str) -> int:
        """Messages stored in a topic (all queues, min to max offset)."""
        return sum(hi - lo for lo, hi in self.offsets(topic).values())

    def committed_offsets(self, group: str, topic: str) -> Dict[int, int]:
        """Queue id → the next offset ``group`` will consume, as the broker holds it.

        Clients report offsets every few seconds and at shutdown, so this lags consumption."""
        return self._running().committed_offsets(group, topic)

    def messages(
        self,
        topic: str,
        queue_id: Optional[int] = None,
        offset: int = 0,
        max_count: int = 32,
    ) -> list:
        """Stored messages (``ReceivedMessage``) of one queue from ``offset``, or of every queue
        of the topic when ``queue_id`` is None (then ``offset`` applies to each queue). At most
        ``max_count`` per queue, and never more than 1024."""
        n = self._running()
        if queue_id is not None:
            return n.messages(topic, queue_id, offset, max_count)
        out = []  # type: list
        for q in n.queue_ids(topic):
            out.extend(n.messages(topic, q, offset, max_count))
        return out

    def wait_for_committed(
        self, group: str, topic: str, total: int, timeout: float = 30.0
    ) -> Dict[int, int]:
        """Waits until ``group``'s committed offsets on ``topic`` add up to at least ``total``;
        returns them. Raises ``TimeoutError`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            committed = self.committed_offsets(group, topic)
            if sum(committed.values()) >= total:
                return committed
            if time.monotonic() > deadline:
                raise TimeoutError(
                    "group %r committed %r on %r, not yet %d messages"
                    % (group, committed, topic, total)
                )
            time.sleep(0.05)
