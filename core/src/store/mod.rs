//! The message store: commitlog + consume queues (+ index) on memory-mapped files, in Apache
//! RocketMQ's on-disk layout. It knows nothing of the network.
//!
//! API CONTRACT (the broker is written against it). The work is done in the files named after
//! RocketMQ's nouns: `mapped_file` (the only `unsafe`), `mapped_file_queue`, `commit_log`,
//! `consume_queue`, `index`, `flush`, `recovery`, `checkpoint`, `config_file`, `residency` (which
//! store pages stay in the broker's page tables), and `default_message_store` (append + dispatch
//! + reads).

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bytes::Bytes;

use crate::protocol::message::MessageRecord;

mod checkpoint;
mod commit_log;
mod config_file;
mod consume_queue;
mod default_message_store;
mod flush;
mod index;
mod mapped_file;
mod mapped_file_queue;
mod recovery;
mod residency;
mod retention;

use default_message_store::DefaultMessageStore;
pub use default_message_store::{GET_MESSAGE_MAX_BYTES, GET_MESSAGE_MAX_COUNT};
pub use residency::Released;
pub use retention::{DiskUsage, FileSystemUsage};

/// How appends become durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlushDiskType {
    /// A background flusher syncs every `flush_interval_commit_log_ms`; an acknowledged message
    /// may be lost if the machine (not just the process) crashes before the next flush.
    #[default]
    AsyncFlush,
    /// A send is acknowledged only once its bytes are fsynced; concurrent senders share one fsync.
    SyncFlush,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `storePathRootDir`.
    pub root_dir: PathBuf,
    /// `storePathCommitLog`; default `<root>/commitlog`.
    pub commit_log_dir: Option<PathBuf>,
    /// `mapedFileSizeCommitLog`.
    pub commit_log_file_size_bytes: u64,
    /// `mapedFileSizeConsumeQueue` (a multiple of 20).
    pub consume_queue_file_size_bytes: u64,
    pub flush_disk_type: FlushDiskType,
    pub flush_interval_commit_log_ms: u64,
    pub flush_commit_log_least_pages: u32,
    pub flush_commit_log_thorough_interval_ms: u64,
    pub sync_flush_timeout_ms: u64,
    /// `maxMessageSize`: largest body in bytes.
    pub max_message_size_bytes: usize,
    /// `fileReservedTime` in hours.
    pub file_reserved_time_hours: u64,
    /// `deleteWhen`: `;`-separated hours of the day.
    pub delete_when: String,
    /// `diskMaxUsedSpaceRatio` in percent.
    pub disk_max_used_space_ratio_percent: u32,
    /// Verify body CRCs during recovery.
    pub check_crc_on_recover: bool,
    /// `warmMapedFileEnable`: touch every page of a new commitlog file (on the allocator thread)
    /// so appends do not page-fault. Off by default, as in RocketMQ: it writes the whole file.
    pub warm_mapped_file_enable: bool,
    /// `maxHashSlotNum`: hash slots per index file.
    pub index_hash_slot_count: u32,
    /// `maxIndexNum`: entries per index file (a new file starts when one is full).
    pub index_max_entry_count: u32,
    /// `diskSpaceCleanForciblyRatio` in percent: past it the oldest commitlog files are deleted
    /// even before they expire (when `clean_file_forcibly_enable`).
    pub disk_space_clean_forcibly_ratio_percent: u32,
    /// `diskSpaceWarningLevelRatio` in percent: past it puts are refused (SERVICE_NOT_AVAILABLE).
    pub disk_space_warning_level_ratio_percent: u32,
    /// `cleanFileForciblyEnable`.
    pub clean_file_forcibly_enable: bool,
    /// `cleanResourceInterval`: how often the cleaner checks disk usage and expired files.
    pub clean_resource_interval_ms: u64,
    /// `deleteCommitLogFilesInterval`: pause between two file deletions.
    pub delete_commit_log_files_interval_ms: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            root_dir: PathBuf::from("store"),
            commit_log_dir: None,
            commit_log_file_size_bytes: 1024 * 1024 * 1024,
            consume_queue_file_size_bytes: 300_000 * 20,
            flush_disk_type: FlushDiskType::AsyncFlush,
            flush_interval_commit_log_ms: 500,
            flush_commit_log_least_pages: 4,
            flush_commit_log_thorough_interval_ms: 10_000,
            sync_flush_timeout_ms: 5_000,
            max_message_size_bytes: 4 * 1024 * 1024,
            file_reserved_time_hours: 72,
            delete_when: "04".into(),
            disk_max_used_space_ratio_percent: 75,
            check_crc_on_recover: true,
            warm_mapped_file_enable: false,
            index_hash_slot_count: 5_000_000,
            index_max_entry_count: 20_000_000,
            disk_space_clean_forcibly_ratio_percent: 85,
            disk_space_warning_level_ratio_percent: 90,
            clean_file_forcibly_enable: true,
            clean_resource_interval_ms: 10_000,
            delete_commit_log_files_interval_ms: 100,
        }
    }
}

