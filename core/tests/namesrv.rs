//! The name server over real loopback sockets, driven as brokers and clients drive it.

use std::time::Duration;

use rocketmq::namesrv::processor::namesrv_code;
use rocketmq::namesrv::register_body::encode_compressed;
use rocketmq::namesrv::{NameServer, NamesrvConfig};
use rocketmq::protocol::bodies::{
    ClusterInfo, DataVersion, KvTable, RegisterBrokerBody, TopicConfig, TopicList, TopicRouteData,
    PERM_READ, PERM_WRITE,
};
use rocketmq::protocol::json::from_fastjson;
use rocketmq::protocol::message::body_crc;
use rocketmq::protocol::{request_code, response_code, RemotingCommand};
use rocketmq::remoting::RemotingClient;

const TIMEOUT: Duration = Duration::from_secs(5);

async fn start(config: NamesrvConfig) -> (NameServer, String) {
    let ns = NameServer::start(NamesrvConfig {
        listen_addr: "127.0.0.1:0".parse().unwrap(),
        ..config
    })
    .await
    .unwrap();
    let addr = ns.local_addr().to_string();
    (ns, addr)
}

fn body_of(topics: &[(&str, i32)], counter: i64) -> RegisterBrokerBody {
    let mut body = RegisterBrokerBody::default();
    let w = &mut body.topic_config_serialize_wrapper;
    for (name, queues) in topics {
        w.topic_config_table.insert(
            name.to_string(),
            TopicConfig::new(name, *queues, PERM_READ | PERM_WRITE),
        );
    }
    w.data_version = DataVersion {
        timestamp: 1_700_000_000_000,
        counter,
    };
    body
}

/// A REGISTER_BROKER as a Java broker sends it: JSON body with its masked CRC.
fn register(
    name: &str,
    addr: &str,
    id: i64,
    topics: &[(&str, i32)],
    counter: i64,
) -> RemotingCommand {
    let body = serde_json::to_vec(&body_of(topics, counter)).unwrap();
    RemotingCommand::request(request_code::REGISTER_BROKER)
        .with_ext("brokerName", name)
        .with_ext("brokerAddr", addr)
        .with_ext("clusterName", "DefaultCluster")
        .with_ext("haServerAddr", format!("{addr}-ha"))
        .with_ext("brokerId", id)
        .with_ext("compressed", false)
        .with_ext("bodyCrc32", body_crc(&body))
        .with_body(body)
}

fn route_request(topic: &str, version: i32) -> RemotingCommand {
    let mut req =
        RemotingCommand::request(request_code::GET_ROUTEINFO_BY_TOPIC).with_ext("topic", topic);
    req.version = version;
    req
}

async fn call(client: &RemotingClient, addr: &str, req: RemotingCommand) -> RemotingCommand {
    client.invoke(addr, req, TIMEOUT).await.unwrap()
}

async fn ok(client: &RemotingClient, addr: &str, req: RemotingCommand) -> RemotingCommand {
    let resp = call(client, addr, req).await;
    assert_eq!(
        resp.code,
        response_code::SUCCESS,
        "remark: {:?}",
        resp.remark
    );
    resp
}

/// Polls `cond` until it holds, failing after a deadline.
async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn two_brokers_of_one_cluster_both_serve_a_topic() {
    let (ns, addr) = start(NamesrvConfig::default()).await;
    let client = RemotingClient::default();
    let a = ok(
        &client,
        &addr,
        register("broker-a", "10.0.0.1:10911", 0, &[("T", 4)], 1),
    )
    .await;
    assert!(a.ext("masterAddr").is_none(), "a master gets no masterAddr");
    ok(
        &client,
        &addr,
        register("broker-b", "10.0.0.2:10911", 0, &[("T", 8), ("U", 2)], 1),
    )
    .await;

    let resp = ok(&client, &addr, route_request("T", 409)).await;
    let route: TopicRouteData = serde_json::from_slice(&resp.body).unwrap();
    let mut names: Vec<_> = route
        .broker_datas
        .iter()
        .map(|b| b.broker_name.as_str())
        .collect();
    names.sort();
    assert_eq!(names, ["broker-a", "broker-b"]);
    assert_eq!(route.queue_datas.len(), 2);
    let b = route
        .queue_datas
        .iter()
        .find(|q| q.broker_name == "broker-b")
        .unwrap();
    assert_eq!((b.read_queue_nums, b.write_queue_nums, b.perm), (8, 8, 6));
    assert_eq!(ns.route_of("T").unwrap().broker_datas.len(), 2);
    assert_eq!(ns.route_of("U").unwrap().broker_datas.len(), 1);
    ns.shutdown().await;
}

