//! Messages, results and queues between Python and the core.
//!
//! A Python `Message` crosses as a tuple `(topic, body, properties, flag)` (see
//! `Message._parts()` in `client.py`); a send result comes back as a tuple that `client.py` turns
//! into its `SendResult`; a queue is `(topic, broker_name, queue_id)`.

use std::collections::HashMap;

use bytes::Bytes;
use pyo3::prelude::*;
use rocketmq::client::{ClientError, Message, MessageExt, MessageQueue, SendResult, SendStatus};

use crate::errors;
use crate::received::ReceivedMessage;

/// A Python `Message` as `Message._parts()` gives it.
pub type MessageParts = (String, Vec<u8>, HashMap<String, String>, i32);

pub fn message(parts: MessageParts) -> Message {
    let (topic, body, properties, flag) = parts;
    Message {
        topic,
        flag,
        body: Bytes::from(body),
        properties,
    }
}

/// `(status, msg_id, queue_offset, offset_msg_id, queue_id, broker_name, transaction_id)`.
pub type SendResultTuple = (i32, String, i64, String, i32, String, Option<String>);

/// SendStatus numbers of the original: OK=0, FLUSH_DISK_TIMEOUT=1, FLUSH_SLAVE_TIMEOUT=2,
/// SLAVE_NOT_AVAILABLE=3.
pub fn send_result(r: &SendResult) -> SendResultTuple {
    let status = match r.status {
        SendStatus::SendOk => 0,
        SendStatus::FlushDiskTimeout => 1,
        SendStatus::FlushSlaveTimeout => 2,
        SendStatus::SlaveNotAvailable => 3,
    };
    (
        status,
        r.msg_id.clone(),
        r.queue_offset,
        r.offset_msg_id.clone(),
        r.message_queue.queue_id,
        r.message_queue.broker_name.clone(),
        r.transaction_id.clone(),
    )
}

pub type QueueTuple = (String, String, i32);

pub fn queue(mq: &MessageQueue) -> QueueTuple {
    (mq.topic.clone(), mq.broker_name.clone(), mq.queue_id)
}

pub fn to_queue(t: QueueTuple) -> MessageQueue {
    MessageQueue {
        topic: t.0,
        broker_name: t.1,
        queue_id: t.2,
    }
}

/// The exception for `op` failing with `e`.
pub fn client_error(py: Python<'_>, op: &str, e: &ClientError) -> PyErr {
    errors::client(py, op, e.kind() as i32, e.to_string(), e.response_code())
}

impl ReceivedMessage {
    /// A consumed message (body already inflated by the core).
    pub fn from_ext(m: &MessageExt) -> Self {
        ReceivedMessage::new(m.clone())
    }

    /// The message a local transaction runs for: what was sent, with what the broker said
    /// about the half message (id, queue, offset).
    pub fn from_sent(m: &Message, r: &SendResult) -> Self {
        let unspecified = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
        ReceivedMessage::new(MessageExt {
            topic: m.topic.clone(),
            flag: m.flag,
            body: m.body.clone(),
            properties: m.properties.clone(),
            msg_id: r.msg_id.clone(),
            offset_msg_id: r.offset_msg_id.clone(),
            broker_name: r.message_queue.broker_name.clone(),
            queue_id: r.message_queue.queue_id,
            queue_offset: r.queue_offset,
            commit_log_offset: 0,
            sys_flag: 0,
            born_timestamp: 0,
            born_host: unspecified,
            store_timestamp: 0,
            store_host: unspecified,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body_crc: 0,
            store_size: 0,
        })
    }
}
