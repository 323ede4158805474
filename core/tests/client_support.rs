//! Helpers for the client integration tests (included with `#[path]` by each `client_*` test):
//! an embedded cluster, extra brokers, topic creation, deadlines.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rocketmq::broker::{Broker, BrokerConfig};
use rocketmq::client::{ClientConfig, ConsumeFromWhere, ConsumerConfig, Producer, ProducerConfig};
use rocketmq::embedded::{EmbeddedCluster, EmbeddedConfig};
use rocketmq::protocol::bodies::TopicRouteData;
use rocketmq::protocol::json::from_fastjson;
use rocketmq::protocol::{request_code, response_code, RemotingCommand};
use rocketmq::remoting::RemotingClient;

pub const DEADLINE: Duration = Duration::from_secs(30);

pub async fn cluster() -> EmbeddedCluster {
    EmbeddedCluster::start(EmbeddedConfig::default())
        .await
        .expect("embedded cluster starts")
}

/// A second broker (its own store) registering with the cluster's name server.
pub async fn extra_broker(namesrv: SocketAddr, name: &str, dir: &std::path::Path) -> Broker {
    let mut bc = BrokerConfig {
        broker_name: name.to_string(),
        namesrv_addr: Some(namesrv.to_string()),
        listen_ip: "127.0.0.1".parse().unwrap(),
        listen_port: 0,
        broker_ip: Some("127.0.0.1".parse().unwrap()),
        ..Default::default()
    };
    bc.store.root_dir = dir.to_path_buf();
    bc.store.commit_log_file_size_bytes = rocketmq::embedded::SMALL_COMMIT_LOG_FILE_BYTES;
    bc.store.consume_queue_file_size_bytes = rocketmq::embedded::SMALL_CONSUME_QUEUE_FILE_BYTES;
    Broker::start(bc).await.expect("second broker starts")
}

/// Creates `topic` with `queues` read/write queues on the broker at `broker`, then waits until
/// the name server routes it to every broker in `expect_brokers`.
pub async fn create_topic(namesrv: SocketAddr, brokers: &[SocketAddr], topic: &str, queues: i32) {
    let client = RemotingClient::default();
    for b in brokers {
        let create = RemotingCommand::request(request_code::UPDATE_AND_CREATE_TOPIC)
            .with_ext("topic", topic)
            .with_ext("defaultTopic", "TBW102")
            .with_ext("readQueueNums", queues)
            .with_ext("writeQueueNums", queues)
            .with_ext("perm", 6)
            .with_ext("topicFilterType", "SINGLE_TAG")
            .with_ext("order", false);
        let r = client
            .invoke(&b.to_string(), create, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(r.code, 0, "create topic: {:?}", r.remark);
    }
    let ns = namesrv.to_string();
    wait_async("topic route on the name server", || {
        let client = client.clone();
        let ns = ns.clone();
        let topic = topic.to_string();
        let n = brokers.len();
        async move {
            let req = RemotingCommand::request(request_code::GET_ROUTEINFO_BY_TOPIC)
                .with_ext("topic", &topic);
            match client.invoke(&ns, req, Duration::from_secs(5)).await {
                Ok(r) if r.code == response_code::SUCCESS => {
                    from_fastjson::<TopicRouteData>(&r.body)
                        .map(|rd| rd.queue_datas.len() == n)
                        .unwrap_or(false)
                }
                _ => false,
            }
        }
    })
    .await;
    client.close_all().await;
}

pub fn producer_config(namesrv: SocketAddr, group: &str) -> ProducerConfig {
    ProducerConfig {
        client: ClientConfig::new(&namesrv.to_string()),
        group: group.into(),
        ..Default::default()
    }
}

pub async fn producer(namesrv: SocketAddr, group: &str) -> Producer {
    let p = Producer::new(producer_config(namesrv, group)).unwrap();
    p.start().await.unwrap();
    p
}

pub fn consumer_config(namesrv: SocketAddr, group: &str) -> ConsumerConfig {
    let mut c = ConsumerConfig::new(&namesrv.to_string(), group);
    c.consume_from_where = ConsumeFromWhere::FirstOffset;
    c.consume_thread_nums = 4;
    c.persist_offset_interval = Duration::from_millis(500);
    c.rebalance_interval = Duration::from_secs(2);
    c
}

/// Waits until `f` holds, failing after `DEADLINE`.
pub async fn wait_until<F: FnMut() -> bool>(what: &str, mut f: F) {
    let deadline = Instant::now() + DEADLINE;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn wait_async<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + DEADLINE;
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
