//! `Producer` and `TransactionProducer`: the core's producers, built at `start()` from the
//! settings the Python class collected.

use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use rocketmq::client::{
    ClientError, LocalTransactionState, Message, MessageExt, ProducerConfig, SendResult,
    TransactionListener,
};

use crate::completions::Completions;
use crate::convert::{self, MessageParts};
use crate::options::Options;
use crate::received::ReceivedMessage;
use crate::wait;

fn producer_config(group: &str, options: &Bound<'_, PyDict>) -> PyResult<ProducerConfig> {
    let mut o = Options::new(options);
    let mut c = ProducerConfig {
        client: o.client_config()?,
        group: group.to_string(),
        ..Default::default()
    };
    if let Some(ms) = o.get::<u64>("send_timeout_ms")? {
        c.send_timeout = Duration::from_millis(ms);
    }
    if let Some(level) = o.get::<u32>("compress_level")? {
        c.compress_level = level;
    }
    if let Some(n) = o.get::<usize>("compress_over_bytes")? {
        c.compress_over_bytes = n;
    }
    if let Some(n) = o.get::<usize>("max_message_size")? {
        c.max_message_bytes = n;
    }
    if let Some(n) = o.get::<u32>("retry_times")? {
        c.retry_times_when_send_failed = n;
        c.retry_times_when_send_async_failed = n;
    }
    o.finish()?;
    Ok(c)
}

#[pyclass(module = "rocketmq._native", frozen)]
pub struct Producer {
    inner: rocketmq::client::Producer,
}

#[pymethods]
impl Producer {
    #[new]
    fn new(py: Python<'_>, group: &str, options: &Bound<'_, PyDict>) -> PyResult<Self> {
        let config = producer_config(group, options)?;
        let inner = rocketmq::client::Producer::new(config)
            .map_err(|e| convert::client_error(py, "start_producer", &e))?;
        Ok(Producer { inner })
    }

    #[getter]
    fn client_id(&self) -> &str {
        self.inner.client_id()
    }

    fn start(&self, py: Python<'_>) -> PyResult<()> {
        let p = self.inner.clone();
        wait::block_on(py, async move { p.start().await })?
            .map_err(|e| convert::client_error(py, "start_producer", &e))
    }

    fn shutdown(&self, py: Python<'_>) -> PyResult<()> {
        let p = self.inner.clone();
        wait::block_on(py, async move { p.shutdown().await })
    }

    fn send_sync(&self, py: Python<'_>, msg: MessageParts) -> PyResult<Py<PyAny>> {
        let p = self.inner.clone();
        let msg = convert::message(msg);
        let r = wait::block_on(py, async move { p.send(msg).await })?;
        result(py, "send_sync", r)
    }

    fn send_oneway(&self, py: Python<'_>, msg: MessageParts) -> PyResult<()> {
        let p = self.inner.clone();
        let msg = convert::message(msg);
        wait::block_on(py, async move { p.send_oneway(msg).await })?
            .map_err(|e| convert::client_error(py, "send_oneway", &e))
    }

    fn send_orderly(
        &self,
        py: Python<'_>,
        msg: MessageParts,
        sharding_key: String,
    ) -> PyResult<Py<PyAny>> {
        let p = self.inner.clone();
        let msg = convert::message(msg);
        let r = wait::block_on(py, async move { p.send_orderly(msg, &sharding_key).await })?;
        result(py, "send_orderly", r)
    }

    fn send_to_queue(
        &self,
        py: Python<'_>,
        msg: MessageParts,
        queue: convert::QueueTuple,
    ) -> PyResult<Py<PyAny>> {
        let p = self.inner.clone();
        let msg = convert::message(msg);
        let mq = convert::to_queue(queue);
        let r = wait::block_on(py, async move { p.send_to_queue(msg, &mq).await })?;
        result(py, "send_sync", r)
    }

