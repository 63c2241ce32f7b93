//! Project-written generators for what the real sources lack: ordinary Linux system activity
//! (cron, sudo, key logins, systemd), password guessing over SSH, FTP and web forms, scanners,
//! floods, large transfers and multi-stage windows, each with a benign look-alike where one
//! exists (a typo before a login, a page and its assets, a crawler, a modest download).

use super::web::{self, Class, Client, Pool, Request};
use super::{
    bsd_time, join_lines, labels, lan_ip, public_ip, random_time, render_inputs, BuildConfig, Rng,
    Sample,
};

const RECON: &str = "Automated Reconnaissance / Vulnerability Scanning";
const SSH_BF: &str = "SSH Brute Force Attack";
const SSH_BF_OK: &str = "SSH Brute Force Attack — SUCCESSFUL LOGIN";
const BRUTE: &str = "Brute Force Attack";
const STUFFING: &str = "Credential Stuffing Attack";
const DOS: &str = "Denial of Service / DDoS Attack";
pub(super) const EXFIL: &str = "Potential Data Exfiltration";

const HOSTS: [&str; 8] = [
    "web-01",
    "web-02",
    "app-prod-1",
    "db-1",
    "bastion",
    "ci-runner",
    "mail",
    "nas",
];
const ADMINS: [&str; 6] = ["alice", "deploy", "ops", "jsmith", "ansible", "backup"];

pub(super) fn syslog(t: i64, host: &str, prog: &str, pid: u64, msg: &str) -> String {
    format!("{} {host} {prog}[{pid}]: {msg}", bsd_time(t))
}

fn fingerprint(rng: &mut Rng) -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    (0..43)
        .map(|_| alphabet[rng.below(alphabet.len())] as char)
        .collect()
}

/// Every window of a generated log, all with `label`.
pub(super) fn all(group: &str, lines: &[String], label: &str, source: &str) -> Vec<Sample> {
    render_inputs(group, &join_lines(lines))
        .into_iter()
        .map(|input| Sample::new(input, label, source))
        .collect()
}

/// The one window of a generated log; None when the windower split it.
pub(super) fn single(group: &str, lines: &[String]) -> Option<String> {
    let mut w = render_inputs(group, &join_lines(lines));
    (w.len() == 1).then(|| w.remove(0))
}

