//! Requests brokers make of clients, and broker answers that steer them: PULL_OFFSET_MOVED,
//! RESET_CONSUMER_CLIENT_OFFSET (via INVOKE_BROKER_TO_RESET_OFFSET) and
//! GET_CONSUMER_RUNNING_INFO.

#[path = "client_support.rs"]
mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rocketmq::client::lite_pull_consumer::LitePullConfig;
use rocketmq::client::{
    ConsumeContext, ConsumeResult, LitePullConsumer, Message, MessageExt, PushConsumer,
};
use rocketmq::protocol::{request_code, RemotingCommand};
use rocketmq::remoting::RemotingClient;
use support::*;

fn recording(c: &PushConsumer) -> Arc<Mutex<Vec<String>>> {
    let seen: Arc<Mutex<Vec<String>>> = Default::default();
    let s2 = seen.clone();
    c.register_message_listener_concurrently(move |msgs: &[MessageExt], _: &ConsumeContext| {
        for m in msgs {
            s2.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&m.body).into());
        }
        ConsumeResult::Success
    });
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_beyond_the_queue_is_corrected_by_pull_offset_moved() {
    let c = cluster().await;
    let ns = c.namesrv_addr();
    create_topic(ns, &[c.broker_addr()], "Moved", 1).await;
    let p = producer(ns, "pg_moved").await;
    for i in 0..5 {
        p.send(Message::new("Moved", format!("old-{i}")))
            .await
            .unwrap();
    }
    // Commit an offset far past the end for the group.
    let lite = LitePullConsumer::new(LitePullConfig::new(&ns.to_string(), "cg_moved")).unwrap();
    lite.start().await.unwrap();
    let q = lite.fetch_message_queues("Moved").await.unwrap().remove(0);
    lite.commit(HashMap::from([(q.clone(), 1000)]))
        .await
        .unwrap();
    assert_eq!(lite.committed(&q).await, 1000);
    lite.shutdown().await;

    let cons = PushConsumer::new(consumer_config(ns, "cg_moved")).unwrap();
    cons.subscribe("Moved", "*").unwrap();
    let seen = recording(&cons);
    cons.start().await.unwrap();
    // The broker answers PULL_OFFSET_MOVED with the queue's end; the consumer stores that and
    // continues there. (Read the group's offset without joining the group.)
    let admin = RemotingClient::default();
    let broker = c.broker_addr().to_string();
    wait_async("offset corrected to the queue end", || {
        let (admin, broker) = (admin.clone(), broker.clone());
        async move {
            let r = admin
                .invoke(
                    &broker,
                    RemotingCommand::request(request_code::QUERY_CONSUMER_OFFSET)
                        .with_ext("consumerGroup", "cg_moved")
                        .with_ext("topic", "Moved")
                        .with_ext("queueId", 0),
                    Duration::from_secs(5),
                )
                .await
                .unwrap();
            r.ext("offset") == Some("5")
        }
    })
    .await;
    p.send(Message::new("Moved", "new")).await.unwrap();
    wait_until("message after the correction", || {
        seen.lock().unwrap().contains(&"new".to_string())
    })
    .await;
    assert!(seen.lock().unwrap().iter().all(|b| !b.starts_with("old")));
    admin.close_all().await;
    cons.shutdown().await;
    p.shutdown().await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_driven_offset_reset_and_running_info() {
    let c = cluster().await;
    let ns = c.namesrv_addr();
    let broker = c.broker_addr().to_string();
    create_topic(ns, &[c.broker_addr()], "Reset", 2).await;
    let p = producer(ns, "pg_reset").await;
    for i in 0..6 {
        p.send(Message::new("Reset", format!("{i}"))).await.unwrap();
    }
    let cons = PushConsumer::new(consumer_config(ns, "cg_reset")).unwrap();
    cons.subscribe("Reset", "*").unwrap();
    let seen = recording(&cons);
    cons.start().await.unwrap();
    wait_until("first pass", || seen.lock().unwrap().len() == 6).await;

    let admin = RemotingClient::default();
    let info = admin
        .invoke(
            &broker,
            RemotingCommand::request(request_code::GET_CONSUMER_RUNNING_INFO)
                .with_ext("consumerGroup", "cg_reset")
                .with_ext("clientId", cons.client_id())
                .with_ext("jstackEnable", false),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(info.code, 0, "{:?}", info.remark);
    let v: serde_json::Value = serde_json::from_slice(&info.body).unwrap();
    assert_eq!(v["properties"]["consumerGroup"], "cg_reset");
    assert!(v["subscriptionSet"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["topic"] == "Reset"));

    // Reset to the beginning (timestamp 0): the client drops its queues and starts over.
    let reset = admin
        .invoke(
            &broker,
            RemotingCommand::request(request_code::INVOKE_BROKER_TO_RESET_OFFSET)
                .with_ext("topic", "Reset")
                .with_ext("group", "cg_reset")
                .with_ext("timestamp", 0)
                .with_ext("isForce", true),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(reset.code, 0, "{:?}", reset.remark);
    wait_until("second pass after the reset", || {
        seen.lock().unwrap().len() == 12
    })
    .await;
    let mut firsts = seen.lock().unwrap()[..6].to_vec();
    let mut seconds = seen.lock().unwrap()[6..].to_vec();
    firsts.sort();
    seconds.sort();
    assert_eq!(firsts, seconds);
    admin.close_all().await;
    cons.shutdown().await;
    p.shutdown().await;
    c.shutdown().await;
}
