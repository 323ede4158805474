/*
 * Load driver for bench/compare built on the genuine Apache RocketMQ 4.9.x Java
 * client. RocketMQ's own benchmark classes are not on Maven Central, so this
 * reproduces their load shape (DefaultMQProducer with compression off, N
 * threads each doing blocking sends or blocking batch sends, a push consumer
 * with N consume threads) and prints the same lines as `rocketmq bench`, so
 * that bench/compare parses both tools alike.
 *
 *   CompareBench topics   -n NS -a BROKER_ADDR -q QUEUES TOPIC...
 *   CompareBench producer -n NS -t TOPIC -g GROUP -w THREADS -s SIZE -b BATCH -d SECS
 *   CompareBench consumer -n NS -t TOPIC -g GROUP -w THREADS -d MAX_SECS [-i IDLE_SECS]
 *
 * Producer output: one "Send TPS: ..." line a second, then
 *   TOTAL messages=N failures=N tps=X avg_rt_ms=X p99_rt_ms=X max_rt_ms=X
 * (RT per send call, measured with System.nanoTime; each sender's first send,
 * which loads the client, is sent before the clock starts and not counted).
 * Consumer output: "READY" once queues are assigned, one "Consume TPS: ..."
 * line a second, then
 *   TOTAL messages=N failures=0 tps=X avg_rt_ms=X p99_rt_ms=X max_rt_ms=X
 *         s2c_p50_ms=X s2c_p99_ms=X s2c_max_ms=X b2c_avg_ms=X b2c_p99_ms=X
 * where s2c is receipt time minus the broker's store timestamp and b2c (and
 * the *_rt_ms fields, as `rocketmq bench` reports them) is receipt time minus
 * the producer's born timestamp; both in whole milliseconds, as the wire
 * carries them. The consumer stops after MAX_SECS, or once IDLE_SECS pass
 * without a message after the first one arrived.
 */

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.TopicConfig;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.protocol.route.TopicRouteData;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

public final class CompareBench {

    /**
     * Lock-free latency histogram over microseconds: 1 us buckets below 1 ms,
     * 10 us up to 100 ms, 1 ms up to 100 s, one overflow bucket beyond; the
     * exact maximum is kept apart. Percentiles are a bucket's lower bound.
     */
    static final class Histogram {
        private static final int FINE = 1_000;
        private static final int MID = FINE + (100_000 - 1_000) / 10;
        private static final int COARSE = MID + (100_000_000 - 100_000) / 1_000;
        private final AtomicLongArray buckets = new AtomicLongArray(COARSE + 1);
        private final AtomicLong count = new AtomicLong();
        private final AtomicLong sum = new AtomicLong();
        private final AtomicLong max = new AtomicLong();

        static int bucket(long us) {
            if (us < 1_000) {
                return (int) Math.max(us, 0);
            }
            if (us < 100_000) {
                return FINE + (int) ((us - 1_000) / 10);
            }
            if (us < 100_000_000) {
                return MID + (int) ((us - 100_000) / 1_000);
            }
            return COARSE;
        }

        static long lowerBound(int b) {
            if (b < FINE) {
                return b;
            }
            if (b < MID) {
                return 1_000 + (long) (b - FINE) * 10;
            }
            if (b < COARSE) {
                return 100_000 + (long) (b - MID) * 1_000;
            }
            return 100_000_000;
        }

        void record(long us) {
            buckets.incrementAndGet(bucket(us));
            count.incrementAndGet();
            sum.addAndGet(us);
            long prev = max.get();
            while (us > prev && !max.compareAndSet(prev, us)) {
                prev = max.get();
            }
        }

        long count() {
            return count.get();
        }

        double avgMs() {
            long n = count.get();
            return n == 0 ? 0 : sum.get() / (double) n / 1000.0;
        }

        double maxMs() {
            return max.get() / 1000.0;
        }

        /** The q-quantile (0..1) in ms: the lower bound of the bucket holding it. */
        double quantileMs(double q) {
            long n = count.get();
            if (n == 0) {
                return 0;
            }
            long rank = Math.max(1, (long) Math.ceil(n * q));
            long seen = 0;
            for (int b = 0; b < buckets.length(); b++) {
                seen += buckets.get(b);
                if (seen >= rank) {
                    return Math.min(lowerBound(b), max.get()) / 1000.0;
                }
            }
            return maxMs();
        }
    }

    private static Map<String, String> flags(String[] args, int from, List<String> rest) {
        Map<String, String> m = new HashMap<>();
        for (int i = from; i < args.length; i++) {
            String a = args[i];
            if (a.startsWith("-") && a.length() == 2 && i + 1 < args.length) {
                m.put(a.substring(1), args[++i]);
            } else {
                rest.add(a);
            }
        }
        return m;
    }

    private static int intFlag(Map<String, String> f, String k, int dflt) {
        return f.containsKey(k) ? Integer.parseInt(f.get(k)) : dflt;
    }

