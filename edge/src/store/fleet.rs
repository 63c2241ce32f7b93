//! The fleet database: every agent's verdicts in one PostgreSQL table, written by the
//! forwarder's PostgreSQL sink ([`crate::forward::postgres`]) and read by `opensoc verdicts`
//! and `opensoc report` with `--db postgres://…`.
//!
//! A verdict is keyed by its agent's id and the id its agent's store gave it, and written with
//! `ON CONFLICT DO NOTHING`: a batch delivered twice (the agent killed before it moved its
//! cursor, the connection cut after the server committed) leaves one row per verdict. The
//! schema is versioned like the SQLite store's: a one-row table holds the count of migrations
//! applied, and each migration runs in its own transaction under an advisory lock, so fifty
//! agents starting at once upgrade it once.
//!
//! Times are unix seconds like the local store's, so the filters read them the same way;
//! `received_at` (when the fleet got the row) is the server's `timestamptz`.

use std::borrow::Cow;
use std::time::Duration;

use postgres::types::ToSql;
use postgres::{Client, Config, NoTls, Row, Statement};

use crate::store::agent::Agent;
use crate::store::sqlite::{
    severity_rank, CopyCount, NewVerdict, StoredVerdict, VerdictFilter, SECS_PER_DAY,
};

/// `pg_advisory_xact_lock` key of the migrations ("osoc", the SQLite store's application id):
/// the agents of one database take turns upgrading it.
const MIGRATION_LOCK: i64 = 0x6f73_6f63;

/// How long a connection attempt may take before the server counts as down.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Unacknowledged data older than this drops the connection (TCP_USER_TIMEOUT), and idle
/// connections are probed (keepalives) about as often: a server host that vanished, or a
/// network that dropped every packet, is an error within a minute rather than never.
const TCP_TIMEOUT: Duration = Duration::from_secs(30);

/// Schema migrations, applied in order; the count applied is `opensoc_schema.version`.
/// Never edit a released entry: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: agents and their verdicts. Every field of a stored verdict, its agent's host and
    // version at delivery, and when the fleet received it. The indexes serve the filters
    // (log time with its fallback, severity, category folded like SQLite's NOCASE, host) and
    // the newest-first listing; "source contains" scans, as it does in SQLite.
    r#"
    CREATE TABLE opensoc_agents (
        agent_id text PRIMARY KEY,
        host text NOT NULL,
        version text NOT NULL,
        first_seen timestamptz NOT NULL DEFAULT now(),
        last_seen timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE opensoc_verdicts (
        agent_id text NOT NULL,
        verdict_id bigint NOT NULL,
        host text NOT NULL,
        agent_version text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        created_at bigint NOT NULL,
        first_time bigint,
        last_time bigint,
        source text NOT NULL,
        entity text,
        records bigint NOT NULL,
        signature text NOT NULL,
        cached_from bigint,
        threat_type text NOT NULL,
        category text NOT NULL,
        technique text NOT NULL,
        tactic text NOT NULL,
        severity text NOT NULL,
        severity_rank smallint NOT NULL,
        risk_score smallint NOT NULL,
        evidence text NOT NULL,
        impact text NOT NULL,
        recommendation text NOT NULL,
        secondary text,
        input text NOT NULL,
        copies bigint NOT NULL,
        PRIMARY KEY (agent_id, verdict_id)
    );
    CREATE INDEX opensoc_verdicts_created ON opensoc_verdicts (created_at, verdict_id);
    CREATE INDEX opensoc_verdicts_log_last ON opensoc_verdicts ((COALESCE(last_time, created_at)));
    CREATE INDEX opensoc_verdicts_log_first ON opensoc_verdicts ((COALESCE(first_time, created_at)));
    CREATE INDEX opensoc_verdicts_rank ON opensoc_verdicts (severity_rank);
    CREATE INDEX opensoc_verdicts_category ON opensoc_verdicts
        ((translate(category, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')));
    CREATE INDEX opensoc_verdicts_host ON opensoc_verdicts (host);
    "#,
    // 2: a fleet-wide arrival order for `opensoc serve`'s live view, where verdict ids are
    // each agent's own and times are the agents' clocks. Rows already there are numbered in
    // the table's order; a redelivery that conflicts takes a number and leaves a gap, which
    // readers skip.
    r#"
    ALTER TABLE opensoc_verdicts ADD COLUMN seq bigserial;
    CREATE UNIQUE INDEX opensoc_verdicts_seq ON opensoc_verdicts (seq);
    "#,
];

/// The fleet schema version this build writes and reads.
pub const FLEET_SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// Why a fleet database operation failed. Every URL shown has its password hidden.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The URL is not one PostgreSQL takes.
    #[error("{url}: {why}")]
    BadUrl {
        /// The URL.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// The server could not be reached or refused the login.
    #[error("cannot connect to {url}: {source}")]
    Connect {
        /// The URL.
        url: String,
        /// The cause.
        source: postgres::Error,
    },
    /// The database has no fleet tables: no agent has forwarded to it yet.
    #[error(
        "{url} has no opensoc fleet tables yet: no agent has forwarded to it \
         (opensoc forward --forward {url})"
    )]
    NoFleet {
        /// The URL.
        url: String,
    },
    /// The fleet tables were made by a newer opensoc.
    #[error(
        "{url} has fleet schema version {found}, newer than this opensoc understands \
         ({supported}); upgrade opensoc"
    )]
    NewerSchema {
        /// The URL.
        url: String,
        /// Its schema version.
        found: i32,
        /// The newest this build knows.
        supported: i32,
    },
    /// A reader found an older schema, which only a forwarding agent upgrades.
    #[error(
        "{url} has fleet schema version {found}, older than {supported}; an agent of this \
         version forwarding to it upgrades it"
    )]
    OlderSchema {
        /// The URL.
        url: String,
        /// Its schema version.
        found: i32,
        /// The version this build reads.
        supported: i32,
    },
    /// The database's encoding cannot hold every verdict's text.
    #[error(
        "{url}: the database's encoding is {encoding}; the fleet needs UTF8 (createdb -E UTF8)"
    )]
    Encoding {
        /// The URL.
        url: String,
        /// The server's encoding.
        encoding: String,
    },
    /// A severity name outside LOW, MEDIUM, HIGH, CRITICAL.
    #[error("unknown severity {0:?} (expected LOW, MEDIUM, HIGH or CRITICAL)")]
    BadSeverity(String),
    /// Any other PostgreSQL error.
    #[error("{url}: {what}: {source}")]
    Postgres {
        /// The URL.
        url: String,
        /// What was being done.
        what: &'static str,
        /// The cause.
        source: postgres::Error,
    },
}

