"""The embedded broker: lifecycle, store placement, set-up and looking inside."""

import os
import socket
import subprocess
import sys
import textwrap

import pytest

from rocketmq.broker import Broker, dlq_topic, retry_topic
from rocketmq.exceptions import EmbeddedBrokerError, RocketMQException


def _accepts(addr: str) -> bool:
    host, port = addr.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


def test_start_returns_once_both_servers_accept_and_shutdown_removes_temp_store():
    with Broker() as b:
        assert b.running
        assert _accepts(b.namesrv_addr)
        assert _accepts(b.broker_addr)
        store = b.store_dir
        assert os.path.isdir(store)
        assert store.startswith(os.path.realpath(__import__("tempfile").gettempdir())) or \
            store.startswith(__import__("tempfile").gettempdir())
        ns = b.namesrv_addr
    assert not b.running
    assert not os.path.exists(store), "temporary store removed on exit"
    assert not _accepts(ns)
    b.shutdown()  # idempotent


def test_keep_leaves_the_store_behind(tmp_path):
    b = Broker(keep=True).start()
    store = b.store_dir
    b.shutdown()
    try:
        assert os.path.isdir(os.path.join(store, "config"))
    finally:
        import shutil

        shutil.rmtree(store, ignore_errors=True)


def test_given_store_dir_is_kept_and_reopened(tmp_path):
    store = tmp_path / "store"
    with Broker(store) as b:
        b.create_topic("Persisted", queues=3)
        b.create_group("persisted_group", retry_max_times=2)
    assert store.is_dir()
    with Broker(store) as b:
        assert "Persisted" in b.topics()
        assert b.topic_config("Persisted")["read_queue_nums"] == 3
        assert "persisted_group" in b.groups()


def test_two_brokers_on_one_store_refuse(tmp_path):
    with Broker(tmp_path / "s"):
        with pytest.raises(EmbeddedBrokerError) as e:
            Broker(tmp_path / "s").start()
        assert isinstance(e.value, RocketMQException)
        assert "lock" in str(e.value).lower()


def test_bad_properties_name_the_key():
    with pytest.raises(EmbeddedBrokerError, match="listenPort|flushDiskType"):
        Broker(properties={"flushDiskType": "SOMETIMES"}).start()


def test_not_running_says_how_to_start():
    b = Broker()
    with pytest.raises(EmbeddedBrokerError, match="start"):
        b.namesrv_addr


def test_create_topic_and_inspect(rocketmq_broker, rocketmq_unique):
    topic = rocketmq_unique("Inspect")
    rocketmq_broker.create_topic(topic, queues=2, order=True)
    assert topic in rocketmq_broker.topics()
    assert "TBW102" not in rocketmq_broker.topics()
    assert "TBW102" in rocketmq_broker.topics(include_system=True)
    cfg = rocketmq_broker.topic_config(topic)
    assert cfg == {"read_queue_nums": 2, "write_queue_nums": 2, "perm": 6, "order": True}
    assert rocketmq_broker.queue_ids(topic) == [0, 1]
    assert rocketmq_broker.offsets(topic) == {0: (0, 0), 1: (0, 0)}
    assert rocketmq_broker.message_count(topic) == 0
    assert rocketmq_broker.messages(topic) == []
    assert rocketmq_broker.topic_config("NoSuchTopic") is None
    assert rocketmq_broker.committed_offsets("nobody", topic) == {}
    with pytest.raises(ValueError):
        rocketmq_broker.create_topic("bad topic!")


def test_create_group(rocketmq_broker, rocketmq_unique):
    g = rocketmq_unique("grp")
    rocketmq_broker.create_group(g, retry_max_times=3)
    assert g in rocketmq_broker.groups()
    assert retry_topic(g) == "%RETRY%" + g and dlq_topic(g) == "%DLQ%" + g


def test_pytest_fixture_is_registered(rocketmq_broker, rocketmq_namesrv_addr):
    assert rocketmq_namesrv_addr == rocketmq_broker.namesrv_addr
    assert _accepts(rocketmq_namesrv_addr)


def test_nothing_is_written_under_home(tmp_path):
    """A broker started and stopped with HOME pointing at an empty directory leaves it empty."""
    home = tmp_path / "home"
    home.mkdir()
    script = textwrap.dedent(
        """
        from rocketmq.broker import Broker
        with Broker() as b:
            b.create_topic("HomeCheck")
        """
    )
    env = dict(os.environ, HOME=str(home))
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=60)
    assert list(home.iterdir()) == []


def test_forgotten_broker_is_stopped_at_exit(tmp_path):
    """A started broker nobody shuts down does not hang interpreter exit, and its temporary
    store is removed."""
    script = textwrap.dedent(
        """
        import sys
        from rocketmq.broker import Broker
        b = Broker().start()
        print(b.store_dir)
        sys.stdout.flush()
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, timeout=60, capture_output=True, text=True
    )
    store = out.stdout.strip()
    assert store and not os.path.exists(store)
