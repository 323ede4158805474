"""Correctness under Python: the GIL is free while the client waits, Ctrl-C interrupts a
blocking call, the interpreter exits with clients still running, nothing lands under $HOME."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from rocketmq import exceptions as exc
from rocketmq.client import Message, Producer


class BlackHole:
    """A TCP server that accepts connections and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture
def black_hole():
    b = BlackHole()
    yield b
    b.close()


def test_the_gil_is_released_while_a_send_waits(black_hole, unique):
    p = Producer(unique("pg"), timeout=1500)
    p.set_name_server_address(black_hole.addr)
    p.start()
    ticks = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            ticks[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        started = time.monotonic()
        before = ticks[0]
        with pytest.raises(exc.ProducerSendSyncFailed):
            p.send_sync(_body(Message("T")))
        waited = time.monotonic() - started
        spun = ticks[0] - before
    finally:
        stop.set()
        t.join()
        p.shutdown()
    assert waited >= 1.0
    assert spun > 100_000, "another Python thread ran freely during the send (%d)" % spun


def _body(m):
    m.set_body("x")
    return m


CTRL_C_SCRIPT = """
import socket, sys
from rocketmq.client import Producer, Message
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
p = Producer("ctrl_c_group", timeout=60000)
p.set_name_server_address("127.0.0.1:%d" % s.getsockname()[1])
p.start()
m = Message("T"); m.set_body("x")
print("sending", flush=True)
try:
    p.send_sync(m)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    p.shutdown()
    sys.exit(3)
"""


def test_ctrl_c_interrupts_a_blocking_send():
    proc = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "sending"
        time.sleep(0.5)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, err
    assert "interrupted" in out
    assert took < 5, "Ctrl-C took %.1f s to interrupt a send with a 60 s timeout" % took


EXIT_SCRIPT = """
import threading, time, sys
from rocketmq.broker import Broker
from rocketmq.client import Producer, PushConsumer, PullConsumer, Message, ConsumeStatus, \\
    ConsumeFromWhere, MessageModel

b = Broker().start()
b.create_topic("ExitTopic")
p = Producer("exit_pg"); p.set_name_server_address(b.namesrv_addr); p.start()
got = threading.Event()
def slow(msg):
    got.set()
    time.sleep(1.0)   # still running when the interpreter exits
    return ConsumeStatus.CONSUME_SUCCESS
c = PushConsumer("exit_cg"); c.set_name_server_address(b.namesrv_addr)
c.set_consume_from_where(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET)
c.subscribe("ExitTopic", slow); c.start()
bc = PushConsumer("exit_bcast", message_model=MessageModel.BROADCASTING)
bc.set_name_server_address(b.namesrv_addr)
bc.subscribe("ExitTopic", lambda m: ConsumeStatus.CONSUME_SUCCESS); bc.start()
pc = PullConsumer("exit_pull"); pc.set_name_server_address(b.namesrv_addr); pc.start()
m = Message("ExitTopic"); m.set_body("x"); p.send_sync(m)
assert got.wait(20)
print(b.store_dir, flush=True)
# No shutdown(): interpreter exit must stop everything, without hanging.
"""


def test_interpreter_exit_with_everything_running_does_not_hang(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, HOME=str(home)),
    )
    assert out.returncode == 0, out.stderr
    assert time.monotonic() - started < 30
    store = out.stdout.strip().splitlines()[-1]
    assert not os.path.exists(store), "the temporary store is removed at exit"
    assert list(home.iterdir()) == [], "nothing written under $HOME"
    assert "Exception ignored" not in out.stderr and "Fatal" not in out.stderr, out.stderr


def test_callback_threads_do_not_hold_the_gil_when_idle(producer, namesrv, topic, unique):
    """A started consumer with nothing to consume leaves Python's threads alone."""
    from rocketmq.client import PushConsumer, ConsumeStatus

    c = PushConsumer(unique("cg"))
    c.set_name_server_address(namesrv)
    c.subscribe(topic, lambda m: ConsumeStatus.CONSUME_SUCCESS)
    c.start()
    try:
        n, deadline = 0, time.monotonic() + 0.5
        while time.monotonic() < deadline:
            n += 1
        with_consumer = n
    finally:
        c.shutdown()
    n, deadline = 0, time.monotonic() + 0.5
    while time.monotonic() < deadline:
        n += 1
    assert with_consumer > n * 0.5, (with_consumer, n)


FORK_SCRIPT = """
import os, sys
from rocketmq.broker import Broker
from rocketmq.client import Producer, Message
from rocketmq import exceptions as exc

b = Broker().start()
b.create_topic("ForkTopic")
p = Producer("fork_parent"); p.set_name_server_address(b.namesrv_addr); p.start()
m = Message("ForkTopic"); m.set_body("parent"); p.send_sync(m)
addr = b.namesrv_addr
pid = os.fork()
if pid == 0:
    try:
        p.send_sync(m)
        print("child: parent's producer still usable?!", flush=True)
    except exc.ClientStateError:
        print("child: parent's producer refused", flush=True)
    c = Producer("fork_child"); c.set_name_server_address(addr); c.start()
    mc = Message("ForkTopic"); mc.set_body("child")
    print("child:", c.send_sync(mc).status.name, flush=True)
    sys.exit(0)          # runs atexit in the child: must not hang
_, status = os.waitpid(pid, 0)
print("parent: child exited", os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1, flush=True)
print("parent:", p.send_sync(m).status.name, b.message_count("ForkTopic"), flush=True)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_makes_its_own_clients_and_exits():
    out = subprocess.run(
        [sys.executable, "-c", FORK_SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "child: parent's producer refused" in lines
    assert "child: OK" in lines
    assert "parent: child exited 0" in lines
    assert "parent: OK 3" in lines
