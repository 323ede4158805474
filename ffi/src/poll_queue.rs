//! A queue of work that bindings fetch from their own threads ("poll mode"), so that user code
//! runs on threads the binding owns (goroutines, for Go) instead of the library's: the library
//! side pushes a request and waits for its answer; the binding polls, runs the user function
//! and answers.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

pub(crate) enum Polled<T> {
    Item(T),
    TimedOut,
    Closed,
}

/// Unbounded, but never long: each item's producer waits for its answer before pushing more,
/// so the queue holds at most one item per library thread that can push.
pub(crate) struct PollQueue<T> {
    state: Mutex<(VecDeque<T>, bool)>,
    ready: Condvar,
}

impl<T> Default for PollQueue<T> {
    fn default() -> Self {
        PollQueue {
            state: Mutex::new((VecDeque::new(), false)),
            ready: Condvar::new(),
        }
    }
}

impl<T> PollQueue<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, (VecDeque<T>, bool)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `item`; gives it back if the queue is closed.
    pub fn push(&self, item: T) -> Result<(), T> {
        let mut s = self.lock();
        if s.1 {
            return Err(item);
        }
        s.0.push_back(item);
        self.ready.notify_one();
        Ok(())
    }

    /// Waits up to `timeout` for an item.
    pub fn pop(&self, timeout: Duration) -> Polled<T> {
        let deadline = Instant::now() + timeout;
        let mut s = self.lock();
        loop {
            if let Some(item) = s.0.pop_front() {
                return Polled::Item(item);
            }
            if s.1 {
                return Polled::Closed;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Polled::TimedOut;
            }
            s = self
                .ready
                .wait_timeout(s, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Closes the queue, wakes every poller and returns what was never polled.
    pub fn close(&self) -> Vec<T> {
        let mut s = self.lock();
        s.1 = true;
        self.ready.notify_all();
        s.0.drain(..).collect()
    }

    pub fn reopen(&self) {
        self.lock().1 = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn pollers_get_items_time_out_and_wake_on_close() {
        let q = Arc::new(PollQueue::default());
        q.push(1).unwrap();
        assert!(matches!(q.pop(Duration::ZERO), Polled::Item(1)));
        assert!(matches!(q.pop(Duration::from_millis(10)), Polled::TimedOut));
        let q2 = q.clone();
        let t =
            std::thread::spawn(move || matches!(q2.pop(Duration::from_secs(30)), Polled::Closed));
        std::thread::sleep(Duration::from_millis(20));
        q.push(2).unwrap();
        // The waiting poller either took item 2 or saw the close with item 2 left behind.
        let left = q.close();
        let closed = t.join().unwrap();
        assert_eq!(closed, left == vec![2]);
        assert!(q.push(3).is_err());
    }
}
