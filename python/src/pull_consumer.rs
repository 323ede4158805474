//! `PullConsumer`: the core's lite pull consumer. Either subscribe (queues rebalanced among the
//! group, `poll`, offsets committed automatically or by `commit`) or read queues directly
//! (`pull` from an offset, `commit` offsets to the broker yourself).

use std::collections::HashMap;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use rocketmq::client::lite_pull_consumer::LitePullConfig;
use rocketmq::client::PullStatus;

use crate::convert::{self, QueueTuple};
use crate::options::Options;
use crate::received::ReceivedMessage;
use crate::wait;

/// PullStatus numbers (as in the original's unmerged PullConsumer): FOUND=0, NO_NEW_MSG=1,
/// NO_MATCHED_MSG=2, OFFSET_ILLEGAL=3.
fn status(s: PullStatus) -> i32 {
    match s {
        PullStatus::Found => 0,
        PullStatus::NoNewMsg => 1,
        PullStatus::NoMatchedMsg => 2,
        PullStatus::OffsetIllegal => 3,
    }
}

/// `(status, next_begin_offset, min_offset, max_offset, messages)`.
type PullTuple = (i32, i64, i64, i64, Vec<ReceivedMessage>);

#[pyclass(module = "rocketmq._native", frozen)]
pub struct PullConsumer {
    inner: rocketmq::client::LitePullConsumer,
}

fn err<'py>(
    py: Python<'py>,
    op: &'static str,
) -> impl Fn(rocketmq::client::ClientError) -> PyErr + 'py {
    move |e| convert::client_error(py, op, &e)
}

#[pymethods]
impl PullConsumer {
    #[new]
    fn new(py: Python<'_>, group: &str, options: &Bound<'_, PyDict>) -> PyResult<Self> {
        let mut o = Options::new(options);
        let consumer = o.consumer_config(group)?;
        let mut config = LitePullConfig {
            consumer,
            ..LitePullConfig::new("", group)
        };
        if let Some(auto) = o.get::<bool>("auto_commit")? {
            config.auto_commit = auto;
        }
        if let Some(ms) = o.get::<u64>("auto_commit_interval_ms")? {
            config.auto_commit_interval = Duration::from_millis(ms);
        }
        if let Some(n) = o.get::<i32>("poll_batch_size")? {
            config.pull_batch_size = n;
        }
        o.finish()?;
        let inner = rocketmq::client::LitePullConsumer::new(config)
            .map_err(err(py, "start_pull_consumer"))?;
        Ok(PullConsumer { inner })
    }

    #[getter]
    fn client_id(&self) -> &str {
        self.inner.client_id()
    }

    fn subscribe(&self, py: Python<'_>, topic: &str, expression: &str, sql: bool) -> PyResult<()> {
        let r = if sql {
            self.inner.subscribe_sql92(topic, expression)
        } else {
            self.inner.subscribe(topic, expression)
        };
        r.map_err(err(py, "start_pull_consumer"))
    }

    fn assign(&self, py: Python<'_>, queues: Vec<QueueTuple>) -> PyResult<()> {
        let c = self.inner.clone();
        let qs = queues.into_iter().map(convert::to_queue).collect();
        wait::block_on(py, async move { c.assign(qs).await })?.map_err(err(py, "consumer"))
    }

    fn start(&self, py: Python<'_>) -> PyResult<()> {
        let c = self.inner.clone();
        wait::block_on(py, async move { c.start().await })?.map_err(err(py, "start_pull_consumer"))
    }

    fn shutdown(&self, py: Python<'_>) -> PyResult<()> {
        let c = self.inner.clone();
        wait::block_on(py, async move { c.shutdown().await })
    }

    /// Messages of the subscribed or assigned queues, waiting up to `timeout_s` for some.
    fn poll(&self, py: Python<'_>, timeout_s: f64) -> PyResult<Vec<ReceivedMessage>> {
        let c = self.inner.clone();
        let t = Duration::from_secs_f64(timeout_s.max(0.0));
        let msgs = wait::block_on(py, async move { c.poll(t).await })?.map_err(err(py, "pull"))?;
        Ok(msgs.into_iter().map(ReceivedMessage::new).collect())
    }

