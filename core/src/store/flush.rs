//! Making appends durable. Each mode, by what it guarantees:
//!
//! * ASYNC_FLUSH: a thread msyncs the commitlog every `flush_interval_commit_log_ms` once at least
//!   `flush_commit_log_least_pages` pages are dirty, and everything at least every
//!   `flush_commit_log_thorough_interval_ms`. An acknowledged message survives a process crash
//!   (the page cache has it) but not a machine crash before the next flush.
//! * SYNC_FLUSH: group commit. A put that waits registers "durable up to my end offset" and gets a
//!   receiver; one thread takes all pending requests, msyncs once, and answers every request the
//!   sync covered. A request still uncovered after `sync_flush_timeout_ms` is answered `false`.
//!   Callers never block on the sync: they await the receiver.
//!
//! Consume queues and the index are flushed by another thread on their own cadence; the
//! checkpoint records the store times known flushed, for crash recovery.

use std::sync::atomic::Ordering;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::default_message_store::DefaultMessageStore;
use super::FlushDiskType;

/// How long the group commit thread sleeps when nobody waits (RocketMQ's GroupCommitService: 10 ms).
const GROUP_COMMIT_IDLE_WAIT_MS: u64 = 10;
/// Consume queue flush cadence (`flushIntervalConsumeQueue`, least pages, thorough interval).
pub const FLUSH_INTERVAL_CONSUME_QUEUE_MS: u64 = 1000;
pub const FLUSH_CONSUME_QUEUE_LEAST_PAGES: usize = 2;
pub const FLUSH_CONSUME_QUEUE_THOROUGH_INTERVAL_MS: u64 = 60_000;

/// Wakes sleeping service threads at shutdown.
#[derive(Default)]
pub struct Stopper {
    stopped: Mutex<bool>,
    changed: Condvar,
}

impl Stopper {
    /// Sleeps up to `timeout`; true once stop was called.
    pub fn wait(&self, timeout: Duration) -> bool {
        let g = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        let (g, _) = self
            .changed
            .wait_timeout_while(g, timeout, |s| !*s)
            .unwrap_or_else(|e| e.into_inner());
        *g
    }
    pub fn is_stopped(&self) -> bool {
        *self.stopped.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.changed.notify_all();
    }
}

struct FlushRequest {
    end_offset: u64,
    deadline: Instant,
    done: oneshot::Sender<bool>,
}

/// Pending SYNC_FLUSH requests. Bounded by the callers: each waits for its answer.
#[derive(Default)]
pub struct GroupCommit {
    state: Mutex<GroupCommitState>,
    changed: Condvar,
}

#[derive(Default)]
struct GroupCommitState {
    requests: Vec<FlushRequest>,
    woken: bool,
}

impl GroupCommit {
    pub fn register(&self, end_offset: u64, timeout: Duration) -> oneshot::Receiver<bool> {
        let (done, rx) = oneshot::channel();
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.requests.push(FlushRequest {
            end_offset,
            deadline: Instant::now() + timeout,
            done,
        });
        self.changed.notify_one();
        rx
    }

    pub fn wake(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).woken = true;
        self.changed.notify_one();
    }

    fn take(&self, stopper: &Stopper) -> Vec<FlushRequest> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.requests.is_empty() && !st.woken && !stopper.is_stopped() {
            st = self
                .changed
                .wait_timeout(st, Duration::from_millis(GROUP_COMMIT_IDLE_WAIT_MS))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        st.woken = false;
        std::mem::take(&mut st.requests)
    }

    fn requeue(&self, rest: Vec<FlushRequest>) {
        if !rest.is_empty() {
            self.state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .requests
                .extend(rest);
        }
    }

    /// Answers everything still pending (at shutdown, after the final flush).
    fn answer_all(&self, flushed: u64) {
        for r in std::mem::take(
            &mut self
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .requests,
        ) {
            let _ = r.done.send(r.end_offset <= flushed);
        }
    }
}

