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
