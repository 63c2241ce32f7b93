//! The web page and its JSON API (`opensoc serve`): one process, the model loaded once by the
//! command that starts it and fed through [`jobs`].
//!
//! [`api`] routes the requests, [`guard`] stands in front of them (token, rate limit, host,
//! security headers), [`reply`] shapes their errors, [`batch`] follows an uploaded file
//! through the agent's own pipeline ([`crate::ingest`]), and [`page`] holds the page compiled
//! in. The store view reads the same database as `opensoc verdicts`, read-only: this
//! machine's store, or the fleet's PostgreSQL database ([`StoreDb::Fleet`]).

pub mod api;
pub mod batch;
pub mod guard;
pub mod jobs;
pub mod page;
pub mod reply;

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

/// The shortest token the server takes: a guessable one would leave the rate limit as the
/// only lock.
pub const MIN_TOKEN: usize = 16;

/// How long a stop waits for open connections (live views never end on their own).
const STOP_GRACE: Duration = Duration::from_secs(2);

/// How the server is set up.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address and port; port 0 takes a free one.
    pub listen: SocketAddr,
    /// The verdict database the store view reads.
    pub db: StoreDb,
    /// The secret the API asks for; required off loopback.
    pub token: Option<String>,
    /// The largest upload, in bytes.
    pub max_upload: usize,
    /// Requests one client address may make in a minute.
    pub rate_limit: u32,
    /// What `GET /api/status` says of the model and the server.
    pub status: Value,
}

/// The database the store view reads.
#[derive(Debug, Clone)]
pub enum StoreDb {
    /// This machine's store, opened read-only for each request.
    File(PathBuf),
    /// The fleet database (`postgres://…`): every agent's forwarded verdicts, each with its
    /// agent; a connection for each request.
    Fleet(String),
}

impl StoreDb {
    /// A `--db` value: a fleet URL by its scheme, else a file.
    pub fn from_arg(db: PathBuf) -> StoreDb {
        match db.to_str() {
            Some(url) if crate::store::fleet::is_fleet_url(url) => StoreDb::Fleet(url.to_string()),
            _ => StoreDb::File(db),
        }
    }

    /// The database as messages and `/api/status` show it: a URL's password hidden.
    pub fn shown(&self) -> String {
        match self {
            StoreDb::File(path) => path.display().to_string(),
            StoreDb::Fleet(url) => crate::store::fleet::shown_url(url),
        }
    }
}

/// Why the server did not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A reachable address without a token.
    #[error(
        "{0} is reachable from other machines: set a token (--token or $OPENSOC_TOKEN; there \
         are no default credentials), or listen on 127.0.0.1"
    )]
    NoToken(SocketAddr),
    /// A token too short to resist guessing.
    #[error(
        "the token must be at least {MIN_TOKEN} characters (a random one: `openssl rand -hex 16`)"
    )]
    ShortToken,
    /// A limit of zero.
    #[error("the upload size and the rate limit must be at least 1")]
    ZeroLimit,
    /// A fleet URL that PostgreSQL would not take.
    #[error("--db: {0}")]
    FleetUrl(#[from] crate::store::fleet::FleetError),
    /// The address could not be bound, or serving failed.
    #[error("{what} {addr}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

impl ServeConfig {
    /// Refuses what would expose the store: a reachable address without a token, a short
    /// token, a zero limit; and a fleet URL that cannot be parsed.
    pub fn check(&self) -> Result<(), ServeError> {
        if self
            .token
            .as_ref()
            .is_some_and(|t| t.chars().count() < MIN_TOKEN)
        {
            return Err(ServeError::ShortToken);
        }
        if !self.listen.ip().is_loopback() && self.token.is_none() {
            return Err(ServeError::NoToken(self.listen));
        }
        if self.max_upload == 0 || self.rate_limit == 0 {
            return Err(ServeError::ZeroLimit);
        }
        // A typo in the URL is told at start rather than on every request; a server that is
        // down now may be up by the first request, so nothing connects here.
        if let StoreDb::Fleet(url) = &self.db {
            crate::store::fleet::config(url)?;
        }
        Ok(())
    }
}

/// Serves until SIGINT or SIGTERM, handing analyses to `worker`; `ready` is called with the
/// address once the port is open (port 0 picks one).
pub fn run(
    config: ServeConfig,
    worker: jobs::Worker,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    config.check()?;
    let io = |what, source| ServeError::Io {
        what,
        addr: config.listen,
        source,
    };
    let guard = guard::Guard::new(config.token.clone(), config.listen, config.rate_limit)
        .map_err(|e| io("drawing the session secret from /dev/urandom for", e))?;
    let state = Arc::new(api::AppState {
        worker,
        batches: batch::Registry::default(),
        db: config.db.clone(),
        status: config.status.clone(),
        guard: Arc::new(guard),
        max_upload: config.max_upload,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| io("starting the runtime for", e))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| io("cannot listen on", e))?;
        ready(
            listener
                .local_addr()
                .map_err(|e| io("cannot listen on", e))?,
        );
        let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = axum::serve(
            listener,
            api::router(state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            stop_signal().await;
            let _ = stopping.send(());
        })
        .into_future();
        tokio::select! {
            served = server => served.map_err(|e| io("serving on", e))?,
            // Open live views would hold a graceful stop forever.
            _ = async {
                if stopped.await.is_ok() {
                    tokio::time::sleep(STOP_GRACE).await;
                } else {
                    std::future::pending::<()>().await;
                }
            } => {}
        }
        Ok(())
    })
}

/// SIGINT or SIGTERM.
async fn stop_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
