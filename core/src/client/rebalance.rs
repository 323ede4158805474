//! Queue allocation strategies for clustering consumers. Every member of a group must use the
//! same strategy on the same sorted inputs, so each one reproduces Java's exactly.

use std::collections::BTreeMap;

use super::digest::md5;
use crate::protocol::bodies::MessageQueue;

/// Splits `mq_all` (sorted) among `cid_all` (sorted) and returns the part of `current_cid`.
pub trait AllocateStrategy: Send + Sync {
    /// Java's strategy name, for diagnostics.
    fn name(&self) -> &str;
    fn allocate(
        &self,
        group: &str,
        current_cid: &str,
        mq_all: &[MessageQueue],
        cid_all: &[String],
    ) -> Vec<MessageQueue>;
}

/// Java `AllocateMessageQueueAveragely` (the default): contiguous blocks, the first
/// `n mod c` consumers get one queue more.
#[derive(Debug, Default, Clone, Copy)]
pub struct AllocateMessageQueueAveragely;

impl AllocateStrategy for AllocateMessageQueueAveragely {
    fn name(&self) -> &str {
        "AVG"
    }
    fn allocate(
        &self,
        _group: &str,
        current_cid: &str,
        mq_all: &[MessageQueue],
        cid_all: &[String],
    ) -> Vec<MessageQueue> {
        let Some(i) = cid_all.iter().position(|c| c == current_cid) else {
            return Vec::new();
        };
        let (n, c) = (mq_all.len(), cid_all.len());
        if n == 0 {
            return Vec::new();
        }
        let m = n % c;
        let avg = if n <= c {
            1
        } else if m > 0 && i < m {
            n / c + 1
        } else {
            n / c
        };
        let start = if m > 0 && i < m { i * avg } else { i * avg + m };
        let range = avg.min(n.saturating_sub(start));
        (0..range)
            .map(|k| mq_all[(start + k) % n].clone())
            .collect()
    }
}

/// Java `AllocateMessageQueueAveragelyByCircle`: queue i goes to consumer `i mod c`.
#[derive(Debug, Default, Clone, Copy)]
pub struct AllocateMessageQueueAveragelyByCircle;

impl AllocateStrategy for AllocateMessageQueueAveragelyByCircle {
    fn name(&self) -> &str {
        "AVG_BY_CIRCLE"
    }
    fn allocate(
        &self,
        _group: &str,
        current_cid: &str,
        mq_all: &[MessageQueue],
        cid_all: &[String],
    ) -> Vec<MessageQueue> {
        let Some(idx) = cid_all.iter().position(|c| c == current_cid) else {
            return Vec::new();
        };
        (idx..mq_all.len())
            .filter(|i| i % cid_all.len() == idx)
            .map(|i| mq_all[i].clone())
            .collect()
    }
}

/// Java `AllocateMessageQueueConsistentHash`: an MD5 ring with `virtual_nodes` points per
/// consumer (`<cid>-<i>`); a queue goes to the first point at or after the hash of
/// `MessageQueue [topic=..., brokerName=..., queueId=...]`.
#[derive(Debug, Clone, Copy)]
pub struct AllocateConsistentHash {
    pub virtual_nodes: usize,
}

impl Default for AllocateConsistentHash {
    fn default() -> Self {
        AllocateConsistentHash { virtual_nodes: 10 }
    }
}

fn ring_hash(key: &str) -> u64 {
    let d = md5(key.as_bytes());
    (d[0] as u64) << 24 | (d[1] as u64) << 16 | (d[2] as u64) << 8 | d[3] as u64
}

/// `MessageQueue.toString()` in Java.
pub fn java_queue_string(mq: &MessageQueue) -> String {
    format!(
        "MessageQueue [topic={}, brokerName={}, queueId={}]",
        mq.topic, mq.broker_name, mq.queue_id
    )
}

impl AllocateStrategy for AllocateConsistentHash {
    fn name(&self) -> &str {
        "CONSISTENT_HASH"
    }
    fn allocate(
        &self,
        _group: &str,
        current_cid: &str,
        mq_all: &[MessageQueue],
        cid_all: &[String],
    ) -> Vec<MessageQueue> {
        if !cid_all.iter().any(|c| c == current_cid) {
            return Vec::new();
        }
        let mut ring: BTreeMap<u64, &str> = BTreeMap::new();
        for cid in cid_all {
            for i in 0..self.virtual_nodes {
                ring.insert(ring_hash(&format!("{cid}-{i}")), cid);
            }
        }
        mq_all
            .iter()
            .filter(|mq| {
                let h = ring_hash(&java_queue_string(mq));
                let owner = ring
                    .range(h..)
                    .next()
                    .or_else(|| ring.iter().next())
                    .map(|(_, c)| *c);
                owner == Some(current_cid)
            })
            .cloned()
            .collect()
    }
}

