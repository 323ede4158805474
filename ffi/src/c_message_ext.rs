//! `CMessageExt.h`: received messages.
//!
//! Ownership: the library owns every `CMessageExt*`. One passed to a consumer or checker
//! callback is valid only during that callback; one in a `CPullResult` until
//! `ReleasePullResult`. Returned strings are borrowed from the message and NUL-terminated.
//! These getters also accept a `CMessage*` (librocketmq's `MQMessageExt` is an `MQMessage`):
//! the ext-only values then read "" or 0.
//!
//! With a NULL handle the string getters return NULL and the numeric getters return
//! `NULL_POINTER` (1), as librocketmq does.

use std::os::raw::{c_char, c_int, c_longlong};
use std::ptr;

use crate::boundary::{empty_c_str, ffi_boundary, opt_str};
use crate::c_common::CStatus;
use crate::c_message::prop_ptr;
use crate::message::{ExtInfo, MessageObj, MESSAGES};

/// Opaque received message.
pub struct CMessageExt {
    _private: [u8; 0],
}

unsafe fn ext_ref<'a>(msg: *const CMessageExt) -> Option<&'a MessageObj> {
    // SAFETY: see `Registry::get`; the library keeps a callback's message alive for the call.
    unsafe { MESSAGES.get(msg as *const MessageObj) }.ok()
}

unsafe fn string_of(
    msg: *const CMessageExt,
    f: impl FnOnce(&MessageObj) -> *const c_char,
) -> *const c_char {
    // SAFETY: forwarded.
    unsafe { ext_ref(msg) }.map_or(ptr::null(), f)
}

unsafe fn ext_string_of(
    msg: *const CMessageExt,
    f: impl FnOnce(&ExtInfo) -> *const c_char,
) -> *const c_char {
    // SAFETY: forwarded.
    unsafe { string_of(msg, |m| m.ext.as_ref().map_or(empty_c_str(), f)) }
}

unsafe fn number_of<T: From<i32>>(msg: *const CMessageExt, f: impl FnOnce(&MessageObj) -> T) -> T {
    // SAFETY: forwarded.
    unsafe { ext_ref(msg) }.map_or(T::from(CStatus::NULL_POINTER as i32), f)
}

macro_rules! ext_number {
    ($msg:expr, $ty:ty, $field:ident) => {
        ffi_boundary!(CStatus::NULL_POINTER as $ty, {
            // SAFETY: handle checked by the registry.
            unsafe { number_of($msg, |m| m.ext.as_ref().map_or(0, |e| e.$field as $ty)) }
        })
    };
}

/// The topic. Borrowed.
#[no_mangle]
pub unsafe extern "C" fn GetMessageTopic(msgExt: *mut CMessageExt) -> *const c_char {
    ffi_boundary!(ptr::null(), {
        // SAFETY: handle checked by the registry.
        unsafe { string_of(msgExt, |m| m.topic().as_ptr()) }
    })
}

/// The tag, "" if none. Borrowed.
#[no_mangle]
pub unsafe extern "C" fn GetMessageTags(msgExt: *mut CMessageExt) -> *const c_char {
    ffi_boundary!(ptr::null(), {
        // SAFETY: handle checked by the registry.
        unsafe { string_of(msgExt, |m| prop_ptr(m, crate::message::property::TAGS)) }
    })
}

/// The keys, "" if none. Borrowed.
#[no_mangle]
pub unsafe extern "C" fn GetMessageKeys(msgExt: *mut CMessageExt) -> *const c_char {
    ffi_boundary!(ptr::null(), {
        // SAFETY: handle checked by the registry.
        unsafe { string_of(msgExt, |m| prop_ptr(m, crate::message::property::KEYS)) }
    })
}

/// The body (decompressed), NUL-terminated; use `GetMessageBodyLength` for binary bodies.
/// Borrowed.
#[no_mangle]
pub unsafe extern "C" fn GetMessageBody(msgExt: *mut CMessageExt) -> *const c_char {
    ffi_boundary!(ptr::null(), {
        // SAFETY: handle checked by the registry.
        unsafe { string_of(msgExt, |m| m.body_nul().as_ptr() as *const c_char) }
    })
}

/// The body length in bytes; 0 for a NULL handle.
#[no_mangle]
pub unsafe extern "C" fn GetMessageBodyLength(msgExt: *mut CMessageExt) -> c_int {
    ffi_boundary!(0, {
        // SAFETY: handle checked by the registry.
        unsafe { ext_ref(msgExt) }.map_or(0, |m| m.body().len().min(c_int::MAX as usize) as c_int)
    })
}

/// A property, "" if absent. Borrowed; NULL for a NULL handle or key.
#[no_mangle]
pub unsafe extern "C" fn GetMessageProperty(
    msgExt: *mut CMessageExt,
    key: *const c_char,
) -> *const c_char {
    ffi_boundary!(ptr::null(), {
        // SAFETY: `key` is NULL or a C string alive for this call.
        let key = match unsafe { opt_str(key) } {
            Ok(Some(k)) => k,
            _ => return ptr::null(),
        };
        // SAFETY: handle checked by the registry.
        unsafe { string_of(msgExt, |m| prop_ptr(m, &key)) }
    })
}

/// The message id: the producer's unique id (`UNIQ_KEY`) if it set one, else the offset id.
/// Borrowed; "" on a `CMessage*`.
#[no_mangle]
pub unsafe extern "C" fn GetMessageId(msgExt: *mut CMessageExt) -> *const c_char {
    ffi_boundary!(ptr::null(), {
        // SAFETY: handle checked by the registry.
        unsafe { ext_string_of(msgExt, |e| e.msg_id.as_ptr()) }
    })
}

