//! Messages, results and queues between Python and the core.
//!
//! A Python `Message` crosses as a tuple `(topic, body, properties, flag)` (see
//! `Message._parts()` in `client.py`); a send result comes back as a tuple that `client.py` turns
//! into its `SendResult`; a queue is `(topic, broker_name, queue_id)`.

use std::collections::HashMap;

use bytes::Bytes;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyString, PyTuple, PyType};
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

/// What `client.py` builds its `SendResult`s from: the class (a 3-tuple subclass) and the
/// `SendStatus` members by number. Registered once, at import (`set_send_result_type`).
struct SendResultType {
    class: Py<PyType>,
    statuses: Vec<Py<PyAny>>,
    tuple_new: Py<PyAny>,
}

static SEND_RESULT_TYPE: PyOnceLock<SendResultType> = PyOnceLock::new();

/// Registers `client.SendResult` and the `SendStatus` members in number order (OK=0,
/// FLUSH_DISK_TIMEOUT=1, FLUSH_SLAVE_TIMEOUT=2, SLAVE_NOT_AVAILABLE=3).
#[pyfunction]
pub fn set_send_result_type(
    py: Python<'_>,
    class: Bound<'_, PyType>,
    statuses: Vec<Py<PyAny>>,
) -> PyResult<()> {
    if statuses.len() != 4 {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "four SendStatus members expected",
        ));
    }
    let tuple_new = py.get_type::<PyTuple>().getattr("__new__")?.unbind();
    let _ = SEND_RESULT_TYPE.set(
        py,
        SendResultType {
            class: class.unbind(),
            statuses,
            tuple_new,
        },
    );
    Ok(())
}

/// A `client.SendResult`: `(status, msg_id, offset)` with `offset_msg_id`, `queue_id`,
/// `broker_name` and `transaction_id` as attributes. Built here, not in Python: it is built
/// once per send, right after the send has left the caches cold, where the same steps took
/// ~4 µs as bytecode and take ~3 µs here (1 sender, 2-core VM).
pub fn send_result(py: Python<'_>, r: &SendResult) -> PyResult<Py<PyAny>> {
    let t = SEND_RESULT_TYPE.get(py).ok_or_else(|| {
        pyo3::exceptions::PyRuntimeError::new_err("rocketmq.client is not imported")
    })?;
    let status = match r.status {
        SendStatus::SendOk => 0,
        SendStatus::FlushDiskTimeout => 1,
        SendStatus::FlushSlaveTimeout => 2,
        SendStatus::SlaveNotAvailable => 3,
    };
    let items = PyTuple::new(
        py,
        [
            t.statuses[status].bind(py).clone(),
            PyString::new(py, &r.msg_id).into_any(),
            r.queue_offset.into_pyobject(py)?.into_any(),
        ],
    )?;
    let obj = t.tuple_new.bind(py).call1((t.class.bind(py), items))?;
    obj.setattr(intern!(py, "offset_msg_id"), &r.offset_msg_id)?;
    obj.setattr(intern!(py, "queue_id"), r.message_queue.queue_id)?;
    obj.setattr(intern!(py, "broker_name"), &r.message_queue.broker_name)?;
    obj.setattr(intern!(py, "transaction_id"), r.transaction_id.as_deref())?;
    Ok(obj.unbind())
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