/// Ordinary Linux system activity: every window benign.
fn benign_syslog(rng: &mut Rng) -> Vec<String> {
    let t0 = random_time(rng);
    let host = *rng.pick(&HOSTS);
    let mut pid = rng.range(1000, 60_000);
    let mut lines = Vec::new();
    match rng.below(6) {
        0 => {
            let jobs = [
                "cd / && run-parts --report /etc/cron.hourly",
                "[ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then /usr/lib/php/sessionclean; fi",
                "/usr/local/bin/backup.sh >/dev/null 2>&1",
                "test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )",
                "/usr/bin/certbot -q renew",
                "php /var/www/app/artisan schedule:run >> /dev/null 2>&1",
            ];
            let user = *rng.pick(&["root", "root", "www-data", "backup"]);
            let mut t = t0;
            for _ in 0..rng.range(1, 3) {
                pid += rng.range(1, 300);
                lines.push(syslog(
                    t,
                    host,
                    "CRON",
                    pid,
                    &format!(
                        "pam_unix(cron:session): session opened for user {user}(uid=0) by (uid=0)"
                    ),
                ));
                lines.push(syslog(
                    t,
                    host,
                    "CRON",
                    pid + 1,
                    &format!("({user}) CMD ({})", rng.pick(&jobs)),
                ));
                lines.push(syslog(
                    t + rng.range(0, 2) as i64,
                    host,
                    "CRON",
                    pid,
                    &format!("pam_unix(cron:session): session closed for user {user}"),
                ));
                t += 60 * rng.range(1, 2) as i64;
            }
        }
        1 => {
            let admin = *rng.pick(&ADMINS);
            let cmds = [
                "/usr/bin/apt update",
                "/usr/bin/systemctl restart nginx",
                "/usr/bin/journalctl -u app --since today",
                "/usr/bin/tail -n 200 /var/log/syslog",
                "/usr/sbin/ufw status",
                "/usr/bin/docker ps",
            ];
            let mut t = t0;
            for _ in 0..rng.range(1, 3) {
                lines.push(syslog(
                    t,
                    host,
                    "sudo",
                    pid,
                    &format!(
                        "  {admin} : TTY=pts/{} ; PWD=/home/{admin} ; USER=root ; COMMAND={}",
                        rng.range(0, 3),
                        rng.pick(&cmds)
                    ),
                ));
                lines.push(syslog(t, host, "sudo", pid, &format!("pam_unix(sudo:session): session opened for user root(uid=0) by {admin}(uid=1000)")));
                lines.push(syslog(
                    t + rng.range(1, 20) as i64,
                    host,
                    "sudo",
                    pid,
                    "pam_unix(sudo:session): session closed for user root",
                ));
                t += rng.range(20, 90) as i64;
                pid += rng.range(1, 50);
            }
        }
        2 => {
            let admin = *rng.pick(&ADMINS);
            let ip = lan_ip(rng);
            let port = rng.range(40_000, 65_000);
            let kind = *rng.pick(&["ED25519", "RSA", "ECDSA"]);
            lines.push(syslog(
                t0,
                host,
                "sshd",
                pid,
                &format!(
                    "Accepted publickey for {admin} from {ip} port {port} ssh2: {kind} SHA256:{}",
                    fingerprint(rng)
                ),
            ));
            lines.push(syslog(
                t0,
                host,
                "sshd",
                pid,
                &format!(
                    "pam_unix(sshd:session): session opened for user {admin}(uid=1001) by (uid=0)"
                ),
            ));
            lines.push(syslog(
                t0,
                host,
                "systemd-logind",
                rng.range(400, 900),
                &format!("New session {} of user {admin}.", rng.range(2, 900)),
            ));
            if rng.chance(0.6) {
                let t = t0 + rng.range(30, 250) as i64;
                lines.push(syslog(
                    t,
                    host,
                    "sshd",
                    pid,
                    &format!("Received disconnect from {ip} port {port}:11: disconnected by user"),
                ));
                lines.push(syslog(
                    t,
                    host,
                    "sshd",
                    pid,
                    &format!("pam_unix(sshd:session): session closed for user {admin}"),
                ));
            }
        }
        3 => {
            let units = [
                ("apt-daily.service", "Daily apt download activities"),
                ("logrotate.service", "Rotate log files"),
                ("man-db.service", "Daily man-db regeneration"),
                (
                    "fstrim.service",
                    "Discard unused blocks on filesystems from /etc/fstab",
                ),
                ("certbot.service", "Certbot"),
                ("phpsessionclean.service", "Clean php session files"),
                (
                    "systemd-tmpfiles-clean.service",
                    "Cleanup of Temporary Directories",
                ),
            ];
            let mut t = t0;
            for _ in 0..rng.range(1, 3) {
                let (unit, desc) = *rng.pick(&units);
                lines.push(syslog(
                    t,
                    host,
                    "systemd",
                    1,
                    &format!("Starting {desc}..."),
                ));
                t += rng.range(0, 5) as i64;
                lines.push(syslog(
                    t,
                    host,
                    "systemd",
                    1,
                    &format!("{unit}: Deactivated successfully."),
                ));
                lines.push(syslog(t, host, "systemd", 1, &format!("Finished {desc}.")));
                t += rng.range(5, 60) as i64;
            }
        }
        4 => {
            // A mistyped password, then the right one: people do this every day.
            let user = *rng.pick(&ADMINS);
            let ip = lan_ip(rng);
            let port = rng.range(40_000, 65_000);
            let fails = rng.range(1, 2);
            for i in 0..fails {
                lines.push(syslog(
                    t0 + i as i64 * 3,
                    host,
                    "sshd",
                    pid,
                    &format!("Failed password for {user} from {ip} port {port} ssh2"),
                ));
            }
            let t = t0 + fails as i64 * 3 + rng.range(2, 10) as i64;
            lines.push(syslog(
                t,
                host,
                "sshd",
                pid,
                &format!("Accepted password for {user} from {ip} port {port} ssh2"),
            ));
            lines.push(syslog(
                t,
                host,
                "sshd",
                pid,
                &format!(
                    "pam_unix(sshd:session): session opened for user {user}(uid=1000) by (uid=0)"
                ),
            ));
        }
        _ => {
            let msgs = [
                ("systemd-timesyncd", "Initial synchronization to time server 185.125.190.56:123 (ntp.ubuntu.com)."),
                ("kernel", "EXT4-fs (sda1): re-mounted. Opts: errors=remount-ro"),
                ("dhclient", "DHCPACK of 10.0.2.15 from 10.0.2.2"),
                ("rsyslogd", "[origin software=\"rsyslogd\" swVersion=\"8.2112.0\"] rsyslogd was HUPed"),
                ("postfix/pickup", "4F2A11C0123: uid=33 from=<www-data>"),
                ("dockerd", "level=info msg=\"ignoring event\" module=libcontainerd namespace=moby topic=/tasks/delete type=\"*events.TaskDelete\""),
                ("snapd", "storehelpers.go:769: cannot refresh: snap has no updates available: \"core22\", \"lxd\""),
            ];
            let mut t = t0;
            for _ in 0..rng.range(1, 4) {
                let (prog, msg) = *rng.pick(&msgs);
                lines.push(syslog(t, host, prog, rng.range(300, 4000), msg));
                t += rng.range(1, 90) as i64;
            }
        }
    }
    lines
}

