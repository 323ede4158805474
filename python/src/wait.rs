//! Waiting without the GIL, interruptibly.
//!
//! A blocking call from Python must (1) release the GIL, so other Python threads and the
//! client's callback threads run meanwhile, and (2) still let the main thread's Ctrl-C through.
//! CPython only runs signal handlers on the main thread between bytecodes, so a thread parked in
//! native code would otherwise ignore Ctrl-C until the operation ends. Both helpers here park
//! in slices of `SIGNAL_CHECK_INTERVAL`, and between slices re-attach and ask Python whether a
//! handler raised; if one did (KeyboardInterrupt), the operation is abandoned and the exception
//! propagates.

use std::future::Future;
use std::sync::mpsc;
use std::time::Duration;

use pyo3::prelude::*;

/// How often a parked caller looks for pending signals. Short enough that Ctrl-C feels
/// immediate, long enough to cost nothing measurable.
const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(50);

/// Runs `fut` on `runtime` and waits for its output with the GIL released. On a signal whose
/// handler raises, the task is aborted and the exception returned.
pub fn block_on<F>(py: Python<'_>, runtime: &tokio::runtime::Handle, fut: F) -> PyResult<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (tx, rx) = mpsc::sync_channel(1);
    let task = runtime.spawn(async move {
        let _ = tx.send(fut.await);
    });
    match park(py, rx) {
        Ok(v) => Ok(v),
        Err(e) => {
            task.abort();
            Err(e)
        }
    }
}

/// Runs blocking `work` on a helper thread and waits for it with the GIL released. On a signal
/// whose handler raises, the thread is left to finish on its own (its result is dropped) and the
/// exception returned.
#[allow(dead_code)] // used by the client wrappers once the client lands
pub fn run_blocking<T, W>(py: Python<'_>, work: W) -> PyResult<T>
where
    W: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("rocketmq-py-call".into())
        .spawn(move || {
            let _ = tx.send(work());
        })
        .map_err(|e| pyo3::exceptions::PyOSError::new_err(format!("cannot start a thread: {e}")))?;
    park(py, rx)
}

fn park<T: Send>(py: Python<'_>, mut rx: mpsc::Receiver<T>) -> PyResult<T> {
    loop {
        // The receiver travels into the GIL-free closure and back (it is Send, not Sync).
        let (got, back) = py.detach(move || (rx.recv_timeout(SIGNAL_CHECK_INTERVAL), rx));
        rx = back;
        match got {
            Ok(v) => return Ok(v),
            Err(mpsc::RecvTimeoutError::Timeout) => py.check_signals()?,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(pyo3::exceptions::PySystemError::new_err(
                    "rocketmq: the operation's task ended without a result (it panicked); \
                     this is a bug, please report it",
                ))
            }
        }
    }
}
