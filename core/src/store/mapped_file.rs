//! One fixed-size file of a logical stream (commitlog, consume queue, index), memory-mapped
//! read-write and named by the 20-digit offset at which it starts in its stream.
//!
//! This is the only module of the store with `unsafe`. The discipline that makes it sound:
//!
//! * The mapping is a [`memmap2::MmapRaw`]: we never hold a `&mut [u8]` over the whole file, only
//!   raw pointers, so readers and the writer can touch disjoint parts of it at the same time.
//! * Bytes below `wrote_pos` are *published*: they are never written again while the file is
//!   shared. Readers only ever look below `wrote_pos` (loaded with `Acquire`, stored with
//!   `Release` after the bytes are written).
//! * Appends write only at and after `wrote_pos`, and one `write_lock` serialises them, so no two
//!   `&mut [u8]` overlap and no `&[u8]` covers bytes being written.
//! * Rewriting published bytes (recovery truncating a torn tail) needs `&mut MappedFile` and no
//!   outstanding reader views (checked with the `Arc` count of the mapping).
//! * Readers get [`Bytes`] views that own an `Arc` of the mapping, so a file is unmapped only when
//!   the last view is gone, even if the file was deleted from disk meanwhile.
//! * Letting go of pages (`MADV_DONTNEED`, to keep the broker's RSS small) may happen at any time,
//!   under readers and the writer: on a shared file mapping it changes no byte, the next access
//!   maps the same page-cache page again, and a dirty page stays dirty until written back.
//!
//! What Rust cannot see: another process writing the file under us. The store holds `<root>/lock`
//! so that no other broker does; an operator editing files of a running store gets what they asked
//! for (the bytes change under readers; the CRC check before serving catches corruption).

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use memmap2::{MmapOptions, MmapRaw};

/// Page size the flush thresholds count in (RocketMQ's `OS_PAGE_SIZE`).
pub const OS_PAGE_BYTES: usize = 4096;

/// The name of a file starting at `offset` in its stream.
pub fn file_name_for_offset(offset: u64) -> String {
    format!("{offset:020}")
}

/// The stream offset encoded in a file name, when it is one of ours.
pub fn offset_from_file_name(name: &str) -> Option<u64> {
    if name.len() == 20 && name.bytes().all(|b| b.is_ascii_digit()) {
        name.parse().ok()
    } else {
        None
    }
}

/// The mapping itself, shared by the file and every reader view.
struct MappedRegion {
    mmap: MmapRaw,
    len: usize,
}

impl MappedRegion {
    fn ptr(&self) -> *mut u8 {
        self.mmap.as_mut_ptr()
    }
}

/// A read-only view of published bytes; owns a reference to the mapping so it stays mapped.
struct MappedView {
    region: Arc<MappedRegion>,
    start: usize,
    len: usize,
}

impl AsRef<[u8]> for MappedView {
    fn as_ref(&self) -> &[u8] {
        debug_assert!(self.start + self.len <= self.region.len);
        // SAFETY: the range lies inside the mapping (checked when the view was made), the
        // mapping lives as long as `self.region`, and the bytes were published (below
        // `wrote_pos`), which the module discipline never writes again while views exist.
        unsafe { std::slice::from_raw_parts(self.region.ptr().add(self.start), self.len) }
    }
}

pub struct MappedFile {
    path: PathBuf,
    file_from_offset: u64,
    file_size_bytes: usize,
    region: Arc<MappedRegion>,
    /// End of the published bytes.
    wrote_pos: AtomicUsize,
    /// End of the bytes known to be on disk.
    flushed_pos: AtomicUsize,
    write_lock: Mutex<()>,
    flush_lock: Mutex<()>,
    /// What of the mapping may be in this process's page tables, for [`MappedFile::release_unused`].
    residency: Residency,
}

