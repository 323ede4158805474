//! Opening a store: lock, abort marker, loading files, and recovery (spec §8.7).
//!
//! * Normal recovery (no abort file: the last run shut down cleanly): check the last three
//!   commitlog files, cut at the first invalid record, and dispatch what the consume queues miss
//!   (nothing, usually).
//! * Crash recovery (abort file present): start from the newest commitlog file whose first message
//!   is older than what the checkpoint says was flushed everywhere, verify every record from there
//!   (magic, size, body CRC), zero the torn tail, drop consume queue entries from that point on and
//!   dispatch every message again so consume queues and index agree with the commitlog.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};

use crate::protocol::message::{MessageRecord, BLANK_MAGIC, MESSAGE_MAGIC};

use super::checkpoint::Checkpoint;
use super::commit_log::{store_timestamp_of, CommitLog};
use super::consume_queue::ConsumeQueue;
use super::default_message_store::{AppendState, DefaultMessageStore, QueueTable, StoreProperties};
use super::flush::{GroupCommit, Stopper};
use super::index::IndexService;
use super::mapped_file::{fsync_dir, MappedFile};
use super::retention::FileSystemUsage;
use super::{StoreConfig, StoreError};

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Takes `<root>/lock` exclusively (released when the file is closed).
pub fn take_lock(root: &Path) -> Result<File, StoreError> {
    let path = root.join("lock");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io_err(&path))?;
    // `File::try_lock` is newer than the workspace's declared MSRV; the toolchain we build with
    // has it, and a flock is the lock RocketMQ's `lock` file stands for.
    #[allow(clippy::incompatible_msrv)]
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Locked(path)),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Io { path, source: e }),
    }
}

/// Loads and recovers everything under `config.root_dir`. The caller holds the lock file.
pub fn open(mut config: StoreConfig) -> Result<DefaultMessageStore, StoreError> {
    // Entries must never straddle two files.
    config.consume_queue_file_size_bytes = (config.consume_queue_file_size_bytes / 20 * 20).max(20);
    let root = config.root_dir.clone();
    let abort_path = root.join("abort");
    let crashed = abort_path.exists();
    if crashed {
        tracing::warn!(root = %root.display(), "abort file found: the last run did not shut down cleanly, recovering from the checkpoint");
    }
    let commit_log_dir = DefaultMessageStore::commit_log_dir(&config);
    let commit_log = CommitLog::load(
        &commit_log_dir,
        config.commit_log_file_size_bytes as usize,
        config.warm_mapped_file_enable,
    )
    .map_err(io_err(&commit_log_dir))?;
    let cp_path = root.join("checkpoint");
    let checkpoint = Checkpoint::open(&cp_path).map_err(io_err(&cp_path))?;
    let consume_queue_root = root.join("consumequeue");
    let index_dir = root.join("index");
    let queues = load_consume_queues(
        &consume_queue_root,
        config.consume_queue_file_size_bytes as usize,
    )?;

    let mut store = DefaultMessageStore {
        root: root.clone(),
        commit_log,
        consume_queue_root,
        consume_queues: RwLock::new(queues),
        index: IndexService::load(
            &index_dir,
            config.index_hash_slot_count,
            config.index_max_entry_count,
        )
        .map_err(io_err(&index_dir))?,
        append: Mutex::new(AppendState::default()),
        listener: RwLock::new(None),
        checkpoint,
        dispatched_store_timestamp_ms: AtomicI64::new(0),
        shut_down: AtomicBool::new(false),
        write_failed: AtomicBool::new(false),
        disk_full: AtomicBool::new(false),
        disk_usage: RwLock::new(Arc::new(FileSystemUsage)),
        manual_delete_passes: AtomicU32::new(0),
        group_commit: GroupCommit::default(),
        stopper: Stopper::default(),
        abort_marker: AbortMarker::default(),
        config,
    };
    recover(&mut store, crashed)?;

    // Created only once recovery is done: a crash during recovery recovers again. Its
    // directory entry is made durable by `sync_abort_marker`, off the path to accepting
    // connections (that fsync waits for a journal commit: 0.1 s on a busy file system);
    // appends wait for it.
    File::create(&abort_path).map_err(io_err(&abort_path))?;
    Ok(store)
}

