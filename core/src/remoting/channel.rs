//! One TCP connection speaking remoting frames, shared by its reader task and any writer.

use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use super::inbox::ReadBuf;
use super::RequestHandler;
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
    reader: OwnedReadHalf,
    /// What was read and not yet cut into frames, and with it the right to read: the reader
    /// task takes it when the socket turns readable; a blocking caller waiting for its reply
    /// takes it to read that reply itself (see `Channel::read_for_reply`).
    inbox: Mutex<ReadBuf>,
    /// Handles the requests read; dropped when the reader task ends (a handler may own the
    /// channels that own it).
    handler: Mutex<Option<Arc<dyn RequestHandler>>>,
    /// Wakes the reader task when a caller stopped reading with bytes possibly left unread.
    kick: tokio::sync::Notify,
    /// Where requests read on this connection are handled.
    runtime: tokio::runtime::Handle,
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

/// How a stint of reading ended.
enum Read {
    /// The socket has nothing more now.
    Drained,
    /// Bytes were read and their frames dispatched; there may be more.
    Progress,
    Eof,
    Failed(String),
}

/// A blocking caller reads its own reply only while no other request on the connection awaits
/// one: with several waiting, the reader task reading all their replies at once costs less than
/// callers taking turns at the socket (and waking each other).
const LEAD_MAX_PENDING: usize = 1;

