//! Broker semantics through our Rust client: delivery at an arbitrary time, and a message that
//! keeps failing ending in the dead-letter queue after its retries.

#[path = "client_support.rs"]
mod support;

use std::sync::{Arc, Mutex};

use rocketmq::client::{ConsumeContext, ConsumeResult, Message, MessageExt, PushConsumer};
use rocketmq::embedded::{EmbeddedCluster, EmbeddedConfig};
use rocketmq::protocol::message::MessageRecord;
use support::*;

struct All;
impl rocketmq::store::MessageFilter for All {
    fn matches_tags_code(&self, _: i64) -> bool {
        true
    }
}

fn stored(c: &EmbeddedCluster, topic: &str, queue_id: i32) -> Vec<MessageRecord> {
    let store = &c.broker().unwrap().inner().store;
    let r = store.get_message(topic, queue_id, 0, 1024, &All);
    r.messages
        .iter()
        .map(|m| MessageRecord::decode(m, true).unwrap().0)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_with_a_delivery_time_arrives_at_it_not_before() {
    let c = cluster().await;
    let ns = c.namesrv_addr();
    create_topic(ns, &[c.broker_addr()], "AtTime", 1).await;
    let p = producer(ns, "pg_at_time").await;
    let got: Arc<Mutex<Vec<(String, i64)>>> = Default::default();
    let cons = PushConsumer::new(consumer_config(ns, "cg_at_time")).unwrap();
    cons.subscribe("AtTime", "*").unwrap();
    let g2 = got.clone();
    cons.register_message_listener_concurrently(move |msgs: &[MessageExt], _: &ConsumeContext| {
        let now = rocketmq::protocol::now_ms();
        for m in msgs {
            g2.lock()
                .unwrap()
                .push((String::from_utf8_lossy(&m.body).into_owned(), now));
        }
        ConsumeResult::Success
    });
    cons.start().await.unwrap();
    let at = rocketmq::protocol::now_ms() + 1500;
    p.send(Message::new("AtTime", "at").with_deliver_time_ms(at))
        .await
        .unwrap();
    p.send(Message::new("AtTime", "now")).await.unwrap();
    wait_until("both messages", || got.lock().unwrap().len() == 2).await;
    let got = got.lock().unwrap().clone();
    assert_eq!(got[0].0, "now", "the undelayed one comes first");
    assert_eq!(got[1].0, "at");
    assert!(
        got[1].1 >= at,
        "received {} ms before its delivery time",
        at - got[1].1
    );
    cons.shutdown().await;
    p.shutdown().await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_keeps_failing_ends_in_the_dead_letter_queue() {
    let c = EmbeddedCluster::start(EmbeddedConfig {
        broker_properties: "messageDelayLevel=100ms 100ms 100ms 100ms 100ms 100ms 100ms".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let ns = c.namesrv_addr();
    create_topic(ns, &[c.broker_addr()], "Poison", 1).await;
    let p = producer(ns, "pg_poison").await;
    let attempts: Arc<Mutex<Vec<i32>>> = Default::default();
    let mut cfg = consumer_config(ns, "cg_poison");
    cfg.max_reconsume_times = 2;
    let cons = PushConsumer::new(cfg).unwrap();
    cons.subscribe("Poison", "*").unwrap();
    let a2 = attempts.clone();
    cons.register_message_listener_concurrently(move |msgs: &[MessageExt], _: &ConsumeContext| {
        a2.lock().unwrap().push(msgs[0].reconsume_times);
        ConsumeResult::ReconsumeLater
    });
    cons.start().await.unwrap();
    p.send(Message::new("Poison", "poison").with_keys(["poison-key"]))
        .await
        .unwrap();
    wait_until("the dead letter", || {
        stored(&c, "%DLQ%cg_poison", 0).len() == 1
    })
    .await;
    assert_eq!(
        *attempts.lock().unwrap(),
        vec![0, 1, 2],
        "delivered with growing reconsume counts"
    );
    let dead = &stored(&c, "%DLQ%cg_poison", 0)[0];
    assert_eq!(&dead.body[..], b"poison");
    assert_eq!(dead.reconsume_times, 3);
    assert_eq!(dead.properties_map()["RETRY_TOPIC"], "Poison");
    cons.shutdown().await;
    p.shutdown().await;
    c.shutdown().await;
}
