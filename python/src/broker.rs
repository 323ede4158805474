//! `EmbeddedBroker`: a name server and a broker in this process (`rocketmq::embedded`), plus a
//! look inside them that needs no wire: topics, queue offsets, a group's committed offsets and
//! the stored messages of a queue. `rocketmq.broker.Broker` is the public face.
//!
//! The broker runs on a tokio runtime of its own, so its threads stop (and are joined) when the
//! broker is shut down, whatever clients in the process do.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use rocketmq::broker::BrokerInner;
use rocketmq::embedded::{EmbeddedCluster, EmbeddedConfig};
use rocketmq::protocol::bodies::{SubscriptionGroupConfig, TopicConfig, PERM_READ, PERM_WRITE};
use rocketmq::protocol::message::MessageRecord;
use rocketmq::store::AcceptAll;

use crate::errors;
use crate::received::ReceivedMessage;
use crate::wait;

/// Worker threads of a broker's runtime: the machines this runs on in tests are small, and an
/// embedded broker serves a handful of local clients.
const BROKER_WORKER_THREADS: usize = 2;
/// How long shutdown waits for the runtime's remaining tasks before dropping them.
const RUNTIME_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// Most messages `messages()` returns in one call, whatever is asked.
const MAX_MESSAGES_PER_READ: i32 = 1024;

struct Running {
    runtime: tokio::runtime::Runtime,
    cluster: EmbeddedCluster,
}

#[pyclass(module = "rocketmq._native", frozen)]
pub struct EmbeddedBroker {
    running: Mutex<Option<Running>>,
    namesrv_addr: String,
    broker_addr: String,
    store_dir: PathBuf,
}

impl EmbeddedBroker {
    /// The running broker's shared state and a handle on its runtime.
    fn inner(&self, py: Python<'_>) -> PyResult<(Arc<BrokerInner>, tokio::runtime::Handle)> {
        let guard = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let running = guard
            .as_ref()
            .ok_or_else(|| errors::broker(py, "the broker is shut down"))?;
        let broker = running
            .cluster
            .broker()
            .ok_or_else(|| errors::broker(py, "the broker is shut down"))?;
        Ok((broker.inner().clone(), running.runtime.handle().clone()))
    }

