//! Durability: sync flush, crash recovery, torn tails, corrupt records, the on-disk index.

use std::collections::HashMap;
use std::io::{Seek, SeekFrom, Write};

use bytes::Bytes;
use rocketmq::protocol::message::{encode_properties, MessageRecord};
use rocketmq::store::{
    AcceptAll, FlushDiskType, GetMessageStatus, MessageStore, PutMessageStatus, StoreConfig,
};

fn config(dir: &std::path::Path) -> StoreConfig {
    StoreConfig {
        root_dir: dir.to_path_buf(),
        commit_log_file_size_bytes: 4096,
        consume_queue_file_size_bytes: 20 * 50,
        index_hash_slot_count: 16,
        index_max_entry_count: 8,
        ..Default::default()
    }
}

fn msg(queue_id: i32, body: &str, keys: &str) -> MessageRecord {
    let mut props = HashMap::new();
    if !keys.is_empty() {
        props.insert("KEYS".to_string(), keys.to_string());
    }
    MessageRecord {
        topic: "T".into(),
        queue_id,
        body: Bytes::copy_from_slice(body.as_bytes()),
        properties: encode_properties(&props),
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

fn all_bodies(store: &MessageStore, queue_id: i32) -> Vec<String> {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let r = store.get_message("T", queue_id, offset, 32, &AcceptAll);
        if r.status != GetMessageStatus::Found {
            return out;
        }
        out.extend(bodies(&r.messages));
        offset = r.next_begin_offset;
    }
}

/// Writes `bytes` into the commitlog at physical offset `at` (file size 4096).
fn write_commit_log(dir: &std::path::Path, at: i64, bytes: &[u8]) {
    let name = format!("{:020}", at / 4096 * 4096);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("commitlog").join(name))
        .unwrap();
    f.seek(SeekFrom::Start((at % 4096) as u64)).unwrap();
    f.write_all(bytes).unwrap();
}

#[test]
fn sync_flush_answers_each_waiting_put_once_durable() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.flush_disk_type = FlushDiskType::SyncFlush;
    let store = MessageStore::open(cfg).unwrap();
    let waiters: Vec<_> = (0..20)
        .map(|i| {
            store
                .put_message(msg(0, &format!("m{i}"), ""))
                .flush_waiter
                .expect("waits by default")
        })
        .collect();
    for w in waiters {
        assert_eq!(w.blocking_recv(), Ok(true));
    }
    let mut no_wait = msg(0, "fire-and-forget", "");
    no_wait.properties =
        encode_properties(&HashMap::from([("WAIT".to_string(), "false".to_string())]));
    let r = store.put_message(no_wait);
    assert_eq!(r.status, PutMessageStatus::PutOk);
    assert!(r.flush_waiter.is_none());
    // Waiters from many threads at once share flushes.
    std::thread::scope(|s| {
        for t in 0..4 {
            let store = &store;
            s.spawn(move || {
                for i in 0..10 {
                    let w = store
                        .put_message(msg(t, &format!("t{t}-{i}"), ""))
                        .flush_waiter
                        .unwrap();
                    assert_eq!(w.blocking_recv(), Ok(true));
                }
            });
        }
    });
    store.shutdown();
}

#[test]
fn crash_recovery_cuts_a_torn_tail_and_keeps_everything_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    for i in 0..30 {
        store.put_message(msg(i % 2, &format!("m{i}"), &format!("key{i}")));
    }
    let end = store.max_phy_offset();
    // A crash: no shutdown, the abort file stays.
    drop(store);
    assert!(dir.path().join("abort").exists());
    // Half a record at the end: a plausible header, then the bytes stop.
    let mut torn = msg(0, "torn", "").encode();
    torn.truncate(40);
    write_commit_log(dir.path(), end, &torn);

    let store = MessageStore::open(config(dir.path())).unwrap();
    assert_eq!(store.max_phy_offset(), end);
    assert_eq!(
        all_bodies(&store, 0),
        (0..30)
            .step_by(2)
            .map(|i| format!("m{i}"))
            .collect::<Vec<_>>()
    );
    assert_eq!(store.max_offset_in_queue("T", 1), 15);
    // The tail was zeroed, and new messages go where the torn one was.
    let r = store.put_message(msg(0, "after", "")).append.unwrap();
    assert_eq!((r.wrote_offset, r.logics_offset), (end, 15));
    assert_eq!(
        bodies(&store.query_message("T", "key7", 8, 0, i64::MAX).messages),
        vec!["m7"]
    );
    store.shutdown();
}

