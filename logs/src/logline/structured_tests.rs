//! JSON server logs (Caddy, Traefik, nginx and Apache JSON layouts, Suricata EVE, ECS,
//! journald's export) and auditd records, read into the same records as the text layouts; and
//! hostile input (deep nesting, megabyte strings, wrong types, cut lines) that must never panic.
//! The sample lines are written here in each project's documented layout.

use super::time::unix_time;
use super::*;

/// 2026-11-28 10:00:01 UTC.
const T: i64 = 1_795_860_001;

fn entity(p: &ParsedLine) -> String {
    p.entity.as_ref().map(|e| e.to_string()).unwrap_or_default()
}

fn request(method: &str, path: &str, status: u16, bytes: u64, agent: Option<&str>) -> Event {
    Event::Request {
        method: method.into(),
        path: path.into(),
        status,
        bytes,
        agent: agent.map(Into::into),
    }
}

fn failed(user: Option<&str>) -> Event {
    Event::FailedLogin {
        user: user.map(Into::into),
    }
}

const CADDY: &str = r#"{"level":"info","ts":1795860001.4127,"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":"203.0.113.9","remote_port":"51234","client_ip":"203.0.113.9","proto":"HTTP/2.0","method":"GET","host":"shop.example.com","uri":"/.env?x=1","headers":{"User-Agent":["Mozilla/5.0 (X11; Linux x86_64)"],"Accept":["*/*"]},"tls":{"resumed":false,"version":772,"proto":"h2","server_name":"shop.example.com"}},"bytes_read":0,"user_id":"","duration":0.000412,"size":0,"status":404,"resp_headers":{"Server":["Caddy"]}}"#;

const TRAEFIK: &str = r#"{"ClientAddr":"203.0.113.9:51234","ClientHost":"203.0.113.9","ClientPort":"51234","ClientUsername":"-","DownstreamContentSize":19,"DownstreamStatus":404,"Duration":412000,"OriginContentSize":19,"OriginDuration":301000,"OriginStatus":404,"RequestAddr":"shop.example.com","RequestHost":"shop.example.com","RequestMethod":"GET","RequestPath":"/wp-login.php?redirect_to=%2F","RequestPort":"-","RequestProtocol":"HTTP/1.1","RequestScheme":"https","RouterName":"shop@docker","StartUTC":"2026-11-28T10:00:01.123456789Z","entryPointName":"websecure","level":"info","msg":"","request_User-Agent":"Mozilla/5.0 zgrab/0.x","time":"2026-11-28T10:00:01Z"}"#;

const NGINX: &str = r#"{"time_iso8601":"2026-11-28T11:00:01+01:00","remote_addr":"203.0.113.9","remote_user":"","request":"GET /cgi-bin/luci/;stok=/locale HTTP/1.1","status":"404","body_bytes_sent":"153","request_time":"0.000","http_referer":"","http_user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64)","http_x_forwarded_for":"198.51.100.66","host":"www.example.com","hostname":"web1"}"#;

const APACHE: &str = r#"{"time":"[28/Nov/2026:10:00:01 +0000]","remoteIP":"203.0.113.9","host":"www.example.com","request":"GET /phpmyadmin/index.php HTTP/1.1","method":"GET","url":"/phpmyadmin/index.php","query":"?lang=en","statusCode":"404","userAgent":"Mozilla/5.0 (compatible; Nmap Scripting Engine)","referer":"-","bytes":"196"}"#;

const EVE_ALERT: &str = r#"{"timestamp":"2026-11-28T10:00:01.254817+0000","flow_id":1480952112487721,"in_iface":"eth0","event_type":"alert","src_ip":"203.0.113.9","src_port":51234,"dest_ip":"192.0.2.10","dest_port":22,"proto":"TCP","alert":{"action":"allowed","gid":1,"signature_id":2001219,"rev":20,"signature":"ET SCAN Potential SSH Scan","category":"Attempted Information Leak","severity":2},"direction":"to_server","flow":{"pkts_toserver":1,"pkts_toclient":0,"bytes_toserver":74,"bytes_toclient":0,"start":"2026-11-28T10:00:01.254817+0000"}}"#;

const EVE_HTTP: &str = r#"{"timestamp":"2026-11-28T10:00:01.001234+0000","flow_id":1817302214415522,"in_iface":"eth0","event_type":"http","src_ip":"198.51.100.7","src_port":40412,"dest_ip":"192.0.2.10","dest_port":80,"proto":"TCP","tx_id":0,"http":{"hostname":"www.example.com","url":"/index.php?s=/Index/\\think\\app/invokefunction","http_user_agent":"Mozilla/5.0","http_content_type":"text/html","http_method":"GET","protocol":"HTTP/1.1","status":404,"length":162}}"#;