/// The abort file on its way to disk. Appends wait until it is there: a crash after data was
/// written must be noticed at the next start.
#[derive(Default)]
pub struct AbortMarker {
    durable: AtomicBool,
    /// None while the fsync runs; then whether it succeeded.
    state: Mutex<Option<bool>>,
    changed: Condvar,
}

impl AbortMarker {
    #[inline]
    pub fn is_durable(&self) -> bool {
        self.durable.load(Ordering::Acquire)
    }

    /// Waits for the fsync; whether the marker is durable.
    pub fn wait(&self) -> bool {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while st.is_none() {
            st = self.changed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        *st == Some(true)
    }

    fn set(&self, durable: bool) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(durable);
        self.durable.store(durable, Ordering::Release);
        self.changed.notify_all();
    }
}

/// Makes the abort file `open` created durable (the store-open-sync thread, started with the
/// store). On failure the store refuses writes, as after a failed flush.
pub fn sync_abort_marker(store: &DefaultMessageStore) {
    match fsync_dir(store.root()) {
        Ok(()) => store.abort_marker.set(true),
        Err(e) => {
            tracing::error!(root = %store.root().display(), error = %e, "could not make the abort file durable; refusing writes");
            store.write_failed.store(true, Ordering::Release);
            store.abort_marker.set(false);
        }
    }
}

fn load_consume_queues(dir: &Path, file_size_bytes: usize) -> Result<QueueTable, StoreError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let mut table = QueueTable::new();
    for topic_entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let topic_entry = topic_entry.map_err(io_err(dir))?;
        let Some(topic) = topic_entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if !topic_entry.path().is_dir() {
            continue;
        }
        for q in std::fs::read_dir(topic_entry.path()).map_err(io_err(&topic_entry.path()))? {
            let q = q.map_err(io_err(dir))?;
            let Some(queue_id) = q.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let mut cq = ConsumeQueue::load(dir, &topic, queue_id, file_size_bytes)
                .map_err(io_err(&q.path()))?;
            cq.recover().map_err(io_err(&q.path()))?;
            table
                .entry(topic.clone())
                .or_default()
                .insert(queue_id, Arc::new(cq));
        }
    }
    Ok(table)
}

/// Where a scan of the commitlog stopped.
struct ScanEnd {
    end: u64,
    /// Bytes other than zeros follow the end (a torn or corrupt record), so they must be zeroed.
    dirty: bool,
    last_store_timestamp_ms: i64,
}

/// What a record at a position is.
enum Slot {
    Record(Box<MessageRecord>, usize),
    EndOfFile,
    Invalid { dirty: bool },
}

fn read_slot(file: &MappedFile, pos: usize, check_crc: bool) -> Slot {
    let size = file.file_size_bytes();
    if pos + 8 > size {
        return Slot::EndOfFile;
    }
    let (Some(len), Some(magic)) = (file.read_i32(pos), file.read_i32(pos + 4)) else {
        return Slot::Invalid { dirty: false };
    };
    if magic == BLANK_MAGIC && len as usize == size - pos {
        return Slot::EndOfFile;
    }
    if len == 0 && magic == 0 {
        return Slot::Invalid { dirty: false };
    }
    let phys = file.file_from_offset() + pos as u64;
    let bad = |why: String| {
        tracing::warn!(path = %file.path().display(), position = pos, physical_offset = phys, "commitlog record invalid: {why}");
        Slot::Invalid { dirty: true }
    };
    if magic != MESSAGE_MAGIC || len <= 8 || pos + len as usize > size {
        return bad(format!("size {len}, magic {magic:#x}"));
    }
    let Some(bytes) = file.view(pos, len as usize) else {
        return bad("unreadable".into());
    };
    match MessageRecord::decode(&bytes, check_crc) {
        Ok((m, n)) if m.physical_offset as u64 == phys => Slot::Record(Box::new(m), n),
        Ok((m, _)) => bad(format!(
            "stored physical offset {} is stale",
            m.physical_offset
        )),
        Err(e) => bad(e.0),
    }
}