#[test]
fn crash_recovery_rebuilds_lost_consume_queues_and_index_from_the_commit_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    for i in 0..25 {
        store.put_message(msg(i % 3, &format!("m{i}"), &format!("key{i} common")));
    }
    drop(store);
    std::fs::remove_dir_all(dir.path().join("consumequeue")).unwrap();
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();

    let store = MessageStore::open(config(dir.path())).unwrap();
    assert_eq!(store.max_offset_in_queue("T", 0), 9);
    assert_eq!(
        all_bodies(&store, 2),
        (2..25)
            .step_by(3)
            .map(|i| format!("m{i}"))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        bodies(&store.query_message("T", "key24", 8, 0, i64::MAX).messages),
        vec!["m24"]
    );
    assert_eq!(
        store
            .query_message("T", "common", 100, 0, i64::MAX)
            .messages
            .len(),
        25
    );
    let next = store.put_message(msg(0, "next", "")).append.unwrap();
    assert_eq!(next.logics_offset, 9);
}

#[test]
fn a_corrupt_record_is_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    let mut offsets = Vec::new();
    for i in 0..5 {
        offsets.push(
            store
                .put_message(msg(0, &format!("body{i}"), ""))
                .append
                .unwrap()
                .wrote_offset,
        );
    }
    // Flip a body byte under the running store: reads check the CRC and withhold it.
    let body_pos = offsets[2] + 4 * 5 + 8 * 2 + 4 + 8 + 8 + 8 + 8 + 4 + 8 + 4;
    write_commit_log(dir.path(), body_pos, b"X");
    assert!(store.look_message_by_offset(offsets[2]).is_none());
    assert_eq!(
        all_bodies(&store, 0),
        vec!["body0", "body1", "body3", "body4"]
    );
    store.shutdown();
    drop(store);
    // Recovery stops at the corrupt record and cuts the log there, as RocketMQ does.
    let store = MessageStore::open(config(dir.path())).unwrap();
    assert_eq!(store.max_phy_offset(), offsets[2]);
    assert_eq!(all_bodies(&store, 0), vec!["body0", "body1"]);
    assert_eq!(
        store
            .put_message(msg(0, "fresh", ""))
            .append
            .unwrap()
            .logics_offset,
        2
    );
}

#[test]
fn index_lookups_work_across_index_files_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    // 8 entries per file, two keys per message: several files.
    for i in 0..20 {
        store.put_message(msg(
            0,
            &format!("m{i}"),
            &format!("order-{} user-{}", i, i % 2),
        ));
    }
    let index_files = std::fs::read_dir(dir.path().join("index")).unwrap().count();
    assert!(index_files >= 5, "{index_files} index files");
    let even = store.query_message("T", "user-0", 100, 0, i64::MAX);
    assert_eq!(even.messages.len(), 10);
    store.shutdown();
    drop(store);
    let store = MessageStore::open(config(dir.path())).unwrap();
    assert_eq!(
        bodies(
            &store
                .query_message("T", "order-3", 10, 0, i64::MAX)
                .messages
        ),
        vec!["m3"]
    );
    let odd = store.query_message("T", "user-1", 4, 0, i64::MAX);
    assert_eq!(bodies(&odd.messages), vec!["m19", "m17", "m15", "m13"]);
    assert!(odd.index_last_update_phyoffset > 0);
    // A restart did not index anything twice.
    assert_eq!(
        store
            .query_message("T", "user-1", 100, 0, i64::MAX)
            .messages
            .len(),
        10
    );
}
