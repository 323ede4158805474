//! Message store behaviour: append and read back, filters, file rolling, restart, statuses.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use rocketmq::protocol::ids::offset_msg_id;
use rocketmq::protocol::message::{
    decode_properties, encode_properties, java_hash, sys_flag, MessageRecord,
};
use rocketmq::store::{
    load_config_file, persist_config_file, AcceptAll, GetMessageStatus, MessageFilter,
    MessageStore, PutMessageStatus, StoreConfig, StoreError,
};

struct Tag(i64);
impl MessageFilter for Tag {
    fn matches_tags_code(&self, code: i64) -> bool {
        code == self.0
    }
    fn needs_properties(&self) -> bool {
        false
    }
}

struct Prop(&'static str, &'static str);
impl MessageFilter for Prop {
    fn matches_tags_code(&self, _: i64) -> bool {
        true
    }
    fn matches_properties(&self, p: &HashMap<String, String>) -> bool {
        p.get(self.0).map(String::as_str) == Some(self.1)
    }
}

fn config(dir: &std::path::Path) -> StoreConfig {
    StoreConfig {
        root_dir: dir.to_path_buf(),
        commit_log_file_size_bytes: 64 * 1024,
        consume_queue_file_size_bytes: 20 * 100,
        ..Default::default()
    }
}

fn msg(topic: &str, queue_id: i32, body: &str, props: &[(&str, &str)]) -> MessageRecord {
    let map: HashMap<String, String> = props
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    MessageRecord {
        topic: topic.into(),
        queue_id,
        body: Bytes::copy_from_slice(body.as_bytes()),
        properties: encode_properties(&map),
        born_timestamp: 1,
        born_host: "10.0.0.1:4000".parse().unwrap(),
        store_host: "127.0.0.1:10911".parse().unwrap(),
        ..Default::default()
    }
}

fn bodies(records: &[Bytes]) -> Vec<String> {
    records
        .iter()
        .map(|r| {
            String::from_utf8(MessageRecord::decode(r, true).unwrap().0.body.to_vec()).unwrap()
        })
        .collect()
}

#[test]
fn append_then_get_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    for i in 0..5 {
        let r = store.put_message(msg("TopicA", 1, &format!("m{i}"), &[("TAGS", "A")]));
        assert_eq!(r.status, PutMessageStatus::PutOk);
        let a = r.append.unwrap();
        assert_eq!(a.logics_offset, i);
        assert_eq!(
            a.msg_ids,
            vec![offset_msg_id(
                &"127.0.0.1:10911".parse().unwrap(),
                a.wrote_offset
            )]
        );
        assert!(r.flush_waiter.is_none());
    }
    let got = store.get_message("TopicA", 1, 1, 3, &AcceptAll);
    assert_eq!(got.status, GetMessageStatus::Found);
    assert_eq!(got.next_begin_offset, 4);
    assert_eq!((got.min_offset, got.max_offset), (0, 5));
    assert_eq!(bodies(&got.messages), vec!["m1", "m2", "m3"]);
    let (m, _) = MessageRecord::decode(&got.messages[0], true).unwrap();
    assert_eq!(m.queue_offset, 1);
    assert_eq!(m.topic, "TopicA");
    assert_eq!(store.max_offset_in_queue("TopicA", 1), 5);
    assert_eq!(store.min_offset_in_queue("TopicA", 1), 0);
    let looked = store.look_message_by_offset(m.physical_offset).unwrap();
    assert_eq!(looked, got.messages[0]);
    assert!(store
        .look_message_by_offset(m.physical_offset + 1)
        .is_none());
    assert_eq!(
        store.queue_ids(),
        HashMap::from([("TopicA".to_string(), vec![1])])
    );
    assert!(store.max_phy_offset() > 0);
    assert_eq!(store.min_phy_offset(), 0);
    store.shutdown();
}