const SSH_USERS: [&str; 14] = [
    "root", "admin", "ubuntu", "test", "oracle", "postgres", "git", "user", "pi", "ftpuser",
    "deploy", "support", "guest", "mysql",
];

/// Password guessing against sshd from one address; `success` adds the login that got in.
fn ssh_guessing(rng: &mut Rng, t0: i64, ip: &str, n: usize, success: bool) -> Vec<String> {
    let host = *rng.pick(&HOSTS);
    let mut pid = rng.range(1000, 60_000);
    let pam_style = rng.chance(0.25);
    let mut t = t0;
    let mut lines = Vec::new();
    for _ in 0..n {
        t += rng.range(0, 5) as i64;
        pid += rng.range(1, 4);
        let user = *rng.pick(&SSH_USERS);
        let port = rng.range(30_000, 65_000);
        if pam_style {
            lines.push(syslog(t, host, "sshd(pam_unix)", pid, &format!("authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost={ip}  user={user}")));
        } else if user == "root" || user == "admin" || rng.chance(0.3) {
            lines.push(syslog(
                t,
                host,
                "sshd",
                pid,
                &format!("Failed password for {user} from {ip} port {port} ssh2"),
            ));
        } else {
            lines.push(syslog(
                t,
                host,
                "sshd",
                pid,
                &format!("Invalid user {user} from {ip} port {port}"),
            ));
            lines.push(syslog(
                t,
                host,
                "sshd",
                pid,
                &format!("Failed password for invalid user {user} from {ip} port {port} ssh2"),
            ));
        }
    }
    if success {
        t += rng.range(1, 20) as i64;
        let user = *rng.pick(&["root", "admin", "ubuntu", "pi", "deploy"]);
        let port = rng.range(30_000, 65_000);
        lines.push(syslog(
            t,
            host,
            "sshd",
            pid + 1,
            &format!("Accepted password for {user} from {ip} port {port} ssh2"),
        ));
    }
    // The session line that follows names the account, not the address: the windower puts it
    // in a window of its own, so the guessing window ends with the accepted login.
    lines
}

/// FTP or mail password guessing (not SSH).
fn other_guessing(rng: &mut Rng) -> Vec<String> {
    let t0 = random_time(rng);
    let host = *rng.pick(&HOSTS);
    let ip = public_ip(rng);
    let mut t = t0;
    let pid = rng.range(1000, 60_000);
    (0..rng.range(3, 9))
        .map(|i| {
            t += rng.range(0, 6) as i64;
            let user = *rng.pick(&SSH_USERS);
            let prog = *rng.pick(&["vsftpd", "dovecot"]);
            let tty = if prog == "vsftpd" { "ftp" } else { "dovecot" };
            syslog(t, host, prog, pid + i, &format!("pam_unix({prog}:auth): authentication failure; logname= uid=0 euid=0 tty={tty} ruser={user} rhost={ip}"))
        })
        .collect()
}

