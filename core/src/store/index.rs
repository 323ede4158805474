//! Query by key: index files under `<root>/index/`, in RocketMQ's hash-slot layout (spec §8.4).
//!
//! File = 40-byte header + `slots` × i32 slot table + `entries` × 20-byte entries. A slot holds
//! the number of the newest entry whose key hashes there; each entry links to the previous one
//! of its slot, so a lookup walks one chain, newest first. Entry 0 is never used (0 = end of
//! chain). Hash collisions are expected: callers check the keys of the messages found.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::protocol::message::java_hash;

use super::mapped_file::{LockedMappedFile, OS_PAGE_BYTES};

pub const INDEX_HEADER_BYTES: usize = 40;
const SLOT_BYTES: usize = 4;
const ENTRY_BYTES: usize = 20;

/// Size of an index file with these counts.
pub fn index_file_bytes(slots: u32, entries: u32) -> usize {
    INDEX_HEADER_BYTES + slots as usize * SLOT_BYTES + entries as usize * ENTRY_BYTES
}

/// |Java hash| of the key, 0 when the absolute value overflows (as RocketMQ does).
pub fn key_hash(key: &str) -> i32 {
    java_hash(key).checked_abs().unwrap_or(0)
}

fn get_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn get_i64(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}
fn put_i32(b: &mut [u8], at: usize, v: i32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}
fn put_i64(b: &mut [u8], at: usize, v: i64) {
    b[at..at + 8].copy_from_slice(&v.to_be_bytes());
}

const BEGIN_TIMESTAMP_POS: usize = 0;
const END_TIMESTAMP_POS: usize = 8;
const BEGIN_PHY_OFFSET_POS: usize = 16;
const END_PHY_OFFSET_POS: usize = 24;
const HASH_SLOT_COUNT_POS: usize = 32;
const INDEX_COUNT_POS: usize = 36;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexHeader {
    pub begin_timestamp_ms: i64,
    pub end_timestamp_ms: i64,
    pub begin_phy_offset: i64,
    pub end_phy_offset: i64,
    pub hash_slot_count: i32,
    pub index_count: i32,
}

fn header(b: &[u8]) -> IndexHeader {
    IndexHeader {
        begin_timestamp_ms: get_i64(b, BEGIN_TIMESTAMP_POS),
        end_timestamp_ms: get_i64(b, END_TIMESTAMP_POS),
        begin_phy_offset: get_i64(b, BEGIN_PHY_OFFSET_POS),
        end_phy_offset: get_i64(b, END_PHY_OFFSET_POS),
        hash_slot_count: get_i32(b, HASH_SLOT_COUNT_POS),
        index_count: get_i32(b, INDEX_COUNT_POS).max(1),
    }
}

/// Entries written less than this far behind the newest stay mapped; older ones are let go of
/// from the broker's page tables (they stay in the page cache) in steps of this much.
pub const INDEX_KEEP_MAPPED_BEHIND_BYTES: usize = 64 * 1024;

pub struct IndexFile {
    map: LockedMappedFile,
    slots: u32,
    entries: u32,
    /// Entry bytes below this were released after they were written (`release_unused`).
    released_upto: AtomicUsize,
    /// A query walked this file since the last `release_unused`.
    queried: AtomicBool,
}

impl IndexFile {
    /// Opens or creates a file; a new one starts where the previous file ended.
    fn open(
        path: &Path,
        slots: u32,
        entries: u32,
        previous_end: Option<(i64, i64)>,
    ) -> std::io::Result<IndexFile> {
        let map = LockedMappedFile::open_or_create(path, index_file_bytes(slots, entries))?;
        map.with(|b| {
            if get_i32(b, INDEX_COUNT_POS) == 0 {
                put_i32(b, INDEX_COUNT_POS, 1);
                if let Some((ts, phy)) = previous_end {
                    for (pos, v) in [
                        (BEGIN_TIMESTAMP_POS, ts),
                        (END_TIMESTAMP_POS, ts),
                        (BEGIN_PHY_OFFSET_POS, phy),
                        (END_PHY_OFFSET_POS, phy),
                    ] {
                        put_i64(b, pos, v);
                    }
                }
            }
        });
        Ok(IndexFile {
            map,
            slots,
            entries,
            released_upto: AtomicUsize::new(0),
            queried: AtomicBool::new(false),
        })
    }