const AUDIT_LOGIN: &str = r#"type=USER_LOGIN msg=audit(1795860001.412:2871): pid=2412 uid=0 auid=4294967295 ses=4294967295 subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 msg='op=login acct="root" exe="/usr/sbin/sshd" hostname=? addr=203.0.113.9 terminal=ssh res=failed'"#;

#[test]
fn caddy_access_records() {
    let p = parse(CADDY, 2026);
    assert_eq!((p.format, p.time), (LogFormat::Json, Some(T)));
    assert_eq!(entity(&p), "ip 203.0.113.9");
    assert_eq!(
        p.event,
        request(
            "GET",
            "/.env?x=1",
            404,
            0,
            Some("Mozilla/5.0 (X11; Linux x86_64)")
        )
    );
    // `request.host` is the site asked for, not the host that logged.
    assert_eq!(p.host, None);

    // Behind a trusted proxy `remote_ip` is the proxy; `client_ip` is the client.
    let proxied = r#"{"level":"info","ts":"2026-11-28T10:00:01.412Z","logger":"http.log.access","msg":"handled request","request":{"remote_ip":"10.0.0.2","remote_port":"40412","client_ip":"198.51.100.7","proto":"HTTP/1.1","method":"POST","host":"shop.example.com","uri":"/api/cart","headers":{"User-Agent":["curl/8.5.0"]}},"bytes_read":57,"user_id":"","duration":0.0121,"size":1834,"status":200}"#;
    let p = parse(proxied, 2026);
    assert_eq!((p.time, entity(&p)), (Some(T), "ip 198.51.100.7".into()));
    assert_eq!(
        p.event,
        request("POST", "/api/cart", 200, 1834, Some("curl/8.5.0"))
    );

    // Older Caddy has no `client_ip`; `ts` in nanoseconds (`time_format unix_nano`).
    let old = r#"{"level":"error","ts":1795860001412000000,"logger":"http.log.access","msg":"handled request","request":{"remote_ip":"2001:db8::9","remote_port":"6000","proto":"HTTP/1.1","method":"GET","host":"a","uri":"/"},"status":502,"size":0}"#;
    let p = parse(old, 2026);
    assert_eq!((p.time, entity(&p)), (Some(T), "ip 2001:db8::9".into()));
    assert_eq!(p.event, request("GET", "/", 502, 0, None));
}

#[test]
fn traefik_access_records() {
    let p = parse(TRAEFIK, 2026);
    assert_eq!((p.format, p.time), (LogFormat::Json, Some(T)));
    assert_eq!(entity(&p), "ip 203.0.113.9");
    assert_eq!(
        p.event,
        request(
            "GET",
            "/wp-login.php?redirect_to=%2F",
            404,
            19,
            Some("Mozilla/5.0 zgrab/0.x")
        )
    );
    // The client gave up (499) before the backend answered (0): the status is the client's.
    let gave_up = r#"{"ClientAddr":"[2001:db8::7]:443","ClientUsername":"bob","DownstreamContentSize":0,"DownstreamStatus":499,"OriginStatus":0,"RequestMethod":"POST","RequestPath":"/login","StartUTC":"2026-11-28T10:00:01Z"}"#;
    let p = parse(gave_up, 2026);
    assert_eq!((p.time, entity(&p)), (Some(T), "ip 2001:db8::7".into()));
    assert_eq!(p.event, request("POST", "/login", 499, 0, None));
    let origin_only =
        r#"{"ClientHost":"192.0.2.5","OriginStatus":503,"RequestMethod":"GET","RequestPath":"/"}"#;
    assert_eq!(
        parse(origin_only, 2026).event,
        request("GET", "/", 503, 0, None)
    );
}

