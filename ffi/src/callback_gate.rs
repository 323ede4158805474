//! When user callbacks may run. A producer's async-send callbacks and a consumer's listener go
//! through a [`CallbackGate`]; `Shutdown*` closes it and waits, so that no callback runs after
//! `Shutdown*` returns and the ones already running finish first (librocketmq's rule, which
//! ctypes users depend on: their callback pointers die with the wrapper object).

use std::cell::RefCell;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct GateState {
    closed: bool,
    /// Callbacks running now.
    running: usize,
    /// Work accepted whose callback has not run yet (async sends in flight).
    pending: usize,
}

#[derive(Default)]
pub(crate) struct CallbackGate {
    state: Mutex<GateState>,
    changed: Condvar,
}

thread_local! {
    /// Gates whose callback is running on this thread, so that a callback calling `Shutdown*`
    /// on its own client does not wait for itself.
    static INSIDE: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

impl CallbackGate {
    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn id(&self) -> usize {
        self as *const _ as usize
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Opens the gate again (a client started after a shutdown).
    pub fn reopen(&self) {
        self.lock().closed = false;
    }

    /// Counts one piece of work whose callback will come later (see `run_pending`).
    pub fn add_pending(&self) {
        self.lock().pending += 1;
    }

    /// Forgets one pending piece of work whose callback will never come.
    pub fn drop_pending(&self) {
        let mut s = self.lock();
        s.pending = s.pending.saturating_sub(1);
        self.changed.notify_all();
    }

    /// Runs `f` unless the gate is closed; returns `None` if it was not run.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> Option<R> {
        {
            let mut s = self.lock();
            if s.closed {
                return None;
            }
            s.running += 1;
        }
        INSIDE.with(|v| v.borrow_mut().push(self.id()));
        struct Leave<'a>(&'a CallbackGate);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                INSIDE.with(|v| {
                    let mut v = v.borrow_mut();
                    if let Some(i) = v.iter().rposition(|g| *g == self.0.id()) {
                        v.remove(i);
                    }
                });
                let mut s = self.0.lock();
                s.running -= 1;
                self.0.changed.notify_all();
            }
        }
        let _leave = Leave(self);
        Some(f())
    }

    /// Runs the callback of pending work (and stops counting it as pending).
    pub fn run_pending<R>(&self, f: impl FnOnce() -> R) -> Option<R> {
        let r = self.run(f);
        self.drop_pending();
        r
    }

    /// Waits up to `pending_budget` for pending work to call back, then closes the gate and
    /// waits for the callbacks still running (except one running on this very thread).
    pub fn close(&self, pending_budget: Duration) {
        let deadline = Instant::now() + pending_budget;
        let mut s = self.lock();
        while s.pending > 0 && !s.closed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            s = self
                .changed
                .wait_timeout(s, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        s.closed = true;
        let own = INSIDE.with(|v| v.borrow().iter().filter(|g| **g == self.id()).count());
        while s.running > own {
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn close_waits_for_running_callbacks_and_blocks_new_ones() {
        let gate = Arc::new(CallbackGate::default());
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let g = gate.clone();
        let t = std::thread::spawn(move || {
            g.run(|| {
                started_tx.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(100));
            })
        });
        started_rx.recv().unwrap();
        let t0 = Instant::now();
        gate.close(Duration::ZERO);
        assert!(t0.elapsed() >= Duration::from_millis(50));
        assert_eq!(t.join().unwrap(), Some(()));
        assert_eq!(gate.run(|| 1), None);
    }

    #[test]
    fn a_callback_may_close_its_own_gate() {
        let gate = CallbackGate::default();
        assert_eq!(gate.run(|| gate.close(Duration::ZERO)), Some(()));
        assert!(gate.is_closed());
    }

    #[test]
    fn close_waits_for_pending_work_within_its_budget() {
        let gate = Arc::new(CallbackGate::default());
        gate.add_pending();
        let g = gate.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            g.run_pending(|| 7)
        });
        gate.close(Duration::from_secs(5));
        assert_eq!(t.join().unwrap(), Some(7));
    }
}
