//! The commitlog: every message of every topic, appended to one stream of mapped files. A record
//! never spans two files: when it does not fit (with room for the 8-byte end marker), the rest
//! of the file is closed with a BLANK marker and the record goes to the next file.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use bytes::{BufMut, Bytes};

use crate::protocol::message::{body_crc, sys_flag, MessageRecord, BLANK_MAGIC, MESSAGE_MAGIC};

use super::mapped_file::MappedFile;
use super::mapped_file_queue::MappedFileQueue;

/// Room kept at the end of every file for the BLANK end marker (i32 size + i32 magic).
pub const END_FILE_MIN_BLANK_BYTES: usize = 8;
/// How far ahead of the write position the allocator thread keeps the commitlog's pages faulted
/// in, so that an append is a copy into memory rather than a page fault every 4 KiB.
pub const PREFAULT_AHEAD_BYTES: usize = 4 * 1024 * 1024;
/// Commitlog bytes further behind the append position than this leave the broker's page
/// tables (they stay in the page cache): RSS stays near this much however much is written.
/// Consumers further behind fault the pages they read in again (the kernel maps up to 16
/// cached pages per fault), and the page trimmer (`residency`) lets go of them once more.
pub const KEEP_MAPPED_BEHIND_BYTES: usize = 16 * 1024 * 1024;
/// Written commitlog bytes are let go of in steps of at least this much.
pub const RELEASE_STEP_BYTES: usize = 4 * 1024 * 1024;
/// An append crossing a multiple of this asks the allocator to fault in the next stretch.
pub const PREFAULT_STEP_BYTES: usize = 1024 * 1024;

/// Where a batch landed (each record's own offset is in its `physical_offset`).
#[derive(Debug, Clone, Copy)]
pub struct Appended {
    /// Physical offset of the first record.
    pub wrote_offset: i64,
    /// Bytes of all the records.
    pub wrote_bytes: usize,
}

pub struct CommitLog {
    files: MappedFileQueue,
    allocator: Arc<FileAllocator>,
    /// Store time of the last appended record, for the checkpoint.
    last_store_timestamp_ms: AtomicI64,
}

impl CommitLog {
    pub fn load(dir: &Path, file_size_bytes: usize, warm_files: bool) -> io::Result<CommitLog> {
        let files = MappedFileQueue::load(dir, file_size_bytes)?;
        Ok(CommitLog {
            allocator: Arc::new(FileAllocator::new(dir, file_size_bytes, warm_files)),
            files,
            last_store_timestamp_ms: AtomicI64::new(0),
        })
    }

    pub fn files(&self) -> &MappedFileQueue {
        &self.files
    }
    pub fn files_mut(&mut self) -> &mut MappedFileQueue {
        &mut self.files
    }
    pub fn allocator(&self) -> &Arc<FileAllocator> {
        &self.allocator
    }
    pub fn file_size_bytes(&self) -> usize {
        self.files.file_size_bytes()
    }
    pub fn last_store_timestamp_ms(&self) -> i64 {
        self.last_store_timestamp_ms.load(Ordering::Acquire)
    }
    pub fn set_last_store_timestamp_ms(&self, ts: i64) {
        self.last_store_timestamp_ms.fetch_max(ts, Ordering::AcqRel);
    }

    pub fn min_offset(&self) -> i64 {
        self.files.min_offset() as i64
    }
    pub fn max_offset(&self) -> i64 {
        self.files.max_offset() as i64
    }

    /// The file after `prev_end` (preallocated when the allocator got there first), and asks the
    /// allocator for the one after it so that the next roll does not wait for file creation.
    fn roll_to(&self, from: u64) -> io::Result<Arc<MappedFile>> {
        let file = Arc::new(self.allocator.take(from)?);
        self.files.push(Arc::clone(&file));
        self.allocator.prefault(&file, 0);
        self.allocator.request(from + self.file_size_bytes() as u64);
        Ok(file)
    }