#[test]
fn nginx_json_layouts() {
    let p = parse(NGINX, 2026);
    assert_eq!((p.format, p.time), (LogFormat::Json, Some(T)));
    // `X-Forwarded-For` is the client's to write: never the peer.
    assert_eq!(entity(&p), "ip 203.0.113.9");
    assert_eq!(
        p.event,
        request(
            "GET",
            "/cgi-bin/luci/;stok=/locale",
            404,
            153,
            Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64)")
        )
    );
    // `$hostname` is the server; `$host` the site asked for.
    assert_eq!(p.host.as_deref(), Some("web1"));

    let split = r#"{"time_local":"28/Nov/2026:10:00:01 +0000","remote_addr":"198.51.100.7","remote_user":"-","request_method":"POST","request_uri":"/wp-login.php","server_protocol":"HTTP/1.1","status":200,"body_bytes_sent":4312,"http_referer":"https://www.example.com/wp-login.php","http_user_agent":"python-requests/2.31.0"}"#;
    let p = parse(split, 2026);
    assert_eq!((p.time, entity(&p)), (Some(T), "ip 198.51.100.7".into()));
    assert_eq!(
        p.event,
        request(
            "POST",
            "/wp-login.php",
            200,
            4312,
            Some("python-requests/2.31.0")
        )
    );
    // `$uri` with `$args`, `$msec` for the time, a `-` agent.
    let args = r#"{"msec":"1795860001.123","remote_addr":"192.0.2.8","request_method":"GET","uri":"/search","args":"q=1%27","status":"400","bytes_sent":"0","http_user_agent":"-"}"#;
    let p = parse(args, 2026);
    assert_eq!(p.time, Some(T));
    assert_eq!(p.event, request("GET", "/search?q=1%27", 400, 0, None));
    // A `$request` that is no request line (TLS bytes to a plain port).
    let junk = r#"{"remote_addr":"192.0.2.8","request":"\u0016\u0003\u0001","status":400}"#;
    assert_eq!(
        parse(junk, 2026).event,
        request("-", "\u{16}\u{3}\u{1}", 400, 0, None)
    );
}

#[test]
fn apache_json_layouts() {
    let p = parse(APACHE, 2026);
    assert_eq!((p.format, p.time), (LogFormat::Json, Some(T)));
    assert_eq!(entity(&p), "ip 203.0.113.9");
    assert_eq!(
        p.event,
        request(
            "GET",
            "/phpmyadmin/index.php?lang=en",
            404,
            196,
            Some("Mozilla/5.0 (compatible; Nmap Scripting Engine)")
        )
    );
    let other = r#"{"timestamp":"2026-11-28T10:00:01+0000","clientip":"198.51.100.7","request":"POST /xmlrpc.php HTTP/1.1","statusCode":200,"responseBytes":370,"userAgent":"WordPress/6.4"}"#;
    let p = parse(other, 2026);
    assert_eq!((p.time, entity(&p)), (Some(T), "ip 198.51.100.7".into()));
    assert_eq!(
        p.event,
        request("POST", "/xmlrpc.php", 200, 370, Some("WordPress/6.4"))
    );
}

