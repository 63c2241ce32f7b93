//! Syslog sink: each verdict as one RFC 5424 message, sent over TCP in octet-counted frames
//! (`LEN SP MSG`, RFC 6587 §3.4.1 and RFC 5425), over TLS for `syslog+tls://`, so that rsyslog,
//! syslog-ng, Graylog or Wazuh take it as is.
//!
//! ```text
//! <PRI>1 FIRST-LOG-TIME AGENT-HOST opensoc PID verdict [opensoc@32473 agent="…" verdict="42"
//!   severity="HIGH" risk="80" technique="T1110.001" tactic="…" category="…" threat="…"
//!   entity="…" source="…" lines="50" first="…" last="…" copies="0"] HIGH SSH Brute Force
//!   from 185.220.101.33: 50 failed logins
//! ```
//!
//! PRI is facility auth (4) with CRITICAL → crit, HIGH → err, MEDIUM → warning, LOW → notice.
//! `opensoc@32473` uses the documentation enterprise number (RFC 5612) until opensoc has its
//! own. Every verdict field is attacker-influenced log text: control characters (newlines, ESC,
//! NUL, C1, line separators, bidirectional overrides) never reach the wire, each field has a
//! length cap (a message is at most about 4 KiB, under the 8 KiB rsyslog takes by default),
//! and structured-data values are escaped as RFC 5424 §6.3.3 says.
//!
//! # Delivery: at least once
//!
//! Syslog has no application-level acknowledgement, so [`Sink::deliver`] returns once every
//! frame of the batch is written, flushed, acknowledged by the server's TCP stack (the
//! socket's send queue is empty: `SIOCOUTQ`, Linux only) and the connection is still open
//! (a non-blocking read sees neither end of stream nor reset). Any error drops the connection;
//! the forwarder delivers the same batch again later (its cursor moves only on success). A
//! new connection is watched for 200 ms before anything is sent on it, so that a server that
//! accepts and then refuses (a client certificate it rejects after the TLS 1.3 handshake, a
//! session limit) fails the delivery instead of swallowing the first batch.
//!
//! A server that dies with our frames acknowledged but not yet written out (in its socket
//! buffer or its queues) loses them although `deliver` returned. So the sink keeps what it
//! sent on the current connection during the last [`RESEND_WINDOW`] (at least the last batch,
//! at most [`RESEND_MAX_BYTES`]), and once a connection fails, the next one starts by sending
//! those again, before the new batch. A server that is killed therefore receives some verdicts
//! twice, which a receiver can tell by the `agent` and `verdict` parameters; a verdict is lost
//! only if the server drops it later than the window after it was acknowledged, or if this
//! process ends before it notices the failure.
//!
//! TLS is rustls with the *ring* provider; the server's certificate is checked against the
//! `ca=` file or, without one, the system's CA certificates, and its name against the host
//! (an address works when the certificate names it). A failed handshake is an error: there is
//! never a fallback to plain TCP.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};
use syslog_fmt::v5424;
use syslog_fmt::{Facility, Severity};

use crate::forward::ecs::technique_ids;
use crate::forward::{Agent, ForwardError, Sink};
use crate::store::sqlite::{severity_rank, StoredVerdict};

/// The TLS files of a `syslog+tls://` destination; `None` fields use the system's defaults
/// (the system's CA bundle, no client certificate).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM file of the CA certificates that may sign the server's certificate.
    pub ca: Option<PathBuf>,
    /// PEM file of this agent's client certificate (chain).
    pub cert: Option<PathBuf>,
    /// PEM file of the client certificate's private key.
    pub key: Option<PathBuf>,
}

/// The structured-data id: ours, under the documentation enterprise number 32473.
pub const SD_ID: &str = "opensoc@32473";
/// APP-NAME of every message.
const APP_NAME: &str = "opensoc";
/// MSGID of every message.
const MSG_ID: &str = "verdict";
/// How long connecting may take: a host that drops SYNs must not stall the forwarder.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one write, one read of the handshake, or the server's acknowledgement of a batch
/// may take before the connection counts as hung.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a new connection is watched before the first batch goes out: a server that
/// accepts and then refuses (a client certificate it rejects after the TLS 1.3 handshake, too
/// many sessions) closes it within this time, and the batch is then not counted as sent.
const SETTLE: Duration = Duration::from_millis(200);
/// Batches sent on a connection this recently are sent again on the next connection if this
/// one fails: time enough for a server to read, queue and write out what its TCP stack has
/// acknowledged.
pub const RESEND_WINDOW: Duration = Duration::from_secs(10);
/// The most bytes kept for sending again (the last batch is kept whatever its size).
pub const RESEND_MAX_BYTES: usize = 8 << 20;

