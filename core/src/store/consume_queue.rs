//! A consume queue: the index of one (topic, queue id) into the commitlog, as fixed 20-byte
//! entries (i64 physical offset, i32 size, i64 tags code). Queue offset n is at byte n × 20.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::BufMut;

use super::mapped_file::MappedFile;
use super::mapped_file_queue::MappedFileQueue;

pub const CQ_ENTRY_BYTES: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CqEntry {
    pub physical_offset: i64,
    pub size: i32,
    pub tags_code: i64,
}

impl CqEntry {
    /// The filler written before the first real entry of a queue whose first file starts at a
    /// non-zero offset.
    pub const BLANK: CqEntry = CqEntry {
        physical_offset: 0,
        size: i32::MAX,
        tags_code: 0,
    };

    fn decode(b: &[u8]) -> CqEntry {
        CqEntry {
            physical_offset: i64::from_be_bytes(b[0..8].try_into().expect("8 bytes")),
            size: i32::from_be_bytes(b[8..12].try_into().expect("4 bytes")),
            tags_code: i64::from_be_bytes(b[12..20].try_into().expect("8 bytes")),
        }
    }

    fn encode(&self, mut dst: &mut [u8]) {
        dst.put_i64(self.physical_offset);
        dst.put_i32(self.size);
        dst.put_i64(self.tags_code);
    }

    /// What recovery accepts; it stops at the first entry that is not.
    pub fn is_valid(&self) -> bool {
        self.physical_offset >= 0 && self.size > 0
    }

    pub fn is_blank(&self) -> bool {
        *self == CqEntry::BLANK
    }
}

/// What reading a queue at an offset found.
pub enum CqRead {
    Entries(Vec<CqEntry>),
    /// The file holding the offset is gone; reading may resume at this queue offset.
    FileMissing {
        next_offset: i64,
    },
}

pub struct ConsumeQueue {
    topic: String,
    queue_id: i32,
    files: MappedFileQueue,
    /// First queue offset whose message is still in the commitlog.
    min_logic_offset: AtomicI64,
    write_lock: Mutex<()>,
}

pub fn queue_dir(root: &Path, topic: &str, queue_id: i32) -> PathBuf {
    root.join(topic).join(queue_id.to_string())
}

impl ConsumeQueue {
    pub fn load(
        root: &Path,
        topic: &str,
        queue_id: i32,
        file_size_bytes: usize,
    ) -> io::Result<ConsumeQueue> {
        Ok(ConsumeQueue {
            topic: topic.to_string(),
            queue_id,
            files: MappedFileQueue::load(&queue_dir(root, topic, queue_id), file_size_bytes)?,
            min_logic_offset: AtomicI64::new(0),
            write_lock: Mutex::new(()),
        })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }
    pub fn queue_id(&self) -> i32 {
        self.queue_id
    }
    pub fn files(&self) -> &MappedFileQueue {
        &self.files
    }
    fn entries_per_file(&self) -> i64 {
        (self.files.file_size_bytes() / CQ_ENTRY_BYTES) as i64
    }

    /// Next queue offset to be written.
    pub fn max_offset(&self) -> i64 {
        (self.files.max_offset() / CQ_ENTRY_BYTES as u64) as i64
    }

    pub fn min_offset(&self) -> i64 {
        let first = (self.files.min_offset() / CQ_ENTRY_BYTES as u64) as i64;
        self.min_logic_offset.load(Ordering::Acquire).max(first)
    }

    /// Writes the entry for `queue_offset`. An entry already present is left alone (re-dispatch
    /// after a crash goes over messages that may already be indexed); a gap is filled with
    /// blank entries so every entry stays at offset × 20.
    pub fn put(&self, queue_offset: i64, entry: CqEntry) -> io::Result<()> {
        let _guard = self.write_lock.lock().unwrap_or_else(|e| e.into_inner());
        let pos = queue_offset as u64 * CQ_ENTRY_BYTES as u64;
        let file_size = self.files.file_size_bytes() as u64;
        if self.files.is_empty() {
            let from = pos / file_size * file_size;
            self.files.push(Arc::new(MappedFile::create(
                self.files.dir(),
                from,
                file_size as usize,
            )?));
            if pos > 0 {
                self.min_logic_offset.store(queue_offset, Ordering::Release);
            }
        }
        let mut last = self.files.last().expect("created above");
        let mut end = last.file_from_offset() + last.wrote_pos() as u64;
        if pos < end {
            return Ok(());
        }
        if pos > end {
            tracing::warn!(topic = %self.topic, queue_id = self.queue_id, queue_offset,
                expected = end / CQ_ENTRY_BYTES as u64, "consume queue gap, filling with blank entries");
        }
        while end < pos {
            last = self.append_raw(last, CqEntry::BLANK)?;
            end += CQ_ENTRY_BYTES as u64;
        }
        self.append_raw(last, entry).map(drop)
    }