#[test]
fn suricata_eve_records() {
    let p = parse(EVE_ALERT, 2026);
    assert_eq!((p.format, p.time), (LogFormat::Json, Some(T)));
    assert_eq!(entity(&p), "ip 203.0.113.9");
    assert_eq!(p.event, Event::Connection { port: 22 });

    // An alert on the server's answer: the client is the destination, the service the source port.
    let answer = EVE_ALERT
        .replace(r#""direction":"to_server""#, r#""direction":"to_client""#)
        .replace(
            r#""src_ip":"203.0.113.9","src_port":51234,"dest_ip":"192.0.2.10","dest_port":22"#,
            r#""src_ip":"192.0.2.10","src_port":22,"dest_ip":"203.0.113.9","dest_port":51234"#,
        );
    let p = parse(&answer, 2026);
    assert_eq!(
        (entity(&p), p.event),
        ("ip 203.0.113.9".into(), Event::Connection { port: 22 })
    );

    let blocked = EVE_ALERT.replace(r#""action":"allowed""#, r#""action":"blocked""#);
    assert_eq!(parse(&blocked, 2026).event, Event::Denied);
    let drop = r#"{"timestamp":"2026-11-28T10:00:01.000000+0000","event_type":"drop","src_ip":"203.0.113.9","src_port":1,"dest_ip":"192.0.2.10","dest_port":445,"proto":"TCP","drop":{"len":60,"syn":true}}"#;
    assert_eq!(parse(drop, 2026).event, Event::Denied);

    let p = parse(EVE_HTTP, 2026);
    assert_eq!((p.time, entity(&p)), (Some(T), "ip 198.51.100.7".into()));
    assert_eq!(
        p.event,
        request(
            "GET",
            r"/index.php?s=/Index/\think\app/invokefunction",
            404,
            162,
            Some("Mozilla/5.0")
        )
    );
    // A request the server never answered.
    let unanswered = EVE_HTTP.replace(r#","status":404"#, "");
    assert!(matches!(
        parse(&unanswered, 2026).event,
        Event::Request { status: 0, .. }
    ));
    // A file seen in that request repeats its `http` fields: it is not a second request.
    let fileinfo = EVE_HTTP.replace(r#""event_type":"http""#, r#""event_type":"fileinfo""#);
    assert_eq!(parse(&fileinfo, 2026).event, Event::Connection { port: 80 });

    let flow = r#"{"timestamp":"2026-11-28T10:00:01.500000+0000","flow_id":1,"event_type":"flow","src_ip":"203.0.113.9","src_port":40000,"dest_ip":"192.0.2.10","dest_port":3389,"proto":"TCP","flow":{"pkts_toserver":2,"bytes_toserver":120,"state":"closed","reason":"timeout","alerted":false}}"#;
    let p = parse(flow, 2026);
    assert_eq!(
        (p.time, entity(&p), p.event),
        (
            Some(T),
            "ip 203.0.113.9".into(),
            Event::Connection { port: 3389 }
        )
    );
    let ssh = r#"{"timestamp":"2026-11-28T10:00:01.000000+0000","event_type":"ssh","src_ip":"2001:db8::5","src_port":50000,"dest_ip":"2001:db8::1","dest_port":22,"proto":"TCP","ssh":{"client":{"proto_version":"2.0","software_version":"libssh_0.9.6"},"server":{"proto_version":"2.0","software_version":"OpenSSH_9.6"}}}"#;
    assert_eq!(
        (entity(&parse(ssh, 2026)), parse(ssh, 2026).event),
        ("ip 2001:db8::5".into(), Event::Connection { port: 22 })
    );
    // Engine statistics name no one.
    let stats = r#"{"timestamp":"2026-11-28T10:00:01.000000+0000","event_type":"stats","stats":{"uptime":60,"capture":{"kernel_packets":100}}}"#;
    let p = parse(stats, 2026);
    assert_eq!(
        (p.format, p.time, p.entity, p.event),
        (LogFormat::Json, Some(T), None, Event::Other)
    );
}

#[test]
fn ecs_and_journald_json() {
    let ecs = r#"{"@timestamp":"2026-11-28T10:00:01.000Z","event":{"category":["authentication"],"outcome":"failure"},"source":{"ip":"203.0.113.9","port":51234},"user":{"name":"admin"},"host":{"name":"vpn1"}}"#;
    let p = parse(ecs, 2026);
    assert_eq!((p.time, entity(&p)), (Some(T), "ip 203.0.113.9".into()));
    assert_eq!(p.event, failed(Some("admin")));
    assert_eq!(p.host.as_deref(), Some("vpn1"));
    let ecs_http = r#"{"@timestamp":"2026-11-28T10:00:01Z","source":{"address":"203.0.113.9"},"http":{"request":{"method":"GET"},"response":{"status_code":403,"body":{"bytes":12}}},"url":{"original":"/admin"},"user_agent":{"original":"sqlmap/1.7"}}"#;
    assert_eq!(
        parse(ecs_http, 2026).event,
        request("GET", "/admin", 403, 12, Some("sqlmap/1.7"))
    );

    let journal = r#"{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1795860001412345","_HOSTNAME":"web","SYSLOG_IDENTIFIER":"sshd","_PID":"2412","PRIORITY":"6","MESSAGE":"Failed password for invalid user oracle from 203.0.113.9 port 51234 ssh2"}"#;
    let p = parse(journal, 2026);
    assert_eq!((p.format, p.time), (LogFormat::Json, Some(T)));
    assert_eq!(entity(&p), "ip 203.0.113.9");
    assert_eq!(p.host.as_deref(), Some("web"));
    assert_eq!(p.event, failed(Some("oracle")));
    // journald's session line needs the program to count as a login.
    let session = r#"{"__REALTIME_TIMESTAMP":"1795860001412345","_HOSTNAME":"web","SYSLOG_IDENTIFIER":"sshd","MESSAGE":"pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)"}"#;
    assert_eq!(
        parse(session, 2026).event,
        Event::AcceptedLogin {
            user: Some("alice".into())
        }
    );
}

#[test]
fn auditd_records() {
    let p = parse(AUDIT_LOGIN, 2026);
    assert_eq!((p.format, p.time), (LogFormat::Audit, Some(T)));
    assert_eq!(entity(&p), "ip 203.0.113.9");
    assert_eq!(p.event, failed(Some("root")));

    let auth = r#"node=web1 type=USER_AUTH msg=audit(1795860001.003:2872): pid=2413 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:authentication grantors=? acct="admin" exe="/usr/sbin/sshd" hostname=2001:db8::66 addr=? terminal=ssh res=failed'"#;
    let p = parse(auth, 2026);
    assert_eq!((p.time, entity(&p)), (Some(T), "ip 2001:db8::66".into()));
    assert_eq!(
        (p.host.as_deref(), p.event),
        (Some("web1"), failed(Some("admin")))
    );

    // sshd's unknown account is hex-encoded (it has a space): it names no account.
    let invalid = AUDIT_LOGIN.replace(r#"acct="root""#, "acct=28696E76616C6964207573657229");
    assert_eq!(parse(&invalid, 2026).event, failed(None));
    let hex = AUDIT_LOGIN.replace(r#"acct="root""#, "acct=6A6F686E20646F65");
    assert_eq!(parse(&hex, 2026).event, failed(Some("john doe")));

    let ok = AUDIT_LOGIN.replace("res=failed", "res=success");
    assert_eq!(
        parse(&ok, 2026).event,
        Event::AcceptedLogin {
            user: Some("root".into())
        }
    );
    let acct_ok = r#"type=USER_ACCT msg=audit(1795860001.100:2873): pid=2413 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:accounting grantors=pam_unix acct="alice" exe="/usr/sbin/sshd" hostname=198.51.100.7 addr=198.51.100.7 terminal=ssh res=success'"#;
    assert_eq!(
        (entity(&parse(acct_ok, 2026)), parse(acct_ok, 2026).event),
        ("ip 198.51.100.7".into(), Event::Other)
    );

    // sudo, in the ENRICHED format: the login user is named after the group separator.
    let cmd = "type=USER_CMD msg=audit(1795860001.118:2875): pid=3101 uid=1000 auid=1000 ses=3 msg='cwd=\"/home/alice\" cmd=636174202F6574632F736861646F77 exe=\"/usr/bin/sudo\" terminal=pts/0 res=success'\u{1d}UID=\"alice\" AUID=\"alice\"";
    let p = parse(cmd, 2026);
    assert_eq!(
        (p.time, entity(&p), p.event),
        (Some(T), "user alice".into(), Event::Other)
    );
    let refused = cmd.replace("res=success", "res=failed");
    assert_eq!(parse(&refused, 2026).event, Event::Denied);
    let raw = r#"type=USER_CMD msg=audit(1795860001.118:2875): pid=3101 uid=1000 auid=1000 ses=3 msg='cwd="/" cmd="id" exe="/usr/bin/sudo" terminal=pts/0 res=success'"#;
    assert_eq!(entity(&parse(raw, 2026)), "user 1000");

    let syscall = r#"node=db2 type=SYSCALL msg=audit(1795860001.220:2880): arch=c000003e syscall=59 success=yes exit=0 items=2 ppid=1 pid=2 auid=4294967295 uid=0 tty=(none) ses=4294967295 comm="cron" exe="/usr/sbin/cron" key="exec""#;
    let p = parse(syscall, 2026);
    assert_eq!(
        (p.format, p.time, entity(&p), p.event),
        (LogFormat::Audit, Some(T), "host db2".into(), Event::Other)
    );
    let execve = r#"type=EXECVE msg=audit(1795860001.220:2880): argc=3 a0="curl" a1="-s" a2=687474703A2F2F6578616D706C652E636F6D2F782E7368"#;
    let p = parse(execve, 2026);
    assert_eq!((p.time, p.entity, p.event), (Some(T), None, Event::Other));

    let avc = r#"type=AVC msg=audit(1795860001.300:2890): avc:  denied  { read } for  pid=812 comm="httpd" name="shadow" dev="dm-0" ino=1234 scontext=system_u:system_r:httpd_t:s0 tcontext=system_u:object_r:shadow_t:s0 tclass=file permissive=0"#;
    assert_eq!(parse(avc, 2026).event, Event::Denied);
    let apparmor = r#"type=AVC msg=audit(1795860001.300:2891): apparmor="DENIED" operation="open" profile="/usr/sbin/nginx" name="/etc/shadow" pid=900 comm="nginx" requested_mask="r" denied_mask="r" fsuid=33 ouid=0"#;
    assert_eq!(parse(apparmor, 2026).event, Event::Denied);
    let anom = r#"type=ANOM_LOGIN_FAILURES msg=audit(1795860001.400:2900): pid=2412 uid=0 auid=4294967295 ses=4294967295 msg='op=login acct="root" exe="/usr/sbin/sshd" hostname=? addr=203.0.113.9 terminal=ssh res=success'"#;
    assert_eq!(parse(anom, 2026).event, failed(Some("root")));
    // A login on the console names no remote peer.
    let local = AUDIT_LOGIN.replace("addr=203.0.113.9", "addr=127.0.0.1");
    assert_eq!(entity(&parse(&local, 2026)), "user root");

    // The kernel's own line through syslog, with the type as a number.
    let kernel = "Nov 28 10:00:01 web kernel: audit: type=1100 audit(1795860001.412:7): pid=1 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:authentication acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=203.0.113.9 addr=203.0.113.9 terminal=ssh res=failed'";
    let p = parse(kernel, 2026);
    assert_eq!(
        (p.format, p.time, p.host.as_deref()),
        (
            LogFormat::Syslog,
            unix_time(2026, 11, 28, 10, 0, 1),
            Some("web")
        )
    );
    assert_eq!(
        (entity(&p), p.event),
        ("ip 203.0.113.9".into(), failed(Some("root")))
    );
    let audisp = format!("Nov 28 10:00:01 web audisp-syslog: node=web {AUDIT_LOGIN}");
    assert_eq!(entity(&parse(&audisp, 2026)), "ip 203.0.113.9");
    let local_cmd = "Nov 28 10:00:01 web audit[3101]: type=EXECVE msg=audit(1795860001.220:2880): argc=1 a0=\"id\"";
    assert_eq!(entity(&parse(local_cmd, 2026)), "host web");

    // Not audit records after all.
    assert_eq!(parse("type=foo and more", 2026).format, LogFormat::Plain);
    assert_eq!(
        parse("node=x type=Y msg=audit(", 2026).format,
        LogFormat::Plain
    );
}

#[test]
fn structured_records_window_like_text() {
    use crate::record::Record;
    use crate::window::{WindowConfig, Windower};
    let mut w = Windower::new(WindowConfig::default());
    let mut closed = Vec::new();
    for (i, line) in [CADDY, TRAEFIK, NGINX, APACHE].iter().enumerate() {
        let p = parse(line, 2026);
        let r = Record {
            file: 1,
            start: i as u64 * 1000,
            end: i as u64 * 1000 + line.len() as u64,
            text: line.to_string(),
        };
        closed.extend(w.push("access.json", r, p));
    }
    closed.extend(w.flush());
    assert_eq!(closed.len(), 1);
    assert_eq!(
        closed[0].summary.as_deref(),
        Some("[4 requests in 0 s from 203.0.113.9 — 404 ×4, 4 distinct paths]")
    );
}

#[test]
fn json_access_lines_read_as_combined_log_lines() {
    let caddy = json_access_line(CADDY, 2026).unwrap();
    assert_eq!(
        caddy,
        r#"203.0.113.9 - - [28/Nov/2026:10:00:01 +0000] "GET /.env?x=1 HTTP/2.0" 404 0 "-" "Mozilla/5.0 (X11; Linux x86_64)""#
    );
    let traefik = json_access_line(TRAEFIK, 2026).unwrap();
    assert_eq!(
        traefik,
        r#"203.0.113.9 - - [28/Nov/2026:10:00:01 +0000] "GET /wp-login.php?redirect_to=%2F HTTP/1.1" 404 19 "-" "Mozilla/5.0 zgrab/0.x""#
    );
    // Backslashes are escaped as Apache escapes them (else `x\"` would read as a quote).
    assert_eq!(
        json_access_line(EVE_HTTP, 2026).unwrap(),
        r#"198.51.100.7 - - [28/Nov/2026:10:00:01 +0000] "GET /index.php?s=/Index/\\think\\app/invokefunction HTTP/1.1" 404 162 "-" "Mozilla/5.0""#
    );
    for json in [CADDY, TRAEFIK, NGINX, APACHE] {
        let line = json_access_line(json, 2026).unwrap();
        let (a, b) = (parse(json, 2026), parse(&line, 2026));
        // The line is the same record to the parser, in the combined layout that the
        // analysis's request facts read.
        assert_eq!(
            (b.format, b.time, &b.entity, &b.event),
            (LogFormat::Access, a.time, &a.entity, &a.event),
            "{line}"
        );
    }
    // A client's quotes and line breaks stay inside their field, on one line.
    let forged = r#"{"remote_addr":"203.0.113.9","request":"GET /a\" 200 1 \"x HTTP/1.1","status":404,"http_user_agent":"x\"\n[×9] SEVERITY: LOW"}"#;
    let line = json_access_line(forged, 2026).unwrap();
    assert!(!line.contains('\n'), "{line}");
    assert_eq!(
        line,
        r#"203.0.113.9 - - [-] "GET /a\" 200 1 \"x HTTP/1.1" 404 - "-" "x\"\x0a[×9] SEVERITY: LOW""#
    );
    assert!(matches!(
        parse(&line, 2026).event,
        Event::Request { status: 404, .. }
    ));
    // What a combined line cannot hold stays as written.
    assert_eq!(json_access_line(EVE_ALERT, 2026), None);
    let message = r#"{"client_ip":"1.2.3.4","method":"POST","path":"/api/feedback","status":201,"msg":"feedback received: please call"}"#;
    assert_eq!(json_access_line(message, 2026), None);
    assert_eq!(json_access_line(AUDIT_LOGIN, 2026), None);
    assert_eq!(json_access_line(r#"{"src_ip":"1.2.3.4"}"#, 2026), None);
    assert_eq!(json_access_line("{not json", 2026), None);
}

/// Every key the JSON reader knows, as the object path that holds it.
const KNOWN_KEYS: &[&str] = &[
    "timestamp",
    "time",
    "@timestamp",
    "ts",
    "datetime",
    "StartUTC",
    "time_iso8601",
    "time_local",
    "__REALTIME_TIMESTAMP",
    "msec",
    "StartLocal",
    "src_ip",
    "source_ip",
    "client_ip",
    "ClientHost",
    "remote_addr",
    "remoteIP",
    "remote_ip",
    "clientip",
    "ip",
    "ClientAddr",
    "src",
    "user",
    "username",
    "user_name",
    "account",
    "remote_user",
    "ClientUsername",
    "user_id",
    "hostname",
    "_HOSTNAME",
    "computer",
    "host",
    "message",
    "MESSAGE",
    "msg",
    "event",
    "log",
    "SYSLOG_IDENTIFIER",
    "method",
    "request_method",
    "RequestMethod",
    "request_uri",
    "RequestPath",
    "uri",
    "url",
    "path",
    "args",
    "query",
    "request",
    "server_protocol",
    "RequestProtocol",
    "status",
    "DownstreamStatus",
    "statusCode",
    "OriginStatus",
    "body_bytes_sent",
    "DownstreamContentSize",
    "bytes",
    "size",
    "http_user_agent",
    "request_User-Agent",
    "user_agent",
    "userAgent",
    "http_referer",
    "referer",
    "dest_port",
    "src_port",
    "dest_ip",
    "proto",
    "event_type",
    "direction",
    "request.client_ip",
    "request.remote_ip",
    "request.method",
    "request.uri",
    "request.proto",
    "request.headers.User-Agent",
    "request.headers.Referer",
    "http.url",
    "http.http_method",
    "http.status",
    "http.length",
    "http.http_user_agent",
    "http.http_refer",
    "http.protocol",
    "alert.action",
    "http.request.method",
    "http.response.status_code",
    "http.response.body.bytes",
    "source.ip",
    "source.address",
    "client.ip",
    "source.port",
    "destination.ip",
    "destination.port",
    "user.name",
    "host.name",
    "url.original",
    "url.path",
    "url.query",
    "user_agent.original",
    "event.outcome",
    "event.category",
];

/// `value` under the dotted `path`, as JSON.
fn nest(path: &str, value: &str) -> String {
    path.rsplit('.').fold(value.to_string(), |inner, key| {
        format!(r#"{{"{key}":{inner}}}"#)
    })
}

#[test]
fn wrong_types_for_every_key() {
    let wrong = [
        "{}",
        "[]",
        "[[]]",
        "[{}]",
        r#"[1,"a"]"#,
        "true",
        "false",
        "null",
        "-1",
        "0",
        "1e999",
        "-0.0e-0",
        "99999999999999999999999999999",
        r#""""#,
        r#""-""#,
        r#""x""#,
        r#""\u0000\ud800""#,
        r#""99999999999999999999""#,
        r#"{"a":{"b":{"c":{"d":{"e":[1]}}}}}"#,
    ];
    for key in KNOWN_KEYS {
        for v in wrong {
            let alone = nest(key, v);
            let p = parse(&alone, 2026);
            assert_eq!(p.format, LogFormat::Json, "{alone}");
            assert_eq!(p.time, None, "{alone}");
            // Beside good fields, a wrong one takes nothing from them.
            let line = format!(
                r#"{{"timestamp":"2026-11-28T10:00:01Z","src_ip":"203.0.113.9",{}}}"#,
                &alone[1..alone.len() - 1]
            );
            let p = parse(&line, 2026);
            assert_eq!((p.format, p.time), (LogFormat::Json, Some(T)), "{line}");
            assert_eq!(entity(&p), "ip 203.0.113.9", "{line}");
        }
    }
    assert_eq!(parse(r#"{"src_ip":5}"#, 2026).entity, None);
    assert_eq!(
        parse(r#"{"src_ip":"1.2.3.4","status":"abc","path":"/"}"#, 2026).event,
        Event::Other
    );
    assert_eq!(
        parse(r#"{"src_ip":"1.2.3.4","status":1,"path":"/"}"#, 2026).event,
        Event::Other
    );
    // A duration under a time key is no date.
    assert_eq!(parse(r#"{"time":0.0123}"#, 2026).time, None);
}

#[test]
fn deep_nesting_and_non_objects() {
    let arrays = "[".repeat(10_000) + &"]".repeat(10_000);
    let p = parse(&arrays, 2026);
    assert_eq!((p.format, p.entity), (LogFormat::Plain, None));
    let objects = r#"{"a":"#.repeat(10_000) + "1" + &"}".repeat(10_000);
    assert_eq!(parse(&objects, 2026).format, LogFormat::Json);
    // Fields after a deep value are still read.
    let inside = format!(
        r#"{{"src_ip":"203.0.113.9","junk":{}{},"path":"/x","status":404,"deep":{}1{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000),
        r#"{"a":"#.repeat(10_000),
        "}".repeat(10_000)
    );
    let p = parse(&inside, 2026);
    assert_eq!(entity(&p), "ip 203.0.113.9");
    assert_eq!(p.event, request("-", "/x", 404, 0, None));
    // Unclosed nesting: a cut line.
    let open = format!(
        r#"{{"src_ip":"203.0.113.9","a":{}"#,
        "[{\"b\":".repeat(50_000)
    );
    assert_eq!(entity(&parse(&open, 2026)), "ip 203.0.113.9");
    for s in [
        "[1,2]",
        "\"just a string\"",
        "42",
        "null",
        "true",
        "{}",
        "{ }",
        "{\"\":\"\"}",
        "{}}",
        "{]",
        "{\"a\":1,}",
        "{,}",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\" :: 1}",
        "{\"a\":[}",
        "{\"a\":{]}",
        "{\"a\":\"\\",
        "{\"a\":\"\\u12",
        "{\"a\":-",
        "{\"a\":nul",
        "{\"a\":nope}",
        "{\u{feff}}",
    ] {
        let _ = parse(s, 2026);
        let _ = json_access_line(s, 2026);
    }
}

#[test]
fn huge_strings() {
    let mb = "A".repeat(4 << 20);
    let line = format!(r#"{{"src_ip":"203.0.113.9","msg":"{mb}","status":200,"path":"/{mb}"}}"#);
    let p = parse(&line, 2026);
    assert_eq!(entity(&p), "ip 203.0.113.9");
    assert!(matches!(&p.event, Event::Request { path, .. } if path.len() == mb.len() + 1));
    assert!(json_access_line(&line, 2026).is_none());
    // Escapes all the way, and addresses all the way: read in bounded time.
    let escaped = format!(
        r#"{{"msg":"{}","ip":"198.51.100.1"}}"#,
        "\\\"from 2001:DB8::1 ".repeat(200_000)
    );
    let p = parse(&escaped, 2026);
    assert_eq!(entity(&p), "ip 198.51.100.1");
    // A megabyte line cut short, and a megabyte line of no format at all.
    let cut = format!(r#"{{"ts":1795860001,"src_ip":"203.0.113.9","msg":"{mb}"#);
    let p = parse(&cut, 2026);
    assert_eq!(
        (p.format, p.time, entity(&p)),
        (LogFormat::Json, Some(T), "ip 203.0.113.9".into())
    );
    let _ = parse(&format!("{{{mb}"), 2026);
    let _ = parse(&format!("type=USER_LOGIN msg=audit(1:2): {mb}"), 2026);
    let long_audit = format!("{AUDIT_LOGIN} {}", "a0=\"x\" ".repeat(200_000));
    assert_eq!(entity(&parse(&long_audit, 2026)), "ip 203.0.113.9");
}

#[test]
fn truncated_lines() {
    let samples = [
        CADDY,
        TRAEFIK,
        NGINX,
        APACHE,
        EVE_ALERT,
        EVE_HTTP,
        AUDIT_LOGIN,
    ];
    for full in samples {
        let whole = parse(full, 2026);
        for cut in 0..full.len() {
            if !full.is_char_boundary(cut) {
                continue;
            }
            let p = parse(&full[..cut], 2026);
            let _ = json_access_line(&full[..cut], 2026);
            // A cut line may lose fields, never get one wrong.
            if p.format == whole.format {
                assert!(p.time.is_none() || p.time == whole.time, "{}", &full[..cut]);
                if let (Event::Request { status, .. }, Event::Request { status: want, .. }) =
                    (&p.event, &whole.event)
                {
                    // Suricata's request without its status reads as unanswered (0).
                    assert!(status == want || *status == 0, "{}", &full[..cut]);
                }
            }
        }
        // Cut after the client's address: still that client's record.
        let written = ["203.0.113.9\"", "203.0.113.9 "];
        if let Some(at) = written.iter().find_map(|w| full.find(w)) {
            let p = parse(&full[..at + 13], 2026);
            assert_eq!(p.format, whole.format, "{full}");
            assert_eq!(entity(&p), "ip 203.0.113.9", "{full}");
        }
    }
}
