//! `CBatchMessage.h`: a list of messages sent in one request (`SendBatchMessage`).
//!
//! Ownership: `CreateBatchMessage` returns an owned handle, freed with `DestroyBatchMessage`.
//! `AddMessage` copies the message: the caller still owns (and may destroy) the original.

use std::os::raw::c_int;
use std::ptr;

use crate::boundary::{ffi_boundary, status};
use crate::c_common::CStatus;
use crate::c_message::{msg_ref, CMessage};
use crate::handles::Registry;
use crate::message::MessageObj;

/// Opaque list of messages.
pub struct CBatchMessage {
    _private: [u8; 0],
}

pub(crate) static BATCHES: Registry<Vec<MessageObj>> = Registry::new("batch message");

pub(crate) fn as_vec(b: *mut CBatchMessage) -> *mut Vec<MessageObj> {
    b as *mut Vec<MessageObj>
}

/// Creates an empty batch. Ownership: the caller frees it with `DestroyBatchMessage`.
#[no_mangle]
pub extern "C" fn CreateBatchMessage() -> *mut CBatchMessage {
    ffi_boundary!(ptr::null_mut(), {
        BATCHES.insert(Vec::new()) as *mut CBatchMessage
    })
}

/// Appends a copy of `msg`. Every message of a batch must have the same topic (checked when
/// it is sent).
#[no_mangle]
pub unsafe extern "C" fn AddMessage(batchMsg: *mut CBatchMessage, msg: *mut CMessage) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        status((|| {
            // SAFETY: both handles are checked by their registries.
            let m = unsafe { msg_ref(msg) }?.clone();
            let b = unsafe { BATCHES.get_mut(as_vec(batchMsg)) }?;
            b.push(m);
            Ok(())
        })())
    })
}

/// Frees a batch and its copies.
#[no_mangle]
pub unsafe extern "C" fn DestroyBatchMessage(batchMsg: *mut CBatchMessage) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        status(BATCHES.remove(as_vec(batchMsg)).map(drop))
    })
}
