//! JSON bodies of requests and responses, with the field names Java uses.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::message::java_hash;

pub const PERM_INHERIT: i32 = 0x1;
pub const PERM_WRITE: i32 = 0x2;
pub const PERM_READ: i32 = 0x4;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataVersion {
    pub timestamp: i64,
    pub counter: i64,
}

impl DataVersion {
    pub fn bump(&mut self) {
        self.counter += 1;
        self.timestamp = crate::protocol::now_ms();
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfig {
    pub topic_name: String,
    pub read_queue_nums: i32,
    pub write_queue_nums: i32,
    pub perm: i32,
    pub topic_filter_type: String,
    pub topic_sys_flag: i32,
    pub order: bool,
}

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            topic_name: String::new(),
            read_queue_nums: 16,
            write_queue_nums: 16,
            perm: PERM_READ | PERM_WRITE,
            topic_filter_type: "SINGLE_TAG".into(),
            topic_sys_flag: 0,
            order: false,
        }
    }
}

impl TopicConfig {
    pub fn new(name: &str, queues: i32, perm: i32) -> Self {
        TopicConfig {
            topic_name: name.to_string(),
            read_queue_nums: queues,
            write_queue_nums: queues,
            perm,
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfigSerializeWrapper {
    pub topic_config_table: BTreeMap<String, TopicConfig>,
    pub data_version: DataVersion,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RegisterBrokerBody {
    pub topic_config_serialize_wrapper: TopicConfigSerializeWrapper,
    pub filter_server_list: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QueueData {
    pub broker_name: String,
    pub read_queue_nums: i32,
    pub write_queue_nums: i32,
    pub perm: i32,
    pub topic_sys_flag: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrokerData {
    pub cluster: String,
    pub broker_name: String,
    /// brokerId (0 = master) → "ip:port".
    pub broker_addrs: BTreeMap<i64, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicRouteData {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_topic_conf: Option<String>,
    pub queue_datas: Vec<QueueData>,
    pub broker_datas: Vec<BrokerData>,
    pub filter_server_table: HashMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClusterInfo {
    pub broker_addr_table: BTreeMap<String, BrokerData>,
    pub cluster_addr_table: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicList {
    pub topic_list: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_addr: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct KvTable {
    pub table: HashMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionData {
    pub topic: String,
    pub sub_string: String,
    pub tags_set: Vec<String>,
    /// Tag hashes. rocketmq-client-go v2 sends them as strings, Java as numbers.
    #[serde(deserialize_with = "lenient_i32_list")]
    pub code_set: Vec<i32>,
    pub sub_version: i64,
    pub expression_type: String,
    pub class_filter_mode: bool,
}

/// Accepts `[1, "2"]`: numbers or decimal strings (and null as empty).
fn lenient_i32_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<i32>, D::Error> {
    use serde::de::Error;
    let raw: Option<Vec<serde_json::Value>> = Option::deserialize(d)?;
    raw.unwrap_or_default()
        .into_iter()
        .map(|v| match &v {
            serde_json::Value::Number(n) => n
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(|| D::Error::custom(format!("tag code {n} is not a 32-bit integer"))),
            serde_json::Value::String(s) => s
                .trim()
                .parse::<i32>()
                .map_err(|_| D::Error::custom(format!("tag code \"{s}\" is not a 32-bit integer"))),
            other => Err(D::Error::custom(format!(
                "tag code {other} is not a number"
            ))),
        })
        .collect()
}

impl SubscriptionData {
    /// Builds a subscription from a tag expression (`*`, `TagA || TagB`) or an SQL92 expression.
    pub fn new(topic: &str, expression: &str, expression_type: &str) -> Self {
        let mut s = SubscriptionData {
            topic: topic.to_string(),
            sub_string: expression.to_string(),
            sub_version: crate::protocol::now_ms(),
            expression_type: expression_type.to_string(),
            ..Default::default()
        };
        if expression_type == "TAG" {
            let expr = expression.trim();
            if expr.is_empty() || expr == "*" {
                s.sub_string = "*".into();
            } else {
                for tag in expr.split("||").map(str::trim).filter(|t| !t.is_empty()) {
                    s.tags_set.push(tag.to_string());
                    s.code_set.push(java_hash(tag));
                }
            }
        }
        s
    }

    pub fn is_all(&self) -> bool {
        self.expression_type != "SQL92" && (self.sub_string.is_empty() || self.sub_string == "*")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerData {
    pub group_name: String,
    pub consume_type: String,
    pub message_model: String,
    pub consume_from_where: String,
    pub subscription_data_set: Vec<SubscriptionData>,
    pub unit_mode: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProducerData {
    pub group_name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HeartbeatData {
    #[serde(rename = "clientID")]
    pub client_id: String,
    #[serde(rename = "producerDataSet")]
    pub producer_data_set: Vec<ProducerData>,
    #[serde(rename = "consumerDataSet")]
    pub consumer_data_set: Vec<ConsumerData>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MessageQueue {
    pub topic: String,
    pub broker_name: String,
    pub queue_id: i32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LockBatchRequestBody {
    pub consumer_group: String,
    pub client_id: String,
    pub mq_set: Vec<MessageQueue>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LockBatchResponseBody {
    #[serde(rename = "lockOKMQSet")]
    pub lock_ok_mq_set: Vec<MessageQueue>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerListBody {
    pub consumer_id_list: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupConfig {
    pub group_name: String,
    pub consume_enable: bool,
    pub consume_from_min_enable: bool,
    pub consume_broadcast_enable: bool,
    pub retry_queue_nums: i32,
    pub retry_max_times: i32,
    pub broker_id: i64,
    pub which_broker_when_consume_slowly: i64,
    pub notify_consumer_ids_changed_enable: bool,
}

impl Default for SubscriptionGroupConfig {
    fn default() -> Self {
        SubscriptionGroupConfig {
            group_name: String::new(),
            consume_enable: true,
            consume_from_min_enable: true,
            consume_broadcast_enable: true,
            retry_queue_nums: 1,
            retry_max_times: 16,
            broker_id: 0,
            which_broker_when_consume_slowly: 1,
            notify_consumer_ids_changed_enable: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::json::from_fastjson;

    #[test]
    fn route_data_reads_quirky_and_standard_forms() {
        let quirky = br#"{"brokerDatas":[{"brokerAddrs":{0:"192.168.1.10:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}"#;
        let r: TopicRouteData = from_fastjson(quirky).unwrap();
        assert_eq!(r.broker_datas[0].broker_addrs[&0], "192.168.1.10:10911");
        let std_json = serde_json::to_vec(&r).unwrap();
        assert!(String::from_utf8_lossy(&std_json).contains(r#""brokerAddrs":{"0":"#));
        let again: TopicRouteData = from_fastjson(&std_json).unwrap();
        assert_eq!(again, r);
    }

    #[test]
    fn heartbeat_parses_java_sample() {
        let hb = br#"{"clientID":"192.168.1.5@12345#1","consumerDataSet":[{"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","consumeType":"CONSUME_PASSIVELY","groupName":"g","messageModel":"CLUSTERING","unitMode":false,"subscriptionDataSet":[{"classFilterMode":false,"codeSet":[2598919],"expressionType":"TAG","subString":"TagA","subVersion":1700000000000,"tagsSet":["TagA"],"topic":"TopicTest"}]}],"producerDataSet":[{"groupName":"p"}]}"#;
        let h: HeartbeatData = from_fastjson(hb).unwrap();
        assert_eq!(h.client_id, "192.168.1.5@12345#1");
        assert_eq!(
            h.consumer_data_set[0].subscription_data_set[0].code_set,
            vec![2598919]
        );
        assert_eq!(
            SubscriptionData::new("T", "TagA || TagB ||", "TAG").tags_set,
            vec!["TagA", "TagB"]
        );
    }

    #[test]
    fn code_set_accepts_go_strings_and_null() {
        // rocketmq-client-go v2 writes the codes as strings.
        let go = br#"{"topic":"T","subString":"TagA","tagsSet":["TagA"],"codeSet":["2598919"],"expressionType":"TAG"}"#;
        let sub: SubscriptionData = from_fastjson(go).unwrap();
        assert_eq!(sub.code_set, vec![2598919]);
        let null: SubscriptionData = from_fastjson(br#"{"topic":"T","codeSet":null}"#).unwrap();
        assert!(null.code_set.is_empty());
        assert!(from_fastjson::<SubscriptionData>(br#"{"codeSet":["x"]}"#).is_err());
    }
}
