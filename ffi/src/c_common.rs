//! `CCommon.h`: limits, status codes and the small enums shared by every header, plus this
//! library's ABI version.
//!
//! The enums are real C enums in the header (so `OK`, `CLUSTERING`, … stay enumerators, as in
//! librocketmq). Functions that *receive* one of them from C take a plain `int` in Rust (see
//! `abi.rs`), so an out-of-range value is an error, never undefined behaviour.

#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int};

use crate::boundary::ffi_boundary;

pub const MAX_MESSAGE_ID_LENGTH: usize = 256;
pub const MAX_TOPIC_LENGTH: usize = 512;
pub const MAX_BROKER_NAME_ID_LENGTH: usize = 256;
pub const MAX_SDK_VERSION_LENGTH: usize = 256;
/// `DEFAULT_SDK_VERSION` ("DefaultVersion") is defined in the header text (cbindgen does not
/// emit string constants).
pub(crate) const DEFAULT_SDK_VERSION: &std::ffi::CStr = c"DefaultVersion";

/// The version of this library's C ABI: bumped whenever a declaration changes in a way that
/// breaks programs built against an older header. Bindings compare it with
/// `GetRocketMQAbiVersion()` at load time.
pub const ROCKETMQ_RS_ABI_VERSION: c_int = 1;

/// Status codes returned by most functions. 0 is success; the others are grouped by family
/// (10.. producer, 20.. push consumer, 30.. pull consumer, 40.. embedded broker, 50.. lite pull
/// consumer, 60.. topic administration). `PRODUCER_ERROR_CODE_START`,
/// `PUSHCONSUMER_ERROR_CODE_START` and `PULLCONSUMER_ERROR_CODE_START` are `#define`d aliases
/// at the top of this header.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CStatus {
    /// Success.
    OK = 0,
    /// A NULL or dead handle, a required argument that is NULL, or an out-of-range value.
    NULL_POINTER = 1,
    MALLOC_FAILED = 2,
    PRODUCER_START_FAILED = 10,
    PRODUCER_SEND_SYNC_FAILED = 11,
    PRODUCER_SEND_ONEWAY_FAILED = 12,
    PRODUCER_SEND_ORDERLY_FAILED = 13,
    PRODUCER_SEND_ASYNC_FAILED = 14,
    PRODUCER_SEND_ORDERLYASYNC_FAILED = 15,
    PRODUCER_SEND_TRANSACTION_FAILED = 16,
    /// rocketmq-rs addition: a request (request-reply) could not be sent, or the producer shut
    /// down while it waited for the reply.
    PRODUCER_REQUEST_FAILED = 17,
    /// rocketmq-rs addition: a request was sent but no reply arrived in time.
    PRODUCER_REQUEST_TIMEOUT = 18,
    PUSHCONSUMER_START_FAILED = 20,
    /// rocketmq-rs addition: polling a push consumer that is not running (shut down).
    PUSHCONSUMER_NOT_RUNNING = 21,
    PULLCONSUMER_START_FAILED = 30,
    PULLCONSUMER_FETCH_MQ_FAILED = 31,
    PULLCONSUMER_FETCH_MESSAGE_FAILED = 32,
    /// rocketmq-rs addition: the embedded name server + broker could not start.
    EMBEDDED_BROKER_START_FAILED = 40,
    /// rocketmq-rs addition: lite pull consumer start, subscribe or assign failed.
    LITEPULLCONSUMER_START_FAILED = 50,
    /// rocketmq-rs addition: lite pull consumer poll, seek or commit failed.
    LITEPULLCONSUMER_POLL_FAILED = 51,
    /// rocketmq-rs addition: a broker or name server refused or missed a topic administration
    /// request (`CreateTopic`, `DeleteTopic`).
    TOPIC_ADMIN_FAILED = 60,
    Not_Support = 500,
    NOT_SUPPORT_NOW = -1,
}

/// Log levels accepted by the `Set*LogLevel` functions.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CLogLevel {
    E_LOG_LEVEL_FATAL = 1,
    E_LOG_LEVEL_ERROR = 2,
    E_LOG_LEVEL_WARN = 3,
    E_LOG_LEVEL_INFO = 4,
    E_LOG_LEVEL_DEBUG = 5,
    E_LOG_LEVEL_TRACE = 6,
    E_LOG_LEVEL_LEVEL_NUM = 7,
}

/// How a consumer group shares a topic: each message to one member, or to every member.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CMessageModel {
    BROADCASTING = 0,
    CLUSTERING = 1,
}

/// Message trace switch (accepted and ignored: rocketmq-rs clients do not send traces).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CTraceModel {
    OPEN = 0,
    CLOSE = 1,
}

/// rocketmq-rs addition: where a consumer group starts on a queue it has no stored offset for.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CConsumeFromWhere {
    CONSUME_FROM_LAST_OFFSET = 0,
    CONSUME_FROM_FIRST_OFFSET = 1,
    /// From the time set with `Set*ConsumeTimestamp` (default: half an hour ago).
    CONSUME_FROM_TIMESTAMP = 2,
}

/// The C ABI version of the loaded library (`ROCKETMQ_RS_ABI_VERSION` of the header it was
/// built with). rocketmq-rs addition.
#[no_mangle]
pub extern "C" fn GetRocketMQAbiVersion() -> c_int {
    ffi_boundary!(-1, { ROCKETMQ_RS_ABI_VERSION })
}

/// The library's version text, e.g. "rocketmq-rs 0.1.0". Static storage; never NULL.
/// rocketmq-rs addition.
#[no_mangle]
pub extern "C" fn GetRocketMQVersion() -> *const c_char {
    ffi_boundary!(std::ptr::null(), { crate::VERSION_C.as_ptr() })
}