fn scan(files: &[Arc<MappedFile>], start: usize, check_crc: bool) -> ScanEnd {
    let mut out = ScanEnd {
        end: files.get(start).map(|f| f.file_from_offset()).unwrap_or(0),
        dirty: false,
        last_store_timestamp_ms: 0,
    };
    for f in &files[start..] {
        let mut pos = 0;
        loop {
            match read_slot(f, pos, check_crc) {
                Slot::Record(m, n) => {
                    out.last_store_timestamp_ms = m.store_timestamp;
                    pos += n;
                }
                Slot::EndOfFile => break,
                Slot::Invalid { dirty } => {
                    out.end = f.file_from_offset() + pos as u64;
                    out.dirty = dirty;
                    return out;
                }
            }
        }
        out.end = f.file_from_offset() + f.file_size_bytes() as u64;
    }
    out
}

/// The index of the file crash recovery starts from: the newest whose first message was stored
/// before the checkpoint's safe time (or the first file).
fn crash_start_file(files: &[Arc<MappedFile>], checkpoint: &Checkpoint) -> usize {
    let safe = checkpoint.min_timestamp_ms();
    for (i, f) in files.iter().enumerate().rev() {
        let mut head = [0u8; 100];
        if !f.read_into(0, &mut head)
            || i32::from_be_bytes(head[4..8].try_into().expect("4 bytes")) != MESSAGE_MAGIC
        {
            continue;
        }
        if store_timestamp_of(&head).is_some_and(|t| t <= safe) {
            tracing::info!(path = %f.path().display(), "crash recovery starts here");
            return i;
        }
    }
    0
}

fn recover(store: &mut DefaultMessageStore, crashed: bool) -> Result<(), StoreError> {
    let check_crc = store.config.check_crc_on_recover;
    let files = store.commit_log.files().snapshot();
    let start = if crashed {
        crash_start_file(&files, &store.checkpoint)
    } else {
        files.len().saturating_sub(3)
    };
    let scanned = scan(&files, start, check_crc || crashed);
    let scanned_from = files.get(start).map(|f| f.file_from_offset()).unwrap_or(0);
    drop(files);
    let end = scanned.end;
    if scanned.dirty || crashed {
        tracing::warn!(end, "commitlog truncated after its last valid record");
    }
    truncate_commit_log(&mut store.commit_log, end, scanned.dirty || crashed)?;
    store
        .commit_log
        .set_last_store_timestamp_ms(scanned.last_store_timestamp_ms);
    store.index.forget_from(end as i64);

    let min_phys = store.commit_log.min_offset();
    // Crash recovery re-dispatches from the start of the file it verified from.
    let crash_from = crashed.then_some(scanned_from);
    let table = store
        .consume_queues
        .get_mut()
        .unwrap_or_else(|e| e.into_inner());
    for cq in table.values_mut().flat_map(|m| m.values_mut()) {
        let cq = Arc::get_mut(cq).expect("consume queues are not shared during recovery");
        let path = cq.files().dir().to_path_buf();
        cq.truncate_physical(end as i64).map_err(io_err(&path))?;
        if let Some(from) = crash_from {
            cq.truncate_from_physical(from as i64)
                .map_err(io_err(&path))?;
        }
    }
    let from = match crash_from {
        Some(from) => from as i64,
        None => {
            // What every queue has is done; a clean shutdown also recorded how far dispatch got.
            let dispatched = table
                .values()
                .flat_map(|m| m.values())
                .filter_map(|q| q.max_physical_end())
                .max();
            dispatched
                .unwrap_or(0)
                .max(store.checkpoint.dispatched_offset())
        }
    };
    let from = from.clamp(min_phys, (end as i64).max(min_phys));
    redispatch(store, from as u64, end, check_crc)?;

    let mut st = AppendState::default();
    for q in store.all_queues() {
        q.correct_min_offset(min_phys);
        st.set_next_queue_offset(q.topic(), q.queue_id(), q.max_offset());
    }
    st.last_store_timestamp_ms = scanned.last_store_timestamp_ms;
    *store.append.get_mut().unwrap_or_else(|e| e.into_inner()) = st;
    store.dispatched_store_timestamp_ms = AtomicI64::new(scanned.last_store_timestamp_ms);
    // The next file is prepared ahead (the first one of an empty store too, so that the first
    // send does not wait for its creation).
    let next = store
        .commit_log
        .files()
        .last()
        .map(|last| last.file_from_offset() + last.file_size_bytes() as u64)
        .unwrap_or(0);
    store.commit_log.allocator().request(next);
    Ok(())
}