/// Requests a scanner makes for forgotten files and admin pages.
const PROBES: [&str; 36] = [
    "/.env",
    "/.git/config",
    "/wp-admin/",
    "/phpmyadmin/",
    "/backup.zip",
    "/db.sql",
    "/server-status",
    "/admin/",
    "/config.php.bak",
    "/.aws/credentials",
    "/wp-login.php",
    "/actuator/env",
    "/.DS_Store",
    "/api/v1/debug",
    "/cgi-bin/test.cgi",
    "/xmlrpc.php",
    "/solr/admin/",
    "/.svn/entries",
    "/owa/auth/logon.aspx",
    "/backup/site.tar.gz",
    "/administrator/index.php",
    "/manager/html",
    "/.htpasswd",
    "/web.config",
    "/old/",
    "/dump.sql.gz",
    "/test.php",
    "/info.php",
    "/console",
    "/jenkins/login",
    "/.well-known/security.txt",
    "/admin/config.yml",
    "/storage/logs/laravel.log",
    "/wp-config.php~",
    "/_profiler/phpinfo",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
];

/// Files at a site's root that scanners ask for: secrets, keys, dumps and configuration.
/// Asking for them is reconnaissance; only climbing out of the root (`../`) is traversal.
const FILE_PROBES: [&str; 24] = [
    "/.env.bak",
    "/.env.production",
    "/config.json",
    "/.git/HEAD",
    "/wp-content/debug.log",
    "/.ssh/id_rsa",
    "/id_rsa",
    "/server.key",
    "/backup.sql",
    "/WEB-INF/web.xml",
    "/.bash_history",
    "/docker-compose.yml",
    "/.npmrc",
    "/config/database.yml",
    "/appsettings.json",
    "/.vscode/sftp.json",
    "/sftp-config.json",
    "/credentials.json",
    "/secrets.yml",
    "/dump.rdb",
    "/web.config.bak",
    "/phpinfo.php",
    "/.git/logs/HEAD",
    "/wp-config.php.save",
];

/// Agents scanners announce themselves with (besides plain browsers and tools).
const SCANNER_AGENTS: [&str; 5] = [
    "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
    "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000001)",
    "Mozilla/5.0 zgrab/0.x",
    "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
    "Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)",
];

fn scan_agent(rng: &mut Rng) -> String {
    match rng.below(10) {
        0..=4 => rng.pick(&web::BROWSERS).to_string(),
        5..=6 => rng.pick(&web::TOOLS).to_string(),
        _ => rng.pick(&SCANNER_AGENTS).to_string(),
    }
}

fn probe_requests(
    rng: &mut Rng,
    t0: i64,
    n: usize,
    agent: &str,
    probes: &[&str],
) -> (Vec<Request>, i64) {
    let mut t = t0;
    let reqs = (0..n)
        .map(|_| {
            t += rng.range(0, 2) as i64;
            let status = match rng.below(20) {
                0..=14 => 404,
                15..=17 => 403,
                18 => 301,
                _ => 200,
            };
            Request {
                time: t,
                method: if rng.chance(0.9) { "GET" } else { "HEAD" },
                target: rng.pick(probes).to_string(),
                status,
                bytes: if status == 404 {
                    rng.range(150, 600)
                } else {
                    rng.range(0, 5000)
                },
                referer: "-".into(),
                agent: agent.to_string(),
            }
        })
        .collect();
    (reqs, t)
}

fn lines_of(client: &Client, reqs: &[Request]) -> Vec<String> {
    reqs.iter().map(|r| client.line(r)).collect()
}