    fn send_batch(&self, py: Python<'_>, msgs: Vec<MessageParts>) -> PyResult<Py<PyAny>> {
        let p = self.inner.clone();
        let msgs: Vec<Message> = msgs.into_iter().map(convert::message).collect();
        let r = wait::block_on(py, async move { p.send_batch(msgs).await })?;
        result(py, "send_batch", r)
    }

    /// Returns at once; `callback(result_tuple, None)` or `callback(None, exception)` runs on a
    /// client thread when the send completes.
    fn send_async(&self, py: Python<'_>, msg: MessageParts, callback: Py<PyAny>) -> PyResult<()> {
        let msg = convert::message(msg);
        let done = move |r: Result<SendResult, ClientError>| {
            // Nobody is left to tell once the interpreter is going away.
            crate::attach::try_attach(|py| {
                let args = match &r {
                    Ok(sr) => match convert::send_result(py, sr) {
                        Ok(obj) => (Some(obj), None),
                        Err(e) => (None, Some(e)),
                    },
                    Err(e) => (None, Some(convert::client_error(py, "send_async", e))),
                };
                if let Err(e) = callback.call1(py, args) {
                    e.write_unraisable(py, None);
                }
            });
        };
        let _guard = rocketmq::client::blocking::runtime().enter();
        self.inner
            .send_with_callback(msg, done)
            .map_err(|e| convert::client_error(py, "send_async", &e))
    }

    /// Returns at once; the outcome of the send is queued in `completions` under `token`
    /// (`rocketmq.aio`: the event loop resolves its future from there). With `start_here`,
    /// the request is written on this thread before returning (worth it when nothing else is
    /// in flight: it saves a hand-off to a runtime thread; with sends in flight, the runtime
    /// writes them together more cheaply).
    fn send_async_into(
        &self,
        py: Python<'_>,
        msg: MessageParts,
        completions: &Bound<'_, Completions>,
        token: u64,
        start_here: bool,
    ) -> PyResult<()> {
        let msg = convert::message(msg);
        let shared = completions.get().shared();
        let _guard = rocketmq::client::blocking::runtime().enter();
        let done = move |r| shared.push(token, r);
        if start_here {
            self.inner.send_with_callback_started_here(msg, done)
        } else {
            self.inner.send_with_callback(msg, done)
        }
        .map_err(|e| convert::client_error(py, "send_async", &e))
    }

    /// The writable queues of a topic, as (topic, broker_name, queue_id).
    fn fetch_publish_queues(
        &self,
        py: Python<'_>,
        topic: String,
    ) -> PyResult<Vec<convert::QueueTuple>> {
        let p = self.inner.clone();
        let r = wait::block_on(py, async move { p.fetch_publish_queues(&topic).await })?;
        r.map(|qs| qs.iter().map(convert::queue).collect())
            .map_err(|e| convert::client_error(py, "producer", &e))
    }
}

fn result(py: Python<'_>, op: &str, r: Result<SendResult, ClientError>) -> PyResult<Py<PyAny>> {
    match r {
        Ok(sr) => convert::send_result(py, &sr),
        Err(e) => Err(convert::client_error(py, op, &e)),
    }
}

/// The Python `TransactionStatus` numbers: COMMIT=0, ROLLBACK=1, UNKNOWN=2.
fn transaction_state(v: i32) -> LocalTransactionState {
    match v {
        0 => LocalTransactionState::CommitMessage,
        1 => LocalTransactionState::RollbackMessage,
        _ => LocalTransactionState::Unknown,
    }
}

/// Calls a Python callable that returns a `TransactionStatus` number (the Python layer wraps
/// user callbacks so that they always do). Anything else, or no interpreter, is UNKNOWN: the
/// broker will ask again.
fn call_for_state<A>(callable: &Py<PyAny>, args: A) -> LocalTransactionState
where
    A: for<'py> pyo3::call::PyCallArgs<'py>,
{
    crate::attach::try_attach(|py| match callable.call1(py, args) {
        Ok(v) => v
            .extract::<i32>(py)
            .map(transaction_state)
            .unwrap_or_else(|e| {
                e.write_unraisable(py, None);
                LocalTransactionState::Unknown
            }),
        Err(e) => {
            e.write_unraisable(py, None);
            LocalTransactionState::Unknown
        }
    })
    .unwrap_or(LocalTransactionState::Unknown)
}

