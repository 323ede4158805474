//! Client settings from Python.
//!
//! The Python classes collect settings through the original's setters (`set_timeout`,
//! `set_name_server_address`, ...) and hand them over at `start()` as one dict, because the
//! core builds a client from a complete config. Unknown keys are refused, so a typo in the
//! Python layer cannot silently drop a setting.

use std::collections::HashSet;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use rocketmq::client::{ClientConfig, ConsumeFromWhere, ConsumerConfig, Credentials, MessageModel};

/// A settings dict, read key by key; `finish` refuses keys nobody read.
pub struct Options<'a, 'py> {
    dict: &'a Bound<'py, PyDict>,
    read: HashSet<String>,
}

impl<'a, 'py> Options<'a, 'py> {
    pub fn new(dict: &'a Bound<'py, PyDict>) -> Self {
        Options {
            dict,
            read: HashSet::new(),
        }
    }

    /// The value of `key`, or None when absent or None.
    pub fn get<T: pyo3::conversion::FromPyObjectOwned<'py>>(
        &mut self,
        key: &str,
    ) -> PyResult<Option<T>> {
        self.read.insert(key.to_string());
        match self.dict.get_item(key)? {
            Some(v) if !v.is_none() => v.extract::<T>().map(Some).map_err(|e| {
                let e: PyErr = e.into();
                pyo3::exceptions::PyTypeError::new_err(format!("setting {key}: {e}"))
            }),
            _ => Ok(None),
        }
    }

    pub fn finish(self) -> PyResult<()> {
        for k in self.dict.keys() {
            let k: String = k.extract()?;
            if !self.read.contains(&k) {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "unknown client setting {k:?} (a bug in the rocketmq package)"
                )));
            }
        }
        Ok(())
    }

    /// Settings every client has: name servers, instance name, credentials, namespace.
    pub fn client_config(&mut self) -> PyResult<ClientConfig> {
        let mut c = ClientConfig::default();
        if let Some(a) = self.get::<String>("namesrv_addr")? {
            c.namesrv_addr = a;
        }
        if let Some(n) = self.get::<String>("instance_name")? {
            c.instance_name = n;
        }
        if let Some(ns) = self.get::<String>("namespace")? {
            c.namespace = Some(ns);
        }
        if let Some(u) = self.get::<String>("unit_name")? {
            c.unit_name = Some(u);
        }
        if let Some(ms) = self.get::<u64>("request_timeout_ms")? {
            c.request_timeout = Duration::from_millis(ms);
        }
        let access_key = self.get::<String>("access_key")?;
        let secret_key = self.get::<String>("secret_key")?;
        let security_token = self.get::<String>("security_token")?;
        if let (Some(access_key), Some(secret_key)) = (access_key, secret_key) {
            c.credentials = Some(Credentials {
                access_key,
                secret_key,
                security_token,
            });
        }
        Ok(c)
    }

    /// Settings of push and pull consumers.
    pub fn consumer_config(&mut self, group: &str) -> PyResult<ConsumerConfig> {
        let mut c = ConsumerConfig {
            client: self.client_config()?,
            group: group.to_string(),
            ..Default::default()
        };
        if let Some(m) = self.get::<i32>("message_model")? {
            // MessageModel in Python: BROADCASTING=0, CLUSTERING=1 (the original's values).
            c.message_model = match m {
                0 => MessageModel::Broadcasting,
                1 => MessageModel::Clustering,
                _ => return Err(bad("message_model", m)),
            };
        }
        if let Some(w) = self.get::<i32>("consume_from_where")? {
            // ConsumeFromWhere in Python: LAST=0, FIRST=1, TIMESTAMP=2.
            c.consume_from_where = match w {
                0 => ConsumeFromWhere::LastOffset,
                1 => ConsumeFromWhere::FirstOffset,
                2 => ConsumeFromWhere::Timestamp,
                _ => return Err(bad("consume_from_where", w)),
            };
        }
        if let Some(ts) = self.get::<i64>("consume_timestamp_ms")? {
            c.consume_timestamp_ms = ts;
        }
        if let Some(n) = self.get::<usize>("thread_count")? {
            c.consume_thread_nums = n;
        }
        if let Some(n) = self.get::<usize>("batch_max_size")? {
            c.consume_batch_max_size = n;
        }
        if let Some(n) = self.get::<i32>("pull_batch_size")? {
            c.pull_batch_size = n;
        }
        if let Some(n) = self.get::<i32>("max_reconsume_times")? {
            c.max_reconsume_times = n;
        }
        if let Some(n) = self.get::<usize>("max_cached_messages_per_queue")? {
            c.pull_threshold_for_queue = n;
        }
        if let Some(ms) = self.get::<u64>("suspend_current_queue_time_ms")? {
            c.suspend_current_queue_time = Duration::from_millis(ms);
        }
        if let Some(d) = self.get::<std::path::PathBuf>("offset_store_dir")? {
            c.offset_store_dir = Some(d);
        }
        if let Some(ms) = self.get::<u64>("persist_offset_interval_ms")? {
            c.persist_offset_interval = Duration::from_millis(ms);
        }
        if let Some(ms) = self.get::<u64>("rebalance_interval_ms")? {
            c.rebalance_interval = Duration::from_millis(ms);
        }
        Ok(c)
    }
}

fn bad(key: &str, v: i32) -> PyErr {
    pyo3::exceptions::PyValueError::new_err(format!("{key}: unknown value {v}"))
}
