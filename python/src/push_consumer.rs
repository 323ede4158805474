//! `PushConsumer`: the core's push consumer with a Python listener.
//!
//! The listener runs on the core's consume threads; each call attaches to Python only while the
//! Python listener runs. `shutdown` stops the core consumer, then refuses further deliveries and
//! waits for listener calls still running, so no Python code of this consumer runs after it
//! returns (the core's consume threads themselves are detached: see the report on core).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use rocketmq::client::{ConsumeContext, ConsumeResult, MessageExt};

use crate::convert::{self, QueueTuple};
use crate::options::Options;
use crate::received::ReceivedMessage;
use crate::wait;

/// Listener calls of one consumer: refused once closed, counted while running.
#[derive(Default)]
pub struct Inflight {
    closed: AtomicBool,
    running: Mutex<usize>,
    idle: Condvar,
}

pub struct InflightGuard<'a>(&'a Inflight);

impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        let mut n = self.0.running.lock().unwrap_or_else(|e| e.into_inner());
        *n -= 1;
        if *n == 0 {
            self.0.idle.notify_all();
        }
    }
}

impl Inflight {
    /// Enters a listener call, unless closed.
    pub fn enter(&self) -> Option<InflightGuard<'_>> {
        let mut n = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if self.closed.load(Ordering::SeqCst) {
            return None;
        }
        *n += 1;
        Some(InflightGuard(self))
    }

    /// Refuses new calls and waits (GIL released, interruptibly) up to `timeout` for running
    /// ones; returns whether all finished.
    pub fn close_and_wait(&self, py: Python<'_>, timeout: Duration) -> PyResult<bool> {
        {
            let _n = self.running.lock().unwrap_or_else(|e| e.into_inner());
            self.closed.store(true, Ordering::SeqCst);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let idle = py.detach(|| {
                let n = self.running.lock().unwrap_or_else(|e| e.into_inner());
                let (n, _) = self
                    .idle
                    .wait_timeout_while(n, Duration::from_millis(50), |n| *n > 0)
                    .unwrap_or_else(|e| e.into_inner());
                *n == 0
            });
            if idle {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            py.check_signals()?;
        }
    }
}

/// Calls the Python listener `listener(list[ReceivedMessage]) -> int` (0 = success; the Python
/// layer wraps user callbacks so that they always return a number).
fn consume(
    inflight: &Inflight,
    listener: &Py<PyAny>,
    msgs: &[MessageExt],
    _ctx: &ConsumeContext,
) -> ConsumeResult {
    let Some(_guard) = inflight.enter() else {
        return ConsumeResult::ReconsumeLater;
    };
    Python::try_attach(|py| {
        let list = PyList::new(
            py,
            msgs.iter()
                .map(|m| Bound::new(py, ReceivedMessage::from_ext(m)))
                .collect::<PyResult<Vec<_>>>()?,
        )?;
        listener.call1(py, (list,))?.extract::<i32>(py)
    })
    .map(|r| match r {
        Ok(0) => ConsumeResult::Success,
        Ok(_) => ConsumeResult::ReconsumeLater,
        Err(e) => {
            Python::try_attach(|py| e.write_unraisable(py, None));
            ConsumeResult::ReconsumeLater
        }
    })
    .unwrap_or(ConsumeResult::ReconsumeLater)
}

#[pyclass(module = "rocketmq._native", frozen)]
pub struct PushConsumer {
    inner: rocketmq::client::PushConsumer,
    inflight: Arc<Inflight>,
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
        Ok(PushConsumer {
            inner,
            inflight: Arc::new(Inflight::default()),
        })
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
        let inflight = self.inflight.clone();
        let f = move |msgs: &[MessageExt], ctx: &ConsumeContext| {
            consume(&inflight, &listener, msgs, ctx)
        };
        if orderly {
            self.inner.register_message_listener_orderly(f);
        } else {
            self.inner.register_message_listener_concurrently(f);
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
        wait::block_on(py, async move { c.shutdown().await })?;
        self.inflight
            .close_and_wait(py, Duration::from_secs_f64(drain_timeout_s.max(0.0)))
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
