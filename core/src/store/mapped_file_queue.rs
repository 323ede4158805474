//! A logical stream made of consecutive [`MappedFile`]s of one size in one directory
//! (the commitlog, or one consume queue).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::mapped_file::{offset_from_file_name, MappedFile};

pub struct MappedFileQueue {
    dir: PathBuf,
    file_size_bytes: usize,
    files: RwLock<Vec<Arc<MappedFile>>>,
    /// Stream offset up to which everything is on disk.
    flushed_where: AtomicU64,
}

/// Deletes empty files at the end of the stream. A file is created empty and then sized, so a
/// process killed in between leaves a 0-byte file behind, which holds nothing and would refuse
/// the next open ("is 0 bytes, expected N"). Only trailing ones: files are created only at the
/// end, so an empty file before a non-empty one is damage for the size check to report.
fn drop_interrupted_creations(dir: &Path, found: &mut Vec<(u64, PathBuf)>) -> io::Result<()> {
    let mut removed = false;
    while let Some((_, path)) = found.last() {
        if std::fs::metadata(path)?.len() != 0 {
            break;
        }
        tracing::warn!(path = %path.display(), "deleting an empty store file left by an interrupted file creation");
        std::fs::remove_file(path)?;
        found.pop();
        removed = true;
    }
    if removed {
        super::mapped_file::fsync_dir(dir)?;
    }
    Ok(())
}

