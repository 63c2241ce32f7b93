//! Per-line cost of `logline::parse` for syslog text and for each structured family (the JSON
//! server logs and auditd), so that "structured inputs are no slower per line than syslog
//! text" is a measured claim.
//!
//! `cargo run --release -p opensoc-logs --example parse_speed [-- ROUNDS]`
//!
//! Each round parses every line of a family's sample set enough times to take a few tens of
//! milliseconds; the figure is the median round (a single slow round, from another process on
//! the machine, does not move it).

use std::hint::black_box;
use std::time::Instant;

use opensoc_logs::logline::parse;

/// Syslog text as sshd, PAM, sudo, postfix and the kernel write it: the baseline.
const SYSLOG: &[&str] = &[
    "Nov 28 10:00:01 web sshd[2412]: Failed password for invalid user admin from 203.0.113.9 port 51234 ssh2",
    "Nov 28 10:00:02 web sshd[2412]: Accepted publickey for alice from 198.51.100.7 port 50022 ssh2: RSA SHA256:Zm9vYmFy",
    "Nov 28 10:00:03 web sshd(pam_unix)[2413]: authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9  user=root",
    "Nov 28 10:00:04 web sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx",
    "Nov 28 10:00:05 mail postfix/smtpd[881]: NOQUEUE: reject: RCPT from unknown[192.0.2.44]: 554 5.7.1 <x@example.org>: Relay access denied; from=<a@example.net> to=<x@example.org> proto=ESMTP helo=<spam>",
    "Nov 28 10:00:06 fw kernel: [UFW BLOCK] IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 SRC=203.0.113.9 DST=192.0.2.1 LEN=44 PROTO=TCP SPT=40000 DPT=23 WINDOW=1024 SYN URGP=0",
    "Nov 28 10:00:07 web systemd[1]: Started Session 42 of user alice.",
    "Nov 28 10:00:08 web CRON[3301]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
];

const CADDY: &[&str] = &[
    r#"{"level":"info","ts":1795860001.4127,"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":"203.0.113.9","remote_port":"51234","client_ip":"203.0.113.9","proto":"HTTP/2.0","method":"GET","host":"shop.example.com","uri":"/.env","headers":{"User-Agent":["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"],"Accept":["*/*"],"Accept-Encoding":["gzip"]},"tls":{"resumed":false,"version":772,"cipher_suite":4865,"proto":"h2","server_name":"shop.example.com"}},"bytes_read":0,"user_id":"","duration":0.000412,"size":0,"status":404,"resp_headers":{"Server":["Caddy"],"Content-Type":["text/plain; charset=utf-8"]}}"#,
    r#"{"level":"info","ts":1795860002.0031,"logger":"http.log.access","msg":"handled request","request":{"remote_ip":"10.0.0.2","remote_port":"40412","client_ip":"198.51.100.7","proto":"HTTP/1.1","method":"POST","host":"shop.example.com","uri":"/api/cart?item=42","headers":{"User-Agent":["curl/8.5.0"],"Content-Type":["application/json"]}},"bytes_read":57,"user_id":"","duration":0.0121,"size":1834,"status":200,"resp_headers":{"Server":["Caddy"]}}"#,
];

const TRAEFIK: &[&str] = &[
    r#"{"ClientAddr":"203.0.113.9:51234","ClientHost":"203.0.113.9","ClientPort":"51234","ClientUsername":"-","DownstreamContentSize":19,"DownstreamStatus":404,"Duration":412000,"OriginContentSize":19,"OriginDuration":301000,"OriginStatus":404,"Overhead":111000,"RequestAddr":"shop.example.com","RequestContentSize":0,"RequestCount":1843,"RequestHost":"shop.example.com","RequestMethod":"GET","RequestPath":"/wp-login.php","RequestPort":"-","RequestProtocol":"HTTP/1.1","RequestScheme":"https","RetryAttempts":0,"RouterName":"shop@docker","ServiceAddr":"172.18.0.4:8080","ServiceName":"shop@docker","ServiceURL":"http://172.18.0.4:8080","StartLocal":"2026-11-28T10:00:01.123456789Z","StartUTC":"2026-11-28T10:00:01.123456789Z","entryPointName":"websecure","level":"info","msg":"","request_User-Agent":"Mozilla/5.0 zgrab/0.x","time":"2026-11-28T10:00:01Z"}"#,
    r#"{"ClientAddr":"198.51.100.7:40412","ClientHost":"198.51.100.7","ClientPort":"40412","ClientUsername":"-","DownstreamContentSize":5120,"DownstreamStatus":200,"Duration":9120000,"OriginStatus":200,"RequestHost":"shop.example.com","RequestMethod":"GET","RequestPath":"/products?page=2","RequestProtocol":"HTTP/2.0","RouterName":"shop@docker","StartUTC":"2026-11-28T10:00:02.5Z","level":"info","msg":"","request_User-Agent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1)","time":"2026-11-28T10:00:02Z"}"#,
];

const NGINX: &[&str] = &[
    r#"{"time_iso8601":"2026-11-28T10:00:01+00:00","remote_addr":"203.0.113.9","remote_user":"","request":"GET /cgi-bin/luci/;stok=/locale?form=country&operation=write HTTP/1.1","status":"404","body_bytes_sent":"153","request_time":"0.000","http_referer":"","http_user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64)","http_x_forwarded_for":"","host":"www.example.com"}"#,
    r#"{"time_local":"28/Nov/2026:10:00:02 +0000","remote_addr":"198.51.100.7","request_method":"POST","request_uri":"/wp-login.php","server_protocol":"HTTP/1.1","status":200,"body_bytes_sent":4312,"http_referer":"https://www.example.com/wp-login.php","http_user_agent":"python-requests/2.31.0"}"#,
];

