//! `CMessageQueue.h`: one queue of a topic on one broker.

use std::os::raw::{c_char, c_int};

use crate::c_common::{MAX_BROKER_NAME_ID_LENGTH, MAX_TOPIC_LENGTH};

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CMessageQueue {
    pub topic: [c_char; MAX_TOPIC_LENGTH],
    pub broker_name: [c_char; MAX_BROKER_NAME_ID_LENGTH],
    pub queue_id: c_int,
}

/// Writes `queues` as a `malloc`ed array (so C may also release it with `free`) into `*mqs`
/// and its length into `*size`. An empty list is a NULL array of size 0.
///
/// # Safety
/// `mqs` and `size` are non-NULL and writable.
pub(crate) unsafe fn write_queue_array(
    queues: &[rocketmq::protocol::bodies::MessageQueue],
    mqs: *mut *mut CMessageQueue,
    size: *mut c_int,
) -> crate::boundary::FfiResult<()> {
    let n = queues.len();
    let array = if n == 0 {
        std::ptr::null_mut()
    } else {
        // SAFETY: plain allocation; checked for NULL below.
        let p = unsafe { crate::abi::malloc(n * std::mem::size_of::<CMessageQueue>()) }
            as *mut CMessageQueue;
        if p.is_null() {
            return Err(crate::boundary::FfiError::new(
                crate::c_common::CStatus::MALLOC_FAILED,
                "out of memory",
            ));
        }
        for (i, q) in queues.iter().enumerate() {
            // SAFETY: `p` has room for `n` entries.
            unsafe { p.add(i).write(crate::convert::to_c_queue(q)) };
        }
        p
    };
    // SAFETY: the caller guarantees writable out-pointers.
    unsafe {
        mqs.write(array);
        size.write(n as c_int);
    }
    Ok(())
}
