"""Shared fixtures: one embedded broker for the session, tuned for quick tests."""

import itertools
import re
import time
from typing import Callable

import pytest

from rocketmq.broker import Broker
from rocketmq.client import Producer

# Retries come back after 100 ms-ish instead of 10 s, transaction checks every second, SQL92
# filtering on.
FAST_BROKER_PROPERTIES = {
    "messageDelayLevel": " ".join(["100ms"] * 4 + ["200ms"] * 14),
    "transactionTimeOut": 1000,
    "transactionCheckInterval": 1000,
    "enablePropertyFilter": True,
}

_names = itertools.count()


def wait_until(predicate: Callable[[], object], timeout: float = 15.0, what: str = "it"):
    """Polls ``predicate`` until it is truthy; returns its value; fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(0.02)


@pytest.fixture(scope="session")
def broker():
    with Broker(properties=FAST_BROKER_PROPERTIES) as b:
        yield b


@pytest.fixture(scope="session")
def namesrv(broker) -> str:
    return broker.namesrv_addr


@pytest.fixture
def unique(request) -> Callable[[str], str]:
    test = re.sub(r"[^A-Za-z0-9_-]", "_", request.node.name)[-50:]
    return lambda prefix: "%s_%s_%d" % (prefix, test, next(_names))


@pytest.fixture
def topic(broker, unique) -> str:
    """A new topic with 4 queues, routable at once."""
    t = unique("T")
    broker.create_topic(t, queues=4)
    return t


@pytest.fixture(scope="session")
def producer(namesrv):
    p = Producer("test_producer_group")
    p.set_name_server_address(namesrv)
    p.start()
    yield p
    p.shutdown()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "soak: the memory soak (about half a minute; deselect with -m 'not soak')"
    )