    /// Appends to `last` (the queue's last file) or to a new file after it when it is full;
    /// returns the file written.
    fn append_raw(&self, last: Arc<MappedFile>, entry: CqEntry) -> io::Result<Arc<MappedFile>> {
        let file = match last {
            f if !f.is_full() => f,
            f => {
                let next = Arc::new(MappedFile::create(
                    self.files.dir(),
                    f.file_from_offset() + f.file_size_bytes() as u64,
                    f.file_size_bytes(),
                )?);
                self.files.push(Arc::clone(&next));
                next
            }
        };
        file.append(CQ_ENTRY_BYTES, |dst| entry.encode(dst))
            .expect("a file that is not full has room for an entry");
        Ok(file)
    }

    /// Up to `max` entries from `queue_offset`, all from the file holding it.
    pub fn read(&self, queue_offset: i64, max: usize) -> CqRead {
        let pos = queue_offset as u64 * CQ_ENTRY_BYTES as u64;
        let Some(file) = self.files.find(pos) else {
            let per_file = self.entries_per_file();
            return CqRead::FileMissing {
                next_offset: queue_offset + per_file - queue_offset % per_file,
            };
        };
        let in_file = (pos - file.file_from_offset()) as usize;
        let available = file.wrote_pos().saturating_sub(in_file) / CQ_ENTRY_BYTES;
        let n = available.min(max);
        let mut buf = vec![0u8; n * CQ_ENTRY_BYTES];
        if !file.read_into(in_file, &mut buf) {
            return CqRead::Entries(Vec::new());
        }
        CqRead::Entries(
            buf.chunks_exact(CQ_ENTRY_BYTES)
                .map(CqEntry::decode)
                .collect(),
        )
    }

    pub fn entry(&self, queue_offset: i64) -> Option<CqEntry> {
        if queue_offset < 0 {
            return None;
        }
        match self.read(queue_offset, 1) {
            CqRead::Entries(v) => v.first().copied(),
            CqRead::FileMissing { .. } => None,
        }
    }

    /// Physical end (offset + size) of the last entry: where the commitlog has been dispatched to.
    pub fn max_physical_end(&self) -> Option<i64> {
        let last = self.max_offset() - 1;
        self.entry(last)
            .filter(|e| e.is_valid() && !e.is_blank())
            .map(|e| e.physical_offset + e.size as i64)
    }

