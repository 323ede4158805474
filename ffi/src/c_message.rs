//! `CMessage.h`: messages to send.
//!
//! Ownership: `CreateMessage` returns an owned handle; free it with `DestroyMessage`. Every
//! string argument is copied, so the caller may free its own at once. Returned strings are
//! borrowed from the message: NUL-terminated, valid until the message is changed or destroyed.
//! A NULL or destroyed handle is `NULL_POINTER` (1) for the `int` functions and NULL for the
//! string getters.

use std::os::raw::{c_char, c_int, c_longlong};
use std::ptr;

use crate::boundary::{empty_c_str, ffi_boundary, opt_str, req_str, status, value_or, FfiError};
use crate::c_common::CStatus;
use crate::message::{property, MessageObj, MESSAGES};

/// Opaque message to send. Also accepted by every `CMessageExt.h` getter.
pub struct CMessage {
    _private: [u8; 0],
}

pub(crate) fn as_obj(msg: *const CMessage) -> *const MessageObj {
    msg as *const MessageObj
}
pub(crate) fn as_obj_mut(msg: *mut CMessage) -> *mut MessageObj {
    msg as *mut MessageObj
}

/// Creates a message for `topic` (which may be NULL: set it later with `SetMessageTopic`).
/// Ownership: the caller owns the result and frees it with `DestroyMessage`.
#[no_mangle]
pub unsafe extern "C" fn CreateMessage(topic: *const c_char) -> *mut CMessage {
    ffi_boundary!(ptr::null_mut(), {
        // SAFETY: `topic` is NULL or a C string alive for this call.
        let topic = value_or(unsafe { opt_str(topic) }, None).unwrap_or_default();
        MESSAGES.insert(MessageObj::new(&topic)) as *mut CMessage
    })
}

/// Frees a message made by `CreateMessage`. NULL or an already destroyed handle is
/// `NULL_POINTER`, never a crash.
#[no_mangle]
pub unsafe extern "C" fn DestroyMessage(msg: *mut CMessage) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        status(MESSAGES.remove(as_obj_mut(msg)).map(drop))
    })
}

/// Runs `f` on the live message behind `msg`, mapping NULL/dead handles to `NULL_POINTER`.
pub(crate) unsafe fn with_msg_mut(
    msg: *mut CMessage,
    f: impl FnOnce(&mut MessageObj) -> Result<(), FfiError>,
) -> c_int {
    // SAFETY: the registry only hands out live messages; C does not mutate one handle from two
    // threads at once.
    status(unsafe { MESSAGES.get_mut(as_obj_mut(msg)) }.and_then(f))
}

/// Borrows the live message behind `msg`.
pub(crate) unsafe fn msg_ref<'a>(msg: *const CMessage) -> Result<&'a MessageObj, FfiError> {
    // SAFETY: see `Registry::get`.
    unsafe { MESSAGES.get(as_obj(msg)) }
}

/// Sets the topic. `topic` is copied.
#[no_mangle]
pub unsafe extern "C" fn SetMessageTopic(msg: *mut CMessage, topic: *const c_char) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: `topic` is NULL or a C string alive for this call.
        unsafe {
            with_msg_mut(msg, |m| {
                m.set_topic(&req_str(topic, "topic")?);
                Ok(())
            })
        }
    })
}

/// Sets the tag (property `TAGS`). `tags` is copied.
#[no_mangle]
pub unsafe extern "C" fn SetMessageTags(msg: *mut CMessage, tags: *const c_char) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: as above.
        unsafe {
            with_msg_mut(msg, |m| {
                m.set_property(property::TAGS, &req_str(tags, "tags")?);
                Ok(())
            })
        }
    })
}

/// Sets the keys (property `KEYS`, space separated). `keys` is copied.
#[no_mangle]
pub unsafe extern "C" fn SetMessageKeys(msg: *mut CMessage, keys: *const c_char) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: as above.
        unsafe {
            with_msg_mut(msg, |m| {
                m.set_property(property::KEYS, &req_str(keys, "keys")?);
                Ok(())
            })
        }
    })
}

/// Sets the body from a NUL-terminated string (copied, without the NUL). For binary bodies
/// use `SetByteMessageBody`.
#[no_mangle]
pub unsafe extern "C" fn SetMessageBody(msg: *mut CMessage, body: *const c_char) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: `body` is NULL or a C string alive for this call.
        unsafe {
            with_msg_mut(msg, |m| {
                if body.is_null() {
                    return Err(FfiError::null("body"));
                }
                m.set_body(std::ffi::CStr::from_ptr(body).to_bytes());
                Ok(())
            })
        }
    })
}

/// Sets the body from `len` bytes at `body` (copied; may contain NULs). `len` 0 with any
/// `body` (even NULL) makes an empty body; a negative `len` is `NULL_POINTER`.
#[no_mangle]
pub unsafe extern "C" fn SetByteMessageBody(
    msg: *mut CMessage,
    body: *const c_char,
    len: c_int,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: `body` points to at least `len` readable bytes when `len` > 0.
        unsafe {
            with_msg_mut(msg, |m| {
                if len < 0 || (len > 0 && body.is_null()) {
                    return Err(FfiError::null("body"));
                }
                if len == 0 {
                    m.set_body(&[]);
                } else {
                    m.set_body(std::slice::from_raw_parts(body as *const u8, len as usize));
                }
                Ok(())
            })
        }
    })
}

/// Sets a user property. `key` and `value` are copied; both are required.
#[no_mangle]
pub unsafe extern "C" fn SetMessageProperty(
    msg: *mut CMessage,
    key: *const c_char,
    value: *const c_char,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: C strings alive for this call.
        unsafe {
            with_msg_mut(msg, |m| {
                let k = req_str(key, "key")?;
                let v = req_str(value, "value")?;
                m.set_property(&k, &v);
                Ok(())
            })
        }
    })
}