/// Caps, in bytes, of the fields taken from a verdict (before escaping).
const MAX_HOST: usize = 255;
const MAX_SHORT: usize = 64;
const MAX_NAME: usize = 128;
const MAX_TEXT: usize = 256;
const MAX_EVIDENCE: usize = 512;

/// The syslog sink: one connection, opened on the first delivery and again after a failure.
pub struct SyslogSink {
    name: String,
    host: String,
    port: u16,
    tls: Option<Tls>,
    connection: Option<Connection>,
    /// Frames sent on the current connection recently, oldest first, with when they were sent
    /// (see the module's doc).
    recent: VecDeque<(Instant, Vec<u8>)>,
}

/// What a TLS connection needs, checked when the sink is made.
struct Tls {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
}

/// An open connection: the socket and, over TLS, the session on it.
struct Connection {
    socket: TcpStream,
    tls: Option<Box<ClientConnection>>,
}

impl SyslogSink {
    /// A sink for `host:port`, over TLS when `tls` is set; connects on its first delivery.
    /// The TLS files are read and checked here, so an unusable CA, certificate or key is a
    /// [`ForwardError::BadDestination`] before anything runs.
    pub fn new(
        name: &str,
        host: &str,
        port: u16,
        tls: Option<&TlsFiles>,
    ) -> Result<SyslogSink, ForwardError> {
        let tls = match tls {
            None => None,
            Some(files) => {
                let server_name = ServerName::try_from(host.to_string()).map_err(|e| {
                    ForwardError::BadDestination {
                        url: name.to_string(),
                        why: format!("{host:?} is not a host name or address for TLS: {e}"),
                    }
                })?;
                Some(Tls {
                    config: client_config(name, files)?,
                    server_name,
                })
            }
        };
        Ok(SyslogSink {
            name: name.to_string(),
            host: host.to_string(),
            port,
            tls,
            connection: None,
            recent: VecDeque::new(),
        })
    }

    /// `host:port` for messages, an IPv6 address in brackets.
    fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    fn fail(&self, what: impl Into<String>, e: io::Error) -> ForwardError {
        ForwardError::delivery(&self.name, what, e)
    }

    /// A new connection, its TLS handshake done.
    fn connect(&self) -> Result<Connection, ForwardError> {
        let address = self.address();
        let addrs = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| self.fail(format!("resolving {}", self.host), e))?;
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the name has no address");
        let mut socket = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
                Ok(s) => {
                    socket = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let connecting = format!("connecting to {address}");
        let mut socket = socket.ok_or_else(|| self.fail(&connecting, last))?;
        socket
            .set_nodelay(true)
            .and_then(|()| socket.set_write_timeout(Some(IO_TIMEOUT)))
            .and_then(|()| socket.set_read_timeout(Some(IO_TIMEOUT)))
            .map_err(|e| self.fail(&connecting, e))?;
        let Some(tls) = &self.tls else {
            let mut connection = Connection { socket, tls: None };
            connection.settle().map_err(|e| self.fail(&connecting, e))?;
            return Ok(connection);
        };
        let handshake = format!("TLS handshake with {address}");
        let mut session = ClientConnection::new(tls.config.clone(), tls.server_name.clone())
            .map_err(|e| self.fail(&handshake, io::Error::other(e)))?;
        while session.is_handshaking() {
            // An invalid certificate comes back as InvalidData wrapping rustls's error
            // ("invalid peer certificate: UnknownIssuer"), after the alert went out.
            session
                .complete_io(&mut socket)
                .map_err(|e| self.fail(&handshake, e))?;
        }
        let mut connection = Connection {
            socket,
            tls: Some(Box::new(session)),
        };
        connection.settle().map_err(|e| self.fail(&handshake, e))?;
        Ok(connection)
    }