/// One verdict of the fleet: a stored verdict and the agent that sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetVerdict {
    /// The agent, with its host name and version when it sent the verdict.
    pub agent: Agent,
    /// Unix seconds when the fleet database received it.
    pub received_at: i64,
    /// Its place in the fleet's arrival order (unique, increasing, with gaps): what a live
    /// view reads on from.
    pub seq: i64,
    /// The verdict as its agent stored it; `id` is the agent's verdict id, unique only
    /// together with the agent's id. `copies` is its count when it was forwarded: windows
    /// counted on it later stay in the agent's store.
    pub stored: StoredVerdict,
}

/// One agent of the fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetAgent {
    /// Its id, host name and version as of its latest delivery.
    pub agent: Agent,
    /// Unix seconds of its first delivery.
    pub first_seen: i64,
    /// Unix seconds of its latest delivery.
    pub last_seen: i64,
    /// Verdicts it delivered.
    pub verdicts: u64,
}

/// Whether `db` (a `--db` value) names a fleet database rather than a file.
pub fn is_fleet_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// `url` as messages show it: the user part's password and a `password=` option hidden,
/// also in a URL too broken to parse (a typo in the port must not print the password).
pub fn shown_url(url: &str) -> String {
    let Ok(mut u) = url::Url::parse(url) else {
        return hide_password_in_text(url);
    };
    if u.password().is_some() {
        // Fails only for a URL without a host, which has no user part either.
        let _ = u.set_password(Some("***"));
    }
    match u {
        ref u if !u.query_pairs().any(|(k, _)| k == "password") => u.to_string(),
        mut u => {
            let pairs: Vec<(String, String)> = u
                .query_pairs()
                .map(|(k, v)| {
                    let v = if k == "password" { "***".into() } else { v };
                    (k.into_owned(), v.into_owned())
                })
                .collect();
            u.query_pairs_mut().clear().extend_pairs(pairs);
            u.to_string()
        }
    }
}

