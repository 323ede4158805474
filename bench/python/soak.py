#!/usr/bin/env python3
"""Memory soak of the Python client: is the client process's memory flat across millions of
messages?

Every message goes through the Python API three times: sent (a fresh `Message` object each
time, by `send_sync`, `send_batch` or `send_oneway`), delivered to a `PushConsumer` callback
(which reads the `ReceivedMessage`'s fields), and read back by a `PullConsumer`. The broker runs
in a child process (an embedded `rocketmq.broker.Broker`), so the mapped store is not in the
measured process.

The resident set size (/proc/self/statm) is sampled after a warm-up (`--warmup` messages sent
and consumed both ways, default a tenth of the run) and at the end, once the consumers have
caught up; the run fails if it grew by more than `--max-growth-mib-per-million` per million
messages after the warm-up (plus `--slack-mib` for allocator noise). It prints one line per
sample and a summary line `SOAK messages=... growth_mib_per_million=... result=ok|FAILED`.

Usage: bench/python/soak.py [--messages N] [--python-broker PYTHON]   (--help for all)
Needs the `rocketmq` package importable (e.g. the venv of python/run-tests.sh).
"""

import argparse
import gc
import os
import subprocess
import sys
import threading
import time

from rocketmq.client import (
    ConsumeFromWhere,
    ConsumeStatus,
    Message,
    Producer,
    PullConsumer,
    PushConsumer,
)

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024
TOPIC = "soak"
QUEUES = 4
BODY = b"s" * 100 + b"\0" + b"k" * 27  # 128 bytes, a NUL inside
BATCH = 32
# One round: 8 send_sync, 3 batches of 32, 8 send_oneway = 112 messages (each call kind is
# exercised often, and the run is not bound by single sends' round trips).
SYNC_PER_ROUND, BATCHES_PER_ROUND, ONEWAY_PER_ROUND = 8, 3, 8
ROUND = SYNC_PER_ROUND + BATCHES_PER_ROUND * BATCH + ONEWAY_PER_ROUND

BROKER_CHILD = r"""
import sys
from rocketmq.broker import Broker
with Broker(properties={"defaultTopicQueueNums": %d}) as b:
    b.create_topic(%r, queues=%d)
    print("READY", b.namesrv_addr, flush=True)
    sys.stdin.read()   # until the parent closes our stdin
""" % (QUEUES, TOPIC, QUEUES)


def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE_BYTES / MIB