    /// Sends `frames` after whatever a failed connection may have lost, on the current
    /// connection or a new one; on success the frames join the recent ones.
    fn send(&mut self, frames: Vec<u8>) -> Result<(), ForwardError> {
        let address = self.address();
        // A server that closed the connection since the last batch (a restart) has perhaps
        // not written out what it had: reconnect now and send the recent batches again.
        if let Some(c) = &mut self.connection {
            if c.check_open().is_err() {
                self.connection = None;
            }
        }
        let (mut connection, fresh) = match self.connection.take() {
            Some(c) => (c, false),
            None => (self.connect()?, true),
        };
        let result = (|| {
            if fresh {
                for (_, old) in &self.recent {
                    connection
                        .write(old)
                        .map_err(|e| (format!("sending to {address}"), e))?;
                }
            }
            connection
                .write(&frames)
                .map_err(|e| (format!("sending to {address}"), e))?;
            connection
                .wait_acknowledged()
                .map_err(|e| (format!("waiting for {address} to acknowledge"), e))?;
            connection
                .check_open()
                .map_err(|e| (format!("sending to {address}"), e))
        })();
        match result {
            Ok(()) => {
                let now = Instant::now();
                if fresh {
                    // They were just sent again: as much at risk as the new batch.
                    for entry in &mut self.recent {
                        entry.0 = now;
                    }
                }
                self.recent.push_back((now, frames));
                self.connection = Some(connection);
                Ok(())
            }
            // The connection is dropped; `recent` stays, to be sent first on the next one.
            Err((what, e)) => Err(self.fail(what, e)),
        }
    }

    /// Forgets the batches that are old enough, or over the byte cap, keeping the last.
    fn prune(&mut self) {
        let now = Instant::now();
        let mut bytes: usize = self.recent.iter().map(|(_, f)| f.len()).sum();
        while self.recent.len() > 1 {
            let Some((sent, front)) = self.recent.front() else {
                break;
            };
            if now.duration_since(*sent) <= RESEND_WINDOW && bytes <= RESEND_MAX_BYTES {
                break;
            }
            bytes -= front.len();
            self.recent.pop_front();
        }
    }
}

impl Sink for SyslogSink {
    fn deliver(&mut self, agent: &Agent, batch: &[StoredVerdict]) -> Result<(), ForwardError> {
        if batch.is_empty() {
            return Ok(());
        }
        let formatter = formatter(agent);
        let mut frames = Vec::with_capacity(batch.len() * 1024);
        for stored in batch {
            frame(&mut frames, &message(&formatter, agent, stored));
        }
        self.send(frames)?;
        self.prune();
        Ok(())
    }
}

impl Drop for SyslogSink {
    fn drop(&mut self) {
        // A TLS server logs a connection closed without close_notify as an error; say
        // goodbye, but never wait long for it.
        if let Some(Connection {
            mut socket,
            tls: Some(mut session),
        }) = self.connection.take()
        {
            session.send_close_notify();
            let _ = socket.set_write_timeout(Some(Duration::from_secs(1)));
            while session.wants_write() {
                if !matches!(session.write_tls(&mut socket), Ok(n) if n > 0) {
                    break;
                }
            }
        }
    }
}

