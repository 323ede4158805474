//! Retention and the disk guard, over real files; only the disk usage figure is injected.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use rocketmq::protocol::message::MessageRecord;
use rocketmq::store::{
    AcceptAll, DiskUsage, GetMessageStatus, MessageStore, PutMessageStatus, StoreConfig,
};

/// A disk whose fullness the test sets, in percent.
#[derive(Default)]
struct FakeDisk(AtomicU64);
impl FakeDisk {
    fn set(&self, percent: u64) {
        self.0.store(percent, Ordering::SeqCst);
    }
}
impl DiskUsage for FakeDisk {
    fn used_ratio_percent(&self, _: &Path) -> std::io::Result<f64> {
        Ok(self.0.load(Ordering::SeqCst) as f64)
    }
}

fn hour_now() -> u32 {
    let ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    ((ms / 3_600_000) % 24) as u32
}

fn config(dir: &Path, delete_when: String) -> StoreConfig {
    StoreConfig {
        root_dir: dir.to_path_buf(),
        commit_log_file_size_bytes: 1024,
        consume_queue_file_size_bytes: 20 * 4,
        index_hash_slot_count: 8,
        index_max_entry_count: 4,
        delete_when,
        file_reserved_time_hours: 1,
        delete_commit_log_files_interval_ms: 0,
        ..Default::default()
    }
}

fn msg(i: usize) -> MessageRecord {
    MessageRecord {
        topic: "T".into(),
        body: Bytes::from(format!("{i:0>200}")),
        properties: format!("KEYS\u{1}k{i}"),
        store_host: "127.0.0.1:10911".parse().unwrap(),
        ..Default::default()
    }
}

/// A store with 15 messages of 292 bytes: three per 1024-byte file, five files.
fn filled(dir: &Path, delete_when: String) -> (Arc<MessageStore>, Arc<FakeDisk>) {
    let store = MessageStore::open(config(dir, delete_when)).unwrap();
    let disk = Arc::new(FakeDisk::default());
    disk.set(10);
    store.set_disk_usage(disk.clone());
    for i in 0..15 {
        assert_eq!(store.put_message(msg(i)).status, PutMessageStatus::PutOk);
    }
    assert_eq!(commit_log_files(dir).len(), 5);
    (store, disk)
}

fn commit_log_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("commitlog"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    // The file allocator may have prepared the next file already; it holds nothing.
    v.retain(|n| n != &format!("{:020}", 5 * 1024));
    v
}

/// (file name, endPhyOffset from its header) of every index file, oldest first.
fn index_files(dir: &Path) -> Vec<(String, i64)> {
    let mut v: Vec<(String, i64)> = std::fs::read_dir(dir.join("index"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let header = std::fs::read(e.path()).unwrap();
            let end = i64::from_be_bytes(header[24..32].try_into().unwrap());
            (e.file_name().into_string().unwrap(), end)
        })
        .collect();
    v.sort();
    v
}

/// Makes the first `n` commitlog files look `age` old.
fn age_files(dir: &Path, n: usize, age: Duration) {
    for name in commit_log_files(dir).iter().take(n) {
        let f = std::fs::File::options()
            .write(true)
            .open(dir.join("commitlog").join(name))
            .unwrap();
        f.set_modified(SystemTime::now() - age).unwrap();
    }
}

fn other_hour() -> String {
    format!("{:02}", (hour_now() + 12) % 24)
}

