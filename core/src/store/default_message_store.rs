//! The store's state and its operations: append + dispatch, reads, lookups. `MessageStore` in
//! `mod.rs` is the public face; background threads share this through an `Arc`.
//!
//! Lock order: `append` → consume queue table → one consume queue's write lock → a mapped file
//! queue's file list → one mapped file's write lock.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::protocol::ids::offset_msg_id;
use crate::protocol::limits::{PROPERTIES_MAX_BYTES, TOPIC_MAX_BYTES};
use crate::protocol::message::{decode_properties, property, sys_flag, tags_code, MessageRecord};

use super::checkpoint::Checkpoint;
use super::commit_log::{self, CommitLog, END_FILE_MIN_BLANK_BYTES};
use super::consume_queue::{ConsumeQueue, CqEntry, CqRead};
use super::flush::{GroupCommit, Stopper};
use super::index::IndexService;
use super::recovery::AbortMarker;
use super::retention::DiskUsage;
use super::{
    AppendResult, ArrivalListener, FlushDiskType, GetMessageResult, GetMessageStatus,
    MessageFilter, PutMessageResult, PutMessageStatus, QueryMessageResult, StoreConfig,
};

/// Most messages one `get_message` returns, whatever is asked.
pub const GET_MESSAGE_MAX_COUNT: usize = 1024;
/// Most record bytes one `get_message` returns (one message is always allowed).
pub const GET_MESSAGE_MAX_BYTES: usize = 4 * 1024 * 1024;
/// Fewest consume queue entries scanned per `get_message` (RocketMQ reads 16000 bytes = 800).
pub const GET_MESSAGE_MIN_SCAN_ENTRIES: usize = 16_000 / 20;

type Probe = Option<(i64, i64)>;

pub type QueueTable = HashMap<String, BTreeMap<i32, Arc<ConsumeQueue>>>;

/// Guarded by the append lock: what must change together with the commitlog's end.
#[derive(Default)]
pub struct AppendState {
    /// `topic-queueId` → next queue offset. Nested by topic so that a put looks its queue up by
    /// `&str`, without building an owned key.
    pub topic_queue_table: HashMap<String, BTreeMap<i32, i64>>,
    /// Store times never go backwards, so searches by time over a queue stay sorted.
    pub last_store_timestamp_ms: i64,
}

impl AppendState {
    pub fn set_next_queue_offset(&mut self, topic: &str, queue_id: i32, next: i64) {
        *self.next_queue_offset_mut(topic, queue_id) = next;
    }

    /// The next queue offset of a queue, to read and advance with one lookup (0 when new).
    pub fn next_queue_offset_mut(&mut self, topic: &str, queue_id: i32) -> &mut i64 {
        if !self.topic_queue_table.contains_key(topic) {
            self.topic_queue_table
                .insert(topic.to_string(), BTreeMap::new());
        }
        let queues = self
            .topic_queue_table
            .get_mut(topic)
            .expect("inserted above");
        queues.entry(queue_id).or_insert(0)
    }
}

pub struct DefaultMessageStore {
    pub config: StoreConfig,
    pub root: PathBuf,
    pub commit_log: CommitLog,
    pub consume_queue_root: PathBuf,
    pub consume_queues: RwLock<QueueTable>,
    pub index: IndexService,
    pub append: Mutex<AppendState>,
    pub listener: RwLock<Option<ArrivalListener>>,
    pub checkpoint: Checkpoint,
    /// Store time of the last message whose consume queue entry and index keys are written.
    pub dispatched_store_timestamp_ms: AtomicI64,
    pub shut_down: AtomicBool,
    /// Set when a flush failed: what is acknowledged can no longer be promised durable.
    pub write_failed: AtomicBool,
    /// Set by the disk guard while usage is past the refuse-writes ratio.
    pub disk_full: AtomicBool,
    pub disk_usage: RwLock<Arc<dyn DiskUsage>>,
    /// Cleaner passes left that delete expired files whatever the hour.
    pub manual_delete_passes: AtomicU32,
    pub group_commit: GroupCommit,
    pub stopper: Stopper,
    /// Appends wait until the abort file is durable.
    pub abort_marker: AbortMarker,
}