/// Which parts of a mapping were faulted in since they were last released: the written part
/// up to where it was released, and, for reads, one bit per chunk (1/64 of the file).
struct Residency {
    chunk_bytes: usize,
    /// Chunks that readers touched since the last release, and those of the release before
    /// (a reader may still be copying from a view it took just before a release).
    read_chunks: AtomicU64,
    read_chunks_before: AtomicU64,
    /// Published bytes below this were released after they were written.
    released_upto: AtomicUsize,
}

/// Chunks a file's read bitmap has.
const READ_CHUNKS: usize = 64;

impl Residency {
    fn new(file_size_bytes: usize) -> Residency {
        let chunk = file_size_bytes.div_ceil(READ_CHUNKS).max(1);
        Residency {
            chunk_bytes: chunk.div_ceil(OS_PAGE_BYTES) * OS_PAGE_BYTES,
            read_chunks: AtomicU64::new(0),
            read_chunks_before: AtomicU64::new(0),
            released_upto: AtomicUsize::new(0),
        }
    }

    /// Records a read of [from, to) (to > from). A load, and a store only the first time a
    /// chunk is touched after a release, so readers do not contend on it.
    #[inline]
    fn note_read(&self, from: usize, to: usize) {
        let first = from / self.chunk_bytes;
        let last = (to - 1) / self.chunk_bytes;
        let bits = chunk_bits(first, last);
        if self.read_chunks.load(Ordering::Relaxed) & bits != bits {
            self.read_chunks.fetch_or(bits, Ordering::Relaxed);
        }
    }
}

/// Bits `first..=last` (clamped to the 64 chunks).
fn chunk_bits(first: usize, last: usize) -> u64 {
    let first = first.min(READ_CHUNKS - 1);
    let last = last.min(READ_CHUNKS - 1);
    let upto = if last == READ_CHUNKS - 1 {
        u64::MAX
    } else {
        (1u64 << (last + 1)) - 1
    };
    upto & !((1u64 << first) - 1)
}

impl std::fmt::Debug for MappedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappedFile")
            .field("path", &self.path)
            .field("wrote_pos", &self.wrote_pos())
            .finish()
    }
}

fn map(file: &File, len: usize) -> io::Result<MmapRaw> {
    MmapOptions::new().len(len).map_raw(file)
}

impl MappedFile {
    /// Creates a new zero-filled file of `file_size_bytes` at `dir/<20-digit offset>` and maps it.
    /// Nothing is published yet.
    pub fn create(
        dir: &Path,
        file_from_offset: u64,
        file_size_bytes: usize,
    ) -> io::Result<MappedFile> {
        let path = dir.join(file_name_for_offset(file_from_offset));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        file.set_len(file_size_bytes as u64)?;
        let mmap = map(&file, file_size_bytes)?;
        // A file that is not in its directory after a crash is lost with everything in it.
        fsync_dir(dir)?;
        Ok(Self::from_parts(
            path,
            file_from_offset,
            file_size_bytes,
            mmap,
            0,
        ))
    }

