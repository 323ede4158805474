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
                // Never answered.
                1002 => None,
                // Answered by closing the connection.
                1003 => {
                    ch.close().await;
                    None
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

// A blocking caller (an application thread in `client::blocking`, as every binding's send is)
// reads its own reply from the socket when it is the only one waiting on the connection,
// instead of parking until the reader task hands the reply over. These run the transport from
// plain threads, as the bindings do, with checks every millisecond so that callers keep
// starting and stopping to read, alongside runtime tasks on the same connection.

fn blocking<T: Send>(f: impl std::future::Future<Output = T> + Send) -> T {
    rocketmq::client::blocking::block_on_checking(f, Duration::from_millis(1), || None::<()>)
        .unwrap()
}

#[test]
fn blocking_callers_and_tasks_share_a_connection_and_each_gets_its_own_reply() {
    let (srv, _) = rocketmq::client::blocking::block_on(server());
    let addr = srv.local_addr.to_string();
    let client = RemotingClient::default();
    const PER_THREAD: usize = 300;
    // Sizes from a few bytes to frames larger than the connection's 64 KiB read buffer, so
    // that replies arrive in pieces and readers change between the pieces.
    let size = |t: usize, i: usize| match (t + i) % 7 {
        0 => 200_000 + i,
        1 | 2 => 20_000 + i,
        _ => i % 100,
    };
    let async_done = Arc::new(AtomicUsize::new(0));
    let tasks = {
        let (client, addr, done) = (client.clone(), addr.clone(), async_done.clone());
        rocketmq::client::blocking::runtime().spawn(async move {
            for i in 0..PER_THREAD {
                let body: Vec<u8> = (0..size(99, i)).map(|b| (b + i) as u8).collect();
                let req = RemotingCommand::request(1000).with_body(body.clone());
                let resp = client
                    .invoke(&addr, req, Duration::from_secs(30))
                    .await
                    .unwrap();
                assert_eq!(&resp.body[..], &body[..], "task request {i}");
                done.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    std::thread::scope(|s| {
        for t in 0..6 {
            let (client, addr) = (&client, &addr);
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    let body: Vec<u8> = (0..size(t, i)).map(|b| (b * 31 + t + i) as u8).collect();
                    let req = RemotingCommand::request(1000).with_body(body.clone());
                    let resp = blocking(client.invoke(addr, req, Duration::from_secs(30)))
                        .unwrap_or_else(|e| panic!("thread {t} request {i}: {e}"));
                    assert_eq!(resp.code, 0);
                    assert_eq!(&resp.body[..], &body[..], "thread {t} request {i}");
                    if i % 50 == t {
                        // Now and then one caller is alone on the connection for a while.
                        std::thread::sleep(Duration::from_millis(2));
                    }
                }
            });
        }
    });
    rocketmq::client::blocking::block_on(tasks).unwrap();
    assert_eq!(async_done.load(Ordering::SeqCst), PER_THREAD);
    rocketmq::client::blocking::block_on(srv.shutdown());
}

#[test]
fn a_request_from_the_peer_is_served_while_a_blocking_caller_reads() {
    let (srv, _) = rocketmq::client::blocking::block_on(server());
    let addr = srv.local_addr.to_string();
    let client = RemotingClient::new(Arc::new(ClientSide));
    // The only caller on the connection: it reads the server's request (code 2000) before its
    // own reply, which the server sends only once the client has answered that request.
    for _ in 0..50 {
        let resp = blocking(client.invoke(
            &addr,
            RemotingCommand::request(1001),
            Duration::from_secs(10),
        ))
        .unwrap();
        assert_eq!(resp.remark.as_deref(), Some("from client"));
    }
    rocketmq::client::blocking::block_on(srv.shutdown());
}

#[test]
fn a_blocking_caller_times_out_on_time_and_sees_a_close_at_once() {
    use rocketmq::remoting::RemotingError;
    let (srv, _) = rocketmq::client::blocking::block_on(server());
    let addr = srv.local_addr.to_string();
    let client = RemotingClient::default();
    // Without checks (plain `block_on`), the caller reads until its own deadline.
    let call = |req: RemotingCommand, timeout: Duration| {
        let t = std::time::Instant::now();
        let r = rocketmq::client::blocking::block_on(client.invoke(&addr, req, timeout));
        (r, t.elapsed())
    };
    let (r, took) = call(RemotingCommand::request(1002), Duration::from_millis(300));
    assert!(matches!(r, Err(RemotingError::Timeout { .. })), "{r:?}");
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(5),
        "{took:?}"
    );
    // The connection still works after a caller gave up on it.
    let body = b"after".to_vec();
    let (r, _) = call(
        RemotingCommand::request(1000).with_body(body),
        Duration::from_secs(10),
    );
    assert_eq!(&r.unwrap().body[..], b"after");
    // The server closing the connection ends the wait long before the timeout.
    let (r, took) = call(RemotingCommand::request(1003), Duration::from_secs(60));
    assert!(matches!(r, Err(RemotingError::Closed { .. })), "{r:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    // A new connection serves the next request.
    let (r, _) = call(RemotingCommand::request(1000), Duration::from_secs(10));
    assert_eq!(r.unwrap().code, 0);
    rocketmq::client::blocking::block_on(srv.shutdown());
}
