//! The JSON API under the page, and the page itself: routes, their handlers, and the errors
//! they answer with (always `{"error": "…"}` and a status a script can act on).
//!
//! The store routes read this machine's store or, with `--db postgres://…`, the fleet
//! database ([`StoreDb::Fleet`]). Fleet verdicts carry their agent (`agent`, `host`, as
//! `opensoc verdicts --json` prints them) and their place in the fleet's arrival order
//! (`seq`); `agent=` filters them as `--agent` does, and picks one verdict of an id that
//! several agents have.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
use super::StoreDb;
use crate::ingest::unix_now;
use crate::store::export::{
    csv_row, fleet_csv_row, fleet_inspect_json, fleet_verdict_json, inspect_json, parse_severity,
    verdict_json, FilterText, CSV_HEADER, FLEET_CSV_HEADER,
};
use crate::store::fleet::{FleetError, FleetStore, FleetVerdict};
use crate::store::report::Report;
use crate::store::sqlite::{Store, StoreError, StoredVerdict, VerdictFilter};
use crate::tail::line_reader::sniff;

/// The largest single entry `POST /api/analyze` takes (the model reads a few hundred lines
/// of it at most).
const MAX_ENTRY: usize = 1024 * 1024;

/// How often a live view looks for new verdicts in the database.
const LIVE_POLL: Duration = Duration::from_secs(1);

/// The most verdicts a live view reads at one poll.
const LIVE_BATCH: usize = 200;

/// How long a fleet live view keeps looking below the newest verdict it sent. Agents number
/// their rows when they insert them but commit in any order, so a row can become visible
/// after a higher-numbered one; a gap older than this is a redelivery's or a rollback's,
/// which never fills (a delivery's transaction is a single statement, done in well under a
/// second).
const COMMIT_GRACE: Duration = Duration::from_secs(10);

/// What every handler shares.
pub struct AppState {
    /// The model thread's queue.
    pub worker: Worker,
    /// The uploads.
    pub batches: Registry,
    /// The verdict database the store view reads.
    pub db: StoreDb,
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
    match &state.db {
        StoreDb::File(path) => {
            s["db_exists"] = json!(path.exists());
            s["fleet"] = json!(false);
        }
        StoreDb::Fleet(_) => s["fleet"] = json!(true),
    }
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
    csv_text(CSV_HEADER, verdicts.iter().map(csv_row))
}

/// Fleet verdicts as `opensoc verdicts --format csv --db postgres://…` prints them.
fn fleet_csv_response(verdicts: &[FleetVerdict]) -> Response {
    csv_text(FLEET_CSV_HEADER, verdicts.iter().map(fleet_csv_row))
}

/// A CSV download: the header, then a line a row.
fn csv_text(columns: &str, rows: impl Iterator<Item = String>) -> Response {
    let mut text = format!("{columns}\n");
    for row in rows {
        text += &row;
        text.push('\n');
    }
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], text).into_response()
}

/// A fleet verdict as the API shows it: the command's fleet JSON and its arrival number.
fn fleet_json(v: &FleetVerdict) -> Value {
    with_seq(fleet_verdict_json(v), v)
}

/// `j`, a fleet verdict's JSON, with its place in the fleet's arrival order.
fn with_seq(mut j: Value, v: &FleetVerdict) -> Value {
    j["seq"] = json!(v.seq);
    j
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
    /// Only this agent's verdicts (fleet only): its host name or the start of its id.
    agent: Option<String>,
}

/// `agent=`, empty as absent; refused on a local store, which has one agent.
fn agent_filter(agent: Option<&String>, db: &StoreDb) -> Result<Option<String>, ApiError> {
    let agent = agent.filter(|a| !a.trim().is_empty()).cloned();
    match (db, agent) {
        (StoreDb::File(_), Some(_)) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "agent= picks agents of the fleet database; this server reads a local store \
             (opensoc serve --db postgres://…)",
        )),
        (_, agent) => Ok(agent),
    }
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

