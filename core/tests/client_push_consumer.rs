//! The push consumer against a real embedded broker: clustering delivery, queue splitting and
//! takeover without loss, broadcasting, retries of failed messages, orderly consumption.

#[path = "client_support.rs"]
mod support;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rocketmq::client::{
    ConsumeContext, ConsumeResult, Message, MessageExt, MessageModel, PushConsumer, SharedMessages,
};
use support::*;

type Seen = Arc<Mutex<Vec<String>>>;

fn recording_consumer(
    cfg: rocketmq::client::ConsumerConfig,
    topic: &str,
    seen: &Seen,
) -> PushConsumer {
    let c = PushConsumer::new(cfg).unwrap();
    c.subscribe(topic, "*").unwrap();
    let seen = seen.clone();
    c.register_message_listener_concurrently(move |msgs: &[MessageExt], _: &ConsumeContext| {
        let mut s = seen.lock().unwrap();
        for m in msgs {
            s.push(String::from_utf8_lossy(&m.body).to_string());
        }
        ConsumeResult::Success
    });
    c
}

fn distinct(seen: &Seen) -> usize {
    seen.lock().unwrap().iter().collect::<HashSet<_>>().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clustering_consumer_receives_everything_with_tag_filter() {
    let c = cluster().await;
    let ns = c.namesrv_addr();
    create_topic(ns, &[c.broker_addr()], "PushAll", 4).await;
    let p = producer(ns, "pg_push").await;
    for i in 0..50 {
        let tag = if i % 2 == 0 { "A" } else { "B" };
        p.send(Message::new("PushAll", format!("{i}")).with_tags(tag))
            .await
            .unwrap();
    }
    let seen: Seen = Default::default();
    let cons = PushConsumer::new(consumer_config(ns, "cg_push")).unwrap();
    cons.subscribe("PushAll", "A || C").unwrap();
    let s2 = seen.clone();
    cons.register_message_listener_concurrently(
        move |msgs: &[MessageExt], ctx: &ConsumeContext| {
            assert_eq!(ctx.queue.topic, "PushAll");
            for m in msgs {
                assert_eq!(m.tags(), Some("A"));
                s2.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&m.body).to_string());
            }
            ConsumeResult::Success
        },
    );
    cons.start().await.unwrap();
    wait_until("25 tag-A messages", || distinct(&seen) == 25).await;
    // Messages sent while consuming arrive too (long polling wakes up).
    for i in 50..60 {
        p.send(Message::new("PushAll", format!("{i}")).with_tags("A"))
            .await
            .unwrap();
    }
    wait_until("35 tag-A messages", || distinct(&seen) == 35).await;
    assert_eq!(
        cons.assigned_queues()
            .iter()
            .filter(|q| q.topic == "PushAll")
            .count(),
        4
    );
    cons.shutdown().await;
    p.shutdown().await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_consumers_split_queues_and_the_survivor_takes_over_without_loss() {
    let c = cluster().await;
    let ns = c.namesrv_addr();
    create_topic(ns, &[c.broker_addr()], "Split", 8).await;
    let p = producer(ns, "pg_split").await;
    let seen: Seen = Default::default();
    let a = recording_consumer(consumer_config(ns, "cg_split"), "Split", &seen);
    let b = recording_consumer(consumer_config(ns, "cg_split"), "Split", &seen);
    a.start().await.unwrap();
    b.start().await.unwrap();
    let split = |c: &PushConsumer| {
        c.assigned_queues()
            .iter()
            .filter(|q| q.topic == "Split")
            .count()
    };
    wait_until("queues split 4/4", || split(&a) == 4 && split(&b) == 4).await;
    let qa: HashSet<_> = a.assigned_queues().into_iter().collect();
    let qb: HashSet<_> = b.assigned_queues().into_iter().collect();
    assert!(qa.is_disjoint(&qb));

    for i in 0..100 {
        p.send(Message::new("Split", format!("m{i}")))
            .await
            .unwrap();
    }
    wait_until("first 100 consumed", || distinct(&seen) == 100).await;
    b.shutdown().await;
    wait_until("survivor owns all 8 queues", || split(&a) == 8).await;
    for i in 100..200 {
        p.send(Message::new("Split", format!("m{i}")))
            .await
            .unwrap();
    }
    wait_until("all 200 consumed", || distinct(&seen) == 200).await;
    a.shutdown().await;
    p.shutdown().await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasting_delivers_every_message_to_every_consumer() {
    let c = cluster().await;
    let ns = c.namesrv_addr();
    create_topic(ns, &[c.broker_addr()], "Bcast", 4).await;
    let dir = tempfile::tempdir().unwrap();
    let p = producer(ns, "pg_bcast").await;
    let mut consumers = Vec::new();
    let mut seens = Vec::new();
    for _ in 0..2 {
        let mut cfg = consumer_config(ns, "cg_bcast");
        cfg.message_model = MessageModel::Broadcasting;
        cfg.offset_store_dir = Some(dir.path().to_path_buf());
        let seen: Seen = Default::default();
        let cons = recording_consumer(cfg, "Bcast", &seen);
        cons.start().await.unwrap();
        consumers.push(cons);
        seens.push(seen);
    }
    for cons in &consumers {
        wait_until("all queues taken", || cons.assigned_queues().len() == 4).await;
    }
    for i in 0..30 {
        p.send(Message::new("Bcast", format!("{i}"))).await.unwrap();
    }
    for s in &seens {
        wait_until("every consumer sees all 30", || distinct(s) == 30).await;
    }
    for cons in &consumers {
        cons.shutdown().await;
    }
    // Broadcasting offsets live in local files under the configured directory.
    let files: Vec<_> = walk(dir.path());
    assert!(
        files.iter().any(|f| f.ends_with("offsets.json")),
        "{files:?}"
    );
    p.shutdown().await;
    c.shutdown().await;
}

fn walk(p: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path.display().to_string());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_and_panicking_listeners_get_messages_again() {
    let c = cluster().await;
    let ns = c.namesrv_addr();
    // Level 1 = 1 s: retries come back quickly.
    create_topic(ns, &[c.broker_addr()], "Retry", 2).await;
    let p = producer(ns, "pg_retry_c").await;
    let attempts: Arc<Mutex<HashMap<String, Vec<i32>>>> = Default::default();
    let mut cfg = consumer_config(ns, "cg_retry");
    cfg.delay_level_when_next_consume = 1;
    let cons = PushConsumer::new(cfg).unwrap();
    cons.subscribe("Retry", "*").unwrap();
    let a2 = attempts.clone();
    cons.register_message_listener_concurrently(move |msgs: &[MessageExt], _: &ConsumeContext| {
        let m = &msgs[0];
        let body = String::from_utf8_lossy(&m.body).to_string();
        let n = {
            let mut a = a2.lock().unwrap();
            let v = a.entry(body.clone()).or_default();
            v.push(m.reconsume_times);
            v.len()
        };
        assert_eq!(
            m.topic, "Retry",
            "retried messages carry their original topic"
        );
        match (body.as_str(), n) {
            ("fail", 1) => ConsumeResult::ReconsumeLater,
            ("panic", 1) => panic!("listener failure"),
            _ => ConsumeResult::Success,
        }
    });
    cons.start().await.unwrap();
    for b in ["ok", "fail", "panic"] {
        p.send(Message::new("Retry", b)).await.unwrap();
    }
    wait_until("both failures redelivered", || {
        let a = attempts.lock().unwrap();
        a.get("fail").is_some_and(|v| v.len() >= 2) && a.get("panic").is_some_and(|v| v.len() >= 2)
    })
    .await;
    let a = attempts.lock().unwrap().clone();
    assert_eq!(a["ok"].len(), 1);
    assert_eq!(a["fail"][1], 1, "second delivery has reconsume_times 1");
    cons.shutdown().await;
    p.shutdown().await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orderly_consumption_keeps_per_key_order() {
    let c = cluster().await;
    let ns = c.namesrv_addr();
    create_topic(ns, &[c.broker_addr()], "Orderly", 4).await;
    let p = producer(ns, "pg_orderly").await;
    let seen: Arc<Mutex<HashMap<String, Vec<i32>>>> = Default::default();
    let violations = Arc::new(AtomicUsize::new(0));
    let cons = PushConsumer::new(consumer_config(ns, "cg_orderly")).unwrap();
    cons.subscribe("Orderly", "*").unwrap();
    let (s2, fail_once) = (seen.clone(), Arc::new(AtomicUsize::new(0)));
    let queue_busy: Arc<Mutex<HashSet<i32>>> = Default::default();
    let v2 = violations.clone();
    cons.register_message_listener_orderly(move |msgs: &[MessageExt], ctx: &ConsumeContext| {
        // Panics here would only be retried, so count violations instead.
        if !ctx.orderly || !queue_busy.lock().unwrap().insert(ctx.queue.queue_id) {
            v2.fetch_add(1, Ordering::SeqCst);
        }
        std::thread::sleep(Duration::from_millis(1));
        let body = String::from_utf8_lossy(&msgs[0].body).to_string();
        let (key, seq) = body.split_once(':').unwrap();
        let seq: i32 = seq.parse().unwrap();
        let result = if seq == 5 && fail_once.fetch_add(1, Ordering::SeqCst) == 0 {
            ConsumeResult::ReconsumeLater
        } else {
            s2.lock()
                .unwrap()
                .entry(key.to_string())
                .or_default()
                .push(seq);
            ConsumeResult::Success
        };
        queue_busy.lock().unwrap().remove(&ctx.queue.queue_id);
        result
    });
    cons.start().await.unwrap();
    for seq in 0..20 {
        for key in ["k1", "k2", "k3"] {
            p.send_orderly(Message::new("Orderly", format!("{key}:{seq}")), key)
                .await
                .unwrap();
        }
    }
    wait_until("60 in order", || {
        seen.lock()
            .unwrap()
            .values()
            .map(|v| v.len())
            .sum::<usize>()
            == 60
    })
    .await;
    for (k, v) in seen.lock().unwrap().iter() {
        assert_eq!(*v, (0..20).collect::<Vec<_>>(), "order of {k}");
    }
    assert_eq!(
        violations.load(Ordering::SeqCst),
        0,
        "one thread per queue at a time"
    );
    cons.shutdown().await;
    p.shutdown().await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_keeps_going_when_one_of_two_brokers_stops() {
    let c = cluster().await;
    let ns = c.namesrv_addr();
    let dir = tempfile::tempdir().unwrap();
    let b = extra_broker(ns, "broker-b", dir.path()).await;
    create_topic(ns, &[c.broker_addr(), b.addr()], "TwoSides", 2).await;
    let p = producer(ns, "pg_two_sides").await;
    let seen: Seen = Default::default();
    let cons = recording_consumer(consumer_config(ns, "cg_two_sides"), "TwoSides", &seen);
    cons.start().await.unwrap();
    wait_until("queues on both brokers", || {
        cons.assigned_queues()
            .iter()
            .filter(|q| q.topic == "TwoSides")
            .count()
            == 4
    })
    .await;
    for i in 0..20 {
        p.send(Message::new("TwoSides", format!("a{i}")))
            .await
            .unwrap();
    }
    wait_until("first 20 from both brokers", || distinct(&seen) == 20).await;
    b.shutdown().await;
    for i in 0..20 {
        p.send(Message::new("TwoSides", format!("b{i}")))
            .await
            .unwrap();
    }
    wait_until("20 more via the remaining broker", || distinct(&seen) == 40).await;
    cons.shutdown().await;
    p.shutdown().await;
    c.shutdown().await;
}

/// (client, key, sequence number) in consumption order.
type ConsumeLog = Arc<Mutex<Vec<(&'static str, String, i32)>>>;

/// Issue #7: two clients of one group compete for the queues of an orderly topic while messages
/// keep arriving — B joins while A is consuming, later A leaves. The broker's queue locks must
/// keep every queue with one client at a time, and every key's messages must be consumed once
/// each, in the order they were sent, across both hand-overs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_orderly_consumers_compete_and_keep_per_queue_order() {
    const KEYS: [&str; 6] = ["k0", "k1", "k2", "k3", "k4", "k5"];
    const PER_KEY: i32 = 60;
    let c = cluster().await;
    let ns = c.namesrv_addr();
    create_topic(ns, &[c.broker_addr()], "OrderlyCompete", 4).await;
    let p = producer(ns, "pg_orderly_compete").await;

    // One log for both clients: (client, key, seq) in consumption order.
    let log: ConsumeLog = Default::default();
    // Queues being consumed right now, by either client.
    let busy: Arc<Mutex<HashSet<i32>>> = Default::default();
    let overlaps = Arc::new(AtomicUsize::new(0));
    let make = |name: &'static str| {
        let cons = PushConsumer::new(consumer_config(ns, "cg_orderly_compete")).unwrap();
        cons.subscribe("OrderlyCompete", "*").unwrap();
        let (log, busy, overlaps) = (log.clone(), busy.clone(), overlaps.clone());
        cons.register_message_listener_orderly(move |msgs: &[MessageExt], ctx: &ConsumeContext| {
            if !ctx.orderly || !busy.lock().unwrap().insert(ctx.queue.queue_id) {
                overlaps.fetch_add(1, Ordering::SeqCst);
            }
            // Long enough that hand-overs happen while a queue is being consumed.
            std::thread::sleep(Duration::from_millis(2));
            for m in msgs {
                let body = String::from_utf8_lossy(&m.body).to_string();
                let (key, seq) = body.split_once(':').unwrap();
                log.lock()
                    .unwrap()
                    .push((name, key.to_string(), seq.parse().unwrap()));
            }
            busy.lock().unwrap().remove(&ctx.queue.queue_id);
            ConsumeResult::Success
        });
        cons
    };
    let consumed = |log: &ConsumeLog| log.lock().unwrap().len();
    let send_round = |range: std::ops::Range<i32>| {
        let p = &p;
        async move {
            for seq in range {
                for key in KEYS {
                    p.send_orderly(Message::new("OrderlyCompete", format!("{key}:{seq}")), key)
                        .await
                        .unwrap();
                }
            }
        }
    };

    let a = make("a");
    a.start().await.unwrap();
    send_round(0..20).await;
    wait_until("A consumes", || consumed(&log) > 0).await;
    let b = make("b");
    b.start().await.unwrap();
    send_round(20..40).await;
    let owned = |c: &PushConsumer| {
        c.assigned_queues()
            .iter()
            .filter(|q| q.topic == "OrderlyCompete")
            .count()
    };
    wait_until("queues split between A and B", || {
        owned(&a) == 2 && owned(&b) == 2
    })
    .await;
    wait_until("B consumes", || {
        log.lock().unwrap().iter().any(|e| e.0 == "b")
    })
    .await;
    a.shutdown().await;
    send_round(40..PER_KEY).await;
    let total = KEYS.len() * PER_KEY as usize;
    wait_until("every message consumed", || consumed(&log) >= total).await;
    wait_until("B owns all queues", || owned(&b) == 4).await;
    b.shutdown().await;
    p.shutdown().await;
    c.shutdown().await;

    let log = log.lock().unwrap();
    if log.len() != total {
        let mut n: HashMap<(String, i32), Vec<(usize, &str)>> = HashMap::new();
        for (i, e) in log.iter().enumerate() {
            n.entry((e.1.clone(), e.2)).or_default().push((i, e.0));
        }
        let dups: Vec<_> = n.iter().filter(|(_, v)| v.len() > 1).collect();
        panic!("{} consumed, {total} sent; again: {dups:?}", log.len());
    }
    for key in KEYS {
        let seqs: Vec<i32> = log.iter().filter(|e| e.1 == key).map(|e| e.2).collect();
        assert_eq!(seqs, (0..PER_KEY).collect::<Vec<_>>(), "order of {key}");
    }
    let by = |n: &str| log.iter().filter(|e| e.0 == n).count();
    assert!(by("a") > 0 && by("b") > 0, "both clients consumed");
    assert_eq!(
        overlaps.load(Ordering::SeqCst),
        0,
        "one client per queue at a time"
    );
}

/// A listener that takes several deliveries per call (as the Python binding does, to take the
/// GIL once for them): records each call's size and fails the first delivery of "fail-*".
#[derive(Clone, Default)]
struct Grouping {
    calls: Arc<Mutex<Vec<usize>>>,
    attempts: Arc<Mutex<HashMap<String, Vec<i32>>>>,
}

impl rocketmq::client::MessageListener for Grouping {
    fn consume(&self, msgs: &[MessageExt], ctx: &ConsumeContext) -> ConsumeResult {
        self.consume_each(&[(&msgs.into(), ctx)])[0]
    }

    fn consume_each(
        &self,
        deliveries: &[(&SharedMessages, &ConsumeContext)],
    ) -> Vec<ConsumeResult> {
        self.calls.lock().unwrap().push(deliveries.len());
        deliveries
            .iter()
            .map(|(msgs, ctx)| {
                assert!(!ctx.orderly);
                let mut a = self.attempts.lock().unwrap();
                let mut result = ConsumeResult::Success;
                for m in msgs.iter() {
                    let body = String::from_utf8_lossy(&m.body).to_string();
                    let seen = a.entry(body.clone()).or_default();
                    seen.push(m.reconsume_times);
                    if body.starts_with("fail") && seen.len() == 1 {
                        result = ConsumeResult::ReconsumeLater;
                    }
                }
                result
            })
            .collect()
    }

    fn max_deliveries_per_call(&self) -> usize {
        8
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_deliveries_reach_a_grouping_listener_together_and_each_result_counts() {
    let c = cluster().await;
    let ns = c.namesrv_addr();
    create_topic(ns, &[c.broker_addr()], "Grouped", 2).await;
    let p = producer(ns, "pg_grouped").await;
    let bodies: Vec<String> = (0..120)
        .map(|i| {
            if i % 40 == 7 {
                format!("fail-{i}")
            } else {
                format!("ok-{i}")
            }
        })
        .collect();
    for b in &bodies {
        p.send(Message::new("Grouped", b.clone())).await.unwrap();
    }
    // A backlog: each pull brings up to 32 deliveries (one message each) for 2 threads.
    let mut cfg = consumer_config(ns, "cg_grouped");
    cfg.consume_thread_nums = 2;
    cfg.delay_level_when_next_consume = 1;
    cfg.consume_from_where = rocketmq::client::ConsumeFromWhere::FirstOffset;
    let cons = PushConsumer::new(cfg).unwrap();
    cons.subscribe("Grouped", "*").unwrap();
    let listener = Grouping::default();
    cons.register_message_listener_concurrently(listener.clone());
    cons.start().await.unwrap();
    wait_until("every message consumed, the failed ones again", || {
        let a = listener.attempts.lock().unwrap();
        bodies.iter().all(|b| {
            a.get(b)
                .is_some_and(|v| v.len() >= if b.starts_with("fail") { 2 } else { 1 })
        })
    })
    .await;
    cons.shutdown().await;
    let a = listener.attempts.lock().unwrap().clone();
    for b in &bodies {
        if b.starts_with("fail") {
            assert_eq!(
                a[b],
                vec![0, 1],
                "{b}: failed once in a group, then redelivered"
            );
        } else {
            assert_eq!(
                a[b],
                vec![0],
                "{b}: consumed once, its group's failures are not its own"
            );
        }
    }
    let calls = listener.calls.lock().unwrap().clone();
    assert!(calls.iter().all(|&n| (1..=8).contains(&n)), "{calls:?}");
    assert!(
        calls.iter().any(|&n| n > 1),
        "queued deliveries were never handed over together: {calls:?}"
    );
    p.shutdown().await;
    c.shutdown().await;
}
