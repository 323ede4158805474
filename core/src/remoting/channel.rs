//! One TCP connection speaking remoting frames, shared by its reader task and any writer.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use super::RequestHandler;
use crate::protocol::limits::FRAME_MAX_BYTES;
use crate::protocol::{response_code, RemotingCommand};

/// Failures of the transport itself (not of a request's processing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemotingError {
    Connect { addr: String, reason: String },
    Timeout { addr: String, timeout_ms: u64 },
    Closed { addr: String },
    Io { addr: String, reason: String },
}

impl std::fmt::Display for RemotingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RemotingError::Connect { addr, reason } => {
                write!(f, "cannot connect to {addr}: {reason}")
            }
            RemotingError::Timeout { addr, timeout_ms } => {
                write!(f, "no response from {addr} within {timeout_ms} ms")
            }
            RemotingError::Closed { addr } => write!(f, "connection to {addr} closed"),
            RemotingError::Io { addr, reason } => {
                write!(f, "I/O error on connection to {addr}: {reason}")
            }
        }
    }
}
impl std::error::Error for RemotingError {}

static NEXT_CHANNEL_ID: AtomicU64 = AtomicU64::new(1);
static NEXT_OPAQUE: AtomicI32 = AtomicI32::new(1);

struct Inner {
    id: u64,
    remote: SocketAddr,
    local: SocketAddr,
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    /// Frames waiting for the connection. Whoever finds it idle becomes its writer and sends
    /// everything queued — its own frame and those appended meanwhile — in as few system calls
    /// as possible; everyone else only appends. Under load responses (and requests of many
    /// threads) leave together, without a hand-off to a writer task.
    outbox: Mutex<Outbox>,
    /// Requests received on this connection and not yet answered.
    serving: AtomicUsize,
    pending: Mutex<HashMap<i32, oneshot::Sender<RemotingCommand>>>,
    closed: AtomicBool,
    close_notify: tokio::sync::Notify,
}

/// A cheap handle on one connection.
#[derive(Clone)]
pub struct Channel {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Channel#{}({})", self.inner.id, self.inner.remote)
    }
}

impl PartialEq for Channel {
    fn eq(&self, other: &Self) -> bool {
        self.inner.id == other.inner.id
    }
}
impl Eq for Channel {}
impl std::hash::Hash for Channel {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.inner.id.hash(state)
    }
}

impl Channel {
    /// Wraps a connected stream and spawns its reader task, which hands requests to `handler`.
    pub fn spawn(stream: TcpStream, handler: Arc<dyn RequestHandler>) -> Channel {
        let _ = stream.set_nodelay(true);
        let remote = stream
            .peer_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let local = stream
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let (rd, wr) = stream.into_split();
        let ch = Channel {
            inner: Arc::new(Inner {
                id: NEXT_CHANNEL_ID.fetch_add(1, Ordering::Relaxed),
                remote,
                local,
                writer: tokio::sync::Mutex::new(wr),
                outbox: Mutex::new(Outbox::default()),
                serving: AtomicUsize::new(0),
                pending: Mutex::new(HashMap::new()),
                closed: AtomicBool::new(false),
                close_notify: tokio::sync::Notify::new(),
            }),
        };
        let reader_ch = ch.clone();
        tokio::spawn(async move {
            let reason = reader_ch.read_loop(rd, handler.clone()).await;
            if let Err(e) = reason {
                tracing::debug!(channel = ?reader_ch, error = %e, "connection closed");
            }
            // Shut our side too, so the peer sees the close even while handles remain.
            reader_ch.close().await;
            handler.on_close(&reader_ch);
        });
        ch
    }

