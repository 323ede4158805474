//! `CErrorMessage.h`: the text of this thread's latest error.

use std::os::raw::c_char;

use crate::boundary::{ffi_boundary, latest_error_ptr};

/// The latest error reported on the calling thread ("" if none yet). Borrowed: valid until
/// the next error on this thread. Never cleared by a successful call.
#[no_mangle]
pub extern "C" fn GetLatestErrorMessage() -> *const c_char {
    ffi_boundary!(std::ptr::null(), { latest_error_ptr() })
}
