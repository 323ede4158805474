//! The broker against raw remoting requests, on a real embedded cluster.

mod common;

use std::time::Duration;

use common::*;
use rocketmq::protocol::bodies::{HeartbeatData, TopicRouteData};
use rocketmq::protocol::json::from_fastjson;
use rocketmq::protocol::message::{encode_batch, BatchItem};
use rocketmq::protocol::{request_code, response_code, RemotingCommand, SerializeType};

const FLAG_SUSPEND: i32 = 0x2;
const FLAG_SUBSCRIPTION: i32 = 0x4;

async fn route(
    client: &rocketmq::remoting::RemotingClient,
    ns: &str,
    topic: &str,
) -> RemotingCommand {
    let req =
        RemotingCommand::request(request_code::GET_ROUTEINFO_BY_TOPIC).with_ext("topic", topic);
    client.invoke(ns, req, TIMEOUT).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_auto_creates_topic_and_pull_returns_it_intact() {
    let c = cluster("").await;
    let (client, _) = client();
    let ns = c.namesrv_addr().to_string();
    let broker = c.broker_addr().to_string();

    let tbw = route(&client, &ns, "TBW102").await;
    assert_eq!(
        tbw.code,
        response_code::SUCCESS,
        "TBW102 is routable for auto-creation"
    );
    assert_eq!(
        route(&client, &ns, "AutoTopic").await.code,
        response_code::TOPIC_NOT_EXIST
    );

    let body = b"hello\0binary\xff".to_vec();
    let p = props(&[
        ("TAGS", "TagA"),
        ("KEYS", "k1 k2"),
        ("UNIQ_KEY", "ID0001"),
        ("color", "blue"),
        ("WAIT", "true"),
    ]);
    let resp = client
        .invoke(&broker, send_v2("AutoTopic", 1, &body, &p), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(resp.code, response_code::SUCCESS, "{:?}", resp.remark);
    assert_eq!(resp.ext("queueId"), Some("1"));
    assert_eq!(resp.ext("queueOffset"), Some("0"));
    let msg_id = resp.ext("msgId").unwrap().to_string();
    assert_eq!(msg_id.len(), 32);

    // The broker registers the new topic with the name server right away.
    let mut found = false;
    for _ in 0..200 {
        let r = route(&client, &ns, "AutoTopic").await;
        if r.code == response_code::SUCCESS {
            let rd: TopicRouteData = from_fastjson(&r.body).unwrap();
            assert_eq!(
                rd.queue_datas[0].write_queue_nums, 4,
                "min(requested 4, TBW102's 8)"
            );
            assert_eq!(rd.broker_datas[0].broker_addrs[&0], broker);
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(found, "auto-created topic reaches the name server");

    let resp = client
        .invoke(
            &broker,
            pull("g1", "AutoTopic", 1, 0, FLAG_SUBSCRIPTION, 0),
            TIMEOUT,
        )
        .await
        .unwrap();
    assert_eq!(resp.code, response_code::SUCCESS, "{:?}", resp.remark);
    assert_eq!(resp.ext("nextBeginOffset"), Some("1"));
    assert_eq!(resp.ext("maxOffset"), Some("1"));
    let recs = records(&resp);
    assert_eq!(recs.len(), 1);
    let m = &recs[0];
    assert_eq!(&m.body[..], &body[..]);
    assert_eq!(m.topic, "AutoTopic");
    let mp = m.properties_map();
    assert_eq!(mp["TAGS"], "TagA");
    assert_eq!(mp["KEYS"], "k1 k2");
    assert_eq!(mp["color"], "blue");
    assert_eq!(mp["CLUSTER"], "DefaultCluster");
    assert!(!mp.contains_key("WAIT"));
    assert_eq!(
        rocketmq::protocol::ids::offset_msg_id(&m.store_host, m.physical_offset),
        msg_id
    );

    // By id and by key.
    let view = RemotingCommand::request(request_code::VIEW_MESSAGE_BY_ID)
        .with_ext("offset", m.physical_offset);
    let r = client.invoke(&broker, view, TIMEOUT).await.unwrap();
    assert_eq!(r.code, response_code::SUCCESS);
    assert_eq!(records(&r)[0].body, m.body);
    let q = RemotingCommand::request(request_code::QUERY_MESSAGE)
        .with_ext("topic", "AutoTopic")
        .with_ext("key", "k2")
        .with_ext("maxNum", 10)
        .with_ext("beginTimestamp", 0)
        .with_ext("endTimestamp", i64::MAX);
    let r = client.invoke(&broker, q, TIMEOUT).await.unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    assert_eq!(records(&r)[0].body, m.body);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_wakes_on_append() {
    let c = cluster("").await;
    let (client, _) = client();
    let broker = c.broker_addr().to_string();
    let r = client
        .invoke(&broker, send_v2("PollTopic", 0, b"first", ""), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(r.code, 0);
    // Ask for offset 1 with a 25 s hold; the answer must come from the append, not the timeout.
    let waiting = {
        let client = client.clone();
        let broker = broker.clone();
        tokio::spawn(async move {
            client
                .invoke(
                    &broker,
                    pull(
                        "g",
                        "PollTopic",
                        0,
                        1,
                        FLAG_SUSPEND | FLAG_SUBSCRIPTION,
                        25_000,
                    ),
                    Duration::from_secs(20),
                )
                .await
        })
    };
    wait_until("the pull to be parked", || {
        c.broker().unwrap().inner().pulls.held_count() == 1
    })
    .await;
    let r = client
        .invoke(&broker, send_v2("PollTopic", 0, b"second", ""), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(r.code, 0);
    let resp = waiting
        .await
        .unwrap()
        .expect("woken before the 20 s client timeout");
    assert_eq!(resp.code, response_code::SUCCESS);
    assert_eq!(&records(&resp)[0].body[..], b"second");
    c.shutdown().await;
}

/// The progress a pull carries is stored when the pull arrives — not again when a held pull
/// wakes up, which would move a group's offset back over what was committed meanwhile (e.g. by
/// the client a queue was handed to).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_woken_pull_does_not_commit_its_stale_offset_again() {
    const FLAG_COMMIT_OFFSET: i32 = 0x1;
    let c = cluster("").await;
    let (client, _) = client();
    let broker = c.broker_addr().to_string();
    let send = |body: &'static [u8]| {
        let (client, broker) = (client.clone(), broker.clone());
        async move {
            let r = client
                .invoke(&broker, send_v2("WakeCommit", 0, body, ""), TIMEOUT)
                .await
                .unwrap();
            assert_eq!(r.code, 0, "{:?}", r.remark);
        }
    };
    let committed = || {
        let (client, broker) = (client.clone(), broker.clone());
        async move {
            let q = RemotingCommand::request(request_code::QUERY_CONSUMER_OFFSET)
                .with_ext("consumerGroup", "g_wake")
                .with_ext("topic", "WakeCommit")
                .with_ext("queueId", 0);
            let r = client.invoke(&broker, q, TIMEOUT).await.unwrap();
            assert_eq!(r.code, 0, "{:?}", r.remark);
            r.ext_i64("offset").unwrap()
        }
    };
    send(b"first").await;
    let held = {
        let (client, broker) = (client.clone(), broker.clone());
        let req = pull(
            "g_wake",
            "WakeCommit",
            0,
            1,
            FLAG_COMMIT_OFFSET | FLAG_SUSPEND | FLAG_SUBSCRIPTION,
            25_000,
        )
        .with_ext("commitOffset", 1);
        tokio::spawn(async move { client.invoke(&broker, req, Duration::from_secs(20)).await })
    };
    wait_until("the pull to be parked", || {
        c.broker().unwrap().inner().pulls.held_count() == 1
    })
    .await;
    assert_eq!(committed().await, 1, "committed when the pull arrived");
    let update = RemotingCommand::request(request_code::UPDATE_CONSUMER_OFFSET)
        .with_ext("consumerGroup", "g_wake")
        .with_ext("topic", "WakeCommit")
        .with_ext("queueId", 0)
        .with_ext("commitOffset", 2);
    let r = client.invoke(&broker, update, TIMEOUT).await.unwrap();
    assert_eq!(r.code, 0, "{:?}", r.remark);
    send(b"second").await;
    let woken = held.await.unwrap().expect("answered by the append");
    assert_eq!(woken.code, response_code::SUCCESS);
    assert_eq!(
        committed().await,
        2,
        "the woken pull left the newer offset alone"
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_answers_not_found_at_its_timeout() {
    let c = cluster("").await;
    let (client, _) = client();
    let broker = c.broker_addr().to_string();
    assert_eq!(
        client
            .invoke(&broker, send_v2("IdleTopic", 0, b"x", ""), TIMEOUT)
            .await
            .unwrap()
            .code,
        0
    );
    let resp = client
        .invoke(
            &broker,
            pull(
                "g",
                "IdleTopic",
                0,
                1,
                FLAG_SUSPEND | FLAG_SUBSCRIPTION,
                300,
            ),
            TIMEOUT,
        )
        .await
        .unwrap();
    assert_eq!(resp.code, response_code::PULL_NOT_FOUND);
    assert_eq!(resp.ext("nextBeginOffset"), Some("1"));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_errors_and_the_broker_stays_up() {
    let c = cluster("maxMessageSize=1024").await;
    let (client, _) = client();
    let broker = c.broker_addr().to_string();

    let r = client
        .invoke(&broker, send_v2("BigTopic", 0, &[1u8; 2048], ""), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::MESSAGE_ILLEGAL);
    assert!(r.remark.unwrap().contains("maxMessageSize"));

    let create = RemotingCommand::request(request_code::UPDATE_AND_CREATE_TOPIC)
        .with_ext("topic", "ReadOnly")
        .with_ext("defaultTopic", "TBW102")
        .with_ext("readQueueNums", 2)
        .with_ext("writeQueueNums", 2)
        .with_ext("perm", 4)
        .with_ext("topicFilterType", "SINGLE_TAG")
        .with_ext("order", false);
    assert_eq!(
        client.invoke(&broker, create, TIMEOUT).await.unwrap().code,
        0
    );
    let r = client
        .invoke(&broker, send_v2("ReadOnly", 0, b"x", ""), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::NO_PERMISSION);

    let r = client
        .invoke(
            &broker,
            send_v2("SCHEDULE_TOPIC_XXXX", 0, b"x", ""),
            TIMEOUT,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::NO_PERMISSION);
    let r = client
        .invoke(&broker, send_v2("bad topic!", 0, b"x", ""), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SYSTEM_ERROR);
    let r = client
        .invoke(&broker, send_v2("ReadOnly", 9, b"x", ""), TIMEOUT)
        .await
        .unwrap();
    assert_ne!(r.code, response_code::SUCCESS);
    let r = client
        .invoke(&broker, RemotingCommand::request(9999), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::REQUEST_CODE_NOT_SUPPORTED);
    let r = client
        .invoke(
            &broker,
            RemotingCommand::request(request_code::PULL_MESSAGE),
            TIMEOUT,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SYSTEM_ERROR);
    assert!(r.remark.unwrap().contains("consumerGroup"));

    // Still serving.
    let r = client
        .invoke(&broker, send_v2("FineTopic", 0, b"ok", ""), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(r.code, 0);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_header_requests_get_binary_answers() {
    let c = cluster("").await;
    let (client, _) = client();
    let mut req = send_v2("BinTopic", 0, b"b", "");
    req.serialize_type = SerializeType::RocketMq;
    let r = client
        .invoke(&c.broker_addr().to_string(), req, TIMEOUT)
        .await
        .unwrap();
    assert_eq!(r.code, 0);
    assert_eq!(r.serialize_type, SerializeType::RocketMq);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_send_assigns_consecutive_offsets() {
    let c = cluster("").await;
    let (client, _) = client();
    let broker = c.broker_addr().to_string();
    let items: Vec<BatchItem> = (0..5)
        .map(|i| BatchItem {
            flag: 0,
            body: bytes::Bytes::from(format!("m{i}")),
            properties: props(&[("UNIQ_KEY", &format!("U{i}"))]),
        })
        .collect();
    let mut req =
        send_v2("BatchTopic", 2, b"", &props(&[("WAIT", "true")])).with_body(encode_batch(&items));
    req.code = request_code::SEND_BATCH_MESSAGE;
    req.set_ext("m", true);
    let r = client.invoke(&broker, req, TIMEOUT).await.unwrap();
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(r.ext("msgId").unwrap().split(',').count(), 5);
    let resp = client
        .invoke(
            &broker,
            pull("g", "BatchTopic", 2, 0, FLAG_SUBSCRIPTION, 0),
            TIMEOUT,
        )
        .await
        .unwrap();
    let recs = records(&resp);
    assert_eq!(recs.len(), 5);
    for (i, m) in recs.iter().enumerate() {
        assert_eq!(m.queue_offset, i as i64);
        assert_eq!(m.body, format!("m{i}"));
        assert_eq!(m.properties_map()["UNIQ_KEY"], format!("U{i}"));
    }
    c.shutdown().await;
}

fn heartbeat(client_id: &str, group: &str, topic: &str) -> RemotingCommand {
    let hb = format!(
        r#"{{"clientID":"{client_id}","consumerDataSet":[{{"consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","consumeType":"CONSUME_PASSIVELY","groupName":"{group}","messageModel":"CLUSTERING","unitMode":false,"subscriptionDataSet":[{{"classFilterMode":false,"codeSet":[],"expressionType":"TAG","subString":"*","subVersion":1,"tagsSet":[],"topic":"{topic}"}}]}}],"producerDataSet":[]}}"#
    );
    let _: HeartbeatData = from_fastjson(hb.as_bytes()).unwrap();
    RemotingCommand::request(request_code::HEART_BEAT).with_body(hb.into_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_are_listed_and_told_when_the_group_changes() {
    let c = cluster("").await;
    let broker = c.broker_addr().to_string();
    let (c1, inbox1) = client();
    let (c2, _) = client();
    assert_eq!(
        c1.invoke(&broker, heartbeat("10.0.0.1@a", "grp", "T1"), TIMEOUT)
            .await
            .unwrap()
            .code,
        0
    );
    assert_eq!(
        c2.invoke(&broker, heartbeat("10.0.0.1@b", "grp", "T1"), TIMEOUT)
            .await
            .unwrap()
            .code,
        0
    );
    let list = RemotingCommand::request(request_code::GET_CONSUMER_LIST_BY_GROUP)
        .with_ext("consumerGroup", "grp");
    let r = c1.invoke(&broker, list.clone(), TIMEOUT).await.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        r#"{"consumerIdList":["10.0.0.1@a","10.0.0.1@b"]}"#
    );
    wait_until("NOTIFY_CONSUMER_IDS_CHANGED at the first consumer", || {
        inbox1
            .received
            .lock()
            .unwrap()
            .iter()
            .any(|m| m.code == request_code::NOTIFY_CONSUMER_IDS_CHANGED)
    })
    .await;
    // A consumer whose connection closes leaves the group.
    c2.close_all().await;
    let mut left = false;
    for _ in 0..200 {
        let r = c1.invoke(&broker, list.clone(), TIMEOUT).await.unwrap();
        if String::from_utf8_lossy(&r.body) == r#"{"consumerIdList":["10.0.0.1@a"]}"# {
            left = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(left);
    // The retry topic of the group exists.
    assert!(c
        .broker()
        .unwrap()
        .inner()
        .topics
        .get("%RETRY%grp")
        .is_some());
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_restart_keeps_messages_offsets_and_topics() {
    let dir = tempfile::tempdir().unwrap();
    let c = cluster_in(dir.path(), "").await;
    let (client, _) = client();
    let broker = c.broker_addr().to_string();
    for i in 0..10 {
        let r = client
            .invoke(
                &broker,
                send_v2("KeepTopic", 0, format!("m{i}").as_bytes(), ""),
                TIMEOUT,
            )
            .await
            .unwrap();
        assert_eq!(r.code, 0);
    }
    let upd = RemotingCommand::request(request_code::UPDATE_CONSUMER_OFFSET)
        .with_ext("consumerGroup", "keepers")
        .with_ext("topic", "KeepTopic")
        .with_ext("queueId", 0)
        .with_ext("commitOffset", 7);
    assert_eq!(client.invoke(&broker, upd, TIMEOUT).await.unwrap().code, 0);
    c.shutdown().await;
    client.close_all().await;

    let c = cluster_in(dir.path(), "").await;
    let broker = c.broker_addr().to_string();
    assert!(c
        .broker()
        .unwrap()
        .inner()
        .topics
        .get("KeepTopic")
        .is_some());
    let q = RemotingCommand::request(request_code::QUERY_CONSUMER_OFFSET)
        .with_ext("consumerGroup", "keepers")
        .with_ext("topic", "KeepTopic")
        .with_ext("queueId", 0);
    let r = client.invoke(&broker, q, TIMEOUT).await.unwrap();
    assert_eq!(r.ext("offset"), Some("7"));
    let r = client
        .invoke(
            &broker,
            pull("keepers", "KeepTopic", 0, 0, FLAG_SUBSCRIPTION, 0),
            TIMEOUT,
        )
        .await
        .unwrap();
    let recs = records(&r);
    assert_eq!(recs.len(), 10);
    assert_eq!(recs[9].body, "m9");
    let r = client
        .invoke(&broker, send_v2("KeepTopic", 0, b"m10", ""), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(r.ext("queueOffset"), Some("10"));
    c.shutdown().await;
}
