//! The producer against a real embedded broker: every send mode, result fields, compression,
//! client-side checks, and retry on a second broker.

#[path = "client_support.rs"]
mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rocketmq::client::lite_pull_consumer::LitePullConfig;
use rocketmq::client::{
    ErrorKind, LitePullConsumer, Message, MessageExt, MessageQueue, SendStatus,
};
use rocketmq::protocol::ids::decode_offset_msg_id;
use support::*;

async fn read_all(
    ns: std::net::SocketAddr,
    topic: &str,
    queues: &[MessageQueue],
) -> Vec<MessageExt> {
    let c = LitePullConsumer::new(LitePullConfig::new(&ns.to_string(), "reader")).unwrap();
    c.start().await.unwrap();
    let mut all = Vec::new();
    for q in queues {
        let mut off = 0;
        loop {
            let r = c
                .pull(q, "*", off, 32, Duration::from_secs(5))
                .await
                .unwrap();
            if r.msgs.is_empty() {
                break;
            }
            off = r.next_begin_offset;
            all.extend(r.msgs);
        }
    }
    assert!(all.iter().all(|m| m.topic == topic));
    c.shutdown().await;
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_async_oneway_and_batch_sends_are_all_stored() {
    let c = cluster().await;
    let ns = c.namesrv_addr();
    create_topic(ns, &[c.broker_addr()], "SendModes", 4).await;
    let p = producer(ns, "pg_modes").await;

    let mut ids = HashSet::new();
    for i in 0..10 {
        let r = p
            .send(Message::new("SendModes", format!("sync-{i}")).with_tags("TagA"))
            .await
            .unwrap();
        assert_eq!(r.status, SendStatus::SendOk);
        assert_eq!(r.msg_id.len(), 32);
        assert_eq!(r.message_queue.topic, "SendModes");
        assert!(r.queue_offset >= 0);
        let (addr, _) = decode_offset_msg_id(&r.offset_msg_id).expect("offset id decodes");
        assert_eq!(addr, c.broker_addr());
        ids.insert(r.msg_id);
    }

    let results = Arc::new(Mutex::new(Vec::new()));
    for i in 0..10 {
        let results = results.clone();
        p.send_with_callback(Message::new("SendModes", format!("async-{i}")), move |r| {
            results.lock().unwrap().push(r)
        })
        .unwrap();
    }
    wait_until("async callbacks", || results.lock().unwrap().len() == 10).await;
    for r in results.lock().unwrap().drain(..) {
        ids.insert(r.unwrap().msg_id);
    }

    // Started on this thread: the request is written before the call returns, the answer comes
    // to the callback on the runtime.
    for i in 0..10 {
        let results = results.clone();
        p.send_with_callback_started_here(
            Message::new("SendModes", format!("here-{i}")),
            move |r| results.lock().unwrap().push(r),
        )
        .unwrap();
    }
    wait_until("started-here callbacks", || {
        results.lock().unwrap().len() == 10
    })
    .await;
    for r in results.lock().unwrap().drain(..) {
        ids.insert(r.unwrap().msg_id);
    }
    let err = p
        .send_with_callback_started_here(Message::new("SendModes", Vec::<u8>::new()), |_| {
            panic!("a send refused up front has no callback")
        })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::IllegalArgument);

    for i in 0..10 {
        p.send_oneway(Message::new("SendModes", format!("oneway-{i}")))
            .await
            .unwrap();
    }

    let batch: Vec<Message> = (0..10)
        .map(|i| Message::new("SendModes", format!("batch-{i}")))
        .collect();
    let r = p.send_batch(batch).await.unwrap();
    let batch_ids: Vec<&str> = r.msg_id.split(',').collect();
    assert_eq!(batch_ids.len(), 10);
    assert_eq!(r.offset_msg_id.split(',').count(), 10);
    ids.extend(batch_ids.iter().map(|s| s.to_string()));

    let big = vec![b'z'; 10_000];
    let r = p
        .send(Message::new("SendModes", big.clone()))
        .await
        .unwrap();
    ids.insert(r.msg_id.clone());

    let queues = p.fetch_publish_queues("SendModes").await.unwrap();
    assert_eq!(queues.len(), 4);
    let mut all = Vec::new();
    let deadline = std::time::Instant::now() + DEADLINE;
    while all.len() != 51 {
        assert!(
            std::time::Instant::now() < deadline,
            "all 51 messages readable, got {}",
            all.len()
        );
        all = read_all(ns, "SendModes", &queues).await;
    }
    let bodies: HashSet<String> = all
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body).to_string())
        .collect();
    for prefix in ["sync", "async", "here", "oneway", "batch"] {
        for i in 0..10 {
            assert!(bodies.contains(&format!("{prefix}-{i}")), "{prefix}-{i}");
        }
    }
    let big_msg = all.iter().find(|m| m.msg_id == r.msg_id).unwrap();
    assert_eq!(
        &big_msg.body[..],
        &big[..],
        "compressed body comes back inflated"
    );
    assert_eq!(big_msg.sys_flag & 0x1, 0x1);
    for m in &all {
        if !m.body.starts_with(b"oneway") {
            assert!(
                ids.contains(&m.msg_id),
                "msg id {} was returned by send",
                m.msg_id
            );
        }
    }
    assert_eq!(all.iter().filter(|m| m.tags() == Some("TagA")).count(), 10);
    p.shutdown().await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_send_keeps_a_key_on_one_queue_and_checks_fail_early() {
    let c = cluster().await;
    let ns = c.namesrv_addr();
    create_topic(ns, &[c.broker_addr()], "Ordered", 8).await;
    let p = producer(ns, "pg_ordered").await;
    let mut queue_of_key = std::collections::HashMap::new();
    for i in 0..40 {
        let key = format!("order-{}", i % 5);
        let r = p
            .send_orderly(Message::new("Ordered", format!("{i}")), &key)
            .await
            .unwrap();
        let q = queue_of_key.entry(key).or_insert(r.message_queue.queue_id);
        assert_eq!(*q, r.message_queue.queue_id);
    }
    let e = p.send(Message::new("bad topic", "x")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::IllegalArgument);
    let e = p.send(Message::new("Ordered", "")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::IllegalArgument);
    let e = p
        .send(Message::new("Ordered", vec![0u8; 5 * 1024 * 1024]))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::IllegalArgument);
    p.shutdown().await;
    let e = p.send(Message::new("Ordered", "x")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ClientState);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_to_new_topic_uses_auto_creation() {
    let c = cluster().await;
    let p = producer(c.namesrv_addr(), "pg_auto").await;
    let r = p.send(Message::new("BrandNew", "x")).await.unwrap();
    assert_eq!(r.status, SendStatus::SendOk);
    assert_eq!(r.message_queue.topic, "BrandNew");
    p.shutdown().await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_retries_on_the_other_broker_when_one_stops() {
    let c = cluster().await;
    let ns = c.namesrv_addr();
    let dir = tempfile::tempdir().unwrap();
    let b = extra_broker(ns, "broker-b", dir.path()).await;
    create_topic(ns, &[c.broker_addr(), b.addr()], "TwoBrokers", 2).await;
    let p = producer(ns, "pg_retry").await;
    let mut seen = HashSet::new();
    for i in 0..8 {
        let r = p
            .send(Message::new("TwoBrokers", format!("{i}")))
            .await
            .unwrap();
        seen.insert(r.message_queue.broker_name);
    }
    assert_eq!(seen.len(), 2, "round robin spreads over both brokers");
    b.shutdown().await;
    for i in 0..20 {
        let r = p
            .send(Message::new("TwoBrokers", format!("after-{i}")))
            .await
            .expect("send succeeds on the remaining broker");
        assert_eq!(r.message_queue.broker_name, "broker-a");
    }
    p.shutdown().await;
    c.shutdown().await;
}
