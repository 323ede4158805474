//! Keeping asynchronous signals (Ctrl-C's SIGINT, SIGTERM, ...) away from the threads this
//! binding starts: the embedded broker's runtime and store threads, the log forwarder.
//!
//! The kernel hands a signal sent to the process to any thread that does not block it. Python
//! acts on signals only in its main thread: if SIGINT lands on another thread, the Python
//! handler merely sets a flag, and a main thread parked in `time.sleep()` sleeps on — Ctrl-C
//! seems ignored. The core's client threads block those signals themselves
//! (`rocketmq::client::blocking::block_asynchronous_signals`); the broker's threads (the store
//! starts plain threads) inherit the mask of the thread that created them, so everything that
//! may start them runs inside a `Blocked` scope. A Python thread waiting inside such a scope
//! (see `wait.rs`) lets pending signals through between slices of waiting, so its own Ctrl-C
//! still arrives.
//!
//! Synchronous signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS) stay
//! unblocked: they concern the thread that caused them.

#[cfg(unix)]
use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow};

/// Asynchronous signals blocked in this thread until drop (restoring the previous mask).
pub struct Blocked {
    #[cfg(unix)]
    previous: Option<SigSet>,
}

#[cfg(unix)]
use rocketmq::client::blocking::asynchronous_signals as asynchronous;

impl Blocked {
    #[cfg(unix)]
    pub fn new() -> Blocked {
        let mut previous = SigSet::empty();
        let ok = pthread_sigmask(
            SigmaskHow::SIG_BLOCK,
            Some(&asynchronous()),
            Some(&mut previous),
        );
        Blocked {
            previous: ok.ok().map(|_| previous),
        }
    }

    #[cfg(not(unix))]
    pub fn new() -> Blocked {
        Blocked {}
    }

    /// Lets signals that arrived meanwhile be delivered to this thread now (their handlers
    /// run), then blocks again.
    pub fn let_pending_through(&self) {
        #[cfg(unix)]
        if let Some(previous) = &self.previous {
            let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(previous), None);
            let _ = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&asynchronous()), None);
        }
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(previous) = &self.previous {
            let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(previous), None);
        }
    }
}
