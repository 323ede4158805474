//! The route cache: per topic, the queues a producer may write and a consumer may read, and per
//! broker name the addresses by broker id (0 = master).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use crate::protocol::bodies::{MessageQueue, TopicRouteData, PERM_READ, PERM_WRITE};

/// Broker id of a master.
pub const MASTER_ID: i64 = 0;

/// One topic's route, digested.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TopicRoute {
    pub data: TopicRouteData,
    /// Writable queues on brokers with a master, sorted by broker name then queue id.
    pub publish_queues: Vec<MessageQueue>,
    /// Readable queues, sorted by (topic, broker name, queue id).
    pub subscribe_queues: Vec<MessageQueue>,
    /// Whether `orderTopicConf` dictated the queues.
    pub ordered: bool,
}

impl TopicRoute {
    pub fn new(topic: &str, data: TopicRouteData) -> TopicRoute {
        let has_master = |b: &str| {
            data.broker_datas
                .iter()
                .any(|bd| bd.broker_name == b && bd.broker_addrs.contains_key(&MASTER_ID))
        };
        let mut publish_queues = Vec::new();
        let ordered = matches!(&data.order_topic_conf, Some(c) if !c.is_empty());
        if let Some(conf) = data.order_topic_conf.as_deref().filter(|c| !c.is_empty()) {
            // "brokerA:4;brokerB:4"
            for item in conf.split(';') {
                if let Some((b, n)) = item.split_once(':') {
                    let n: i32 = n.trim().parse().unwrap_or(0);
                    for q in 0..n {
                        publish_queues.push(mq(topic, b.trim(), q));
                    }
                }
            }
        } else {
            let mut qds = data.queue_datas.clone();
            qds.sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
            for qd in &qds {
                if qd.perm & PERM_WRITE != 0 && has_master(&qd.broker_name) {
                    for q in 0..qd.write_queue_nums {
                        publish_queues.push(mq(topic, &qd.broker_name, q));
                    }
                }
            }
        }
        let mut subscribe_queues = Vec::new();
        for qd in &data.queue_datas {
            if qd.perm & PERM_READ != 0 {
                for q in 0..qd.read_queue_nums {
                    subscribe_queues.push(mq(topic, &qd.broker_name, q));
                }
            }
        }
        subscribe_queues.sort();
        TopicRoute {
            data,
            publish_queues,
            subscribe_queues,
            ordered,
        }
    }

    /// The route of the auto-creation template (TBW102) adapted for a new topic: at most
    /// `queue_nums` queues per broker (Java `defaultTopicQueueNums`).
    pub fn from_template(topic: &str, mut template: TopicRouteData, queue_nums: i32) -> TopicRoute {
        for qd in &mut template.queue_datas {
            let n = queue_nums.min(qd.read_queue_nums);
            qd.read_queue_nums = n;
            qd.write_queue_nums = n;
        }
        TopicRoute::new(topic, template)
    }
}

fn mq(topic: &str, broker: &str, q: i32) -> MessageQueue {
    MessageQueue {
        topic: topic.to_string(),
        broker_name: broker.to_string(),
        queue_id: q,
    }
}

/// Routes by topic plus the broker address table merged from all of them.
#[derive(Default)]
pub struct RouteCache {
    topics: RwLock<HashMap<String, Arc<TopicRoute>>>,
    brokers: RwLock<HashMap<String, BTreeMap<i64, String>>>,
}

impl RouteCache {
    pub fn get(&self, topic: &str) -> Option<Arc<TopicRoute>> {
        self.topics.read().unwrap().get(topic).cloned()
    }

    /// Stores a route; returns whether it differs from the previous one.
    pub fn put(&self, topic: &str, route: TopicRoute) -> bool {
        {
            let mut b = self.brokers.write().unwrap();
            for bd in &route.data.broker_datas {
                b.insert(bd.broker_name.clone(), bd.broker_addrs.clone());
            }
        }
        let mut t = self.topics.write().unwrap();
        let changed = t.get(topic).map(|old| **old != route).unwrap_or(true);
        if changed {
            t.insert(topic.to_string(), Arc::new(route));
        }
        changed
    }

