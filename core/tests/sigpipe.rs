//! Writing to a connection the peer has reset is an error, never a SIGPIPE: the library runs
//! inside hosts that leave SIGPIPE at its default action (a Go program, a C program), where the
//! signal kills the process. Rust ignores SIGPIPE only in its own binaries, so this test puts the
//! default action back first (in a test binary of its own: the setting is process-wide).

use rocketmq::protocol::RemotingCommand;
use rocketmq::remoting::RemotingClient;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writing_to_a_reset_connection_fails_without_killing_the_process() {
    use nix::sys::signal::{signal, SigHandler, Signal};
    // SAFETY: installs the default disposition, no handler code of ours.
    unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) }.unwrap();

    for round in 0..20 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let client = RemotingClient::default();
        let ch = client.channel(&addr).await.unwrap();
        // The peer resets the connection (linger 0) while we keep writing: writes after the
        // reset, before the connection counts as closed here, meet EPIPE.
        let (peer, _) = listener.accept().unwrap();
        let writer = tokio::spawn(async move {
            let mut sent = 0u32;
            loop {
                let req = RemotingCommand::request(1000).with_body(vec![1u8; 4096]);
                match ch.invoke_oneway(req).await {
                    Ok(()) => sent += 1,
                    Err(e) => return (sent, e),
                }
            }
        });
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        rustix::net::sockopt::set_socket_linger(&peer, Some(std::time::Duration::ZERO)).unwrap();
        drop(peer);
        let (sent, e) = writer.await.unwrap();
        // Alive to tell: the failed write came back as an error.
        assert!(sent > 0, "round {round}: {e}");
    }
}
