//! Keeping the broker's resident set small. Every store file is memory-mapped, and a page of a
//! mapping counts in the process's RSS from the moment it is touched until it is unmapped, even
//! though the bytes live in the page cache either way. So pages the broker no longer needs are
//! let go of in its page tables (`MADV_DONTNEED` on a shared file mapping: no byte changes,
//! dirty pages stay dirty in the page cache and are written back as usual; the next access
//! maps the same page again):
//!
//! * commitlog: the written part more than `KEEP_MAPPED_BEHIND_BYTES` behind the append position
//!   (the allocator thread does this as appends go on), and whatever lagging readers faulted in
//!   there (this thread, every `TRIM_INTERVAL_MS`);
//! * consume queues: the same, with a window of `CQ_KEEP_MAPPED_BEHIND_BYTES`, every
//!   `LOGICS_EVERY_PASSES` passes (they grow by 20 bytes a message);
//! * index: entries behind the newest (the active file's slot table stays: every key writes a
//!   random slot), files no longer written, and what queries walked.
//!
//! Readers mark what they touch in a 64-bit chunk map per file (`MappedFile::release_read`),
//! which costs them a load per read.

use std::time::Duration;

use super::commit_log::{KEEP_MAPPED_BEHIND_BYTES, RELEASE_STEP_BYTES};
use super::default_message_store::DefaultMessageStore;

/// How often the trimmer looks at the commitlog.
pub const TRIM_INTERVAL_MS: u64 = 100;
/// Consume queues and the index are trimmed every this many passes.
pub const LOGICS_EVERY_PASSES: u64 = 10;
/// Consume queue bytes this close to a queue's end stay mapped; older ones are released in
/// steps of this much.
pub const CQ_KEEP_MAPPED_BEHIND_BYTES: u64 = 64 * 1024;

/// Bytes of the ranges one pass released, by kind (mapped or not: a range that was not faulted
/// in costs only the page-table walk).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Released {
    pub commit_log: usize,
    pub consume_queues: usize,
    pub index: usize,
}

/// One pass: the commitlog, and with `logics` the consume queues and the index too.
pub fn release_unused(store: &DefaultMessageStore, logics: bool) -> Released {
    let mut r = Released {
        commit_log: store
            .commit_log
            .files()
            .release_unused(KEEP_MAPPED_BEHIND_BYTES as u64, RELEASE_STEP_BYTES),
        ..Released::default()
    };
    if logics {
        for q in store.all_queues() {
            r.consume_queues += q.files().release_unused(
                CQ_KEEP_MAPPED_BEHIND_BYTES,
                CQ_KEEP_MAPPED_BEHIND_BYTES as usize,
            );
        }
        r.index = store.index.release_unused();
    }
    r
}

/// The page trimmer thread.
pub fn run_page_trimmer(store: &DefaultMessageStore) {
    let interval = Duration::from_millis(TRIM_INTERVAL_MS);
    let mut pass: u64 = 0;
    while !store.stopper.wait(interval) {
        release_unused(store, pass % LOGICS_EVERY_PASSES == 0);
        pass += 1;
    }
}