/// The password of `scheme://user:password@host…` replaced by `***`, read as text: the
/// user part is what stands between `://` and the last `@` before the path.
fn hide_password_in_text(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let rest = &url[start..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let (Some(at), Some(colon)) = (authority.rfind('@'), authority.find(':')) else {
        return url.to_string();
    };
    if colon > at {
        return url.to_string();
    }
    format!("{}***{}", &url[..start + colon + 1], &url[start + at..])
}

/// The connection settings of `url` with opensoc's timeouts where the URL sets none;
/// parses only, connects nowhere.
pub fn config(url: &str) -> Result<Config, FleetError> {
    let bad = |why: String| FleetError::BadUrl {
        url: shown_url(url),
        why,
    };
    let mut config: Config = url
        .parse()
        .map_err(|e: postgres::Error| bad(format!("not a PostgreSQL URL ({e})")))?;
    if config.get_hosts().is_empty() {
        return Err(bad(
            "no host (postgres://user@host/db, or ?host=/run/postgresql for the local socket)"
                .to_string(),
        ));
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(TCP_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("opensoc");
    }
    config
        .keepalives(true)
        .keepalives_idle(TCP_TIMEOUT)
        .keepalives_interval(Duration::from_secs(5))
        .keepalives_retries(3);
    Ok(config)
}

/// PostgreSQL text cannot hold a NUL character, and log lines can (a binary file tailed by
/// mistake, an attacker's `%00`): each becomes U+FFFD, the replacement character, so that the
/// verdict is delivered with its text marked where the NUL was rather than refused forever.
pub fn pg_text(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// A column folded to lower case in ASCII only, as SQLite's `COLLATE NOCASE` folds it.
fn ascii_lower(expr: &str) -> String {
    format!("translate({expr}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')")
}

const VERDICT_COLUMNS: &str = "agent_id, host, agent_version, \
     extract(epoch FROM received_at)::bigint, verdict_id, created_at, first_time, last_time, \
     source, entity, records, signature, cached_from, threat_type, category, technique, tactic, \
     severity, risk_score, evidence, impact, recommendation, secondary, input, copies, seq";

fn verdict_from_row(row: &Row) -> Result<FleetVerdict, postgres::Error> {
    // Rows are any agent's writing: numbers out of their Rust range are clamped, not trusted.
    let count =
        |i: usize| -> Result<u64, postgres::Error> { Ok(row.try_get::<_, i64>(i)?.max(0) as u64) };
    Ok(FleetVerdict {
        agent: Agent {
            id: row.try_get(0)?,
            host: row.try_get(1)?,
            version: row.try_get(2)?,
        },
        received_at: row.try_get(3)?,
        seq: row.try_get(25)?,
        stored: StoredVerdict {
            id: row.try_get(4)?,
            verdict: NewVerdict {
                created_at: row.try_get(5)?,
                first_time: row.try_get(6)?,
                last_time: row.try_get(7)?,
                source: row.try_get(8)?,
                entity: row.try_get(9)?,
                records: u32::try_from(count(10)?).unwrap_or(u32::MAX),
                signature: row.try_get(11)?,
                cached_from: row.try_get(12)?,
                threat_type: row.try_get(13)?,
                category: row.try_get(14)?,
                technique: row.try_get(15)?,
                tactic: row.try_get(16)?,
                severity: row.try_get(17)?,
                risk_score: row.try_get::<_, i16>(18)?.clamp(0, 255) as u8,
                evidence: row.try_get(19)?,
                impact: row.try_get(20)?,
                recommendation: row.try_get(21)?,
                secondary: row.try_get(22)?,
                input: row.try_get(23)?,
            },
            copies: count(24)?,
        },
    })
}

/// A batch as one statement: each column an array, unnested into rows server-side. One round
/// trip and one plan for 500 verdicts, where a row a statement took 500 round trips.
const INSERT: &str = "INSERT INTO opensoc_verdicts (agent_id, host, agent_version, verdict_id, \
     created_at, first_time, last_time, source, entity, records, signature, cached_from, \
     threat_type, category, technique, tactic, severity, severity_rank, risk_score, evidence, \
     impact, recommendation, secondary, input, copies) \
     SELECT $1, $2, $3, t.* FROM unnest($4::bigint[], $5::bigint[], $6::bigint[], \
     $7::bigint[], $8::text[], $9::text[], $10::bigint[], $11::text[], $12::bigint[], \
     $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::smallint[], \
     $19::smallint[], $20::text[], $21::text[], $22::text[], $23::text[], $24::text[], \
     $25::bigint[]) AS t \
     ON CONFLICT (agent_id, verdict_id) DO NOTHING";

const UPSERT_AGENT: &str = "INSERT INTO opensoc_agents (agent_id, host, version) \
     VALUES ($1, $2, $3) ON CONFLICT (agent_id) DO UPDATE SET \
     host = excluded.host, version = excluded.version, last_seen = now()";

/// A connection to the fleet database.
pub struct FleetStore {
    client: Client,
    url: String,
    insert: Option<Statement>,
}

impl std::fmt::Debug for FleetStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetStore")
            .field("url", &self.url)
            .finish()
    }
}

impl FleetStore {
    /// Connects to the fleet database at `url` to read it: never creates or migrates, and
    /// says so when no agent has forwarded to it yet.
    pub fn connect(url: &str) -> Result<FleetStore, FleetError> {
        let mut store = FleetStore::connect_with(&config(url)?, url)?;
        match store.schema_version()? {
            None => Err(FleetError::NoFleet { url: store.url }),
            Some(v) if v > FLEET_SCHEMA_VERSION => Err(FleetError::NewerSchema {
                url: store.url,
                found: v,
                supported: FLEET_SCHEMA_VERSION,
            }),
            Some(v) if v < FLEET_SCHEMA_VERSION => Err(FleetError::OlderSchema {
                url: store.url,
                found: v,
                supported: FLEET_SCHEMA_VERSION,
            }),
            Some(_) => Ok(store),
        }
    }

    /// Connects to the fleet database at `url` to write it: checks its encoding, creates or
    /// upgrades its tables, and bounds every statement's time (a server that hangs fails the
    /// batch rather than the forwarder).
    pub fn open(url: &str) -> Result<FleetStore, FleetError> {
        FleetStore::open_with(&config(url)?, url)
    }

    /// [`FleetStore::open`] with settings already parsed by [`config`].
    pub fn open_with(config: &Config, url: &str) -> Result<FleetStore, FleetError> {
        let mut store = FleetStore::connect_with(config, url)?;
        // The server ends a statement or a lock wait that takes this long, and a session
        // left inside a transaction (this client gone mid-batch) is closed: its row locks
        // would stall the batch's redelivery on a new connection.
        store
            .client
            .batch_execute(
                "SET statement_timeout = '60s'; SET lock_timeout = '30s'; \
                 SET idle_in_transaction_session_timeout = '60s'",
            )
            .map_err(|e| store.err("setting timeouts", e))?;
        let encoding: String = store
            .client
            .query_one("SHOW server_encoding", &[])
            .and_then(|r| r.try_get(0))
            .map_err(|e| store.err("reading the encoding", e))?;
        if !matches!(encoding.as_str(), "UTF8" | "SQL_ASCII") {
            return Err(FleetError::Encoding {
                url: store.url,
                encoding,
            });
        }
        store.migrate()?;
        Ok(store)
    }

    fn connect_with(config: &Config, url: &str) -> Result<FleetStore, FleetError> {
        let url = shown_url(url);
        let client = config
            .connect(NoTls)
            .map_err(|source| FleetError::Connect {
                url: url.clone(),
                source,
            })?;
        Ok(FleetStore {
            client,
            url,
            insert: None,
        })
    }

    /// The URL, password hidden.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn err(&self, what: &'static str, source: postgres::Error) -> FleetError {
        FleetError::Postgres {
            url: self.url.clone(),
            what,
            source,
        }
    }

    /// The schema version, or `None` when the database has no fleet tables.
    fn schema_version(&mut self) -> Result<Option<i32>, FleetError> {
        let exists: bool = self
            .client
            .query_one("SELECT to_regclass('opensoc_schema') IS NOT NULL", &[])
            .and_then(|r| r.try_get(0))
            .map_err(|e| self.err("reading the schema", e))?;
        if !exists {
            return Ok(None);
        }
        self.client
            .query_opt("SELECT version FROM opensoc_schema", &[])
            .and_then(|r| r.map(|r| r.try_get(0)).transpose())
            .map_err(|e| self.err("reading the schema", e))
    }

    /// Applies the migrations not yet applied, each in its own transaction under the
    /// migration lock.
    fn migrate(&mut self) -> Result<(), FleetError> {
        // Without the lock when nothing is to do: what every connection but the first finds.
        if let Some(v) = self.schema_version()? {
            if v == FLEET_SCHEMA_VERSION {
                return Ok(());
            }
        }
        let url = self.url.clone();
        let fail = |e| FleetError::Postgres {
            url: url.clone(),
            what: "migrating the fleet tables",
            source: e,
        };
        loop {
            let mut tx = self.client.transaction().map_err(fail)?;
            // Read again under the lock: another agent may have migrated meanwhile.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                .map_err(fail)?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS opensoc_schema (version integer NOT NULL); \
                 INSERT INTO opensoc_schema SELECT 0 \
                 WHERE NOT EXISTS (SELECT 1 FROM opensoc_schema)",
            )
            .map_err(fail)?;
            let version: i32 = tx
                .query_one("SELECT version FROM opensoc_schema", &[])
                .and_then(|r| r.try_get(0))
                .map_err(fail)?;
            if version > FLEET_SCHEMA_VERSION {
                return Err(FleetError::NewerSchema {
                    url,
                    found: version,
                    supported: FLEET_SCHEMA_VERSION,
                });
            }
            if version == FLEET_SCHEMA_VERSION {
                return tx.commit().map_err(fail);
            }
            let Some(migration) = usize::try_from(version)
                .ok()
                .and_then(|v| MIGRATIONS.get(v))
            else {
                return Err(FleetError::NewerSchema {
                    url,
                    found: version,
                    supported: FLEET_SCHEMA_VERSION,
                });
            };
            tx.batch_execute(migration).map_err(fail)?;
            tx.execute("UPDATE opensoc_schema SET version = $1", &[&(version + 1)])
                .map_err(fail)?;
            tx.commit().map_err(fail)?;
        }
    }

    /// Writes `batch` of `agent`'s verdicts in one transaction, with the agent's record;
    /// verdicts the fleet already holds are left as they are. Returns how many were new.
    pub fn insert(&mut self, agent: &Agent, batch: &[StoredVerdict]) -> Result<u64, FleetError> {
        let url = self.url.clone();
        let fail = |e| FleetError::Postgres {
            url: url.clone(),
            what: "writing verdicts",
            source: e,
        };
        let insert = match &self.insert {
            Some(s) => s.clone(),
            None => {
                let s = self.client.prepare(INSERT).map_err(fail)?;
                self.insert = Some(s.clone());
                s
            }
        };
        let text = |f: fn(&NewVerdict) -> &str| -> Vec<Cow<'_, str>> {
            batch.iter().map(|s| pg_text(f(&s.verdict))).collect()
        };
        let optional_text = |f: fn(&NewVerdict) -> Option<&str>| -> Vec<Option<Cow<'_, str>>> {
            batch.iter().map(|s| f(&s.verdict).map(pg_text)).collect()
        };
        let numbers = |f: fn(&StoredVerdict) -> i64| -> Vec<i64> { batch.iter().map(f).collect() };
        let optional_numbers = |f: fn(&NewVerdict) -> Option<i64>| -> Vec<Option<i64>> {
            batch.iter().map(|s| f(&s.verdict)).collect()
        };
        let small = |f: fn(&NewVerdict) -> i16| -> Vec<i16> {
            batch.iter().map(|s| f(&s.verdict)).collect()
        };
        let (id, host, version) = (
            pg_text(&agent.id),
            pg_text(&agent.host),
            pg_text(&agent.version),
        );
        let ids = numbers(|s| s.id);
        let created = numbers(|s| s.verdict.created_at);
        let first = optional_numbers(|v| v.first_time);
        let last = optional_numbers(|v| v.last_time);
        let source = text(|v| &v.source);
        let entity = optional_text(|v| v.entity.as_deref());
        let records = numbers(|s| i64::from(s.verdict.records));
        let signature = text(|v| &v.signature);
        let cached_from = optional_numbers(|v| v.cached_from);
        let threat_type = text(|v| &v.threat_type);
        let category = text(|v| &v.category);
        let technique = text(|v| &v.technique);
        let tactic = text(|v| &v.tactic);
        let severity = text(|v| &v.severity);
        // As the local store ranks it, so that --min-severity selects the same verdicts.
        let rank = small(|v| severity_rank(&v.severity).unwrap_or(0) as i16);
        let risk = small(|v| i16::from(v.risk_score));
        let evidence = text(|v| &v.evidence);
        let impact = text(|v| &v.impact);
        let recommendation = text(|v| &v.recommendation);
        let secondary = optional_text(|v| v.secondary.as_deref());
        let input = text(|v| &v.input);
        let copies = numbers(|s| i64::try_from(s.copies).unwrap_or(i64::MAX));
        let params: [&(dyn ToSql + Sync); 25] = [
            &id,
            &host,
            &version,
            &ids,
            &created,
            &first,
            &last,
            &source,
            &entity,
            &records,
            &signature,
            &cached_from,
            &threat_type,
            &category,
            &technique,
            &tactic,
            &severity,
            &rank,
            &risk,
            &evidence,
            &impact,
            &recommendation,
            &secondary,
            &input,
            &copies,
        ];
        let mut tx = self.client.transaction().map_err(fail)?;
        tx.execute(UPSERT_AGENT, &[&id, &host, &version])
            .map_err(fail)?;
        let new = tx.execute(&insert, &params).map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok(new)
    }

    /// Fleet verdicts matching `filter` (the local store's semantics: see
    /// [`VerdictFilter`]) and, when given, `agent` (a host name, or a prefix of an agent id),
    /// newest first.
    pub fn verdicts(
        &mut self,
        filter: &VerdictFilter,
        agent: Option<&str>,
    ) -> Result<Vec<FleetVerdict>, FleetError> {
        let (conditions, mut args) = filter_sql(filter, agent)?;
        let mut sql = format!(
            "SELECT {VERDICT_COLUMNS} FROM opensoc_verdicts WHERE true{conditions} \
             ORDER BY created_at DESC, verdict_id DESC, agent_id"
        );
        if let Some(limit) = filter.limit {
            args.push(Box::new(i64::try_from(limit).unwrap_or(i64::MAX)));
            sql += &format!(" LIMIT ${}", args.len());
        }
        self.verdict_rows(&sql, &args, "reading verdicts")
    }

    /// How many fleet verdicts match `filter` (its limit ignored) and `agent`.
    pub fn count_verdicts(
        &mut self,
        filter: &VerdictFilter,
        agent: Option<&str>,
    ) -> Result<u64, FleetError> {
        let (conditions, args) = filter_sql(filter, agent)?;
        let sql = format!("SELECT count(*) FROM opensoc_verdicts WHERE true{conditions}");
        Ok(self.number(&sql, &args, "counting verdicts")?.max(0) as u64)
    }

    /// The windows counted on the fleet verdicts that `filter` and `agent` select, for
    /// [`crate::store::report::Report::of`]. The fleet holds each verdict's count as it was
    /// forwarded, not its per-source and per-day rows: each verdict with copies is one
    /// [`CopyCount`] of its own source and day (its log time, or when it was stored), which
    /// the filter selects with the verdict, and whose records the fleet does not know (0).
    pub fn copy_counts(
        &mut self,
        filter: &VerdictFilter,
        agent: Option<&str>,
    ) -> Result<Vec<CopyCount>, FleetError> {
        let (conditions, args) = filter_sql(filter, agent)?;
        let sql = format!(
            "SELECT verdict_id, source, COALESCE(last_time, created_at), copies, severity, \
             category FROM opensoc_verdicts WHERE copies > 0{conditions} \
             ORDER BY 3, agent_id, verdict_id"
        );
        let rows = self.rows(&sql, &args, "reading counted windows")?;
        rows.iter()
            .map(|r| {
                Ok(CopyCount {
                    verdict: r.try_get(0)?,
                    source: r.try_get(1)?,
                    day: r.try_get::<_, i64>(2)?.div_euclid(SECS_PER_DAY),
                    windows: r.try_get::<_, i64>(3)?.max(0) as u64,
                    records: 0,
                    severity: r.try_get(4)?,
                    category: r.try_get(5)?,
                })
            })
            .collect::<Result<_, postgres::Error>>()
            .map_err(|e| self.err("reading counted windows", e))
    }

    /// The fleet verdicts with id `id`: one per agent that has such a verdict (ids are each
    /// agent's own), narrowed to `agent` when given.
    pub fn verdict(
        &mut self,
        id: i64,
        agent: Option<&str>,
    ) -> Result<Vec<FleetVerdict>, FleetError> {
        let (conditions, mut args) = filter_sql(&VerdictFilter::default(), agent)?;
        args.push(Box::new(id));
        let sql = format!(
            "SELECT {VERDICT_COLUMNS} FROM opensoc_verdicts WHERE verdict_id = ${}{conditions} \
             ORDER BY host, agent_id",
            args.len()
        );
        self.verdict_rows(&sql, &args, "reading a verdict")
    }

    /// Up to `limit` fleet verdicts past `after` in arrival order ([`FleetVerdict::seq`]),
    /// leaving out those whose `seq` is in `skip` (already shown).
    pub fn verdicts_after(
        &mut self,
        after: i64,
        skip: &[i64],
        limit: usize,
    ) -> Result<Vec<FleetVerdict>, FleetError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let sql = format!(
            "SELECT {VERDICT_COLUMNS} FROM opensoc_verdicts \
             WHERE seq > $1 AND NOT (seq = ANY($2)) ORDER BY seq LIMIT $3"
        );
        let args: [Box<dyn ToSql + Sync>; 3] =
            [Box::new(after), Box::new(skip.to_vec()), Box::new(limit)];
        self.verdict_rows(&sql, &args, "reading new verdicts")
    }

    /// The highest arrival number given so far (0 for an empty fleet): where a live view
    /// that shows only what arrives from now on starts.
    pub fn last_seq(&mut self) -> Result<i64, FleetError> {
        self.number(
            "SELECT COALESCE(max(seq), 0) FROM opensoc_verdicts",
            &[],
            "reading the newest verdict",
        )
    }

    /// Every agent that has delivered, by host name.
    pub fn agents(&mut self) -> Result<Vec<FleetAgent>, FleetError> {
        let rows = self.rows(
            "SELECT a.agent_id, a.host, a.version, extract(epoch FROM a.first_seen)::bigint, \
             extract(epoch FROM a.last_seen)::bigint, \
             (SELECT count(*) FROM opensoc_verdicts v WHERE v.agent_id = a.agent_id) \
             FROM opensoc_agents a ORDER BY a.host, a.agent_id",
            &[],
            "reading agents",
        )?;
        rows.iter()
            .map(|r| {
                Ok(FleetAgent {
                    agent: Agent {
                        id: r.try_get(0)?,
                        host: r.try_get(1)?,
                        version: r.try_get(2)?,
                    },
                    first_seen: r.try_get(3)?,
                    last_seen: r.try_get(4)?,
                    verdicts: r.try_get::<_, i64>(5)?.max(0) as u64,
                })
            })
            .collect::<Result<_, postgres::Error>>()
            .map_err(|e| self.err("reading agents", e))
    }

    /// The one number a query such as `SELECT count(*)` selects (0 when it selects no row).
    fn number(
        &mut self,
        sql: &str,
        args: &[Box<dyn ToSql + Sync>],
        what: &'static str,
    ) -> Result<i64, FleetError> {
        let rows = self.rows(sql, args, what)?;
        rows.first()
            .map(|r| r.try_get::<_, i64>(0))
            .transpose()
            .map(|n| n.unwrap_or(0))
            .map_err(|e| self.err(what, e))
    }

    /// [`FleetStore::rows`] of a query that selects [`VERDICT_COLUMNS`], as verdicts.
    fn verdict_rows(
        &mut self,
        sql: &str,
        args: &[Box<dyn ToSql + Sync>],
        what: &'static str,
    ) -> Result<Vec<FleetVerdict>, FleetError> {
        self.rows(sql, args, what)?
            .iter()
            .map(verdict_from_row)
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(what, e))
    }

    fn rows(
        &mut self,
        sql: &str,
        args: &[Box<dyn ToSql + Sync>],
        what: &'static str,
    ) -> Result<Vec<Row>, FleetError> {
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref()).collect();
        self.client
            .query(sql, &params)
            .map_err(|e| self.err(what, e))
    }
}

