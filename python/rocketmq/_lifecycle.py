"""Shutting down what is still running when the interpreter exits.

Clients and embedded brokers run native threads. Left running at exit, a client thread may try
to call Python while the interpreter is being torn down. So everything that starts threads
registers here, and an ``atexit`` hook shuts down clients first (they unregister from brokers
that are still up), then embedded brokers. Objects are held weakly: registering never keeps
anything alive.
"""

import atexit
import logging
import os
import threading
import weakref

_log = logging.getLogger("rocketmq")

_lock = threading.Lock()
_clients = weakref.WeakSet()  # type: weakref.WeakSet
_brokers = weakref.WeakSet()  # type: weakref.WeakSet


def track_client(obj) -> None:
    with _lock:
        _clients.add(obj)


def track_broker(obj) -> None:
    with _lock:
        _brokers.add(obj)


def forget(obj) -> None:
    with _lock:
        _clients.discard(obj)
        _brokers.discard(obj)


def _shutdown_all() -> None:
    for group in (_clients, _brokers):
        with _lock:
            objs = list(group)
        for obj in objs:
            try:
                obj.shutdown()
            except BaseException:  # noqa: BLE001 - exiting anyway; say what went wrong
                _log.exception("rocketmq: shutting down %r at exit failed", obj)


atexit.register(_shutdown_all)

def _after_fork_in_child() -> None:
    """In a forked child the parent's clients and brokers are shells: their threads stayed in
    the parent. Detach them (a call then says "not started"), keep their native parts from
    being dropped or shut down (either would wait for those threads), and let the child create
    its own clients, which run on a runtime of its own."""
    global _lock
    _lock = threading.Lock()
    for group in (_clients, _brokers):
        for obj in list(group):
            native = getattr(obj, "_native", None)
            if native is not None:
                from . import _native

                _native.forget(native)
                obj._native = None
        group.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