    /// Commits, for every queue, the offset after the last message `poll` returned.
    fn commit_all(&self, py: Python<'_>) -> PyResult<()> {
        let c = self.inner.clone();
        wait::block_on(py, async move { c.commit_sync().await })?.map_err(err(py, "consumer"))
    }

    /// Commits these offsets ("next offset to consume") to the broker.
    fn commit(&self, py: Python<'_>, offsets: HashMap<QueueTuple, i64>) -> PyResult<()> {
        let c = self.inner.clone();
        let offsets = offsets
            .into_iter()
            .map(|(q, o)| (convert::to_queue(q), o))
            .collect();
        wait::block_on(py, async move { c.commit(offsets).await })?.map_err(err(py, "consumer"))
    }

    /// The group's committed offset of a queue, -1 if none.
    fn committed(&self, py: Python<'_>, queue: QueueTuple) -> PyResult<i64> {
        let c = self.inner.clone();
        let mq = convert::to_queue(queue);
        wait::block_on(py, async move { c.committed(&mq).await })
    }

    fn seek(&self, py: Python<'_>, queue: QueueTuple, offset: i64) -> PyResult<()> {
        let c = self.inner.clone();
        let mq = convert::to_queue(queue);
        wait::block_on(py, async move { c.seek(&mq, offset).await })?.map_err(err(py, "consumer"))
    }

    fn seek_to_begin(&self, py: Python<'_>, queue: QueueTuple) -> PyResult<()> {
        let c = self.inner.clone();
        let mq = convert::to_queue(queue);
        wait::block_on(py, async move { c.seek_to_begin(&mq).await })?.map_err(err(py, "consumer"))
    }

    fn seek_to_end(&self, py: Python<'_>, queue: QueueTuple) -> PyResult<()> {
        let c = self.inner.clone();
        let mq = convert::to_queue(queue);
        wait::block_on(py, async move { c.seek_to_end(&mq).await })?.map_err(err(py, "consumer"))
    }

    fn seek_to_timestamp(
        &self,
        py: Python<'_>,
        queue: QueueTuple,
        timestamp_ms: i64,
    ) -> PyResult<()> {
        let c = self.inner.clone();
        let mq = convert::to_queue(queue);
        wait::block_on(
            py,
            async move { c.seek_to_timestamp(&mq, timestamp_ms).await },
        )?
        .map_err(err(py, "consumer"))
    }

    fn pause(&self, queues: Vec<QueueTuple>) {
        let qs: Vec<_> = queues.into_iter().map(convert::to_queue).collect();
        self.inner.pause(&qs)
    }

    fn resume(&self, queues: Vec<QueueTuple>) {
        let qs: Vec<_> = queues.into_iter().map(convert::to_queue).collect();
        self.inner.resume(&qs)
    }

    fn assignment(&self) -> Vec<QueueTuple> {
        self.inner.assignment().iter().map(convert::queue).collect()
    }

    fn fetch_message_queues(&self, py: Python<'_>, topic: String) -> PyResult<Vec<QueueTuple>> {
        let c = self.inner.clone();
        let qs = wait::block_on(py, async move { c.fetch_message_queues(&topic).await })?
            .map_err(err(py, "consumer"))?;
        Ok(qs.iter().map(convert::queue).collect())
    }

    /// One pull of `queue` from `offset` (no offsets are read or committed).
    fn pull(
        &self,
        py: Python<'_>,
        queue: QueueTuple,
        expression: String,
        offset: i64,
        max_num: i32,
        timeout_s: f64,
    ) -> PyResult<PullTuple> {
        let c = self.inner.clone();
        let mq = convert::to_queue(queue);
        let t = Duration::from_secs_f64(timeout_s.max(0.0));
        let r = wait::block_on(py, async move {
            c.pull(&mq, &expression, offset, max_num, t).await
        })?
        .map_err(err(py, "pull"))?;
        Ok((
            status(r.status),
            r.next_begin_offset,
            r.min_offset,
            r.max_offset,
            r.msgs.into_iter().map(ReceivedMessage::new).collect(),
        ))
    }
}