/// Runs `read` on the fleet database, connected on a blocking thread; a database no agent
/// has forwarded to yet reads as empty.
async fn with_fleet<T: Send + 'static>(
    url: String,
    empty: T,
    read: impl FnOnce(&mut FleetStore) -> Result<T, FleetError> + Send + 'static,
) -> Result<T, ApiError> {
    let result = tokio::task::spawn_blocking(move || match FleetStore::connect(&url) {
        Ok(mut store) => read(&mut store),
        Err(FleetError::NoFleet { .. }) => Ok(empty),
        Err(e) => Err(e),
    })
    .await;
    match result {
        Ok(Ok(v)) => Ok(v),
        // Every FleetError shows its URL with the password hidden.
        Ok(Err(e @ FleetError::Connect { .. })) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            e.to_string(),
        )),
        Ok(Err(e)) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            e.to_string(),
        )),
        Err(_) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "reading the fleet database failed",
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
        let agent = agent_filter(q.agent.as_ref(), &state.db)?;
        let csv = match q.format.as_deref() {
            Some("csv") => true,
            None | Some("json") => false,
            Some(other) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("unknown format {other:?}: json or csv"),
                ))
            }
        };
        Ok::<_, ApiError>(match &state.db {
            StoreDb::File(path) => {
                let found =
                    with_store(path.clone(), Vec::new(), move |s| s.verdicts(&filter)).await?;
                if csv {
                    csv_response(&found)
                } else {
                    Json(found.iter().map(verdict_json).collect::<Vec<_>>()).into_response()
                }
            }
            StoreDb::Fleet(url) => {
                let found = with_fleet(url.clone(), Vec::new(), move |s| {
                    s.verdicts(&filter, agent.as_deref())
                })
                .await?;
                if csv {
                    fleet_csv_response(&found)
                } else {
                    Json(found.iter().map(fleet_json).collect::<Vec<_>>()).into_response()
                }
            }
        })
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

#[derive(Deserialize)]
struct DetailQuery {
    /// Which agent's verdict of that id (fleet only): its id, host name or id's start.
    agent: Option<String>,
}

