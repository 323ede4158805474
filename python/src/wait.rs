//! Waiting without the GIL, interruptibly.
//!
//! A blocking call from Python must (1) release the GIL, so other Python threads and the
//! client's callback threads run meanwhile, and (2) still let the main thread's Ctrl-C through.
//! CPython runs signal handlers only on the main thread, between bytecodes, so a thread parked
//! in native code would otherwise ignore Ctrl-C until the operation ends. The future is driven
//! here with the GIL released, and every `SIGNAL_CHECK_INTERVAL` the thread re-attaches for a
//! moment to ask Python whether a handler raised; if one did (KeyboardInterrupt), the future is
//! dropped — the operation abandoned — and the exception propagates.
//!
//! Client futures run on the calling thread, driven through the core's shared client runtime
//! (`rocketmq::client::blocking`), so Python code they call back — a local transaction, say —
//! runs on the caller's thread, as in the original.

use std::future::Future;
use std::time::Duration;

use crate::signals::Blocked;
use pyo3::prelude::*;

/// How often a parked caller looks for pending signals: short enough that Ctrl-C feels
/// immediate, long enough to cost nothing measurable.
const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(50);

/// `fut` raced against Python's signal handlers. With `blocked`, the waiting thread blocks
/// asynchronous signals meanwhile (so threads started under it inherit that, see `signals.rs`)
/// and lets them through between slices.
async fn until_signal<F: Future>(fut: F, blocked: Option<&Blocked>) -> PyResult<F::Output> {
    let mut fut = std::pin::pin!(fut);
    loop {
        tokio::select! {
            out = &mut fut => return Ok(out),
            _ = tokio::time::sleep(SIGNAL_CHECK_INTERVAL) => {
                if let Some(b) = blocked {
                    b.let_pending_through();
                }
                // `try_attach`: during interpreter shutdown there is nobody to interrupt.
                if let Some(Err(e)) = Python::try_attach(|py| py.check_signals()) {
                    return Err(e);
                }
            }
        }
    }
}

/// Runs a client future to completion on the client runtime, GIL released, interruptible.
/// The core's client threads block signals themselves, so the caller's mask is left alone.
pub fn block_on<F>(py: Python<'_>, fut: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    py.detach(|| {
        rocketmq::client::blocking::block_on_checking(fut, SIGNAL_CHECK_INTERVAL, || {
            // `try_attach`: during interpreter shutdown there is nobody to interrupt.
            Python::try_attach(|py| py.check_signals()).and_then(Result::err)
        })
    })
}

/// Like `block_on`, on a runtime of one's own (the embedded broker's, whose store starts plain
/// threads that inherit the caller's signal mask).
pub fn block_on_runtime<F>(
    py: Python<'_>,
    runtime: &tokio::runtime::Handle,
    fut: F,
) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    py.detach(|| {
        let blocked = Blocked::new();
        runtime.block_on(until_signal(fut, Some(&blocked)))
    })
}
