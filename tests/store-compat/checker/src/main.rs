//! Writes messages and consumer offsets through a broker (Apache RocketMQ's or ours), records
//! what was acknowledged in a manifest, and checks a broker or a store directory against it.
//!
//! * `produce --broker ADDR --manifest FILE [--count N]`: creates topic `CompatTopic` with
//!   `QUEUES` queues, sends N messages (SEND_MESSAGE_V2, varied bodies, tags, keys, a user
//!   property), commits offsets of group `compat_group`, writes the manifest.
//! * `verify --broker ADDR --namesrv ADDR --manifest FILE`: over the wire, against whichever
//!   broker now serves the store: the topic's route and queue counts, every queue pulled from 0
//!   (bodies, properties, queue and physical offsets), lookups by physical offset and by key, and
//!   the committed consumer offsets.
//! * `verify-store --store DIR --manifest FILE`: opens the directory with our `MessageStore`
//!   (no broker) and checks the same messages, plus `config/topics.json` and
//!   `config/consumerOffset.json` as files.
//!
//! `--skip-offsets` leaves consumer offsets out (after a crash a broker may not have persisted
//! the last ones). File sizes must match the writer's settings: `--commitlog-file-bytes` (default 32 MiB, what
//! tests/java-broker/start.sh configures) and `--consume-queue-file-bytes` (default 600000).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rocketmq::protocol::bodies::TopicRouteData;
use rocketmq::protocol::command::LanguageCode;
use rocketmq::protocol::ids::decode_offset_msg_id;
use rocketmq::protocol::json::from_fastjson;
use rocketmq::protocol::message::{decode_properties, encode_properties, MessageRecord};
use rocketmq::protocol::{request_code, response_code, RemotingCommand};
use rocketmq::remoting::RemotingClient;
use rocketmq::store::{AcceptAll, MessageStore, StoreConfig};
use serde::{Deserialize, Serialize};

const TOPIC: &str = "CompatTopic";
const QUEUES: i32 = 4;
const GROUP: &str = "compat_group";
const READER_GROUP: &str = "compat_reader";
const TIMEOUT: Duration = Duration::from_secs(15);
/// How long a restarted broker may take to show up in its name server's routes.
const ROUTE_WAIT: Duration = Duration::from_secs(60);
const FLAG_SUBSCRIPTION: i32 = 0x4;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Sent {
    id: u64,
    queue_id: i32,
    queue_offset: i64,
    physical_offset: i64,
    body_len: usize,
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    /// Who wrote the store ("java" or "rust"), for messages only.
    writer: String,
    topic: String,
    queues: i32,
    group: String,
    messages: Vec<Sent>,
    /// Committed offset of `group` per queue id.
    consumer_offsets: BTreeMap<i32, i64>,
}

/// Body of message `id`: the id, then bytes derived from it.
fn body_for(id: u64, len: usize) -> Vec<u8> {
    let mut b = id.to_be_bytes().to_vec();
    let mut x = id.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while b.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b.push(x as u8);
    }
    b.truncate(len.max(8));
    b
}

fn body_len_for(id: u64) -> usize {
    // Mostly small, some large enough to span pages, one over 64 KiB.
    match id % 10 {
        0 => 8,
        7 => 5_000 + (id as usize * 37) % 3_000,
        _ if id == 42 => 70_000,
        _ => 16 + (id as usize * 131) % 1_500,
    }
}

fn tag_for(id: u64) -> String {
    format!("tag{}", id % 3)
}
fn key_for(id: u64) -> String {
    format!("compat-key-{id}")
}
fn uniq_for(id: u64) -> String {
    format!("C0A80001{id:024X}")
}

fn fail(msg: String) -> ! {
    eprintln!("store-compat: FAILED: {msg}");
    std::process::exit(1);
}

macro_rules! check {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            fail(format!($($arg)+));
        }
    };
}

/// A request as a 4.9 broker accepts it: 4.9 knows no RUST language code.
fn request(code: i32) -> RemotingCommand {
    let mut r = RemotingCommand::request(code);
    r.language = LanguageCode::Other;
    r
}