/// Answers the broker's transaction checks with the Python checker.
struct Checker {
    check: Py<PyAny>,
}

impl TransactionListener for Checker {
    fn execute_local_transaction(&self, _msg: &Message, _r: &SendResult) -> LocalTransactionState {
        // Every send passes its own local transaction (`send_message_in_transaction_with`).
        LocalTransactionState::Unknown
    }

    fn check_local_transaction(&self, msg: &MessageExt) -> LocalTransactionState {
        call_for_state(&self.check, (ReceivedMessage::from_ext(msg),))
    }
}

#[pyclass(module = "rocketmq._native", frozen)]
pub struct TransactionProducer {
    inner: rocketmq::client::TransactionProducer,
}

#[pymethods]
impl TransactionProducer {
    /// `check(ReceivedMessage) -> int` answers the broker's checks, on a client thread.
    #[new]
    fn new(
        py: Python<'_>,
        group: &str,
        options: &Bound<'_, PyDict>,
        check: Py<PyAny>,
    ) -> PyResult<Self> {
        let config = producer_config(group, options)?;
        let inner = rocketmq::client::TransactionProducer::new(config, Arc::new(Checker { check }))
            .map_err(|e| convert::client_error(py, "start_producer", &e))?;
        Ok(TransactionProducer { inner })
    }

    #[getter]
    fn client_id(&self) -> &str {
        self.inner.producer().client_id()
    }

    fn start(&self, py: Python<'_>) -> PyResult<()> {
        let p = self.inner.clone();
        wait::block_on(py, async move { p.start().await })?
            .map_err(|e| convert::client_error(py, "start_producer", &e))
    }

    fn shutdown(&self, py: Python<'_>) -> PyResult<()> {
        let p = self.inner.clone();
        wait::block_on(py, async move { p.shutdown().await })
    }

    /// Sends the half message, runs `local(ReceivedMessage, user_args) -> int` on this thread,
    /// and ends the transaction accordingly. Returns the half message's send result.
    fn send_message_in_transaction(
        &self,
        py: Python<'_>,
        msg: MessageParts,
        local: Py<PyAny>,
        user_args: Py<PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let p = self.inner.clone();
        let msg = convert::message(msg);
        let r = wait::block_on(py, async move {
            p.send_message_in_transaction_with(msg, move |m, r| {
                call_for_state(&local, (ReceivedMessage::from_sent(m, r), user_args))
            })
            .await
        })?;
        result(py, "send_transaction", r.map(|t| t.send_result))
    }

    /// Plain sends from the transaction producer's group (the original crashed on these).
    fn send_sync(&self, py: Python<'_>, msg: MessageParts) -> PyResult<Py<PyAny>> {
        let p = self.inner.producer().clone();
        let msg = convert::message(msg);
        let r = wait::block_on(py, async move { p.send(msg).await })?;
        result(py, "send_sync", r)
    }

    fn send_oneway(&self, py: Python<'_>, msg: MessageParts) -> PyResult<()> {
        let p = self.inner.producer().clone();
        let msg = convert::message(msg);
        wait::block_on(py, async move { p.send_oneway(msg).await })?
            .map_err(|e| convert::client_error(py, "send_oneway", &e))
    }

    fn send_orderly(
        &self,
        py: Python<'_>,
        msg: MessageParts,
        sharding_key: String,
    ) -> PyResult<Py<PyAny>> {
        let p = self.inner.producer().clone();
        let msg = convert::message(msg);
        let r = wait::block_on(py, async move { p.send_orderly(msg, &sharding_key).await })?;
        result(py, "send_orderly", r)
    }
}
