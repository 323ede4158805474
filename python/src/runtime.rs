//! The tokio runtime the Python clients run on, one per process — including a forked child.
//!
//! A runtime's threads do not survive `fork()`: in a child (a `multiprocessing` worker, say),
//! the parent's runtime looks alive but nothing runs on it, and every client call would hang
//! (the original's users saw consumers in `multiprocessing.Process` that never consumed). So the
//! runtime remembers the process it was built in, and a child builds its own on first use. The
//! parent's runtime is leaked in the child, never dropped: dropping would wait for threads that
//! do not exist there.

use std::future::Future;
use std::sync::{Arc, Mutex};

use crate::signals::Blocked;

struct Owned {
    pid: u32,
    runtime: Arc<tokio::runtime::Runtime>,
}

static RUNTIME: Mutex<Option<Owned>> = Mutex::new(None);

/// Worker threads: the client's work is I/O and bookkeeping; application code runs on the
/// consume threads and the callers' threads.
fn worker_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 4)
}

/// This process's client runtime, built on first use.
pub fn get() -> Arc<tokio::runtime::Runtime> {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(o) = slot.as_ref() {
        if o.pid == pid {
            return o.runtime.clone();
        }
    }
    // Threads inherit the creator's signal mask: keep Ctrl-C for Python (see `signals.rs`).
    let _blocked = Blocked::new();
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(worker_threads())
            .thread_name("rocketmq-client")
            .enable_all()
            .build()
            .expect("the client runtime starts"),
    );
    if let Some(parent) = slot.replace(Owned {
        pid,
        runtime: runtime.clone(),
    }) {
        std::mem::forget(parent.runtime);
    }
    runtime
}

/// Runs `f` to completion from synchronous code on this process's runtime, from any thread
/// (a plain thread, a runtime worker inside a callback, a current-thread runtime).
pub fn block_on<F>(f: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    let rt = get();
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| rt.handle().block_on(f))
        }
        Ok(_) => std::thread::scope(|s| {
            s.spawn(|| rt.block_on(f))
                .join()
                .expect("a blocking call panicked")
        }),
        Err(_) => rt.block_on(f),
    }
}
