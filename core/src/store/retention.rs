//! File retention and the disk guard (spec §8.10; RocketMQ's CleanCommitLogService and
//! CleanConsumeQueueService).
//!
//! Every `clean_resource_interval_ms` the cleaner reads how full the disk is and:
//! * past `disk_space_warning_level_ratio_percent` (90): marks the disk full, so puts are refused
//!   with SERVICE_NOT_AVAILABLE until a later check finds it below again;
//! * at a `delete_when` hour, or past `disk_max_used_space_ratio_percent` (75), or when asked
//!   manually: deletes commitlog files older than `file_reserved_time_hours`, oldest first;
//! * past `disk_space_clean_forcibly_ratio_percent` (85): deletes the oldest files even if they
//!   have not expired, until usage is below that ratio again.
//!
//! The file being written is never deleted. Consume queue and index files follow: a file goes
//! once every entry in it points below the commitlog's new first offset.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::default_message_store::DefaultMessageStore;

/// Most commitlog files deleted per cleaner pass (RocketMQ's DELETE_FILES_BATCH_MAX).
pub const DELETE_FILES_BATCH_MAX: usize = 10;
/// Manual delete requests stay in force for this many passes (RocketMQ's MAX_MANUAL_DELETE_FILE_TIMES).
pub const MANUAL_DELETE_PASSES: u32 = 20;

/// How full a file system is. Behind a trait so tests can make a disk "full" while real files
/// are deleted for real.
pub trait DiskUsage: Send + Sync {
    /// Used share of the file system holding `path`, in percent (0.0 ..= 100.0).
    fn used_ratio_percent(&self, path: &Path) -> std::io::Result<f64>;
}

/// The file system's own figures (statvfs): blocks not free over all blocks, as Java's
/// `(getTotalSpace() - getFreeSpace()) / getTotalSpace()`.
pub struct FileSystemUsage;

impl DiskUsage for FileSystemUsage {
    fn used_ratio_percent(&self, path: &Path) -> std::io::Result<f64> {
        let st = rustix::fs::statvfs(path)?;
        if st.f_blocks == 0 {
            return Ok(0.0);
        }
        Ok((st.f_blocks - st.f_bfree.min(st.f_blocks)) as f64 * 100.0 / st.f_blocks as f64)
    }
}

/// Whether `hour` (0..=23) is one of the `;`-separated hours of `delete_when`.
pub fn is_delete_hour(delete_when: &str, hour: u32) -> bool {
    delete_when
        .split(';')
        .filter_map(|h| h.trim().parse::<u32>().ok())
        .any(|h| h == hour)
}

/// Hour of the day (UTC) of a time in ms since the epoch.
pub fn utc_hour(ms: i64) -> u32 {
    (ms.rem_euclid(86_400_000) / 3_600_000) as u32
}

fn used_ratio(store: &DefaultMessageStore) -> f64 {
    let usage = store
        .disk_usage
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let commit_log_dir = DefaultMessageStore::commit_log_dir(&store.config);
    let mut worst = 0.0f64;
    for path in [commit_log_dir.as_path(), store.root()] {
        match usage.used_ratio_percent(path) {
            Ok(r) => worst = worst.max(r),
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot read disk usage"),
        }
    }
    worst
}

/// One pass of the cleaner. Returns how many commitlog files were deleted.
pub fn clean_once(store: &DefaultMessageStore) -> usize {
    let cfg = &store.config;
    let ratio = used_ratio(store);
    let full = ratio > cfg.disk_space_warning_level_ratio_percent as f64;
    let was_full = store.disk_full.swap(full, Ordering::AcqRel);
    if full && !was_full {
        tracing::error!(used_percent = ratio, dir = %DefaultMessageStore::commit_log_dir(cfg).display(),
            "disk nearly full: refusing new messages");
    } else if !full && was_full {
        tracing::info!(
            used_percent = ratio,
            "disk space back: accepting messages again"
        );
    }

    let now = crate::protocol::now_ms();
    let time_up = is_delete_hour(&cfg.delete_when, utc_hour(now));
    let space_full = ratio > cfg.disk_max_used_space_ratio_percent as f64;
    let forcibly = cfg.clean_file_forcibly_enable
        && ratio > cfg.disk_space_clean_forcibly_ratio_percent as f64;
    let manual = store
        .manual_delete_passes
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
        .is_ok();
    let mut deleted = 0;
    if time_up || space_full || forcibly || manual {
        let reserved_ms = cfg.file_reserved_time_hours as i64 * 3_600_000;
        let files = store.commit_log.files().snapshot();
        // Never the last file: it is being written and holds the log's end offset.
        for f in files.iter().take(files.len().saturating_sub(1)) {
            if deleted >= DELETE_FILES_BATCH_MAX {
                break;
            }
            let expired = f.last_modified_ms() + reserved_ms <= now;
            let force_now =
                forcibly && used_ratio(store) > cfg.disk_space_clean_forcibly_ratio_percent as f64;
            if !expired && !force_now {
                // Files are in age order: nothing newer is expired either.
                break;
            }
            match store.commit_log.files().remove_first(1) {
                Ok(removed) if !removed.is_empty() => {
                    tracing::info!(path = %f.path().display(), expired, forcibly = force_now, "deleted a commitlog file");
                    deleted += 1;
                }
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(path = %f.path().display(), error = %e, "could not delete a commitlog file");
                    break;
                }
            }
            if cfg.delete_commit_log_files_interval_ms > 0 {
                std::thread::sleep(Duration::from_millis(
                    cfg.delete_commit_log_files_interval_ms,
                ));
            }
        }
    }
    clean_logics(store);
    deleted
}

/// Deletes consume queue and index files that only point below the commitlog's first offset,
/// and moves queue min offsets up to it.
pub fn clean_logics(store: &DefaultMessageStore) {
    let min_phys = store.commit_log.min_offset();
    for q in store.all_queues() {
        if let Err(e) = q.delete_expired(min_phys) {
            tracing::warn!(topic = %q.topic(), queue_id = q.queue_id(), error = %e, "could not delete consume queue files");
        }
    }
    if let Err(e) = store.index.delete_expired(min_phys) {
        tracing::warn!(error = %e, "could not delete index files");
    }
}

/// The cleaner thread's loop.
pub fn run_cleaner(store: &DefaultMessageStore) {
    let interval = Duration::from_millis(store.config.clean_resource_interval_ms.max(1));
    while !store.stopper.wait(interval) {
        clean_once(store);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_when_lists_hours() {
        assert!(is_delete_hour("04", 4));
        assert!(is_delete_hour("01;04; 23", 23));
        assert!(!is_delete_hour("04", 5));
        assert!(!is_delete_hour("", 0));
        assert_eq!(utc_hour(4 * 3_600_000 + 59_000), 4);
    }

    #[test]
    fn file_system_usage_is_a_percentage() {
        let r = FileSystemUsage.used_ratio_percent(Path::new("/")).unwrap();
        assert!((0.0..=100.0).contains(&r));
    }
}
