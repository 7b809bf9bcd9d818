//! The HTTP front the broker ceilings share (`amqp_ceiling`, `nats_ceiling`,
//! `kafka_ceiling`): a hyper server whose every request is one [`RoundTrip`]
//! over the broker, the table of requests waiting for their replies, matched
//! by a correlation id, and the command line. Only the broker side differs
//! between them.
//!
//! Each ceiling runs as one process (the front and the echo together) or as
//! two (`--front` and `--echo` on the same NAME), as a mesh request crosses
//! two processes, the gateway's and the runner's.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// How long a request waits for its reply before it answers 504.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// One HTTP request sent over the broker and its reply awaited.
pub trait RoundTrip: Send + Sync + 'static {
    /// The reply's body, or why there is none.
    fn call(
        &self,
        req: &Request<hyper::body::Incoming>,
    ) -> impl Future<Output = anyhow::Result<Bytes>> + Send;
}

/// The body a ceiling sends for `req`: its method, path and query as JSON.
pub fn request_body(req: &Request<hyper::body::Incoming>) -> anyhow::Result<Vec<u8>> {
    Ok(serde_json::to_vec(&serde_json::json!({
        "method": req.method().as_str(),
        "path": req.uri().path(),
        "query": req.uri().query().unwrap_or_default(),
    }))?)
}

/// The requests waiting for their replies, by correlation id.
#[derive(Default)]
pub struct Waiters {
    next_id: AtomicU64,
    waiting: Mutex<HashMap<u64, oneshot::Sender<Bytes>>>,
}

/// A request's place in [`Waiters`]; leaving it, however its call ends (a
/// timeout, a client gone), takes the place back.
pub struct Waiting<'a> {
    waiters: &'a Waiters,
    /// The correlation id to send with the request.
    pub id: u64,
    reply: Option<oneshot::Receiver<Bytes>>,
}

impl Waiters {
    /// A new correlation id with its waiting place.
    pub fn wait(&self) -> Waiting<'_> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.lock().insert(id, tx);
        Waiting {
            waiters: self,
            id,
            reply: Some(rx),
        }
    }

    /// Hands a reply to the request with correlation id `id`, if it still
    /// waits.
    pub fn deliver(&self, id: u64, reply: Bytes) {
        if let Some(waiter) = self.lock().remove(&id) {
            let _ = waiter.send(reply);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<Bytes>>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Waiting<'_> {
    /// The reply, within [`REPLY_TIMEOUT`].
    pub async fn reply(mut self) -> anyhow::Result<Bytes> {
        let rx = self.reply.take().context("the reply was already taken")?;
        let reply = tokio::time::timeout(REPLY_TIMEOUT, rx).await?;
        reply.with_context(|| format!("the reply to request {} was lost", self.id))
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.waiters.lock().remove(&self.id);
    }
}

/// Returns on SIGINT or SIGTERM: what an `--echo` process serves until.
pub async fn until_stopped() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        stopped = tokio::signal::ctrl_c() => Ok(stopped?),
        _ = terminate.recv() => Ok(()),
    }
}

/// Listens on `listen` and accepts HTTP connections until SIGINT or
/// SIGTERM; every request is one round trip of `front`. `name` prefixes
/// what it prints: the address it listens on, then `queues` (where the
/// requests go), and any error.
pub async fn serve<F: RoundTrip>(
    name: &'static str,
    listen: &str,
    queues: &str,
    front: Arc<F>,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    eprintln!(
        "{name} listening on {}, requests on {queues}",
        listener.local_addr()?
    );
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = terminate.recv() => return Ok(()),
        };
        stream.set_nodelay(true)?;
        let front = front.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| answer(name, front.clone(), req));
            let _ = Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer<F: RoundTrip>(
    name: &'static str,
    front: Arc<F>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, body) = match front.call(&req).await {
        Ok(reply) => (StatusCode::OK, reply),
        Err(error) => {
            eprintln!("{name}: {error:#}");
            let status = if error.is::<tokio::time::error::Elapsed>() {
                StatusCode::GATEWAY_TIMEOUT
            } else {
                StatusCode::BAD_GATEWAY
            };
            (status, Bytes::from(format!("{error:#}\n")))
        }
    };
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

/// A name no other run uses, for a ceiling's queues, streams or topics:
/// `funcmesh-bench-<pid>-<nanos>`.
pub fn run_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("funcmesh-bench-{}-{nanos:08x}", std::process::id())
}

/// Which part of a round trip a ceiling process plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The HTTP front and the echo in one process: the one-process ceiling.
    Both,
    /// The HTTP front alone; an [`Role::Echo`] process on the same NAME
    /// answers its requests.
    Front,
    /// The echo alone: it answers NAME's requests until SIGINT or SIGTERM,
    /// and deletes NAME's queues, streams or topics as it stops.
    Echo,
}

impl Role {
    /// Whether the process serves HTTP.
    pub fn front(self) -> bool {
        self != Self::Echo
    }

    /// Whether the process answers requests.
    pub fn echo(self) -> bool {
        self != Self::Front
    }
}

/// What a broker ceiling's command line asks for:
/// `CEILING [--front|--echo] [LISTEN] [SERVER] [NAME] [WINDOW]` or
/// `CEILING --delete-namespace NS [SERVER]`.
pub enum Command {
    /// Play `role` over the broker at `server`, serving HTTP on `listen`
    /// (unless only the echo), with queues named after `name` and at most
    /// `window` requests out at the echo.
    Serve {
        role: Role,
        listen: String,
        server: String,
        name: String,
        window: u16,
    },
    /// Delete what funcmesh namespace `namespace` (or a ceiling of that
    /// name) left on the broker at `server`.
    DeleteNamespace { namespace: String, server: String },
}

impl Command {
    /// Reads the process's arguments; `listen` and `server` are the defaults.
    pub fn from_args(listen: &str, server: &str) -> anyhow::Result<Self> {
        let mut args = std::env::args().skip(1).peekable();
        let role = match args.peek().map(String::as_str) {
            Some("--delete-namespace") => {
                args.next();
                let namespace = args
                    .next()
                    .context("--delete-namespace needs a namespace")?;
                let server = args.next().unwrap_or_else(|| server.to_owned());
                return Ok(Self::DeleteNamespace { namespace, server });
            }
            Some("--front") => Role::Front,
            Some("--echo") => Role::Echo,
            _ => Role::Both,
        };
        if role != Role::Both {
            args.next();
        }
        let listen = args.next().unwrap_or_else(|| listen.to_owned());
        let server = args.next().unwrap_or_else(|| server.to_owned());
        let name = match args.next() {
            Some(name) => name,
            None if role == Role::Both => run_name(),
            // Two processes must agree on it.
            None => anyhow::bail!("--front and --echo need a NAME, the same for both"),
        };
        let window = match args.next() {
            Some(n) => n
                .parse()
                .context("the window must be a number below 65536")?,
            None => 64,
        };
        Ok(Self::Serve {
            role,
            listen,
            server,
            name,
            window,
        })
    }
}