    fn stop(&self) -> Option<Running> {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

impl Drop for EmbeddedBroker {
    /// A broker Python forgot to shut down still stops cleanly (offsets persisted, store closed,
    /// temporary store removed).
    fn drop(&mut self) {
        if let Some(Running { runtime, cluster }) = self.stop() {
            runtime.block_on(cluster.shutdown());
            runtime.shutdown_timeout(RUNTIME_SHUTDOWN_TIMEOUT);
        }
    }
}

#[pymethods]
impl EmbeddedBroker {
    /// Starts both servers and returns once clients can use the name server address.
    #[staticmethod]
    #[pyo3(signature = (store_dir, keep, namesrv_port, broker_port, host, properties, small_store))]
    #[allow(clippy::too_many_arguments)]
    fn start(
        py: Python<'_>,
        store_dir: Option<PathBuf>,
        keep: bool,
        namesrv_port: u16,
        broker_port: u16,
        host: &str,
        properties: String,
        small_store: bool,
    ) -> PyResult<EmbeddedBroker> {
        let ip: IpAddr = host.parse().map_err(|_| {
            pyo3::exceptions::PyValueError::new_err(format!(
                "host must be an IP address such as 127.0.0.1, not {host:?}"
            ))
        })?;
        let config = EmbeddedConfig {
            store_dir,
            keep_store: keep,
            namesrv_port,
            broker_port,
            listen_ip: ip,
            broker_ip: ip,
            broker_properties: properties,
            small_store,
        };
        // Its threads must leave Ctrl-C to Python's main thread (see `signals.rs`).
        let blocked = crate::signals::Blocked::new();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(BROKER_WORKER_THREADS)
            .thread_name("rocketmq-broker")
            .enable_all()
            .build()
            .map_err(|e| errors::broker(py, format!("cannot start the broker runtime: {e}")))?;
        drop(blocked);
        let started = wait::block_on_runtime(py, runtime.handle(), EmbeddedCluster::start(config));
        let cluster = match started {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                py.detach(|| runtime.shutdown_timeout(RUNTIME_SHUTDOWN_TIMEOUT));
                return Err(errors::broker(py, format!("the broker did not start: {e}")));
            }
            Err(interrupted) => {
                py.detach(|| runtime.shutdown_timeout(RUNTIME_SHUTDOWN_TIMEOUT));
                return Err(interrupted);
            }
        };
        for w in cluster.warnings() {
            tracing::warn!("{w}");
        }
        Ok(EmbeddedBroker {
            namesrv_addr: cluster.namesrv_addr().to_string(),
            broker_addr: cluster.broker_addr().to_string(),
            store_dir: cluster.store_dir().to_path_buf(),
            running: Mutex::new(Some(Running { runtime, cluster })),
        })
    }

    #[getter]
    fn namesrv_addr(&self) -> &str {
        &self.namesrv_addr
    }
    #[getter]
    fn broker_addr(&self) -> &str {
        &self.broker_addr
    }
    #[getter]
    fn store_dir(&self) -> PathBuf {
        self.store_dir.clone()
    }
    #[getter]
    fn running(&self) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }
    /// The broker name (`brokerName`) messages and queues carry.
    #[getter]
    fn broker_name(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.inner(py)?.0.config.broker_name.clone())
    }

    /// Stops the broker (offsets persisted, store closed, a temporary store removed unless
    /// kept), then the name server, and joins their threads. Idempotent.
    fn shutdown(&self, py: Python<'_>) -> PyResult<()> {
        let Some(Running { runtime, cluster }) = self.stop() else {
            return Ok(());
        };
        // Not interruptible: a half shut-down store is worse than a late Ctrl-C.
        py.detach(|| {
            runtime.block_on(cluster.shutdown());
            runtime.shutdown_timeout(RUNTIME_SHUTDOWN_TIMEOUT);
        });
        Ok(())
    }

    /// Topic names; system topics (TBW102, SCHEDULE_TOPIC_XXXX, ...) only if asked.
    #[pyo3(signature = (include_system = false))]
    fn topics(&self, py: Python<'_>, include_system: bool) -> PyResult<Vec<String>> {
        let (inner, _) = self.inner(py)?;
        Ok(inner
            .topics
            .names()
            .into_iter()
            .filter(|t| include_system || !inner.topics.is_system_topic(t))
            .collect())
    }

    /// A topic's settings, or None if the broker does not know it.
    fn topic_config<'py>(
        &self,
        py: Python<'py>,
        topic: &str,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let (inner, _) = self.inner(py)?;
        let Some(t) = inner.topics.get(topic) else {
            return Ok(None);
        };
        let d = PyDict::new(py);
        d.set_item("read_queue_nums", t.read_queue_nums)?;
        d.set_item("write_queue_nums", t.write_queue_nums)?;
        d.set_item("perm", t.perm)?;
        d.set_item("order", t.order)?;
        Ok(Some(d))
    }

    /// Creates (or updates) a topic and registers it with the name server before returning,
    /// so producers find its route at once.
    #[pyo3(signature = (topic, queues, order))]
    fn create_topic(&self, py: Python<'_>, topic: &str, queues: i32, order: bool) -> PyResult<()> {
        rocketmq::broker::topic_config::validate_topic_name(topic)
            .map_err(pyo3::exceptions::PyValueError::new_err)?;
        if !(1..=1024).contains(&queues) {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "queues must be between 1 and 1024, not {queues}"
            )));
        }
        let (inner, runtime) = self.inner(py)?;
        let mut cfg = TopicConfig::new(topic, queues, PERM_READ | PERM_WRITE);
        cfg.order = order;
        let changed = inner.topics.upsert(cfg);
        if changed {
            wait::block_on_runtime(py, &runtime, async move { inner.register_all().await })?;
        }
        Ok(())
    }

    /// Creates (or updates) a consumer group's settings.
    #[pyo3(signature = (group, retry_max_times, consume_broadcast_enable, retry_queue_nums))]
    fn create_group(
        &self,
        py: Python<'_>,
        group: &str,
        retry_max_times: i32,
        consume_broadcast_enable: bool,
        retry_queue_nums: i32,
    ) -> PyResult<()> {
        if group.is_empty() {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "a group name cannot be empty",
            ));
        }
        let (inner, _) = self.inner(py)?;
        let cfg = SubscriptionGroupConfig {
            group_name: group.to_string(),
            retry_max_times,
            consume_broadcast_enable,
            retry_queue_nums,
            ..Default::default()
        };
        py.detach(|| inner.groups.upsert(cfg));
        Ok(())
    }

    /// Names of the consumer groups the broker has settings for.
    fn groups(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let (inner, _) = self.inner(py)?;
        let json = inner.groups.all_json();
        let w: rocketmq::broker::subscription_group::SubscriptionGroupWrapper =
            serde_json_from_str(&json).map_err(|e| errors::broker(py, e))?;
        Ok(w.subscription_group_table.into_keys().collect())
    }

    /// Queue ids of a topic, from its read queue count (empty for an unknown topic).
    fn queue_ids(&self, py: Python<'_>, topic: &str) -> PyResult<Vec<i32>> {
        let (inner, _) = self.inner(py)?;
        Ok(inner
            .topics
            .get(topic)
            .map(|t| (0..t.read_queue_nums).collect())
            .unwrap_or_default())
    }

    /// The first queue offset still stored.
    fn min_offset(&self, py: Python<'_>, topic: &str, queue_id: i32) -> PyResult<i64> {
        let (inner, _) = self.inner(py)?;
        Ok(inner.store.min_offset_in_queue(topic, queue_id))
    }

    /// The next queue offset to be written (the number of messages ever stored in the queue).
    fn max_offset(&self, py: Python<'_>, topic: &str, queue_id: i32) -> PyResult<i64> {
        let (inner, _) = self.inner(py)?;
        Ok(inner.store.max_offset_in_queue(topic, queue_id))
    }

    /// The offsets `group` committed on `topic`: queue id → next offset to consume.
    fn committed_offsets(
        &self,
        py: Python<'_>,
        group: &str,
        topic: &str,
    ) -> PyResult<HashMap<i32, i64>> {
        let (inner, _) = self.inner(py)?;
        Ok(inner.offsets.group_offsets(group, topic))
    }

    /// Stored messages of one queue from `offset`, at most `max_count` (capped at 1024).
    fn messages(
        &self,
        py: Python<'_>,
        topic: &str,
        queue_id: i32,
        offset: i64,
        max_count: i32,
    ) -> PyResult<Vec<ReceivedMessage>> {
        let (inner, _) = self.inner(py)?;
        let max = max_count.clamp(0, MAX_MESSAGES_PER_READ);
        if max == 0 {
            return Ok(Vec::new());
        }
        let topic = topic.to_string();
        let broker_name = inner.config.broker_name.clone();
        let records = py.detach(move || {
            let r = inner
                .store
                .get_message(&topic, queue_id, offset, max, &AcceptAll);
            r.messages
                .iter()
                .map(|b| MessageRecord::decode(b, false).map(|(m, _)| m))
                .collect::<Result<Vec<_>, _>>()
        });
        let records = records
            .map_err(|e| errors::broker(py, format!("a stored message does not decode: {e:?}")))?;
        Ok(records
            .into_iter()
            .map(|r| ReceivedMessage::from_record(r, &broker_name))
            .collect())
    }
}

fn serde_json_from_str<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, String> {
    serde_json::from_str(s).map_err(|e| e.to_string())
}
