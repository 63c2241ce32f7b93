//! Who wrote a store's verdicts: the agent id made once with the store (schema migration 5),
//! the machine's host name and this build's version. Forwarded verdicts carry it, and the
//! fleet table is keyed by it.

/// Who sent a verdict: the same on every verdict one store forwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// The store's agent id ([`Store::agent_id`](crate::store::sqlite::Store::agent_id)):
    /// stable across runs, different for every store.
    pub id: String,
    /// The machine's host name.
    pub host: String,
    /// This opensoc's version.
    pub version: String,
}

impl Agent {
    /// The agent of the store `id`, on this machine, with this build's version.
    pub fn here(id: String) -> Agent {
        Agent {
            id,
            host: host_name(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// This machine's host name ("localhost" when the system gives none).
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is writable for its whole length, which is what we pass.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match (rc, String::from_utf8_lossy(&buf[..end]).trim()) {
        (0, name) if !name.is_empty() => name.to_string(),
        _ => "localhost".to_string(),
    }
}
