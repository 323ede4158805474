//! The transport over real loopback sockets.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rocketmq::protocol::{response_code, RemotingCommand, SerializeType};
use rocketmq::remoting::{BoxFuture, Channel, RemotingClient, RemotingServer, RequestHandler};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Echo {
    oneways: AtomicUsize,
}

impl RequestHandler for Echo {
    fn handle(&self, ch: Channel, req: RemotingCommand) -> BoxFuture<Option<RemotingCommand>> {
        if req.is_oneway() {
            self.oneways.fetch_add(1, Ordering::SeqCst);
        }
        Box::pin(async move {
            match req.code {
                1000 => {
                    Some(RemotingCommand::response_to(&req, 0, None).with_body(req.body.clone()))
                }
                // Asks the caller back over the same connection, answering with what it said.
                1001 => {
                    let back = ch
                        .invoke(RemotingCommand::request(2000), Duration::from_secs(5))
                        .await
                        .ok()?;
                    Some(RemotingCommand::response_to(&req, 0, back.remark))
                }
                _ => Some(Channel::not_supported(&req)),
            }
        })
    }
}

struct ClientSide;
impl RequestHandler for ClientSide {
    fn handle(&self, _ch: Channel, req: RemotingCommand) -> BoxFuture<Option<RemotingCommand>> {
        Box::pin(async move {
            Some(RemotingCommand::response_to(
                &req,
                0,
                Some("from client".into()),
            ))
        })
    }
}

async fn server() -> (rocketmq::remoting::ServerHandle, Arc<Echo>) {
    let echo = Arc::new(Echo {
        oneways: AtomicUsize::new(0),
    });
    let h = RemotingServer::bind("127.0.0.1:0".parse().unwrap(), echo.clone())
        .await
        .unwrap();
    (h, echo)
}

#[tokio::test]
async fn request_response_in_both_header_forms() {
    let (srv, _) = server().await;
    let client = RemotingClient::default();
    let addr = srv.local_addr.to_string();
    for st in [SerializeType::Json, SerializeType::RocketMq] {
        let mut req = RemotingCommand::request(1000).with_body(vec![7u8; 100_000]);
        req.serialize_type = st;
        let resp = client
            .invoke(&addr, req, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(resp.code, 0);
        assert_eq!(resp.serialize_type, st, "answer in the request's form");
        assert_eq!(resp.body.len(), 100_000);
    }
    srv.shutdown().await;
}

#[tokio::test]
async fn many_concurrent_requests_match_by_opaque() {
    let (srv, _) = server().await;
    let client = RemotingClient::default();
    let addr = srv.local_addr.to_string();
    let mut tasks = Vec::new();
    for i in 0..200u32 {
        let c = client.clone();
        let a = addr.clone();
        tasks.push(tokio::spawn(async move {
            let req = RemotingCommand::request(1000).with_body(i.to_be_bytes().to_vec());
            let resp = c.invoke(&a, req, Duration::from_secs(10)).await.unwrap();
            assert_eq!(&resp.body[..], &i.to_be_bytes());
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test]
async fn unknown_code_gets_not_supported_and_oneway_gets_nothing() {
    let (srv, echo) = server().await;
    let client = RemotingClient::default();
    let addr = srv.local_addr.to_string();
    let resp = client
        .invoke(
            &addr,
            RemotingCommand::request(4242),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(resp.code, response_code::REQUEST_CODE_NOT_SUPPORTED);
    assert!(resp.remark.unwrap().contains("4242"));
    client
        .invoke_oneway(&addr, RemotingCommand::request(1000))
        .await
        .unwrap();
    // The connection still serves requests after the oneway, and the oneway was seen.
    let resp = client
        .invoke(
            &addr,
            RemotingCommand::request(1000),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(resp.code, 0);
    assert_eq!(echo.oneways.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn server_can_call_the_client_back() {
    let (srv, _) = server().await;
    let client = RemotingClient::new(Arc::new(ClientSide));
    let resp = client
        .invoke(
            &srv.local_addr.to_string(),
            RemotingCommand::request(1001),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(resp.remark.as_deref(), Some("from client"));
}

#[tokio::test]
async fn malformed_and_oversized_frames_close_only_that_connection() {
    let (srv, _) = server().await;
    for garbage in [
        vec![0x7f, 0xff, 0xff, 0xff],
        vec![0, 0, 0, 8, 9, 0, 0, 1, b'x', b'x', b'x', b'x'],
    ] {
        let mut s = tokio::net::TcpStream::connect(srv.local_addr)
            .await
            .unwrap();
        s.write_all(&garbage).await.unwrap();
        let mut buf = [0u8; 16];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .unwrap()
            .unwrap_or(0);
        assert_eq!(n, 0, "server closes the bad connection");
    }
    let client = RemotingClient::default();
    let resp = client
        .invoke(
            &srv.local_addr.to_string(),
            RemotingCommand::request(1000),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(resp.code, 0, "server still serves others");
}

#[tokio::test]
async fn pending_requests_fail_when_the_peer_goes_away() {
    let (srv, _) = server().await;
    let client = RemotingClient::default();
    let addr = srv.local_addr.to_string();
    client
        .invoke(
            &addr,
            RemotingCommand::request(1000),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    srv.shutdown().await;
    let err = client
        .invoke(
            &addr,
            RemotingCommand::request(1000),
            Duration::from_secs(5),
        )
        .await;
    assert!(err.is_err());
}