    /// Maps an existing file; everything in it counts as published until recovery truncates it.
    pub fn open(
        path: &Path,
        file_from_offset: u64,
        file_size_bytes: usize,
    ) -> io::Result<MappedFile> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        let actual = file.metadata()?.len();
        if actual != file_size_bytes as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} is {actual} bytes, expected {file_size_bytes} (was the file size setting changed?)",
                    path.display()
                ),
            ));
        }
        let mmap = map(&file, file_size_bytes)?;
        let m = Self::from_parts(
            path.to_path_buf(),
            file_from_offset,
            file_size_bytes,
            mmap,
            file_size_bytes,
        );
        m.flushed_pos.store(file_size_bytes, Ordering::Release);
        Ok(m)
    }

    fn from_parts(
        path: PathBuf,
        from: u64,
        size: usize,
        mmap: MmapRaw,
        wrote: usize,
    ) -> MappedFile {
        MappedFile {
            path,
            file_from_offset: from,
            file_size_bytes: size,
            region: Arc::new(MappedRegion { mmap, len: size }),
            wrote_pos: AtomicUsize::new(wrote),
            flushed_pos: AtomicUsize::new(wrote),
            write_lock: Mutex::new(()),
            flush_lock: Mutex::new(()),
            residency: Residency::new(size),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn file_from_offset(&self) -> u64 {
        self.file_from_offset
    }
    pub fn file_size_bytes(&self) -> usize {
        self.file_size_bytes
    }
    pub fn wrote_pos(&self) -> usize {
        self.wrote_pos.load(Ordering::Acquire)
    }
    pub fn flushed_pos(&self) -> usize {
        self.flushed_pos.load(Ordering::Acquire)
    }
    pub fn is_full(&self) -> bool {
        self.wrote_pos() >= self.file_size_bytes
    }
    pub fn remaining_bytes(&self) -> usize {
        self.file_size_bytes - self.wrote_pos()
    }

    /// Writes `len` bytes at the end of the published part with `fill`, then publishes them.
    /// `fill` must write the whole slice. Returns the file position written at, or `None` when
    /// the bytes do not fit.
    pub fn append(&self, len: usize, fill: impl FnOnce(&mut [u8])) -> Option<usize> {
        let _guard = self.write_lock.lock().unwrap_or_else(|e| e.into_inner());
        let pos = self.wrote_pos.load(Ordering::Acquire);
        if len > self.file_size_bytes - pos {
            return None;
        }
        // SAFETY: [pos, pos+len) is inside the mapping and at/after `wrote_pos`, so no reader
        // view covers it; `write_lock` makes this the only `&mut` over it. It is dropped before
        // the range is published below.
        let dst = unsafe { std::slice::from_raw_parts_mut(self.region.ptr().add(pos), len) };
        fill(dst);
        self.wrote_pos.store(pos + len, Ordering::Release);
        Some(pos)
    }

    /// Marks the file full without writing (the rest of it is left as is).
    pub fn mark_full(&self) {
        let _guard = self.write_lock.lock().unwrap_or_else(|e| e.into_inner());
        self.wrote_pos
            .store(self.file_size_bytes, Ordering::Release);
    }

    /// A zero-copy view of published bytes [pos, pos+len) that keeps the mapping alive.
    pub fn view(&self, pos: usize, len: usize) -> Option<Bytes> {
        let end = pos.checked_add(len)?;
        if end > self.wrote_pos() {
            return None;
        }
        if len > 0 {
            self.residency.note_read(pos, end);
        }
        Some(Bytes::from_owner(MappedView {
            region: Arc::clone(&self.region),
            start: pos,
            len,
        }))
    }

    /// Copies published bytes at `pos` into `dst`; false if they are not all published.
    pub fn read_into(&self, pos: usize, dst: &mut [u8]) -> bool {
        let Some(end) = pos.checked_add(dst.len()) else {
            return false;
        };
        if end > self.wrote_pos() {
            return false;
        }
        if end > pos {
            self.residency.note_read(pos, end);
        }
        // SAFETY: the source range is inside the mapping and published (never written while
        // shared); `dst` is a distinct Rust buffer, so the ranges cannot overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(self.region.ptr().add(pos), dst.as_mut_ptr(), dst.len())
        };
        true
    }

    pub fn read_i32(&self, pos: usize) -> Option<i32> {
        let mut b = [0u8; 4];
        self.read_into(pos, &mut b).then(|| i32::from_be_bytes(b))
    }

    pub fn read_i64(&self, pos: usize) -> Option<i64> {
        let mut b = [0u8; 8];
        self.read_into(pos, &mut b).then(|| i64::from_be_bytes(b))
    }

    /// Writes dirty bytes to disk when at least `least_pages` pages are dirty (0 = whatever is
    /// dirty). Returns the new flushed position.
    pub fn flush(&self, least_pages: usize) -> io::Result<usize> {
        let _guard = self.flush_lock.lock().unwrap_or_else(|e| e.into_inner());
        let flushed = self.flushed_pos();
        let wrote = self.wrote_pos();
        if wrote <= flushed {
            return Ok(flushed);
        }
        let dirty_pages = wrote / OS_PAGE_BYTES - flushed / OS_PAGE_BYTES;
        // A full file is always flushed so that the flusher can move on to the next one.
        if least_pages > 0 && dirty_pages < least_pages && wrote < self.file_size_bytes {
            return Ok(flushed);
        }
        // msync does not look at Rust references; memmap2 aligns the range to pages.
        self.region.mmap.flush_range(flushed, wrote - flushed)?;
        self.flushed_pos.store(wrote, Ordering::Release);
        Ok(wrote)
    }

    /// The byte ranges at or after `pos` that may hold data; the whole rest of the file when the
    /// file system cannot tell.
    fn data_segments(&self, pos: usize) -> Vec<(usize, usize)> {
        use rustix::fs::SeekFrom;
        let size = self.file_size_bytes;
        let whole = vec![(pos, size)];
        let Ok(file) = File::open(&self.path) else {
            return whole;
        };
        let mut segments = Vec::new();
        let mut at = pos as u64;
        while (at as usize) < size {
            let data = match rustix::fs::seek(&file, SeekFrom::Data(at)) {
                Ok(d) => d,
                Err(rustix::io::Errno::NXIO) => break,
                Err(_) => return whole,
            };
            if data as usize >= size {
                break;
            }
            let hole = match rustix::fs::seek(&file, SeekFrom::Hole(data)) {
                Ok(h) => h,
                Err(_) => return whole,
            };
            let end = (hole as usize).min(size);
            segments.push((data as usize, end));
            if hole <= data {
                break;
            }
            at = hole;
        }
        segments
    }

    /// Zeroes the pages in `[from, to)` that hold anything but zeros.
    fn zero_nonzero_pages(&mut self, from: usize, to: usize) {
        let mut page_start = from;
        while page_start < to {
            let page_end = (((page_start / OS_PAGE_BYTES) + 1) * OS_PAGE_BYTES).min(to);
            // SAFETY: callers hold `&mut self` with a strong count of 1 (checked in
            // `truncate_and_zero`), so no view and no other reference to this mapping exists
            // and this is the only access to these bytes.
            let bytes = unsafe {
                std::slice::from_raw_parts_mut(
                    self.region.ptr().add(page_start),
                    page_end - page_start,
                )
            };
            // Only dirty pages that hold something: zero pages of a sparse file stay unwritten.
            if bytes.iter().any(|&b| b != 0) {
                bytes.fill(0);
            }
            page_start = page_end;
        }
    }

    /// Sets the published end to `pos` and zeroes every non-zero byte after it, so that stale
    /// bytes of a torn write can never be read as records later. Needs exclusive access.
    pub fn truncate_and_zero(&mut self, pos: usize) -> io::Result<()> {
        assert!(pos <= self.file_size_bytes);
        if Arc::strong_count(&self.region) != 1 {
            return Err(io::Error::other(format!(
                "{} cannot be truncated while readers hold views of it",
                self.path.display()
            )));
        }
        // Only the file's data segments can hold stale bytes; holes read as zeros. Walking the
        // segments (SEEK_DATA / SEEK_HOLE) keeps crash recovery from touching every page of a
        // mostly empty 1 GiB file.
        for (from, to) in self.data_segments(pos) {
            self.zero_nonzero_pages(from, to);
        }
        self.region
            .mmap
            .flush_range(pos, self.file_size_bytes - pos)?;
        *self.wrote_pos.get_mut() = pos;
        *self.flushed_pos.get_mut() = pos;
        let released = self.residency.released_upto.get_mut();
        *released = (*released).min(pos);
        Ok(())
    }

    /// Sets the published end without touching the bytes (after a clean end was found).
    pub fn set_wrote_pos(&mut self, pos: usize) {
        assert!(pos <= self.file_size_bytes);
        *self.wrote_pos.get_mut() = pos;
        *self.flushed_pos.get_mut() = pos;
        let released = self.residency.released_upto.get_mut();
        *released = (*released).min(pos);
    }

    /// Touches every page so that later appends do not page-fault (`warmMapedFileEnable`).
    /// Only before the file is shared and only over unpublished (zero) bytes.
    pub fn warm(&mut self) {
        let start = self.wrote_pos();
        let mut pos = start.div_ceil(OS_PAGE_BYTES) * OS_PAGE_BYTES;
        while pos < self.file_size_bytes {
            // SAFETY: `&mut self` means the file is not shared yet; the byte is unpublished and
            // inside the mapping. A volatile write so the touch is not optimised away.
            unsafe { std::ptr::write_volatile(self.region.ptr().add(pos), 0) };
            pos += OS_PAGE_BYTES;
        }
    }

    /// Faults in the pages of [from, from+len) writable ahead of the appender (Linux
    /// `MADV_POPULATE_WRITE`, 5.14+), so that appends copy into memory instead of taking a page
    /// fault (zero-fill, block reservation) every 4 KiB. No byte changes: it only fills page
    /// tables. Returns `Ok(false)` where the kernel does not support it.
    pub fn prefault(&self, from: usize, len: usize) -> io::Result<bool> {
        let start = from / OS_PAGE_BYTES * OS_PAGE_BYTES;
        let end = from.saturating_add(len).min(self.file_size_bytes);
        if start >= end {
            return Ok(true);
        }
        #[cfg(target_os = "linux")]
        {
            match self
                .region
                .mmap
                .advise_range(memmap2::Advice::PopulateWrite, start, end - start)
            {
                Ok(()) => Ok(true),
                Err(e) if e.raw_os_error() == Some(22) => Ok(false), // EINVAL: before 5.14
                Err(e) => Err(e),
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            Ok(false)
        }
    }

    /// Lets go of the pages of [from, to) in this process's page tables (`MADV_DONTNEED`), so
    /// that bytes written long ago stop counting in the broker's RSS. The data stays in the
    /// page cache (dirty pages are still written back) and a later read faults it in again.
    pub fn release_pages(&self, from: usize, to: usize) -> io::Result<()> {
        release_mapped_pages(&self.region.mmap, self.file_size_bytes, from, to)
    }

    /// Where the written part has been released up to ([`MappedFile::release_written`]).
    pub fn released_upto(&self) -> usize {
        self.residency.released_upto.load(Ordering::Acquire)
    }

    /// Releases the published bytes below `upto` (rounded down to a page) that were not
    /// released yet, once at least `min_bytes` of them have accumulated (a full file's rest
    /// always goes). Returns the bytes released.
    pub fn release_written(&self, upto: usize, min_bytes: usize) -> io::Result<usize> {
        let wrote = self.wrote_pos();
        let upto = if upto >= wrote && wrote == self.file_size_bytes {
            wrote
        } else {
            upto.min(wrote) / OS_PAGE_BYTES * OS_PAGE_BYTES
        };
        let done = self.released_upto();
        if upto <= done || (upto - done < min_bytes && upto < self.file_size_bytes) {
            return Ok(0);
        }
        // Two releasers (the allocator and the trimmer) may race: each range goes once.
        let done = self
            .residency
            .released_upto
            .fetch_max(upto, Ordering::AcqRel);
        if upto <= done {
            return Ok(0);
        }
        self.release_pages(done, upto)?;
        Ok(upto - done)
    }

    /// Releases the chunks readers touched since the last call (and the call before), except
    /// what lies at or after `keep_from` (the part writers and close readers are still using).
    /// Returns the bytes of the ranges released (mapped or not).
    pub fn release_read(&self, keep_from: usize) -> io::Result<usize> {
        if self.residency.read_chunks.load(Ordering::Relaxed) == 0
            && self.residency.read_chunks_before.load(Ordering::Relaxed) == 0
        {
            return Ok(0);
        }
        let now = self.residency.read_chunks.swap(0, Ordering::AcqRel);
        let before = self
            .residency
            .read_chunks_before
            .swap(now, Ordering::AcqRel);
        let mut bits = now | before;
        let chunk = self.residency.chunk_bytes;
        let mut released = 0;
        while bits != 0 {
            // One madvise per run of set bits.
            let first = bits.trailing_zeros() as usize;
            let run = (bits >> first).trailing_ones() as usize;
            let last = first + run - 1;
            bits &= !chunk_bits(first, last);
            let from = first * chunk;
            let to = ((last + 1) * chunk)
                .min(self.file_size_bytes)
                .min(keep_from);
            if from < to {
                self.release_pages(from, to)?;
                released += to - from;
            }
        }
        Ok(released)
    }

    /// Both of the above: the written part below `keep_from` (batched by `min_bytes`) and
    /// whatever readers touched below it.
    pub fn release_unused(&self, keep_from: usize, min_bytes: usize) -> io::Result<usize> {
        Ok(self.release_written(keep_from, min_bytes)? + self.release_read(keep_from)?)
    }

    /// Removes the file from disk. Readers holding views keep the mapping until they drop them.
    pub fn destroy(&self) -> io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Last modification time of the file on disk, in ms since the epoch.
    pub fn last_modified_ms(&self) -> i64 {
        std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// A mapped file whose bytes are rewritten in place (the index: slot table and header change with
/// every key), so the append-and-publish discipline of [`MappedFile`] does not fit. Every read
/// and write goes through one mutex instead, and no view ever escapes it.
pub struct LockedMappedFile {
    path: PathBuf,
    mmap: MmapRaw,
    len: usize,
    lock: Mutex<()>,
}

impl LockedMappedFile {
    /// Maps `path`, creating it zero-filled with `len` bytes when it does not exist.
    pub fn open_or_create(path: &Path, len: usize) -> io::Result<LockedMappedFile> {
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let actual = file.metadata()?.len();
        if !existed || actual == 0 {
            file.set_len(len as u64)?;
            if let Some(dir) = path.parent() {
                fsync_dir(dir)?;
            }
        } else if actual != len as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is {actual} bytes, expected {len}", path.display()),
            ));
        }
        let mmap = map(&file, len)?;
        Ok(LockedMappedFile {
            path: path.to_path_buf(),
            mmap,
            len,
            lock: Mutex::new(()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` over the whole mapping, exclusively.
    pub fn with<R>(&self, f: impl FnOnce(&mut [u8]) -> R) -> R {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the mutex makes this the only reference to the mapping while it lives (no
        // other method hands out pointers or slices), and the mapping covers `len` bytes.
        let bytes = unsafe { std::slice::from_raw_parts_mut(self.mmap.as_mut_ptr(), self.len) };
        f(bytes)
    }

    pub fn flush(&self) -> io::Result<()> {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.mmap.flush()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Lets go of the pages of [from, to) (rounded inwards to pages; `to` at or past the end
    /// means through the end) in this process's page tables, as [`MappedFile::release_pages`].
    /// Needs no lock: no byte changes.
    pub fn release_pages(&self, from: usize, to: usize) -> io::Result<()> {
        release_mapped_pages(&self.mmap, self.len, from, to)
    }

    pub fn destroy(&self) -> io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// Makes a directory entry (a created, renamed or removed file) durable.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Drops the page-table entries of [from, to) of a MAP_SHARED file mapping of `len` bytes,
/// rounded inwards to pages; `to` at or past `len` means through the end, whose last partial
/// page goes too (the kernel rounds the length up to a page, and nothing follows the file in
/// its mapping). The data stays in the page cache (dirty pages are still written back) and a
/// later access faults it in again.
fn release_mapped_pages(mmap: &MmapRaw, len: usize, from: usize, to: usize) -> io::Result<()> {
    let start = from.div_ceil(OS_PAGE_BYTES) * OS_PAGE_BYTES;
    let end = if to >= len {
        len
    } else {
        to / OS_PAGE_BYTES * OS_PAGE_BYTES
    };
    if start >= end {
        return Ok(());
    }
    #[cfg(unix)]
    {
        // SAFETY: the mapping is MAP_SHARED over a file, so dropping page-table entries changes
        // no byte anyone can see: the next access maps the same page-cache page again (a dirty
        // page keeps its dirty state), and slices handed out meanwhile still read and write the
        // same bytes. No reference is invalidated.
        unsafe {
            mmap.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
        }
    }
    #[cfg(not(unix))]
    {
        let _ = mmap;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_twenty_digit_offsets() {
        assert_eq!(file_name_for_offset(1073741824), "00000000001073741824");
        assert_eq!(
            offset_from_file_name("00000000001073741824"),
            Some(1073741824)
        );
        assert_eq!(offset_from_file_name("abc"), None);
        assert_eq!(offset_from_file_name("0000000000107374182x"), None);
    }

    #[test]
    fn views_outlive_deletion_and_see_only_published_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let f = MappedFile::create(dir.path(), 4096, 4096).unwrap();
        assert!(f.view(0, 1).is_none());
        let pos = f.append(5, |b| b.copy_from_slice(b"hello")).unwrap();
        assert_eq!(pos, 0);
        let v = f.view(0, 5).unwrap();
        assert!(f.view(0, 6).is_none());
        f.destroy().unwrap();
        drop(f);
        assert_eq!(&v[..], b"hello");
    }

    #[test]
    fn append_refuses_what_does_not_fit_and_flush_persists() {
        let dir = tempfile::tempdir().unwrap();
        let f = MappedFile::create(dir.path(), 0, 10).unwrap();
        assert!(f.append(11, |_| ()).is_none());
        f.append(10, |b| b.fill(7)).unwrap();
        assert!(f.is_full());
        assert_eq!(f.flush(4).unwrap(), 10);
        drop(f);
        let bytes = std::fs::read(dir.path().join(file_name_for_offset(0))).unwrap();
        assert_eq!(bytes, vec![7u8; 10]);
    }

    #[test]
    fn truncate_zeroes_the_tail_but_not_while_viewed() {
        let dir = tempfile::tempdir().unwrap();
        let f = MappedFile::create(dir.path(), 0, 8192).unwrap();
        f.append(6000, |b| b.fill(1)).unwrap();
        drop(f);
        let mut f = MappedFile::open(&dir.path().join(file_name_for_offset(0)), 0, 8192).unwrap();
        let v = f.view(0, 10).unwrap();
        assert!(f.truncate_and_zero(100).is_err());
        drop(v);
        f.truncate_and_zero(100).unwrap();
        assert_eq!(f.wrote_pos(), 100);
        drop(f);
        let bytes = std::fs::read(dir.path().join(file_name_for_offset(0))).unwrap();
        assert!(bytes[..100].iter().all(|&b| b == 1));
        assert!(bytes[100..].iter().all(|&b| b == 0));
    }

    #[test]
    fn chunk_bits_cover_the_chunks_of_a_range() {
        assert_eq!(chunk_bits(0, 0), 1);
        assert_eq!(chunk_bits(1, 3), 0b1110);
        assert_eq!(chunk_bits(63, 63), 1 << 63);
        assert_eq!(chunk_bits(0, 63), u64::MAX);
        assert_eq!(chunk_bits(62, 100), 0b11 << 62);
    }

    #[test]
    fn written_bytes_are_released_once_in_steps_and_a_full_file_entirely() {
        let dir = tempfile::tempdir().unwrap();
        let size = 1 << 20;
        let f = MappedFile::create(dir.path(), 0, size).unwrap();
        f.append(100_000, |b| b.fill(3)).unwrap();
        let step = 64 * 1024;
        // 50 000 rounds down to 12 pages: less than a step.
        assert_eq!(f.release_written(50_000, step).unwrap(), 0);
        assert_eq!(f.release_written(90_000, step).unwrap(), 21 * 4096);
        assert_eq!(f.released_upto(), 21 * 4096);
        assert_eq!(f.release_written(90_000, 0).unwrap(), 0);
        // Never past what is written.
        assert_eq!(f.release_written(usize::MAX, 0).unwrap(), 3 * 4096);
        f.append(size - 100_000, |b| b.fill(4)).unwrap();
        // A full file's rest goes whatever the step.
        assert_eq!(
            f.release_written(usize::MAX, usize::MAX).unwrap(),
            size - 24 * 4096
        );
        assert_eq!(f.released_upto(), size);
        let mut back = vec![0u8; size];
        assert!(f.read_into(0, &mut back));
        assert!(back[..100_000].iter().all(|&b| b == 3));
        assert!(back[100_000..].iter().all(|&b| b == 4));
    }

    /// Resident KiB of the mapping of `path` in this process (`/proc/self/smaps`).
    #[cfg(target_os = "linux")]
    fn resident_kib(path: &Path) -> u64 {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let name = path.to_str().unwrap();
        let mut in_it = false;
        let mut kib = 0;
        for line in smaps.lines() {
            if line.contains('-') && line.split_whitespace().count() >= 5 {
                in_it = line.ends_with(name);
            } else if in_it {
                if let Some(v) = line.strip_prefix("Rss:") {
                    kib += v
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .unwrap();
                }
            }
        }
        kib
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn released_pages_leave_the_rss_and_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let size = 4 << 20;
        let f = MappedFile::create(dir.path(), 0, size).unwrap();
        f.append(size, |b| {
            for (i, x) in b.iter_mut().enumerate() {
                *x = (i % 251) as u8;
            }
        })
        .unwrap();
        let path = dir.path().join(file_name_for_offset(0));
        let before = resident_kib(&path);
        assert!(
            before >= 3 << 10,
            "written pages are resident: {before} KiB"
        );
        // Unflushed (dirty) pages too: their content must survive.
        f.release_pages(1000, size).unwrap();
        let after = resident_kib(&path);
        assert!(after <= 8, "released: {after} KiB left of {before}");
        let mut back = vec![0u8; size];
        assert!(f.read_into(0, &mut back));
        assert!(back.iter().enumerate().all(|(i, &x)| x == (i % 251) as u8));
        assert_eq!(f.flush(0).unwrap(), size);
        drop(f);
        let on_disk = std::fs::read(&path).unwrap();
        assert!(on_disk
            .iter()
            .enumerate()
            .all(|(i, &x)| x == (i % 251) as u8));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn chunks_readers_touched_are_released_except_what_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let size = 4 << 20; // 64 chunks of 64 KiB
        let chunk = 64 * 1024;
        let f = MappedFile::create(dir.path(), 0, size).unwrap();
        f.append(size, |b| {
            for (i, x) in b.iter_mut().enumerate() {
                *x = (i % 253) as u8;
            }
        })
        .unwrap();
        let path = dir.path().join(file_name_for_offset(0));
        assert_eq!(f.release_written(size, 0).unwrap(), size);
        assert!(resident_kib(&path) <= 8);
        assert_eq!(f.release_read(size).unwrap(), 0, "nothing read yet");

        let mut back = vec![0u8; size];
        assert!(f.read_into(0, &mut back));
        assert!(resident_kib(&path) >= 3 << 10, "read pages are resident");
        // Everything was read; the last 3 MiB are kept.
        assert_eq!(f.release_read(1 << 20).unwrap(), 1 << 20);
        let kept = resident_kib(&path);
        assert!(
            ((3 << 10) - 8..=(3 << 10) + 8).contains(&kept),
            "{kept} KiB"
        );
        // The chunks of the last release go once more (a reader may have used a view late).
        assert_eq!(f.release_read(size).unwrap(), size);
        assert!(resident_kib(&path) <= 8);
        assert_eq!(f.release_read(size).unwrap(), 0);

        // A view marks the chunks it covers, across a chunk boundary too.
        let v = f.view(3 * chunk - 10, 20).unwrap();
        assert_eq!(v[..], back[3 * chunk - 10..3 * chunk + 10]);
        assert_eq!(f.release_read(size).unwrap(), 2 * chunk);
        assert!(f.read_into(0, &mut back));
        assert!(back.iter().enumerate().all(|(i, &x)| x == (i % 253) as u8));
    }
}
