//! A `--forward` URL: which sink, where, and with what TLS files. Parsed and checked (files
//! readable, URL well formed) before a scan starts, so a typo fails at once rather than after
//! an hour of analysis.
//!
//! | URL | sink |
//! |---|---|
//! | `syslog://host[:514]`, `syslog+tcp://…` | RFC 5424 over TCP, octet-counted frames |
//! | `syslog+tls://host[:6514]?ca=FILE&cert=FILE&key=FILE` | the same over TLS (RFC 5425) |
//! | `postgres://user[:password]@host[:port]/db`, `postgresql://…` | the fleet table |
//! | `file:PATH`, `file:///abs/path` | JSON lines (ECS) appended to a file |
//! | `-`, `stdout:` | JSON lines (ECS) on standard output |

use std::path::{Path, PathBuf};

use crate::forward::syslog::TlsFiles;
use crate::forward::{ForwardError, Sink};
use crate::store::fleet::shown_url;

/// Which sink a destination is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Syslog over TCP, with TLS when `tls` is set.
    Syslog {
        /// Server host name or address.
        host: String,
        /// Server port.
        port: u16,
        /// TLS settings; `None` for plain TCP.
        tls: Option<TlsFiles>,
    },
    /// A PostgreSQL database (the URL as given, password included).
    Postgres {
        /// The connection URL.
        url: String,
    },
    /// JSON lines to a file, or to standard output when `None`.
    JsonLines {
        /// The file appended to.
        path: Option<PathBuf>,
    },
}

/// One parsed `--forward` destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// What it is.
    pub kind: Kind,
    /// The URL with its password and query left out: what messages show, and the key of the
    /// destination's cursor in the store (so a changed password keeps the cursor).
    pub name: String,
}

/// Plain syslog over TCP has no assigned port; 514 is what rsyslog and syslog-ng use.
const SYSLOG_TCP_PORT: u16 = 514;
/// Syslog over TLS (RFC 5425).
const SYSLOG_TLS_PORT: u16 = 6514;

impl Destination {
    /// Parses `url`; `defaults` are the TLS files of `--forward-ca/-cert/-key`, which a URL's
    /// own `ca=`, `cert=` and `key=` override.
    pub fn parse(url: &str, defaults: &TlsFiles) -> Result<Destination, ForwardError> {
        let bad = |why: &str| ForwardError::BadDestination {
            url: shown_url(url),
            why: why.to_string(),
        };
        let url = url.trim();
        if url == "-" || url == "stdout:" {
            return Ok(Destination {
                kind: Kind::JsonLines { path: None },
                name: "stdout:".to_string(),
            });
        }
        if let Some(rest) = url.strip_prefix("file:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(bad("no file path (file:/var/log/opensoc/verdicts.jsonl)"));
            }
            let path = PathBuf::from(path);
            return Ok(Destination {
                name: format!("file:{}", path.display()),
                kind: Kind::JsonLines { path: Some(path) },
            });
        }
        let parsed = url::Url::parse(url).map_err(|e| {
            bad(&format!(
                "not a URL ({e}); expected syslog://, syslog+tls://, postgres://, file: or -"
            ))
        })?;
        let mut name = parsed.clone();
        name.set_query(None);
        name.set_fragment(None);
        if name.password().is_some() {
            // Only fails for URLs without a host, which every accepted scheme has.
            let _ = name.set_password(Some("***"));
        }
        let name = name.to_string();
        match parsed.scheme() {
            "syslog" | "syslog+tcp" | "syslog+tls" => {
                let tls = parsed.scheme() == "syslog+tls";
                let host = parsed
                    .host_str()
                    .filter(|h| !h.is_empty())
                    .ok_or_else(|| bad("no host"))?
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string();
                let port = parsed.port().unwrap_or(if tls {
                    SYSLOG_TLS_PORT
                } else {
                    SYSLOG_TCP_PORT
                });
                let mut files = defaults.clone();
                for (key, value) in parsed.query_pairs() {
                    let path = Some(PathBuf::from(value.as_ref()));
                    match key.as_ref() {
                        "ca" => files.ca = path,
                        "cert" => files.cert = path,
                        "key" => files.key = path,
                        other => {
                            return Err(bad(&format!(
                                "unknown option {other:?} (syslog takes ca=, cert= and key=)"
                            )))
                        }
                    }
                }
                if !tls && (parsed.query().is_some()) {
                    return Err(bad("ca=, cert= and key= need syslog+tls://"));
                }
                if files.cert.is_some() != files.key.is_some() {
                    return Err(bad("a client certificate needs both cert and key"));
                }
                if tls {
                    for file in [&files.ca, &files.cert, &files.key].into_iter().flatten() {
                        readable(file).map_err(|why| bad(&why))?;
                    }
                }
                Ok(Destination {
                    kind: Kind::Syslog {
                        host,
                        port,
                        tls: tls.then_some(files),
                    },
                    name,
                })
            }
            "postgres" | "postgresql" => Ok(Destination {
                kind: Kind::Postgres {
                    url: url.to_string(),
                },
                name,
            }),
            other => Err(bad(&format!(
                "unknown scheme {other:?}; expected syslog://, syslog+tcp://, syslog+tls://, \
                 postgres://, file: or -"
            ))),
        }
    }

    /// The destination's sink, not yet connected (it connects on its first delivery). Fails
    /// only on settings no retry can fix: a URL the sink cannot use, an unusable TLS file.
    pub fn open(&self) -> Result<Box<dyn Sink>, ForwardError> {
        Ok(match &self.kind {
            Kind::Syslog { host, port, tls } => Box::new(crate::forward::syslog::SyslogSink::new(
                &self.name,
                host,
                *port,
                tls.as_ref(),
            )?),
            Kind::Postgres { url } => Box::new(crate::forward::postgres::PostgresSink::new(
                &self.name, url,
            )?),
            Kind::JsonLines { path } => Box::new(crate::forward::jsonl::JsonLinesSink::new(
                &self.name,
                path.as_deref(),
            )),
        })
    }
}