/// Sets the delay level (property `DELAY`): 1..18 = 1s 5s 10s 30s 1m 2m … 10m 20m 30m 1h 2h
/// with the broker's default `messageDelayLevel`.
#[no_mangle]
pub unsafe extern "C" fn SetDelayTimeLevel(msg: *mut CMessage, level: c_int) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: handle checked by the registry.
        unsafe {
            with_msg_mut(msg, |m| {
                m.set_property(property::DELAY, &level.to_string());
                Ok(())
            })
        }
    })
}

/// rocketmq-rs addition: asks for delivery at an absolute time, in milliseconds since the Unix
/// epoch (property `TIMER_DELIVER_MS`, RocketMQ 5's timer messages). A broker without timer
/// support delivers the message at once.
#[no_mangle]
pub unsafe extern "C" fn SetMessageDeliverTime(
    msg: *mut CMessage,
    deliverTimeMs: c_longlong,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: handle checked by the registry.
        unsafe {
            with_msg_mut(msg, |m| {
                if deliverTimeMs < 0 {
                    return Err(FfiError::new(
                        CStatus::NULL_POINTER,
                        "deliverTimeMs is negative",
                    ));
                }
                m.set_property(property::TIMER_DELIVER_MS, &deliverTimeMs.to_string());
                Ok(())
            })
        }
    })
}

/// rocketmq-rs addition: sets the user flag stored with the message (default 0).
#[no_mangle]
pub unsafe extern "C" fn SetMessageFlag(msg: *mut CMessage, flag: c_int) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: handle checked by the registry.
        unsafe {
            with_msg_mut(msg, |m| {
                m.flag = flag;
                Ok(())
            })
        }
    })
}

/// Returns a borrowed string out of the message, or NULL for a NULL/dead handle.
unsafe fn borrowed(
    msg: *const CMessage,
    f: impl FnOnce(&MessageObj) -> *const c_char,
) -> *const c_char {
    // SAFETY: see `msg_ref`.
    match unsafe { msg_ref(msg) } {
        Ok(m) => f(m),
        Err(_) => ptr::null(),
    }
}

/// The topic. Borrowed; NULL for a NULL handle.
#[no_mangle]
pub unsafe extern "C" fn GetOriginMessageTopic(msg: *mut CMessage) -> *const c_char {
    ffi_boundary!(ptr::null(), {
        // SAFETY: handle checked by the registry.
        unsafe { borrowed(msg, |m| m.topic().as_ptr()) }
    })
}

/// The tag, "" if none. Borrowed; NULL for a NULL handle.
#[no_mangle]
pub unsafe extern "C" fn GetOriginMessageTags(msg: *mut CMessage) -> *const c_char {
    ffi_boundary!(ptr::null(), {
        // SAFETY: handle checked by the registry.
        unsafe { borrowed(msg, |m| prop_ptr(m, property::TAGS)) }
    })
}

/// The keys, "" if none. Borrowed; NULL for a NULL handle.
#[no_mangle]
pub unsafe extern "C" fn GetOriginMessageKeys(msg: *mut CMessage) -> *const c_char {
    ffi_boundary!(ptr::null(), {
        // SAFETY: handle checked by the registry.
        unsafe { borrowed(msg, |m| prop_ptr(m, property::KEYS)) }
    })
}

/// The body, NUL-terminated (a binary body may contain earlier NULs: use
/// `GetOriginMessageBodyLength`). Borrowed; NULL for a NULL handle.
#[no_mangle]
pub unsafe extern "C" fn GetOriginMessageBody(msg: *mut CMessage) -> *const c_char {
    ffi_boundary!(ptr::null(), {
        // SAFETY: handle checked by the registry.
        unsafe { borrowed(msg, |m| m.body_nul().as_ptr() as *const c_char) }
    })
}

/// The body length in bytes; 0 for a NULL handle.
#[no_mangle]
pub unsafe extern "C" fn GetOriginMessageBodyLength(msg: *mut CMessage) -> c_int {
    ffi_boundary!(0, {
        // SAFETY: handle checked by the registry.
        match unsafe { msg_ref(msg) } {
            Ok(m) => m.body().len().min(c_int::MAX as usize) as c_int,
            Err(_) => 0,
        }
    })
}

/// A property, "" if absent. Borrowed; NULL for a NULL handle or key.
#[no_mangle]
pub unsafe extern "C" fn GetOriginMessageProperty(
    msg: *mut CMessage,
    key: *const c_char,
) -> *const c_char {
    ffi_boundary!(ptr::null(), {
        // SAFETY: `key` is NULL or a C string alive for this call.
        let key = match unsafe { opt_str(key) } {
            Ok(Some(k)) => k,
            _ => return ptr::null(),
        };
        // SAFETY: handle checked by the registry.
        unsafe { borrowed(msg, |m| prop_ptr(m, &key)) }
    })
}

/// The delay level; 0 if unset, -1 for a NULL handle.
#[no_mangle]
pub unsafe extern "C" fn GetOriginDelayTimeLevel(msg: *mut CMessage) -> c_int {
    ffi_boundary!(-1, {
        // SAFETY: handle checked by the registry.
        match unsafe { msg_ref(msg) } {
            Ok(m) => m.delay_level(),
            Err(_) => -1,
        }
    })
}

pub(crate) fn prop_ptr(m: &MessageObj, key: &str) -> *const c_char {
    m.property(key).map_or(empty_c_str(), |v| v.as_ptr())
}
