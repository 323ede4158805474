//! Lists of received messages handed to C as `CMessageExt**` (a `Pull` result, a lite-pull
//! poll): the messages are registered, the array is library memory, and both live until the
//! list is released.

use std::sync::Mutex;

use rocketmq::client::MessageExt;

use crate::c_message_ext::CMessageExt;
use crate::convert::from_message_ext;
use crate::handles::Registry;
use crate::message::{MessageObj, MESSAGES};

pub(crate) struct ReceivedList {
    array: Mutex<Box<[*mut CMessageExt]>>,
}

// SAFETY: the pointers are registry-owned messages, reached only through the registry.
unsafe impl Send for ReceivedList {}
// SAFETY: as above; the array is behind a mutex.
unsafe impl Sync for ReceivedList {}

impl Drop for ReceivedList {
    fn drop(&mut self) {
        for m in self
            .array
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = MESSAGES.remove(*m as *mut MessageObj);
        }
    }
}

pub(crate) static LISTS: Registry<ReceivedList> = Registry::new("message list");

/// Registers the messages and returns (array, list handle). Empty input gives (NULL, NULL).
pub(crate) fn make_list(msgs: &[MessageExt]) -> (*mut *mut CMessageExt, *mut ReceivedList) {
    if msgs.is_empty() {
        return (std::ptr::null_mut(), std::ptr::null_mut());
    }
    let array: Box<[*mut CMessageExt]> = msgs
        .iter()
        .map(|m| MESSAGES.insert(from_message_ext(m)) as *mut CMessageExt)
        .collect();
    let list = ReceivedList {
        array: Mutex::new(array),
    };
    let first = list
        .array
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_mut_ptr();
    (first, LISTS.insert(list))
}

/// Finds the list whose array starts at `array` (for APIs that only get the array back).
pub(crate) fn find_by_array(array: *mut *mut CMessageExt) -> Option<*mut ReceivedList> {
    LISTS.find(|l| {
        l.array
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut_ptr()
            == array
    })
}
