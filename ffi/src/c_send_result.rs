//! `CSendResult.h`: the outcome of a send, filled by the library into caller-owned memory.

#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_longlong};

use crate::c_common::MAX_MESSAGE_ID_LENGTH;

#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CSendStatus {
    E_SEND_OK = 0,
    E_SEND_FLUSH_DISK_TIMEOUT = 1,
    E_SEND_FLUSH_SLAVE_TIMEOUT = 2,
    E_SEND_SLAVE_NOT_AVAILABLE = 3,
}

/// Filled only when the send returns `OK`. `msgId` is the unique id the client gave the
/// message (what consumers see as `GetMessageId`), NUL-terminated, truncated to 255 bytes.
/// `offset` is the message's offset in its queue.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CSendResult {
    pub send_status: CSendStatus,
    pub msg_id: [c_char; MAX_MESSAGE_ID_LENGTH],
    pub offset: c_longlong,
}