fn truncate_commit_log(log: &mut CommitLog, end: u64, zero_tail: bool) -> Result<(), StoreError> {
    let files = log.files_mut();
    for f in files.files_mut().iter_mut() {
        let from = f.file_from_offset();
        let size = f.file_size_bytes() as u64;
        if from < end && end < from + size {
            let path = f.path().to_path_buf();
            let file = Arc::get_mut(f).expect("commitlog files are not shared during recovery");
            if zero_tail {
                file.truncate_and_zero((end - from) as usize)
                    .map_err(io_err(&path))?;
            } else {
                file.set_wrote_pos((end - from) as usize);
            }
        }
    }
    let dir = files.dir().to_path_buf();
    files.remove_files_from(end).map_err(io_err(&dir))?;
    files.set_flushed_where(end);
    Ok(())
}

/// Dispatches every record in [from, end) again (consume queue entries already present are
/// kept as they are).
fn redispatch(
    store: &DefaultMessageStore,
    from: u64,
    end: u64,
    check_crc: bool,
) -> Result<(), StoreError> {
    let mut at = from;
    let mut count = 0u64;
    while at < end {
        let Some(file) = store.commit_log.files().find(at) else {
            break;
        };
        let pos = (at - file.file_from_offset()) as usize;
        match read_slot(&file, pos, check_crc) {
            Slot::Record(m, n) => {
                let props = StoreProperties::read(&m.properties);
                store.dispatch(&m, &props, m.physical_offset, n as i32);
                at += n as u64;
                count += 1;
            }
            Slot::EndOfFile => at = file.file_from_offset() + file.file_size_bytes() as u64,
            Slot::Invalid { .. } => break,
        }
    }
    if count > 0 {
        tracing::info!(
            from,
            end,
            messages = count,
            "re-dispatched commitlog records to consume queues and index"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn appends_wait_for_the_abort_marker_and_learn_whether_it_is_durable() {
        let marker = Arc::new(AbortMarker::default());
        assert!(!marker.is_durable());
        let waiter = {
            let m = Arc::clone(&marker);
            std::thread::spawn(move || m.wait())
        };
        marker.set(true);
        assert!(waiter.join().unwrap());
        assert!(marker.is_durable() && marker.wait());
        let failed = AbortMarker::default();
        failed.set(false);
        assert!(!failed.wait() && !failed.is_durable());
    }

    #[test]
    fn crash_recovery_starts_at_the_newest_file_older_than_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let log = CommitLog::load(&dir.path().join("commitlog"), 512, false).unwrap();
        // Four records per file would not fit with the marker: three files of two records,
        // first records stored at 10 s, 20 s and 30 s.
        for ts in [10_000, 11_000, 20_000, 21_000, 30_000, 31_000] {
            let mut r = MessageRecord {
                topic: "T".into(),
                body: Bytes::from(vec![7u8; 120]),
                store_timestamp: ts,
                ..Default::default()
            };
            log.append(std::slice::from_mut(&mut r)).unwrap();
        }
        let files = log.files().snapshot();
        assert_eq!(files.len(), 3);
        let cp = Checkpoint::open(&dir.path().join("checkpoint")).unwrap();
        assert_eq!(
            crash_start_file(&files, &cp),
            0,
            "nothing flushed: from the first file"
        );
        cp.set_physic_msg_timestamp_ms(40_000);
        cp.set_logics_msg_timestamp_ms(25_000);
        // Safe time 22 s: the second file's first message (20 s) is older.
        assert_eq!(crash_start_file(&files, &cp), 1);
        cp.set_logics_msg_timestamp_ms(34_000);
        assert_eq!(crash_start_file(&files, &cp), 2);
        let end = scan(&files, 1, true);
        assert_eq!(
            (end.end, end.dirty, end.last_store_timestamp_ms),
            (1024 + 2 * 212, false, 31_000)
        );
    }
}