fn login_requests(
    rng: &mut Rng,
    t0: i64,
    n: usize,
    agent: &str,
    successes: usize,
) -> (Vec<Request>, i64) {
    let path = *rng.pick(&[
        "/login",
        "/wp-login.php",
        "/account/login",
        "/api/auth/token",
        "/user/signin",
        "/admin/login.php",
    ]);
    let mut t = t0;
    let mut reqs: Vec<Request> = (0..n)
        .map(|_| {
            t += rng.range(0, 3) as i64;
            Request {
                time: t,
                method: "POST",
                target: path.to_string(),
                status: *rng.pick(&[401, 401, 401, 403, 200]),
                bytes: rng.range(60, 900),
                referer: "-".into(),
                agent: agent.to_string(),
            }
        })
        .collect();
    for _ in 0..successes {
        let i = rng.below(reqs.len());
        reqs[i].status = 302;
    }
    (reqs, t)
}

/// The kinds of generated windows with base counts at scale 1.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    BenignSyslog,
    BenignPageLoad,
    BenignCrawler,
    BenignDownload,
    SshGuessing,
    SshGuessingSuccess,
    OtherGuessing,
    WebLoginGuessing,
    Stuffing,
    Scanner,
    Flood,
    Exfiltration,
    MultiStage,
}

const COUNTS: [(Kind, usize); 13] = [
    (Kind::BenignSyslog, 285),
    (Kind::BenignPageLoad, 80),
    (Kind::BenignCrawler, 40),
    (Kind::BenignDownload, 50),
    (Kind::SshGuessing, 130),
    (Kind::SshGuessingSuccess, 80),
    (Kind::OtherGuessing, 50),
    (Kind::WebLoginGuessing, 80),
    (Kind::Stuffing, 30),
    (Kind::Scanner, 180),
    (Kind::Flood, 80),
    (Kind::Exfiltration, 150),
    (Kind::MultiStage, 180),
];

fn access(client: &Client, reqs: &[Request]) -> Option<String> {
    single("access.log", &lines_of(client, reqs))
}