thread_local! {
    /// Set while a blocking caller's future is polled on its own thread (see `blocking_caller`).
    static CALLER_MAY_BLOCK_UNTIL: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Runs `poll` (one poll of a future a blocking caller waits on, on the caller's own thread —
/// never a runtime thread) allowing `Channel::invoke` to block this thread until `until` reading
/// its reply from the socket itself, instead of parking until the connection's reader task
/// hands it over: a thread hand-off less per call.
pub fn blocking_caller<R>(until: Instant, poll: impl FnOnce() -> R) -> R {
    struct Restore(Option<Instant>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CALLER_MAY_BLOCK_UNTIL.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(CALLER_MAY_BLOCK_UNTIL.with(|c| c.replace(Some(until))));
    poll()
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
                reader: rd,
                inbox: Mutex::new(ReadBuf::default()),
                handler: Mutex::new(Some(handler.clone())),
                kick: tokio::sync::Notify::new(),
                runtime: tokio::runtime::Handle::current(),
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
            let reason = reader_ch.read_loop().await;
            if let Err(e) = reason {
                tracing::debug!(channel = ?reader_ch, error = %e, "connection closed");
            }
            *reader_ch.inner.handler.lock().unwrap() = None;
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
        // Also ends reads at once: the reader task, and a caller blocked reading its reply.
        let _ = rustix::net::shutdown(self.inner.reader.as_ref(), rustix::net::Shutdown::Read);
        self.mark_closed();
    }

    fn try_lock_inbox(&self) -> Option<MutexGuard<'_, ReadBuf>> {
        match self.inner.inbox.try_lock() {
            Ok(g) => Some(g),
            Err(TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    async fn read_loop(&self) -> Result<(), String> {
        // Registered once and re-armed when it fires, not once per wake-up.
        let mut kicked = std::pin::pin!(self.inner.kick.notified());
        loop {
            tokio::select! {
                r = self.inner.reader.readable() => r.map_err(|e| e.to_string())?,
                _ = &mut kicked => kicked.set(self.inner.kick.notified()),
            }
            let outcome = {
                // Forget the readiness first: bytes arriving from now on raise it again, and
                // those already here are read below — or by the blocking caller reading now,
                // which kicks us if it stops with bytes possibly unread. (Reads are plain
                // system calls, by us and by callers alike, so that neither depends on what
                // the runtime has seen.)
                let _ = self.inner.reader.as_ref().try_io(Interest::READABLE, || {
                    Err::<(), _>(std::io::ErrorKind::WouldBlock.into())
                });
                let Some(mut inbox) = self.try_lock_inbox() else {
                    continue;
                };
                // Up to 16 reads before giving the runtime's other tasks a turn.
                let mut outcome = Read::Progress;
                for _ in 0..16 {
                    outcome = self.read_some(&mut inbox);
                    if !matches!(outcome, Read::Progress) {
                        break;
                    }
                }
                outcome
            };
            match outcome {
                Read::Drained => {}
                // There may be more: after the other tasks' turn.
                Read::Progress => {
                    self.inner.kick.notify_one();
                    tokio::task::yield_now().await;
                }
                Read::Eof => return Ok(()),
                Read::Failed(e) => return Err(e),
            }
        }
    }

    /// One non-blocking `read(2)` of the socket into the inbox, then every complete frame
    /// dispatched.
    fn read_some(&self, inbox: &mut ReadBuf) -> Read {
        let n = loop {
            match rustix::io::read(self.inner.reader.as_ref(), inbox.spare()) {
                Ok(0) => return Read::Eof,
                Ok(n) => break n,
                Err(rustix::io::Errno::AGAIN) => return Read::Drained,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Read::Failed(std::io::Error::from(e).to_string()),
            }
        };
        inbox.filled(n);
        loop {
            match inbox.next_frame() {
                Ok(Some(frame)) => match RemotingCommand::decode_frame(frame) {
                    Ok(cmd) => self.dispatch(cmd),
                    Err(e) => return Read::Failed(e.to_string()),
                },
                Ok(None) => return Read::Progress,
                Err(e) => return Read::Failed(e),
            }
        }
    }

    /// A response goes to its waiter; a request to the handler, in a task of its own.
    fn dispatch(&self, cmd: RemotingCommand) {
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
            return;
        }
        let Some(handler) = self.inner.handler.lock().unwrap().clone() else {
            return;
        };
        let ch = self.clone();
        // Each request runs in its own task so that a slow one (a long poll, a sync flush)
        // never holds up the requests behind it on this connection.
        self.inner.serving.fetch_add(1, Ordering::Relaxed);
        self.inner.runtime.spawn(async move {
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

    /// A blocking caller (see `blocking_caller`) reads the socket itself until its reply is in
    /// `rx` or `until` passes, dispatching whatever else arrives as the reader task would.
    /// `None`: another reader has the socket, the time ran out, or the connection failed (the
    /// reader task then sees it too) — wait on `rx` as usual.
    fn read_for_reply(
        &self,
        rx: &mut oneshot::Receiver<RemotingCommand>,
        until: Instant,
    ) -> Option<Result<RemotingCommand, RemotingError>> {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        let mut inbox = self.try_lock_inbox()?;
        let fd = self.inner.reader.as_ref();
        let result = loop {
            match rx.try_recv() {
                Ok(resp) => break Some(Ok(resp)),
                Err(oneshot::error::TryRecvError::Closed) => break Some(Err(self.closed_error())),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            match self.read_some(&mut inbox) {
                Read::Progress => {}
                Read::Drained => {
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() || self.inner.pending.lock().unwrap().len() > LEAD_MAX_PENDING
                    {
                        break None;
                    }
                    let timeout = Timespec {
                        tv_sec: left.as_secs().min(i64::MAX as u64) as i64,
                        tv_nsec: left.subsec_nanos() as _,
                    };
                    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
                    // Readable, timed out or interrupted: look again.
                    let _ = poll(&mut fds, Some(&timeout));
                }
                Read::Eof | Read::Failed(_) => break None,
            }
        };
        drop(inbox);
        // Bytes that arrived after our last read may have had their readiness consumed by the
        // reader task while we held the inbox: if any are there, have it read them.
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        let zero = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        if !matches!(poll(&mut fds, Some(&zero)), Ok(0)) {
            self.inner.kick.notify_one();
        }
        result
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
        let (tx, mut rx) = oneshot::channel();
        self.inner.pending.lock().unwrap().insert(opaque, tx);
        let deadline = Instant::now().checked_add(timeout);
        if let Err(e) = self.write(&cmd).await {
            self.inner.pending.lock().unwrap().remove(&opaque);
            return Err(e);
        }
        let mut left = timeout;
        let caller_until = CALLER_MAY_BLOCK_UNTIL.with(|c| c.get());
        if let Some(until) =
            caller_until.filter(|_| self.inner.pending.lock().unwrap().len() <= LEAD_MAX_PENDING)
        {
            let until = deadline.map_or(until, |d| d.min(until));
            if let Some(r) = self.read_for_reply(&mut rx, until) {
                return r;
            }
            if let Some(d) = deadline {
                left = d.saturating_duration_since(Instant::now());
            }
        }
        match tokio::time::timeout(left, rx).await {
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
        let w = inner.writer.lock().await;
        let stream: &TcpStream = (*w).as_ref();
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
                // `sendmsg` with MSG_NOSIGNAL, not `writev`: a peer gone away must be an error
                // here, never a SIGPIPE in the host process (a Go program dies of one; Rust
                // only ignores it in its own binaries).
                stream
                    .async_io(Interest::WRITABLE, || {
                        rustix::net::sendmsg(
                            stream,
                            &slices,
                            &mut Default::default(),
                            rustix::net::SendFlags::NOSIGNAL,
                        )
                        .map_err(std::io::Error::from)
                    })
                    .await
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