fn illegal(status: PutMessageStatus, remark: String) -> PutMessageResult {
    PutMessageResult {
        status,
        remark: Some(remark),
        append: None,
        flush_waiter: None,
    }
}

fn is_dispatched_to_queue(sys: i32) -> bool {
    matches!(
        sys_flag::transaction_type(sys),
        sys_flag::TRANSACTION_NOT_TYPE | sys_flag::TRANSACTION_COMMIT_TYPE
    )
}

/// The properties the store acts on, read in place from the encoded string (`k\u1v\u2k\u1v`)
/// in one pass: building the whole map (two allocations per property) cost more than the copy
/// into the commitlog. Agrees with `decode_properties`: the last occurrence wins, empty names and
/// values do not count.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StoreProperties<'a> {
    pub tags: Option<&'a str>,
    pub keys: Option<&'a str>,
    pub uniq_key: Option<&'a str>,
    pub wait: Option<&'a str>,
}

impl<'a> StoreProperties<'a> {
    pub fn read(encoded: &'a str) -> StoreProperties<'a> {
        const NAME_VALUE_SEPARATOR: u8 = 1;
        const PROPERTY_SEPARATOR: u8 = 2;
        let mut p = StoreProperties::default();
        let bytes = encoded.as_bytes();
        let mut start = 0;
        // Byte scans: both separators are ASCII, so every cut is on a char boundary.
        while start < bytes.len() {
            let end = bytes[start..]
                .iter()
                .position(|&b| b == PROPERTY_SEPARATOR)
                .map_or(bytes.len(), |i| start + i);
            let item = &encoded[start..end];
            start = end + 1;
            let Some(sep) = item.bytes().position(|b| b == NAME_VALUE_SEPARATOR) else {
                continue;
            };
            let (name, value) = (&item[..sep], &item[sep + 1..]);
            if value.is_empty() {
                continue;
            }
            let slot = match name {
                property::TAGS => &mut p.tags,
                property::KEYS => &mut p.keys,
                property::UNIQ_CLIENT_MESSAGE_ID_KEYIDX => &mut p.uniq_key,
                property::WAIT_STORE_MSG_OK => &mut p.wait,
                _ => continue,
            };
            *slot = Some(value);
        }
        p
    }

    /// Index keys: UNIQ_KEY and every KEYS token.
    pub fn index_keys(&self) -> Vec<&'a str> {
        let mut keys = Vec::new();
        keys.extend(self.uniq_key);
        if let Some(k) = self.keys {
            keys.extend(k.split(' ').filter(|t| !t.is_empty()));
        }
        keys
    }
}

