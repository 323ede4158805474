//! Queue locks for orderly consumption: in a group, one client at a time holds a queue; a lock
//! not renewed within 60 s is free for others.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::protocol::bodies::MessageQueue;

/// `rocketmq.broker.rebalance.lockMaxLiveTime`.
pub const LOCK_MAX_LIVE: Duration = Duration::from_secs(60);

struct Holder {
    client_id: String,
    last_update: Instant,
}

#[derive(Default)]
pub struct QueueLockManager {
    groups: Mutex<HashMap<String, HashMap<MessageQueue, Holder>>>,
}

impl QueueLockManager {
    /// Locks or renews each queue for `client_id` where possible; returns the queues it now holds.
    pub fn try_lock_batch(
        &self,
        group: &str,
        mqs: &[MessageQueue],
        client_id: &str,
    ) -> Vec<MessageQueue> {
        self.try_lock_batch_at(group, mqs, client_id, Instant::now())
    }

    fn try_lock_batch_at(
        &self,
        group: &str,
        mqs: &[MessageQueue],
        client_id: &str,
        now: Instant,
    ) -> Vec<MessageQueue> {
        let mut g = self.groups.lock().unwrap();
        let table = g.entry(group.to_string()).or_default();
        let mut ok = Vec::new();
        for mq in mqs {
            let free = match table.get(mq) {
                None => true,
                Some(h) => {
                    h.client_id == client_id || now.duration_since(h.last_update) > LOCK_MAX_LIVE
                }
            };
            if free {
                table.insert(
                    mq.clone(),
                    Holder {
                        client_id: client_id.to_string(),
                        last_update: now,
                    },
                );
                ok.push(mq.clone());
            }
        }
        ok
    }

    pub fn unlock_batch(&self, group: &str, mqs: &[MessageQueue], client_id: &str) {
        let mut g = self.groups.lock().unwrap();
        if let Some(table) = g.get_mut(group) {
            for mq in mqs {
                if table.get(mq).is_some_and(|h| h.client_id == client_id) {
                    table.remove(mq);
                }
            }
        }
    }

    /// Releases every lock a departed client held.
    pub fn unlock_client(&self, group: &str, client_id: &str) {
        if let Some(table) = self.groups.lock().unwrap().get_mut(group) {
            table.retain(|_, h| h.client_id != client_id);
        }
    }

    pub fn holder(&self, group: &str, mq: &MessageQueue) -> Option<String> {
        let g = self.groups.lock().unwrap();
        g.get(group)?
            .get(mq)
            .filter(|h| h.last_update.elapsed() <= LOCK_MAX_LIVE)
            .map(|h| h.client_id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mq(q: i32) -> MessageQueue {
        MessageQueue {
            topic: "T".into(),
            broker_name: "b".into(),
            queue_id: q,
        }
    }

    #[test]
    fn one_holder_per_queue_until_expiry() {
        let m = QueueLockManager::default();
        let t0 = Instant::now();
        assert_eq!(m.try_lock_batch_at("g", &[mq(0), mq(1)], "c1", t0).len(), 2);
        assert_eq!(
            m.try_lock_batch_at("g", &[mq(1), mq(2)], "c2", t0),
            vec![mq(2)]
        );
        // Renewal by the holder works; another group is independent.
        assert_eq!(m.try_lock_batch_at("g", &[mq(0)], "c1", t0).len(), 1);
        assert_eq!(m.try_lock_batch_at("g2", &[mq(0)], "c2", t0).len(), 1);
        // After the live time, c2 may take c1's queue.
        let later = t0 + LOCK_MAX_LIVE + Duration::from_secs(1);
        assert_eq!(m.try_lock_batch_at("g", &[mq(0)], "c2", later), vec![mq(0)]);
        assert_eq!(
            m.try_lock_batch_at("g", &[mq(2)], "c2", later),
            vec![mq(2)],
            "c2 renews"
        );
        m.unlock_batch("g", &[mq(2)], "c1");
        assert_eq!(
            m.try_lock_batch_at("g", &[mq(2)], "c1", later),
            vec![],
            "c1 cannot unlock c2's queue"
        );
        m.unlock_client("g", "c2");
        assert_eq!(m.try_lock_batch_at("g", &[mq(2)], "c1", later), vec![mq(2)]);
    }
}