#[tokio::test]
async fn unknown_topic_is_topic_not_exist() {
    let (ns, addr) = start(NamesrvConfig::default()).await;
    let client = RemotingClient::default();
    let resp = call(&client, &addr, route_request("Nope", 409)).await;
    assert_eq!(resp.code, response_code::TOPIC_NOT_EXIST);
    assert_eq!(
        resp.remark.as_deref(),
        Some("No topic route info in name server for the topic: Nope")
    );
    ns.shutdown().await;
}

#[tokio::test]
async fn route_json_form_follows_request_version() {
    let (ns, addr) = start(NamesrvConfig::default()).await;
    let client = RemotingClient::default();
    ok(
        &client,
        &addr,
        register("broker-a", "10.0.0.1:10911", 0, &[("T", 4)], 1),
    )
    .await;

    // rocketmq-client-go announces V4_5_2 (317): fastjson's default form with bare keys.
    let old = ok(&client, &addr, route_request("T", 317)).await;
    let text = String::from_utf8(old.body.to_vec()).unwrap();
    assert!(
        text.contains(r#""brokerAddrs":{0:"10.0.0.1:10911"}"#),
        "{text}"
    );
    assert!(serde_json::from_slice::<serde_json::Value>(&old.body).is_err());
    let quirky: TopicRouteData = from_fastjson(&old.body).unwrap();

    let new = ok(&client, &addr, route_request("T", 409)).await;
    let text = String::from_utf8(new.body.to_vec()).unwrap();
    assert!(
        text.contains(r#""brokerAddrs":{"0":"10.0.0.1:10911"}"#),
        "{text}"
    );
    let standard: TopicRouteData = serde_json::from_slice(&new.body).unwrap();
    assert_eq!(standard, quirky);

    let asked = ok(
        &client,
        &addr,
        route_request("T", 317).with_ext("acceptStandardJsonOnly", true),
    )
    .await;
    assert_eq!(asked.body, new.body);
    ns.shutdown().await;
}

#[tokio::test]
async fn cluster_info_and_topic_lists() {
    let (ns, addr) = start(NamesrvConfig::default()).await;
    let client = RemotingClient::default();
    ok(
        &client,
        &addr,
        register("broker-a", "10.0.0.1:10911", 0, &[("T", 4)], 1),
    )
    .await;
    ok(
        &client,
        &addr,
        register("broker-b", "10.0.0.2:10911", 0, &[("U", 4)], 1),
    )
    .await;

    let resp = ok(
        &client,
        &addr,
        RemotingCommand::request(request_code::GET_BROKER_CLUSTER_INFO),
    )
    .await;
    let info: ClusterInfo = from_fastjson(&resp.body).unwrap();
    assert_eq!(
        info.cluster_addr_table["DefaultCluster"],
        ["broker-a", "broker-b"]
    );
    assert_eq!(
        info.broker_addr_table["broker-b"].broker_addrs[&0],
        "10.0.0.2:10911"
    );
    assert_eq!(ns.cluster_info().broker_addr_table.len(), 2);

    let resp = ok(
        &client,
        &addr,
        RemotingCommand::request(request_code::GET_ALL_TOPIC_LIST_FROM_NAMESERVER),
    )
    .await;
    let all: TopicList = from_fastjson(&resp.body).unwrap();
    assert_eq!(all.topic_list, ["T", "U"]);

    let by_cluster = RemotingCommand::request(request_code::GET_TOPICS_BY_CLUSTER)
        .with_ext("cluster", "DefaultCluster");
    let resp = ok(&client, &addr, by_cluster).await;
    assert_eq!(
        from_fastjson::<TopicList>(&resp.body).unwrap().topic_list,
        ["T", "U"]
    );
    let other =
        RemotingCommand::request(request_code::GET_TOPICS_BY_CLUSTER).with_ext("cluster", "Other");
    let resp = ok(&client, &addr, other).await;
    assert!(from_fastjson::<TopicList>(&resp.body)
        .unwrap()
        .topic_list
        .is_empty());
    ns.shutdown().await;
}

#[tokio::test]
async fn unregister_removes_broker_and_its_topics() {
    let (ns, addr) = start(NamesrvConfig::default()).await;
    let client = RemotingClient::default();
    ok(
        &client,
        &addr,
        register(
            "broker-a",
            "10.0.0.1:10911",
            0,
            &[("T", 4), ("OnlyA", 1)],
            1,
        ),
    )
    .await;
    ok(
        &client,
        &addr,
        register("broker-b", "10.0.0.2:10911", 0, &[("T", 4)], 1),
    )
    .await;
    let unregister = RemotingCommand::request(request_code::UNREGISTER_BROKER)
        .with_ext("brokerName", "broker-a")
        .with_ext("brokerAddr", "10.0.0.1:10911")
        .with_ext("clusterName", "DefaultCluster")
        .with_ext("brokerId", 0);
    ok(&client, &addr, unregister).await;
    assert!(ns.route_of("OnlyA").is_none());
    let route = ns.route_of("T").unwrap();
    assert_eq!(route.broker_datas.len(), 1);
    assert_eq!(route.queue_datas[0].broker_name, "broker-b");
    assert_eq!(
        ns.cluster_info().cluster_addr_table["DefaultCluster"],
        ["broker-b"]
    );
    let resp = call(&client, &addr, route_request("OnlyA", 409)).await;
    assert_eq!(resp.code, response_code::TOPIC_NOT_EXIST);
    ns.shutdown().await;
}

#[tokio::test]
async fn silent_broker_expires() {
    let (ns, addr) = start(NamesrvConfig {
        broker_expiry_ms: 300,
        scan_interval_ms: 100,
        ..Default::default()
    })
    .await;
    let client = RemotingClient::default();
    ok(
        &client,
        &addr,
        register("broker-a", "10.0.0.1:10911", 0, &[("T", 4)], 1),
    )
    .await;
    assert!(ns.route_of("T").is_some());
    wait_until("broker expiry", || {
        ns.cluster_info().broker_addr_table.is_empty()
    })
    .await;
    assert!(ns.route_of("T").is_none());
    assert!(ns.cluster_info().cluster_addr_table.is_empty());
    // The expired broker's connection was closed; the client reconnects and registers again.
    ok(
        &client,
        &addr,
        register("broker-a", "10.0.0.1:10911", 0, &[("T", 4)], 1),
    )
    .await;
    assert!(ns.route_of("T").is_some());
    ns.shutdown().await;
}

#[tokio::test]
async fn query_data_version_reports_change_and_keeps_broker_alive() {
    let (ns, addr) = start(NamesrvConfig {
        broker_expiry_ms: 600,
        scan_interval_ms: 50,
        ..Default::default()
    })
    .await;
    let client = RemotingClient::default();
    ok(
        &client,
        &addr,
        register("broker-a", "10.0.0.1:10911", 0, &[("T", 4)], 7),
    )
    .await;
    let query = |counter: i64| {
        RemotingCommand::request(request_code::QUERY_DATA_VERSION)
            .with_ext("brokerName", "broker-a")
            .with_ext("brokerAddr", "10.0.0.1:10911")
            .with_ext("clusterName", "DefaultCluster")
            .with_ext("brokerId", 0)
            .with_body(
                serde_json::to_vec(&DataVersion {
                    timestamp: 1_700_000_000_000,
                    counter,
                })
                .unwrap(),
            )
    };
    let changed = ok(&client, &addr, query(8)).await;
    assert_eq!(changed.ext("changed"), Some("true"));
    let ours: DataVersion = from_fastjson(&changed.body).unwrap();
    assert_eq!(ours.counter, 7);

    // Queries with the current version count as signs of life for well past the expiry.
    let start = tokio::time::Instant::now();
    while start.elapsed() < Duration::from_millis(1500) {
        let same = ok(&client, &addr, query(7)).await;
        assert_eq!(same.ext("changed"), Some("false"));
        assert!(ns.route_of("T").is_some(), "expired despite queries");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ns.shutdown().await;
}

#[tokio::test]
async fn closing_the_broker_connection_removes_it() {
    let (ns, addr) = start(NamesrvConfig::default()).await;
    let broker = RemotingClient::default();
    let other = RemotingClient::default();
    ok(
        &broker,
        &addr,
        register("broker-a", "10.0.0.1:10911", 0, &[("T", 4)], 1),
    )
    .await;
    ok(
        &other,
        &addr,
        register("broker-b", "10.0.0.2:10911", 0, &[("T", 4)], 1),
    )
    .await;
    broker.close_all().await;
    wait_until("broker-a removal", || {
        !ns.cluster_info().broker_addr_table.contains_key("broker-a")
    })
    .await;
    let route = ns.route_of("T").unwrap();
    assert_eq!(route.broker_datas.len(), 1);
    assert_eq!(route.broker_datas[0].broker_name, "broker-b");
    ns.shutdown().await;
}

#[tokio::test]
async fn bad_crc_is_rejected_and_compressed_bodies_accepted() {
    let (ns, addr) = start(NamesrvConfig::default()).await;
    let client = RemotingClient::default();
    let mut bad = register("broker-a", "10.0.0.1:10911", 0, &[("T", 4)], 1);
    bad.set_ext("bodyCrc32", body_crc(b"something else"));
    let resp = call(&client, &addr, bad).await;
    assert_eq!(resp.code, response_code::SYSTEM_ERROR);
    assert_eq!(resp.remark.as_deref(), Some("crc32 not match"));
    assert!(ns.route_of("T").is_none());

    let compressed = encode_compressed(&body_of(&[("Z", 3)], 1));
    let req = RemotingCommand::request(request_code::REGISTER_BROKER)
        .with_ext("brokerName", "broker-z")
        .with_ext("brokerAddr", "10.0.0.9:10911")
        .with_ext("clusterName", "DefaultCluster")
        .with_ext("haServerAddr", "10.0.0.9:10912")
        .with_ext("brokerId", 0)
        .with_ext("compressed", true)
        .with_ext("bodyCrc32", body_crc(&compressed))
        .with_body(compressed);
    ok(&client, &addr, req).await;
    assert_eq!(ns.route_of("Z").unwrap().queue_datas[0].write_queue_nums, 3);
    ns.shutdown().await;
}

#[tokio::test]
async fn slave_gets_master_and_ha_addresses() {
    let (ns, addr) = start(NamesrvConfig::default()).await;
    let client = RemotingClient::default();
    ok(
        &client,
        &addr,
        register("broker-a", "10.0.0.1:10911", 0, &[("T", 4)], 1),
    )
    .await;
    let slave = ok(
        &client,
        &addr,
        register("broker-a", "10.0.0.2:10911", 1, &[("T", 4)], 1),
    )
    .await;
    assert_eq!(slave.ext("masterAddr"), Some("10.0.0.1:10911"));
    assert_eq!(slave.ext("haServerAddr"), Some("10.0.0.1:10911-ha"));
    let addrs = &ns.route_of("T").unwrap().broker_datas[0].broker_addrs;
    assert_eq!(addrs.len(), 2);
    assert_eq!(addrs[&1], "10.0.0.2:10911");
    ns.shutdown().await;
}

#[tokio::test]
async fn kv_config_round_trip_and_order_topic_conf() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kvConfig.json");
    let (ns, addr) = start(NamesrvConfig {
        kv_config_path: Some(path.clone()),
        order_message_enable: true,
        ..Default::default()
    })
    .await;
    let client = RemotingClient::default();
    let kv = |code: i32, ns: &str, key: &str| {
        RemotingCommand::request(code)
            .with_ext("namespace", ns)
            .with_ext("key", key)
    };
    ok(
        &client,
        &addr,
        kv(request_code::PUT_KV_CONFIG, "ORDER_TOPIC_CONFIG", "T").with_ext("value", "broker-a:4"),
    )
    .await;
    let got = ok(
        &client,
        &addr,
        kv(request_code::GET_KV_CONFIG, "ORDER_TOPIC_CONFIG", "T"),
    )
    .await;
    assert_eq!(got.ext("value"), Some("broker-a:4"));
    let list = RemotingCommand::request(request_code::GET_KVLIST_BY_NAMESPACE)
        .with_ext("namespace", "ORDER_TOPIC_CONFIG");
    let table: KvTable = from_fastjson(&ok(&client, &addr, list).await.body).unwrap();
    assert_eq!(table.table["T"], "broker-a:4");
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .contains("broker-a:4"));

    // Brokers learn the order config from the registration answer; clients from the route.
    let reg = ok(
        &client,
        &addr,
        register("broker-a", "10.0.0.1:10911", 0, &[("T", 4)], 1),
    )
    .await;
    let table: KvTable = from_fastjson(&reg.body).unwrap();
    assert_eq!(table.table["T"], "broker-a:4");
    let route: TopicRouteData =
        serde_json::from_slice(&ok(&client, &addr, route_request("T", 409)).await.body).unwrap();
    assert_eq!(route.order_topic_conf.as_deref(), Some("broker-a:4"));

    ok(
        &client,
        &addr,
        kv(request_code::DELETE_KV_CONFIG, "ORDER_TOPIC_CONFIG", "T"),
    )
    .await;
    let gone = call(
        &client,
        &addr,
        kv(request_code::GET_KV_CONFIG, "ORDER_TOPIC_CONFIG", "T"),
    )
    .await;
    assert_eq!(gone.code, response_code::QUERY_NOT_FOUND);
    ok(
        &client,
        &addr,
        kv(request_code::PUT_KV_CONFIG, "ns", "k").with_ext("value", "v"),
    )
    .await;
    ns.shutdown().await;

    // What was persisted survives a restart.
    let (again, _) = start(NamesrvConfig {
        kv_config_path: Some(path),
        ..Default::default()
    })
    .await;
    assert_eq!(again.kv_config("ns", "k").as_deref(), Some("v"));
    assert!(again.kv_config("ORDER_TOPIC_CONFIG", "T").is_none());
    again.shutdown().await;
}

#[tokio::test]
async fn admin_requests_change_perm_and_delete_topics() {
    let (ns, addr) = start(NamesrvConfig::default()).await;
    let client = RemotingClient::default();
    ok(
        &client,
        &addr,
        register("broker-a", "10.0.0.1:10911", 0, &[("T", 4), ("U", 4)], 1),
    )
    .await;
    let wipe = RemotingCommand::request(namesrv_code::WIPE_WRITE_PERM_OF_BROKER)
        .with_ext("brokerName", "broker-a");
    assert_eq!(
        ok(&client, &addr, wipe).await.ext("wipeTopicCount"),
        Some("2")
    );
    assert_eq!(ns.route_of("T").unwrap().queue_datas[0].perm, PERM_READ);
    let add = RemotingCommand::request(namesrv_code::ADD_WRITE_PERM_OF_BROKER)
        .with_ext("brokerName", "broker-a");
    assert_eq!(
        ok(&client, &addr, add).await.ext("addTopicCount"),
        Some("2")
    );
    assert_eq!(
        ns.route_of("T").unwrap().queue_datas[0].perm,
        PERM_READ | PERM_WRITE
    );

    let delete =
        RemotingCommand::request(request_code::DELETE_TOPIC_IN_NAMESRV).with_ext("topic", "T");
    ok(&client, &addr, delete).await;
    assert!(ns.route_of("T").is_none());
    assert!(ns.route_of("U").is_some());
    ns.shutdown().await;
}

#[tokio::test]
async fn bad_headers_unknown_codes_and_config() {
    let (ns, addr) = start(NamesrvConfig::default()).await;
    let client = RemotingClient::default();
    let mut missing = register("broker-a", "10.0.0.1:10911", 0, &[], 1);
    missing.ext_fields.remove("brokerId");
    let resp = call(&client, &addr, missing).await;
    assert_eq!(resp.code, response_code::SYSTEM_ERROR);
    assert!(resp.remark.unwrap().contains("brokerId"));

    let resp = call(&client, &addr, RemotingCommand::request(9999)).await;
    assert_eq!(resp.code, response_code::REQUEST_CODE_NOT_SUPPORTED);

    let update = RemotingCommand::request(namesrv_code::UPDATE_NAMESRV_CONFIG)
        .with_body("orderMessageEnable=true\n");
    ok(&client, &addr, update).await;
    let conf = ok(
        &client,
        &addr,
        RemotingCommand::request(namesrv_code::GET_NAMESRV_CONFIG),
    )
    .await;
    let text = String::from_utf8(conf.body.to_vec()).unwrap();
    assert!(text.contains("orderMessageEnable=true"), "{text}");
    ns.shutdown().await;
}