fn generate_kind(rng: &mut Rng, kind: Kind, payloads: &Pool) -> Vec<Sample> {
    let client = Client::random(rng);
    let t0 = random_time(rng);
    let agent = web::agent(rng).to_string();
    let site = *rng.pick(&web::SITES);
    let one = |input: Option<String>, label: &str, source: &str| -> Vec<Sample> {
        input
            .map(|i| Sample::new(i, label, source))
            .into_iter()
            .collect()
    };
    match kind {
        Kind::BenignSyslog => all("syslog", &benign_syslog(rng), labels::BENIGN, "syslog"),
        Kind::BenignPageLoad => {
            // A page and the assets it pulls in, within a second or two.
            let mut reqs = vec![web::page_request(rng, t0, site, &agent)];
            for _ in 0..rng.range(2, 5) {
                let t = t0 + rng.range(0, 2) as i64;
                let mut r = web::page_request(rng, t, site, &agent);
                r.referer = format!("{site}/");
                reqs.push(r);
            }
            one(access(&client, &reqs), labels::BENIGN, "web-benign")
        }
        Kind::BenignCrawler => {
            let bots = [
                "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
                "Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
            ];
            let bot = rng.pick(&bots).to_string();
            let mut t = t0;
            let reqs: Vec<Request> = (0..rng.range(2, 7))
                .map(|_| {
                    t += rng.range(1, 30) as i64;
                    let mut r = web::page_request(rng, t, site, &bot);
                    r.referer = "-".into();
                    r
                })
                .collect();
            one(access(&client, &reqs), labels::BENIGN, "web-benign")
        }
        Kind::BenignDownload => {
            let files = [
                "/downloads/manual.pdf",
                "/files/brochure-2025.pdf",
                "/media/intro.mp4",
                "/downloads/app-setup.msi",
                "/static/catalog.zip",
            ];
            let req = Request {
                time: t0,
                method: "GET",
                target: rng.pick(&files).to_string(),
                status: 200,
                bytes: rng.range(300_000, 8_000_000),
                referer: format!("{site}/"),
                agent: agent.clone(),
            };
            one(access(&client, &[req]), labels::BENIGN, "web-benign")
        }
        Kind::SshGuessing | Kind::SshGuessingSuccess => {
            let success = kind == Kind::SshGuessingSuccess;
            let n = rng.range(3, 9) as usize;
            let ip = public_ip(rng);
            let lines = ssh_guessing(rng, t0, &ip, n, success);
            let label = if success { SSH_BF_OK } else { SSH_BF };
            one(single("auth.log", &lines), label, "bruteforce")
        }
        Kind::OtherGuessing => one(
            single("auth.log", &other_guessing(rng)),
            BRUTE,
            "bruteforce",
        ),
        Kind::WebLoginGuessing => {
            let n = rng.range(4, 10) as usize;
            let (reqs, _) = login_requests(rng, t0, n, &agent, 0);
            one(access(&client, &reqs), BRUTE, "bruteforce")
        }
        Kind::Stuffing => {
            let n = rng.range(8, 18) as usize;
            let hits = rng.range(2, 4) as usize;
            let (reqs, _) = login_requests(rng, t0, n, &agent, hits);
            one(access(&client, &reqs), STUFFING, "bruteforce")
        }
        Kind::Scanner => {
            let a = scan_agent(rng);
            let n = rng.range(4, 10) as usize;
            let (reqs, _) = probe_requests(rng, t0, n, &a, &PROBES);
            one(access(&client, &reqs), RECON, "scanner")
        }
        Kind::Flood => {
            let n = rng.range(150, 400) as usize;
            let secs = rng.range(3, 20) as i64;
            let paths = ["/", "/search", "/api/v1/products", "/login", "/index.php"];
            let path = *rng.pick(&paths);
            let reqs: Vec<Request> = (0..n)
                .map(|i| Request {
                    time: t0 + i as i64 * secs / n as i64,
                    method: if rng.chance(0.9) { "GET" } else { "POST" },
                    target: path.to_string(),
                    status: *rng.pick(&[200, 200, 503, 429, 502]),
                    bytes: rng.range(0, 9000),
                    referer: "-".into(),
                    agent: agent.clone(),
                })
                .collect();
            // The windower cuts a flood into windows of its record cap; one of them suffices.
            let mut windows = all("access.log", &lines_of(&client, &reqs), DOS, "dos");
            windows.truncate(1);
            windows
        }
        Kind::Exfiltration => {
            let targets = [
                "/api/v1/users/export?format=csv",
                "/backup/db_full.sql.gz",
                "/admin/export/all",
                "/files/archive.zip",
                "/reports/download?all=true",
                "/api/customers?limit=1000000",
                "/storage/dump.tar",
            ];
            let mut t = t0;
            let mut reqs = Vec::new();
            for _ in 0..rng.range(0, 2) {
                reqs.push(web::page_request(rng, t, site, &agent));
                t += rng.range(1, 30) as i64;
            }
            let big = rng.range(20_000_000, 900_000_000);
            reqs.push(Request {
                time: t,
                method: "GET",
                target: rng.pick(&targets).to_string(),
                status: 200,
                bytes: big,
                referer: "-".into(),
                agent: agent.clone(),
            });
            one(access(&client, &reqs), EXFIL, "exfil")
        }
        Kind::MultiStage => multi_stage(rng, payloads, "multistage")
            .into_iter()
            .collect(),
    }
}

