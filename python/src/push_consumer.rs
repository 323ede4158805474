//! `PushConsumer`: the core's push consumer with a Python listener.
//!
//! The listener runs on the core's consume threads; each call attaches to Python only while the
//! Python listener runs. The core's `shutdown` joins those threads (all but the caller's, when a
//! listener shuts its own consumer down), so no Python code of this consumer runs after it
//! returns.

use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use rocketmq::client::{
    ConsumeContext, ConsumeResult, MessageExt, MessageListener, SharedMessages,
};

use crate::convert::{self, QueueTuple};
use crate::options::Options;
use crate::received::ReceivedMessage;
use crate::wait;

/// Most deliveries handed to Python under one hold of the GIL, when more are queued than
/// consume threads are idle (see `MessageListener::consume_each`): taking the GIL once per
/// message made the consume threads queue for it.
const DELIVERIES_PER_GIL_HOLD: usize = 32;

/// The Python listener `listener(list[ReceivedMessage]) -> int` (0 = success; the Python layer
/// wraps user callbacks so that they always return a number).
struct PyListener(Py<PyAny>);

impl PyListener {
    fn call(&self, py: Python<'_>, msgs: &SharedMessages) -> ConsumeResult {
        let result = (0..msgs.len())
            .map(|i| Bound::new(py, ReceivedMessage::shared(msgs, i)))
            .collect::<PyResult<Vec<_>>>()
            .and_then(|wrapped| PyList::new(py, wrapped))
            .and_then(|list| self.0.call1(py, (list,))?.extract::<i32>(py));
        match result {
            Ok(0) => ConsumeResult::Success,
            Ok(_) => ConsumeResult::ReconsumeLater,
            Err(e) => {
                e.write_unraisable(py, None);
                ConsumeResult::ReconsumeLater
            }
        }
    }
}

impl MessageListener for PyListener {
    /// Orderly deliveries (not shared by the core): the Python objects get copies.
    fn consume(&self, msgs: &[MessageExt], _ctx: &ConsumeContext) -> ConsumeResult {
        let msgs: SharedMessages = msgs.into();
        crate::attach::try_attach(|py| self.call(py, &msgs))
            .unwrap_or(ConsumeResult::ReconsumeLater)
    }

    fn consume_each(
        &self,
        deliveries: &[(&SharedMessages, &ConsumeContext)],
    ) -> Vec<ConsumeResult> {
        crate::attach::try_attach(|py| {
            deliveries
                .iter()
                .map(|(msgs, _)| self.call(py, msgs))
                .collect()
        })
        .unwrap_or_else(|| vec![ConsumeResult::ReconsumeLater; deliveries.len()])
    }

    fn max_deliveries_per_call(&self) -> usize {
        DELIVERIES_PER_GIL_HOLD
    }
}

#[pyclass(module = "rocketmq._native", frozen)]
pub struct PushConsumer {
    inner: rocketmq::client::PushConsumer,
}

#[pymethods]
impl PushConsumer {
    #[new]
    fn new(py: Python<'_>, group: &str, options: &Bound<'_, PyDict>) -> PyResult<Self> {
        let mut o = Options::new(options);
        let config = o.consumer_config(group)?;
        o.finish()?;
        let inner = rocketmq::client::PushConsumer::new(config)
            .map_err(|e| convert::client_error(py, "start_push_consumer", &e))?;
        Ok(PushConsumer { inner })
    }

    #[getter]
    fn client_id(&self) -> &str {
        self.inner.client_id()
    }

    /// A tag expression, or an SQL92 expression if `sql`.
    fn subscribe(&self, py: Python<'_>, topic: &str, expression: &str, sql: bool) -> PyResult<()> {
        let r = if sql {
            self.inner.subscribe_sql92(topic, expression)
        } else {
            self.inner.subscribe(topic, expression)
        };
        r.map_err(|e| convert::client_error(py, "start_push_consumer", &e))
    }

    fn unsubscribe(&self, topic: &str) {
        self.inner.unsubscribe(topic)
    }

    fn set_listener(&self, listener: Py<PyAny>, orderly: bool) {
        if orderly {
            self.inner
                .register_message_listener_orderly(PyListener(listener));
        } else {
            self.inner
                .register_message_listener_concurrently(PyListener(listener));
        }
    }

    fn start(&self, py: Python<'_>) -> PyResult<()> {
        let c = self.inner.clone();
        wait::block_on(py, async move { c.start().await })?
            .map_err(|e| convert::client_error(py, "start_push_consumer", &e))
    }

    /// Stops consuming and commits offsets, then waits up to `drain_timeout_s` for listener
    /// calls still running. Returns whether they all finished.
    fn shutdown(&self, py: Python<'_>, drain_timeout_s: f64) -> PyResult<bool> {
        let c = self.inner.clone();
        let timeout = Duration::from_secs_f64(drain_timeout_s.max(0.0));
        wait::block_on(py, async move { c.shutdown_within(timeout).await })
    }

    fn suspend(&self) {
        self.inner.suspend()
    }

    fn resume(&self) {
        self.inner.resume()
    }

    fn assigned_queues(&self) -> Vec<QueueTuple> {
        self.inner
            .assigned_queues()
            .iter()
            .map(convert::queue)
            .collect()
    }

    fn rebalance_now(&self) {
        self.inner.rebalance_now()
    }

    fn persist_offsets(&self, py: Python<'_>) -> PyResult<()> {
        let c = self.inner.clone();
        wait::block_on(py, async move { c.persist_offsets().await })?
            .map_err(|e| convert::client_error(py, "consumer", &e))
    }
}