async fn verdict(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    query: Result<Query<DetailQuery>, QueryRejection>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return error(StatusCode::BAD_REQUEST, "a verdict id is a number");
    };
    let agent = match query_or_reject(query).and_then(|q| agent_filter(q.agent.as_ref(), &state.db))
    {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let url = match &state.db {
        StoreDb::File(path) => {
            let found = with_store(path.clone(), None, move |s| {
                s.verdict(id)?.map(|v| inspect_json(s, &v)).transpose()
            })
            .await;
            return match found {
                Ok(Some(v)) => Json(v).into_response(),
                Ok(None) => error(StatusCode::NOT_FOUND, &format!("no verdict {id}")),
                Err(e) => e.into_response(),
            };
        }
        StoreDb::Fleet(url) => url.clone(),
    };
    let wanted = agent.clone();
    let found = with_fleet(url, Vec::new(), move |s| s.verdict(id, wanted.as_deref())).await;
    match found {
        Ok(mut found) if found.len() == 1 => {
            let v = found.remove(0);
            Json(with_seq(fleet_inspect_json(&v), &v)).into_response()
        }
        Ok(found) if found.is_empty() => error(
            StatusCode::NOT_FOUND,
            &match agent {
                Some(a) => format!("no verdict {id} from agent {a}"),
                None => format!("no verdict {id}"),
            },
        ),
        // Ids are each agent's own: guessing one would show another machine's finding.
        Ok(found) => error(
            StatusCode::CONFLICT,
            &format!(
                "{} agents have a verdict {id}: {}; say which with agent=ID",
                found.len(),
                found
                    .iter()
                    .map(|f| format!("{} (agent={})", f.agent.host, f.agent.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
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
        let agent = agent_filter(q.agent.as_ref(), &state.db)?;
        let top = q.top.unwrap_or(10);
        let empty = Report::of(&[], &[], top).json();
        let r = match &state.db {
            StoreDb::File(path) => {
                with_store(path.clone(), empty, move |s| {
                    Ok(Report::from_store(s, &filter, top)?.json())
                })
                .await?
            }
            StoreDb::Fleet(url) => {
                with_fleet(url.clone(), empty, move |s| {
                    Ok(Report::from_fleet(s, &filter, agent.as_deref(), top)?.json())
                })
                .await?
            }
        };
        Ok::<_, ApiError>(Json(r).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

#[derive(Deserialize)]
struct LiveQuery {
    /// The local store's verdict id, or the fleet's arrival number (`seq`), to send from.
    /// Absent: every verdict of a local store, and what arrives from now on in the fleet
    /// (which may hold millions).
    after: Option<i64>,
}

/// New verdicts as `watch` or `scan` store them, or as agents deliver them to the fleet:
/// each one after `after`, as it appears.
async fn live(
    State(state): State<Arc<AppState>>,
    query: Result<Query<LiveQuery>, QueryRejection>,
) -> Response {
    match (query_or_reject(query), &state.db) {
        (Ok(q), StoreDb::File(path)) => Sse::new(new_verdicts(path.clone(), q.after.unwrap_or(0)))
            .keep_alive(KeepAlive::default())
            .into_response(),
        (Ok(q), StoreDb::Fleet(url)) => Sse::new(new_fleet_verdicts(url.clone(), q.after))
            .keep_alive(KeepAlive::default())
            .into_response(),
        (Err(e), _) => e.into_response(),
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
                waiting = with_store(path, Vec::new(), move |s| {
                    s.verdicts_after(after, LIVE_BATCH)
                })
                .await
                .unwrap_or_default();
            }
        },
    )
}

/// Where a fleet live view stands: a connection kept between polls (dropped on an error and
/// made again at the next poll), and which verdicts it has sent.
struct FleetCursor {
    url: String,
    store: Option<FleetStore>,
    /// Every verdict at or below this `seq` has been sent or will never be; `None` until
    /// the first poll reads the newest (a view that asked for what arrives from now on).
    low: Option<i64>,
    /// The `seq`s sent above `low`.
    sent: Vec<i64>,
    /// When each poll saw its highest `seq`: `low` moves up to it once [`COMMIT_GRACE`] has
    /// passed.
    marks: VecDeque<(Instant, i64)>,
}

impl FleetCursor {
    /// The verdicts that became visible since the last poll, oldest first.
    fn poll(&mut self) -> Result<Vec<FleetVerdict>, FleetError> {
        let store = match &mut self.store {
            Some(s) => s,
            None => match FleetStore::connect(&self.url) {
                Ok(s) => self.store.insert(s),
                // Every verdict the first agent delivers will be new.
                Err(FleetError::NoFleet { .. }) => {
                    self.low.get_or_insert(0);
                    return Ok(Vec::new());
                }
                Err(e) => return Err(e),
            },
        };
        let mut low = match self.low {
            Some(low) => low,
            None => store.last_seq()?,
        };
        let now = Instant::now();
        while let Some(&(at, seq)) = self.marks.front() {
            if now.duration_since(at) < COMMIT_GRACE {
                break;
            }
            low = low.max(seq);
            self.marks.pop_front();
        }
        self.low = Some(low);
        self.sent.retain(|&s| s > low);
        let found = store.verdicts_after(low, &self.sent, LIVE_BATCH)?;
        self.sent.extend(found.iter().map(|v| v.seq));
        if let Some(top) = found.iter().map(|v| v.seq).max() {
            self.marks.push_back((now, top));
        }
        Ok(found)
    }
}

fn new_fleet_verdicts(
    url: String,
    after: Option<i64>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let cursor = FleetCursor {
        url,
        store: None,
        low: after,
        sent: Vec::new(),
        marks: VecDeque::new(),
    };
    stream::unfold(
        (cursor, VecDeque::<FleetVerdict>::new()),
        |(mut cursor, mut waiting)| async move {
            loop {
                if let Some(v) = waiting.pop_front() {
                    let event = Event::default()
                        .event("verdict")
                        .data(fleet_json(&v).to_string());
                    return Some((Ok(event), (cursor, waiting)));
                }
                tokio::time::sleep(LIVE_POLL).await;
                let polled = tokio::task::spawn_blocking(move || {
                    let found = cursor.poll();
                    if found.is_err() {
                        // A server restarted or a connection cut: a new one next time.
                        cursor.store = None;
                    }
                    (cursor, found)
                })
                .await;
                // A database that cannot be read now (down, not migrated yet) is looked at
                // again at the next poll; a poll thread that panicked ends the view, which
                // the page reopens.
                let (polled_cursor, found) = polled.ok()?;
                cursor = polled_cursor;
                waiting.extend(found.unwrap_or_default());
            }
        },
    )
}