/// Java `AllocateMessageQueueByConfig`: a fixed list, whatever the group looks like.
#[derive(Debug, Default, Clone)]
pub struct AllocateByConfig {
    pub queues: Vec<MessageQueue>,
}

impl AllocateStrategy for AllocateByConfig {
    fn name(&self) -> &str {
        "CONFIG"
    }
    fn allocate(
        &self,
        _group: &str,
        _current_cid: &str,
        _mq_all: &[MessageQueue],
        _cid_all: &[String],
    ) -> Vec<MessageQueue> {
        self.queues.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn mqs(n: i32) -> Vec<MessageQueue> {
        (0..n)
            .map(|q| MessageQueue {
                topic: "T".into(),
                broker_name: "b".into(),
                queue_id: q,
            })
            .collect()
    }
    fn cids(c: usize) -> Vec<String> {
        (0..c).map(|i| format!("cid{i}")).collect()
    }
    fn ids(v: &[MessageQueue]) -> Vec<i32> {
        v.iter().map(|q| q.queue_id).collect()
    }

    #[test]
    fn averagely_matches_spec_examples() {
        let s = AllocateMessageQueueAveragely;
        let (q, c) = (mqs(8), cids(3));
        assert_eq!(ids(&s.allocate("g", "cid0", &q, &c)), vec![0, 1, 2]);
        assert_eq!(ids(&s.allocate("g", "cid1", &q, &c)), vec![3, 4, 5]);
        assert_eq!(ids(&s.allocate("g", "cid2", &q, &c)), vec![6, 7]);
        let q2 = mqs(2);
        assert_eq!(ids(&s.allocate("g", "cid0", &q2, &c)), vec![0]);
        assert_eq!(ids(&s.allocate("g", "cid1", &q2, &c)), vec![1]);
        assert!(s.allocate("g", "cid2", &q2, &c).is_empty());
        assert!(s.allocate("g", "stranger", &q, &c).is_empty());
        assert!(s.allocate("g", "cid0", &[], &c).is_empty());
    }

    #[test]
    fn every_strategy_partitions_the_queues() {
        let strategies: Vec<Box<dyn AllocateStrategy>> = vec![
            Box::new(AllocateMessageQueueAveragely),
            Box::new(AllocateMessageQueueAveragelyByCircle),
            Box::new(AllocateConsistentHash::default()),
        ];
        for s in &strategies {
            for n in [1, 3, 8, 16] {
                for c in [1, 2, 3, 5] {
                    let (q, cs) = (mqs(n), cids(c));
                    let mut seen = HashSet::new();
                    for cid in &cs {
                        for mq in s.allocate("g", cid, &q, &cs) {
                            assert!(seen.insert(mq), "{} gave a queue twice", s.name());
                        }
                    }
                    assert_eq!(seen.len(), n as usize, "{} n={n} c={c}", s.name());
                }
            }
        }
    }

    #[test]
    fn circle_interleaves() {
        let s = AllocateMessageQueueAveragelyByCircle;
        let (q, c) = (mqs(8), cids(3));
        assert_eq!(ids(&s.allocate("g", "cid0", &q, &c)), vec![0, 3, 6]);
        assert_eq!(ids(&s.allocate("g", "cid1", &q, &c)), vec![1, 4, 7]);
        assert_eq!(ids(&s.allocate("g", "cid2", &q, &c)), vec![2, 5]);
    }

    #[test]
    fn consistent_hash_is_stable_when_a_member_leaves() {
        let s = AllocateConsistentHash::default();
        let q = mqs(32);
        let three = cids(3);
        let two = cids(2);
        // Queues cid0 kept are a superset-compatible: nothing moves between survivors.
        for cid in &two {
            let before: HashSet<_> = s.allocate("g", cid, &q, &three).into_iter().collect();
            let after: HashSet<_> = s.allocate("g", cid, &q, &two).into_iter().collect();
            assert!(before.is_subset(&after));
        }
        assert_eq!(
            java_queue_string(&q[1]),
            "MessageQueue [topic=T, brokerName=b, queueId=1]"
        );
    }

    #[test]
    fn by_config_returns_the_list() {
        let s = AllocateByConfig { queues: mqs(2) };
        assert_eq!(s.allocate("g", "x", &mqs(8), &cids(3)).len(), 2);
    }
}
