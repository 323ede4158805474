//! `CPullResult.h`: the answer of `Pull`, returned by value.
//!
//! Ownership: `msgFoundList`, its messages and `pData` belong to the library until the result
//! is passed (by value) to `ReleasePullResult`.

#![allow(non_camel_case_types)]

use std::os::raw::{c_int, c_longlong, c_void};

use crate::c_message_ext::CMessageExt;

#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CPullStatus {
    E_FOUND = 0,
    E_NO_NEW_MSG = 1,
    E_NO_MATCHED_MSG = 2,
    E_OFFSET_ILLEGAL = 3,
    /// The pull timed out or got no response.
    E_BROKER_TIMEOUT = 4,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CPullResult {
    pub pull_status: CPullStatus,
    pub next_begin_offset: c_longlong,
    pub min_offset: c_longlong,
    pub max_offset: c_longlong,
    pub msg_found_list: *mut *mut CMessageExt,
    pub size: c_int,
    pub p_data: *mut c_void,
}
