//! librocketmq for rocketmq-rs: the C API of Apache rocketmq-client-cpp (`CProducer.h`,
//! `CPushConsumer.h`, …) over the Rust core, call-compatible with it (same function names,
//! signatures, struct layouts, enum values, ownership and callback rules), plus a few additions
//! in the same style (embedded broker, delivery time, SQL92 selector, lite pull consumer, topic
//! administration).
//!
//! One file per header: `c_producer.rs` is `CProducer.h`, and so on; `ffi/gen-headers.sh`
//! runs cbindgen on each file. Every exported function wraps its body in [`ffi_boundary!`],
//! checks its handles against a registry of live objects (`handles.rs`), copies its string
//! arguments, and reports failures as a status code plus a thread-local message.
//!
//! `unsafe` is confined to this crate; each block says why it is sound.

#![deny(unsafe_op_in_unsafe_fn)]
#![allow(non_snake_case)] // C parameter names, so the generated headers read like librocketmq's
#![allow(clippy::missing_safety_doc)] // the safety contract of each function is the C API's, in its header doc

use std::ffi::CStr;

mod abi;
mod boundary;
mod callback_gate;
mod client_settings;
mod convert;
mod handles;
mod logging;
mod message;
mod offset_diff;
mod poll_queue;
mod received;
mod runtime;

pub mod c_batch_message;
pub mod c_common;
pub mod c_embedded_broker;
pub mod c_error_message;
pub mod c_lite_pull_consumer;
pub mod c_message;
pub mod c_message_ext;
pub mod c_message_queue;
pub mod c_mq_exception;
pub mod c_producer;
pub mod c_pull_consumer;
pub mod c_pull_result;
pub mod c_push_consumer;
pub mod c_send_result;
pub mod c_topic_admin;
pub mod c_transaction_status;

/// The library's version text.
pub(crate) const VERSION_C: &CStr = c"rocketmq-rs 0.1.0";

#[cfg(test)]
mod layout_tests {
    //! The struct layouts librocketmq has on x86-64 Linux (LP64), which C programs and ctypes
    //! declarations are compiled against.
    use std::mem::{align_of, offset_of, size_of};

    use crate::c_message_queue::CMessageQueue;
    use crate::c_mq_exception::CMQException;
    use crate::c_pull_result::CPullResult;
    use crate::c_send_result::CSendResult;

    #[test]
    fn structs_match_librocketmq() {
        assert_eq!(
            (size_of::<CSendResult>(), align_of::<CSendResult>()),
            (272, 8)
        );
        assert_eq!(offset_of!(CSendResult, msg_id), 4);
        assert_eq!(offset_of!(CSendResult, offset), 264);

        assert_eq!(
            (size_of::<CMessageQueue>(), align_of::<CMessageQueue>()),
            (772, 4)
        );
        assert_eq!(offset_of!(CMessageQueue, broker_name), 512);
        assert_eq!(offset_of!(CMessageQueue, queue_id), 768);

        assert_eq!(
            (size_of::<CMQException>(), align_of::<CMQException>()),
            (904, 4)
        );
        assert_eq!(offset_of!(CMQException, file), 8);
        assert_eq!(offset_of!(CMQException, msg), 264);
        assert_eq!(offset_of!(CMQException, r#type), 776);

        assert_eq!(
            (size_of::<CPullResult>(), align_of::<CPullResult>()),
            (56, 8)
        );
        assert_eq!(offset_of!(CPullResult, next_begin_offset), 8);
        assert_eq!(offset_of!(CPullResult, msg_found_list), 32);
        assert_eq!(offset_of!(CPullResult, size), 40);
        assert_eq!(offset_of!(CPullResult, p_data), 48);

        // The by-value form the pull functions use has the same layout.
        use crate::abi::CPullResult as Raw;
        assert_eq!((size_of::<Raw>(), align_of::<Raw>()), (56, 8));
        assert_eq!(offset_of!(Raw, next_begin_offset), 8);
        assert_eq!(offset_of!(Raw, msg_found_list), 32);
        assert_eq!(offset_of!(Raw, size), 40);
        assert_eq!(offset_of!(Raw, p_data), 48);
    }
}
