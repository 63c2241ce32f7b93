//! The JSON API under the page, and the page itself: routes, their handlers, and the errors
//! they answer with (always `{"error": "…"}` and a status a script can act on).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{StatusCode, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream::{self, Stream};
use opensoc::analyze::analyzer::Mode;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::batch::{BatchJob, Registry};
use super::guard::{self, Guard, Login};
use super::jobs::{Job, Worker};
use super::page;
use super::reply::{error, retry_later, ApiError};
use crate::ingest::unix_now;
use crate::store::export::{
    csv_row, inspect_json, parse_severity, verdict_json, FilterText, CSV_HEADER,
};
use crate::store::report::Report;
use crate::store::sqlite::{Store, StoreError, StoredVerdict, VerdictFilter};
use crate::tail::line_reader::sniff;

/// The largest single entry `POST /api/analyze` takes (the model reads a few hundred lines
/// of it at most).
const MAX_ENTRY: usize = 1024 * 1024;

/// How often a live view looks for new verdicts in the database.
const LIVE_POLL: Duration = Duration::from_secs(1);

/// What every handler shares.
pub struct AppState {
    /// The model thread's queue.
    pub worker: Worker,
    /// The uploads.
    pub batches: Registry,
    /// The verdict database the store view reads.
    pub db: PathBuf,
    /// `GET /api/status`, fixed at start.
    pub status: Value,
    /// Token, rate limit, host check.
    pub guard: Arc<Guard>,
    /// The largest upload, in bytes.
    pub max_upload: usize,
}

/// Every route, behind the guard.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(page::index))
        .route("/app.js", get(page::script))
        .route("/style.css", get(page::style))
        .route("/api/status", get(status))
        .route("/api/login", post(login))
        .route(
            "/api/analyze",
            post(analyze).layer(DefaultBodyLimit::max(MAX_ENTRY)),
        )
        // The upload's body is read by the handler with its own limit and error.
        .route("/api/batch", post(batch).layer(DefaultBodyLimit::disable()))
        .route("/api/batch/{id}", axum::routing::delete(cancel_batch))
        .route("/api/batch/{id}/events", get(batch_events))
        .route("/api/batch/{id}/csv", get(batch_csv))
        .route("/api/verdicts", get(verdicts))
        .route("/api/verdicts/stream", get(live))
        .route("/api/verdicts/{id}", get(verdict))
        .route("/api/report", get(report))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.guard.clone(),
            guard::protect,
        ))
        .with_state(state)
}

async fn not_found(uri: Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        &format!("no such page or API route: {}", uri.path()),
    )
}

async fn status(State(state): State<Arc<AppState>>) -> Json<Value> {
    let mut s = state.status.clone();
    s["db_exists"] = json!(state.db.exists());
    Json(s)
}

#[derive(Deserialize)]
struct LoginBody {
    token: String,
}

async fn login(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<LoginBody>, JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => return error(e.status(), &e.body_text()),
    };
    match state.guard.login(peer.ip(), &body.token) {
        Login::Right => {
            let mut r = StatusCode::NO_CONTENT.into_response();
            if let Ok(v) = HeaderValue::from_str(&state.guard.session_cookie()) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Login::Wrong => error(StatusCode::UNAUTHORIZED, "wrong token"),
        Login::TooMany => error(
            StatusCode::TOO_MANY_REQUESTS,
            "too many wrong tokens from this address; try again in a minute",
        ),
    }
}

#[derive(Deserialize)]
struct AnalyzeBody {
    text: String,
    #[serde(default)]
    mode: Option<String>,
}

fn parse_mode(mode: Option<&str>) -> Result<Mode, ApiError> {
    match mode.unwrap_or("fast") {
        "fast" => Ok(Mode::Fast),
        "full" => Ok(Mode::Full),
        other => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("unknown mode {other:?}: fast or full"),
        )),
    }
}

/// A busy answer when the model's queue is full.
fn busy() -> Response {
    retry_later(
        StatusCode::SERVICE_UNAVAILABLE,
        "the model is busy with other analyses; try again shortly",
        "5",
    )
}