#[test]
fn tag_and_property_filters_skip_other_messages() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    for (i, tag) in ["A", "B", "A", "B"].iter().enumerate() {
        store.put_message(msg(
            "T",
            0,
            &format!("m{i}"),
            &[("TAGS", tag), ("color", if i < 2 { "red" } else { "blue" })],
        ));
    }
    let b = Tag(java_hash("B") as i64);
    let got = store.get_message("T", 0, 0, 32, &b);
    assert_eq!(got.status, GetMessageStatus::Found);
    assert_eq!(bodies(&got.messages), vec!["m1", "m3"]);
    assert_eq!(got.next_begin_offset, 4);
    let got = store.get_message("T", 0, 0, 1, &b);
    assert_eq!(bodies(&got.messages), vec!["m1"]);
    assert_eq!(
        got.next_begin_offset, 2,
        "the scan stops at the last message taken"
    );
    let none = store.get_message("T", 0, 0, 32, &Tag(java_hash("C") as i64));
    assert_eq!(none.status, GetMessageStatus::NoMatchedMessage);
    assert_eq!(none.next_begin_offset, 4);
    let blue = store.get_message("T", 0, 0, 32, &Prop("color", "blue"));
    assert_eq!(bodies(&blue.messages), vec!["m2", "m3"]);
}

#[test]
fn get_message_statuses_follow_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    let r = store.get_message("Nope", 0, 5, 32, &AcceptAll);
    assert_eq!(
        (r.status, r.next_begin_offset),
        (GetMessageStatus::NoMatchedLogicQueue, 0)
    );
    for i in 0..3 {
        store.put_message(msg("T", 0, &format!("m{i}"), &[]));
    }
    let r = store.get_message("T", 0, 3, 32, &AcceptAll);
    assert_eq!(
        (r.status, r.next_begin_offset),
        (GetMessageStatus::OffsetOverflowOne, 3)
    );
    let r = store.get_message("T", 0, 9, 32, &AcceptAll);
    assert_eq!(
        (r.status, r.next_begin_offset),
        (GetMessageStatus::OffsetOverflowBadly, 3)
    );
    let r = store.get_message("T", 0, -1, 32, &AcceptAll);
    assert_eq!(
        (r.status, r.next_begin_offset),
        (GetMessageStatus::OffsetTooSmall, 0)
    );
    let r = store.get_message("T", 0, 0, 32, &AcceptAll);
    assert_eq!(
        (r.status, r.next_begin_offset, r.messages.len()),
        (GetMessageStatus::Found, 3, 3)
    );
}

#[test]
fn commit_log_rolls_to_a_new_file_behind_a_blank_marker() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.commit_log_file_size_bytes = 1024;
    let store = MessageStore::open(cfg.clone()).unwrap();
    let body = "x".repeat(200);
    let mut offsets = Vec::new();
    for _ in 0..12 {
        let r = store.put_message(msg("T", 0, &body, &[]));
        assert_eq!(r.status, PutMessageStatus::PutOk);
        offsets.push(r.append.unwrap().wrote_offset);
    }
    for w in offsets.windows(2) {
        // Each record stays inside one file.
        let size = 292;
        assert!(w[0] / 1024 == (w[0] + size - 1) / 1024);
    }
    assert!(offsets.contains(&1024) && offsets.contains(&2048));
    let first = std::fs::read(dir.path().join("commitlog").join("00000000000000000000")).unwrap();
    let blank_at = 3 * 292;
    assert_eq!(
        i32::from_be_bytes(first[blank_at..blank_at + 4].try_into().unwrap()),
        (1024 - blank_at) as i32
    );
    assert_eq!(
        &first[blank_at + 4..blank_at + 8],
        &0xCBD43194u32.to_be_bytes()
    );
    let r = store.get_message("T", 0, 0, 32, &AcceptAll);
    assert_eq!(r.messages.len(), 12);
    // Too big for a file at all.
    let r = store.put_message(msg("T", 0, &"y".repeat(1000), &[]));
    assert_eq!(r.status, PutMessageStatus::MessageIllegal);
    store.shutdown();
    drop(store);
    let store = MessageStore::open(cfg).unwrap();
    let r = store.get_message("T", 0, 0, 32, &AcceptAll);
    assert_eq!(r.messages.len(), 12);
    assert_eq!(
        store
            .put_message(msg("T", 0, "after", &[]))
            .append
            .unwrap()
            .logics_offset,
        12
    );
}

