//! The blocking facade (as bindings use it, from plain threads) and the bench library.

#[path = "client_support.rs"]
mod support;

use std::collections::HashSet;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rocketmq::client::bench::{self, BenchConfig, BenchMode};
use rocketmq::client::blocking::{self, LitePullConsumer, Producer, PushConsumer};
use rocketmq::client::lite_pull_consumer::LitePullConfig;
use rocketmq::client::{ConsumeContext, ConsumeFromWhere, ConsumeResult, Message, MessageExt};
use rocketmq::embedded::{EmbeddedCluster, EmbeddedConfig};

fn cluster() -> EmbeddedCluster {
    blocking::runtime()
        .block_on(EmbeddedCluster::start(EmbeddedConfig::default()))
        .unwrap()
}

fn wait(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + support::DEADLINE;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn blocking_clients_work_from_plain_threads_and_callbacks() {
    let c = cluster();
    let ns = c.namesrv_addr();
    blocking::block_on(support::create_topic(ns, &[c.broker_addr()], "Blocking", 2));

    let p = Producer::new(support::producer_config(ns, "pg_blocking")).unwrap();
    p.start().unwrap();
    let r = p.send(Message::new("Blocking", "one")).unwrap();
    assert_eq!(r.msg_id.len(), 32);

    // A callback may itself make blocking calls (it runs on a runtime thread).
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let p2 = p.clone();
    p.send_async(
        Message::new("Blocking", "two"),
        Box::new(move |r| {
            let nested = p2.send(Message::new("Blocking", "three"));
            tx.lock()
                .unwrap()
                .send((r.is_ok(), nested.is_ok()))
                .unwrap();
        }),
    )
    .unwrap();
    assert_eq!(rx.recv_timeout(support::DEADLINE).unwrap(), (true, true));
    p.send_oneway(Message::new("Blocking", "four")).unwrap();
    p.send_batch(vec![
        Message::new("Blocking", "five"),
        Message::new("Blocking", "six"),
    ])
    .unwrap();

    let seen: Arc<Mutex<HashSet<String>>> = Default::default();
    let mut cfg = support::consumer_config(ns, "cg_blocking");
    cfg.consume_from_where = ConsumeFromWhere::FirstOffset;
    let cons = PushConsumer::new(cfg).unwrap();
    cons.subscribe("Blocking", "*").unwrap();
    let s2 = seen.clone();
    cons.register_message_listener_concurrently(Box::new(
        move |msgs: &[MessageExt], _: &ConsumeContext| {
            for m in msgs {
                s2.lock()
                    .unwrap()
                    .insert(String::from_utf8_lossy(&m.body).into());
            }
            ConsumeResult::Success
        },
    ));
    cons.start().unwrap();
    wait("six messages pushed", || seen.lock().unwrap().len() == 6);
    cons.shutdown();

    let mut lcfg = LitePullConfig::new(&ns.to_string(), "cg_blocking_lite");
    lcfg.consumer.consume_from_where = ConsumeFromWhere::FirstOffset;
    let lite = LitePullConsumer::new(lcfg).unwrap();
    lite.subscribe("Blocking", "*").unwrap();
    lite.start().unwrap();
    let mut got = 0;
    wait("six messages polled", || {
        got += lite.poll(Duration::from_millis(200)).unwrap().len();
        got == 6
    });
    lite.commit_sync().unwrap();
    lite.shutdown();
    p.shutdown();
    blocking::block_on(c.shutdown());
}

#[test]
fn bench_reports_send_and_consume_rates() {
    let c = cluster();
    // The topic exists before the consumer starts, so its first rebalance finds the queues.
    blocking::block_on(support::create_topic(
        c.namesrv_addr(),
        &[c.broker_addr()],
        "BenchTopic",
        4,
    ));
    let ns = c.namesrv_addr().to_string();
    let consumer = std::thread::spawn({
        let ns = ns.clone();
        move || {
            bench::run_blocking(BenchConfig {
                namesrv_addr: ns,
                topic: "BenchTopic".into(),
                group: "bench_consumer".into(),
                mode: BenchMode::Consumer,
                threads: 2,
                duration: Duration::from_secs(4),
                ..Default::default()
            })
            .unwrap()
        }
    });
    let sent = bench::run_blocking(BenchConfig {
        namesrv_addr: ns.clone(),
        topic: "BenchTopic".into(),
        mode: BenchMode::Producer,
        threads: 2,
        message_size_bytes: 1024,
        duration: Duration::from_secs(2),
        ..Default::default()
    })
    .unwrap();
    assert!(sent.messages > 0);
    assert_eq!(sent.failures, 0);
    assert!(sent.max_rt_ms >= sent.p99_rt_ms && sent.p99_rt_ms >= 0.0);
    let batched = bench::run_blocking(BenchConfig {
        namesrv_addr: ns.clone(),
        topic: "BenchTopic".into(),
        batch_size: 16,
        duration: Duration::from_secs(1),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(batched.messages % 16, 0);
    // Senders as OS threads making blocking sends, as the bindings do: every send they count
    // is in the store.
    blocking::block_on(support::create_topic(
        c.namesrv_addr(),
        &[c.broker_addr()],
        "BenchBlocking",
        4,
    ));
    let threaded = bench::run_blocking(BenchConfig {
        namesrv_addr: ns,
        topic: "BenchBlocking".into(),
        group: "bench_blocking".into(),
        threads: 3,
        blocking: true,
        duration: Duration::from_secs(1),
        ..Default::default()
    })
    .unwrap();
    assert!(threaded.messages > 0);
    assert_eq!(threaded.failures, 0);
    let store = &c.broker().unwrap().inner().store;
    let stored: i64 = (0..4)
        .map(|q| store.max_offset_in_queue("BenchBlocking", q))
        .sum();
    assert_eq!(stored as u64, threaded.messages);
    let received = consumer.join().unwrap();
    assert!(
        received.messages > 0,
        "the consumer saw the benchmark traffic"
    );
    blocking::block_on(c.shutdown());
}

/// The performance target: one synchronous producer, 1 KiB messages, ≥ 5,000 msg/s against a
/// local broker. Meaningful only in release builds:
/// `cargo test --release --test client_blocking_and_bench -- --ignored --nocapture`.
#[test]
#[ignore]
fn single_sync_producer_throughput() {
    let c = cluster();
    let report = bench::run_blocking(BenchConfig {
        namesrv_addr: c.namesrv_addr().to_string(),
        topic: "PerfTopic".into(),
        threads: 1,
        message_size_bytes: 1024,
        duration: Duration::from_secs(5),
        ..Default::default()
    })
    .unwrap();
    blocking::block_on(c.shutdown());
    assert!(report.tps >= 5000.0, "{report:?}");
}

struct NeverAsked;
impl rocketmq::client::TransactionListener for NeverAsked {
    fn execute_local_transaction(
        &self,
        _: &Message,
        _: &rocketmq::client::SendResult,
    ) -> rocketmq::client::LocalTransactionState {
        rocketmq::client::LocalTransactionState::RollbackMessage
    }
    fn check_local_transaction(&self, _: &MessageExt) -> rocketmq::client::LocalTransactionState {
        rocketmq::client::LocalTransactionState::RollbackMessage
    }
}

#[test]
fn blocking_transaction_with_a_per_call_local_transaction() {
    use rocketmq::client::LocalTransactionState;
    let c = cluster();
    let ns = c.namesrv_addr();
    blocking::block_on(support::create_topic(
        ns,
        &[c.broker_addr()],
        "BlockingTx",
        1,
    ));
    let tp = blocking::TransactionProducer::new(
        support::producer_config(ns, "pg_blocking_tx"),
        std::sync::Arc::new(NeverAsked),
    )
    .unwrap();
    tp.start().unwrap();
    let r = tp
        .send_message_in_transaction_with(
            Message::new("BlockingTx", "per-call"),
            Box::new(|m, _| {
                assert_eq!(m.property("TRAN_MSG"), Some("true"));
                LocalTransactionState::CommitMessage
            }),
        )
        .unwrap();
    assert_eq!(r.local_state, LocalTransactionState::CommitMessage);
    tp.send_message_in_transaction(Message::new("BlockingTx", "listener-rolls-back"))
        .unwrap();
    let mut lcfg = LitePullConfig::new(&ns.to_string(), "cg_blocking_tx");
    lcfg.consumer.consume_from_where = ConsumeFromWhere::FirstOffset;
    let lite = LitePullConsumer::new(lcfg).unwrap();
    lite.subscribe("BlockingTx", "*").unwrap();
    lite.start().unwrap();
    let mut got = Vec::new();
    wait("committed message", || {
        got.extend(lite.poll(Duration::from_millis(200)).unwrap());
        !got.is_empty()
    });
    assert_eq!(&got[0].body[..], b"per-call");
    assert!(lite.poll(Duration::from_millis(500)).unwrap().is_empty());
    lite.shutdown();
    tp.shutdown();
    blocking::block_on(c.shutdown());
}