def log(msg):
    print("[soak %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


class Counter:
    def __init__(self):
        self.n = 0
        self.lock = threading.Lock()

    def add(self, k=1):
        with self.lock:
            self.n += k


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=2_000_000, help="messages to send (default 2M)")
    ap.add_argument("--warmup", type=int, help="messages before the first sample (default a tenth)")
    ap.add_argument("--max-growth-mib-per-million", type=float, default=4.0,
                    help="allowed RSS growth after the warm-up, MiB per million messages")
    ap.add_argument("--slack-mib", type=float, default=8.0,
                    help="allowed growth on top of that (allocator noise), MiB")
    ap.add_argument("--samples", type=int, default=10, help="progress lines (default 10)")
    ap.add_argument("--timeout", type=float, default=3600, help="give up after this many seconds")
    args = ap.parse_args()
    total = args.messages - args.messages % ROUND
    warmup = args.warmup if args.warmup is not None else total // 10
    warmup -= warmup % ROUND

    broker = subprocess.Popen([sys.executable, "-c", BROKER_CHILD], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        line = broker.stdout.readline().split()
        if not line or line[0] != "READY":
            raise SystemExit("the broker child did not start")
        namesrv = line[1]
        return soak(namesrv, total, warmup, args)
    finally:
        broker.stdin.close()
        try:
            broker.wait(60)
        except subprocess.TimeoutExpired:
            broker.kill()
            broker.wait()


def soak(namesrv, total, warmup, args):
    deadline = time.monotonic() + args.timeout
    pushed = Counter()
    seen_bytes = Counter()

    def on_message(msg):
        # Touch what applications touch: every field is copied into Python objects.
        seen_bytes.add(len(msg.body) + len(msg.id) + len(msg.tags) + len(msg.keys)
                       + len(msg.get_property("soak")) + msg.queue_offset * 0)
        pushed.add()
        return ConsumeStatus.CONSUME_SUCCESS

    producer = Producer("soak_producer")
    producer.set_name_server_address(namesrv)
    producer.start()
    push = PushConsumer("soak_push")
    push.set_name_server_address(namesrv)
    push.set_consume_from_where(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET)
    push.set_thread_count(4)
    push.subscribe(TOPIC, on_message)
    push.start()
    puller = PullConsumer("soak_pull")
    puller.set_name_server_address(namesrv)
    puller.start()
    pulled = 0

    def new_message(i):
        m = Message(TOPIC)
        m.set_keys("k%d" % i)
        m.set_tags("soak")
        m.set_property("soak", "p%d" % (i & 1023))
        m.set_body(BODY)
        return m

    def pull_all():
        nonlocal pulled
        for msg in puller.pull(TOPIC, max_num=32):
            if len(msg.body) != len(BODY):
                raise AssertionError("pulled a wrong body")
            pulled += 1

    def settle(sent):
        """Waits until both consumers have every message sent so far (oneway sends are not
        acknowledged, so this is also how they are known to have arrived)."""
        while pushed.n < sent or pulled < sent:
            pull_all()
            if time.monotonic() > deadline:
                raise SystemExit("timed out: sent %d, pushed %d, pulled %d" % (sent, pushed.n, pulled))
            if pushed.n < sent:
                time.sleep(0.05)

    samples = []
    sent = 0
    every = max(ROUND, (total // args.samples) // ROUND * ROUND)
    t0 = time.monotonic()
    while sent < total:
        for _ in range(SYNC_PER_ROUND):
            producer.send_sync(new_message(sent))
            sent += 1
        for _ in range(BATCHES_PER_ROUND):
            producer.send_batch([new_message(sent + j) for j in range(BATCH)])
            sent += BATCH
        for _ in range(ONEWAY_PER_ROUND):
            producer.send_oneway(new_message(sent))
            sent += 1
        if sent % (ROUND * 50) == 0:
            pull_all()  # keep the pull consumer close behind
        if sent == warmup or sent % every == 0 or sent == total:
            settle(sent)
            gc.collect()
            r = rss_mib()
            samples.append((sent, r))
            log("sent %d pushed %d pulled %d rss %.1f MiB (%.0f msgs/s)"
                % (sent, pushed.n, pulled, r, sent / (time.monotonic() - t0)))
        if time.monotonic() > deadline:
            raise SystemExit("timed out after %d messages" % sent)
    elapsed = time.monotonic() - t0

    push.shutdown()
    puller.shutdown()
    producer.shutdown()

    base = [s for s in samples if s[0] >= warmup][0]
    end = samples[-1]
    millions = (end[0] - base[0]) / 1e6
    growth = end[1] - base[1]
    per_million = growth / millions if millions > 0 else 0.0
    allowed = args.max_growth_mib_per_million * millions + args.slack_mib
    ok = growth <= allowed and pushed.n >= total and pulled >= total
    print("SOAK messages=%d pushed=%d pulled=%d seconds=%.0f warmup=%d rss_warm_mib=%.1f "
          "rss_end_mib=%.1f rss_peak_mib=%.1f growth_mib=%.1f growth_mib_per_million=%.2f "
          "allowed_mib=%.1f result=%s"
          % (total, pushed.n, pulled, elapsed, base[0], base[1], end[1],
             max(r for _, r in samples), growth, per_million, allowed,
             "ok" if ok else "FAILED"), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
