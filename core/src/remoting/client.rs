//! Outgoing connections, one per address, opened on first use and reopened after a close.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpStream;

use super::{BoxFuture, Channel, RemotingError, RequestHandler};
use crate::protocol::RemotingCommand;

/// Connections to many addresses; requests the peers send us go to `handler`.
#[derive(Clone)]
pub struct RemotingClient {
    channels: Arc<Mutex<HashMap<String, Channel>>>,
    connecting: Arc<tokio::sync::Mutex<()>>,
    handler: Arc<dyn RequestHandler>,
    connect_timeout: Duration,
}

struct RejectAll;
impl RequestHandler for RejectAll {
    fn handle(
        &self,
        _channel: Channel,
        request: RemotingCommand,
    ) -> BoxFuture<Option<RemotingCommand>> {
        Box::pin(async move { Some(Channel::not_supported(&request)) })
    }
}

impl Default for RemotingClient {
    fn default() -> Self {
        Self::new(Arc::new(RejectAll))
    }
}

impl RemotingClient {
    pub fn new(handler: Arc<dyn RequestHandler>) -> Self {
        RemotingClient {
            channels: Arc::new(Mutex::new(HashMap::new())),
            connecting: Arc::new(tokio::sync::Mutex::new(())),
            handler,
            connect_timeout: Duration::from_secs(3),
        }
    }

    /// The open channel to `addr`, connecting if there is none.
    pub async fn channel(&self, addr: &str) -> Result<Channel, RemotingError> {
        if let Some(ch) = self.cached(addr) {
            return Ok(ch);
        }
        let _guard = self.connecting.lock().await;
        if let Some(ch) = self.cached(addr) {
            return Ok(ch);
        }
        let stream = tokio::time::timeout(self.connect_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| RemotingError::Connect {
                addr: addr.to_string(),
                reason: "connect timed out".into(),
            })?
            .map_err(|e| RemotingError::Connect {
                addr: addr.to_string(),
                reason: e.to_string(),
            })?;
        let ch = Channel::spawn(stream, self.handler.clone());
        self.channels
            .lock()
            .unwrap()
            .insert(addr.to_string(), ch.clone());
        Ok(ch)
    }

    fn cached(&self, addr: &str) -> Option<Channel> {
        let mut map = self.channels.lock().unwrap();
        match map.get(addr) {
            Some(ch) if !ch.is_closed() => Some(ch.clone()),
            Some(_) => {
                map.remove(addr);
                None
            }
            None => None,
        }
    }

    pub async fn invoke(
        &self,
        addr: &str,
        cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, RemotingError> {
        let ch = self.channel(addr).await?;
        ch.invoke(cmd, timeout).await
    }

    pub async fn invoke_oneway(
        &self,
        addr: &str,
        cmd: RemotingCommand,
    ) -> Result<(), RemotingError> {
        let ch = self.channel(addr).await?;
        ch.invoke_oneway(cmd).await
    }

    /// Closes the connection to `addr`, if any.
    pub async fn close(&self, addr: &str) {
        let ch = self.channels.lock().unwrap().remove(addr);
        if let Some(ch) = ch {
            ch.close().await;
        }
    }

    /// Closes every connection.
    pub async fn close_all(&self) {
        let all: Vec<Channel> = self
            .channels
            .lock()
            .unwrap()
            .drain()
            .map(|(_, c)| c)
            .collect();
        for c in all {
            c.close().await;
        }
    }
}
