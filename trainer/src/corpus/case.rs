//! What the suite builder and the adversarial generator share: the class names a case
//! expects of its attackers, and a case before its split is known.

use opensoc::eval::suite::Attacker;

/// The threat categories suites expect (text before ` — ` of a taxonomy threat type).
pub mod class {
    /// Password guessing against SSH.
    pub const SSH_BRUTE: &str = "SSH Brute Force Attack";
    /// Password guessing against any other service, web logins included.
    pub const BRUTE: &str = "Brute Force Attack";
    /// Relay denied, HELO or sender rejected, spam, RBL hits.
    pub const MAIL: &str = "Mail Abuse";
    /// Probing of many ports.
    pub const PORT_SCAN: &str = "Network Port Scan";
    /// Floods and rate limits.
    pub const DOS: &str = "Denial of Service / DDoS Attack";
    /// Bad bots, scanners, probing of secret files and admin pages, open-proxy probes.
    pub const RECON: &str = "Automated Reconnaissance / Vulnerability Scanning";
    /// CVE exploit requests, Log4Shell, shellshock, webshells.
    pub const EXPLOIT: &str = "Known Exploit Probe";
    /// SQL injection.
    pub const SQLI: &str = "SQL Injection";
    /// Cross-site scripting.
    pub const XSS: &str = "Cross-Site Scripting (XSS) Attempt";
    /// Shell command injection.
    pub const CMDI: &str = "OS Command Injection Attempt";
    /// `../` traversal.
    pub const TRAVERSAL: &str = "Path Traversal / Directory Traversal Attack";
    /// Local (and remote) file inclusion.
    pub const LFI: &str = "Local File Inclusion (LFI) Attack";
    /// Forged log lines, prompt injection.
    pub const LOG_INJECTION: &str = "Log Injection / Prompt Injection Attempt";
    /// A suspicious process start (Sysmon).
    pub const WIN_PROCESS: &str = "Windows Threat: Process Creation";
}

/// A case before its split is known: the lines of its log and its attackers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// `fail2ban`, `wazuh` or `crs`.
    pub source: &'static str,
    /// The service (jail, test file, rule file).
    pub service: String,
    /// The case's name.
    pub name: String,
    /// The log's path inside the suite.
    pub file: String,
    /// The log's lines.
    pub lines: Vec<String>,
    /// The attackers.
    pub attackers: Vec<Attacker>,
}