async fn analyze(
    State(state): State<Arc<AppState>>,
    body: Result<Json<AnalyzeBody>, JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => return error(e.status(), &e.body_text()),
    };
    let mode = match parse_mode(body.mode.as_deref()) {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    if body.text.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "the log entry is empty");
    }
    let (reply, answer) = oneshot::channel();
    let job = Job::Analyze {
        text: body.text.into_bytes(),
        mode,
        reply,
    };
    if state.worker.submit(job).is_err() {
        return busy();
    }
    match answer.await {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, &e),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the model thread stopped",
        ),
    }
}

#[derive(Deserialize)]
struct BatchQuery {
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

async fn batch(
    State(state): State<Arc<AppState>>,
    query: Result<Query<BatchQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Query(q) = match query {
        Ok(q) => q,
        Err(e) => return error(e.status(), &e.body_text()),
    };
    let mode = match parse_mode(q.mode.as_deref()) {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "the file is larger than this server takes ({} MiB, --max-upload-mib); scan it \
                 with `opensoc scan` instead",
                state.max_upload / (1024 * 1024)
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.max_upload as u64) {
        return too_large();
    }
    let bytes: Bytes = match axum::body::to_bytes(body, state.max_upload).await {
        Ok(b) => b,
        Err(_) => return too_large(),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return error(StatusCode::BAD_REQUEST, "the file is empty");
    }
    if let Err(kind) = sniff(&bytes[..bytes.len().min(64 * 1024)]) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &format!("the file is not a text log: {kind}"),
        );
    }
    let lines = bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count() as u64;
    let name = q
        .name
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "upload".to_string());
    let name: String = name.chars().filter(|c| !c.is_control()).take(200).collect();
    let job = state.batches.create(&name, lines);
    let id = job.id;
    let submitted = state.worker.submit(Job::Batch {
        job,
        bytes: bytes.to_vec(),
        mode,
    });
    if submitted.is_err() {
        state.batches.remove(id);
        return busy();
    }
    (
        StatusCode::ACCEPTED,
        Json(json!({ "id": id.to_string(), "lines": lines })),
    )
        .into_response()
}

fn batch_id(state: &AppState, id: &str) -> Result<Arc<BatchJob>, ApiError> {
    id.parse::<u64>()
        .ok()
        .and_then(|id| state.batches.get(id))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no such upload (finished uploads are forgotten after 16 more)",
            )
        })
}

async fn cancel_batch(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    match batch_id(&state, &id) {
        Ok(job) => {
            job.cancel();
            (StatusCode::ACCEPTED, Json(json!({ "id": id }))).into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn batch_events(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    match batch_id(&state, &id) {
        Ok(job) => Sse::new(job.events())
            .keep_alive(KeepAlive::default())
            .into_response(),
        Err(e) => e.into_response(),
    }
}

async fn batch_csv(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    match batch_id(&state, &id) {
        Ok(job) => csv_response(&job.verdicts()),
        Err(e) => e.into_response(),
    }
}

/// Verdicts as `opensoc verdicts --format csv` prints them.
fn csv_response(verdicts: &[StoredVerdict]) -> Response {
    let mut text = format!("{CSV_HEADER}\n");
    for v in verdicts {
        text += &csv_row(v);
        text.push('\n');
    }
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], text).into_response()
}

/// The filters of `opensoc verdicts` and `opensoc report`, as query parameters.
#[derive(Deserialize)]
struct FilterQuery {
    since: Option<String>,
    until: Option<String>,
    min_severity: Option<String>,
    category: Option<String>,
    source: Option<String>,
    /// At most this many, newest first (default 100, as the command; 0: all).
    limit: Option<usize>,
    /// json (default) or csv.
    format: Option<String>,
    /// Entities in the report's top list.
    top: Option<usize>,
}

impl FilterQuery {
    /// The store filter, through the same parsing as the command line's flags.
    fn filter(&self, limit: Option<usize>) -> Result<VerdictFilter, ApiError> {
        let text = |s: &Option<String>| s.clone().filter(|s| !s.trim().is_empty());
        let min_severity = match text(&self.min_severity) {
            Some(s) => {
                Some(parse_severity(&s).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))?)
            }
            None => None,
        };
        let given = FilterText {
            since: text(&self.since),
            until: text(&self.until),
            min_severity,
            category: text(&self.category),
            source: text(&self.source),
        };
        given
            .filter(limit, unix_now())
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))
    }
}