async fn invoke(client: &RemotingClient, addr: &str, req: RemotingCommand) -> RemotingCommand {
    let code = req.code;
    client
        .invoke(addr, req, TIMEOUT)
        .await
        .unwrap_or_else(|e| fail(format!("request {code} to {addr}: {e}")))
}

/// Checks one stored message against the manifest entry it claims to be.
fn check_message(m: &MessageRecord, sent: &HashMap<u64, Sent>, queue_id: i32, offset: i64) -> u64 {
    check!(m.topic == TOPIC, "topic {} at {queue_id}/{offset}", m.topic);
    check!(
        m.queue_id == queue_id && m.queue_offset == offset,
        "message at {queue_id}/{offset} says {}/{}",
        m.queue_id,
        m.queue_offset
    );
    check!(m.body.len() >= 8, "body of {queue_id}/{offset} too short");
    let id = u64::from_be_bytes(m.body[..8].try_into().unwrap());
    let Some(s) = sent.get(&id) else {
        fail(format!(
            "message {id} at {queue_id}/{offset} was never sent"
        ))
    };
    check!(
        m.body[..] == body_for(id, s.body_len)[..],
        "body of message {id} differs"
    );
    check!(
        (s.queue_id, s.queue_offset, s.physical_offset)
            == (m.queue_id, m.queue_offset, m.physical_offset),
        "message {id}: acknowledged at {}/{} physical {}, stored at {}/{} physical {}",
        s.queue_id,
        s.queue_offset,
        s.physical_offset,
        m.queue_id,
        m.queue_offset,
        m.physical_offset
    );
    let p = decode_properties(&m.properties);
    check!(
        p.get("TAGS") == Some(&tag_for(id)),
        "TAGS of {id}: {:?}",
        p.get("TAGS")
    );
    check!(
        p.get("KEYS") == Some(&format!("{} second-{id}", key_for(id))),
        "KEYS of {id}: {:?}",
        p.get("KEYS")
    );
    check!(p.get("UNIQ_KEY") == Some(&uniq_for(id)), "UNIQ_KEY of {id}");
    check!(
        p.get("compat").map(String::as_str) == Some("é-ünïcödé"),
        "user property of {id}: {:?}",
        p.get("compat")
    );
    id
}

fn expected_per_queue(m: &Manifest) -> BTreeMap<i32, i64> {
    let mut per = BTreeMap::new();
    for q in 0..m.queues {
        per.insert(q, 0);
    }
    for s in &m.messages {
        *per.get_mut(&s.queue_id).unwrap() += 1;
    }
    per
}