    /// Appends `records` (one message, or a batch that must stay in one file) with consecutive
    /// physical offsets, filling in each record's `physical_offset`. The caller holds the
    /// store's append lock, so appends and queue offsets happen in one order.
    pub fn append(&self, records: &mut [MessageRecord]) -> io::Result<Appended> {
        let total: usize = records.iter().map(|r| r.encoded_len()).sum();
        assert!(
            total + END_FILE_MIN_BLANK_BYTES <= self.file_size_bytes(),
            "size checked before the append lock"
        );
        let mut file = match self.files.last() {
            Some(f) if !f.is_full() => f,
            Some(f) => self.roll_to(f.file_from_offset() + self.file_size_bytes() as u64)?,
            None => self.roll_to(0)?,
        };
        if total + END_FILE_MIN_BLANK_BYTES > file.remaining_bytes() {
            let remaining = file.remaining_bytes();
            if remaining >= END_FILE_MIN_BLANK_BYTES {
                file.append(remaining, |dst| {
                    let mut head = &mut dst[..END_FILE_MIN_BLANK_BYTES];
                    head.put_i32(remaining as i32);
                    head.put_i32(BLANK_MAGIC);
                });
            } else {
                file.mark_full();
            }
            file = self.roll_to(file.file_from_offset() + self.file_size_bytes() as u64)?;
        }
        let base = (file.file_from_offset() + file.wrote_pos() as u64) as i64;
        let mut at = base;
        for r in records.iter_mut() {
            r.physical_offset = at;
            at += r.encoded_len() as i64;
        }
        let written = file.append(total, |dst| {
            let mut cursor = dst;
            for r in records.iter() {
                r.encode_into(&mut cursor);
            }
            debug_assert!(cursor.is_empty(), "encoded_len agrees with encode_into");
        });
        let Some(pos) = written else {
            unreachable!("room checked above under the append lock");
        };
        if pos / PREFAULT_STEP_BYTES != (pos + total) / PREFAULT_STEP_BYTES {
            self.allocator.prefault(&file, pos + total);
        }
        if let Some(last) = records.last() {
            self.set_last_store_timestamp_ms(last.store_timestamp);
        }
        Ok(Appended {
            wrote_offset: base,
            wrote_bytes: total,
        })
    }

    /// A zero-copy view of `size` bytes at `physical_offset`, when they are stored.
    pub fn view(&self, physical_offset: i64, size: i32) -> Option<Bytes> {
        if physical_offset < 0 || size <= 0 {
            return None;
        }
        let file = self.files.find(physical_offset as u64)?;
        file.view(
            (physical_offset as u64 - file.file_from_offset()) as usize,
            size as usize,
        )
    }

    /// The record at `physical_offset` if one starts there and its body CRC holds.
    pub fn record_at(&self, physical_offset: i64) -> Option<Bytes> {
        if physical_offset < 0 {
            return None;
        }
        let file = self.files.find(physical_offset as u64)?;
        let pos = (physical_offset as u64 - file.file_from_offset()) as usize;
        let size = file.read_i32(pos)?;
        if file.read_i32(pos + 4)? != MESSAGE_MAGIC || size <= 0 {
            return None;
        }
        let bytes = file.view(pos, size as usize)?;
        checked_record(bytes, physical_offset)
    }

    /// Store time of the record at `physical_offset`.
    pub fn store_timestamp_at(&self, physical_offset: i64) -> Option<i64> {
        let file = self.files.find(u64::try_from(physical_offset).ok()?)?;
        let pos = (physical_offset as u64 - file.file_from_offset()) as usize;
        let flag = file.read_i32(pos + SYS_FLAG_POS)?;
        file.read_i64(pos + store_timestamp_pos(flag))
    }
}

const SYS_FLAG_POS: usize = 36;
const BORN_HOST_POS: usize = 48;

/// Where the store timestamp sits in a record with this sys flag (after the born host).
pub fn store_timestamp_pos(flag: i32) -> usize {
    BORN_HOST_POS
        + if flag & sys_flag::BORNHOST_V6 != 0 {
            20
        } else {
            8
        }
}

