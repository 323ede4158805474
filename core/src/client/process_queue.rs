//! A consumer's local view of one queue: messages pulled but not yet consumed, ordered by queue
//! offset, plus the flags rebalance and orderly consumption use (dropped, locked, consuming).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Mutex;

use super::message::MessageExt;
use crate::protocol::now_ms;

/// A local lock older than this is not trusted (Java `rebalance.lockMaxLiveTime`).
pub const LOCK_MAX_LIVE_MS: i64 = 30_000;

/// A pulled message not consumed yet: its size for flow control and, for orderly consumption
/// only, the message itself (concurrent consume jobs and lite-pull batches own theirs).
struct Cached {
    size: usize,
    /// Boxed: the map moves its entries around, and a message is large.
    msg: Option<Box<MessageExt>>,
}

#[derive(Default)]
struct Cache {
    msgs: BTreeMap<i64, Cached>,
    /// Orderly: sizes of the messages handed to the listener and not committed yet.
    consuming: BTreeMap<i64, usize>,
    bytes: usize,
    max_offset: i64,
}

impl Cache {
    fn insert(&mut self, offset: i64, size: usize, msg: Option<Box<MessageExt>>) {
        if self.msgs.insert(offset, Cached { size, msg }).is_none() {
            self.bytes += size;
        }
        self.max_offset = self.max_offset.max(offset);
    }
}

#[derive(Default)]
pub(crate) struct ProcessQueue {
    cache: Mutex<Cache>,
    dropped: AtomicBool,
    locked: AtomicBool,
    last_lock_ms: AtomicI64,
    /// Orderly: a consume job is scheduled or running for this queue.
    consuming: AtomicBool,
    /// Orderly: held while the listener runs, so one thread at a time consumes this queue.
    pub consume_lock: Mutex<()>,
}

impl ProcessQueue {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_dropped(&self) -> bool {
        self.dropped.load(Ordering::Acquire)
    }
    pub fn set_dropped(&self) {
        self.dropped.store(true, Ordering::Release);
    }

    pub fn is_locked(&self) -> bool {
        self.locked.load(Ordering::Acquire)
    }
    pub fn set_locked(&self, locked: bool) {
        if locked {
            self.last_lock_ms.store(now_ms(), Ordering::Release);
        }
        self.locked.store(locked, Ordering::Release);
    }
    pub fn lock_expired(&self) -> bool {
        now_ms() - self.last_lock_ms.load(Ordering::Acquire) > LOCK_MAX_LIVE_MS
    }

    /// Claims the right to schedule the orderly consume job; false if one is already on.
    pub fn try_start_consuming(&self) -> bool {
        self.consuming
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
    pub fn stop_consuming(&self) {
        self.consuming.store(false, Ordering::Release);
    }

    /// Records pulled messages whose consumption someone else holds (concurrent consume jobs,
    /// lite-pull batches): their offsets and sizes, not the messages.
    pub fn put(&self, msgs: &[MessageExt]) {
        let mut c = self.cache.lock().unwrap();
        for m in msgs {
            c.insert(m.queue_offset, m.body.len(), None);
        }
    }

    /// Orderly: caches pulled messages for `take` to hand out in offset order.
    pub fn put_owned(&self, msgs: Vec<MessageExt>) {
        let mut c = self.cache.lock().unwrap();
        for m in msgs {
            c.insert(m.queue_offset, m.body.len(), Some(Box::new(m)));
        }
    }

    pub fn cached_count(&self) -> usize {
        let c = self.cache.lock().unwrap();
        c.msgs.len() + c.consuming.len()
    }
    pub fn cached_bytes(&self) -> usize {
        self.cache.lock().unwrap().bytes
    }
    /// Distance between the first and last cached offsets.
    pub fn span(&self) -> i64 {
        let c = self.cache.lock().unwrap();
        match (c.msgs.keys().next(), c.msgs.keys().next_back()) {
            (Some(a), Some(b)) => b - a,
            _ => 0,
        }
    }
    pub fn has_pending(&self) -> bool {
        !self.cache.lock().unwrap().msgs.is_empty()
    }

    /// Removes consumed messages; returns the offset now safe to commit (the smallest still
    /// cached, or one past the largest seen), or -1 if nothing was cached.
    pub fn remove(&self, offsets: impl IntoIterator<Item = i64>) -> i64 {
        let mut c = self.cache.lock().unwrap();
        if c.msgs.is_empty() {
            return -1;
        }
        let mut result = c.max_offset + 1;
        for offset in offsets {
            if let Some(old) = c.msgs.remove(&offset) {
                c.bytes -= old.size;
            }
        }
        if let Some(first) = c.msgs.keys().next() {
            result = *first;
        }
        result
    }

    /// Orderly: takes up to `n` messages in offset order for the listener.
    pub fn take(&self, n: usize) -> Vec<MessageExt> {
        let mut c = self.cache.lock().unwrap();
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let Some(mut first) = c.msgs.first_entry() else {
                break;
            };
            // Only orderly queues take, and they cache with `put_owned`.
            let Some(m) = first.get_mut().msg.take() else {
                break;
            };
            let (off, cached) = first.remove_entry();
            c.consuming.insert(off, cached.size);
            out.push(*m);
        }
        out
    }

