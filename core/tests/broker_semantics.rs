//! Delay, timers, retry and dead letters, transactions, filters, locks and offset resets, on a
//! real embedded broker through raw remoting requests.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rocketmq::embedded::EmbeddedCluster;
use rocketmq::protocol::bodies::{LockBatchResponseBody, MessageQueue};
use rocketmq::protocol::json::from_fastjson;
use rocketmq::protocol::message::MessageRecord;
use rocketmq::protocol::{request_code, response_code, RemotingCommand};
use rocketmq::remoting::{BoxFuture, Channel, RemotingClient, RequestHandler};

const FLAG_SUBSCRIPTION: i32 = 0x4;

fn all_messages(c: &EmbeddedCluster, topic: &str, queue_id: i32) -> Vec<MessageRecord> {
    struct All;
    impl rocketmq::store::MessageFilter for All {
        fn matches_tags_code(&self, _: i64) -> bool {
            true
        }
    }
    let store = &c.broker().unwrap().inner().store;
    let r = store.get_message(topic, queue_id, 0, 1024, &All);
    r.messages
        .iter()
        .map(|m| MessageRecord::decode(m, true).unwrap().0)
        .collect()
}

async fn send_ok(client: &RemotingClient, broker: &str, req: RemotingCommand) -> RemotingCommand {
    let r = client.invoke(broker, req, TIMEOUT).await.unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_level_message_arrives_after_its_level_not_before() {
    let c = cluster("messageDelayLevel=100ms 400ms 1s").await;
    let (client, _) = client();
    let broker = c.broker_addr().to_string();
    let sent = rocketmq::protocol::now_ms();
    send_ok(
        &client,
        &broker,
        send_v2(
            "DelayTopic",
            1,
            b"later",
            &props(&[("DELAY", "2"), ("TAGS", "T")]),
        ),
    )
    .await;
    assert!(
        all_messages(&c, "DelayTopic", 1).is_empty(),
        "not visible before its time"
    );
    wait_until("the delayed message to be delivered", || {
        all_messages(&c, "DelayTopic", 1).len() == 1
    })
    .await;
    let m = &all_messages(&c, "DelayTopic", 1)[0];
    assert!(
        m.store_timestamp - sent >= 400,
        "delivered {} ms after sending",
        m.store_timestamp - sent
    );
    assert_eq!(&m.body[..], b"later");
    let p = m.properties_map();
    assert_eq!(p["REAL_TOPIC"], "DelayTopic");
    assert!(!p.contains_key("DELAY"));
    assert_eq!(p["TAGS"], "T");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitrary_delivery_time_is_honoured_and_bounded() {
    let c = cluster("timerMaxDelaySec=60").await;
    let (client, _) = client();
    let broker = c.broker_addr().to_string();
    let at = rocketmq::protocol::now_ms() + 500;
    send_ok(
        &client,
        &broker,
        send_v2(
            "TimerTopic",
            0,
            b"at",
            &props(&[("TIMER_DELIVER_MS", &at.to_string())]),
        ),
    )
    .await;
    send_ok(
        &client,
        &broker,
        send_v2("TimerTopic", 0, b"in", &props(&[("TIMER_DELAY_MS", "200")])),
    )
    .await;
    wait_until("both timer messages", || {
        all_messages(&c, "TimerTopic", 0).len() == 2
    })
    .await;
    let msgs = all_messages(&c, "TimerTopic", 0);
    assert_eq!(&msgs[0].body[..], b"in", "the earlier one first");
    assert!(
        msgs[1].store_timestamp >= at,
        "not before its delivery time"
    );
    let r = client
        .invoke(
            &broker,
            send_v2(
                "TimerTopic",
                0,
                b"far",
                &props(&[("TIMER_DELAY_SEC", "3600")]),
            ),
            TIMEOUT,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::MESSAGE_ILLEGAL);
    assert!(r.remark.unwrap().contains("timerMaxDelaySec"));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_and_timer_progress_survive_a_restart_without_loss_or_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let c = cluster_in(dir.path(), "messageDelayLevel=100ms 2s").await;
    let (client, _) = client();
    let broker = c.broker_addr().to_string();
    send_ok(
        &client,
        &broker,
        send_v2("DR", 0, b"soon", &props(&[("DELAY", "1")])),
    )
    .await;
    send_ok(
        &client,
        &broker,
        send_v2("DR", 0, b"after-restart", &props(&[("DELAY", "2")])),
    )
    .await;
    send_ok(
        &client,
        &broker,
        send_v2("DR", 0, b"timer-soon", &props(&[("TIMER_DELAY_MS", "100")])),
    )
    .await;
    send_ok(
        &client,
        &broker,
        send_v2(
            "DR",
            0,
            b"timer-later",
            &props(&[("TIMER_DELAY_MS", "2000")]),
        ),
    )
    .await;
    wait_until("the short ones delivered", || {
        all_messages(&c, "DR", 0).len() == 2
    })
    .await;
    c.shutdown().await;
    client.close_all().await;

    let c = cluster_in(dir.path(), "messageDelayLevel=100ms 2s").await;
    wait_until("the long ones delivered after restart", || {
        all_messages(&c, "DR", 0).len() == 4
    })
    .await;
    // Give the delivery loops a few more rounds to show nothing is delivered twice.
    let more = tokio::time::timeout(Duration::from_millis(600), async {
        loop {
            if all_messages(&c, "DR", 0).len() > 4 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(more.is_err(), "a delayed message was delivered twice");
    let mut bodies: Vec<String> = all_messages(&c, "DR", 0)
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .collect();
    bodies.sort();
    assert_eq!(
        bodies,
        vec!["after-restart", "soon", "timer-later", "timer-soon"]
    );
    c.shutdown().await;
}

fn send_back(offset: i64, group: &str, max: i32) -> RemotingCommand {
    RemotingCommand::request(request_code::CONSUMER_SEND_MSG_BACK)
        .with_ext("offset", offset)
        .with_ext("group", group)
        .with_ext("delayLevel", 0)
        .with_ext("originTopic", "RetryTopic")
        .with_ext("maxReconsumeTimes", max)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_messages_are_retried_with_growing_count_then_dead_lettered() {
    let c = cluster("messageDelayLevel=50ms 50ms 50ms 50ms 50ms 50ms 50ms").await;
    let (client, _) = client();
    let broker = c.broker_addr().to_string();
    let r = send_ok(
        &client,
        &broker,
        send_v2(
            "RetryTopic",
            0,
            b"poison",
            &props(&[("KEYS", "poison-key"), ("UNIQ_KEY", "UNIQ1")]),
        ),
    )
    .await;
    let first_id = r.ext("msgId").unwrap().to_string();
    let mut phys = all_messages(&c, "RetryTopic", 0)[0].physical_offset;
    for round in 1..=2 {
        send_ok(&client, &broker, send_back(phys, "cg", 2)).await;
        wait_until("the retry copy", || {
            all_messages(&c, "%RETRY%cg", 0).len() == round
        })
        .await;
        let m = all_messages(&c, "%RETRY%cg", 0).pop().unwrap();
        assert_eq!(m.reconsume_times, round as i32);
        let p = m.properties_map();
        assert_eq!(p["RETRY_TOPIC"], "RetryTopic");
        assert_eq!(p["ORIGIN_MESSAGE_ID"], first_id);
        assert_eq!(p["UNIQ_KEY"], "UNIQ1");
        assert_eq!(&m.body[..], b"poison");
        phys = m.physical_offset;
    }
    // Retried twice already: the third failure goes to the dead letters.
    send_ok(&client, &broker, send_back(phys, "cg", 2)).await;
    wait_until("the dead letter", || {
        all_messages(&c, "%DLQ%cg", 0).len() == 1
    })
    .await;
    let dlq = c.broker().unwrap().inner().topics.get("%DLQ%cg").unwrap();
    assert_eq!(
        dlq.perm, 2,
        "DLQ is write-only for consumers, as RocketMQ creates it"
    );
    // It can be found by its key.
    let q = RemotingCommand::request(request_code::QUERY_MESSAGE)
        .with_ext("topic", "%DLQ%cg")
        .with_ext("key", "poison-key")
        .with_ext("maxNum", 10)
        .with_ext("beginTimestamp", 0)
        .with_ext("endTimestamp", i64::MAX);
    let r = send_ok(&client, &broker, q).await;
    assert_eq!(records(&r)[0].reconsume_times, 3);
    c.shutdown().await;
}

/// A producer that answers CHECK_TRANSACTION_STATE with a commit.
struct Checker {
    client: Mutex<Option<(RemotingClient, String)>>,
    checks: Mutex<Vec<RemotingCommand>>,
}

impl RequestHandler for Checker {
    fn handle(&self, _ch: Channel, req: RemotingCommand) -> BoxFuture<Option<RemotingCommand>> {
        if req.code == request_code::CHECK_TRANSACTION_STATE {
            self.checks.lock().unwrap().push(req.clone());
            let target = self.client.lock().unwrap().clone();
            return Box::pin(async move {
                let (client, broker) = target?;
                let end = end_tx(
                    &req.ext_fields["msgId"],
                    req.ext_fields["tranStateTableOffset"].parse().unwrap(),
                    req.ext_fields["commitLogOffset"].parse().unwrap(),
                    8,
                )
                .with_ext("fromTransactionCheck", true);
                client.invoke_oneway(&broker, end).await.ok();
                None
            });
        }
        Box::pin(async move { Some(RemotingCommand::response_to(&req, 0, None)) })
    }
}

fn end_tx(msg_id: &str, queue_offset: i64, phys: i64, decision: i32) -> RemotingCommand {
    RemotingCommand::request(request_code::END_TRANSACTION)
        .with_ext("producerGroup", "txg")
        .with_ext("tranStateTableOffset", queue_offset)
        .with_ext("commitLogOffset", phys)
        .with_ext("commitOrRollback", decision)
        .with_ext("msgId", msg_id)
}

fn half(body: &[u8], uniq: &str) -> RemotingCommand {
    send_v2(
        "TxTopic",
        0,
        body,
        &props(&[("TRAN_MSG", "true"), ("PGROUP", "txg"), ("UNIQ_KEY", uniq)]),
    )
    .with_ext("f", 4)
}

fn decode_phys(msg_id: &str) -> i64 {
    rocketmq::protocol::ids::decode_offset_msg_id(msg_id)
        .unwrap()
        .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_commit_rollback_and_check_back() {
    let c = cluster("transactionTimeOut=300\ntransactionCheckInterval=200").await;
    let checker = Arc::new(Checker {
        client: Mutex::new(None),
        checks: Mutex::new(Vec::new()),
    });
    let client = RemotingClient::new(checker.clone());
    let broker = c.broker_addr().to_string();
    *checker.client.lock().unwrap() = Some((client.clone(), broker.clone()));
    // Register as a producer of the group so the broker can call back.
    let hb = r#"{"clientID":"127.0.0.1@tx","producerDataSet":[{"groupName":"txg"}],"consumerDataSet":[]}"#;
    send_ok(
        &client,
        &broker,
        RemotingCommand::request(request_code::HEART_BEAT).with_body(hb.as_bytes().to_vec()),
    )
    .await;

    let commit = send_ok(&client, &broker, half(b"commit-me", "U-C")).await;
    let rollback = send_ok(&client, &broker, half(b"roll-me-back", "U-R")).await;
    assert!(
        all_messages(&c, "TxTopic", 0).is_empty(),
        "half messages are invisible"
    );
    let qo = |r: &RemotingCommand| r.ext("queueOffset").unwrap().parse::<i64>().unwrap();
    let ph = |r: &RemotingCommand| decode_phys(r.ext("msgId").unwrap());
    client
        .invoke_oneway(&broker, end_tx("U-C", qo(&commit), ph(&commit), 8))
        .await
        .unwrap();
    client
        .invoke_oneway(&broker, end_tx("U-R", qo(&rollback), ph(&rollback), 12))
        .await
        .unwrap();
    wait_until("the commit", || all_messages(&c, "TxTopic", 0).len() == 1).await;
    let m = &all_messages(&c, "TxTopic", 0)[0];
    assert_eq!(&m.body[..], b"commit-me");
    assert_eq!(m.prepared_transaction_offset, ph(&commit));
    assert_eq!(
        m.sys_flag & 0xC,
        0x8,
        "stored as a committed transaction message"
    );
    assert!(!m.properties_map().contains_key("TRAN_MSG"));

    // Left unknown: the broker asks the producer, which commits.
    send_ok(&client, &broker, half(b"ask-me", "U-U")).await;
    wait_until("the checked message to be committed", || {
        all_messages(&c, "TxTopic", 0).len() == 2
    })
    .await;
    assert_eq!(&all_messages(&c, "TxTopic", 0)[1].body[..], b"ask-me");
    let checks = checker.checks.lock().unwrap().clone();
    assert!(
        checks.iter().all(|c| c.ext("msgId") == Some("U-U")),
        "only the undecided one is checked"
    );
    // The rolled-back one never shows up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let bodies: Vec<_> = all_messages(&c, "TxTopic", 0)
        .iter()
        .map(|m| m.body.clone())
        .collect();
    assert_eq!(bodies.len(), 2);
    assert!(bodies.iter().all(|b| &b[..] != b"roll-me-back"));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_transaction_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let c = cluster_in(dir.path(), "").await;
    let (client, _) = client();
    let r = send_ok(
        &client,
        &c.broker_addr().to_string(),
        half(b"survivor", "U-S"),
    )
    .await;
    let (qo, phys) = (
        r.ext("queueOffset").unwrap().parse::<i64>().unwrap(),
        decode_phys(r.ext("msgId").unwrap()),
    );
    let decided = send_ok(
        &client,
        &c.broker_addr().to_string(),
        half(b"decided", "U-D"),
    )
    .await;
    client
        .invoke_oneway(
            &c.broker_addr().to_string(),
            end_tx(
                "U-D",
                decided.ext("queueOffset").unwrap().parse().unwrap(),
                decode_phys(decided.ext("msgId").unwrap()),
                8,
            ),
        )
        .await
        .unwrap();
    wait_until("the first commit", || {
        all_messages(&c, "TxTopic", 0).len() == 1
    })
    .await;
    c.shutdown().await;
    client.close_all().await;

    let c = cluster_in(dir.path(), "").await;
    let broker = c.broker_addr().to_string();
    assert!(c
        .broker()
        .unwrap()
        .inner()
        .transactions
        .is_done(decided.ext("queueOffset").unwrap().parse().unwrap()));
    client
        .invoke_oneway(&broker, end_tx("U-S", qo, phys, 8))
        .await
        .unwrap();
    wait_until("the commit after restart", || {
        all_messages(&c, "TxTopic", 0).len() == 2
    })
    .await;
    // A repeated decision for the same half message changes nothing.
    client
        .invoke_oneway(&broker, end_tx("U-S", qo, phys, 8))
        .await
        .unwrap();
    let r = client
        .invoke(&broker, end_tx("U-S", qo, phys, 8), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(r.code, 0);
    assert_eq!(all_messages(&c, "TxTopic", 0).len(), 2);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_filter_selects_exactly_the_subscribed_tags() {
    let c = cluster("").await;
    let (client, _) = client();
    let broker = c.broker_addr().to_string();
    for tag in ["TagA", "TagB", "TagC", "TagA"] {
        send_ok(
            &client,
            &broker,
            send_v2("TagTopic", 0, tag.as_bytes(), &props(&[("TAGS", tag)])),
        )
        .await;
    }
    let req =
        pull("tg", "TagTopic", 0, 0, FLAG_SUBSCRIPTION, 0).with_ext("subscription", "TagA || TagB");
    let r = send_ok(&client, &broker, req).await;
    let tags: Vec<String> = records(&r)
        .iter()
        .map(|m| m.properties_map()["TAGS"].clone())
        .collect();
    assert_eq!(tags, vec!["TagA", "TagB", "TagA"]);
    assert_eq!(r.ext("nextBeginOffset"), Some("4"));
    let r = client
        .invoke(
            &broker,
            pull("tg", "TagTopic", 0, 0, FLAG_SUBSCRIPTION, 0).with_ext("subscription", "TagZ"),
            TIMEOUT,
        )
        .await
        .unwrap();
    assert_eq!(
        r.code,
        response_code::PULL_RETRY_IMMEDIATELY,
        "nothing matched"
    );
    c.shutdown().await;
}

fn lock_req(client_id: &str, queues: &[i32]) -> RemotingCommand {
    let mqs: Vec<MessageQueue> = queues
        .iter()
        .map(|q| MessageQueue {
            topic: "OrderTopic".into(),
            broker_name: "broker-a".into(),
            queue_id: *q,
        })
        .collect();
    let body = serde_json::json!({"consumerGroup": "og", "clientId": client_id, "mqSet": mqs});
    RemotingCommand::request(request_code::LOCK_BATCH_MQ)
        .with_body(serde_json::to_vec(&body).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_locks_give_each_queue_to_one_client() {
    let c = cluster("").await;
    let (client, _) = client();
    let broker = c.broker_addr().to_string();
    let got = |r: RemotingCommand| -> Vec<i32> {
        let b: LockBatchResponseBody = from_fastjson(&r.body).unwrap();
        let mut q: Vec<i32> = b.lock_ok_mq_set.iter().map(|m| m.queue_id).collect();
        q.sort();
        q
    };
    assert_eq!(
        got(send_ok(&client, &broker, lock_req("c1", &[0, 1])).await),
        vec![0, 1]
    );
    assert_eq!(
        got(send_ok(&client, &broker, lock_req("c2", &[1, 2])).await),
        vec![2]
    );
    let mut unlock = lock_req("c1", &[1]);
    unlock.code = request_code::UNLOCK_BATCH_MQ;
    send_ok(&client, &broker, unlock).await;
    assert_eq!(
        got(send_ok(&client, &broker, lock_req("c2", &[1, 2])).await),
        vec![1, 2]
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_to_a_timestamp_moves_the_group_and_tells_live_clients() {
    let c = cluster("").await;
    let (client, inbox) = client();
    let broker = c.broker_addr().to_string();
    for i in 0..3 {
        send_ok(
            &client,
            &broker,
            send_v2("ResetTopic", 0, format!("old{i}").as_bytes(), ""),
        )
        .await;
    }
    let olds = all_messages(&c, "ResetTopic", 0);
    while rocketmq::protocol::now_ms() <= olds[2].store_timestamp {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    for i in 0..2 {
        send_ok(
            &client,
            &broker,
            send_v2("ResetTopic", 0, format!("new{i}").as_bytes(), ""),
        )
        .await;
    }
    // Reset to the store time of the first new message: consumption restarts there.
    let cut = all_messages(&c, "ResetTopic", 0)[3].store_timestamp;
    let hb = r#"{"clientID":"127.0.0.1@r","consumerDataSet":[{"groupName":"rg","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","subscriptionDataSet":[{"topic":"ResetTopic","subString":"*","expressionType":"TAG","subVersion":1}]}],"producerDataSet":[]}"#;
    send_ok(
        &client,
        &broker,
        RemotingCommand::request(request_code::HEART_BEAT).with_body(hb.as_bytes().to_vec()),
    )
    .await;
    let reset = RemotingCommand::request(request_code::INVOKE_BROKER_TO_RESET_OFFSET)
        .with_ext("topic", "ResetTopic")
        .with_ext("group", "rg")
        .with_ext("timestamp", cut)
        .with_ext("isForce", true);
    send_ok(&client, &broker, reset).await;
    assert_eq!(
        c.broker()
            .unwrap()
            .inner()
            .offsets
            .query("rg", "ResetTopic", 0),
        Some(3)
    );
    wait_until("RESET_CONSUMER_CLIENT_OFFSET at the client", || {
        inbox
            .received
            .lock()
            .unwrap()
            .iter()
            .any(|m| m.code == request_code::RESET_CONSUMER_CLIENT_OFFSET)
    })
    .await;
    let msg = inbox
        .received
        .lock()
        .unwrap()
        .iter()
        .find(|m| m.code == request_code::RESET_CONSUMER_CLIENT_OFFSET)
        .cloned()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&msg.body).contains(r#""brokerName":"broker-a","queueId":0}:3"#),
        "{}",
        String::from_utf8_lossy(&msg.body)
    );
    // Consumer progress: broker offset 5, consumer offset 3.
    let stats = RemotingCommand::request(request_code::GET_CONSUME_STATS)
        .with_ext("consumerGroup", "rg")
        .with_ext("topic", "ResetTopic");
    let r = send_ok(&client, &broker, stats).await;
    assert!(
        String::from_utf8_lossy(&r.body).contains(r#"{"brokerOffset":5,"consumerOffset":3"#),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql92_filter_selects_exactly_the_matching_messages() {
    let c = cluster("enablePropertyFilter=true").await;
    let (client, _) = client();
    let broker = c.broker_addr().to_string();
    for (i, color) in ["red", "blue", "red", "green"].iter().enumerate() {
        let p = props(&[("color", color), ("n", &i.to_string()), ("TAGS", "T")]);
        send_ok(
            &client,
            &broker,
            send_v2("SqlTopic", 0, color.as_bytes(), &p),
        )
        .await;
    }
    let sql = |expr: &str| {
        pull("sg", "SqlTopic", 0, 0, FLAG_SUBSCRIPTION, 0)
            .with_ext("subscription", expr)
            .with_ext("expressionType", "SQL92")
    };
    let r = send_ok(&client, &broker, sql("color = 'red' AND n BETWEEN 1 AND 3")).await;
    let got: Vec<String> = records(&r)
        .iter()
        .map(|m| m.properties_map()["n"].clone())
        .collect();
    assert_eq!(got, vec!["2"]);
    let r = send_ok(
        &client,
        &broker,
        sql("color IN ('blue', 'green') OR missing IS NOT NULL"),
    )
    .await;
    assert_eq!(records(&r).len(), 2);
    // A bad expression is refused at subscribe time with the reason.
    let check = serde_json::json!({"clientId": "x", "group": "sg", "subscriptionData": {"topic": "SqlTopic", "subString": "color = ", "expressionType": "SQL92"}});
    let r = client
        .invoke(
            &broker,
            RemotingCommand::request(request_code::CHECK_CLIENT_CONFIG)
                .with_body(serde_json::to_vec(&check).unwrap()),
            TIMEOUT,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUBSCRIPTION_PARSE_FAILED);
    assert!(r.remark.unwrap().contains("position"));
    c.shutdown().await;

    // Without enablePropertyFilter the broker says so.
    let c = cluster("").await;
    let broker = c.broker_addr().to_string();
    send_ok(&client, &broker, send_v2("SqlTopic", 0, b"x", "")).await;
    let r = client.invoke(&broker, sql("a > 1"), TIMEOUT).await.unwrap();
    assert_eq!(r.code, response_code::SYSTEM_ERROR);
    assert!(r.remark.unwrap().contains("SQL92"));
    c.shutdown().await;
}
