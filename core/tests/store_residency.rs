//! The broker's resident set: store pages it no longer needs leave its page tables (they stay in
//! the page cache), after appends and again after every lagging read, and what was let go of
//! reads back the same. Resident sizes come from this process's `/proc/self/smaps`, per mapping
//! of the test's store directory.
#![cfg(target_os = "linux")]

use std::collections::HashMap;
use std::path::Path;

use bytes::Bytes;
use rocketmq::protocol::message::{encode_properties, MessageRecord};
use rocketmq::store::{AcceptAll, GetMessageStatus, MessageStore, PutMessageStatus, StoreConfig};

const MIB: u64 = 1024 * 1024;
const BIG_BODY_BYTES: usize = 16 * 1024;
/// 48 MiB of records: three times the 16 MiB kept mapped behind the append position.
const BIG_MESSAGES: usize = 3 * 1024;
/// 40 000 entries of 20 bytes in the consume queue and twice that in the index: 800 KiB and
/// 1.6 MiB, far more than the 64 KiB windows.
const SMALL_MESSAGES: usize = 40_000;
/// What may stay mapped of the commitlog after a release pass: the 16 MiB window, one 4 MiB
/// release step, 4 MiB (+1) faulted in ahead of the writer and the next file's first 4 MiB.
const COMMIT_LOG_RESIDENT_MAX_KIB: u64 = 30 * 1024;
/// Consume queue and index: 64 KiB windows, 64 KiB steps, a few pages (index slots: 4 KiB).
const LOGICS_RESIDENT_MAX_KIB: u64 = 160;

/// Resident KiB of this process's mappings of files under `dir`: (commitlog, consume queues,
/// index).
fn resident_kib(dir: &Path) -> (u64, u64, u64) {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let root = dir.to_str().unwrap();
    let (mut cl, mut cq, mut ix) = (0, 0, 0);
    let mut current: Option<&str> = None;
    for line in smaps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() >= 5 && fields[0].contains('-') && !fields[0].ends_with(':') {
            current = fields
                .get(5)
                .copied()
                .filter(|p| p.starts_with(root))
                .map(|p| {
                    if p.contains("/commitlog/") {
                        "cl"
                    } else if p.contains("/consumequeue/") {
                        "cq"
                    } else if p.contains("/index/") {
                        "ix"
                    } else {
                        "other"
                    }
                });
        } else if let (Some(kind), Some(v)) = (current, line.strip_prefix("Rss:")) {
            let kib: u64 = v.trim().trim_end_matches("kB").trim().parse().unwrap();
            match kind {
                "cl" => cl += kib,
                "cq" => cq += kib,
                "ix" => ix += kib,
                _ => {}
            }
        }
    }
    (cl, cq, ix)
}

fn body(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| ((i * 31 + j) % 251) as u8).collect()
}

/// Message `i` of `len` body bytes, indexed under its UNIQ_KEY and KEYS `k<i % 10>`.
fn msg(i: usize, len: usize) -> MessageRecord {
    let props: HashMap<String, String> = [
        ("UNIQ_KEY".to_string(), format!("key-{i}")),
        ("KEYS".to_string(), format!("k{}", i % 10)),
    ]
    .into();
    MessageRecord {
        topic: "Resident".into(),
        queue_id: 0,
        body: Bytes::from(body(i, len)),
        properties: encode_properties(&props),
        born_timestamp: 1,
        born_host: "10.0.0.1:4000".parse().unwrap(),
        store_host: "127.0.0.1:10911".parse().unwrap(),
        ..Default::default()
    }
}

fn config(dir: &Path) -> StoreConfig {
    StoreConfig {
        root_dir: dir.to_path_buf(),
        commit_log_file_size_bytes: 32 * MIB,
        index_hash_slot_count: 1000,
        index_max_entry_count: 1_000_000,
        ..Default::default()
    }
}

/// Reads the whole queue from 0 the way a consumer far behind does, checking every body.
fn read_all(store: &MessageStore, messages: usize, len: usize) {
    let mut offset = 0;
    let mut seen = 0;
    while offset < messages as i64 {
        let r = store.get_message("Resident", 0, offset, 32, &AcceptAll);
        assert_eq!(r.status, GetMessageStatus::Found, "at {offset}");
        for rec in &r.messages {
            let (m, _) = MessageRecord::decode(rec, true).unwrap();
            assert_eq!(m.body[..], body(m.queue_offset as usize, len)[..]);
            seen += 1;
        }
        offset = r.next_begin_offset;
    }
    assert_eq!(seen, messages);
}

#[test]
fn commit_log_pages_behind_the_window_are_released_after_writes_and_after_every_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    for i in 0..BIG_MESSAGES {
        let r = store.put_message(msg(i, BIG_BODY_BYTES));
        assert_eq!(r.status, PutMessageStatus::PutOk);
    }
    store.release_unused_pages();
    let (cl, _, _) = resident_kib(dir.path());
    assert!(cl <= COMMIT_LOG_RESIDENT_MAX_KIB, "after writing: {cl} KiB");

    // A consumer far behind faults the old pages in again; each release pass lets go of them.
    for round in 0..2 {
        read_all(&store, BIG_MESSAGES, BIG_BODY_BYTES);
        store.release_unused_pages();
        let (cl, _, _) = resident_kib(dir.path());
        assert!(cl <= COMMIT_LOG_RESIDENT_MAX_KIB, "round {round}: {cl} KiB");
    }

    // Released pages, flushed or not, read back the same after a restart.
    store.shutdown();
    drop(store);
    let store = MessageStore::open(config(dir.path())).unwrap();
    read_all(&store, BIG_MESSAGES, BIG_BODY_BYTES);
    store.release_unused_pages();
    let (cl, _, _) = resident_kib(dir.path());
    assert!(
        cl <= COMMIT_LOG_RESIDENT_MAX_KIB,
        "after a restart: {cl} KiB"
    );
    store.shutdown();
}

#[test]
fn consume_queue_and_index_pages_are_released_after_writes_reads_and_queries() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    for i in 0..SMALL_MESSAGES {
        let r = store.put_message(msg(i, 16));
        assert_eq!(r.status, PutMessageStatus::PutOk);
    }
    let logics_released = |when: &str| {
        store.release_unused_pages();
        let (_, cq, ix) = resident_kib(dir.path());
        assert!(
            cq <= LOGICS_RESIDENT_MAX_KIB,
            "{when}: consume queue {cq} KiB"
        );
        assert!(ix <= LOGICS_RESIDENT_MAX_KIB, "{when}: index {ix} KiB");
    };
    logics_released("after writing");

    for round in 0..2 {
        read_all(&store, SMALL_MESSAGES, 16);
        // One key of every ten messages: the query walks a chain through the whole index.
        let found = store.query_message("Resident", "k3", 1024, 0, i64::MAX);
        assert_eq!(found.messages.len(), 1024);
        drop(found);
        logics_released(&format!("round {round}"));
    }
    store.shutdown();
}