    pub fn id(&self) -> u64 {
        self.inner.id
    }
    pub fn remote_addr(&self) -> SocketAddr {
        self.inner.remote
    }
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local
    }
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Resolves once the connection has closed.
    pub async fn closed(&self) {
        loop {
            let notified = self.inner.close_notify.notified();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }

    fn mark_closed(&self) {
        self.inner.closed.store(true, Ordering::Release);
        // Dropping the senders fails every pending invoke with Closed.
        self.inner.pending.lock().unwrap().clear();
        self.inner.close_notify.notify_waiters();
    }

    /// Closes the connection (the reader task ends and `on_close` runs).
    pub async fn close(&self) {
        let mut w = self.inner.writer.lock().await;
        let _ = w.shutdown().await;
        drop(w);
        self.mark_closed();
    }

    async fn read_loop(
        &self,
        rd: OwnedReadHalf,
        handler: Arc<dyn RequestHandler>,
    ) -> Result<(), String> {
        let mut rd = BufReader::with_capacity(64 * 1024, rd);
        loop {
            let len = match rd.read_i32().await {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e.to_string()),
            };
            if len < 4 || len as usize + 4 > FRAME_MAX_BYTES {
                return Err(format!("frame length {len} outside 4..{FRAME_MAX_BYTES}"));
            }
            let mut buf = BytesMut::zeroed(len as usize);
            rd.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
            let cmd = RemotingCommand::decode_frame(buf.freeze()).map_err(|e| e.to_string())?;
            if cmd.is_response() {
                let waiter = self.inner.pending.lock().unwrap().remove(&cmd.opaque);
                match waiter {
                    Some(tx) => {
                        let _ = tx.send(cmd);
                    }
                    None => tracing::debug!(
                        opaque = cmd.opaque,
                        "response with no pending request dropped"
                    ),
                }
                continue;
            }
            let ch = self.clone();
            let handler = handler.clone();
            // Each request runs in its own task so that a slow one (a long poll, a sync flush)
            // never holds up the requests behind it on this connection.
            self.inner.serving.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let _served = Served(&ch);
                let oneway = cmd.is_oneway();
                let code = cmd.code;
                let opaque = cmd.opaque;
                let st = cmd.serialize_type;
                let fut = handler.handle(ch.clone(), cmd);
                let resp = fut.await;
                if oneway {
                    return;
                }
                if let Some(mut resp) = resp {
                    resp.opaque = opaque;
                    resp.flag |= crate::protocol::command::FLAG_RESPONSE;
                    resp.serialize_type = st;
                    if let Err(e) = ch.write(&resp).await {
                        tracing::debug!(code, error = %e, "writing response failed");
                    }
                }
            });
        }
    }

    /// Writes one frame: queued, and sent by this call unless another call is sending already
    /// (then that one sends it with its own). An error means the frame was not sent.
    pub async fn write(&self, cmd: &RemotingCommand) -> Result<(), RemotingError> {
        if self.is_closed() {
            return Err(self.closed_error());
        }
        let mut header = cmd.encode_header();
        {
            let mut ob = self.inner.outbox.lock().unwrap();
            if cmd.body.is_empty() {
                ob.frames.push_back(header.freeze());
            } else if cmd.body.len() <= 4096 {
                header.extend_from_slice(&cmd.body);
                ob.frames.push_back(header.freeze());
            } else {
                ob.frames.push_back(header.freeze());
                ob.frames.push_back(cmd.body.clone());
            }
            if ob.writing {
                return Ok(());
            }
            ob.writing = true;
        }
        // Other requests in flight on this connection (answers to send, or our own requests
        // whose senders are about to send again) are worth waiting a scheduler pass for.
        let busy = self.inner.serving.load(Ordering::Relaxed)
            + self.inner.pending.lock().unwrap().len()
            > 1;
        let res = Flusher::new(self.clone(), busy).run().await;
        res.map_err(|e| RemotingError::Io {
            addr: self.inner.remote.to_string(),
            reason: e.to_string(),
        })
    }

    fn closed_error(&self) -> RemotingError {
        RemotingError::Closed {
            addr: self.inner.remote.to_string(),
        }
    }

    /// Sends a request and waits for its response.
    pub async fn invoke(
        &self,
        mut cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, RemotingError> {
        let opaque = NEXT_OPAQUE.fetch_add(1, Ordering::Relaxed) & i32::MAX;
        cmd.opaque = opaque;
        cmd.flag &= !crate::protocol::command::FLAG_RESPONSE;
        let (tx, rx) = oneshot::channel();
        self.inner.pending.lock().unwrap().insert(opaque, tx);
        if let Err(e) = self.write(&cmd).await {
            self.inner.pending.lock().unwrap().remove(&opaque);
            return Err(e);
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(_)) => Err(RemotingError::Closed {
                addr: self.inner.remote.to_string(),
            }),
            Err(_) => {
                self.inner.pending.lock().unwrap().remove(&opaque);
                Err(RemotingError::Timeout {
                    addr: self.inner.remote.to_string(),
                    timeout_ms: timeout.as_millis() as u64,
                })
            }
        }
    }

    /// Sends a oneway request (no response expected).
    pub async fn invoke_oneway(&self, mut cmd: RemotingCommand) -> Result<(), RemotingError> {
        cmd.opaque = NEXT_OPAQUE.fetch_add(1, Ordering::Relaxed) & i32::MAX;
        cmd.mark_oneway();
        self.write(&cmd).await
    }

    /// Answers a request later (e.g. a suspended pull).
    pub async fn respond(
        &self,
        request_opaque: i32,
        mut resp: RemotingCommand,
    ) -> Result<(), RemotingError> {
        resp.opaque = request_opaque;
        resp.flag |= crate::protocol::command::FLAG_RESPONSE;
        self.write(&resp).await
    }

    /// A response for requests no handler knows.
    pub fn not_supported(req: &RemotingCommand) -> RemotingCommand {
        RemotingCommand::response_to(
            req,
            response_code::REQUEST_CODE_NOT_SUPPORTED,
            Some(format!(" request type {} not supported", req.code)),
        )
    }
}