    /// Lets go of pages in this process's page tables: of the whole file when it is no longer
    /// written (`active` false; again after queries), else of the entries more than
    /// `INDEX_KEEP_MAPPED_BEHIND_BYTES` behind the newest (all of them after a query). The slot
    /// table of the active file stays: every key writes a random slot. Returns bytes released.
    fn release_unused(&self, active: bool) -> std::io::Result<usize> {
        let queried =
            self.queried.load(Ordering::Relaxed) && self.queried.swap(false, Ordering::AcqRel);
        let len = self.map.len();
        let done = self.released_upto.load(Ordering::Acquire);
        if !active {
            if queried || done < len {
                self.released_upto.store(len, Ordering::Release);
                self.map.release_pages(0, len)?;
                return Ok(len);
            }
            return Ok(0);
        }
        let entries_start = self.entry_pos(0);
        let end = self.entry_pos(self.header().index_count);
        let keep_from =
            end.saturating_sub(INDEX_KEEP_MAPPED_BEHIND_BYTES) / OS_PAGE_BYTES * OS_PAGE_BYTES;
        let from = if queried {
            entries_start
        } else {
            done.max(entries_start)
        };
        if keep_from <= from || (!queried && keep_from - from < INDEX_KEEP_MAPPED_BEHIND_BYTES) {
            return Ok(0);
        }
        self.map.release_pages(from, keep_from)?;
        self.released_upto.fetch_max(keep_from, Ordering::AcqRel);
        Ok(keep_from - from)
    }

    pub fn header(&self) -> IndexHeader {
        self.map.with(|b| header(b))
    }

    fn slot_pos(&self, hash: i32) -> usize {
        INDEX_HEADER_BYTES + (hash as u32 % self.slots) as usize * SLOT_BYTES
    }

    fn entry_pos(&self, n: i32) -> usize {
        INDEX_HEADER_BYTES + self.slots as usize * SLOT_BYTES + n as usize * ENTRY_BYTES
    }

    /// Adds one key; false when the file is full.
    fn put_key(&self, key: &str, phy_offset: i64, store_timestamp_ms: i64) -> bool {
        let hash = key_hash(key);
        self.map.with(|b| {
            let h = header(b);
            if h.index_count >= self.entries as i32 {
                return false;
            }
            let slot_pos = self.slot_pos(hash);
            let mut head = get_i32(b, slot_pos);
            if head <= 0 || head >= h.index_count {
                head = 0;
            }
            let first = h.index_count <= 1;
            let begin = if first {
                store_timestamp_ms
            } else {
                h.begin_timestamp_ms
            };
            let diff_s = ((store_timestamp_ms - begin) / 1000).clamp(0, i32::MAX as i64) as i32;
            let at = self.entry_pos(h.index_count);
            put_i32(b, at, hash);
            put_i64(b, at + 4, phy_offset);
            put_i32(b, at + 12, diff_s);
            put_i32(b, at + 16, head);
            put_i32(b, slot_pos, h.index_count);
            if first {
                put_i64(b, BEGIN_TIMESTAMP_POS, store_timestamp_ms);
                put_i64(b, BEGIN_PHY_OFFSET_POS, phy_offset);
            }
            if head == 0 {
                put_i32(b, HASH_SLOT_COUNT_POS, h.hash_slot_count + 1);
            }
            put_i32(b, INDEX_COUNT_POS, h.index_count + 1);
            put_i64(b, END_PHY_OFFSET_POS, phy_offset);
            put_i64(b, END_TIMESTAMP_POS, store_timestamp_ms);
            true
        })
    }

    /// Physical offsets of entries whose key hash matches, stored within [begin, end] ms,
    /// newest first, appended to `out` up to `max` in all.
    fn query(&self, key: &str, max: usize, begin_ms: i64, end_ms: i64, out: &mut Vec<i64>) {
        let hash = key_hash(key);
        self.queried.store(true, Ordering::Relaxed);
        self.map.with(|b| {
            let h = header(b);
            let mut n = get_i32(b, self.slot_pos(hash));
            // A chain is at most index_count long; the bound also stops loops in a torn file.
            let mut steps = 0;
            while n > 0 && n < h.index_count && out.len() < max && steps < h.index_count {
                steps += 1;
                let at = self.entry_pos(n);
                let time = h.begin_timestamp_ms + get_i32(b, at + 12).max(0) as i64 * 1000;
                if time < begin_ms {
                    break;
                }
                if get_i32(b, at) == hash && time <= end_ms {
                    out.push(get_i64(b, at + 4));
                }
                let prev = get_i32(b, at + 16);
                if prev >= n {
                    break;
                }
                n = prev;
            }
        })
    }
}