impl DefaultMessageStore {
    pub fn commit_log_dir(config: &StoreConfig) -> PathBuf {
        config
            .commit_log_dir
            .clone()
            .unwrap_or_else(|| config.root_dir.join("commitlog"))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn check_writable(&self) -> Option<PutMessageResult> {
        // Just after open only: the abort file's fsync may still be running.
        if !self.abort_marker.is_durable() && !self.abort_marker.wait() {
            return Some(illegal(
                PutMessageStatus::ServiceNotAvailable,
                "the message store refuses writes: its abort file could not be made durable".into(),
            ));
        }
        if self.shut_down.load(Ordering::Acquire) {
            return Some(illegal(
                PutMessageStatus::ServiceNotAvailable,
                "the message store is shut down".into(),
            ));
        }
        if self.write_failed.load(Ordering::Acquire) {
            return Some(illegal(
                PutMessageStatus::ServiceNotAvailable,
                "the message store refuses writes after a failed disk flush".into(),
            ));
        }
        if self.disk_full.load(Ordering::Acquire) {
            return Some(illegal(
                PutMessageStatus::ServiceNotAvailable,
                format!(
                    "the disk of {} is full beyond the refuse-writes ratio; writes resume once space is freed",
                    DefaultMessageStore::commit_log_dir(&self.config).display()
                ),
            ));
        }
        None
    }

    fn validate(&self, m: &MessageRecord) -> Option<PutMessageResult> {
        if m.topic.is_empty() || m.topic.len() > TOPIC_MAX_BYTES {
            return Some(illegal(
                PutMessageStatus::MessageIllegal,
                format!(
                    "topic length {} is not within 1..={TOPIC_MAX_BYTES} bytes",
                    m.topic.len()
                ),
            ));
        }
        if m.properties.len() > PROPERTIES_MAX_BYTES {
            return Some(illegal(
                PutMessageStatus::PropertiesSizeExceeded,
                format!(
                    "properties of {} bytes exceed the {PROPERTIES_MAX_BYTES} byte limit",
                    m.properties.len()
                ),
            ));
        }
        if m.body.len() > self.config.max_message_size_bytes {
            return Some(illegal(
                PutMessageStatus::MessageIllegal,
                format!(
                    "message body of {} bytes exceeds maxMessageSize {} bytes",
                    m.body.len(),
                    self.config.max_message_size_bytes
                ),
            ));
        }
        if let Err(e) = m.validate() {
            return Some(illegal(PutMessageStatus::MessageIllegal, e));
        }
        None
    }

    /// Appends `msgs` (one message, or a batch for one queue) and dispatches them.
    pub fn put(&self, msgs: &mut [MessageRecord]) -> PutMessageResult {
        if let Some(refused) = self.check_writable() {
            return refused;
        }
        let Some(first) = msgs.first() else {
            return illegal(
                PutMessageStatus::MessageIllegal,
                "empty message batch".into(),
            );
        };
        let queue_id = first.queue_id;
        if msgs.len() > 1 {
            if msgs
                .iter()
                .any(|m| m.topic != first.topic || m.queue_id != queue_id)
            {
                return illegal(
                    PutMessageStatus::MessageIllegal,
                    "a batch must be for one topic and queue".into(),
                );
            }
            if msgs.iter().any(|m| !is_dispatched_to_queue(m.sys_flag)) {
                return illegal(
                    PutMessageStatus::MessageIllegal,
                    "a batch cannot hold transactional half messages".into(),
                );
            }
            let bodies: usize = msgs.iter().map(|m| m.body.len()).sum();
            if bodies > self.config.max_message_size_bytes {
                return illegal(
                    PutMessageStatus::MessageIllegal,
                    format!(
                        "batch bodies of {bodies} bytes exceed maxMessageSize {} bytes",
                        self.config.max_message_size_bytes
                    ),
                );
            }
        }
        for m in msgs.iter() {
            if let Some(bad) = self.validate(m) {
                return bad;
            }
        }
        let total: usize = msgs.iter().map(|m| m.encoded_len()).sum();
        if total + END_FILE_MIN_BLANK_BYTES > self.commit_log.file_size_bytes() {
            return illegal(
                PutMessageStatus::MessageIllegal,
                format!(
                    "{total} bytes of records do not fit a commitlog file of {} bytes",
                    self.commit_log.file_size_bytes()
                ),
            );
        }

        let mut st = self.append.lock().unwrap_or_else(|e| e.into_inner());
        let now = crate::protocol::now_ms().max(st.last_store_timestamp_ms);
        st.last_store_timestamp_ms = now;
        let next_slot = st.next_queue_offset_mut(&msgs[0].topic, queue_id);
        let next = *next_slot;
        let mut dispatched = 0;
        for m in msgs.iter_mut() {
            m.store_timestamp = now;
            m.queue_offset = if is_dispatched_to_queue(m.sys_flag) {
                dispatched += 1;
                next + dispatched - 1
            } else {
                0
            };
        }
        let appended = match self.commit_log.append(msgs) {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(error = %e, "could not create a commitlog file");
                return illegal(
                    PutMessageStatus::CreateMappedFileFailed,
                    format!("creating a commitlog file failed: {e}"),
                );
            }
        };
        *next_slot = next + dispatched;
        let mut waits = true;
        for (i, m) in msgs.iter().enumerate() {
            let props = StoreProperties::read(&m.properties);
            if i == 0 {
                waits = props.wait.map(|w| w != "false").unwrap_or(true);
            }
            self.dispatch(m, &props, m.physical_offset, m.encoded_len() as i32);
        }
        self.dispatched_store_timestamp_ms
            .store(now, Ordering::Release);
        drop(st);

        let wrote_offset = appended.wrote_offset;
        let wrote_bytes = appended.wrote_bytes as i64;
        let flush_waiter = match self.config.flush_disk_type {
            FlushDiskType::SyncFlush if waits => Some(self.group_commit.register(
                (wrote_offset + wrote_bytes) as u64,
                Duration::from_millis(self.config.sync_flush_timeout_ms),
            )),
            FlushDiskType::SyncFlush => {
                self.group_commit.wake();
                None
            }
            FlushDiskType::AsyncFlush => None,
        };
        PutMessageResult {
            status: PutMessageStatus::PutOk,
            remark: None,
            append: Some(AppendResult {
                wrote_offset,
                wrote_bytes,
                msg_ids: msgs
                    .iter()
                    .map(|m| offset_msg_id(&m.store_host, m.physical_offset))
                    .collect(),
                store_timestamp: now,
                logics_offset: msgs[0].queue_offset,
                msg_num: msgs.len() as i32,
            }),
            flush_waiter,
        }
    }

