//! librocketmq for rocketmq-rs: the C API of Apache rocketmq-client-cpp (`CProducer.h`,
//! `CPushConsumer.h`, …) over the Rust core, call-compatible with it (same function names,
//! signatures, struct layouts, enum values, ownership and callback rules), plus a few additions
//! in the same style (embedded broker, delivery time, SQL92 selector, lite pull consumer).
//!
//! One file per header: `c_producer.rs` is `CProducer.h`, and so on; `ffi/gen-headers.sh`
//! runs cbindgen on each file. Every exported function wraps its body in [`ffi_boundary!`],
//! checks its handles against a registry of live objects (`handles.rs`), copies its string
//! arguments, and reports failures as a status code plus a thread-local message.
//!
//! `unsafe` is confined to this crate; each block says why it is sound.

#![deny(unsafe_op_in_unsafe_fn)]
#![allow(non_snake_case)] // C parameter names, so the generated headers read like librocketmq's
#![allow(clippy::missing_safety_doc)] // the safety contract of each function is the C API's, in its header doc

use std::ffi::CStr;

mod abi;
mod boundary;
mod handles;
mod message;
mod runtime;

pub mod c_batch_message;
pub mod c_common;
pub mod c_embedded_broker;
pub mod c_error_message;
pub mod c_message;
pub mod c_message_ext;
pub mod c_message_queue;
pub mod c_mq_exception;
pub mod c_pull_result;
pub mod c_send_result;
pub mod c_transaction_status;

/// The library's version text.
pub(crate) const VERSION_C: &CStr = c"rocketmq-rs 0.1.0";