/// The delay level the message was sent with (0 if none).
#[no_mangle]
pub unsafe extern "C" fn GetMessageDelayTimeLevel(msgExt: *mut CMessageExt) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: handle checked by the registry.
        unsafe { number_of(msgExt, |m| m.delay_level()) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn GetMessageQueueId(msgExt: *mut CMessageExt) -> c_int {
    ext_number!(msgExt, c_int, queue_id)
}

/// How many times the message has been redelivered after a failed consume.
#[no_mangle]
pub unsafe extern "C" fn GetMessageReconsumeTimes(msgExt: *mut CMessageExt) -> c_int {
    ext_number!(msgExt, c_int, reconsume_times)
}

/// Size of the stored record in bytes.
#[no_mangle]
pub unsafe extern "C" fn GetMessageStoreSize(msgExt: *mut CMessageExt) -> c_int {
    ext_number!(msgExt, c_int, store_size)
}

/// Milliseconds since the epoch when the producer created the message.
#[no_mangle]
pub unsafe extern "C" fn GetMessageBornTimestamp(msgExt: *mut CMessageExt) -> c_longlong {
    ext_number!(msgExt, c_longlong, born_timestamp)
}

/// Milliseconds since the epoch when the broker stored the message.
#[no_mangle]
pub unsafe extern "C" fn GetMessageStoreTimestamp(msgExt: *mut CMessageExt) -> c_longlong {
    ext_number!(msgExt, c_longlong, store_timestamp)
}

/// Offset in the consume queue (entry number).
#[no_mangle]
pub unsafe extern "C" fn GetMessageQueueOffset(msgExt: *mut CMessageExt) -> c_longlong {
    ext_number!(msgExt, c_longlong, queue_offset)
}

/// Physical offset in the broker's commitlog.
#[no_mangle]
pub unsafe extern "C" fn GetMessageCommitLogOffset(msgExt: *mut CMessageExt) -> c_longlong {
    ext_number!(msgExt, c_longlong, commit_log_offset)
}

#[no_mangle]
pub unsafe extern "C" fn GetMessagePreparedTransactionOffset(
    msgExt: *mut CMessageExt,
) -> c_longlong {
    ext_number!(msgExt, c_longlong, prepared_transaction_offset)
}

/// The broker's address, "ip:port". Borrowed.
#[no_mangle]
pub unsafe extern "C" fn GetMessageStoreHost(msg: *mut CMessageExt) -> *const c_char {
    ffi_boundary!(ptr::null(), {
        // SAFETY: handle checked by the registry.
        unsafe { ext_string_of(msg, |e| e.store_host.as_ptr()) }
    })
}

/// The producer's address, "ip:port". Borrowed.
#[no_mangle]
pub unsafe extern "C" fn GetMessageBornHost(msg: *mut CMessageExt) -> *const c_char {
    ffi_boundary!(ptr::null(), {
        // SAFETY: handle checked by the registry.
        unsafe { ext_string_of(msg, |e| e.born_host.as_ptr()) }
    })
}

/// rocketmq-rs addition: the offset message id (store host + commitlog offset, hex). Borrowed.
#[no_mangle]
pub unsafe extern "C" fn GetMessageOffsetMsgId(msgExt: *mut CMessageExt) -> *const c_char {
    ffi_boundary!(ptr::null(), {
        // SAFETY: handle checked by the registry.
        unsafe { ext_string_of(msgExt, |e| e.offset_msg_id.as_ptr()) }
    })
}

/// rocketmq-rs addition: the name of the broker the message was read from. Borrowed.
#[no_mangle]
pub unsafe extern "C" fn GetMessageBrokerName(msgExt: *mut CMessageExt) -> *const c_char {
    ffi_boundary!(ptr::null(), {
        // SAFETY: handle checked by the registry.
        unsafe { ext_string_of(msgExt, |e| e.broker_name.as_ptr()) }
    })
}

/// rocketmq-rs addition: the stored system flag bits.
#[no_mangle]
pub unsafe extern "C" fn GetMessageSysFlag(msgExt: *mut CMessageExt) -> c_int {
    ext_number!(msgExt, c_int, sys_flag)
}

/// rocketmq-rs addition: the CRC32 of the body as stored.
#[no_mangle]
pub unsafe extern "C" fn GetMessageBodyCRC(msgExt: *mut CMessageExt) -> c_int {
    ext_number!(msgExt, c_int, body_crc)
}

/// rocketmq-rs addition: the user flag the producer set.
#[no_mangle]
pub unsafe extern "C" fn GetMessageFlag(msgExt: *mut CMessageExt) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: handle checked by the registry.
        unsafe { number_of(msgExt, |m| m.flag) }
    })
}

/// rocketmq-rs addition: the number of properties (system ones included); 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn GetMessagePropertyCount(msgExt: *mut CMessageExt) -> c_int {
    ffi_boundary!(0, {
        // SAFETY: handle checked by the registry.
        unsafe { ext_ref(msgExt) }.map_or(0, |m| m.properties().count() as c_int)
    })
}

/// rocketmq-rs addition: the name of property `index` (0-based, in name order), to enumerate
/// them with `GetMessagePropertyCount`. Borrowed; NULL when out of range.
#[no_mangle]
pub unsafe extern "C" fn GetMessagePropertyName(
    msgExt: *mut CMessageExt,
    index: c_int,
) -> *const c_char {
    ffi_boundary!(ptr::null(), {
        if index < 0 {
            return ptr::null();
        }
        // SAFETY: handle checked by the registry.
        unsafe { ext_ref(msgExt) }
            .and_then(|m| m.property_name(index as usize))
            .map_or(ptr::null(), |k| k.as_ptr())
    })
}