    /// Writes what the commitlog record implies elsewhere: the consume queue entry, the index
    /// keys, and the arrival notice. Called under the append lock (or during recovery).
    pub fn dispatch(
        &self,
        m: &MessageRecord,
        props: &StoreProperties,
        physical_offset: i64,
        size: i32,
    ) {
        let tx = sys_flag::transaction_type(m.sys_flag);
        if is_dispatched_to_queue(m.sys_flag) {
            let tags = tags_code(props.tags);
            let cq = self.find_or_create_queue(&m.topic, m.queue_id);
            match cq {
                Ok(cq) => {
                    if let Err(e) = cq.put(
                        m.queue_offset,
                        CqEntry {
                            physical_offset,
                            size,
                            tags_code: tags,
                        },
                    ) {
                        tracing::error!(topic = %m.topic, queue_id = m.queue_id, error = %e, "could not write a consume queue entry");
                    }
                }
                Err(e) => {
                    tracing::error!(topic = %m.topic, queue_id = m.queue_id, error = %e, "could not create a consume queue")
                }
            }
            if let Some(listener) = self
                .listener
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
            {
                listener(
                    &m.topic,
                    m.queue_id,
                    m.queue_offset + 1,
                    tags,
                    &m.properties,
                );
            }
        }
        if tx != sys_flag::TRANSACTION_ROLLBACK_TYPE {
            let keys = props.index_keys();
            if !keys.is_empty() {
                self.index
                    .put(&m.topic, &keys, physical_offset, m.store_timestamp);
            }
        }
    }

    pub fn find_queue(&self, topic: &str, queue_id: i32) -> Option<Arc<ConsumeQueue>> {
        self.consume_queues
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(topic)?
            .get(&queue_id)
            .cloned()
    }

    fn find_or_create_queue(
        &self,
        topic: &str,
        queue_id: i32,
    ) -> std::io::Result<Arc<ConsumeQueue>> {
        if let Some(q) = self.find_queue(topic, queue_id) {
            return Ok(q);
        }
        let mut table = self
            .consume_queues
            .write()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(q) = table.get(topic).and_then(|m| m.get(&queue_id)) {
            return Ok(Arc::clone(q));
        }
        let q = Arc::new(ConsumeQueue::load(
            &self.consume_queue_root,
            topic,
            queue_id,
            self.config.consume_queue_file_size_bytes as usize,
        )?);
        table
            .entry(topic.to_string())
            .or_default()
            .insert(queue_id, Arc::clone(&q));
        Ok(q)
    }

    pub fn all_queues(&self) -> Vec<Arc<ConsumeQueue>> {
        let table = self
            .consume_queues
            .read()
            .unwrap_or_else(|e| e.into_inner());
        table.values().flat_map(|m| m.values().cloned()).collect()
    }

