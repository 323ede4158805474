//! The edge between C and Rust: every exported function runs its body inside
//! [`ffi_boundary!`], which turns a Rust panic into the function's failure value; errors carry a
//! status code plus a message kept per thread for `GetLatestErrorMessage`.

use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::os::raw::c_char;

use crate::c_common::CStatus;

/// Runs `$body` and returns its value; if it panics, records the panic as the thread's latest
/// error and returns `$on_panic` instead, so no unwinding ever crosses into C.
macro_rules! ffi_boundary {
    ($on_panic:expr, $body:block) => {
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body)) {
            Ok(value) => value,
            Err(payload) => {
                $crate::boundary::record_panic(payload);
                $on_panic
            }
        }
    };
}
pub(crate) use ffi_boundary;

thread_local! {
    /// The latest error on this thread. Never cleared on success (librocketmq's rule).
    static LATEST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `msg` as this thread's latest error (interior NULs are dropped).
pub(crate) fn set_latest_error(msg: &str) {
    let c = CString::new(msg.replace('\0', "")).unwrap_or_default();
    LATEST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// Borrowed pointer to this thread's latest error; valid until the next error on this thread.
pub(crate) fn latest_error_ptr() -> *const c_char {
    LATEST_ERROR.with(|e| e.borrow().as_ptr())
}

pub(crate) fn record_panic(payload: Box<dyn std::any::Any + Send>) {
    let what = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    };
    set_latest_error(&format!("internal error (panic): {what}"));
}

/// A failed call: the status the function returns and, when there is one, a message for
/// `GetLatestErrorMessage`.
#[derive(Debug)]
pub(crate) struct FfiError {
    pub status: CStatus,
    pub message: Option<String>,
}

impl FfiError {
    pub fn new(status: CStatus, message: impl Into<String>) -> FfiError {
        FfiError {
            status,
            message: Some(message.into()),
        }
    }
    pub fn null(what: &str) -> FfiError {
        FfiError::new(
            CStatus::NULL_POINTER,
            format!("{what} is NULL or not a live handle"),
        )
    }
}

pub(crate) type FfiResult<T> = Result<T, FfiError>;

/// Turns a result into the `int` status C sees, recording the error message.
pub(crate) fn status(r: FfiResult<()>) -> i32 {
    match r {
        Ok(()) => CStatus::OK as i32,
        Err(e) => {
            if let Some(m) = &e.message {
                set_latest_error(m);
            }
            e.status as i32
        }
    }
}

/// Turns a result into a value, recording the error message and returning `fallback` on error.
pub(crate) fn value_or<T>(r: FfiResult<T>, fallback: T) -> T {
    match r {
        Ok(v) => v,
        Err(e) => {
            if let Some(m) = &e.message {
                set_latest_error(m);
            }
            fallback
        }
    }
}

/// Copies a borrowed C string argument. `Ok(None)` for NULL.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string valid for the duration of the call.
pub(crate) unsafe fn opt_str(p: *const c_char) -> FfiResult<Option<String>> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller guarantees a NUL-terminated string alive for this call.
    let s = unsafe { CStr::from_ptr(p) };
    match s.to_str() {
        Ok(s) => Ok(Some(s.to_string())),
        Err(_) => Ok(Some(s.to_string_lossy().into_owned())),
    }
}

/// Copies a required C string argument; NULL is `NULL_POINTER`.
///
/// # Safety
/// As [`opt_str`].
pub(crate) unsafe fn req_str(p: *const c_char, what: &str) -> FfiResult<String> {
    // SAFETY: forwarded contract.
    unsafe { opt_str(p) }?
        .ok_or_else(|| FfiError::new(CStatus::NULL_POINTER, format!("{what} is NULL")))
}

/// Makes a C string out of Rust text, dropping interior NULs.
pub(crate) fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', "")).unwrap_or_default()
}

/// A static empty string, returned for absent values.
pub(crate) fn empty_c_str() -> *const c_char {
    c"".as_ptr()
}

/// Copies `s` into the fixed C buffer `dst`, truncating and always NUL-terminating.
pub(crate) fn copy_to_c_buf(dst: &mut [c_char], s: &str) {
    if dst.is_empty() {
        return;
    }
    let bytes = s.as_bytes();
    let n = bytes.len().min(dst.len() - 1);
    for (d, b) in dst.iter_mut().zip(&bytes[..n]) {
        *d = *b as c_char;
    }
    for d in dst[n..].iter_mut() {
        *d = 0;
    }
}

/// Reads a NUL-terminated string out of a fixed C buffer (up to its end if unterminated).
pub(crate) fn read_c_buf(src: &[c_char]) -> String {
    let bytes: Vec<u8> = src
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_the_fallback_and_an_error_message() {
        let r: i32 = ffi_boundary!(10, {
            if true {
                panic!("boom");
            }
            0
        });
        assert_eq!(r, 10);
        let msg = unsafe { CStr::from_ptr(latest_error_ptr()) }
            .to_str()
            .unwrap()
            .to_string();
        assert!(msg.contains("boom"), "{msg}");
    }

    #[test]
    fn c_buffers_truncate_and_terminate() {
        let mut buf = [1 as c_char; 4];
        copy_to_c_buf(&mut buf, "abcdef");
        assert_eq!(read_c_buf(&buf), "abc");
        assert_eq!(buf[3], 0);
        copy_to_c_buf(&mut buf, "x");
        assert_eq!(read_c_buf(&buf), "x");
    }
}