    private static String need(Map<String, String> f, String k) {
        String v = f.get(k);
        if (v == null) {
            System.err.println("CompareBench: -" + k + " is required");
            System.exit(2);
        }
        return v;
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            System.err.println("usage: CompareBench topics|producer|consumer [flags] (see the source header)");
            System.exit(2);
        }
        List<String> rest = new ArrayList<>();
        Map<String, String> f = flags(args, 1, rest);
        switch (args[0]) {
            case "topics":
                topics(need(f, "n"), need(f, "a"), intFlag(f, "q", 8), rest);
                break;
            case "producer":
                producer(need(f, "n"), need(f, "t"), f.getOrDefault("g", "benchmark_producer"),
                    intFlag(f, "w", 1), intFlag(f, "s", 1024), intFlag(f, "b", 1), intFlag(f, "d", 10));
                break;
            case "consumer":
                consumer(need(f, "n"), need(f, "t"), f.getOrDefault("g", "benchmark_consumer"),
                    intFlag(f, "w", 20), intFlag(f, "d", 60), intFlag(f, "i", 3));
                break;
            default:
                System.err.println("CompareBench: unknown mode " + args[0]);
                System.exit(2);
        }
        System.exit(0);
    }

    /** Creates each topic with QUEUES read/write queues on the broker, then waits for its route. */
    static void topics(String ns, String brokerAddr, int queues, List<String> topics) throws Exception {
        DefaultMQAdminExt admin = new DefaultMQAdminExt();
        admin.setNamesrvAddr(ns);
        admin.setInstanceName("compare_admin_" + System.nanoTime());
        admin.start();
        try {
            for (String t : topics) {
                admin.createAndUpdateTopicConfig(brokerAddr, new TopicConfig(t, queues, queues, 6));
            }
            long deadline = System.currentTimeMillis() + 60_000;
            for (String t : topics) {
                while (true) {
                    try {
                        TopicRouteData r = admin.examineTopicRouteInfo(t);
                        if (r != null && !r.getQueueDatas().isEmpty()) {
                            break;
                        }
                    } catch (Exception notYet) {
                        // the broker has not re-registered with the name server yet
                    }
                    if (System.currentTimeMillis() > deadline) {
                        throw new IllegalStateException("no route for topic " + t + " after 60 s");
                    }
                    Thread.sleep(100);
                }
            }
            System.out.println("TOPICS " + topics.size());
        } finally {
            admin.shutdown();
        }
    }

    private static byte[] body(int size) {
        String alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        byte[] b = new byte[size];
        ThreadLocalRandom r = ThreadLocalRandom.current();
        for (int i = 0; i < size; i++) {
            b[i] = (byte) alnum.charAt(r.nextInt(alnum.length()));
        }
        return b;
    }

    private static String fmt(double v) {
        return String.format("%.3f", v);
    }

    static void producer(String ns, String topic, String group, int threads, int size, int batch, int secs)
        throws Exception {
        DefaultMQProducer producer = new DefaultMQProducer(group);
        producer.setNamesrvAddr(ns);
        producer.setInstanceName("compare_" + System.nanoTime());
        // As RocketMQ's benchmark producer: measure the transport, not zlib.
        producer.setCompressMsgBodyOverHowmuch(Integer.MAX_VALUE);
        producer.start();
        final byte[] body = body(size);
        final Histogram all = new Histogram();
        final AtomicLong messages = new AtomicLong();
        final AtomicLong failures = new AtomicLong();
        final AtomicBoolean stop = new AtomicBoolean();
        // Each sender's first send is not measured: it pays for the route
        // lookup, the connection and the loading of most of the client's
        // classes, seconds on a loaded 2-core machine, none of it the broker's
        // work (`rocketmq bench` pays the same in milliseconds).
        final CountDownLatch warmed = new CountDownLatch(threads);
        final CountDownLatch go = new CountDownLatch(1);
        List<Thread> senders = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Thread th = new Thread(() -> {
                long warmDeadline = System.nanoTime() + 60_000_000_000L;
                while (true) {
                    try {
                        producer.send(new Message(topic, body));
                        break;
                    } catch (Exception e) {
                        if (System.nanoTime() > warmDeadline) {
                            System.err.println("warm-up send failed: " + e);
                            break;
                        }
                    }
                }
                warmed.countDown();
                try {
                    go.await();
                } catch (InterruptedException ie) {
                    return;
                }
                while (!stop.get()) {
                    long t0 = System.nanoTime();
                    try {
                        SendResult r;
                        if (batch == 1) {
                            r = producer.send(new Message(topic, body));
                        } else {
                            List<Message> msgs = new ArrayList<>(batch);
                            for (int i = 0; i < batch; i++) {
                                msgs.add(new Message(topic, body));
                            }
                            r = producer.send(msgs);
                        }
                        if (r.getSendStatus() != SendStatus.SEND_OK) {
                            throw new IllegalStateException("send status " + r.getSendStatus());
                        }
                        all.record((System.nanoTime() - t0) / 1_000);
                        messages.addAndGet(batch);
                    } catch (Exception e) {
                        if (failures.incrementAndGet() <= 5) {
                            System.err.println("send failed: " + e);
                        }
                        try {
                            Thread.sleep(10);
                        } catch (InterruptedException ie) {
                            return;
                        }
                    }
                }
            }, "sender-" + t);
            th.setDaemon(true);
            th.start();
            senders.add(th);
        }
        warmed.await();
        final long start = System.nanoTime();
        final long end = start + secs * 1_000_000_000L;
        go.countDown();
        long last = 0;
        long lastCalls = 0;
        double lastSumMs = 0;
        long tick = System.nanoTime();
        while (System.nanoTime() < end) {
            long sleepNs = Math.max(1_000_000L, Math.min(1_000_000_000L, end - System.nanoTime()));
            Thread.sleep(sleepNs / 1_000_000);
            long now = messages.get();
            long calls = all.count();
            double sumMs = all.avgMs() * calls;
            double dt = Math.max(1e-9, (System.nanoTime() - tick) / 1e9);
            tick = System.nanoTime();
            double avg = calls > lastCalls ? (sumMs - lastSumMs) / (calls - lastCalls) : 0;
            System.out.println("Send TPS: " + Math.round((now - last) / dt) + " Average RT(ms): " + fmt(avg)
                + " Failed: " + failures.get());
            last = now;
            lastCalls = calls;
            lastSumMs = sumMs;
        }
        stop.set(true);
        for (Thread th : senders) {
            th.join(10_000);
        }
        double elapsed = (System.nanoTime() - start) / 1e9;
        producer.shutdown();
        long n = messages.get();
        System.out.println("TOTAL messages=" + n + " failures=" + failures.get() + " tps=" + Math.round(n / elapsed)
            + " avg_rt_ms=" + fmt(all.avgMs()) + " p99_rt_ms=" + fmt(all.quantileMs(0.99))
            + " max_rt_ms=" + fmt(all.maxMs()));
    }

    static void consumer(String ns, String topic, String group, int threads, int maxSecs, int idleSecs)
        throws Exception {
        final long start = System.nanoTime();
        final Histogram s2c = new Histogram();
        final Histogram b2c = new Histogram();
        final AtomicLong lastReceiptNs = new AtomicLong();
        DefaultMQPushConsumer consumer = new DefaultMQPushConsumer(group);
        consumer.setNamesrvAddr(ns);
        consumer.setInstanceName("compare_" + System.nanoTime());
        consumer.setConsumeThreadMin(threads);
        consumer.setConsumeThreadMax(threads);
        consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            long now = System.currentTimeMillis();
            for (MessageExt m : msgs) {
                s2c.record(Math.max(0, now - m.getStoreTimestamp()) * 1_000);
                b2c.record(Math.max(0, now - m.getBornTimestamp()) * 1_000);
            }
            lastReceiptNs.set(System.nanoTime());
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        consumer.start();
        long readyDeadline = System.nanoTime() + 30_000_000_000L;
        while (consumer.getDefaultMQPushConsumerImpl().getRebalanceImpl().getProcessQueueTable().isEmpty()) {
            if (System.nanoTime() > readyDeadline) {
                System.err.println("consumer: no queue assigned after 30 s");
                consumer.shutdown();
                System.exit(1);
            }
            Thread.sleep(50);
        }
        System.out.println("READY");
        final long end = start + maxSecs * 1_000_000_000L;
        long last = 0;
        long tick = System.nanoTime();
        while (System.nanoTime() < end) {
            Thread.sleep(1_000);
            long now = s2c.count();
            double dt = Math.max(1e-9, (System.nanoTime() - tick) / 1e9);
            tick = System.nanoTime();
            System.out.println("Consume TPS: " + Math.round((now - last) / dt) + " Average(B2C) RT(ms): "
                + fmt(b2c.avgMs()) + " Average(S2C) RT(ms): " + fmt(s2c.avgMs()) + " Failed: 0");
            last = now;
            long lr = lastReceiptNs.get();
            if (lr != 0 && System.nanoTime() - lr > idleSecs * 1_000_000_000L) {
                break;
            }
        }
        consumer.shutdown();
        long n = s2c.count();
        double elapsed = (System.nanoTime() - start) / 1e9;
        System.out.println("TOTAL messages=" + n + " failures=0 tps=" + Math.round(n / elapsed)
            + " avg_rt_ms=" + fmt(b2c.avgMs()) + " p99_rt_ms=" + fmt(b2c.quantileMs(0.99))
            + " max_rt_ms=" + fmt(b2c.maxMs())
            + " s2c_p50_ms=" + fmt(s2c.quantileMs(0.50)) + " s2c_p99_ms=" + fmt(s2c.quantileMs(0.99))
            + " s2c_max_ms=" + fmt(s2c.maxMs())
            + " b2c_avg_ms=" + fmt(b2c.avgMs()) + " b2c_p99_ms=" + fmt(b2c.quantileMs(0.99)));
    }
}