#[derive(Debug)]
pub enum StoreError {
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Another process holds the store's lock file.
    Locked(PathBuf),
    Corrupt(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Io { path, source } => {
                write!(f, "store I/O error on {}: {source}", path.display())
            }
            StoreError::Locked(p) => write!(
                f,
                "the store at {} is in use by another broker",
                p.display()
            ),
            StoreError::Corrupt(m) => write!(f, "store corrupt: {m}"),
        }
    }
}
impl std::error::Error for StoreError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutMessageStatus {
    PutOk,
    FlushDiskTimeout,
    CreateMappedFileFailed,
    MessageIllegal,
    PropertiesSizeExceeded,
    ServiceNotAvailable,
    UnknownError,
}

#[derive(Debug, Clone)]
pub struct AppendResult {
    /// Physical offset of the (first) record.
    pub wrote_offset: i64,
    pub wrote_bytes: i64,
    /// offsetMsgId of each record, in order (one for a single message).
    pub msg_ids: Vec<String>,
    pub store_timestamp: i64,
    /// Queue offset of the (first) record.
    pub logics_offset: i64,
    pub msg_num: i32,
}

#[derive(Debug)]
pub struct PutMessageResult {
    pub status: PutMessageStatus,
    /// Why a put failed, for the response remark.
    pub remark: Option<String>,
    pub append: Option<AppendResult>,
    /// With SYNC_FLUSH and a message that waits (`WAIT` != false): resolves to `true` once the
    /// bytes are durable, `false` when `sync_flush_timeout_ms` passed first.
    pub flush_waiter: Option<tokio::sync::oneshot::Receiver<bool>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetMessageStatus {
    Found,
    NoMatchedMessage,
    MessageWasRemoving,
    OffsetFoundNull,
    OffsetOverflowBadly,
    OffsetOverflowOne,
    OffsetTooSmall,
    NoMatchedLogicQueue,
    NoMessageInQueue,
}

#[derive(Debug)]
pub struct GetMessageResult {
    pub status: GetMessageStatus,
    pub next_begin_offset: i64,
    pub min_offset: i64,
    pub max_offset: i64,
    /// Each stored record's bytes exactly as in the commitlog (zero-copy views that keep their
    /// mapped file alive).
    pub messages: Vec<Bytes>,
}

/// Filters applied while reading a queue.
pub trait MessageFilter: Send + Sync {
    /// From the consume queue entry's tags code alone.
    fn matches_tags_code(&self, tags_code: i64) -> bool;
    /// From the stored message's properties (SQL92); called only when the tags code matched.
    fn matches_properties(&self, _properties: &HashMap<String, String>) -> bool {
        true
    }
    /// Whether `matches_properties` looks at anything; a filter that answers `false` saves the
    /// store from decoding every message's properties.
    fn needs_properties(&self) -> bool {
        true
    }
}

/// Every message: for readers that do not filter (the broker's own services, inspection, tests).
pub struct AcceptAll;

impl MessageFilter for AcceptAll {
    fn matches_tags_code(&self, _tags_code: i64) -> bool {
        true
    }
    fn needs_properties(&self) -> bool {
        false
    }
}

/// Called (on the appending thread, after the consume queue entry is written) for every message
/// dispatched to a consume queue: topic, queue id, the queue's new max offset, tags code, and
/// the message properties still encoded (`decode_properties` reads them; the store does not
/// build the map on its append path). Used by the broker to wake long-polling pulls.
pub type ArrivalListener = Box<dyn Fn(&str, i32, i64, i64, &str) + Send + Sync>;

#[derive(Debug, Default)]
pub struct QueryMessageResult {
    pub messages: Vec<Bytes>,
    pub index_last_update_timestamp: i64,
    pub index_last_update_phyoffset: i64,
}

pub struct MessageStore {
    inner: Arc<DefaultMessageStore>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Held (flock) from open to shutdown.
    lock_file: Mutex<Option<File>>,
}

impl MessageStore {
    /// Opens (creating if needed) the store under `config.root_dir`, takes its lock file, and
    /// recovers: normal recovery after a clean shutdown, full re-dispatch after a crash.
    pub fn open(config: StoreConfig) -> Result<Arc<MessageStore>, StoreError> {
        let root = config.root_dir.clone();
        std::fs::create_dir_all(&root).map_err(|source| StoreError::Io {
            path: root.clone(),
            source,
        })?;
        let lock_file = recovery::take_lock(&root)?;
        let inner = Arc::new(recovery::open(config)?);
        let spawn = |name: &str, work: fn(&DefaultMessageStore)| {
            let store = Arc::clone(&inner);
            std::thread::Builder::new()
                .name(name.to_string())
                .spawn(move || work(&store))
                .map_err(|source| StoreError::Io {
                    path: root.clone(),
                    source,
                })
        };
        let threads = vec![
            spawn("store-open-sync", recovery::sync_abort_marker)?,
            spawn("store-commitlog-flush", flush::run_commit_log_flusher)?,
            spawn("store-logics-flush", flush::run_logics_flusher)?,
            spawn("store-file-allocator", |s| s.commit_log.allocator().run())?,
            spawn("store-cleaner", retention::run_cleaner)?,
            spawn("store-page-trimmer", residency::run_page_trimmer)?,
        ];
        Ok(Arc::new(MessageStore {
            inner,
            threads: Mutex::new(threads),
            lock_file: Mutex::new(Some(lock_file)),
        }))
    }

