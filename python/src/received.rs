//! `ReceivedMessage`: a consumed (or stored) message, owned by the Python object.
//!
//! The original wrapped a pointer borrowed from C++ for the duration of a callback, so keeping
//! a message past the callback was a use-after-free. Here it holds the core's `MessageExt` and
//! the object lives as long as Python holds it. A consumed message is not copied: the object
//! shares its delivery with the consumer (and with the delivery's other messages), so keeping
//! one keeps its delivery — at most the consumer's batch size of messages — alive.
//!
//! Types follow the original exactly: `topic` and `id` are `str`; `body`, `tags`, `keys` and
//! `get_property(...)` are `bytes` (a missing property is `b''`).

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use rocketmq::client::{MessageExt, SharedMessages};
use rocketmq::protocol::message::{property, MessageRecord};

#[pyclass(module = "rocketmq.client", frozen)]
pub struct ReceivedMessage {
    /// The message is `batch[index]`. Its `msg_id` is `UNIQ_KEY` if the producer set one, else
    /// the offset message id (what the original returned as `id`).
    batch: SharedMessages,
    index: usize,
}

impl ReceivedMessage {
    pub fn new(m: MessageExt) -> Self {
        ReceivedMessage {
            batch: Arc::new([m]),
            index: 0,
        }
    }

    /// Message `index` of a delivery, sharing it.
    pub fn shared(batch: &SharedMessages, index: usize) -> Self {
        assert!(
            index < batch.len(),
            "message {index} of a delivery of {}",
            batch.len()
        );
        ReceivedMessage {
            batch: batch.clone(),
            index,
        }
    }

    fn m(&self) -> &MessageExt {
        &self.batch[self.index]
    }

    /// From a record as the store holds it. The body is left as stored (compressed bodies are
    /// not inflated: this view is for looking inside a broker).
    pub fn from_record(rec: MessageRecord, broker_name: &str) -> Self {
        ReceivedMessage::new(MessageExt::from_record_as_stored(rec, broker_name))
    }

    fn prop_bytes<'py>(&self, py: Python<'py>, key: &str) -> Bound<'py, PyBytes> {
        let v = self
            .m()
            .properties
            .get(key)
            .map(String::as_str)
            .unwrap_or("");
        PyBytes::new(py, v.as_bytes())
    }
}

/// A property name given as a `MessageProperty` member (its `.value`), `str` or `bytes`.
fn property_name(prop: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = prop.extract::<String>() {
        return Ok(s);
    }
    if let Ok(b) = prop.cast::<PyBytes>() {
        return Ok(String::from_utf8_lossy(b.as_bytes()).into_owned());
    }
    if let Ok(v) = prop.getattr("value") {
        return property_name(&v);
    }
    Err(pyo3::exceptions::PyTypeError::new_err(format!(
        "a property name is a str, bytes or MessageProperty, not {}",
        prop.get_type().name()?
    )))
}

#[pymethods]
impl ReceivedMessage {
    #[getter]
    fn topic(&self) -> &str {
        &self.m().topic
    }
    #[getter]
    fn tags<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        self.prop_bytes(py, property::TAGS)
    }
    #[getter]
    fn keys<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        self.prop_bytes(py, property::KEYS)
    }
    #[getter]
    fn body<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.m().body)
    }
    #[getter]
    fn id(&self) -> &str {
        &self.m().msg_id
    }
    #[getter]
    fn offset_msg_id(&self) -> &str {
        &self.m().offset_msg_id
    }
    #[getter]
    fn delay_time_level(&self) -> i32 {
        self.m()
            .properties
            .get(property::DELAY_TIME_LEVEL)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
    #[getter]
    fn queue_id(&self) -> i32 {
        self.m().queue_id
    }
    #[getter]
    fn broker_name(&self) -> &str {
        &self.m().broker_name
    }
    #[getter]
    fn reconsume_times(&self) -> i32 {
        self.m().reconsume_times
    }
    #[getter]
    fn store_size(&self) -> i32 {
        self.m().store_size
    }
    #[getter]
    fn born_timestamp(&self) -> i64 {
        self.m().born_timestamp
    }
    #[getter]
    fn store_timestamp(&self) -> i64 {
        self.m().store_timestamp
    }
    #[getter]
    fn born_host(&self) -> String {
        self.m().born_host.to_string()
    }
    #[getter]
    fn store_host(&self) -> String {
        self.m().store_host.to_string()
    }
    #[getter]
    fn queue_offset(&self) -> i64 {
        self.m().queue_offset
    }
    #[getter]
    fn commit_log_offset(&self) -> i64 {
        self.m().commit_log_offset
    }
    #[getter]
    fn prepared_transaction_offset(&self) -> i64 {
        self.m().prepared_transaction_offset
    }
    #[getter]
    fn flag(&self) -> i32 {
        self.m().flag
    }
    #[getter]
    fn sys_flag(&self) -> i32 {
        self.m().sys_flag
    }
    /// All user and system properties, as `str` (an addition: the original had no way to list
    /// them).
    #[getter]
    fn properties<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in &self.m().properties {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    fn get_property<'py>(
        &self,
        py: Python<'py>,
        prop: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        Ok(self.prop_bytes(py, &property_name(prop)?))
    }

    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        self.get_property(py, key)
    }

    fn __str__(&self) -> PyResult<String> {
        String::from_utf8(self.m().body.to_vec()).map_err(|e| {
            let start = e.utf8_error().valid_up_to();
            pyo3::exceptions::PyUnicodeDecodeError::new_err((
                "utf-8",
                self.m().body.to_vec(),
                start,
                start + 1,
                "invalid utf-8 in message body",
            ))
        })
    }

    fn __bytes__<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        self.body(py)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let topic = self.m().topic.clone().into_pyobject(py)?.repr()?;
        let id = self.m().msg_id.clone().into_pyobject(py)?.repr()?;
        let body = self.body(py).repr()?;
        Ok(format!(
            "<ReceivedMessage topic={topic} id={id} body={body}>"
        ))
    }
}
