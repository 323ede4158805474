//! The lite pull consumer (poll, commit, seek) and the transaction producer (commit, rollback,
//! broker check) against a real embedded broker.

#[path = "client_support.rs"]
mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rocketmq::client::lite_pull_consumer::LitePullConfig;
use rocketmq::client::{
    ConsumeFromWhere, LitePullConsumer, LocalTransactionState, Message, MessageExt, MessageQueue,
    SendResult, TransactionListener, TransactionProducer,
};
use support::*;

fn lite_config(ns: std::net::SocketAddr, group: &str, auto_commit: bool) -> LitePullConfig {
    let mut cfg = LitePullConfig::new(&ns.to_string(), group);
    cfg.auto_commit = auto_commit;
    cfg.consumer.consume_from_where = ConsumeFromWhere::FirstOffset;
    cfg.consumer.rebalance_interval = Duration::from_secs(2);
    cfg
}

async fn poll_until(c: &LitePullConsumer, n: usize) -> Vec<MessageExt> {
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + DEADLINE;
    while got.len() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "polled {} of {n}",
            got.len()
        );
        got.extend(c.poll(Duration::from_millis(500)).await.unwrap());
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lite_pull_polls_commits_and_seeks() {
    let c = cluster().await;
    let ns = c.namesrv_addr();
    create_topic(ns, &[c.broker_addr()], "Lite", 2).await;
    let p = producer(ns, "pg_lite").await;
    for i in 0..20 {
        p.send(Message::new("Lite", format!("{i}"))).await.unwrap();
    }

    // Subscribe mode with manual commit.
    let cons = LitePullConsumer::new(lite_config(ns, "cg_lite", false)).unwrap();
    cons.subscribe("Lite", "*").unwrap();
    cons.start().await.unwrap();
    let got = poll_until(&cons, 20).await;
    let bodies: HashSet<String> = got
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body).into())
        .collect();
    assert_eq!(bodies.len(), 20);
    cons.commit_sync().await.unwrap();
    let queues = cons.assignment();
    assert_eq!(queues.len(), 2);
    let mut committed = 0;
    for q in &queues {
        committed += cons.committed(q).await;
    }
    assert_eq!(committed, 20, "committed offsets cover everything polled");

    // Seek back to the start of one queue: its messages come again.
    let q0 = queues[0].clone();
    cons.seek(&q0, 0).await.unwrap();
    let again = poll_until(&cons, 1).await;
    assert!(again.iter().all(|m| m.queue_id == q0.queue_id));
    assert_eq!(again[0].queue_offset, 0);
    assert!(
        cons.seek(&q0, 10_000).await.is_err(),
        "seek beyond the queue is refused"
    );
    cons.seek_to_end(&q0).await.unwrap();
    cons.shutdown().await;

    // A new consumer of the same group resumes from the committed offsets.
    for i in 20..25 {
        p.send(Message::new("Lite", format!("{i}"))).await.unwrap();
    }
    let second = LitePullConsumer::new(lite_config(ns, "cg_lite", true)).unwrap();
    second.subscribe("Lite", "*").unwrap();
    second.start().await.unwrap();
    let got = poll_until(&second, 5).await;
    let mut bodies: Vec<i32> = got
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body).parse().unwrap())
        .collect();
    bodies.sort();
    assert_eq!(bodies, (20..25).collect::<Vec<_>>());
    second.shutdown().await;

    // Assign mode, with seek by timestamp.
    let third = LitePullConsumer::new(lite_config(ns, "cg_lite_assign", true)).unwrap();
    let all_q: Vec<MessageQueue> = p.fetch_publish_queues("Lite").await.unwrap();
    third.assign(all_q.clone()).await.unwrap();
    third.start().await.unwrap();
    let got = poll_until(&third, 25).await;
    assert_eq!(got.len(), 25);
    third.seek_to_timestamp(&all_q[0], 0).await.unwrap();
    let again = poll_until(&third, 1).await;
    assert_eq!(again[0].queue_offset, 0);
    third.shutdown().await;
    p.shutdown().await;
    c.shutdown().await;
}

struct Listener {
    checks: AtomicUsize,
}

impl TransactionListener for Listener {
    fn execute_local_transaction(&self, msg: &Message, _r: &SendResult) -> LocalTransactionState {
        match &msg.body[..] {
            b"commit" => LocalTransactionState::CommitMessage,
            b"rollback" => LocalTransactionState::RollbackMessage,
            _ => LocalTransactionState::Unknown,
        }
    }
    fn check_local_transaction(&self, _msg: &MessageExt) -> LocalTransactionState {
        self.checks.fetch_add(1, Ordering::SeqCst);
        LocalTransactionState::CommitMessage
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_commit_is_visible_rollback_is_not_and_checks_resolve_unknown() {
    let c = tx_cluster().await;
    let ns = c.namesrv_addr();
    create_topic(ns, &[c.broker_addr()], "Tx", 1).await;
    let listener = Arc::new(Listener {
        checks: AtomicUsize::new(0),
    });
    let tp = TransactionProducer::new(producer_config(ns, "pg_tx"), listener.clone()).unwrap();
    tp.start().await.unwrap();
    let r = tp
        .send_message_in_transaction(Message::new("Tx", "commit"))
        .await
        .unwrap();
    assert_eq!(r.local_state, LocalTransactionState::CommitMessage);
    let r = tp
        .send_message_in_transaction(Message::new("Tx", "rollback"))
        .await
        .unwrap();
    assert_eq!(r.local_state, LocalTransactionState::RollbackMessage);
    let r = tp
        .send_message_in_transaction(Message::new("Tx", "unknown"))
        .await
        .unwrap();
    assert_eq!(r.local_state, LocalTransactionState::Unknown);

    let cons = LitePullConsumer::new(lite_config(ns, "cg_tx", true)).unwrap();
    cons.subscribe("Tx", "*").unwrap();
    cons.start().await.unwrap();
    let got = poll_until(&cons, 2).await;
    let bodies: Vec<String> = got
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body).into())
        .collect();
    assert!(bodies.contains(&"commit".to_string()));
    assert!(
        bodies.contains(&"unknown".to_string()),
        "the broker's check committed it: {bodies:?}"
    );
    assert!(!bodies.contains(&"rollback".to_string()));
    assert!(listener.checks.load(Ordering::SeqCst) >= 1);
    let extra = cons.poll(Duration::from_millis(500)).await.unwrap();
    assert!(extra.iter().all(|m| &m.body[..] != b"rollback"));
    cons.shutdown().await;
    tp.shutdown().await;
    c.shutdown().await;
}

async fn tx_cluster() -> rocketmq::embedded::EmbeddedCluster {
    // Fast transaction checks: half messages older than 1 s are checked every second.
    rocketmq::embedded::EmbeddedCluster::start(rocketmq::embedded::EmbeddedConfig {
        broker_properties: "transactionTimeOut=1000\ntransactionCheckInterval=1000\n".into(),
        ..Default::default()
    })
    .await
    .expect("embedded cluster starts")
}