    /// After loading: keeps the valid prefix (checking the last three files, as RocketMQ does),
    /// zeroes whatever follows it.
    pub fn recover(&mut self) -> io::Result<()> {
        let files = self.files.files_mut().clone();
        let start = files.len().saturating_sub(3);
        let mut end = files.get(start).map(|f| f.file_from_offset()).unwrap_or(0);
        'files: for f in &files[start..] {
            let mut buf = vec![0u8; f.file_size_bytes()];
            f.read_into(0, &mut buf);
            for (i, chunk) in buf.chunks_exact(CQ_ENTRY_BYTES).enumerate() {
                if !CqEntry::decode(chunk).is_valid() {
                    end = f.file_from_offset() + (i * CQ_ENTRY_BYTES) as u64;
                    break 'files;
                }
            }
            end = f.file_from_offset() + f.file_size_bytes() as u64;
        }
        drop(files);
        self.truncate_at(end)
    }

    /// Drops every entry whose message ends after `physical_end` (the commitlog was cut there).
    pub fn truncate_physical(&mut self, physical_end: i64) -> io::Result<()> {
        self.truncate_while(|e| e.is_blank() || e.physical_offset + e.size as i64 <= physical_end)
    }

    /// Drops every entry at or after `physical_offset` (to be dispatched again).
    pub fn truncate_from_physical(&mut self, physical_offset: i64) -> io::Result<()> {
        self.truncate_while(|e| e.is_blank() || e.physical_offset < physical_offset)
    }

    /// Keeps the longest prefix whose last entry satisfies `keep` (entries are in commitlog order,
    /// so scanning back from the end finds it).
    fn truncate_while(&mut self, keep: impl Fn(&CqEntry) -> bool) -> io::Result<()> {
        let mut n = self.max_offset();
        let min = (self.files.min_offset() / CQ_ENTRY_BYTES as u64) as i64;
        while n > min {
            match self.entry(n - 1) {
                Some(e) if !keep(&e) => n -= 1,
                _ => break,
            }
        }
        if n == self.max_offset() {
            return Ok(());
        }
        self.truncate_at(n as u64 * CQ_ENTRY_BYTES as u64)
    }

    fn truncate_at(&mut self, end: u64) -> io::Result<()> {
        for f in self.files.files_mut().iter_mut() {
            let from = f.file_from_offset();
            let size = f.file_size_bytes() as u64;
            if from < end && end < from + size {
                let file = Arc::get_mut(f)
                    .ok_or_else(|| io::Error::other("consume queue file shared during recovery"))?;
                file.truncate_and_zero((end - from) as usize)?;
            }
        }
        self.files.remove_files_from(end)?;
        self.files.set_flushed_where(end);
        Ok(())
    }

    /// Moves the min offset to the first entry whose message is at or after `min_physical`.
    pub fn correct_min_offset(&self, min_physical: i64) {
        let Some(first) = self.files.first() else {
            return;
        };
        let from = (first.file_from_offset() / CQ_ENTRY_BYTES as u64) as i64;
        let max = self.max_offset();
        let mut lo = from.max(self.min_logic_offset.load(Ordering::Acquire));
        // Entries are in commitlog order: binary search for the first one still stored.
        let mut hi = max;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.entry(mid) {
                Some(e) if e.is_blank() || e.physical_offset < min_physical => lo = mid + 1,
                _ => hi = mid,
            }
        }
        self.min_logic_offset.store(lo, Ordering::Release);
    }

    /// Deletes files (never the last) all of whose entries point below `min_physical`.
    pub fn delete_expired(&self, min_physical: i64) -> io::Result<usize> {
        let files = self.files.snapshot();
        let mut n = 0;
        for f in files.iter().take(files.len().saturating_sub(1)) {
            let last = f.file_size_bytes() - CQ_ENTRY_BYTES;
            let mut buf = [0u8; CQ_ENTRY_BYTES];
            if !f.read_into(last, &mut buf) {
                break;
            }
            let e = CqEntry::decode(&buf);
            if e.is_blank() || e.physical_offset + e.size as i64 <= min_physical {
                n += 1;
            } else {
                break;
            }
        }
        self.files.remove_first(n)?;
        self.correct_min_offset(min_physical);
        Ok(n)
    }

    pub fn flush(&self, least_pages: usize) -> io::Result<u64> {
        self.files.flush(least_pages)
    }

    pub fn destroy(&self) -> io::Result<()> {
        self.files.destroy_all()?;
        if let Some(topic_dir) = self.files.dir().parent() {
            // Only succeeds once the topic's last queue is gone.
            let _ = std::fs::remove_dir(topic_dir);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(p: i64) -> CqEntry {
        CqEntry {
            physical_offset: p,
            size: 10,
            tags_code: 7,
        }
    }

    #[test]
    fn entries_cross_files_and_survive_reload() {
        let dir = tempfile::tempdir().unwrap();
        let cq = ConsumeQueue::load(dir.path(), "T", 0, 60).unwrap();
        for i in 0..7 {
            cq.put(i, e(i * 10)).unwrap();
        }
        cq.put(3, e(999)).unwrap(); // already there: ignored
        assert_eq!(cq.max_offset(), 7);
        assert_eq!(cq.files().snapshot().len(), 3);
        match cq.read(1, 10) {
            CqRead::Entries(v) => assert_eq!(v, vec![e(10), e(20)]),
            CqRead::FileMissing { .. } => panic!(),
        }
        assert_eq!(cq.max_physical_end(), Some(70));
        cq.flush(0).unwrap();
        drop(cq);
        let mut cq = ConsumeQueue::load(dir.path(), "T", 0, 60).unwrap();
        cq.recover().unwrap();
        assert_eq!(cq.max_offset(), 7);
        cq.truncate_physical(45).unwrap();
        assert_eq!(cq.max_offset(), 4);
        cq.truncate_from_physical(20).unwrap();
        assert_eq!(cq.max_offset(), 2);
        cq.put(2, e(20)).unwrap();
        assert_eq!(cq.entry(2), Some(e(20)));
    }

    #[test]
    fn a_queue_starting_late_is_filled_with_blanks_and_min_offset_follows() {
        let dir = tempfile::tempdir().unwrap();
        let cq = ConsumeQueue::load(dir.path(), "T", 1, 60).unwrap();
        cq.put(4, e(40)).unwrap();
        assert_eq!(cq.files().min_offset(), 60);
        assert_eq!(cq.entry(3), Some(CqEntry::BLANK));
        assert_eq!(cq.min_offset(), 4);
        assert_eq!(cq.max_offset(), 5);
        cq.put(5, e(50)).unwrap();
        cq.put(6, e(60)).unwrap();
        cq.correct_min_offset(55);
        assert_eq!(cq.min_offset(), 6);
        assert_eq!(cq.delete_expired(55).unwrap(), 0);
        match cq.read(0, 1) {
            CqRead::FileMissing { next_offset } => assert_eq!(next_offset, 3),
            CqRead::Entries(_) => panic!(),
        }
    }
}
