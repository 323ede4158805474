//! The enum types as they arrive from C: plain `int`s.
//!
//! A C enum variable may hold any `int`, but a Rust enum with an out-of-range value is undefined
//! behaviour. So functions and callbacks that *receive* `CMessageModel`, `CLogLevel`,
//! `CTraceModel` or `CTransactionStatus` are declared with these aliases; they are checked (or
//! mapped, as librocketmq maps unknown transaction states to "unknown") before use. cbindgen
//! never parses this file: it prints the alias names as they are, and each header includes the
//! one that defines the real enum, so C sees the enum types librocketmq declares.

use std::os::raw::c_int;

pub type CMessageModel = c_int;
pub type CLogLevel = c_int;
pub type CTraceModel = c_int;
pub type CTransactionStatus = c_int;
pub type CConsumeFromWhere = c_int;

/// `CPullResult` as it travels between C and Rust: `pullStatus` as a plain `int` (a C caller
/// hands the struct back by value to `ReleasePullResult`). Same layout as
/// `c_pull_result::CPullResult`, which is what the header shows (checked in `layout_tests`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CPullResult {
    pub pull_status: c_int,
    pub next_begin_offset: std::os::raw::c_longlong,
    pub min_offset: std::os::raw::c_longlong,
    pub max_offset: std::os::raw::c_longlong,
    pub msg_found_list: *mut *mut crate::c_message_ext::CMessageExt,
    pub size: c_int,
    pub p_data: *mut std::os::raw::c_void,
}

// The C allocator, for the arrays C may release with `free` (librocketmq's contract for
// `FetchSubscriptionMessageQueues`).
extern "C" {
    pub fn malloc(size: usize) -> *mut std::os::raw::c_void;
    pub fn free(p: *mut std::os::raw::c_void);
}
