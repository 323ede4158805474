"""pytest plugin (registered through the ``pytest11`` entry point): RocketMQ fixtures.

``rocketmq_broker``
    An embedded name server + broker (``rocketmq.broker.Broker``) shared by the test session,
    on free ports with a temporary store that is removed afterwards. Transaction checks come
    every second (instead of every minute) so check callbacks can be tested. Use distinct topic
    and group names per test, or ``rocketmq_unique`` to make them.

``rocketmq_namesrv_addr``
    Its name server address, for ``set_name_server_address``.

``rocketmq_unique``
    A function making names unique to the test: ``rocketmq_unique("orders")``.
"""

import itertools
import re
from typing import Callable, Iterator

import pytest

from .broker import Broker

# Broker settings for tests: transactional half messages are checked after 1 s, every second.
TEST_BROKER_PROPERTIES = {
    "transactionTimeOut": 1000,
    "transactionCheckInterval": 1000,
}

_counter = itertools.count()


@pytest.fixture(scope="session")
def rocketmq_broker() -> Iterator[Broker]:
    broker = Broker(properties=TEST_BROKER_PROPERTIES)
    broker.start()
    try:
        yield broker
    finally:
        broker.shutdown()


@pytest.fixture
def rocketmq_namesrv_addr(rocketmq_broker: Broker) -> str:
    return rocketmq_broker.namesrv_addr


@pytest.fixture
def rocketmq_unique(request) -> Callable[[str], str]:
    test = re.sub(r"[^A-Za-z0-9_-]", "_", request.node.name)[-60:]

    def unique(prefix: str) -> str:
        return "%s_%s_%d" % (prefix, test, next(_counter))

    return unique