#[test]
fn restart_keeps_every_message_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.commit_log_file_size_bytes = 4096;
    let store = MessageStore::open(cfg.clone()).unwrap();
    for i in 0..40 {
        store.put_message(msg(
            "T",
            i % 3,
            &format!("m{i}"),
            &[("KEYS", &format!("k{i}"))],
        ));
    }
    let max_phy = store.max_phy_offset();
    store.shutdown();
    assert!(!dir.path().join("abort").exists());
    drop(store);
    let store = MessageStore::open(cfg).unwrap();
    assert!(dir.path().join("abort").exists());
    assert_eq!(store.max_phy_offset(), max_phy);
    assert_eq!(store.max_offset_in_queue("T", 0), 14);
    assert_eq!(store.max_offset_in_queue("T", 1), 13);
    let r = store.get_message("T", 1, 0, 32, &AcceptAll);
    assert_eq!(r.messages.len(), 13);
    assert_eq!(bodies(&r.messages)[12], "m37");
    let next = store.put_message(msg("T", 1, "new", &[])).append.unwrap();
    assert_eq!(next.logics_offset, 13);
    assert_eq!(next.wrote_offset, max_phy);
}

#[test]
fn lock_file_prevents_a_second_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    match MessageStore::open(config(dir.path())) {
        Err(StoreError::Locked(p)) => assert_eq!(p, dir.path().join("lock")),
        Err(e) => panic!("unexpected {e}"),
        Ok(_) => panic!("opened twice"),
    }
    store.shutdown();
    assert!(MessageStore::open(config(dir.path())).is_ok());
}

#[test]
fn offset_by_time_picks_the_exact_or_closest_message() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    assert_eq!(store.offset_by_time("T", 0, 1), 0);
    let mut times = Vec::new();
    for i in 0..4 {
        let r = store.put_message(msg("T", 0, &format!("m{i}"), &[]));
        times.push(r.append.unwrap().store_timestamp);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    for (i, t) in times.iter().enumerate() {
        assert_eq!(store.offset_by_time("T", 0, *t), i as i64);
        assert_eq!(store.message_store_time("T", 0, i as i64), Some(*t));
    }
    assert_eq!(store.offset_by_time("T", 0, times[1] + 2), 1);
    assert_eq!(store.offset_by_time("T", 0, times[2] - 2), 2);
    assert_eq!(store.offset_by_time("T", 0, 0), 0);
    assert_eq!(store.offset_by_time("T", 0, i64::MAX / 2), 3);
    assert_eq!(store.earliest_message_time("T", 0), Some(times[0]));
    assert_eq!(store.message_store_time("T", 0, 4), None);
}

#[test]
fn batches_get_consecutive_offsets_and_half_messages_stay_out_of_queues() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    let r = store.put_messages((0..3).map(|i| msg("T", 2, &format!("b{i}"), &[])).collect());
    assert_eq!(r.status, PutMessageStatus::PutOk);
    let a = r.append.unwrap();
    assert_eq!((a.logics_offset, a.msg_num, a.msg_ids.len()), (0, 3, 3));
    let mixed = store.put_messages(vec![msg("T", 2, "a", &[]), msg("T", 3, "b", &[])]);
    assert_eq!(mixed.status, PutMessageStatus::MessageIllegal);
    let mut half = msg("T", 2, "half", &[]);
    half.sys_flag = sys_flag::TRANSACTION_PREPARED_TYPE;
    let h = store.put_message(half).append.unwrap();
    assert_eq!(h.logics_offset, 0);
    assert_eq!(store.max_offset_in_queue("T", 2), 3);
    assert!(store.look_message_by_offset(h.wrote_offset).is_some());
    let next = store.put_message(msg("T", 2, "n", &[])).append.unwrap();
    assert_eq!(next.logics_offset, 3);
}

