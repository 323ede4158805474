//! Request-reply (RocketMQ 4.6+ RPC over messages) against a real embedded broker: the broker's
//! SEND_REPLY_MESSAGE(_V2) processor on raw frames, then the client's `Producer::request`
//! with a consumer that answers through `create_reply_message`.

#[path = "client_support.rs"]
mod support;

mod common;

use std::time::Duration;

use rocketmq::client::{
    create_reply_message, reply_to_client, ClientError, ConsumeContext, ConsumeResult, ErrorKind,
    Message, MessageExt, Producer, PushConsumer,
};
use rocketmq::protocol::message::{decode_properties, property, reply_topic};
use rocketmq::protocol::{request_code, response_code, RemotingCommand};
use support::*;

const REPLY_TOPIC_OF_THE_EMBEDDED_CLUSTER: &str = "DefaultCluster_REPLY_TOPIC";
/// PullSysFlag: the pull carries its subscription.
const FLAG_SUBSCRIPTION: i32 = 0x4;

/// A HEART_BEAT announcing `client_id` as a member of producer group `group`.
fn producer_heartbeat(client_id: &str, group: &str) -> RemotingCommand {
    let body = format!(
        r#"{{"clientID":"{client_id}","consumerDataSet":[],"producerDataSet":[{{"groupName":"{group}"}}]}}"#
    );
    RemotingCommand::request(request_code::HEART_BEAT).with_body(body.into_bytes())
}

/// A SEND_REPLY_MESSAGE with the long header names (as rocketmq-client-go sends it).
fn send_reply(topic: &str, body: &[u8], properties: &str) -> RemotingCommand {
    RemotingCommand::request(request_code::SEND_REPLY_MESSAGE)
        .with_ext("producerGroup", "replier_pg")
        .with_ext("topic", topic)
        .with_ext("defaultTopic", "TBW102")
        .with_ext("defaultTopicQueueNums", 4)
        .with_ext("queueId", -1)
        .with_ext("sysFlag", 0)
        .with_ext("bornTimestamp", rocketmq::protocol::now_ms())
        .with_ext("flag", 0)
        .with_ext("properties", properties)
        .with_ext("reconsumeTimes", 0)
        .with_ext("unitMode", false)
        .with_body(body.to_vec())
}

fn reply_properties(correlation_id: &str, reply_to: Option<&str>) -> String {
    let mut pairs = vec![
        (property::CORRELATION_ID, correlation_id),
        (property::MESSAGE_TYPE, "reply"),
        (property::MESSAGE_TTL, "3000"),
    ];
    if let Some(to) = reply_to {
        pairs.push((property::MESSAGE_REPLY_TO_CLIENT, to));
    }
    common::props(&pairs)
}

