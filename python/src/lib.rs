//! `rocketmq._native`: the Rust side of the Python package `rocketmq`.
//!
//! This crate only translates between Python and the `rocketmq` core crate. The public API
//! (`rocketmq.client`, `rocketmq.broker`, ...) is the pure-Python package under `rocketmq/`;
//! everything here is private to it and may change with it.
//!
//! Rules every file follows:
//! - Every call that can block (network, disk, waiting for a thread) runs with the GIL released,
//!   through `wait::*`, which also wakes every few milliseconds to let Python handle signals, so
//!   Ctrl-C interrupts it.
//! - Code on the core's threads (consume callbacks, transaction checks, send callbacks) attaches
//!   to Python only while Python code runs, and never once the interpreter is finalizing;
//!   through `attach::try_attach`, so a thread keeps its Python thread state between calls.
//! - Errors become the exception classes of `rocketmq.exceptions` (`errors.rs`).
//! - The core's log events go to Python's `logging` (`log_bridge.rs`), never to files.
//! - Clients run on the core's shared runtime (`rocketmq::client::blocking::runtime`), rebuilt
//!   in a forked child; the core's client threads block asynchronous signals, and so do the
//!   threads this binding starts (the embedded broker's, the log forwarder: `signals.rs`), so
//!   Ctrl-C always reaches Python's main thread.

mod attach;
mod broker;
mod completions;
mod convert;
mod errors;
mod log_bridge;
mod options;
mod producer;
mod pull_consumer;
mod push_consumer;
mod received;
mod signals;
mod wait;

use pyo3::prelude::*;

/// Rust's allocations in this extension (messages, buffers, the client's state) use mimalloc;
/// Python objects keep Python's allocator, and nothing allocated on one side is freed on the
/// other (bytes handed to Python are copied into Python objects).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Keeps `obj` alive for the rest of the process: a forked child's copies of the parent's
/// clients must never be dropped, since dropping them waits for threads that stayed in the
/// parent (see `rocketmq::client::blocking::runtime`).
#[pyfunction]
fn forget(obj: Py<PyAny>) {
    std::mem::forget(obj);
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    {
        // The log forwarder's thread must not take Ctrl-C away from Python's main thread (the
        // client runtime's threads block signals themselves).
        let _blocked = signals::Blocked::new();
        let _ = rocketmq::client::blocking::runtime();
        log_bridge::install();
    }
    m.add_function(wrap_pyfunction!(log_bridge::set_log_level, m)?)?;
    m.add_function(wrap_pyfunction!(forget, m)?)?;
    m.add_function(wrap_pyfunction!(convert::set_send_result_type, m)?)?;
    m.add_class::<broker::EmbeddedBroker>()?;
    m.add_class::<received::ReceivedMessage>()?;
    m.add_class::<completions::Completions>()?;
    m.add_class::<producer::Producer>()?;
    m.add_class::<producer::TransactionProducer>()?;
    m.add_class::<push_consumer::PushConsumer>()?;
    m.add_class::<pull_consumer::PullConsumer>()?;
    Ok(())
}