/// One multi-stage window: its label is the later stage, `secondary` the earlier one.
fn multi_stage(rng: &mut Rng, payloads: &Pool, source: &str) -> Option<Sample> {
    let client = Client::random(rng);
    let t0 = random_time(rng);
    let agent = web::agent(rng).to_string();
    let site = *rng.pick(&web::SITES);
    let (lines, group, label, secondary, used) = match rng.below(4) {
        0 | 1 => {
            // Probing, then an injection on what answered.
            let n = rng.range(3, 8) as usize;
            let (mut reqs, t) = probe_requests(rng, t0, n, &agent, &PROBES);
            let class = *rng.pick(&[
                Class::Sqli,
                Class::Sqli,
                Class::Xss,
                Class::Cmdi,
                Class::PathTraversal,
            ]);
            let pool = payloads.of(class);
            if pool.is_empty() {
                return None;
            }
            let p = rng.pick(pool).clone();
            let t = t + rng.range(1, 20) as i64;
            reqs.push(web::payload_request(rng, &p, t, site, &agent));
            let label = class.label(&p);
            (
                lines_of(&client, &reqs),
                "access.log",
                label,
                RECON,
                vec![p],
            )
        }
        2 => {
            let n = rng.range(4, 10) as usize;
            let lines = ssh_guessing(rng, t0, &client.ip, n, true);
            (lines, "auth.log", SSH_BF_OK, SSH_BF, Vec::new())
        }
        _ => {
            // Guessing a web login until it works, then pulling an export.
            let n = rng.range(5, 12) as usize;
            let (mut reqs, t) = login_requests(rng, t0, n, &agent, 0);
            if let Some(last) = reqs.last_mut() {
                last.status = 302;
            }
            reqs.push(Request {
                time: t + rng.range(5, 60) as i64,
                method: "GET",
                target: "/admin/export?table=customers&format=csv".into(),
                status: 200,
                bytes: rng.range(20_000_000, 600_000_000),
                referer: format!("{site}/admin/"),
                agent: agent.clone(),
            });
            (
                lines_of(&client, &reqs),
                "access.log",
                EXFIL,
                BRUTE,
                Vec::new(),
            )
        }
    };
    let input = single(group, &lines)?;
    Some(Sample {
        secondary: Some(secondary.to_string()),
        payloads: used,
        ..Sample::new(input, label, source)
    })
}

/// The generated training windows (payloads only from the training pool).
pub fn generate(cfg: &BuildConfig, payloads: &Pool) -> Vec<Sample> {
    let mut rng = Rng::fork(cfg.seed, "generators");
    let mut out = Vec::new();
    for (kind, base) in COUNTS {
        for _ in 0..cfg.count(base) {
            out.extend(generate_kind(&mut rng, kind, payloads));
        }
    }
    if !cfg.recipe.network_logs() {
        return out;
    }
    // Scanners after secret files at the root, so a probe for `/.ssh/id_rsa` reads as the
    // reconnaissance it is, not as a traversal (its own fork: the draws above stay as they were).
    let mut rng = Rng::fork(cfg.seed, "file-probes");
    for _ in 0..cfg.count(150) {
        let client = Client::random(&mut rng);
        let t0 = random_time(&mut rng);
        let agent = scan_agent(&mut rng);
        let n = rng.range(4, 10) as usize;
        let (mut reqs, _) = probe_requests(&mut rng, t0, n, &agent, &FILE_PROBES);
        // Half of them mix in the common probes too.
        if rng.chance(0.5) {
            let m = rng.range(2, 5) as usize;
            let (more, _) = probe_requests(&mut rng, t0 + 3, m, &agent, &PROBES);
            reqs.extend(more);
            reqs.sort_by_key(|r| r.time);
        }
        out.extend(access(&client, &reqs).map(|i| Sample::new(i, RECON, "scanner")));
    }
    out
}

/// Held-out multi-stage windows: another seed, held-out payloads.
pub fn heldout_mixed(cfg: &BuildConfig, payloads: &Pool) -> Vec<Sample> {
    let mut rng = Rng::fork(cfg.seed ^ 0x0d15_ea5e, "mixed-heldout");
    (0..cfg.count(150))
        .filter_map(|_| multi_stage(&mut rng, payloads, "multistage"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn benign_look_alikes_stay_below_the_guessing_threshold() {
        let mut rng = Rng::new(11);
        for _ in 0..200 {
            for s in all("syslog", &benign_syslog(&mut rng), labels::BENIGN, "syslog") {
                assert_eq!(
                    super::super::loghub::label_window(&s.input),
                    labels::BENIGN,
                    "{}",
                    s.input
                );
            }
        }
    }

    #[test]
    fn guessing_windows_show_their_failures() {
        let mut rng = Rng::new(5);
        let lines = ssh_guessing(&mut rng, 1_740_000_000, "203.0.113.50", 6, true);
        let input = single("auth.log", &lines).expect("one window");
        assert!(input.contains("then an accepted login"), "{input}");
        assert_eq!(super::super::loghub::label_window(&input), SSH_BF_OK);
    }
}