#[test]
fn expired_commit_log_files_go_at_the_delete_hour_and_queues_follow() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _disk) = filled(dir.path(), format!("{:02}", hour_now()));
    let index_before = index_files(dir.path());
    age_files(dir.path(), 2, Duration::from_secs(2 * 3600));
    assert_eq!(store.run_cleaner_once(), 2);
    // Index files whose every entry points into the deleted files are gone from the disk.
    let index_after = index_files(dir.path());
    assert!(
        index_after.len() < index_before.len(),
        "{index_before:?} -> {index_after:?}"
    );
    let deleted: Vec<_> = index_before
        .iter()
        .filter(|f| !index_after.contains(f))
        .collect();
    assert!(deleted.iter().all(|(_, end)| *end < 2048), "{deleted:?}");
    assert!(
        index_after.iter().all(|(_, end)| *end >= 2048),
        "{index_after:?}"
    );
    assert_eq!(commit_log_files(dir.path())[0], format!("{:020}", 2048));
    assert_eq!(store.min_phy_offset(), 2048);
    // Six messages were in the deleted files; their queue entries are behind the min offset.
    assert_eq!(store.min_offset_in_queue("T", 0), 6);
    let r = store.get_message("T", 0, 0, 32, &AcceptAll);
    assert_eq!(
        (r.status, r.next_begin_offset),
        (GetMessageStatus::OffsetTooSmall, 6)
    );
    assert_eq!(
        store.get_message("T", 0, 6, 32, &AcceptAll).messages.len(),
        9
    );
    // Consume queue files (4 entries each) that only point at deleted messages are gone.
    assert!(!dir
        .path()
        .join("consumequeue/T/0")
        .join(format!("{:020}", 0))
        .exists());
    assert!(store
        .query_message("T", "k1", 10, 0, i64::MAX)
        .messages
        .is_empty());
    assert_eq!(
        store
            .query_message("T", "k7", 10, 0, i64::MAX)
            .messages
            .len(),
        1
    );
    // Nothing more has expired.
    assert_eq!(store.run_cleaner_once(), 0);
    store.shutdown();
    drop(store);
    let store = MessageStore::open(config(dir.path(), "04".into())).unwrap();
    assert_eq!(store.min_offset_in_queue("T", 0), 6);
    assert_eq!(store.max_offset_in_queue("T", 0), 15);
}

#[test]
fn expired_files_wait_for_the_delete_hour_unless_the_disk_is_filling() {
    let dir = tempfile::tempdir().unwrap();
    let (store, disk) = filled(dir.path(), other_hour());
    age_files(dir.path(), 3, Duration::from_secs(2 * 3600));
    assert_eq!(store.run_cleaner_once(), 0);
    disk.set(80);
    assert_eq!(store.run_cleaner_once(), 3);
    assert_eq!(store.min_phy_offset(), 3072);
    assert!(!store.is_disk_full());
}

#[test]
fn past_the_force_ratio_the_oldest_files_go_even_unexpired() {
    let dir = tempfile::tempdir().unwrap();
    let (store, disk) = filled(dir.path(), other_hour());
    disk.set(86);
    // Never the file being written.
    assert_eq!(store.run_cleaner_once(), 4);
    assert_eq!(commit_log_files(dir.path()), vec![format!("{:020}", 4096)]);
    assert_eq!(store.min_offset_in_queue("T", 0), 12);
    assert_eq!(store.put_message(msg(99)).status, PutMessageStatus::PutOk);
}

#[test]
fn past_the_refuse_ratio_puts_fail_until_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let (store, disk) = filled(dir.path(), other_hour());
    disk.set(91);
    store.run_cleaner_once();
    assert!(store.is_disk_full());
    let r = store.put_message(msg(100));
    assert_eq!(r.status, PutMessageStatus::ServiceNotAvailable);
    let remark = r.remark.unwrap();
    assert!(
        remark.contains(&dir.path().join("commitlog").display().to_string()),
        "{remark}"
    );
    disk.set(50);
    store.run_cleaner_once();
    assert!(!store.is_disk_full());
    assert_eq!(store.put_message(msg(101)).status, PutMessageStatus::PutOk);
}

#[test]
fn a_manual_request_deletes_expired_files_at_any_hour() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _disk) = filled(dir.path(), other_hour());
    age_files(dir.path(), 1, Duration::from_secs(2 * 3600));
    store.delete_expired_files_manually();
    assert_eq!(store.run_cleaner_once(), 1);
}

/// The broker answers a send refused by the disk guard with SERVICE_NOT_AVAILABLE, naming the
/// disk, and accepts sends again once space is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_refuses_sends_on_a_full_disk_naming_it() {
    use rocketmq::protocol::response_code;

    let c = common::cluster("").await;
    let store = c.broker().unwrap().inner().store.clone();
    let disk = Arc::new(FakeDisk::default());
    disk.set(91);
    store.set_disk_usage(disk.clone());
    store.run_cleaner_once();
    assert!(store.is_disk_full());

    let (client, _) = common::client();
    let broker = c.broker_addr().to_string();
    let send = || common::send_v2("FullDiskTopic", 0, b"payload", &common::props(&[]));
    let r = client
        .invoke(&broker, send(), common::TIMEOUT)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SERVICE_NOT_AVAILABLE);
    let remark = r.remark.unwrap_or_default();
    let commit_log_dir = c.store_dir().join("commitlog").display().to_string();
    assert!(
        remark.contains(&commit_log_dir) && remark.contains("full"),
        "{remark}"
    );

    disk.set(50);
    store.run_cleaner_once();
    let r = client
        .invoke(&broker, send(), common::TIMEOUT)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    c.shutdown().await;
}