/// Store time of an encoded record.
pub fn store_timestamp_of(record: &[u8]) -> Option<i64> {
    let flag = i32::from_be_bytes(
        record
            .get(SYS_FLAG_POS..SYS_FLAG_POS + 4)?
            .try_into()
            .ok()?,
    );
    let pos = store_timestamp_pos(flag);
    Some(i64::from_be_bytes(
        record.get(pos..pos + 8)?.try_into().ok()?,
    ))
}

/// Checks a stored record before it is served: magic, size against its own length fields, and
/// body CRC. A failing record is logged and withheld.
pub fn checked_record(bytes: Bytes, physical_offset: i64) -> Option<Bytes> {
    match record_body_range(&bytes) {
        Some((start, end, crc)) if body_crc(&bytes[start..end]) == crc => Some(bytes),
        _ => {
            tracing::warn!(
                physical_offset,
                "withholding a stored record whose size or body CRC does not check"
            );
            None
        }
    }
}

/// The properties string of an encoded record.
pub fn record_properties(b: &[u8]) -> Option<&str> {
    let (_, topic_len_pos, _) = record_body_range(b)?;
    let topic_len = *b.get(topic_len_pos)? as usize;
    let start = topic_len_pos + 1 + topic_len + 2;
    std::str::from_utf8(b.get(start..)?).ok()
}

/// (body start, body end, stored CRC) of a record whose lengths agree with its total size.
fn record_body_range(b: &[u8]) -> Option<(usize, usize, i32)> {
    let be32 =
        |p: usize| -> Option<i32> { Some(i32::from_be_bytes(b.get(p..p + 4)?.try_into().ok()?)) };
    let total = be32(0)?;
    if be32(4)? != MESSAGE_MAGIC || total as usize != b.len() {
        return None;
    }
    let crc = be32(8)?;
    let flag = be32(SYS_FLAG_POS)?;
    let host = |v6: bool| if v6 { 20 } else { 8 };
    let body_len_pos = BORN_HOST_POS
        + host(flag & sys_flag::BORNHOST_V6 != 0)
        + 8
        + host(flag & sys_flag::STOREHOST_V6 != 0)
        + 4
        + 8;
    let body_len = usize::try_from(be32(body_len_pos)?).ok()?;
    let body_start = body_len_pos + 4;
    let topic_len_pos = body_start.checked_add(body_len)?;
    let topic_len = usize::try_from(*b.get(topic_len_pos)? as i8).ok()?;
    let props_len_pos = topic_len_pos + 1 + topic_len;
    let props_len = i16::from_be_bytes(b.get(props_len_pos..props_len_pos + 2)?.try_into().ok()?);
    let end = props_len_pos + 2 + usize::try_from(props_len).ok()?;
    (end == b.len()).then_some((body_start, topic_len_pos, crc))
}

/// Creates the next commitlog file ahead of need on its own thread (RocketMQ's
/// AllocateMappedFileService), so an append that crosses a file boundary rarely waits for
/// file creation and page faults.
pub struct FileAllocator {
    dir: std::path::PathBuf,
    file_size_bytes: usize,
    warm_files: bool,
    state: Mutex<AllocState>,
    changed: Condvar,
}

#[derive(Default)]
struct AllocState {
    requested: Option<u64>,
    in_progress: Option<u64>,
    ready: Option<MappedFile>,
    /// The file being written and the position to fault pages in from (the newest request).
    prefault: Option<(Arc<MappedFile>, usize)>,
    /// The kernel has no `MADV_POPULATE_WRITE`: appends take their page faults themselves.
    prefault_unsupported: bool,
    /// The file being written (its pages behind the window are released as it grows), and
    /// the file before it while its end is still within `KEEP_MAPPED_BEHIND_BYTES`.
    writing: Option<Arc<MappedFile>>,
    previous: Option<Arc<MappedFile>>,
    stopped: bool,
}