#[test]
fn oversized_bodies_properties_and_topics_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.max_message_size_bytes = 100;
    let store = MessageStore::open(cfg).unwrap();
    let r = store.put_message(msg("T", 0, &"x".repeat(101), &[]));
    assert_eq!(r.status, PutMessageStatus::MessageIllegal);
    assert!(r.remark.unwrap().contains("maxMessageSize"));
    let mut m = msg("T", 0, "x", &[]);
    m.properties = "a".repeat(40_000);
    assert_eq!(
        store.put_message(m).status,
        PutMessageStatus::PropertiesSizeExceeded
    );
    assert_eq!(
        store.put_message(msg(&"t".repeat(128), 0, "x", &[])).status,
        PutMessageStatus::MessageIllegal
    );
    assert_eq!(store.max_phy_offset(), 0);
}

#[test]
fn keys_and_unique_ids_are_queryable() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    store.put_message(msg(
        "T",
        0,
        "one",
        &[("KEYS", "order-1 user-9"), ("UNIQ_KEY", "U1")],
    ));
    store.put_message(msg("T", 1, "two", &[("KEYS", "order-2 user-9")]));
    store.put_message(msg("Other", 0, "three", &[("KEYS", "user-9")]));
    let q = store.query_message("T", "user-9", 32, 0, i64::MAX);
    let mut got = bodies(&q.messages);
    got.sort();
    assert_eq!(got, vec!["one", "two"]);
    assert_eq!(
        bodies(&store.query_message("T", "U1", 32, 0, i64::MAX).messages),
        vec!["one"]
    );
    assert!(store
        .query_message("T", "order-3", 32, 0, i64::MAX)
        .messages
        .is_empty());
    assert!(store
        .query_message("T", "order-1", 32, 0, 1)
        .messages
        .is_empty());
    assert!(q.index_last_update_timestamp > 0);
}

#[test]
fn arrival_listener_hears_each_dispatched_message() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    let heard = Arc::new(Mutex::new(Vec::new()));
    let h = Arc::clone(&heard);
    store.set_arrival_listener(Box::new(move |topic, qid, max, code, props| {
        h.lock().unwrap().push((
            topic.to_string(),
            qid,
            max,
            code,
            decode_properties(props).get("TAGS").cloned(),
        ));
    }));
    store.put_message(msg("T", 4, "a", &[("TAGS", "X")]));
    store.put_message(msg("T", 4, "b", &[]));
    let heard = heard.lock().unwrap();
    assert_eq!(
        heard[0],
        (
            "T".to_string(),
            4,
            1,
            java_hash("X") as i64,
            Some("X".to_string())
        )
    );
    assert_eq!(heard[1], ("T".to_string(), 4, 2, 0, None));
}

#[test]
fn deleted_topics_lose_their_queues() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    store.put_message(msg("Gone", 0, "a", &[]));
    store.put_message(msg("Kept", 0, "b", &[]));
    store.delete_topics(&["Gone".to_string()]);
    assert!(!dir.path().join("consumequeue").join("Gone").exists());
    assert_eq!(
        store.get_message("Gone", 0, 0, 32, &AcceptAll).status,
        GetMessageStatus::NoMatchedLogicQueue
    );
    assert_eq!(store.queue_ids().len(), 1);
    assert_eq!(
        store
            .put_message(msg("Gone", 0, "again", &[]))
            .append
            .unwrap()
            .logics_offset,
        0
    );
}

#[test]
fn config_file_falls_back_to_its_bak() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config").join("consumerOffset.json");
    persist_config_file(&path, "{\"offsetTable\":{}}").unwrap();
    persist_config_file(&path, "{\"offsetTable\":{\"a@b\":{}}}").unwrap();
    std::fs::write(&path, "").unwrap();
    assert_eq!(
        load_config_file(&path).unwrap().as_deref(),
        Some("{\"offsetTable\":{}}")
    );
}