/// Whether `file` can be read, or why not.
fn readable(file: &Path) -> Result<(), String> {
    std::fs::File::open(file)
        .map(|_| ())
        .map_err(|e| format!("cannot read {}: {e}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_their_sink_and_a_name_without_secrets() {
        let none = TlsFiles::default();
        let d = Destination::parse("syslog://logs.example:1514", &none).unwrap();
        assert_eq!(
            d.kind,
            Kind::Syslog {
                host: "logs.example".into(),
                port: 1514,
                tls: None
            }
        );
        let d = Destination::parse("syslog+tcp://10.0.0.5", &none).unwrap();
        assert!(matches!(d.kind, Kind::Syslog { port: 514, .. }));
        let d = Destination::parse("syslog+tls://[::1]", &none).unwrap();
        assert_eq!(
            d.kind,
            Kind::Syslog {
                host: "::1".into(),
                port: 6514,
                tls: Some(TlsFiles::default())
            }
        );
        let d = Destination::parse("postgres://soc:hunter2@db.lan/fleet", &none).unwrap();
        assert_eq!(d.name, "postgres://soc:***@db.lan/fleet");
        assert!(matches!(d.kind, Kind::Postgres { ref url } if url.contains("hunter2")));
        let d = Destination::parse("file:///var/log/v.jsonl", &none).unwrap();
        assert_eq!(
            d.kind,
            Kind::JsonLines {
                path: Some("/var/log/v.jsonl".into())
            }
        );
        assert_eq!(
            Destination::parse("-", &none).unwrap().kind,
            Kind::JsonLines { path: None }
        );
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        let none = TlsFiles::default();
        let err = |u: &str| Destination::parse(u, &none).unwrap_err().to_string();
        assert!(
            err("http://x").contains("unknown scheme \"http\""),
            "{}",
            err("http://x")
        );
        assert!(err("syslog+tls://h?ca=/nonexistent/ca.pem").contains("cannot read"));
        assert!(err("syslog://h?ca=/etc/hostname").contains("need syslog+tls://"));
        assert!(err("syslog+tls://h?cert=/etc/hostname").contains("both cert and key"));
        assert!(err("syslog+tls://h?color=red").contains("unknown option"));
        assert!(err("file:").contains("no file path"));
        assert!(err("postgres//x").contains("not a URL"));
        assert!(!err("nope://u:secret@h").contains("secret"));
        // A URL that does not parse still hides its password.
        let e = err("postgres://u:secret@h:99999/db");
        assert!(
            e.contains("not a URL") && e.contains("u:***@h:99999"),
            "{e}"
        );
    }
}