    pub fn set_arrival_listener(&self, listener: ArrivalListener) {
        *self
            .inner
            .listener
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(listener);
    }

    /// Appends one message and dispatches it to its consume queue (visible to `get_message`
    /// on return). Assigns queue offset, physical offset and store timestamp; `msg.queue_offset`,
    /// `physical_offset` and `store_timestamp` are ignored on input.
    pub fn put_message(&self, mut msg: MessageRecord) -> PutMessageResult {
        self.inner.put(std::slice::from_mut(&mut msg))
    }

    /// Appends a batch for one topic and queue with consecutive queue offsets, in one file.
    pub fn put_messages(&self, mut msgs: Vec<MessageRecord>) -> PutMessageResult {
        self.inner.put(&mut msgs)
    }

    pub fn get_message(
        &self,
        topic: &str,
        queue_id: i32,
        offset: i64,
        max_msg_nums: i32,
        filter: &dyn MessageFilter,
    ) -> GetMessageResult {
        self.inner
            .get_message(topic, queue_id, offset, max_msg_nums, filter)
    }

    /// Next queue offset to be written (0 for an empty or unknown queue).
    pub fn max_offset_in_queue(&self, topic: &str, queue_id: i32) -> i64 {
        self.inner
            .find_queue(topic, queue_id)
            .map(|q| q.max_offset())
            .unwrap_or(0)
    }

    pub fn min_offset_in_queue(&self, topic: &str, queue_id: i32) -> i64 {
        self.inner
            .find_queue(topic, queue_id)
            .map(|q| q.min_offset())
            .unwrap_or(0)
    }

    /// Queue offset whose store time is closest to `timestamp_ms` (RocketMQ's rule).
    pub fn offset_by_time(&self, topic: &str, queue_id: i32, timestamp_ms: i64) -> i64 {
        self.inner.offset_by_time(topic, queue_id, timestamp_ms)
    }

    pub fn earliest_message_time(&self, topic: &str, queue_id: i32) -> Option<i64> {
        self.inner.earliest_message_time(topic, queue_id)
    }

    pub fn message_store_time(&self, topic: &str, queue_id: i32, offset: i64) -> Option<i64> {
        self.inner.message_store_time(topic, queue_id, offset)
    }

    /// The stored record at this physical offset.
    pub fn look_message_by_offset(&self, physical_offset: i64) -> Option<Bytes> {
        self.inner.commit_log.record_at(physical_offset)
    }