impl MappedFileQueue {
    /// Maps every file of the directory (creating the directory if needed), in offset order.
    pub fn load(dir: &Path, file_size_bytes: usize) -> io::Result<MappedFileQueue> {
        std::fs::create_dir_all(dir)?;
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            match name.to_str().and_then(offset_from_file_name) {
                Some(offset) if entry.file_type()?.is_file() => found.push((offset, entry.path())),
                _ => {
                    tracing::debug!(path = %entry.path().display(), "ignoring a file that is not a store file")
                }
            }
        }
        found.sort();
        drop_interrupted_creations(dir, &mut found)?;
        let mut files = Vec::with_capacity(found.len());
        for (offset, path) in found {
            files.push(Arc::new(MappedFile::open(&path, offset, file_size_bytes)?));
        }
        let flushed = files
            .last()
            .map(|f| f.file_from_offset() + file_size_bytes as u64)
            .unwrap_or(0);
        Ok(MappedFileQueue {
            dir: dir.to_path_buf(),
            file_size_bytes,
            files: RwLock::new(files),
            flushed_where: AtomicU64::new(flushed),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn file_size_bytes(&self) -> usize {
        self.file_size_bytes
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<MappedFile>>> {
        self.files.read().unwrap_or_else(|e| e.into_inner())
    }
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Arc<MappedFile>>> {
        self.files.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Exclusive access to the files, for recovery (before the queue is shared).
    pub fn files_mut(&mut self) -> &mut Vec<Arc<MappedFile>> {
        self.files.get_mut().unwrap_or_else(|e| e.into_inner())
    }

    pub fn snapshot(&self) -> Vec<Arc<MappedFile>> {
        self.read().clone()
    }
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }
    pub fn first(&self) -> Option<Arc<MappedFile>> {
        self.read().first().cloned()
    }
    pub fn last(&self) -> Option<Arc<MappedFile>> {
        self.read().last().cloned()
    }

    /// The file holding stream offset `offset`.
    pub fn find(&self, offset: u64) -> Option<Arc<MappedFile>> {
        let files = self.read();
        let idx = files.partition_point(|f| f.file_from_offset() <= offset);
        let f = files.get(idx.checked_sub(1)?)?;
        (offset < f.file_from_offset() + self.file_size_bytes as u64).then(|| Arc::clone(f))
    }

    /// Adds a file at the end; it must start where the last one ends (or anywhere when empty).
    pub fn push(&self, file: Arc<MappedFile>) {
        let mut files = self.write();
        if let Some(last) = files.last() {
            debug_assert_eq!(
                last.file_from_offset() + self.file_size_bytes as u64,
                file.file_from_offset()
            );
        } else {
            self.flushed_where
                .store(file.file_from_offset(), Ordering::Release);
        }
        files.push(file);
    }

    /// Offset of the first byte still stored (0 when empty).
    pub fn min_offset(&self) -> u64 {
        self.first().map(|f| f.file_from_offset()).unwrap_or(0)
    }

    /// Offset after the last published byte (0 when empty).
    pub fn max_offset(&self) -> u64 {
        self.last()
            .map(|f| f.file_from_offset() + f.wrote_pos() as u64)
            .unwrap_or(0)
    }

    pub fn flushed_where(&self) -> u64 {
        self.flushed_where.load(Ordering::Acquire)
    }

    /// Flushes from `flushed_where` on: full files completely, the last one when at least
    /// `least_pages` pages are dirty (0 = always). Returns the new flushed offset.
    pub fn flush(&self, least_pages: usize) -> io::Result<u64> {
        loop {
            let at = self.flushed_where();
            let Some(file) = self
                .find(at)
                .or_else(|| self.first().filter(|f| f.file_from_offset() > at))
            else {
                return Ok(at);
            };
            let pos = file.flush(least_pages)?;
            let reached = file.file_from_offset() + pos as u64;
            self.flushed_where.fetch_max(reached, Ordering::AcqRel);
            if pos < file.file_size_bytes() || reached == at {
                return Ok(self.flushed_where());
            }
        }
    }

    /// Lets go, in this process's page tables, of what lies more than `keep_behind` bytes behind
    /// the end of the stream: written bytes (in steps of at least `min_bytes`) and whatever
    /// readers faulted in since the last call. The bytes stay in the page cache. Returns the
    /// bytes of the ranges released.
    pub fn release_unused(&self, keep_behind: u64, min_bytes: usize) -> usize {
        let files = self.snapshot();
        let Some(last) = files.last() else {
            return 0;
        };
        let keep = (last.file_from_offset() + last.wrote_pos() as u64).saturating_sub(keep_behind);
        let mut released = 0;
        for f in &files {
            let keep_from = keep
                .saturating_sub(f.file_from_offset())
                .min(f.file_size_bytes() as u64) as usize;
            match f.release_unused(keep_from, min_bytes) {
                Ok(n) => released += n,
                Err(e) => {
                    tracing::debug!(path = %f.path().display(), error = %e, "could not release pages of a store file")
                }
            }
        }
        released
    }

    /// Forgets and deletes files that start at or after `offset` (recovery truncation).
    pub fn remove_files_from(&mut self, offset: u64) -> io::Result<()> {
        let files = self.files_mut();
        while files.last().is_some_and(|f| f.file_from_offset() >= offset) {
            let f = files.pop().expect("checked above");
            tracing::info!(path = %f.path().display(), "deleting a store file past the recovered end");
            f.destroy()?;
        }
        let end = offset.min(self.max_offset());
        self.flushed_where.store(end, Ordering::Release);
        Ok(())
    }

    /// Sets `flushed_where` after recovery decided where the stream ends.
    pub fn set_flushed_where(&self, offset: u64) {
        self.flushed_where.store(offset, Ordering::Release);
    }

    /// Forgets and deletes the first `n` files (retention). Never deletes the last file, so the
    /// stream's end offset survives.
    pub fn remove_first(&self, n: usize) -> io::Result<Vec<Arc<MappedFile>>> {
        let mut files = self.write();
        let n = n.min(files.len().saturating_sub(1));
        let removed: Vec<_> = files.drain(..n).collect();
        drop(files);
        for f in &removed {
            f.destroy()?;
        }
        Ok(removed)
    }

    /// Deletes every file and the directory (a deleted topic's queue).
    pub fn destroy_all(&self) -> io::Result<()> {
        let mut files = self.write();
        for f in files.drain(..) {
            f.destroy()?;
        }
        match std::fs::remove_dir(&self.dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::mapped_file::file_name_for_offset;

    #[test]
    fn load_drops_empty_files_left_at_the_end_by_an_interrupted_creation() {
        let dir = tempfile::tempdir().unwrap();
        let name = |o: u64| dir.path().join(file_name_for_offset(o));
        std::fs::write(name(0), [1u8; 64]).unwrap();
        std::fs::write(name(64), []).unwrap();
        std::fs::write(name(128), []).unwrap();
        let q = MappedFileQueue::load(dir.path(), 64).unwrap();
        assert_eq!(q.snapshot().len(), 1);
        assert!(!name(64).exists() && !name(128).exists());
        drop(q);

        // An empty file before a full one is not an interrupted creation: refuse to guess.
        std::fs::write(name(64), []).unwrap();
        std::fs::write(name(128), [1u8; 64]).unwrap();
        assert!(MappedFileQueue::load(dir.path(), 64).is_err());
        assert!(name(64).exists());
    }
}