    /// Orderly: the taken messages are done; returns the offset to commit (-1 if none).
    pub fn commit(&self) -> i64 {
        let mut c = self.cache.lock().unwrap();
        let last = c.consuming.keys().next_back().copied();
        let freed: usize = c.consuming.values().sum();
        c.bytes -= freed;
        c.consuming.clear();
        last.map_or(-1, |o| o + 1)
    }

    /// Orderly: the taken messages go back to be consumed again (the given copies carry
    /// incremented reconsume counts).
    pub fn make_available_again(&self, msgs: Vec<MessageExt>) {
        let mut c = self.cache.lock().unwrap();
        for m in msgs {
            if let Some(size) = c.consuming.remove(&m.queue_offset) {
                c.msgs.insert(
                    m.queue_offset,
                    Cached {
                        size,
                        msg: Some(Box::new(m)),
                    },
                );
            }
        }
    }

    /// Drops everything cached (seek).
    pub fn clear(&self) {
        let mut c = self.cache.lock().unwrap();
        c.msgs.clear();
        c.consuming.clear();
        c.bytes = 0;
        c.max_offset = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn msg(off: i64) -> MessageExt {
        let rec = crate::protocol::message::MessageRecord {
            topic: "T".into(),
            queue_offset: off,
            body: Bytes::from_static(b"abc"),
            ..Default::default()
        };
        MessageExt::from_record(rec, "b").unwrap()
    }

    #[test]
    fn remove_returns_lowest_unconsumed_offset() {
        let pq = ProcessQueue::new();
        assert_eq!(pq.remove([0]), -1);
        let ms: Vec<MessageExt> = (10..15).map(msg).collect();
        pq.put(&ms);
        assert_eq!(pq.cached_count(), 5);
        assert_eq!(pq.cached_bytes(), 15);
        assert_eq!(pq.span(), 4);
        // Finishing 11 and 12 while 10 is in flight must not move the offset past 10.
        assert_eq!(pq.remove([11, 12]), 10);
        assert_eq!(pq.remove([10]), 13);
        assert_eq!(pq.remove([13, 14]), 15);
        assert_eq!(pq.cached_bytes(), 0);
    }

    #[test]
    fn orderly_take_commit_and_retry() {
        let pq = ProcessQueue::new();
        pq.put_owned((0..5).map(msg).collect());
        assert_eq!(pq.cached_bytes(), 15);
        let a = pq.take(2);
        assert_eq!(
            a.iter().map(|m| m.queue_offset).collect::<Vec<_>>(),
            vec![0, 1]
        );
        assert_eq!(pq.commit(), 2);
        let b = pq.take(2);
        pq.make_available_again(b);
        let again = pq.take(10);
        assert_eq!(again.len(), 3);
        assert_eq!(again[0].queue_offset, 2);
        assert_eq!(pq.commit(), 5);
        assert!(!pq.has_pending());
        assert_eq!(pq.cached_bytes(), 0);
        assert!(pq.try_start_consuming());
        assert!(!pq.try_start_consuming());
        pq.stop_consuming();
        assert!(pq.try_start_consuming());
    }

    #[test]
    fn locks_expire() {
        let pq = ProcessQueue::new();
        assert!(!pq.is_locked());
        assert!(pq.lock_expired());
        pq.set_locked(true);
        assert!(pq.is_locked() && !pq.lock_expired());
    }
}
