//! `<root>/checkpoint`: 4096 bytes; RocketMQ 4.9 uses the first 24 (i64 physicMsgTimestamp,
//! logicsMsgTimestamp, indexMsgTimestamp: store times of the last message known to be flushed
//! in the commitlog, the consume queues and the index). Crash recovery starts from the commitlog
//! file that was surely flushed according to these times.
//!
//! We also keep, at byte 64 (a part Java leaves zero and never reads), the commitlog offset up
//! to which everything was dispatched at the last clean shutdown, so a normal restart re-dispatches
//! only what is missing, not the whole log when no consume queue exists.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

pub const CHECKPOINT_FILE_BYTES: u64 = 4096;
const DISPATCHED_OFFSET_POS: u64 = 64;
/// Slack RocketMQ subtracts from the checkpoint times, for clock steps and flush races.
pub const RECOVERY_SAFETY_MARGIN_MS: i64 = 3000;

pub struct Checkpoint {
    file: Mutex<File>,
    physic_msg_timestamp_ms: AtomicI64,
    logics_msg_timestamp_ms: AtomicI64,
    index_msg_timestamp_ms: AtomicI64,
    dispatched_offset: AtomicI64,
}

impl Checkpoint {
    pub fn open(path: &Path) -> io::Result<Checkpoint> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        if file.metadata()?.len() < CHECKPOINT_FILE_BYTES {
            file.set_len(CHECKPOINT_FILE_BYTES)?;
        }
        let mut head = [0u8; 72];
        file.read_exact_at(&mut head, 0)?;
        let at = |p: usize| i64::from_be_bytes(head[p..p + 8].try_into().expect("8 bytes"));
        Ok(Checkpoint {
            physic_msg_timestamp_ms: AtomicI64::new(at(0)),
            logics_msg_timestamp_ms: AtomicI64::new(at(8)),
            index_msg_timestamp_ms: AtomicI64::new(at(16)),
            dispatched_offset: AtomicI64::new(at(DISPATCHED_OFFSET_POS as usize)),
            file: Mutex::new(file),
        })
    }

    pub fn physic_msg_timestamp_ms(&self) -> i64 {
        self.physic_msg_timestamp_ms.load(Ordering::Acquire)
    }
    pub fn logics_msg_timestamp_ms(&self) -> i64 {
        self.logics_msg_timestamp_ms.load(Ordering::Acquire)
    }
    pub fn index_msg_timestamp_ms(&self) -> i64 {
        self.index_msg_timestamp_ms.load(Ordering::Acquire)
    }
    pub fn dispatched_offset(&self) -> i64 {
        self.dispatched_offset.load(Ordering::Acquire)
    }
    pub fn set_physic_msg_timestamp_ms(&self, ts: i64) {
        self.physic_msg_timestamp_ms.fetch_max(ts, Ordering::AcqRel);
    }
    pub fn set_logics_msg_timestamp_ms(&self, ts: i64) {
        self.logics_msg_timestamp_ms.fetch_max(ts, Ordering::AcqRel);
    }
    pub fn set_index_msg_timestamp_ms(&self, ts: i64) {
        self.index_msg_timestamp_ms.fetch_max(ts, Ordering::AcqRel);
    }
    pub fn set_dispatched_offset(&self, offset: i64) {
        self.dispatched_offset.store(offset, Ordering::Release);
    }

    /// The store time up to which commitlog and consume queues were both flushed, less the margin.
    pub fn min_timestamp_ms(&self) -> i64 {
        let min = self
            .physic_msg_timestamp_ms()
            .min(self.logics_msg_timestamp_ms());
        (min - RECOVERY_SAFETY_MARGIN_MS).max(0)
    }

    /// Writes the values and syncs them.
    pub fn flush(&self) -> io::Result<()> {
        let mut head = [0u8; 24];
        head[0..8].copy_from_slice(&self.physic_msg_timestamp_ms().to_be_bytes());
        head[8..16].copy_from_slice(&self.logics_msg_timestamp_ms().to_be_bytes());
        head[16..24].copy_from_slice(&self.index_msg_timestamp_ms().to_be_bytes());
        let file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.write_all_at(&head, 0)?;
        file.write_all_at(
            &self.dispatched_offset().to_be_bytes(),
            DISPATCHED_OFFSET_POS,
        )?;
        file.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_in_rocketmq_positions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint");
        let cp = Checkpoint::open(&path).unwrap();
        cp.set_physic_msg_timestamp_ms(10_000);
        cp.set_logics_msg_timestamp_ms(9_000);
        cp.set_index_msg_timestamp_ms(8_000);
        cp.set_dispatched_offset(77);
        cp.flush().unwrap();
        drop(cp);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 4096);
        assert_eq!(&bytes[0..8], &10_000i64.to_be_bytes());
        let cp = Checkpoint::open(&path).unwrap();
        assert_eq!(cp.logics_msg_timestamp_ms(), 9_000);
        assert_eq!(cp.index_msg_timestamp_ms(), 8_000);
        assert_eq!(cp.dispatched_offset(), 77);
        assert_eq!(cp.min_timestamp_ms(), 6_000);
    }
}
