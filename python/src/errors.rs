//! Errors as the exception classes of `rocketmq.exceptions`.
//!
//! The classes are defined in Python (so they pickle, subclass and document like any Python
//! exception); this file only looks them up by name. `rocketmq.exceptions._from_native` picks
//! the class for an (operation, error kind) pair, so `except ProducerSendSyncFailed` and
//! `except RouteNotFound` both catch a send that found no route.

use pyo3::prelude::*;

const MODULE: &str = "rocketmq.exceptions";

/// An exception of class `name` from `rocketmq.exceptions`, with `message`.
pub fn named(py: Python<'_>, name: &str, message: impl Into<String>) -> PyErr {
    let message = message.into();
    match py
        .import(MODULE)
        .and_then(|m| m.getattr(name))
        .and_then(|cls| cls.call1((message,)))
    {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}

/// A failure of the embedded broker (start, shutdown, administration).
pub fn broker(py: Python<'_>, message: impl Into<String>) -> PyErr {
    named(py, "EmbeddedBrokerError", message)
}

/// A client error raised by operation `op` (for example `"send_sync"`): `kind` is the core's
/// stable error number (`rocketmq::client::ErrorKind`), `code` the broker's response code if
/// a broker answered.
pub fn client(py: Python<'_>, op: &str, kind: i32, message: String, code: Option<i32>) -> PyErr {
    match py
        .import(MODULE)
        .and_then(|m| m.getattr("_from_native"))
        .and_then(|f| f.call1((op, kind, message, code)))
    {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}