async fn produce(broker: &str, count: u64, writer: &str) -> Manifest {
    let client = RemotingClient::default();
    let create = request(request_code::UPDATE_AND_CREATE_TOPIC)
        .with_ext("topic", TOPIC)
        .with_ext("defaultTopic", "TBW102")
        .with_ext("readQueueNums", QUEUES)
        .with_ext("writeQueueNums", QUEUES)
        .with_ext("perm", 6)
        .with_ext("topicFilterType", "SINGLE_TAG")
        .with_ext("topicSysFlag", 0)
        .with_ext("order", false);
    let r = invoke(&client, broker, create).await;
    check!(
        r.code == response_code::SUCCESS,
        "create topic: {:?}",
        r.remark
    );

    let mut messages = Vec::new();
    for id in 1..=count {
        let queue_id = (id % QUEUES as u64) as i32;
        let props: HashMap<String, String> = [
            ("TAGS", tag_for(id)),
            ("KEYS", format!("{} second-{id}", key_for(id))),
            ("UNIQ_KEY", uniq_for(id)),
            ("WAIT", "true".to_string()),
            ("compat", "é-ünïcödé".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let body_len = body_len_for(id);
        let send = request(request_code::SEND_MESSAGE_V2)
            .with_ext("a", "compat_producer")
            .with_ext("b", TOPIC)
            .with_ext("c", "TBW102")
            .with_ext("d", QUEUES)
            .with_ext("e", queue_id)
            .with_ext("f", 0)
            .with_ext("g", rocketmq::protocol::now_ms())
            .with_ext("h", 0)
            .with_ext("i", encode_properties(&props))
            .with_ext("j", 0)
            .with_ext("k", false)
            .with_ext("m", false)
            .with_body(body_for(id, body_len));
        let r = invoke(&client, broker, send).await;
        check!(
            r.code == response_code::SUCCESS,
            "send {id}: code {} {:?}",
            r.code,
            r.remark
        );
        let msg_id = r.ext("msgId").unwrap_or_else(|| fail("no msgId".into()));
        let (_, physical_offset) = decode_offset_msg_id(msg_id)
            .unwrap_or_else(|| fail(format!("msgId {msg_id} is not an offset id")));
        messages.push(Sent {
            id,
            queue_id,
            queue_offset: r.ext("queueOffset").unwrap().parse().unwrap(),
            physical_offset,
            body_len,
        });
    }

    let manifest = Manifest {
        writer: writer.to_string(),
        topic: TOPIC.into(),
        queues: QUEUES,
        group: GROUP.into(),
        consumer_offsets: BTreeMap::new(),
        messages,
    };
    let mut offsets = BTreeMap::new();
    for (q, n) in expected_per_queue(&manifest) {
        let committed = (q as i64 + 2).min(n);
        let up = request(request_code::UPDATE_CONSUMER_OFFSET)
            .with_ext("consumerGroup", GROUP)
            .with_ext("topic", TOPIC)
            .with_ext("queueId", q)
            .with_ext("commitOffset", committed);
        let r = invoke(&client, broker, up).await;
        check!(
            r.code == response_code::SUCCESS,
            "commit offset: {:?}",
            r.remark
        );
        offsets.insert(q, committed);
    }
    client.close_all().await;
    eprintln!(
        "store-compat: sent {} messages to {TOPIC} on {broker}, committed {offsets:?} for {GROUP}",
        manifest.messages.len()
    );
    Manifest {
        consumer_offsets: offsets,
        ..manifest
    }
}

async fn verify(broker: &str, namesrv: &str, m: &Manifest, check_offsets: bool) {
    let client = RemotingClient::default();
    let sent: HashMap<u64, Sent> = m.messages.iter().map(|s| (s.id, s.clone())).collect();

    // The topic, as the broker registered it from its topics.json.
    let deadline = Instant::now() + ROUTE_WAIT;
    let route: TopicRouteData = loop {
        let req = request(request_code::GET_ROUTEINFO_BY_TOPIC).with_ext("topic", TOPIC);
        let r = invoke(&client, namesrv, req).await;
        if r.code == response_code::SUCCESS {
            break from_fastjson(&r.body).unwrap_or_else(|e| fail(format!("route body: {e}")));
        }
        check!(
            Instant::now() < deadline,
            "{TOPIC} not routable at {namesrv} within {ROUTE_WAIT:?}: {:?}",
            r.remark
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let qd = &route.queue_datas[0];
    check!(
        (qd.read_queue_nums, qd.write_queue_nums) == (m.queues, m.queues),
        "route has {}/{} queues, expected {}",
        qd.read_queue_nums,
        qd.write_queue_nums,
        m.queues
    );

    // Every queue from 0.
    let mut seen = 0usize;
    for (q, expected) in expected_per_queue(m) {
        let req = request(request_code::GET_MAX_OFFSET)
            .with_ext("topic", TOPIC)
            .with_ext("queueId", q);
        let r = invoke(&client, broker, req).await;
        let max: i64 = r.ext("offset").unwrap_or("-1").parse().unwrap();
        check!(
            max == expected,
            "queue {q}: max offset {max}, expected {expected}"
        );
        let mut offset = 0;
        let mut retries = 0;
        while offset < max {
            let req = request(request_code::PULL_MESSAGE)
                .with_ext("consumerGroup", READER_GROUP)
                .with_ext("topic", TOPIC)
                .with_ext("queueId", q)
                .with_ext("queueOffset", offset)
                .with_ext("maxMsgNums", 32)
                .with_ext("sysFlag", FLAG_SUBSCRIPTION)
                .with_ext("commitOffset", 0)
                .with_ext("suspendTimeoutMillis", 0)
                .with_ext("subscription", "*")
                .with_ext("subVersion", 0)
                .with_ext("expressionType", "TAG");
            let r = invoke(&client, broker, req).await;
            if r.code == response_code::PULL_RETRY_IMMEDIATELY && retries < 10 {
                retries += 1;
                continue;
            }
            check!(
                r.code == response_code::SUCCESS,
                "pull {q}/{offset}: code {} {:?}",
                r.code,
                r.remark
            );
            let recs = MessageRecord::decode_all(&r.body)
                .unwrap_or_else(|e| fail(format!("pull body: {e:?}")));
            check!(!recs.is_empty(), "pull {q}/{offset} returned nothing");
            for rec in &recs {
                check_message(rec, &sent, q, offset);
                offset += 1;
                seen += 1;
            }
        }
    }
    check!(
        seen == m.messages.len(),
        "pulled {seen} of {}",
        m.messages.len()
    );

    // By physical offset and by key (the index).
    for s in m.messages.iter().step_by(37) {
        let req = request(request_code::VIEW_MESSAGE_BY_ID).with_ext("offset", s.physical_offset);
        let r = invoke(&client, broker, req).await;
        check!(
            r.code == response_code::SUCCESS,
            "view {}: {:?}",
            s.id,
            r.remark
        );
        let recs = MessageRecord::decode_all(&r.body).unwrap();
        check_message(&recs[0], &sent, s.queue_id, s.queue_offset);

        let req = request(request_code::QUERY_MESSAGE)
            .with_ext("topic", TOPIC)
            .with_ext("key", key_for(s.id))
            .with_ext("maxNum", 32)
            .with_ext("beginTimestamp", 0)
            .with_ext("endTimestamp", i64::MAX);
        let r = invoke(&client, broker, req).await;
        check!(
            r.code == response_code::SUCCESS,
            "query key of {}: code {} {:?}",
            s.id,
            r.code,
            r.remark
        );
        let recs = MessageRecord::decode_all(&r.body).unwrap();
        check!(
            recs.iter()
                .any(|rec| rec.physical_offset == s.physical_offset),
            "query by key {} misses the message",
            key_for(s.id)
        );
    }

    // Committed consumer offsets (a broker persists them every few seconds, so after a crash
    // they may be older).
    for (q, committed) in m.consumer_offsets.iter().filter(|_| check_offsets) {
        let req = request(request_code::QUERY_CONSUMER_OFFSET)
            .with_ext("consumerGroup", &m.group)
            .with_ext("topic", TOPIC)
            .with_ext("queueId", q);
        let r = invoke(&client, broker, req).await;
        check!(
            r.code == response_code::SUCCESS,
            "query offset {}/{q}: code {} {:?}",
            m.group,
            r.code,
            r.remark
        );
        let got: i64 = r.ext("offset").unwrap().parse().unwrap();
        check!(
            got == *committed,
            "offset of {}/{q}: {got}, expected {committed}",
            m.group
        );
    }
    client.close_all().await;
    eprintln!(
        "store-compat: {broker} serves all {} messages ({} store){}",
        m.messages.len(),
        m.writer,
        if check_offsets {
            format!(" and the offsets {:?}", m.consumer_offsets)
        } else {
            String::new()
        }
    );
}

fn verify_store(
    dir: PathBuf,
    commit_log_bytes: u64,
    cq_bytes: u64,
    m: &Manifest,
    check_offsets: bool,
) {
    let sent: HashMap<u64, Sent> = m.messages.iter().map(|s| (s.id, s.clone())).collect();
    let store = MessageStore::open(StoreConfig {
        root_dir: dir.clone(),
        commit_log_file_size_bytes: commit_log_bytes,
        consume_queue_file_size_bytes: cq_bytes,
        ..Default::default()
    })
    .unwrap_or_else(|e| fail(format!("open {}: {e}", dir.display())));
    let mut seen = 0;
    for (q, expected) in expected_per_queue(m) {
        let max = store.max_offset_in_queue(TOPIC, q);
        check!(
            max == expected,
            "queue {q}: max offset {max}, expected {expected}"
        );
        check!(
            store.min_offset_in_queue(TOPIC, q) == 0,
            "queue {q} min offset"
        );
        let mut offset = 0;
        while offset < max {
            let r = store.get_message(TOPIC, q, offset, 32, &AcceptAll);
            check!(!r.messages.is_empty(), "get {q}/{offset}: {:?}", r.status);
            for raw in &r.messages {
                let (rec, _) = MessageRecord::decode(raw, true)
                    .unwrap_or_else(|e| fail(format!("record {q}/{offset}: {e:?}")));
                check_message(&rec, &sent, q, offset);
                offset += 1;
                seen += 1;
            }
        }
    }
    check!(
        seen == m.messages.len(),
        "read {seen} of {}",
        m.messages.len()
    );
    for s in m.messages.iter().step_by(37) {
        let raw = store
            .look_message_by_offset(s.physical_offset)
            .unwrap_or_else(|| fail(format!("no record at {}", s.physical_offset)));
        let (rec, _) = MessageRecord::decode(&raw, true).unwrap();
        check_message(&rec, &sent, s.queue_id, s.queue_offset);
        let found = store.query_message(TOPIC, &key_for(s.id), 32, 0, i64::MAX);
        check!(
            found
                .messages
                .iter()
                .any(|b: &Bytes| MessageRecord::decode(b, false)
                    .is_ok_and(|(r, _)| r.physical_offset == s.physical_offset)),
            "index lookup of {} misses the message",
            key_for(s.id)
        );
    }
    store.shutdown();
    drop(store);

    let read_json = |name: &str| -> serde_json::Value {
        let path = dir.join("config").join(name);
        let text =
            std::fs::read(&path).unwrap_or_else(|e| fail(format!("read {}: {e}", path.display())));
        from_fastjson(&text).unwrap_or_else(|e| fail(format!("parse {}: {e}", path.display())))
    };
    let topics = read_json("topics.json");
    let t = &topics["topicConfigTable"][TOPIC];
    check!(
        t["readQueueNums"] == m.queues && t["writeQueueNums"] == m.queues,
        "topics.json entry for {TOPIC}: {t}"
    );
    let offsets = if check_offsets {
        read_json("consumerOffset.json")
    } else {
        serde_json::Value::Null
    };
    let table = &offsets["offsetTable"][format!("{TOPIC}@{}", m.group)];
    for (q, committed) in m.consumer_offsets.iter().filter(|_| check_offsets) {
        check!(
            table[q.to_string()] == *committed,
            "consumerOffset.json {TOPIC}@{} queue {q}: {}",
            m.group,
            table[q.to_string()]
        );
    }
    eprintln!(
        "store-compat: our MessageStore reads all {} messages of the {} store in {}, and its \
         topics.json{}",
        m.messages.len(),
        m.writer,
        dir.display(),
        if check_offsets {
            " and consumerOffset.json"
        } else {
            ""
        }
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opt = |name: &str| -> Option<String> {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let need = |name: &str| opt(name).unwrap_or_else(|| fail(format!("{name} is required")));
    let manifest_path = PathBuf::from(need("--manifest"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    match args.first().map(String::as_str) {
        Some("produce") => {
            let count = opt("--count").map_or(300, |c| c.parse().unwrap());
            let writer = opt("--writer").unwrap_or_else(|| "unknown".into());
            let m = runtime.block_on(produce(&need("--broker"), count, &writer));
            std::fs::write(&manifest_path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
        }
        Some(cmd @ ("verify" | "verify-store")) => {
            let m: Manifest = serde_json::from_slice(
                &std::fs::read(&manifest_path)
                    .unwrap_or_else(|e| fail(format!("read manifest: {e}"))),
            )
            .unwrap();
            let check_offsets = !args.iter().any(|a| a == "--skip-offsets");
            if cmd == "verify" {
                runtime.block_on(verify(
                    &need("--broker"),
                    &need("--namesrv"),
                    &m,
                    check_offsets,
                ));
            } else {
                let cl = opt("--commitlog-file-bytes").map_or(32 << 20, |v| v.parse().unwrap());
                let cq = opt("--consume-queue-file-bytes").map_or(600_000, |v| v.parse().unwrap());
                verify_store(PathBuf::from(need("--store")), cl, cq, &m, check_offsets);
            }
        }
        _ => fail("usage: store-compat produce|verify|verify-store ... (see the source)".into()),
    }
}