/// Runs `read` on the database, opened read-only on a blocking thread; a database not
/// created yet, or not given its tables yet, reads as empty (`watch` or `scan` creates it).
async fn with_store<T: Send + 'static>(
    db: PathBuf,
    empty: T,
    read: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let result = tokio::task::spawn_blocking(move || match Store::open_read_only(&db) {
        Ok(store) => read(&store),
        // Just created by an agent that has not written its tables yet: empty too.
        Err(StoreError::Missing { .. } | StoreError::NoTables { .. }) => Ok(empty),
        Err(e) => Err(e),
    })
    .await;
    match result {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            e.to_string(),
        )),
        Err(_) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "reading the database failed",
        )),
    }
}

fn query_or_reject<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(q)| q)
        .map_err(|e| ApiError::new(e.status(), e.body_text()))
}

async fn verdicts(
    State(state): State<Arc<AppState>>,
    query: Result<Query<FilterQuery>, QueryRejection>,
) -> Response {
    let run = async {
        let q = query_or_reject(query)?;
        let limit = Some(q.limit.unwrap_or(100)).filter(|&l| l > 0);
        let filter = q.filter(limit)?;
        let found = with_store(state.db.clone(), Vec::new(), move |s| s.verdicts(&filter)).await?;
        Ok::<_, ApiError>(match q.format.as_deref() {
            Some("csv") => csv_response(&found),
            None | Some("json") => {
                Json(found.iter().map(verdict_json).collect::<Vec<_>>()).into_response()
            }
            Some(other) => error(
                StatusCode::BAD_REQUEST,
                &format!("unknown format {other:?}: json or csv"),
            ),
        })
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

async fn verdict(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return error(StatusCode::BAD_REQUEST, "a verdict id is a number");
    };
    let found = with_store(state.db.clone(), None, move |s| {
        s.verdict(id)?.map(|v| inspect_json(s, &v)).transpose()
    })
    .await;
    match found {
        Ok(Some(v)) => Json(v).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, &format!("no verdict {id}")),
        Err(e) => e.into_response(),
    }
}

async fn report(
    State(state): State<Arc<AppState>>,
    query: Result<Query<FilterQuery>, QueryRejection>,
) -> Response {
    let run = async {
        let q = query_or_reject(query)?;
        let filter = q.filter(None)?;
        let top = q.top.unwrap_or(10);
        let r = with_store(
            state.db.clone(),
            Report::of(&[], &[], top).json(),
            move |s| Ok(Report::from_store(s, &filter, top)?.json()),
        )
        .await?;
        Ok::<_, ApiError>(Json(r).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

#[derive(Deserialize)]
struct LiveQuery {
    #[serde(default)]
    after: i64,
}

/// New verdicts as `watch` or `scan` store them: each one after `after`, as it appears.
async fn live(
    State(state): State<Arc<AppState>>,
    query: Result<Query<LiveQuery>, QueryRejection>,
) -> Response {
    match query_or_reject(query) {
        Ok(q) => Sse::new(new_verdicts(state.db.clone(), q.after))
            .keep_alive(KeepAlive::default())
            .into_response(),
        Err(e) => e.into_response(),
    }
}

fn new_verdicts(db: PathBuf, after: i64) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(
        (db, after, Vec::<StoredVerdict>::new()),
        |(db, mut after, mut waiting)| async move {
            loop {
                if !waiting.is_empty() {
                    let v = waiting.remove(0);
                    after = after.max(v.id);
                    let event = Event::default()
                        .event("verdict")
                        .data(verdict_json(&v).to_string());
                    return Some((Ok(event), (db, after, waiting)));
                }
                tokio::time::sleep(LIVE_POLL).await;
                let path = db.clone();
                // A database that cannot be read now (not created yet, being migrated) is
                // looked at again at the next poll.
                waiting = with_store(path, Vec::new(), move |s| s.verdicts_after(after, 200))
                    .await
                    .unwrap_or_default();
            }
        },
    )
}