    pub fn topics(&self) -> Vec<String> {
        self.topics.read().unwrap().keys().cloned().collect()
    }

    /// The master address of a broker.
    pub fn master_addr(&self, broker_name: &str) -> Option<String> {
        self.brokers
            .read()
            .unwrap()
            .get(broker_name)
            .and_then(|m| m.get(&MASTER_ID).cloned())
    }

    /// The master if known, else any slave (for reads).
    pub fn any_addr(&self, broker_name: &str) -> Option<String> {
        let b = self.brokers.read().unwrap();
        let m = b.get(broker_name)?;
        m.get(&MASTER_ID).or_else(|| m.values().next()).cloned()
    }

    /// Every broker address known, masters first (heartbeat targets).
    pub fn all_broker_addrs(&self, masters_only: bool) -> Vec<(String, String)> {
        let b = self.brokers.read().unwrap();
        let mut v = Vec::new();
        for (name, addrs) in b.iter() {
            for (id, addr) in addrs {
                if !masters_only || *id == MASTER_ID {
                    v.push((name.clone(), addr.clone()));
                }
            }
        }
        v
    }

    /// The broker name that owns `addr`.
    pub fn broker_name_of(&self, addr: &str) -> Option<String> {
        let b = self.brokers.read().unwrap();
        b.iter()
            .find(|(_, m)| m.values().any(|a| a == addr))
            .map(|(n, _)| n.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::bodies::{BrokerData, QueueData};

    fn route() -> TopicRouteData {
        let qd = |b: &str, r, w, perm| QueueData {
            broker_name: b.into(),
            read_queue_nums: r,
            write_queue_nums: w,
            perm,
            topic_sys_flag: 0,
        };
        let bd = |b: &str, addrs: &[(i64, &str)]| BrokerData {
            cluster: "C".into(),
            broker_name: b.into(),
            broker_addrs: addrs.iter().map(|(i, a)| (*i, a.to_string())).collect(),
        };
        TopicRouteData {
            queue_datas: vec![qd("b2", 2, 2, 6), qd("b1", 3, 3, 6), qd("b3", 2, 2, 4)],
            broker_datas: vec![
                bd("b1", &[(0, "1.1.1.1:1")]),
                bd("b2", &[(1, "2.2.2.2:2")]),
                bd("b3", &[(0, "3.3.3.3:3")]),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn publish_queues_need_write_perm_and_a_master() {
        let r = TopicRoute::new("T", route());
        let names: Vec<(String, i32)> = r
            .publish_queues
            .iter()
            .map(|q| (q.broker_name.clone(), q.queue_id))
            .collect();
        assert_eq!(
            names,
            vec![("b1".into(), 0), ("b1".into(), 1), ("b1".into(), 2)]
        );
        assert_eq!(r.subscribe_queues.len(), 7);
        assert!(r.subscribe_queues.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn order_conf_and_template() {
        let mut d = route();
        d.order_topic_conf = Some("b1:2;b2:1".into());
        let r = TopicRoute::new("T", d);
        assert!(r.ordered);
        assert_eq!(r.publish_queues.len(), 3);
        let t = TopicRoute::from_template("New", route(), 1);
        assert_eq!(t.publish_queues.len(), 1);
        assert_eq!(t.publish_queues[0].topic, "New");
    }

    #[test]
    fn cache_tracks_brokers() {
        let c = RouteCache::default();
        assert!(c.put("T", TopicRoute::new("T", route())));
        assert!(!c.put("T", TopicRoute::new("T", route())));
        assert_eq!(c.master_addr("b1").as_deref(), Some("1.1.1.1:1"));
        assert_eq!(c.master_addr("b2"), None);
        assert_eq!(c.any_addr("b2").as_deref(), Some("2.2.2.2:2"));
        assert_eq!(c.broker_name_of("3.3.3.3:3").as_deref(), Some("b3"));
        assert_eq!(c.all_broker_addrs(true).len(), 2);
    }
}
