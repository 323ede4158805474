//! Accepting connections and serving requests on them.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::watch;

use super::{Channel, RequestHandler};

/// Listens on an address and spawns a `Channel` per accepted connection.
pub struct RemotingServer;

/// A running server: its bound address and a way to stop it.
pub struct ServerHandle {
    pub local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    channels: Arc<Mutex<Vec<Channel>>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl RemotingServer {
    /// Binds `addr` (port 0 picks a free port) and serves until the handle stops it.
    pub async fn bind(
        addr: SocketAddr,
        handler: Arc<dyn RequestHandler>,
    ) -> std::io::Result<ServerHandle> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let (stop, mut stopped) = watch::channel(false);
        let channels: Arc<Mutex<Vec<Channel>>> = Arc::new(Mutex::new(Vec::new()));
        let chans = channels.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => {
                            let ch = Channel::spawn(stream, handler.clone());
                            let mut v = chans.lock().unwrap();
                            v.retain(|c| !c.is_closed());
                            v.push(ch);
                        }
                        Err(e) => {
                            // Out of descriptors and the like: back off rather than spin.
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        }
                    }
                }
            }
        });
        Ok(ServerHandle {
            local_addr,
            stop,
            channels,
            task: Mutex::new(Some(task)),
        })
    }
}

impl ServerHandle {
    /// Stops accepting and closes every open connection.
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().unwrap().take();
        if let Some(t) = task {
            let _ = t.await;
        }
        let chans: Vec<Channel> = std::mem::take(&mut *self.channels.lock().unwrap());
        for c in chans {
            c.close().await;
        }
    }
}