/// Counts a request as answered when its task ends, however it ends.
struct Served<'a>(&'a Channel);
impl Drop for Served<'_> {
    fn drop(&mut self) {
        self.0.inner.serving.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Default)]
struct Outbox {
    frames: VecDeque<Bytes>,
    /// A `Flusher` owns the connection's write side.
    writing: bool,
}

/// The outbox's current writer. If its future is dropped mid-way (a caller's timeout), `Drop`
/// puts the unsent rest back in front and hands the job to a task, so the stream never carries
/// a torn frame and queued frames are not stranded.
struct Flusher {
    ch: Channel,
    /// Yield once before the first write, so that frames about to be queued join it.
    gather: bool,
    batch: VecDeque<Bytes>,
    /// `run` returned (so nothing to hand over on drop).
    done: bool,
}

/// At most this many buffers per `writev`.
const MAX_IOV: usize = 64;

impl Flusher {
    fn new(ch: Channel, gather: bool) -> Self {
        Flusher {
            ch,
            gather,
            batch: VecDeque::new(),
            done: false,
        }
    }

    async fn run(mut self) -> std::io::Result<()> {
        let res = self.send_all().await;
        self.done = true;
        if res.is_err() {
            // Nothing more can go out: fail what is queued and every pending request.
            self.batch.clear();
            let mut ob = self.ch.inner.outbox.lock().unwrap();
            ob.frames.clear();
            ob.writing = false;
            drop(ob);
            self.ch.mark_closed();
        }
        res
    }

    async fn send_all(&mut self) -> std::io::Result<()> {
        let inner = self.ch.inner.clone();
        if self.gather {
            // Let the tasks that are ready now (requests read in the same pass, other senders)
            // queue their frames first, so that they leave in this write.
            tokio::task::yield_now().await;
        }
        let mut w = inner.writer.lock().await;
        loop {
            if self.batch.is_empty() {
                let mut ob = inner.outbox.lock().unwrap();
                if ob.frames.is_empty() {
                    ob.writing = false;
                    return Ok(());
                }
                std::mem::swap(&mut self.batch, &mut ob.frames);
            }
            let res = {
                let slices: Vec<std::io::IoSlice<'_>> = self
                    .batch
                    .iter()
                    .take(MAX_IOV)
                    .map(|b| std::io::IoSlice::new(b))
                    .collect();
                w.write_vectored(&slices).await
            };
            let mut n = match res {
                Ok(0) => Err(std::io::Error::from(std::io::ErrorKind::WriteZero)),
                other => other,
            }?;
            while n > 0 {
                let front = self.batch.front_mut().expect("written bytes were queued");
                let k = n.min(front.len());
                front.advance(k);
                n -= k;
                if front.is_empty() {
                    self.batch.pop_front();
                }
            }
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // `run` was cancelled: requeue the unsent rest in front; a task takes over as writer.
        let mut ob = self.ch.inner.outbox.lock().unwrap();
        while let Some(b) = self.batch.pop_back() {
            ob.frames.push_front(b);
        }
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                drop(ob);
                let next = Flusher::new(self.ch.clone(), false);
                h.spawn(async move {
                    let _ = next.run().await;
                });
            }
            Err(_) => {
                ob.frames.clear();
                ob.writing = false;
            }
        }
    }
}
