//! Opening a store: what start-up leaves to background threads (the abort file's fsync, the
//! first commitlog file of an empty store) is done before the first append needs it, and a
//! crash before that append leaves a store that opens.

use bytes::Bytes;
use rocketmq::protocol::message::MessageRecord;
use rocketmq::store::{AcceptAll, GetMessageStatus, MessageStore, PutMessageStatus, StoreConfig};

const FILE_BYTES: u64 = 1024 * 1024;

fn config(dir: &std::path::Path) -> StoreConfig {
    StoreConfig {
        root_dir: dir.to_path_buf(),
        commit_log_file_size_bytes: FILE_BYTES,
        ..Default::default()
    }
}

fn msg(body: &str) -> MessageRecord {
    MessageRecord {
        topic: "T".into(),
        body: Bytes::copy_from_slice(body.as_bytes()),
        born_timestamp: 1,
        born_host: "10.0.0.1:4000".parse().unwrap(),
        store_host: "127.0.0.1:10911".parse().unwrap(),
        ..Default::default()
    }
}

#[test]
fn the_first_put_into_an_empty_store_lands_at_offset_zero_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    assert!(dir.path().join("abort").exists());
    let r = store.put_message(msg("first"));
    assert_eq!(r.status, PutMessageStatus::PutOk);
    assert_eq!(r.append.unwrap().wrote_offset, 0);
    store.shutdown();
    assert!(!dir.path().join("abort").exists());
    drop(store);
    let store = MessageStore::open(config(dir.path())).unwrap();
    let got = store.get_message("T", 0, 0, 10, &AcceptAll);
    assert_eq!(got.status, GetMessageStatus::Found);
    assert_eq!(got.messages.len(), 1);
    store.shutdown();
}

/// The state a kill leaves right after start-up prepared the first commitlog file of an empty
/// store: the abort file, and one zero-filled commitlog file.
#[test]
fn a_crash_after_the_first_file_was_prepared_leaves_a_store_that_opens_empty() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("commitlog")).unwrap();
    let first = dir.path().join("commitlog").join(format!("{:020}", 0));
    std::fs::File::create(&first)
        .unwrap()
        .set_len(FILE_BYTES)
        .unwrap();
    std::fs::write(dir.path().join("abort"), b"").unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    assert_eq!(store.max_phy_offset(), 0);
    let r = store.put_message(msg("after the crash"));
    assert_eq!(r.status, PutMessageStatus::PutOk);
    assert_eq!(r.append.unwrap().wrote_offset, 0);
    let got = store.get_message("T", 0, 0, 10, &AcceptAll);
    assert_eq!(got.messages.len(), 1);
    store.shutdown();
}
