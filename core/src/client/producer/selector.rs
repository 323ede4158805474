//! Choosing a queue for a message: round-robin by default, or by a selector the caller passes
//! (hash of a sharding key for ordered messages, random, or their own function).

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::client::config::random_u64;
use crate::client::message::Message;
use crate::protocol::bodies::MessageQueue;
use crate::protocol::message::java_hash;

/// Picks one of `queues` (never empty) for `msg`, given the caller's argument (a sharding key,
/// an order id...).
pub trait MessageQueueSelector: Send + Sync {
    fn select(&self, queues: &[MessageQueue], msg: &Message, arg: &str) -> usize;
}

impl<F> MessageQueueSelector for F
where
    F: Fn(&[MessageQueue], &Message, &str) -> usize + Send + Sync,
{
    fn select(&self, queues: &[MessageQueue], msg: &Message, arg: &str) -> usize {
        self(queues, msg, arg)
    }
}

/// Java `SelectMessageQueueByHash`: `|hashCode(arg) % n|`, so Java and Rust producers put the
/// same key on the same queue.
#[derive(Debug, Default, Clone, Copy)]
pub struct SelectByHash;

impl MessageQueueSelector for SelectByHash {
    fn select(&self, queues: &[MessageQueue], _msg: &Message, arg: &str) -> usize {
        (java_hash(arg) % queues.len() as i32).unsigned_abs() as usize
    }
}

/// A uniformly random queue.
#[derive(Debug, Default, Clone, Copy)]
pub struct SelectByRandom;

impl MessageQueueSelector for SelectByRandom {
    fn select(&self, queues: &[MessageQueue], _msg: &Message, _arg: &str) -> usize {
        (random_u64() % queues.len() as u64) as usize
    }
}

/// The default choice: round-robin from a random start, skipping the broker that just failed
/// when another one has queues.
#[derive(Debug)]
pub struct RoundRobin {
    counter: AtomicUsize,
}

impl Default for RoundRobin {
    fn default() -> Self {
        RoundRobin {
            counter: AtomicUsize::new(random_u64() as usize % 1024),
        }
    }
}

impl RoundRobin {
    pub fn select<'a>(
        &self,
        queues: &'a [MessageQueue],
        avoid_broker: Option<&str>,
    ) -> Option<&'a MessageQueue> {
        self.select_avoiding(queues, |q| Some(q.broker_name.as_str()) == avoid_broker)
    }

    /// The next queue for which `avoid` is false; if every queue is to be avoided, simply the
    /// next queue (a send to a doubtful broker beats no send).
    pub fn select_avoiding<'a>(
        &self,
        queues: &'a [MessageQueue],
        avoid: impl Fn(&MessageQueue) -> bool,
    ) -> Option<&'a MessageQueue> {
        if queues.is_empty() {
            return None;
        }
        let n = queues.len();
        for _ in 0..n {
            let q = &queues[self.counter.fetch_add(1, Ordering::Relaxed) % n];
            if !avoid(q) {
                return Some(q);
            }
        }
        Some(&queues[self.counter.fetch_add(1, Ordering::Relaxed) % n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queues() -> Vec<MessageQueue> {
        let mut v = Vec::new();
        for b in ["a", "b"] {
            for q in 0..4 {
                v.push(MessageQueue {
                    topic: "T".into(),
                    broker_name: b.into(),
                    queue_id: q,
                });
            }
        }
        v
    }

    #[test]
    fn round_robin_cycles_and_avoids_failed_broker() {
        let qs = queues();
        let rr = RoundRobin::default();
        let picks: Vec<usize> = (0..8)
            .map(|_| {
                let q = rr.select(&qs, None).unwrap();
                qs.iter().position(|x| x == q).unwrap()
            })
            .collect();
        let mut sorted = picks.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            (0..8).collect::<Vec<_>>(),
            "each queue once per cycle"
        );
        for _ in 0..20 {
            assert_eq!(rr.select(&qs, Some("a")).unwrap().broker_name, "b");
        }
        let only_a = &qs[..4];
        assert_eq!(rr.select(only_a, Some("a")).unwrap().broker_name, "a");
        assert!(rr.select(&[], None).is_none());
        let not_a1 = |q: &MessageQueue| q.broker_name == "a" || q.queue_id == 1;
        for _ in 0..20 {
            let q = rr.select_avoiding(&qs, not_a1).unwrap();
            assert!(q.broker_name == "b" && q.queue_id != 1);
        }
        assert!(rr.select_avoiding(&qs, |_| true).is_some());
    }

    #[test]
    fn hash_selector_matches_java() {
        let qs = queues();
        let m = Message::new("T", "x");
        // "order-1".hashCode() = ... computed with Java semantics; stable across calls.
        let a = SelectByHash.select(&qs, &m, "order-1");
        assert_eq!(a, SelectByHash.select(&qs, &m, "order-1"));
        assert_eq!(a, (java_hash("order-1") % 8).unsigned_abs() as usize);
        // Negative hash codes map to their absolute remainder, as in Java.
        let neg = "polygenelubricants"; // Java hashCode is Integer.MIN_VALUE
        assert_eq!(java_hash(neg), i32::MIN);
        assert_eq!(SelectByHash.select(&qs, &m, neg), 0);
        assert!(SelectByRandom.select(&qs, &m, "") < 8);
        let custom = |q: &[MessageQueue], _: &Message, arg: &str| arg.len() % q.len();
        assert_eq!(custom.select(&qs, &m, "abc"), 3);
    }
}
