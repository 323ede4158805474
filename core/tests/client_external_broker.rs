//! The client against an external broker — genuine Apache RocketMQ 4.9.x from
//! `tests/java-broker/start.sh`, or our `rocketmq serve`. Skipped unless both are set:
//!
//! ```text
//! ROCKETMQ_NAMESRV=127.0.0.1:<port> ROCKETMQ_BROKER=127.0.0.1:<port> \
//!     cargo test --test client_external_broker
//! ```
//! The transaction test needs `transactionCheckInterval=1000 transactionTimeOut=1000`
//! (`start.sh --set ...`). Names carry a per-run suffix, so a kept store does not interfere.
//!
//! The ACL test runs against a broker started with `--set aclEnable=true` and
//! `EXTRA_JAVA_OPTS=-Drocketmq.acl.plain.file=<path relative to tests/java-broker>` naming a
//! `plain_acl.yml` with an admin account, plus `ROCKETMQ_ACL=<accessKey>:<secretKey>`.

#[path = "client_support.rs"]
mod support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rocketmq::client::lite_pull_consumer::LitePullConfig;
use rocketmq::client::{
    ConsumeContext, ConsumeFromWhere, ConsumeResult, LitePullConsumer, LocalTransactionState,
    Message, MessageExt, PushConsumer, SendResult, SendStatus, TransactionListener,
    TransactionProducer,
};
use support::*;

fn target() -> Option<(SocketAddr, SocketAddr)> {
    let ns = std::env::var("ROCKETMQ_NAMESRV").ok()?.parse().ok()?;
    let broker = std::env::var("ROCKETMQ_BROKER").ok()?.parse().ok()?;
    Some((ns, broker))
}

fn unique(name: &str) -> String {
    format!("{name}_{}", rocketmq::protocol::now_ms() % 100_000_000)
}