    /// Messages whose KEYS token or UNIQ_KEY equals `key`, stored within [begin, end] ms.
    pub fn query_message(
        &self,
        topic: &str,
        key: &str,
        max_num: i32,
        begin_ms: i64,
        end_ms: i64,
    ) -> QueryMessageResult {
        self.inner
            .query_message(topic, key, max_num, begin_ms, end_ms)
    }

    pub fn max_phy_offset(&self) -> i64 {
        self.inner.commit_log.max_offset()
    }

    pub fn min_phy_offset(&self) -> i64 {
        self.inner.commit_log.min_offset()
    }

    /// Removes the consume queues of these topics.
    pub fn delete_topics(&self, topics: &[String]) {
        self.inner.delete_topics(topics)
    }

    /// Topics and queue ids that have consume queues (for restoring topic configs).
    pub fn queue_ids(&self) -> HashMap<String, Vec<i32>> {
        self.inner.queue_ids()
    }

    /// Replaces how disk usage is measured (tests make a disk look full with it).
    pub fn set_disk_usage(&self, usage: Arc<dyn DiskUsage>) {
        *self
            .inner
            .disk_usage
            .write()
            .unwrap_or_else(|e| e.into_inner()) = usage;
    }

    /// One pass of the cleaner thread, now: disk guard, expired and forced commitlog deletion,
    /// consume queue and index files following. Returns the commitlog files deleted.
    pub fn run_cleaner_once(&self) -> usize {
        retention::clean_once(&self.inner)
    }

    /// One pass of the page trimmer, now, over every kind of file: lets go of store pages the
    /// broker no longer needs mapped (they stay in the page cache). Returns what it released.
    pub fn release_unused_pages(&self) -> Released {
        residency::release_unused(&self.inner, true)
    }

    /// Deletes expired commitlog files at the next cleaner passes whatever the hour (the admin
    /// command DELETE_EXPIRED_COMMITLOG; RocketMQ's `executeDeleteFilesManually`).
    pub fn delete_expired_files_manually(&self) {
        self.inner
            .manual_delete_passes
            .store(retention::MANUAL_DELETE_PASSES, Ordering::Release);
    }

    /// Whether puts are refused because the disk is past the refuse-writes ratio.
    pub fn is_disk_full(&self) -> bool {
        self.inner.disk_full.load(Ordering::Acquire)
    }

    /// The store's root directory.
    pub fn root_dir(&self) -> &std::path::Path {
        self.inner.root()
    }

    fn stop_threads(&self) {
        self.inner.stopper.stop();
        self.inner.commit_log.allocator().stop();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            if t.join().is_err() {
                tracing::error!("a store thread panicked");
            }
        }
    }

    /// Flushes everything, stops background work, removes the abort file.
    pub fn shutdown(&self) {
        {
            // Under the append lock: no put is half done once the flag is seen.
            let _st = self.inner.append.lock().unwrap_or_else(|e| e.into_inner());
            if self.inner.shut_down.swap(true, Ordering::AcqRel) {
                return;
            }
        }
        self.stop_threads();
        let store = &self.inner;
        let flushed = flush::flush_commit_log(store, 0);
        store
            .checkpoint
            .set_dispatched_offset(store.commit_log.max_offset());
        flush::flush_logics(store, 0);
        let abort = store.root().join("abort");
        if flushed.is_some() && !store.write_failed.load(Ordering::Acquire) {
            if let Err(e) =
                std::fs::remove_file(&abort).and_then(|_| mapped_file::fsync_dir(store.root()))
            {
                tracing::error!(path = %abort.display(), error = %e, "could not remove the abort file");
            }
        } else {
            tracing::error!(
                "flush failed at shutdown: leaving the abort file so the next start recovers"
            );
        }
        self.lock_file
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }
}

impl Drop for MessageStore {
    /// Dropped without `shutdown`: stops the threads and releases the lock, but flushes nothing
    /// and leaves the abort file, exactly like a process crash (the next open recovers).
    fn drop(&mut self) {
        if !self.inner.shut_down.load(Ordering::Acquire) {
            self.inner.shut_down.store(true, Ordering::Release);
            self.stop_threads();
        }
    }
}

/// Writes a config file atomically: `<path>.tmp`, previous content to `<path>.bak`, rename, fsync.
pub fn persist_config_file(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    config_file::persist(path, contents)
}

/// Reads a config file, falling back to `<path>.bak` when it is missing, empty or unreadable.
pub fn load_config_file(path: &std::path::Path) -> std::io::Result<Option<String>> {
    config_file::load(path)
}
