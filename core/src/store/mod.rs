//! The message store: commitlog + consume queues (+ index) on memory-mapped files, in Apache
//! RocketMQ's on-disk layout. It knows nothing of the network.
//!
//! API CONTRACT (the broker is written against it). Bodies are filled in by the store work.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;

use crate::protocol::message::MessageRecord;

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
}

/// Called (on the appending thread, after the consume queue entry is written) for every message
/// dispatched to a consume queue: topic, queue id, the queue's new max offset, tags code, and
/// the message properties. Used by the broker to wake long-polling pulls.
pub type ArrivalListener = Box<dyn Fn(&str, i32, i64, i64, &HashMap<String, String>) + Send + Sync>;

#[derive(Debug, Default)]
pub struct QueryMessageResult {
    pub messages: Vec<Bytes>,
    pub index_last_update_timestamp: i64,
    pub index_last_update_phyoffset: i64,
}

pub struct MessageStore {
    _private: (),
}

impl MessageStore {
    /// Opens (creating if needed) the store under `config.root_dir`, takes its lock file, and
    /// recovers: normal recovery after a clean shutdown, full re-dispatch after a crash.
    pub fn open(_config: StoreConfig) -> Result<Arc<MessageStore>, StoreError> {
        todo!()
    }
    pub fn set_arrival_listener(&self, _listener: ArrivalListener) {
        todo!()
    }
    /// Appends one message and dispatches it to its consume queue (visible to `get_message`
    /// on return). Assigns queue offset, physical offset and store timestamp; `msg.queue_offset`,
    /// `physical_offset` and `store_timestamp` are ignored on input.
    pub fn put_message(&self, _msg: MessageRecord) -> PutMessageResult {
        todo!()
    }
    /// Appends a batch for one topic and queue with consecutive queue offsets, in one file.
    pub fn put_messages(&self, _msgs: Vec<MessageRecord>) -> PutMessageResult {
        todo!()
    }
    pub fn get_message(
        &self,
        _topic: &str,
        _queue_id: i32,
        _offset: i64,
        _max_msg_nums: i32,
        _filter: &dyn MessageFilter,
    ) -> GetMessageResult {
        todo!()
    }
    /// Next queue offset to be written (0 for an empty or unknown queue).
    pub fn max_offset_in_queue(&self, _topic: &str, _queue_id: i32) -> i64 {
        todo!()
    }
    pub fn min_offset_in_queue(&self, _topic: &str, _queue_id: i32) -> i64 {
        todo!()
    }
    /// Queue offset whose store time is closest to `timestamp_ms` (RocketMQ's rule).
    pub fn offset_by_time(&self, _topic: &str, _queue_id: i32, _timestamp_ms: i64) -> i64 {
        todo!()
    }
    pub fn earliest_message_time(&self, _topic: &str, _queue_id: i32) -> Option<i64> {
        todo!()
    }
    pub fn message_store_time(&self, _topic: &str, _queue_id: i32, _offset: i64) -> Option<i64> {
        todo!()
    }
    /// The stored record at this physical offset.
    pub fn look_message_by_offset(&self, _physical_offset: i64) -> Option<Bytes> {
        todo!()
    }
    /// Messages whose KEYS token or UNIQ_KEY equals `key`, stored within [begin, end] ms.
    pub fn query_message(
        &self,
        _topic: &str,
        _key: &str,
        _max_num: i32,
        _begin_ms: i64,
        _end_ms: i64,
    ) -> QueryMessageResult {
        todo!()
    }
    pub fn max_phy_offset(&self) -> i64 {
        todo!()
    }
    pub fn min_phy_offset(&self) -> i64 {
        todo!()
    }
    /// Removes the consume queues of these topics.
    pub fn delete_topics(&self, _topics: &[String]) {
        todo!()
    }
    /// Topics and queue ids that have consume queues (for restoring topic configs).
    pub fn queue_ids(&self) -> HashMap<String, Vec<i32>> {
        todo!()
    }
    /// Flushes everything, stops background work, removes the abort file.
    pub fn shutdown(&self) {
        todo!()
    }
}

/// Writes a config file atomically: `<path>.tmp`, previous content to `<path>.bak`, rename, fsync.
pub fn persist_config_file(_path: &std::path::Path, _contents: &str) -> std::io::Result<()> {
    todo!()
}

/// Reads a config file, falling back to `<path>.bak` when it is missing, empty or unreadable.
pub fn load_config_file(_path: &std::path::Path) -> std::io::Result<Option<String>> {
    todo!()
}