macro_rules! target_or_skip {
    () => {
        match target() {
            Some(t) => t,
            None => {
                eprintln!("skipped: set ROCKETMQ_NAMESRV and ROCKETMQ_BROKER");
                return;
            }
        }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_send_modes_and_push_consume() {
    let (ns, broker) = target_or_skip!();
    let topic = unique("ExtSend");
    create_topic(ns, &[broker], &topic, 4).await;
    let p = producer(ns, &unique("pg_ext")).await;
    let mut sent = HashSet::new();
    for i in 0..20 {
        let r = p
            .send(Message::new(topic.as_str(), format!("s{i}")).with_tags("A"))
            .await
            .unwrap();
        assert_eq!(r.status, SendStatus::SendOk);
        sent.insert(format!("s{i}"));
    }
    let batch = (0..10)
        .map(|i| Message::new(topic.as_str(), format!("b{i}")).with_tags("A"))
        .collect();
    let r = p.send_batch(batch).await.unwrap();
    assert_eq!(r.msg_id.split(',').count(), 10);
    sent.extend((0..10).map(|i| format!("b{i}")));
    let big = "x".repeat(20_000);
    p.send(Message::new(topic.as_str(), big.clone()).with_tags("A"))
        .await
        .unwrap();
    sent.insert(big);
    p.send_oneway(Message::new(topic.as_str(), "skipped").with_tags("B"))
        .await
        .unwrap();

    let seen: Arc<Mutex<HashSet<String>>> = Default::default();
    let cons = PushConsumer::new(consumer_config(ns, &unique("cg_ext"))).unwrap();
    cons.subscribe(&topic, "A").unwrap();
    let s2 = seen.clone();
    cons.register_message_listener_concurrently(move |msgs: &[MessageExt], _: &ConsumeContext| {
        for m in msgs {
            assert_eq!(m.tags(), Some("A"));
            s2.lock()
                .unwrap()
                .insert(String::from_utf8_lossy(&m.body).into());
        }
        ConsumeResult::Success
    });
    cons.start().await.unwrap();
    wait_until("every tag-A message", || *seen.lock().unwrap() == sent).await;
    cons.shutdown().await;
    p.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_retry_orderly_and_lite_pull() {
    let (ns, broker) = target_or_skip!();
    let topic = unique("ExtRetry");
    create_topic(ns, &[broker], &topic, 2).await;
    let p = producer(ns, &unique("pg_ext2")).await;

    // A failed message comes back through the broker's retry topic.
    let attempts = Arc::new(AtomicUsize::new(0));
    let mut cfg = consumer_config(ns, &unique("cg_ext_retry"));
    cfg.delay_level_when_next_consume = 1;
    let cons = PushConsumer::new(cfg).unwrap();
    cons.subscribe(&topic, "*").unwrap();
    let a2 = attempts.clone();
    cons.register_message_listener_concurrently(move |msgs: &[MessageExt], _: &ConsumeContext| {
        assert!(msgs[0].topic.starts_with("ExtRetry"));
        if a2.fetch_add(1, Ordering::SeqCst) == 0 {
            ConsumeResult::ReconsumeLater
        } else {
            ConsumeResult::Success
        }
    });
    cons.start().await.unwrap();
    p.send(Message::new(topic.as_str(), "again")).await.unwrap();
    wait_until("redelivery", || attempts.load(Ordering::SeqCst) >= 2).await;
    cons.shutdown().await;

    // Orderly consumption under broker locks.
    let order: Arc<Mutex<Vec<i32>>> = Default::default();
    let ocons = PushConsumer::new(consumer_config(ns, &unique("cg_ext_orderly"))).unwrap();
    ocons.subscribe(&topic, "*").unwrap();
    let o2 = order.clone();
    ocons.register_message_listener_orderly(move |msgs: &[MessageExt], _: &ConsumeContext| {
        for m in msgs {
            if let Some(n) = String::from_utf8_lossy(&m.body).strip_prefix("o") {
                o2.lock().unwrap().push(n.parse().unwrap());
            }
        }
        ConsumeResult::Success
    });
    ocons.start().await.unwrap();
    for i in 0..30 {
        p.send_orderly(Message::new(topic.as_str(), format!("o{i}")), "key")
            .await
            .unwrap();
    }
    wait_until("30 ordered", || order.lock().unwrap().len() == 30).await;
    assert_eq!(*order.lock().unwrap(), (0..30).collect::<Vec<_>>());
    ocons.shutdown().await;

    // Lite pull: poll, commit, seek.
    let mut lcfg = LitePullConfig::new(&ns.to_string(), &unique("cg_ext_lite"));
    lcfg.auto_commit = false;
    lcfg.consumer.consume_from_where = ConsumeFromWhere::FirstOffset;
    let lite = LitePullConsumer::new(lcfg).unwrap();
    lite.subscribe(&topic, "*").unwrap();
    lite.start().await.unwrap();
    let mut got = 0;
    let deadline = std::time::Instant::now() + DEADLINE;
    while got < 31 {
        assert!(std::time::Instant::now() < deadline, "polled {got}");
        got += lite.poll(Duration::from_millis(500)).await.unwrap().len();
    }
    lite.commit_sync().await.unwrap();
    let qs = lite.assignment();
    let mut committed = 0;
    let mut non_empty = None;
    for q in &qs {
        let c = lite.committed(q).await;
        if c > 0 {
            non_empty = Some(q.clone());
        }
        committed += c;
    }
    assert_eq!(committed, 31);
    // Seek back on a queue that has messages (round robin may leave one empty).
    lite.seek_to_begin(&non_empty.unwrap()).await.unwrap();
    let again = lite.poll(Duration::from_secs(5)).await.unwrap();
    assert_eq!(again.first().map(|m| m.queue_offset), Some(0));
    lite.shutdown().await;
    p.shutdown().await;
}

struct Tx(AtomicUsize);
impl TransactionListener for Tx {
    fn execute_local_transaction(&self, m: &Message, _: &SendResult) -> LocalTransactionState {
        match &m.body[..] {
            b"commit" => LocalTransactionState::CommitMessage,
            b"rollback" => LocalTransactionState::RollbackMessage,
            _ => LocalTransactionState::Unknown,
        }
    }
    fn check_local_transaction(&self, _: &MessageExt) -> LocalTransactionState {
        self.0.fetch_add(1, Ordering::SeqCst);
        LocalTransactionState::CommitMessage
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_transactions() {
    let (ns, broker) = target_or_skip!();
    let topic = unique("ExtTx");
    create_topic(ns, &[broker], &topic, 1).await;
    let listener = Arc::new(Tx(AtomicUsize::new(0)));
    let tp = TransactionProducer::new(producer_config(ns, &unique("pg_ext_tx")), listener.clone())
        .unwrap();
    tp.start().await.unwrap();
    for b in ["commit", "rollback", "unknown"] {
        tp.send_message_in_transaction(Message::new(topic.as_str(), b))
            .await
            .unwrap();
    }
    let mut lcfg = LitePullConfig::new(&ns.to_string(), &unique("cg_ext_tx"));
    lcfg.consumer.consume_from_where = ConsumeFromWhere::FirstOffset;
    let lite = LitePullConsumer::new(lcfg).unwrap();
    lite.subscribe(&topic, "*").unwrap();
    lite.start().await.unwrap();
    let mut bodies = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while bodies.len() < 2 {
        assert!(std::time::Instant::now() < deadline, "got {bodies:?}");
        for m in lite.poll(Duration::from_millis(500)).await.unwrap() {
            bodies.push(String::from_utf8_lossy(&m.body).to_string());
        }
    }
    bodies.sort();
    assert_eq!(bodies, vec!["commit", "unknown"]);
    assert!(listener.0.load(Ordering::SeqCst) >= 1);
    lite.shutdown().await;
    tp.shutdown().await;
}

/// With `ROCKETMQ_ACL=<accessKey>:<secretKey>` the external broker runs with `aclEnable=true`
/// and an admin account of those credentials: signed requests pass, a wrong secret fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_acl_signatures() {
    let (ns, _broker) = target_or_skip!();
    let Some((ak, sk)) = std::env::var("ROCKETMQ_ACL").ok().and_then(|v| {
        v.split_once(':')
            .map(|(a, s)| (a.to_string(), s.to_string()))
    }) else {
        eprintln!("skipped: set ROCKETMQ_ACL=<accessKey>:<secretKey>");
        return;
    };
    let creds = |secret: &str| rocketmq::client::Credentials {
        access_key: ak.clone(),
        secret_key: secret.to_string(),
        security_token: None,
    };
    let topic = unique("ExtAcl");
    let mut pcfg = producer_config(ns, &unique("pg_acl"));
    pcfg.client.credentials = Some(creds(&sk));
    let p = rocketmq::client::Producer::new(pcfg).unwrap();
    p.start().await.unwrap();
    for i in 0..5 {
        p.send(Message::new(topic.as_str(), format!("{i}")))
            .await
            .expect("signed send is accepted");
    }
    p.send_batch(vec![Message::new(topic.as_str(), "b")])
        .await
        .expect("signed batch is accepted");

    let mut lcfg = LitePullConfig::new(&ns.to_string(), &unique("cg_acl"));
    lcfg.consumer.client.credentials = Some(creds(&sk));
    lcfg.consumer.consume_from_where = ConsumeFromWhere::FirstOffset;
    let lite = LitePullConsumer::new(lcfg).unwrap();
    lite.subscribe(&topic, "*").unwrap();
    lite.start().await.unwrap();
    let mut got = 0;
    let deadline = std::time::Instant::now() + DEADLINE;
    while got < 6 {
        assert!(std::time::Instant::now() < deadline, "polled {got}");
        got += lite.poll(Duration::from_millis(500)).await.unwrap().len();
    }
    lite.shutdown().await;

    let mut bad = producer_config(ns, &unique("pg_acl_bad"));
    bad.client.credentials = Some(creds("wrong-secret"));
    bad.retry_times_when_send_failed = 0;
    let bp = rocketmq::client::Producer::new(bad).unwrap();
    bp.start().await.unwrap();
    let e = bp
        .send(Message::new(topic.as_str(), "x"))
        .await
        .expect_err("a wrong secret is refused");
    assert!(e.to_string().to_lowercase().contains("signature"), "{e}");
    bp.shutdown().await;
    p.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_rebalance_takeover_and_broadcast() {
    let (ns, broker) = target_or_skip!();
    let topic = unique("ExtSplit");
    create_topic(ns, &[broker], &topic, 8).await;
    let p = producer(ns, &unique("pg_ext_split")).await;
    let group = unique("cg_ext_split");
    let seen: Arc<Mutex<HashSet<String>>> = Default::default();
    let make = |g: &str,
                model: rocketmq::client::MessageModel,
                seen: &Arc<Mutex<HashSet<String>>>| {
        let mut cfg = consumer_config(ns, g);
        cfg.message_model = model;
        let dir = std::env::temp_dir().join("rocketmq_client_ext_offsets");
        cfg.offset_store_dir = Some(dir);
        let c = PushConsumer::new(cfg).unwrap();
        c.subscribe(&topic, "*").unwrap();
        let s2 = seen.clone();
        c.register_message_listener_concurrently(move |msgs: &[MessageExt], _: &ConsumeContext| {
            for m in msgs {
                s2.lock()
                    .unwrap()
                    .insert(String::from_utf8_lossy(&m.body).into());
            }
            ConsumeResult::Success
        });
        c
    };
    let clustering = rocketmq::client::MessageModel::Clustering;
    let a = make(&group, clustering, &seen);
    let b = make(&group, clustering, &seen);
    a.start().await.unwrap();
    b.start().await.unwrap();
    let count = |c: &PushConsumer| {
        c.assigned_queues()
            .iter()
            .filter(|q| q.topic == topic)
            .count()
    };
    wait_until("queues split 4/4", || count(&a) == 4 && count(&b) == 4).await;
    for i in 0..50 {
        p.send(Message::new(topic.as_str(), format!("m{i}")))
            .await
            .unwrap();
    }
    wait_until("first 50", || seen.lock().unwrap().len() == 50).await;
    b.shutdown().await;
    wait_until("survivor owns all 8", || count(&a) == 8).await;
    for i in 50..100 {
        p.send(Message::new(topic.as_str(), format!("m{i}")))
            .await
            .unwrap();
    }
    wait_until("all 100, none lost", || seen.lock().unwrap().len() == 100).await;
    a.shutdown().await;

    // Broadcasting: both members of one group see everything.
    let bgroup = unique("cg_ext_bcast");
    let s1: Arc<Mutex<HashSet<String>>> = Default::default();
    let s2: Arc<Mutex<HashSet<String>>> = Default::default();
    let broadcasting = rocketmq::client::MessageModel::Broadcasting;
    let c1 = make(&bgroup, broadcasting, &s1);
    let c2 = make(&bgroup, broadcasting, &s2);
    c1.start().await.unwrap();
    c2.start().await.unwrap();
    wait_until("both own all queues", || count(&c1) == 8 && count(&c2) == 8).await;
    // Broadcast consumers start at the end of each queue; give the pulls a moment to park.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..20 {
        p.send(Message::new(topic.as_str(), format!("x{i}")))
            .await
            .unwrap();
    }
    let xs = |s: &Arc<Mutex<HashSet<String>>>| {
        s.lock()
            .unwrap()
            .iter()
            .filter(|b| b.starts_with('x'))
            .count()
    };
    wait_until("both see all 20", || xs(&s1) == 20 && xs(&s2) == 20).await;
    c1.shutdown().await;
    c2.shutdown().await;
    p.shutdown().await;
}