impl FileAllocator {
    fn new(dir: &Path, file_size_bytes: usize, warm_files: bool) -> FileAllocator {
        FileAllocator {
            dir: dir.to_path_buf(),
            file_size_bytes,
            warm_files,
            state: Mutex::new(AllocState::default()),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, AllocState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn create(&self, from: u64) -> io::Result<MappedFile> {
        let mut f = MappedFile::create(&self.dir, from, self.file_size_bytes)?;
        if self.warm_files {
            f.warm();
        }
        Ok(f)
    }

    /// Asks for the file starting at `from` to be prepared.
    pub fn request(&self, from: u64) {
        let mut st = self.lock();
        if st.stopped
            || st
                .ready
                .as_ref()
                .is_some_and(|f| f.file_from_offset() == from)
        {
            return;
        }
        st.requested = Some(from);
        self.changed.notify_all();
    }

    /// Asks for the pages of `file` from `pos` on (`PREFAULT_AHEAD_BYTES`) to be faulted in.
    pub fn prefault(&self, file: &Arc<MappedFile>, pos: usize) {
        let mut st = self.lock();
        if st.stopped || st.prefault_unsupported {
            return;
        }
        st.prefault = Some((Arc::clone(file), pos));
        self.changed.notify_all();
    }

    /// The file starting at `from`: the prepared one, or one created now.
    pub fn take(&self, from: u64) -> io::Result<MappedFile> {
        let mut st = self.lock();
        // Never create the same file twice: wait for the allocator if it is on it.
        while st.in_progress == Some(from) {
            st = self.changed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        if st.requested == Some(from) {
            st.requested = None;
        }
        match st.ready.take() {
            Some(f) if f.file_from_offset() == from => return Ok(f),
            Some(stale) => {
                let _ = stale.destroy();
            }
            None => {}
        }
        drop(st);
        tracing::debug!(from, "creating a commitlog file on the append path");
        self.create(from)
    }

    /// What to release now that the append position of `file` is `pos`: (file, release
    /// below) for the part of it, and of the file before it, more than
    /// `KEEP_MAPPED_BEHIND_BYTES` behind (`usize::MAX`: all of it).
    fn pages_to_release(
        &self,
        st: &mut AllocState,
        file: &Arc<MappedFile>,
        pos: usize,
    ) -> Vec<(Arc<MappedFile>, usize)> {
        let mut out = Vec::new();
        let same = matches!(&st.writing, Some(f) if Arc::ptr_eq(f, file));
        if !same {
            // A new file: the one before becomes `previous` (an older one goes entirely).
            if let Some(f) = st.writing.replace(Arc::clone(file)) {
                if let Some(p) = st.previous.replace(f) {
                    out.push((p, usize::MAX));
                }
            }
        }
        if pos >= KEEP_MAPPED_BEHIND_BYTES {
            if let Some(p) = st.previous.take() {
                out.push((p, usize::MAX));
            }
            out.push((Arc::clone(file), pos - KEEP_MAPPED_BEHIND_BYTES));
        }
        out
    }

    /// The allocator thread's loop; returns once `stop` was called.
    pub fn run(&self) {
        loop {
            let mut st = self.lock();
            while !st.stopped && st.requested.is_none() && st.prefault.is_none() {
                st = self.changed.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            if st.stopped {
                return;
            }
            // The file being written first: an append may be about to reach those pages.
            if let Some((file, pos)) = st.prefault.take() {
                let release = self.pages_to_release(&mut st, &file, pos);
                drop(st);
                for (f, below) in release {
                    if let Err(e) = f.release_written(below, RELEASE_STEP_BYTES) {
                        tracing::debug!(path = %f.path().display(), error = %e, "could not release commitlog pages");
                    }
                }
                match file.prefault(pos, PREFAULT_AHEAD_BYTES) {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::info!("no MADV_POPULATE_WRITE (Linux < 5.14): commitlog appends fault their pages in themselves");
                        self.lock().prefault_unsupported = true;
                    }
                    Err(e) => {
                        tracing::warn!(path = %file.path().display(), error = %e, "could not fault in commitlog pages ahead")
                    }
                }
                continue;
            }
            let from = st.requested.take().expect("checked above");
            st.in_progress = Some(from);
            drop(st);
            let created = self.create(from);
            if let Ok(f) = &created {
                // Its first pages too, before any append reaches them.
                let _ = f.prefault(0, PREFAULT_AHEAD_BYTES);
            }
            let mut st = self.lock();
            st.in_progress = None;
            match created {
                // Stopped meanwhile: a file nobody will take must not outlive the store.
                Ok(f) if st.stopped => {
                    let _ = f.destroy();
                }
                Ok(f) => {
                    if let Some(stale) = st.ready.replace(f) {
                        let _ = stale.destroy();
                    }
                }
                Err(e) => {
                    tracing::warn!(from, error = %e, "could not preallocate a commitlog file")
                }
            }
            self.changed.notify_all();
        }
    }

    /// Stops the thread and deletes a prepared file nobody took (so a restart does not find an
    /// empty file past the end of the log).
    pub fn stop(&self) {
        let mut st = self.lock();
        st.stopped = true;
        st.prefault = None;
        st.writing = None;
        st.previous = None;
        if let Some(f) = st.ready.take() {
            let _ = f.destroy();
        }
        self.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(body: &[u8]) -> MessageRecord {
        MessageRecord {
            topic: "T".into(),
            body: Bytes::copy_from_slice(body),
            store_timestamp: 1234,
            ..Default::default()
        }
    }

    #[test]
    fn records_roll_to_a_new_file_behind_a_blank_marker() {
        let dir = tempfile::tempdir().unwrap();
        let log = CommitLog::load(dir.path(), 256, false).unwrap();
        let len = record(b"x").encoded_len();
        let mut offsets = Vec::new();
        for _ in 0..4 {
            let a = log.append(&mut [record(b"x")]).unwrap();
            offsets.push(a.wrote_offset);
        }
        // 256 bytes hold two records of 93 plus the marker; the third starts the next file.
        assert_eq!(len, 93);
        assert_eq!(offsets, vec![0, 93, 256, 349]);
        let first = log.files().first().unwrap();
        assert_eq!(first.read_i32(186), Some(256 - 186));
        assert_eq!(first.read_i32(190), Some(BLANK_MAGIC));
        let rec = log.record_at(256).unwrap();
        let (m, _) = MessageRecord::decode(&rec, true).unwrap();
        assert_eq!(m.physical_offset, 256);
        assert_eq!(store_timestamp_of(&rec), Some(1234));
        assert_eq!(log.store_timestamp_at(349), Some(1234));
        assert!(log.record_at(186).is_none());
    }

    #[test]
    fn pages_far_enough_behind_the_append_position_are_released() {
        let dir = tempfile::tempdir().unwrap();
        let gib = 1 << 30;
        let alloc = FileAllocator::new(dir.path(), gib, false);
        // Stand-ins for 1 GiB files (only their identity matters here).
        let a = Arc::new(MappedFile::create(dir.path(), 0, 4096).unwrap());
        let b = Arc::new(MappedFile::create(dir.path(), gib as u64, 4096).unwrap());
        let ranges = |out: Vec<(Arc<MappedFile>, usize)>| -> Vec<(u64, usize)> {
            out.into_iter()
                .map(|(f, below)| (f.file_from_offset(), below))
                .collect()
        };
        let mut st = AllocState::default();
        let keep = KEEP_MAPPED_BEHIND_BYTES;
        assert!(ranges(alloc.pages_to_release(&mut st, &a, 1 << 20)).is_empty());
        assert_eq!(
            ranges(alloc.pages_to_release(&mut st, &a, keep)),
            vec![(0, 0)]
        );
        assert_eq!(
            ranges(alloc.pages_to_release(&mut st, &a, keep + 10 * RELEASE_STEP_BYTES)),
            vec![(0, 10 * RELEASE_STEP_BYTES)]
        );
        // The next file: the previous one stays mapped until its end is far enough behind.
        assert!(ranges(alloc.pages_to_release(&mut st, &b, 0)).is_empty());
        assert_eq!(
            ranges(alloc.pages_to_release(&mut st, &b, keep)),
            vec![(0, usize::MAX), (gib as u64, 0)]
        );
        assert_eq!(
            ranges(alloc.pages_to_release(&mut st, &b, keep + 1)),
            vec![(gib as u64, 1)]
        );
    }
}