/// The `AND …` conditions of `filter` (its limit aside) and `agent`, with their parameters:
/// the SQLite store's filter ([`VerdictFilter`]) in PostgreSQL's words.
fn filter_sql(
    filter: &VerdictFilter,
    agent: Option<&str>,
) -> Result<(String, Vec<Box<dyn ToSql + Sync>>), FleetError> {
    let mut sql = String::new();
    let mut args: Vec<Box<dyn ToSql + Sync>> = Vec::new();
    // A window without log times falls back to when it was stored, as in the local store.
    if let Some(since) = filter.since {
        args.push(Box::new(since));
        sql += &format!(" AND COALESCE(last_time, created_at) >= ${}", args.len());
    }
    if let Some(until) = filter.until {
        args.push(Box::new(until));
        sql += &format!(" AND COALESCE(first_time, created_at) <= ${}", args.len());
    }
    if let Some(min) = &filter.min_severity {
        let rank = severity_rank(min).ok_or_else(|| FleetError::BadSeverity(min.clone()))?;
        args.push(Box::new(rank as i16));
        sql += &format!(" AND severity_rank >= ${}", args.len());
    }
    if let Some(category) = &filter.category {
        args.push(Box::new(category.clone()));
        sql += &format!(
            " AND {} = {}",
            ascii_lower("category"),
            ascii_lower(&format!("${}", args.len()))
        );
    }
    if let Some(source) = &filter.source {
        // strpos, like SQLite's instr: no wildcard escaping to get wrong.
        args.push(Box::new(source.clone()));
        sql += &format!(" AND strpos(source, ${}) > 0", args.len());
    }
    if let Some(agent) = agent {
        // Host names compare as DNS does (ASCII case folded); agent ids are lower-case hex.
        args.push(Box::new(agent.to_string()));
        let n = args.len();
        sql += &format!(
            " AND ({} = {} OR starts_with(agent_id, {}))",
            ascii_lower("host"),
            ascii_lower(&format!("${n}")),
            ascii_lower(&format!("${n}"))
        );
    }
    Ok((sql, args))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_from_files_and_shown_without_passwords() {
        assert!(is_fleet_url("postgres://h/db"));
        assert!(is_fleet_url("postgresql://h/db"));
        assert!(!is_fleet_url("/var/lib/opensoc/verdicts.db"));
        assert!(!is_fleet_url("postgres.db"));
        assert_eq!(
            shown_url("postgres://soc:hunter2@db.lan/fleet"),
            "postgres://soc:***@db.lan/fleet"
        );
        assert_eq!(
            shown_url("postgres://soc:hun@ter2@db.lan:99999/fleet"),
            "postgres://soc:***@db.lan:99999/fleet"
        );
        assert_eq!(shown_url("postgres://db.lan:x/f"), "postgres://db.lan:x/f");
        let shown = shown_url("postgres://db.lan/fleet?user=soc&password=hunter2");
        assert!(
            !shown.contains("hunter2") && shown.contains("user=soc"),
            "{shown}"
        );
    }

    #[test]
    fn bad_urls_are_refused_before_connecting() {
        let err = |u: &str| config(u).unwrap_err().to_string();
        assert!(err("postgres://u:secret@h:notaport/db").contains("not a PostgreSQL URL"));
        assert!(!err("postgres://u:secret@h:notaport/db").contains("secret"));
        assert!(err("postgres:///db").contains("no host"));
        let c = config("postgres://u@h/db").unwrap();
        assert_eq!(c.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        let c = config("postgres://u@h/db?connect_timeout=3").unwrap();
        assert_eq!(c.get_connect_timeout(), Some(&Duration::from_secs(3)));
    }

    #[test]
    fn nul_becomes_the_replacement_character() {
        assert!(matches!(pg_text("plain"), Cow::Borrowed("plain")));
        assert_eq!(pg_text("a\0b\0"), "a\u{FFFD}b\u{FFFD}");
    }

    #[test]
    fn filters_number_their_parameters_in_order() {
        let f = VerdictFilter {
            since: Some(1),
            until: Some(2),
            min_severity: Some("high".into()),
            category: Some("Brute Force".into()),
            source: Some("auth".into()),
            limit: Some(5),
        };
        let (sql, args) = filter_sql(&f, Some("web1")).unwrap();
        assert_eq!(args.len(), 6);
        for n in 1..=6 {
            assert!(sql.contains(&format!("${n}")), "{sql}");
        }
        assert!(matches!(
            filter_sql(
                &VerdictFilter {
                    min_severity: Some("severe".into()),
                    ..f
                },
                None
            ),
            Err(FleetError::BadSeverity(_))
        ));
    }

    #[test]
    fn migrations_are_numbered_by_their_position() {
        assert_eq!(FLEET_SCHEMA_VERSION, MIGRATIONS.len() as i32);
    }
}
