//! Translations between the C-facing objects and the core client's types. Nothing else: a rule
//! that lives only here would diverge from the other bindings.

use std::os::raw::c_char;

use bytes::Bytes;
use rocketmq::client::message::{Message, MessageExt, SendResult, SendStatus};
use rocketmq::client::ClientError;
use rocketmq::protocol::bodies::MessageQueue;

use crate::boundary::{c_string, copy_to_c_buf, read_c_buf, FfiError};
use crate::c_common::{CStatus, MAX_BROKER_NAME_ID_LENGTH, MAX_TOPIC_LENGTH};
use crate::c_message_queue::CMessageQueue;
use crate::c_send_result::{CSendResult, CSendStatus};
use crate::message::{ExtInfo, MessageObj};

/// The message as the client sends it.
pub(crate) fn to_client_message(m: &MessageObj) -> Message {
    Message {
        topic: m.topic_str(),
        flag: m.flag,
        body: Bytes::copy_from_slice(m.body()),
        properties: m.properties().collect(),
    }
}

/// A received message as C sees it.
pub(crate) fn from_message_ext(m: &MessageExt) -> MessageObj {
    let mut o = MessageObj::new(&m.topic);
    o.set_body(&m.body);
    o.flag = m.flag;
    for (k, v) in &m.properties {
        o.set_property(k, v);
    }
    o.ext = Some(ExtInfo {
        msg_id: c_string(&m.msg_id),
        offset_msg_id: c_string(&m.offset_msg_id),
        broker_name: c_string(&m.broker_name),
        queue_id: m.queue_id,
        queue_offset: m.queue_offset,
        commit_log_offset: m.commit_log_offset,
        store_size: m.store_size,
        reconsume_times: m.reconsume_times,
        born_timestamp: m.born_timestamp,
        store_timestamp: m.store_timestamp,
        prepared_transaction_offset: m.prepared_transaction_offset,
        born_host: c_string(&m.born_host.to_string()),
        store_host: c_string(&m.store_host.to_string()),
        sys_flag: m.sys_flag,
        body_crc: m.body_crc,
    });
    o
}

pub(crate) fn send_status(s: SendStatus) -> CSendStatus {
    match s {
        SendStatus::SendOk => CSendStatus::E_SEND_OK,
        SendStatus::FlushDiskTimeout => CSendStatus::E_SEND_FLUSH_DISK_TIMEOUT,
        SendStatus::FlushSlaveTimeout => CSendStatus::E_SEND_FLUSH_SLAVE_TIMEOUT,
        SendStatus::SlaveNotAvailable => CSendStatus::E_SEND_SLAVE_NOT_AVAILABLE,
    }
}

pub(crate) fn to_c_send_result(r: &SendResult) -> CSendResult {
    let mut c = CSendResult {
        send_status: send_status(r.status),
        msg_id: [0; crate::c_common::MAX_MESSAGE_ID_LENGTH],
        offset: r.queue_offset,
    };
    copy_to_c_buf(&mut c.msg_id, &r.msg_id);
    c
}

pub(crate) fn to_c_queue(q: &MessageQueue) -> CMessageQueue {
    let mut c = CMessageQueue {
        topic: [0 as c_char; MAX_TOPIC_LENGTH],
        broker_name: [0 as c_char; MAX_BROKER_NAME_ID_LENGTH],
        queue_id: q.queue_id,
    };
    copy_to_c_buf(&mut c.topic, &q.topic);
    copy_to_c_buf(&mut c.broker_name, &q.broker_name);
    c
}

pub(crate) fn from_c_queue(c: &CMessageQueue) -> MessageQueue {
    MessageQueue {
        topic: read_c_buf(&c.topic),
        broker_name: read_c_buf(&c.broker_name),
        queue_id: c.queue_id,
    }
}

/// A client error as a status of the calling function's family plus its message.
pub(crate) fn client_error(status: CStatus) -> impl Fn(ClientError) -> FfiError + Copy {
    move |e| FfiError::new(status, e.to_string())
}