#[test]
fn the_reply_topic_is_named_after_the_cluster() {
    assert_eq!(
        reply_topic("DefaultCluster"),
        REPLY_TOPIC_OF_THE_EMBEDDED_CLUSTER
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_pushes_a_reply_to_the_requester_and_stores_it() {
    let c = cluster().await;
    let broker = c.broker_addr().to_string();
    let (requester, inbox) = common::client();
    let hb = requester
        .invoke(
            &broker,
            producer_heartbeat("10.0.0.9@requester", "req_pg"),
            common::TIMEOUT,
        )
        .await
        .unwrap();
    assert_eq!(hb.code, response_code::SUCCESS);

    let (replier, _) = common::client();
    let resp = replier
        .invoke(
            &broker,
            send_reply(
                REPLY_TOPIC_OF_THE_EMBEDDED_CLUSTER,
                b"the answer",
                &reply_properties("corr-1", Some("10.0.0.9@requester")),
            ),
            common::TIMEOUT,
        )
        .await
        .unwrap();
    assert_eq!(resp.code, response_code::SUCCESS, "{:?}", resp.remark);
    assert_eq!(resp.ext("queueId"), Some("0"));
    assert_ne!(resp.ext("msgId"), Some("0"), "the reply is stored");

    // The push arrived on the requester's connection before the replier was answered.
    let push = inbox
        .received
        .lock()
        .unwrap()
        .iter()
        .find(|r| r.code == request_code::PUSH_REPLY_MESSAGE_TO_CLIENT)
        .cloned()
        .expect("a PUSH_REPLY_MESSAGE_TO_CLIENT at the requester");
    assert_eq!(&push.body[..], b"the answer");
    assert_eq!(push.ext("topic"), Some(REPLY_TOPIC_OF_THE_EMBEDDED_CLUSTER));
    assert_eq!(push.ext("producerGroup"), Some("replier_pg"));
    assert_eq!(push.ext("queueId"), Some("0"));
    assert_eq!(push.ext("storeHost"), Some(broker.as_str()));
    assert!(push.ext("bornHost").is_some_and(|h| h.contains(':')));
    assert!(push.ext_i64("storeTimestamp").unwrap() > 0);
    let props = decode_properties(push.ext("properties").unwrap());
    assert_eq!(props[property::CORRELATION_ID], "corr-1");
    assert_eq!(props[property::MESSAGE_TYPE], "reply");
    assert!(props[property::PUSH_REPLY_TIME].parse::<i64>().unwrap() > 0);

    // And it can be read back from its topic like any message.
    let (reader, _) = common::client();
    let pulled = reader
        .invoke(
            &broker,
            common::pull(
                "reader_g",
                REPLY_TOPIC_OF_THE_EMBEDDED_CLUSTER,
                0,
                0,
                FLAG_SUBSCRIPTION,
                0,
            ),
            common::TIMEOUT,
        )
        .await
        .unwrap();
    assert_eq!(pulled.code, response_code::SUCCESS, "{:?}", pulled.remark);
    let stored = common::records(&pulled);
    assert_eq!(stored.len(), 1);
    assert_eq!(&stored[0].body[..], b"the answer");
    assert_eq!(
        stored[0].properties_map()[property::CORRELATION_ID],
        "corr-1"
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requester_known_only_from_its_request_gets_the_reply() {
    // rocketmq-client-go sends no heartbeat before a request when it knows the topic's route:
    // the connection the request came over is where its reply goes.
    let c = cluster().await;
    let broker = c.broker_addr().to_string();
    let (requester, inbox) = common::client();
    let request_props = common::props(&[
        (property::CORRELATION_ID, "corr-5"),
        (property::MESSAGE_REPLY_TO_CLIENT, "10.0.0.9@no-heartbeat"),
        (property::MESSAGE_TTL, "3"),
    ]);
    let sent = requester
        .invoke(
            &broker,
            common::send_v2("RequestTopicRaw", -1, b"question", &request_props),
            common::TIMEOUT,
        )
        .await
        .unwrap();
    assert_eq!(sent.code, response_code::SUCCESS, "{:?}", sent.remark);

    let (replier, _) = common::client();
    let resp = replier
        .invoke(
            &broker,
            send_reply(
                REPLY_TOPIC_OF_THE_EMBEDDED_CLUSTER,
                b"answer",
                &reply_properties("corr-5", Some("10.0.0.9@no-heartbeat")),
            ),
            common::TIMEOUT,
        )
        .await
        .unwrap();
    assert_eq!(resp.code, response_code::SUCCESS, "{:?}", resp.remark);
    assert!(inbox
        .received
        .lock()
        .unwrap()
        .iter()
        .any(|r| r.code == request_code::PUSH_REPLY_MESSAGE_TO_CLIENT && &r.body[..] == b"answer"));

    // Once that connection is gone, so is the requester.
    requester.close_all().await;
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let resp = replier
            .invoke(
                &broker,
                send_reply(
                    REPLY_TOPIC_OF_THE_EMBEDDED_CLUSTER,
                    b"late",
                    &reply_properties("corr-6", Some("10.0.0.9@no-heartbeat")),
                ),
                common::TIMEOUT,
            )
            .await
            .unwrap();
        if resp.code == response_code::SYSTEM_ERROR {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "pushed to a closed connection"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_for_a_requester_that_is_gone_is_refused_with_a_remark() {
    let c = cluster().await;
    let broker = c.broker_addr().to_string();
    let (replier, _) = common::client();

    // Nobody with this client id has sent a heartbeat (or it left).
    let resp = replier
        .invoke(
            &broker,
            send_reply(
                REPLY_TOPIC_OF_THE_EMBEDDED_CLUSTER,
                b"late",
                &reply_properties("corr-2", Some("10.0.0.9@gone")),
            ),
            common::TIMEOUT,
        )
        .await
        .unwrap();
    assert_eq!(resp.code, response_code::SYSTEM_ERROR);
    let remark = resp.remark.unwrap_or_default();
    assert!(
        remark.contains("10.0.0.9@gone") && remark.contains("not found"),
        "{remark}"
    );

    // A requester that said goodbye is gone too.
    let (requester, _) = common::client();
    requester
        .invoke(
            &broker,
            producer_heartbeat("10.0.0.9@leaving", "req_pg"),
            common::TIMEOUT,
        )
        .await
        .unwrap();
    requester.close_all().await;
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let resp = replier
            .invoke(
                &broker,
                send_reply(
                    REPLY_TOPIC_OF_THE_EMBEDDED_CLUSTER,
                    b"late",
                    &reply_properties("corr-3", Some("10.0.0.9@leaving")),
                ),
                common::TIMEOUT,
            )
            .await
            .unwrap();
        if resp.code == response_code::SYSTEM_ERROR {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the broker kept pushing to a closed requester: {} {:?}",
            resp.code,
            resp.remark
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // No REPLY_TO_CLIENT at all: bad input, named in the remark.
    let resp = replier
        .invoke(
            &broker,
            send_reply(
                REPLY_TOPIC_OF_THE_EMBEDDED_CLUSTER,
                b"x",
                &reply_properties("corr-4", None),
            ),
            common::TIMEOUT,
        )
        .await
        .unwrap();
    assert_eq!(resp.code, response_code::SYSTEM_ERROR);
    assert!(resp
        .remark
        .unwrap_or_default()
        .contains(property::MESSAGE_REPLY_TO_CLIENT));

    // A batch cannot be a reply.
    let resp = replier
        .invoke(
            &broker,
            send_reply(REPLY_TOPIC_OF_THE_EMBEDDED_CLUSTER, b"x", "").with_ext("batch", true),
            common::TIMEOUT,
        )
        .await
        .unwrap();
    assert_eq!(resp.code, response_code::MESSAGE_ILLEGAL);
    c.shutdown().await;
}

/// A consumer of `topic` that answers every request with "re: <body>" through a producer of
/// its own (the listener is synchronous, so the replies are sent from a task).
async fn replier(ns: std::net::SocketAddr, topic: &str, group: &str) -> (PushConsumer, Producer) {
    let reply_producer = producer(ns, &format!("{group}_replies")).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<MessageExt>();
    let sender = reply_producer.clone();
    tokio::spawn(async move {
        while let Some(request) = rx.recv().await {
            let body = format!("re: {}", String::from_utf8_lossy(&request.body));
            let reply = create_reply_message(&request, body).expect("a consumed request");
            if let Err(e) = sender.send(reply).await {
                eprintln!("reply to {:?} failed: {e}", reply_to_client(&request));
            }
        }
    });
    let consumer = PushConsumer::new(consumer_config(ns, group)).unwrap();
    consumer.subscribe(topic, "*").unwrap();
    consumer.register_message_listener_concurrently(
        move |msgs: &[MessageExt], _: &ConsumeContext| {
            for m in msgs {
                let _ = tx.send(m.clone());
            }
            ConsumeResult::Success
        },
    );
    consumer.start().await.unwrap();
    (consumer, reply_producer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_gets_the_reply_a_consumer_sends_back() {
    let c = cluster().await;
    let ns = c.namesrv_addr();
    create_topic(ns, &[c.broker_addr()], "RequestTopic", 2).await;
    let (consumer, reply_producer) = replier(ns, "RequestTopic", "cg_replier").await;
    let requester = producer(ns, "pg_requester").await;

    // The first request also waits for the consumer's first rebalance: a generous timeout.
    let reply = requester
        .request(Message::new("RequestTopic", "ping"), DEADLINE)
        .await
        .unwrap();
    assert_eq!(&reply.body[..], b"re: ping");
    assert_eq!(reply.topic, REPLY_TOPIC_OF_THE_EMBEDDED_CLUSTER);
    assert_eq!(
        reply.property(property::MESSAGE_REPLY_TO_CLIENT),
        Some(requester.client_id())
    );
    assert!(reply.property(property::CORRELATION_ID).is_some());
    assert!(reply.property(property::PUSH_REPLY_TIME).is_some());
    assert!(reply
        .property(property::REPLY_MESSAGE_ARRIVE_TIME)
        .is_some());
    assert_eq!(reply.store_host, c.broker_addr());

    // Concurrent requests each get their own reply.
    let calls = (0..8).map(|i| {
        let p = requester.clone();
        tokio::spawn(async move {
            p.request(Message::new("RequestTopic", format!("q{i}")), DEADLINE)
                .await
        })
    });
    let handles: Vec<_> = calls.collect();
    for (i, h) in handles.into_iter().enumerate() {
        let reply = h.await.unwrap().unwrap();
        assert_eq!(String::from_utf8_lossy(&reply.body), format!("re: q{i}"));
    }

    // The callback form.
    let (tx, rx) = tokio::sync::oneshot::channel();
    requester
        .request_with_callback(Message::new("RequestTopic", "async"), DEADLINE, move |r| {
            let _ = tx.send(r);
        })
        .unwrap();
    let reply = rx.await.unwrap().unwrap();
    assert_eq!(&reply.body[..], b"re: async");

    requester.shutdown().await;
    consumer.shutdown().await;
    reply_producer.shutdown().await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_nobody_answers_times_out_with_a_clear_error() {
    let c = cluster().await;
    let ns = c.namesrv_addr();
    create_topic(ns, &[c.broker_addr()], "UnansweredTopic", 1).await;
    let requester = producer(ns, "pg_unanswered").await;

    let timeout = Duration::from_millis(800);
    let began = std::time::Instant::now();
    let e = requester
        .request(Message::new("UnansweredTopic", "anyone?"), timeout)
        .await
        .unwrap_err();
    assert!(began.elapsed() >= timeout);
    assert!(matches!(e, ClientError::ReplyTimeout { .. }), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::Timeout);
    let text = e.to_string();
    assert!(
        text.contains("UnansweredTopic") && text.contains("no reply") && text.contains("800 ms"),
        "{text}"
    );

    // The request itself was delivered: it is stored with the request properties.
    let stored = rocketmq::client::LitePullConsumer::new(
        rocketmq::client::lite_pull_consumer::LitePullConfig::new(&ns.to_string(), "reader"),
    )
    .unwrap();
    stored.start().await.unwrap();
    let q = rocketmq::client::MessageQueue {
        topic: "UnansweredTopic".into(),
        broker_name: c.broker().unwrap().inner().config.broker_name.clone(),
        queue_id: 0,
    };
    let pulled = stored
        .pull(&q, "*", 0, 32, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(pulled.msgs.len(), 1);
    let m = &pulled.msgs[0];
    assert_eq!(
        m.property(property::MESSAGE_REPLY_TO_CLIENT),
        Some(requester.client_id())
    );
    assert_eq!(m.property(property::MESSAGE_TTL), Some("800"));
    assert!(m.property(property::CORRELATION_ID).is_some());
    assert_eq!(
        m.property(property::CLUSTER),
        Some("DefaultCluster"),
        "what create_reply_message needs"
    );
    stored.shutdown().await;

    // Bad input is refused before sending.
    let e = requester
        .request(Message::new("UnansweredTopic", "x"), Duration::ZERO)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::IllegalArgument);

    // After shutdown a request fails at once with a state error.
    requester.shutdown().await;
    let e = requester
        .request(Message::new("UnansweredTopic", "late"), timeout)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ClientState);
    c.shutdown().await;
}