impl Connection {
    /// Writes `data` (and, over TLS, encrypts it) in full.
    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        let Some(session) = &mut self.tls else {
            self.socket.write_all(data)?;
            return self.socket.flush();
        };
        let mut rest = data;
        loop {
            while session.wants_write() {
                if session.write_tls(&mut self.socket)? == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
            }
            if rest.is_empty() {
                return self.socket.flush();
            }
            // Takes what fits in rustls's buffer; the loop sends it before taking more.
            let n = session.writer().write(rest)?;
            if n == 0 && !session.wants_write() {
                return Err(io::ErrorKind::WriteZero.into());
            }
            rest = &rest[n..];
        }
    }

    /// Waits until the server's TCP stack has acknowledged every byte written, at most
    /// [`IO_TIMEOUT`].
    fn wait_acknowledged(&self) -> io::Result<()> {
        let start = Instant::now();
        let mut pause = Duration::from_micros(50);
        loop {
            let left = unacknowledged(&self.socket)?;
            if let Some(e) = self.socket.take_error()? {
                return Err(e);
            }
            if left == 0 {
                return Ok(());
            }
            if start.elapsed() >= IO_TIMEOUT {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "{left} bytes not acknowledged after {} s",
                        IO_TIMEOUT.as_secs()
                    ),
                ));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    /// Watches a new connection for [`SETTLE`]: an error if the server closes it meanwhile.
    fn settle(&mut self) -> io::Result<()> {
        let until = Instant::now() + SETTLE;
        loop {
            self.check_open()?;
            if Instant::now() >= until {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether the server still has the connection open: reads what it sent (a syslog server
    /// sends nothing but TLS housekeeping) without waiting; end of stream, a reset, a TLS alert
    /// or close_notify is an error.
    fn check_open(&mut self) -> io::Result<()> {
        self.socket.set_nonblocking(true)?;
        let result = self.drain();
        self.socket.set_nonblocking(false)?;
        result
    }

    fn drain(&mut self) -> io::Result<()> {
        let closed = || {
            io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the server closed the connection",
            )
        };
        let mut buf = [0u8; 4096];
        loop {
            let read = match &mut self.tls {
                None => self.socket.read(&mut buf),
                Some(session) => session.read_tls(&mut self.socket),
            };
            match read {
                Ok(0) => return Err(closed()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            if let Some(session) = &mut self.tls {
                let state = session
                    .process_new_packets()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                if state.peer_has_closed() {
                    return Err(closed());
                }
                // Application data from a syslog server means nothing; drop it so that it
                // cannot fill rustls's buffer.
                let mut left = state.plaintext_bytes_to_read();
                while left > 0 {
                    let n = session.reader().read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    left = left.saturating_sub(n);
                }
            }
        }
    }
}

/// Bytes written to `socket` that the peer has not acknowledged yet.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn unacknowledged(socket: &TcpStream) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // SIOCOUTQ: Linux defines it as TIOCOUTQ (linux/sockios.h), the only name libc has.
    // SAFETY: the request writes one int through the pointer, which points at `n`.
    let rc = unsafe { libc::ioctl(socket.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Other systems have no portable way to ask; delivery there relies on the write succeeding,
/// the open-connection check and the resending of recent batches.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn unacknowledged(_socket: &TcpStream) -> io::Result<usize> {
    Ok(0)
}

/// The rustls client configuration of `files`: the CA file's certificates or the system's,
/// and the client certificate if any.
fn client_config(name: &str, files: &TlsFiles) -> Result<Arc<ClientConfig>, ForwardError> {
    let bad = |why: String| ForwardError::BadDestination {
        url: name.to_string(),
        why,
    };
    let mut roots = RootCertStore::empty();
    match &files.ca {
        Some(ca) => {
            for cert in certificates(ca).map_err(bad)? {
                roots.add(cert).map_err(|e| {
                    bad(format!(
                        "{}: not a usable CA certificate: {e}",
                        ca.display()
                    ))
                })?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _unparsable) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .first()
                    .map_or_else(String::new, |e| format!(" ({e})"));
                return Err(bad(format!(
                    "no CA file given (ca=FILE or --forward-ca) and no CA certificate found \
                     on this system{why}"
                )));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(format!("TLS settings: {e}")))?
        .with_root_certificates(roots);
    let config = match (&files.cert, &files.key) {
        (None, None) => builder.with_no_client_auth(),
        (Some(cert), Some(key)) => {
            let chain = certificates(cert).map_err(bad)?;
            let private = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| bad(format!("{}: no usable PEM private key: {e}", key.display())))?;
            builder.with_client_auth_cert(chain, private).map_err(|e| {
                bad(format!(
                    "client certificate {} with key {}: {e}",
                    cert.display(),
                    key.display()
                ))
            })?
        }
        _ => {
            return Err(bad(
                "a client certificate needs both cert and key".to_string()
            ))
        }
    };
    Ok(Arc::new(config))
}

/// The PEM certificates of `path`, at least one.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: not PEM certificates: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{}: no PEM certificate in it (-----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(certs)
}

/// The message header shared by a batch: the agent's host, APP-NAME and our process id.
///
/// `syslog_fmt` writes the header, the structured data (escaping PARAM-VALUEs) and the MSG;
/// it takes the HOSTNAME per formatter and the TIMESTAMP per message, as we need, but
/// validates neither, so [`header_field`] and [`clean`] make them safe first.
fn formatter(agent: &Agent) -> v5424::Formatter {
    let host = header_field(&agent.host, MAX_HOST);
    let pid = std::process::id().to_string();
    v5424::Config {
        facility: Facility::Auth,
        hostname: Some(&host),
        app_name: Some(APP_NAME),
        proc_id: Some(&pid),
    }
    .into_formatter()
}

/// The syslog severity of a verdict's severity (an unknown one counts as LOW, like the
/// store's ranking does for ECS).
fn severity(verdict_severity: &str) -> Severity {
    match severity_rank(verdict_severity).unwrap_or(1) {
        4.. => Severity::Crit,
        3 => Severity::Err,
        2 => Severity::Warning,
        _ => Severity::Notice,
    }
}

/// `stored` as one RFC 5424 message, without its frame.
fn message(formatter: &v5424::Formatter, agent: &Agent, stored: &StoredVerdict) -> Vec<u8> {
    let v = &stored.verdict;
    let start = v.first_time.unwrap_or(v.created_at);
    // A time the calendar cannot show (out of range) is sent as NILVALUE, not as a number.
    let time = opensoc_logs::logline::rfc3339;
    let ids = technique_ids(&v.technique);
    let technique = if ids.is_empty() {
        clean(&v.technique, MAX_SHORT)
    } else {
        clean(&ids.join(","), MAX_SHORT)
    };
    let entity = v.entity.as_deref().map(|e| clean(e, MAX_TEXT));
    let params: Vec<(&str, String)> = [
        ("agent", Some(clean(&agent.id, MAX_SHORT))),
        ("verdict", Some(stored.id.to_string())),
        ("severity", Some(clean(&v.severity, MAX_SHORT))),
        ("risk", Some(v.risk_score.to_string())),
        ("technique", Some(technique)),
        ("tactic", Some(clean(&v.tactic, MAX_NAME))),
        ("category", Some(clean(&v.category, MAX_NAME))),
        ("threat", Some(clean(&v.threat_type, MAX_NAME))),
        ("entity", entity.clone()),
        ("source", Some(clean(&v.source, MAX_TEXT))),
        ("lines", Some(v.records.to_string())),
        ("first", time(start)),
        ("last", time(v.last_time.unwrap_or(start))),
        ("copies", Some(stored.copies.to_string())),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    let text = format!(
        "{} {} from {}: {}",
        clean(&v.severity, MAX_SHORT),
        clean(&v.threat_type, MAX_NAME),
        entity.as_deref().unwrap_or("-"),
        clean(&v.evidence, MAX_EVIDENCE)
    );
    let mut out = Vec::with_capacity(1024);
    let timestamp = match time(start) {
        Some(t) => v5424::Timestamp::PreformattedString(t),
        None => v5424::Timestamp::None,
    };
    // Writing to a Vec cannot fail.
    let _ = formatter.write_with_data(
        &mut out,
        severity(&v.severity),
        timestamp,
        text,
        Some(MSG_ID),
        [(
            SD_ID,
            params
                .iter()
                .map(|(k, v)| (*k, v.as_str()))
                .collect::<Vec<_>>(),
        )],
    );
    out
}

/// Appends `message` to `out` in an octet-counted frame: its length in bytes, a space, itself.
fn frame(out: &mut Vec<u8>, message: &[u8]) {
    out.extend_from_slice(message.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(message);
}

/// Characters that must not reach a log file or a terminal from attacker text: controls (C0,
/// DEL, C1: newlines, ESC, NUL), Unicode line and paragraph separators, and the bidirectional
/// marks and overrides that can make a viewer show text other than what is stored.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
        )
}

/// `text` made safe for a structured-data value or the MSG: whitespace controls become a
/// space, other unsafe characters U+FFFD; at most `max` bytes, cut at a character boundary
/// and ended with "…" when cut.
fn clean(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .map(|c| match c {
            c if !unsafe_char(c) => c,
            '\t' | '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}' => ' ',
            _ => '\u{FFFD}',
        })
        .collect();
    if out.len() > max {
        let mut end = max.saturating_sub('…'.len_utf8());
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push('…');
    }
    out
}

/// `text` as a header field (HOSTNAME): printable US-ASCII only (RFC 5424 §6.2), anything else
/// an underscore, at most `max` bytes; "-" (NILVALUE) when empty.
fn header_field(text: &str, max: usize) -> String {
    let out: String = text
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .take(max)
        .collect();
    if out.is_empty() {
        "-".to_string()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::NewVerdict;
    use std::net::TcpListener;

    fn agent() -> Agent {
        Agent {
            id: "agent-1".into(),
            host: "web1".into(),
            version: "0.1.0".into(),
        }
    }

    fn verdict(id: i64, severity: &str, entity: &str) -> StoredVerdict {
        NewVerdict {
            created_at: 1_764_235_380,
            first_time: Some(1_764_235_200),
            last_time: Some(1_764_235_260),
            source: "/var/log/auth.log".into(),
            entity: Some(entity.into()),
            records: 50,
            signature: "s".into(),
            cached_from: None,
            threat_type: "SSH Brute Force Attack".into(),
            category: "Brute Force".into(),
            technique: "T1110.001".into(),
            tactic: "Credential Access".into(),
            severity: severity.into(),
            risk_score: 80,
            evidence: "50 failed logins\nroot".into(),
            impact: "i".into(),
            recommendation: "r".into(),
            secondary: None,
            input: "x".into(),
        }
        .stored_as(id)
    }

    fn text(stored: &StoredVerdict) -> String {
        String::from_utf8(message(&formatter(&agent()), &agent(), stored)).unwrap()
    }

    #[test]
    fn a_verdict_is_an_rfc5424_message() {
        let m = text(&verdict(7, "HIGH", "185.220.101.33"));
        let pid = std::process::id();
        let head = format!("<35>1 2025-11-27T09:20:00Z web1 opensoc {pid} verdict [opensoc@32473 ");
        assert!(m.starts_with(&head), "{m}");
        for param in [
            "agent=\"agent-1\"",
            "verdict=\"7\"",
            "severity=\"HIGH\"",
            "risk=\"80\"",
            "technique=\"T1110.001\"",
            "tactic=\"Credential Access\"",
            "category=\"Brute Force\"",
            "threat=\"SSH Brute Force Attack\"",
            "entity=\"185.220.101.33\"",
            "source=\"/var/log/auth.log\"",
            "lines=\"50\"",
            "first=\"2025-11-27T09:20:00Z\"",
            "last=\"2025-11-27T09:21:00Z\"",
            "copies=\"0\"",
        ] {
            assert!(m.contains(param), "{param} in {m}");
        }
        // The MSG after the BOM RFC 5424 asks for before UTF-8 text; the newline is a space.
        assert!(
            m.ends_with(
                "] \u{FEFF}HIGH SSH Brute Force Attack from 185.220.101.33: 50 failed logins root"
            ),
            "{m}"
        );
    }

    #[test]
    fn pri_is_auth_with_the_verdict_severity() {
        for (severity, pri) in [
            ("CRITICAL", 34),
            ("HIGH", 35),
            ("MEDIUM", 36),
            ("LOW", 37),
            ("odd", 37),
        ] {
            let m = text(&verdict(1, severity, "x"));
            assert!(m.starts_with(&format!("<{pri}>1 ")), "{severity}: {m}");
        }
    }

    #[test]
    fn hostile_text_is_escaped_and_stripped() {
        let hostile = "a\"]\\b\u{1b}[2J\nc\0d\u{202E}e";
        let mut v = verdict(3, "LOW", hostile);
        v.verdict.threat_type = hostile.into();
        let mut a = agent();
        a.host = "bad host\n".into();
        let m = String::from_utf8(message(&formatter(&a), &a, &v)).unwrap();
        assert!(
            !m.chars().any(|c| c.is_control() || c == '\u{202E}'),
            "raw control character in {m:?}"
        );
        // §6.3.3: `"`, `\` and `]` escaped with a backslash; the controls replaced.
        assert!(m.contains(r#"entity="a\"\]\\b�[2J c�d�e""#), "{m}");
        assert!(m.contains(" bad_host_ opensoc "), "{m}");
        // The structured data ends where it should: one unescaped `]`.
        let sd_end = m.find("\"] ").unwrap();
        assert!(m[sd_end..].starts_with("\"] \u{FEFF}LOW a\"]\\b"), "{m}");
    }

    #[test]
    fn long_fields_are_capped() {
        let mut v = verdict(4, "LOW", &"é".repeat(10_000));
        v.verdict.evidence = "x".repeat(100_000);
        let m = message(&formatter(&agent()), &agent(), &v);
        assert!(m.len() < 2048, "{} bytes", m.len());
        assert_eq!(clean("abcdef", 4), "a…");
        assert_eq!(clean("ééé", 5), "é…");
        assert_eq!(clean("ééé", 4), "…");
        assert_eq!(clean("short", 64), "short");
        assert_eq!(header_field("", 255), "-");
    }

    #[test]
    fn the_octet_count_is_the_byte_length() {
        let m = message(
            &formatter(&agent()),
            &agent(),
            &verdict(5, "HIGH", "ünïcødé"),
        );
        let mut out = Vec::new();
        frame(&mut out, &m);
        let text = String::from_utf8(out).unwrap();
        let (count, rest) = text.split_once(' ').unwrap();
        assert_eq!(count.parse::<usize>().unwrap(), rest.len());
        assert_eq!(rest.as_bytes(), &m[..]);
    }

    #[test]
    fn bad_tls_files_are_refused_when_the_sink_is_made() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").unwrap();
        let files = TlsFiles {
            ca: Some(junk.clone()),
            ..TlsFiles::default()
        };
        let err = SyslogSink::new("syslog+tls://h", "h", 6514, Some(&files))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("no PEM certificate"), "{err}");
        let files = TlsFiles {
            ca: Some(dir.path().join("missing.pem")),
            ..TlsFiles::default()
        };
        let err = SyslogSink::new("syslog+tls://h", "h", 6514, Some(&files))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("cannot read"), "{err}");
    }

    /// Reads octet-counted frames until the peer closes; returns the verdict ids.
    fn read_ids(mut s: TcpStream) -> Vec<i64> {
        let mut data = Vec::new();
        let _ = s.read_to_end(&mut data);
        let text = String::from_utf8_lossy(&data).into_owned();
        let mut ids = Vec::new();
        let mut rest = text.as_str();
        while let Some((count, tail)) = rest.split_once(' ') {
            let Ok(n) = count.parse::<usize>() else { break };
            let Some(msg) = tail.get(..n) else { break };
            let id = msg
                .split("verdict=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            ids.push(id.parse().unwrap());
            rest = &tail[n..];
        }
        ids
    }

    #[test]
    fn after_the_server_closes_the_next_connection_repeats_the_recent_batch() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut sink = SyslogSink::new("syslog://t", "127.0.0.1", port, None).unwrap();
        let (delivered, close) = std::sync::mpsc::channel::<()>();
        let server = std::thread::spawn(move || {
            // The first connection takes one batch and, once it counts as delivered, closes as
            // a killed server would, whether or not it wrote the batch out.
            let (mut first, _) = listener.accept().unwrap();
            let mut buf = vec![0u8; 65536];
            let _ = first.read(&mut buf);
            let _ = close.recv();
            drop(first);
            let (second, _) = listener.accept().unwrap();
            read_ids(second)
        });
        sink.deliver(&agent(), &[verdict(1, "LOW", "a"), verdict(2, "LOW", "b")])
            .unwrap();
        delivered.send(()).unwrap();
        // Give the server time to close.
        std::thread::sleep(Duration::from_millis(100));
        sink.deliver(&agent(), &[verdict(3, "LOW", "c")]).unwrap();
        drop(sink);
        assert_eq!(server.join().unwrap(), [1, 2, 3]);
    }

    #[test]
    fn a_refused_connection_is_a_delivery_error() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut sink = SyslogSink::new("syslog://t", "127.0.0.1", port, None).unwrap();
        let err = sink
            .deliver(&agent(), &[verdict(1, "LOW", "a")])
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("syslog://t: connecting to 127.0.0.1:{port}: ")),
            "{err}"
        );
    }
}