/// Creation time as `yyyyMMddHHmmssSSS` (UTC), the name RocketMQ gives index files.
pub fn index_file_name(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}{:03}",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

fn is_index_file_name(name: &str) -> bool {
    name.len() == 17 && name.bytes().all(|b| b.is_ascii_digit())
}

pub struct IndexService {
    dir: PathBuf,
    slots: u32,
    entries: u32,
    files: RwLock<Vec<Arc<IndexFile>>>,
    write_lock: Mutex<()>,
    /// Messages at or below this physical offset are indexed already (re-dispatch skips them).
    indexed_up_to: AtomicI64,
}

impl IndexService {
    pub fn load(dir: &Path, slots: u32, entries: u32) -> std::io::Result<IndexService> {
        std::fs::create_dir_all(dir)?;
        let mut names: Vec<String> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| is_index_file_name(n))
            .collect();
        names.sort();
        let mut files = Vec::new();
        for name in names {
            match IndexFile::open(&dir.join(&name), slots, entries, None) {
                Ok(f) => files.push(Arc::new(f)),
                Err(e) => {
                    tracing::warn!(file = %name, error = %e, "skipping an index file that does not open")
                }
            }
        }
        let up_to = files
            .last()
            .map(|f| f.header())
            .filter(|h| h.index_count > 1)
            .map(|h| h.end_phy_offset)
            .unwrap_or(-1);
        Ok(IndexService {
            dir: dir.to_path_buf(),
            slots: slots.max(1),
            entries: entries.max(2),
            files: RwLock::new(files),
            write_lock: Mutex::new(()),
            indexed_up_to: AtomicI64::new(up_to),
        })
    }

    fn snapshot(&self) -> Vec<Arc<IndexFile>> {
        self.files.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// After recovery cut the commitlog at `end`: what lies at or after it must be indexed anew.
    pub fn forget_from(&self, end: i64) {
        self.indexed_up_to.fetch_min(end - 1, Ordering::AcqRel);
    }

    fn new_file(&self, files: &mut Vec<Arc<IndexFile>>) -> std::io::Result<Arc<IndexFile>> {
        let previous_end = files
            .last()
            .map(|f| f.header())
            .map(|h| (h.end_timestamp_ms, h.end_phy_offset));
        // Names sort in creation order: never reuse or go below the newest name.
        let mut ms = crate::protocol::now_ms();
        let newest = files
            .last()
            .and_then(|f| f.map.path().file_name()?.to_str().map(str::to_string));
        let mut name = index_file_name(ms);
        while newest.as_deref().is_some_and(|n| name.as_str() <= n) || self.dir.join(&name).exists()
        {
            ms += 1;
            name = index_file_name(ms);
        }
        let f = Arc::new(IndexFile::open(
            &self.dir.join(&name),
            self.slots,
            self.entries,
            previous_end,
        )?);
        if let Some(full) = files.last() {
            // A full file is never written again: make it durable now.
            full.map.flush()?;
        }
        files.push(Arc::clone(&f));
        Ok(f)
    }

    /// Indexes `topic#key` for each key of one message.
    pub fn put(&self, topic: &str, keys: &[&str], phy_offset: i64, store_timestamp_ms: i64) {
        let _guard = self.write_lock.lock().unwrap_or_else(|e| e.into_inner());
        if phy_offset <= self.indexed_up_to.load(Ordering::Acquire) {
            return;
        }
        for key in keys {
            let full_key = format!("{topic}#{key}");
            let mut done = false;
            for _ in 0..2 {
                let last = self
                    .files
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .last()
                    .cloned();
                let file = match last {
                    Some(f) => f,
                    None => match self
                        .new_file(&mut self.files.write().unwrap_or_else(|e| e.into_inner()))
                    {
                        Ok(f) => f,
                        Err(e) => {
                            tracing::error!(error = %e, "could not create an index file");
                            return;
                        }
                    },
                };
                if file.put_key(&full_key, phy_offset, store_timestamp_ms) {
                    done = true;
                    break;
                }
                if let Err(e) =
                    self.new_file(&mut self.files.write().unwrap_or_else(|e| e.into_inner()))
                {
                    tracing::error!(error = %e, "could not create an index file");
                    return;
                }
            }
            if !done {
                tracing::warn!(key = %full_key, "index entry not written");
            }
        }
        self.indexed_up_to.store(phy_offset, Ordering::Release);
    }

    /// Physical offsets of messages indexed under `topic#key` within [begin, end] ms, newest
    /// first, at most `max`.
    pub fn query(
        &self,
        topic: &str,
        key: &str,
        max: usize,
        begin_ms: i64,
        end_ms: i64,
    ) -> Vec<i64> {
        let full_key = format!("{topic}#{key}");
        let mut out = Vec::new();
        let files = self.snapshot();
        for (i, f) in files.iter().enumerate().rev() {
            if out.len() >= max {
                break;
            }
            let h = f.header();
            let overlaps = h.begin_timestamp_ms <= end_ms && h.end_timestamp_ms >= begin_ms;
            if h.index_count > 1 && (overlaps || i + 1 == files.len()) {
                f.query(&full_key, max, begin_ms, end_ms, &mut out);
            }
        }
        out
    }

    /// (store time, physical offset) of the last indexed message.
    pub fn last_update(&self) -> (i64, i64) {
        self.snapshot()
            .last()
            .map(|f| f.header())
            .map(|h| (h.end_timestamp_ms, h.end_phy_offset))
            .unwrap_or((0, 0))
    }

    /// Makes the newest file durable (full files were flushed when they filled up).
    pub fn flush(&self) -> std::io::Result<()> {
        if let Some(f) = self.snapshot().last() {
            f.map.flush()?;
        }
        Ok(())
    }

    /// Lets go of index pages the broker no longer needs mapped (see `IndexFile::release_unused`).
    /// Returns the bytes of the ranges released.
    pub fn release_unused(&self) -> usize {
        let files = self.snapshot();
        let newest = files.len().saturating_sub(1);
        let mut released = 0;
        for (i, f) in files.iter().enumerate() {
            match f.release_unused(i == newest) {
                Ok(n) => released += n,
                Err(e) => {
                    tracing::debug!(path = %f.map.path().display(), error = %e, "could not release index pages")
                }
            }
        }
        released
    }

    /// Deletes files (never the newest) whose every entry points below `min_phy_offset`.
    pub fn delete_expired(&self, min_phy_offset: i64) -> std::io::Result<usize> {
        let mut files = self.files.write().unwrap_or_else(|e| e.into_inner());
        let mut n = 0;
        while files.len() > 1 && files[0].header().end_phy_offset < min_phy_offset {
            let f = files.remove(0);
            f.map.destroy()?;
            n += 1;
        }
        Ok(n)
    }

    #[cfg(test)]
    pub fn file_count(&self) -> usize {
        self.files.read().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_utc_creation_times() {
        assert_eq!(index_file_name(0), "19700101000000000");
        // 2024-02-29T13:45:07.089Z
        assert_eq!(index_file_name(1_709_214_307_089), "20240229134507089");
    }

    #[test]
    fn keys_chain_per_slot_and_roll_to_new_files() {
        let dir = tempfile::tempdir().unwrap();
        let svc = IndexService::load(dir.path(), 4, 5).unwrap();
        // 4 entries per file (entry 0 unused): ten keys need three files.
        for i in 0..10 {
            svc.put(
                "T",
                &[&format!("k{}", i % 3)],
                100 + i,
                1_000_000 + i * 1000,
            );
        }
        assert_eq!(svc.file_count(), 3);
        let k0 = svc.query("T", "k0", 10, 0, i64::MAX);
        assert_eq!(k0, vec![109, 106, 103, 100]);
        assert_eq!(svc.query("T", "k0", 2, 0, i64::MAX), vec![109, 106]);
        assert_eq!(
            svc.query("T", "k1", 10, 1_004_000, 1_007_000),
            vec![107, 104]
        );
        assert_eq!(svc.last_update(), (1_009_000, 109));
        // Re-dispatch of an indexed message is skipped.
        svc.put("T", &["k0"], 105, 1_005_000);
        assert_eq!(svc.query("T", "k0", 10, 0, i64::MAX).len(), 4);
        svc.flush().unwrap();
        drop(svc);
        let svc = IndexService::load(dir.path(), 4, 5).unwrap();
        assert_eq!(svc.query("T", "k2", 10, 0, i64::MAX), vec![108, 105, 102]);
        assert_eq!(svc.delete_expired(105).unwrap(), 1);
        assert_eq!(svc.file_count(), 2);
    }
}
