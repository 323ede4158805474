//! `CMQException.h`: the error handed (by value) to asynchronous send callbacks.

use std::os::raw::{c_char, c_int};

use crate::boundary::copy_to_c_buf;

pub const MAX_EXEPTION_MSG_LENGTH: usize = 512;
pub const MAX_EXEPTION_FILE_LENGTH: usize = 256;
pub const MAX_EXEPTION_TYPE_LENGTH: usize = 128;

/// `error` is the status or broker response code, `msg` the text, `type` the error kind; `file`
/// and `line` name the place in this library's source that reported it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CMQException {
    pub error: c_int,
    pub line: c_int,
    pub file: [c_char; MAX_EXEPTION_FILE_LENGTH],
    pub msg: [c_char; MAX_EXEPTION_MSG_LENGTH],
    pub r#type: [c_char; MAX_EXEPTION_TYPE_LENGTH],
}

impl CMQException {
    pub(crate) fn new(error: i32, kind: &str, msg: &str, file: &str, line: u32) -> CMQException {
        let mut e = CMQException {
            error,
            line: line as c_int,
            file: [0; MAX_EXEPTION_FILE_LENGTH],
            msg: [0; MAX_EXEPTION_MSG_LENGTH],
            r#type: [0; MAX_EXEPTION_TYPE_LENGTH],
        };
        copy_to_c_buf(&mut e.file, file);
        copy_to_c_buf(&mut e.msg, msg);
        copy_to_c_buf(&mut e.r#type, kind);
        e
    }
}