const APACHE: &[&str] = &[
    r#"{"time":"2026-11-28T10:00:01+0000","remoteIP":"203.0.113.9","host":"www.example.com","request":"GET /phpmyadmin/index.php HTTP/1.1","query":"","method":"GET","status":"404","userAgent":"Mozilla/5.0 (compatible; Nmap Scripting Engine)","referer":"-","bytes":"196"}"#,
    r#"{"timestamp":"2026-11-28T10:00:02+0000","clientip":"198.51.100.7","request":"POST /xmlrpc.php HTTP/1.1","statusCode":200,"responseBytes":370,"userAgent":"WordPress/6.4; https://blog.example.net"}"#,
];

const SURICATA: &[&str] = &[
    r#"{"timestamp":"2026-11-28T10:00:01.254817+0000","flow_id":1480952112487721,"in_iface":"eth0","event_type":"alert","src_ip":"203.0.113.9","src_port":51234,"dest_ip":"192.0.2.10","dest_port":22,"proto":"TCP","pkt_src":"wire/pcap","alert":{"action":"allowed","gid":1,"signature_id":2001219,"rev":20,"signature":"ET SCAN Potential SSH Scan","category":"Attempted Information Leak","severity":2,"metadata":{"created_at":["2010_07_30"],"updated_at":["2019_07_26"]}},"direction":"to_server","flow":{"pkts_toserver":1,"pkts_toclient":0,"bytes_toserver":74,"bytes_toclient":0,"start":"2026-11-28T10:00:01.254817+0000","src_ip":"203.0.113.9","dest_ip":"192.0.2.10","src_port":51234,"dest_port":22}}"#,
    r#"{"timestamp":"2026-11-28T10:00:02.001234+0000","flow_id":1817302214415522,"in_iface":"eth0","event_type":"http","src_ip":"198.51.100.7","src_port":40412,"dest_ip":"192.0.2.10","dest_port":80,"proto":"TCP","tx_id":0,"http":{"hostname":"www.example.com","url":"/index.php?s=/Index/\\think\\app/invokefunction","http_user_agent":"Mozilla/5.0","http_content_type":"text/html","http_method":"GET","protocol":"HTTP/1.1","status":404,"length":162}}"#,
    r#"{"timestamp":"2026-11-28T10:00:03.500000+0000","flow_id":1133204812203341,"event_type":"flow","src_ip":"203.0.113.9","src_port":40000,"dest_ip":"192.0.2.10","dest_port":3389,"proto":"TCP","flow":{"pkts_toserver":2,"pkts_toclient":1,"bytes_toserver":120,"bytes_toclient":60,"start":"2026-11-28T10:00:01.100000+0000","end":"2026-11-28T10:00:03.400000+0000","age":2,"state":"closed","reason":"timeout","alerted":false},"tcp":{"tcp_flags":"16","syn":true,"rst":true,"state":"closed"}}"#,
];

const AUDITD: &[&str] = &[
    r#"type=USER_LOGIN msg=audit(1795860001.412:2871): pid=2412 uid=0 auid=4294967295 ses=4294967295 subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 msg='op=login acct="root" exe="/usr/sbin/sshd" hostname=? addr=203.0.113.9 terminal=ssh res=failed'"#,
    r#"type=USER_AUTH msg=audit(1795860002.003:2872): pid=2413 uid=0 auid=4294967295 ses=4294967295 subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 msg='op=PAM:authentication grantors=? acct="admin" exe="/usr/sbin/sshd" hostname=203.0.113.9 addr=203.0.113.9 terminal=ssh res=failed'"#,
    r#"type=USER_CMD msg=audit(1795860003.118:2875): pid=3101 uid=1000 auid=1000 ses=3 subj=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023 msg='cwd="/home/alice" cmd=73797374656D63746C2072657374617274206E67696E78 exe="/usr/bin/sudo" terminal=pts/0 res=success'"#,
    r#"type=SYSCALL msg=audit(1795860004.220:2880): arch=c000003e syscall=59 success=yes exit=0 a0=55d0c6c1a2b0 a1=55d0c6c1a2f0 a2=55d0c6c1a330 a3=0 items=2 ppid=3101 pid=3102 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="cat" exe="/usr/bin/cat" subj=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023 key="shadow""#,
];

/// Nanoseconds per line: the median of `rounds` rounds over `lines`.
fn per_line_ns(lines: &[&str], rounds: usize) -> f64 {
    // Enough repetitions for a round of about 20 ms, found from one warm-up pass.
    let warm = Instant::now();
    for l in lines {
        black_box(parse(black_box(l), 2026));
    }
    let one = warm.elapsed().as_secs_f64().max(1e-7);
    let reps = ((0.02 / one) as usize).clamp(1, 1_000_000);
    let mut samples: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..reps {
                for l in lines {
                    black_box(parse(black_box(l), 2026));
                }
            }
            start.elapsed().as_secs_f64() * 1e9 / (reps * lines.len()) as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(9);
    let families: [(&str, &[&str]); 7] = [
        ("syslog text", SYSLOG),
        ("caddy json", CADDY),
        ("traefik json", TRAEFIK),
        ("nginx json", NGINX),
        ("apache json", APACHE),
        ("suricata eve", SURICATA),
        ("auditd", AUDITD),
    ];
    println!("median of {rounds} rounds, ns per line, lines/s, and time per line relative to syslog text (< 1 is faster)");
    let mut base = None;
    for (name, lines) in families {
        let ns = per_line_ns(lines, rounds);
        let base_ns = *base.get_or_insert(ns);
        println!(
            "{name:<14} {ns:>9.0} ns  {:>11.0} lines/s  x{:.2}",
            1e9 / ns,
            ns / base_ns
        );
    }
}
