//! `ReceivedMessage`: a consumed (or stored) message, owned by the Python object.
//!
//! The original wrapped a pointer borrowed from C++ for the duration of a callback, so keeping
//! a message past the callback was a use-after-free. Here every field is copied out once and
//! the object lives as long as Python holds it.
//!
//! Types follow the original exactly: `topic` and `id` are `str`; `body`, `tags`, `keys` and
//! `get_property(...)` are `bytes` (a missing property is `b''`).

use std::collections::HashMap;
use std::net::SocketAddr;

use bytes::Bytes;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use rocketmq::protocol::ids::offset_msg_id;
use rocketmq::protocol::message::{property, MessageRecord};

#[pyclass(module = "rocketmq.client", frozen)]
pub struct ReceivedMessage {
    pub topic: String,
    pub flag: i32,
    pub body: Bytes,
    pub properties: HashMap<String, String>,
    /// `UNIQ_KEY` if the producer set one, else the offset message id (what the original
    /// returned as `id`).
    pub msg_id: String,
    pub offset_msg_id: String,
    pub broker_name: String,
    pub queue_id: i32,
    pub queue_offset: i64,
    pub commit_log_offset: i64,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: SocketAddr,
    pub store_timestamp: i64,
    pub store_host: SocketAddr,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
    pub store_size: i32,
}

impl ReceivedMessage {
    /// From a record as the store holds it. The body is left as stored (compressed bodies are
    /// not inflated: this view is for looking inside a broker).
    pub fn from_record(rec: MessageRecord, broker_name: &str) -> Self {
        let properties = rec.properties_map();
        let offset_id = offset_msg_id(&rec.store_host, rec.physical_offset);
        let msg_id = properties
            .get(property::UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
            .cloned()
            .unwrap_or_else(|| offset_id.clone());
        let store_size = rec.encoded_len() as i32;
        ReceivedMessage {
            topic: rec.topic,
            flag: rec.flag,
            body: rec.body,
            properties,
            msg_id,
            offset_msg_id: offset_id,
            broker_name: broker_name.to_string(),
            queue_id: rec.queue_id,
            queue_offset: rec.queue_offset,
            commit_log_offset: rec.physical_offset,
            sys_flag: rec.sys_flag,
            born_timestamp: rec.born_timestamp,
            born_host: rec.born_host,
            store_timestamp: rec.store_timestamp,
            store_host: rec.store_host,
            reconsume_times: rec.reconsume_times,
            prepared_transaction_offset: rec.prepared_transaction_offset,
            store_size,
        }
    }

    fn prop_bytes<'py>(&self, py: Python<'py>, key: &str) -> Bound<'py, PyBytes> {
        let v = self.properties.get(key).map(String::as_str).unwrap_or("");
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
        &self.topic
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
        PyBytes::new(py, &self.body)
    }
    #[getter]
    fn id(&self) -> &str {
        &self.msg_id
    }
    #[getter]
    fn offset_msg_id(&self) -> &str {
        &self.offset_msg_id
    }
    #[getter]
    fn delay_time_level(&self) -> i32 {
        self.properties
            .get(property::DELAY_TIME_LEVEL)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
    #[getter]
    fn queue_id(&self) -> i32 {
        self.queue_id
    }
    #[getter]
    fn broker_name(&self) -> &str {
        &self.broker_name
    }
    #[getter]
    fn reconsume_times(&self) -> i32 {
        self.reconsume_times
    }
    #[getter]
    fn store_size(&self) -> i32 {
        self.store_size
    }
    #[getter]
    fn born_timestamp(&self) -> i64 {
        self.born_timestamp
    }
    #[getter]
    fn store_timestamp(&self) -> i64 {
        self.store_timestamp
    }
    #[getter]
    fn born_host(&self) -> String {
        self.born_host.to_string()
    }
    #[getter]
    fn store_host(&self) -> String {
        self.store_host.to_string()
    }
    #[getter]
    fn queue_offset(&self) -> i64 {
        self.queue_offset
    }
    #[getter]
    fn commit_log_offset(&self) -> i64 {
        self.commit_log_offset
    }
    #[getter]
    fn prepared_transaction_offset(&self) -> i64 {
        self.prepared_transaction_offset
    }
    #[getter]
    fn flag(&self) -> i32 {
        self.flag
    }
    #[getter]
    fn sys_flag(&self) -> i32 {
        self.sys_flag
    }
    /// All user and system properties, as `str` (an addition: the original had no way to list
    /// them).
    #[getter]
    fn properties<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in &self.properties {
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
        String::from_utf8(self.body.to_vec()).map_err(|e| {
            let start = e.utf8_error().valid_up_to();
            pyo3::exceptions::PyUnicodeDecodeError::new_err((
                "utf-8",
                self.body.to_vec(),
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
        let topic = self.topic.clone().into_pyobject(py)?.repr()?;
        let id = self.msg_id.clone().into_pyobject(py)?.repr()?;
        let body = self.body(py).repr()?;
        Ok(format!(
            "<ReceivedMessage topic={topic} id={id} body={body}>"
        ))
    }
}
