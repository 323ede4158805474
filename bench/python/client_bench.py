#!/usr/bin/env python3
"""The Python client's counterpart of `rocketmq bench`: the same loads through the
rocketmq-client-python API, printing the same lines, so that bench/python-vs-rust reads both
tools' output with one parser.

  producer: `-w` threads, each sending `-s`-byte messages with `Producer.send_sync` (a new
            `Message` per send) for `-d` seconds; one line a second
            `Send TPS: N Average RT(ms): A P99 RT(ms): P Max RT(ms): M Failed: F`, then
            `TOTAL messages=... failures=... tps=... avg_rt_ms=... p99_rt_ms=... max_rt_ms=...`.
            As in `rocketmq bench`, tps is messages over the whole run, start and shutdown of
            the producer included.
  producer-asyncio: `-w` coroutines on one event loop, each awaiting
            `rocketmq.aio.Producer.send` (a new `Message` per send) for `-d` seconds; the same
            lines as producer.
  consumer: a `PushConsumer` with `-w` consume threads counting messages (a new group reads
            a young queue from its start) for `-d` seconds; one line a second
            `Consume TPS: N`, then a TOTAL line.

Usage: client_bench.py --mode producer|producer-asyncio|consumer -n NAMESRV -t TOPIC -g GROUP [-w N] [-s BYTES] [-d SECS]
"""

import argparse
import asyncio
import sys
import threading
import time

from rocketmq.client import ConsumeStatus, Message, Producer, PushConsumer


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.messages = 0
        self.failures = 0
        self.interval_rts = []  # seconds
        self.all_rts = []

    def record(self, rt):
        with self.lock:
            self.messages += 1
            self.interval_rts.append(rt)

    def failed(self, error):
        """Counts a failed send; the first five are shown."""
        with self.lock:
            self.failures += 1
            show = self.failures <= 5
        if show:
            print("send failed: %s" % error, file=sys.stderr, flush=True)

    def take_interval(self):
        with self.lock:
            rts, self.interval_rts = self.interval_rts, []
            self.all_rts.extend(rts)
            return self.messages, rts


def summarize(rts):
    """(average, p99, max) in milliseconds, by the rule of `rocketmq bench`."""
    if not rts:
        return 0.0, 0.0, 0.0
    rts = sorted(rts)
    p99 = rts[min(len(rts), max(1, -(-len(rts) * 99 // 100))) - 1]
    return sum(rts) / len(rts) * 1e3, p99 * 1e3, rts[-1] * 1e3


def report(label, stats, start, duration, stop_event=None):
    last, tick = 0, time.monotonic()
    while time.monotonic() - start < duration:
        left = duration - (time.monotonic() - start)
        time.sleep(max(0.001, min(1.0, left)))
        now, rts = stats.take_interval()
        secs = max(1e-9, time.monotonic() - tick)
        tick = time.monotonic()
        avg, p99, mx = summarize(rts)
        print("%s TPS: %.0f Average RT(ms): %.3f P99 RT(ms): %.3f Max RT(ms): %.3f Failed: %d"
              % (label, (now - last) / secs, avg, p99, mx, stats.failures), flush=True)
        last = now
    if stop_event is not None:
        stop_event.set()


def run_producer(args):
    stats = Stats()
    start = time.monotonic()
    producer = Producer(args.group)
    producer.set_name_server_address(args.namesrv)
    producer.start()
    body = b"x" * args.size
    stop = threading.Event()

    def sender():
        while not stop.is_set():
            msg = Message(args.topic)
            msg.set_body(body)
            t = time.monotonic()
            try:
                producer.send_sync(msg)
            except Exception as e:  # noqa: BLE001 - counted and shown, as rocketmq bench does
                stats.failed(e)
                time.sleep(0.01)
                continue
            stats.record(time.monotonic() - t)

    threads = [threading.Thread(target=sender) for _ in range(args.threads)]
    for t in threads:
        t.start()
    report("Send", stats, start, args.duration, stop)
    for t in threads:
        t.join()
    producer.shutdown()
    return stats, time.monotonic() - start


def run_producer_asyncio(args):
    from rocketmq import aio

    stats = Stats()
    start = time.monotonic()

    async def main():
        producer = aio.Producer(args.group, args.namesrv)
        await producer.start()
        body = b"x" * args.size
        stop = asyncio.Event()

        async def sender():
            while not stop.is_set():
                msg = Message(args.topic)
                msg.set_body(body)
                t = time.monotonic()
                try:
                    await producer.send(msg)
                except Exception as e:  # noqa: BLE001 - counted and shown, as rocketmq bench does
                    stats.failed(e)
                    await asyncio.sleep(0.01)
                    continue
                stats.record(time.monotonic() - t)

        async def reporter():
            # report() sleeps: on a thread of its own, so the loop keeps sending.
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, report, "Send", stats, start, args.duration)
            stop.set()

        await asyncio.gather(reporter(), *(sender() for _ in range(args.threads)))
        await producer.close()

    asyncio.run(main())
    return stats, time.monotonic() - start


def run_consumer(args):
    stats = Stats()
    start = time.monotonic()
    consumer = PushConsumer(args.group)
    consumer.set_name_server_address(args.namesrv)
    consumer.set_thread_count(args.threads)

    def on_message(msg):
        # Born-to-consume latency, as rocketmq bench measures it (ms precision).
        stats.record(max(0.0, time.time() - msg.born_timestamp / 1000.0))
        return ConsumeStatus.CONSUME_SUCCESS

    consumer.subscribe(args.topic, on_message)
    consumer.start()
    report("Consume", stats, start, args.duration)
    consumer.shutdown()
    return stats, time.monotonic() - start


def main():
    ap = argparse.ArgumentParser(description="Python client load tool (see the module doc)")
    ap.add_argument("--mode", choices=("producer", "producer-asyncio", "consumer"),
                    default="producer")
    ap.add_argument("-n", "--namesrv", default="127.0.0.1:9876")
    ap.add_argument("-t", "--topic", default="BenchmarkTest")
    ap.add_argument("-g", "--group", default="benchmark_group")
    ap.add_argument("-w", "--threads", type=int, default=1)
    ap.add_argument("-s", "--size", type=int, default=1024)
    ap.add_argument("-d", "--duration", type=float, default=10)
    args = ap.parse_args()
    run = {"producer": run_producer, "producer-asyncio": run_producer_asyncio,
           "consumer": run_consumer}[args.mode]
    stats, elapsed = run(args)
    avg, p99, mx = summarize(stats.all_rts + stats.interval_rts)
    print("TOTAL messages=%d failures=%d tps=%.0f avg_rt_ms=%.3f p99_rt_ms=%.3f max_rt_ms=%.3f"
          % (stats.messages, stats.failures, stats.messages / max(elapsed, 1e-9), avg, p99, mx),
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