    pub fn get_message(
        &self,
        topic: &str,
        queue_id: i32,
        offset: i64,
        max_msg_nums: i32,
        filter: &dyn MessageFilter,
    ) -> GetMessageResult {
        let mut r = GetMessageResult {
            status: GetMessageStatus::NoMatchedLogicQueue,
            next_begin_offset: 0,
            min_offset: 0,
            max_offset: 0,
            messages: Vec::new(),
        };
        let Some(cq) = self.find_queue(topic, queue_id) else {
            return r;
        };
        r.min_offset = cq.min_offset();
        r.max_offset = cq.max_offset();
        if r.max_offset == 0 {
            r.status = GetMessageStatus::NoMessageInQueue;
            return r;
        }
        if offset < r.min_offset {
            r.status = GetMessageStatus::OffsetTooSmall;
            r.next_begin_offset = r.min_offset;
            return r;
        }
        if offset == r.max_offset {
            r.status = GetMessageStatus::OffsetOverflowOne;
            r.next_begin_offset = offset;
            return r;
        }
        if offset > r.max_offset {
            r.status = GetMessageStatus::OffsetOverflowBadly;
            r.next_begin_offset = r.max_offset;
            return r;
        }
        let want = (max_msg_nums.max(1) as usize).min(GET_MESSAGE_MAX_COUNT);
        let scan_limit = want.max(GET_MESSAGE_MIN_SCAN_ENTRIES) as i64;
        let min_phys = self.commit_log.min_offset();
        let mut scanned = 0i64;
        let mut bytes = 0usize;
        let mut removed = false;
        // Entries come one consume queue file at a time; go on into the next file while the
        // batch has room.
        'files: while scanned < scan_limit && offset + scanned < r.max_offset {
            let entries = match cq.read(offset + scanned, (scan_limit - scanned) as usize) {
                CqRead::Entries(e) if !e.is_empty() => e,
                CqRead::Entries(_) => break,
                CqRead::FileMissing { next_offset } => {
                    if scanned == 0 {
                        r.status = GetMessageStatus::OffsetFoundNull;
                        r.next_begin_offset = next_offset;
                        return r;
                    }
                    break;
                }
            };
            for e in entries {
                if !r.messages.is_empty() && bytes + e.size.max(0) as usize > GET_MESSAGE_MAX_BYTES
                {
                    break 'files;
                }
                scanned += 1;
                if e.is_blank() || !e.is_valid() {
                    continue;
                }
                if e.physical_offset < min_phys {
                    removed = true;
                    continue;
                }
                if !filter.matches_tags_code(e.tags_code) {
                    continue;
                }
                let Some(record) = self.commit_log.view(e.physical_offset, e.size) else {
                    removed = true;
                    continue;
                };
                let Some(record) = commit_log::checked_record(record, e.physical_offset) else {
                    continue;
                };
                if filter.needs_properties() {
                    let props = commit_log::record_properties(&record)
                        .map(decode_properties)
                        .unwrap_or_default();
                    if !filter.matches_properties(&props) {
                        continue;
                    }
                }
                bytes += record.len();
                r.messages.push(record);
                if r.messages.len() >= want {
                    break 'files;
                }
            }
        }
        r.next_begin_offset = offset + scanned;
        r.status = if !r.messages.is_empty() {
            GetMessageStatus::Found
        } else if removed {
            GetMessageStatus::MessageWasRemoving
        } else {
            GetMessageStatus::NoMatchedMessage
        };
        r
    }

    fn store_time_of_entry(&self, cq: &ConsumeQueue, queue_offset: i64) -> Option<i64> {
        let e = cq
            .entry(queue_offset)
            .filter(|e| e.is_valid() && !e.is_blank())?;
        self.commit_log.store_timestamp_at(e.physical_offset)
    }

    /// RocketMQ's rule: an exact match (the first of equal times), else the closer neighbour
    /// (the earlier one on a tie), else the only side there is; 0 when nothing is stored.
    pub fn offset_by_time(&self, topic: &str, queue_id: i32, timestamp_ms: i64) -> i64 {
        let Some(cq) = self.find_queue(topic, queue_id) else {
            return 0;
        };
        let (mut lo, mut hi) = (cq.min_offset(), cq.max_offset() - 1);
        if hi < lo {
            return 0;
        }
        // (queue offset, store time) of the nearest entries before and at/after the time.
        let (mut left, mut right): (Probe, Probe) = (None, None);
        while lo <= hi {
            let mid = lo + (hi - lo) / 2;
            let Some(t) = self.store_time_of_entry(&cq, mid) else {
                // A hole (deleted data, blank): move past it.
                lo = mid + 1;
                continue;
            };
            if t < timestamp_ms {
                left = Some((mid, t));
                lo = mid + 1;
            } else {
                right = Some((mid, t));
                hi = mid - 1;
            }
        }
        match (left, right) {
            (_, Some((o, t))) if t == timestamp_ms => o,
            (Some((lo_off, lo_t)), Some((hi_off, hi_t))) => {
                if timestamp_ms - lo_t > hi_t - timestamp_ms {
                    hi_off
                } else {
                    lo_off
                }
            }
            (Some((o, _)), None) | (None, Some((o, _))) => o,
            (None, None) => 0,
        }
    }

    pub fn earliest_message_time(&self, topic: &str, queue_id: i32) -> Option<i64> {
        let cq = self.find_queue(topic, queue_id)?;
        let min = cq.min_offset();
        (min < cq.max_offset())
            .then(|| self.store_time_of_entry(&cq, min))
            .flatten()
    }

    pub fn message_store_time(&self, topic: &str, queue_id: i32, offset: i64) -> Option<i64> {
        let cq = self.find_queue(topic, queue_id)?;
        if offset < cq.min_offset() || offset >= cq.max_offset() {
            return None;
        }
        self.store_time_of_entry(&cq, offset)
    }

    pub fn query_message(
        &self,
        topic: &str,
        key: &str,
        max_num: i32,
        begin_ms: i64,
        end_ms: i64,
    ) -> QueryMessageResult {
        let max = max_num.clamp(1, GET_MESSAGE_MAX_COUNT as i32) as usize;
        let mut result = QueryMessageResult::default();
        let (ts, phy) = self.index.last_update();
        result.index_last_update_timestamp = ts;
        result.index_last_update_phyoffset = phy;
        let mut seen = std::collections::HashSet::new();
        // Over-fetch: hash collisions and other topics' keys are dropped below.
        for phys in self.index.query(topic, key, max * 4, begin_ms, end_ms) {
            if result.messages.len() >= max {
                break;
            }
            if !seen.insert(phys) {
                continue;
            }
            let Some(record) = self.commit_log.record_at(phys) else {
                continue;
            };
            let Ok((m, _)) = MessageRecord::decode(&record, false) else {
                continue;
            };
            if m.topic == topic
                && StoreProperties::read(&m.properties)
                    .index_keys()
                    .contains(&key)
            {
                result.messages.push(record);
            }
        }
        result
    }

    pub fn delete_topics(&self, topics: &[String]) {
        let mut st = self.append.lock().unwrap_or_else(|e| e.into_inner());
        let mut table = self
            .consume_queues
            .write()
            .unwrap_or_else(|e| e.into_inner());
        for topic in topics {
            if let Some(queues) = table.remove(topic) {
                for q in queues.values() {
                    if let Err(e) = q.destroy() {
                        tracing::warn!(topic = %topic, error = %e, "could not delete a consume queue");
                    }
                }
            }
            st.topic_queue_table.remove(topic);
        }
    }

    pub fn queue_ids(&self) -> HashMap<String, Vec<i32>> {
        let table = self
            .consume_queues
            .read()
            .unwrap_or_else(|e| e.into_inner());
        table
            .iter()
            .map(|(t, m)| (t.clone(), m.keys().copied().collect()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_read_in_place_agree_with_the_decoded_map() {
        let encoded =
            "TAGS\u{1}a\u{2}KEYS\u{1}k1  k2\u{2}\u{1}x\u{2}WAIT\u{1}\u{2}TAGS\u{1}b\u{2}junk";
        let map = decode_properties(encoded);
        let p = StoreProperties::read(encoded);
        assert_eq!(p.tags, map.get("TAGS").map(String::as_str));
        assert_eq!(p.tags, Some("b"), "the last occurrence wins");
        assert_eq!(p.keys, map.get("KEYS").map(String::as_str));
        assert_eq!(p.wait, None, "an empty value does not count");
        assert_eq!(p.uniq_key, None);
        assert_eq!(p.index_keys(), vec!["k1", "k2"]);
        let p = StoreProperties::read("UNIQ_KEY\u{1}U1\u{2}KEYS\u{1}a\u{2}WAIT\u{1}false");
        assert_eq!(p.index_keys(), vec!["U1", "a"]);
        assert_eq!(p.wait, Some("false"));
    }
}