/// Flushes the commitlog (all of it when `least_pages` is 0) and records the store time it
/// covers. Returns the flushed offset; on failure the store stops accepting writes.
pub fn flush_commit_log(store: &DefaultMessageStore, least_pages: usize) -> Option<u64> {
    // Read the time first: the message it belongs to is published below `max_offset` by then.
    let ts = store.commit_log.last_store_timestamp_ms();
    let max = store.commit_log.files().max_offset();
    match store.commit_log.files().flush(least_pages) {
        Ok(flushed) => {
            if flushed >= max && ts > 0 {
                store.checkpoint.set_physic_msg_timestamp_ms(ts);
            }
            Some(flushed)
        }
        Err(e) => {
            tracing::error!(error = %e, "commitlog flush failed; refusing further writes");
            store.write_failed.store(true, Ordering::Release);
            None
        }
    }
}

/// The commitlog flusher thread.
pub fn run_commit_log_flusher(store: &DefaultMessageStore) {
    match store.config.flush_disk_type {
        FlushDiskType::AsyncFlush => run_async_flush(store),
        FlushDiskType::SyncFlush => run_group_commit(store),
    }
    let flushed = flush_commit_log(store, 0).unwrap_or(0);
    store.group_commit.answer_all(flushed);
}

fn run_async_flush(store: &DefaultMessageStore) {
    let interval = Duration::from_millis(store.config.flush_interval_commit_log_ms.max(1));
    let thorough = Duration::from_millis(store.config.flush_commit_log_thorough_interval_ms);
    let mut last_thorough = Instant::now();
    while !store.stopper.wait(interval) {
        let least = if last_thorough.elapsed() >= thorough {
            last_thorough = Instant::now();
            0
        } else {
            store.config.flush_commit_log_least_pages as usize
        };
        flush_commit_log(store, least);
    }
}

fn run_group_commit(store: &DefaultMessageStore) {
    while !store.stopper.is_stopped() {
        let requests = store.group_commit.take(&store.stopper);
        let flushed = flush_commit_log(store, 0);
        let now = Instant::now();
        let mut rest = Vec::new();
        for r in requests {
            match flushed {
                Some(f) if r.end_offset <= f => {
                    let _ = r.done.send(true);
                }
                Some(_) if now < r.deadline => rest.push(r),
                _ => {
                    let _ = r.done.send(false);
                }
            }
        }
        store.group_commit.requeue(rest);
    }
}

/// Flushes consume queues and index, then the checkpoint (logics/index times only after a
/// complete flush, so they never claim more than is on disk).
pub fn flush_logics(store: &DefaultMessageStore, least_pages: usize) {
    let ts = store.dispatched_store_timestamp_ms.load(Ordering::Acquire);
    let mut all_ok = true;
    for q in store.all_queues() {
        if let Err(e) = q.flush(least_pages) {
            all_ok = false;
            tracing::error!(topic = %q.topic(), queue_id = q.queue_id(), error = %e, "consume queue flush failed");
        }
    }
    if all_ok && least_pages == 0 && ts > 0 {
        store.checkpoint.set_logics_msg_timestamp_ms(ts);
    }
    match store.index.flush() {
        Ok(()) if least_pages == 0 && ts > 0 => store.checkpoint.set_index_msg_timestamp_ms(ts),
        Ok(()) => {}
        Err(e) => tracing::error!(error = %e, "index flush failed"),
    }
    if let Err(e) = store.checkpoint.flush() {
        tracing::error!(error = %e, "checkpoint flush failed");
    }
}

/// The consume queue / index / checkpoint flusher thread.
pub fn run_logics_flusher(store: &DefaultMessageStore) {
    let interval = Duration::from_millis(FLUSH_INTERVAL_CONSUME_QUEUE_MS);
    let thorough = Duration::from_millis(FLUSH_CONSUME_QUEUE_THOROUGH_INTERVAL_MS);
    let mut last_thorough = Instant::now();
    while !store.stopper.wait(interval) {
        let least = if last_thorough.elapsed() >= thorough {
            last_thorough = Instant::now();
            0
        } else {
            FLUSH_CONSUME_QUEUE_LEAST_PAGES
        };
        flush_logics(store, least);
    }
}
