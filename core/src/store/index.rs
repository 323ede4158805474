//! Query by key (interim in-memory index; the on-disk hash-slot index replaces it).

use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct IndexService {
    entries: Mutex<HashMap<String, Vec<(i64, i64)>>>,
    last: Mutex<(i64, i64)>,
}

impl IndexService {
    pub fn put(&self, topic: &str, keys: &[&str], physical_offset: i64, store_timestamp_ms: i64) {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        for k in keys {
            map.entry(format!("{topic}#{k}"))
                .or_default()
                .push((physical_offset, store_timestamp_ms));
        }
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) =
            (store_timestamp_ms, physical_offset);
    }

    /// Newest first, like the on-disk chains.
    pub fn query(
        &self,
        topic: &str,
        key: &str,
        max: usize,
        begin_ms: i64,
        end_ms: i64,
    ) -> Vec<i64> {
        let map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&format!("{topic}#{key}"))
            .map(|v| {
                v.iter()
                    .rev()
                    .filter(|(_, ts)| *ts >= begin_ms && *ts <= end_ms)
                    .take(max)
                    .map(|(p, _)| *p)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// (store time, physical offset) of the last indexed message.
    pub fn last_update(&self) -> (i64, i64) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner())
    }
}
