use super::time::{days_from_civil, unix_time};
use super::windows::seed_time;

use super::*;

fn entity(p: &ParsedLine) -> String {
    p.entity.as_ref().map(|e| e.to_string()).unwrap_or_default()
}

/// 2026-11-28 10:00:01 UTC.
const T: i64 = 1_795_860_001;

#[test]
fn civil_dates() {
    assert_eq!(unix_time(1970, 1, 1, 0, 0, 0), Some(0));
    assert_eq!(unix_time(2000, 2, 29, 0, 0, 0), Some(951_782_400));
    assert_eq!(unix_time(2026, 11, 28, 10, 0, 1), Some(T));
    assert_eq!(unix_time(2025, 2, 29, 0, 0, 0), None);
    assert_eq!(unix_time(2026, 13, 1, 0, 0, 0), None);
    assert_eq!(unix_time(2026, 1, 1, 24, 0, 0), None);
}

#[test]
fn access_logs() {
    let p = parse(
        r#"203.0.113.7 - frank [10/Oct/2026:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://x/" "Mozilla/4.08""#,
        2026,
    );
    assert_eq!(p.format, LogFormat::Access);
    assert_eq!(entity(&p), "ip 203.0.113.7");
    assert_eq!(p.time, unix_time(2026, 10, 10, 20, 55, 36));
    assert_eq!(
        p.event,
        Event::Request {
            method: "GET".into(),
            path: "/apache_pb.gif".into(),
            status: 200,
            bytes: 2326,
            agent: Some("Mozilla/4.08".into()),
        }
    );
    let seed = parse(
        r#"77.88.55.66 - - [15/Mar/2025:02:14:01] "GET /.env HTTP/1.1" 404 0 "-" "ZMap""#,
        2026,
    );
    assert_eq!(seed.format, LogFormat::Access);
    assert_eq!(seed.time, unix_time(2025, 3, 15, 2, 14, 1));
    let v6 = parse(
        r#"2001:db8::7 - - [28/Nov/2026:10:00:01 +0000] "POST /login HTTP/2.0" 401 - "-" "-""#,
        2026,
    );
    assert_eq!(entity(&v6), "ip 2001:db8::7");
    assert_eq!(v6.time, Some(T));
    assert!(matches!(
        v6.event,
        Event::Request {
            status: 401,
            bytes: 0,
            ..
        }
    ));
    let junk = parse(
        r#"1.2.3.4 - - [28/Nov/2026:10:00:01 +0000] "\x16\x03\x01" 400 0 "-" "-""#,
        2026,
    );
    assert_eq!(junk.format, LogFormat::Access);
    let bad_date = parse(
        r#"1.2.3.4 - - [31/Feb/2026:99:00:01 +0000] "GET / HTTP/1.1" 200 1"#,
        2026,
    );
    assert_eq!((bad_date.format, bad_date.time), (LogFormat::Access, None));
}

#[test]
fn syslog_3164_auth() {
    let p = parse(
        "Nov 28 10:00:01 host sshd[123]: Failed password for invalid user admin from 1.2.3.4 port 22 ssh2",
        2026,
    );
    assert_eq!((p.format, p.time), (LogFormat::Syslog, Some(T)));
    assert_eq!(entity(&p), "ip 1.2.3.4");
    assert_eq!(p.host.as_deref(), Some("host"));
    assert_eq!(
        p.event,
        Event::FailedLogin {
            user: Some("admin".into())
        }
    );

    let p = parse("Nov 28 10:00:01 web sshd[9]: Accepted publickey for alice from 2001:db8::1 port 50000 ssh2: RSA SHA256:x", 2026);
    assert_eq!(entity(&p), "ip 2001:db8::1");
    assert_eq!(
        p.event,
        Event::AcceptedLogin {
            user: Some("alice".into())
        }
    );

    let p = parse(
        "Nov 28 10:00:01 web sshd[9]: Invalid user oracle from 5.6.7.8 port 4242",
        2026,
    );
    assert_eq!(
        (entity(&p), p.event),
        (
            "ip 5.6.7.8".into(),
            Event::FailedLogin {
                user: Some("oracle".into())
            }
        )
    );

    let p = parse("Nov 28 10:00:01 web sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/cat /etc/shadow", 2026);
    assert_eq!(entity(&p), "user alice");

    let p = parse("Nov 28 10:00:01 web su[77]: (to root) alice on pts/0", 2026);
    assert_eq!(entity(&p), "user alice");
    assert_eq!(
        p.event,
        Event::AcceptedLogin {
            user: Some("root".into())
        }
    );

    let p = parse("Nov 28 10:00:01 web sudo: pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)", 2026);
    assert_eq!(entity(&p), "user alice");
    assert_eq!(
        p.event,
        Event::AcceptedLogin {
            user: Some("root".into())
        }
    );

    let p = parse("Nov 28 10:00:01 web CRON[5]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)", 2026);
    assert_eq!((entity(&p), p.event), ("user root".into(), Event::Other));

    let p = parse("Nov 28 10:00:01 web kernel: [ 1.0] eth0: link up", 2026);
    assert_eq!((entity(&p), p.event), ("host web".into(), Event::Other));

    let p = parse(
        "<38>Nov  3 01:02:03 web sshd[1]: Connection closed by 9.8.7.6 port 22 [preauth]",
        2026,
    );
    assert_eq!(entity(&p), "ip 9.8.7.6");
    assert_eq!(p.time, unix_time(2026, 11, 3, 1, 2, 3));

    let p = parse("Feb 30 10:00:01 web app: hi", 2026);
    assert_eq!(
        (p.format, p.time, entity(&p)),
        (LogFormat::Syslog, None, "host web".into())
    );
}

#[test]
fn loghub_linux_samples() {
    let lines = [
        ("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4 ", "ip 218.188.2.4", true),
        ("Jun 15 02:04:59 combo sshd(pam_unix)[20882]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=220-135-151-1.hinet-ip.hinet.net  user=root", "user root", true),
        ("Jun 20 04:02:54 combo su(pam_unix)[22947]: session opened for user cyrus by (uid=0)", "user cyrus", false),
        ("Jun 14 15:16:02 combo sshd(pam_unix)[19937]: check pass; user unknown", "host combo", false),
        ("Jul 10 11:47:33 combo ftpd[24085]: connection from 82.83.227.67 (dsl-082-083-227-067.arcor-ip.net) at Sun Jul 10 07:24:24 2005 ", "ip 82.83.227.67", false),
        ("Jun 19 04:08:55 combo klogind[20480]: Authentication failed from 163.27.187.39 (163.27.187.39): Permission denied in replay cache code ", "ip 163.27.187.39", true),
        ("Jun 17 07:07:00 combo gdm-binary[2345]: Couldn't authenticate user", "host combo", true),
    ];
    for (line, want, failed) in lines {
        let p = parse(line, 2005);
        assert_eq!(entity(&p), want, "{line}");
        assert_eq!(
            matches!(p.event, Event::FailedLogin { .. }),
            failed,
            "{line}"
        );
        assert!(p.time.is_some());
    }
    let p = parse(
        "Jul 24 02:38:22 combo ftpd[1]: ANONYMOUS FTP LOGIN FROM 84.102.20.2,  (anonymous)",
        2005,
    );
    assert_eq!(entity(&p), "ip 84.102.20.2");
    assert_eq!(
        p.event,
        Event::AcceptedLogin {
            user: Some("anonymous".into())
        }
    );
}

#[test]
fn syslog_5424_and_iso() {
    let p = parse("<34>1 2026-11-28T10:00:01.003Z mymachine su 123 ID47 - 'su root' failed for lonvick on /dev/pts/8", 2020);
    assert_eq!((p.format, p.time), (LogFormat::Syslog5424, Some(T)));
    assert_eq!(p.host.as_deref(), Some("mymachine"));
    assert!(matches!(p.event, Event::FailedLogin { .. }) || p.event == Event::Other);

    let p = parse(
        r#"<165>1 2026-11-28T11:00:01+01:00 fw app - ID47 [exampleSDID@32473 src="10.1.1.1" eventSource="App"] login failed for bob"#,
        2020,
    );
    assert_eq!(p.time, Some(T));
    assert_eq!(entity(&p), "user bob");
    assert!(matches!(p.event, Event::FailedLogin { .. }));
    let p = parse(
        r#"<165>1 2026-11-28T10:00:01Z fw app - - [meta src="10.1.1.1"] denied"#,
        2020,
    );
    assert_eq!(entity(&p), "ip 10.1.1.1");

    let p = parse("2026-11-28T11:00:01.123456+01:00 host sshd[1]: Failed password for root from 1.2.3.4 port 22 ssh2", 2020);
    assert_eq!((p.format, p.time), (LogFormat::Syslog, Some(T)));
    assert_eq!(entity(&p), "ip 1.2.3.4");
}

const WEVTUTIL: &str = "Event[0]:\n  Log Name: Security\n  Source: Microsoft-Windows-Security-Auditing\n  Date: 2026-11-28T10:00:01.123\n  Event ID: 4625\n  Task: Logon\n  Level: Information\n  Keyword: Audit Failure\n  User: N/A\n  User Name: N/A\n  Computer: WIN-SRV01\n  Description: \nAn account failed to log on.\n\nSubject:\n\tSecurity ID:\t\tS-1-0-0\n\tAccount Name:\t\t-\n\tAccount Domain:\t\t-\n\nLogon Type:\t\t\t3\n\nAccount For Which Logon Failed:\n\tSecurity ID:\t\tS-1-0-0\n\tAccount Name:\t\tadministrator\n\nNetwork Information:\n\tWorkstation Name:\tKALI\n\tSource Network Address:\t185.220.101.5\n\tSource Port:\t\t0";

#[test]
fn windows_wevtutil() {
    let p = parse(WEVTUTIL, 2020);
    assert_eq!((p.format, p.time), (LogFormat::WindowsEvent, Some(T)));
    assert_eq!(entity(&p), "ip 185.220.101.5");
    assert_eq!(p.host.as_deref(), Some("WIN-SRV01"));
    assert_eq!(
        p.event,
        Event::FailedLogin {
            user: Some("administrator".into())
        }
    );

    let local = WEVTUTIL
        .replace("185.220.101.5", "-")
        .replace("4625", "4624");
    let p = parse(&local, 2020);
    assert_eq!(entity(&p), "user administrator");
    assert_eq!(
        p.event,
        Event::AcceptedLogin {
            user: Some("administrator".into())
        }
    );

    let machine = local.replace("administrator", "WIN-SRV01$");
    assert_eq!(entity(&parse(&machine, 2020)), "host WIN-SRV01");

    let kerberos = "Event[3]:\n  Date: 2026-11-28T10:00:01\n  Event ID: 4771\n  Computer: DC1\n  Description: \nKerberos pre-authentication failed.\n\tAccount Name:\t\tbob\n\tClient Address:\t\t::ffff:10.0.0.5";
    let p = parse(kerberos, 2020);
    assert_eq!(entity(&p), "ip 10.0.0.5");
    assert_eq!(
        p.event,
        Event::FailedLogin {
            user: Some("bob".into())
        }
    );

    let ntlm = "Event[4]:\n  Event ID: 4776\n  Computer: DC1\n  Description: \nThe computer attempted to validate the credentials for an account.\n\tLogon Account:\tcarol\n\tSource Workstation:\tWS7\n\tError Code:\t0xC000006A";
    assert_eq!(
        parse(ntlm, 2020).event,
        Event::FailedLogin {
            user: Some("carol".into())
        }
    );
    assert_eq!(
        parse(&ntlm.replace("0xC000006A", "0x0"), 2020).event,
        Event::Other
    );
}

#[test]
fn windows_events_in_the_seeds_compact_layout() {
    let c = windows_event_compact(WEVTUTIL).unwrap();
    assert_eq!(
        c,
        "EventID: 4625\nTimestamp: 28-Nov-2026:10:00:01\nSource IP: 185.220.101.5\n\
         User: administrator\nDescription: An account failed to log on.\n\
         Additional: Workstation WIN-SRV01"
    );
    assert_eq!(
        windows_event_compact("Nov 28 10:00:01 host sshd[1]: hello"),
        None
    );
    assert_eq!(seed_time(0), "01-Jan-1970:00:00:00");
    assert_eq!(seed_time(1_709_251_200 + 3_661), "01-Mar-2024:01:01:01");
    for days in [-1, 0, 59, 365 * 30 + 7, 20_000] {
        let (y, m, d) = civil_from_days(days);
        assert_eq!(days_from_civil(y, m, d), days);
    }
}

#[test]
fn windows_format_list() {
    let block = "TimeCreated  : 11/28/2026 10:00:01 AM\nProviderName : Microsoft-Windows-Security-Auditing\nId           : 4625\nMessage      : An account failed to log on.\n               \n               Account For Which Logon Failed:\n               \tAccount Name:\t\tbob\n               Network Information:\n               \tSource Network Address:\t-";
    let p = parse(block, 2020);
    assert_eq!((p.format, p.time), (LogFormat::WindowsEvent, Some(T)));
    assert_eq!(entity(&p), "user bob");
    assert!(matches!(p.event, Event::FailedLogin { .. }));
    let pm = block.replace("10:00:01 AM", "10:00:01 PM");
    assert_eq!(parse(&pm, 2020).time, Some(T + 12 * 3600));
    let eu = block.replace("11/28/2026 10:00:01 AM", "28.11.2026 10:00:01");
    assert_eq!(parse(&eu, 2020).time, Some(T));
    let seed = "EventID: 4688\nTimestamp: 18-Mar-2025:09:00:01\nSource IP: 198.51.100.77\nUser: john.doe\nDescription: Process Creation";
    let p = parse(seed, 2020);
    assert_eq!(p.format, LogFormat::WindowsEvent);
    assert_eq!(entity(&p), "ip 198.51.100.77");
    assert_eq!(p.time, unix_time(2025, 3, 18, 9, 0, 1));
}

#[test]
fn json_lines() {
    let p = parse(
        r#"{"timestamp":"2026-11-28T10:00:01Z","src_ip":"1.2.3.4","user":"bob","msg":"x"}"#,
        2020,
    );
    assert_eq!((p.format, p.time), (LogFormat::Json, Some(T)));
    assert_eq!(entity(&p), "ip 1.2.3.4");
    let p = parse(r#"{"ts":1795860001000,"username":"bob"}"#, 2020);
    assert_eq!((p.time, entity(&p)), (Some(T), "user bob".into()));
    let p = parse(
        r#"{"time":1795860001.5,"hostname":"db1","message":"Failed password for root from 9.9.9.9 port 1 ssh2"}"#,
        2020,
    );
    assert_eq!((p.time, entity(&p)), (Some(T), "ip 9.9.9.9".into()));
    assert!(matches!(p.event, Event::FailedLogin { .. }));
    let p = parse(
        r#"{"@timestamp":"2026-11-28T10:00:01Z","source":{"ip":"::ffff:1.2.3.4"},"host":{"name":"h"}}"#,
        2020,
    );
    assert_eq!(
        (entity(&p), p.host.as_deref()),
        ("ip 1.2.3.4".into(), Some("h"))
    );
    let p = parse(
        r#"{"remote_addr":"1.2.3.4","status":404,"request_uri":"/x","request_method":"GET"}"#,
        2020,
    );
    assert!(matches!(p.event, Event::Request { status: 404, .. }));
    assert_eq!(parse(r#"{"ts":1e300}"#, 2020).time, None);
    assert_eq!(parse(r#"{"ts":-5}"#, 2020).time, None);
    assert_eq!(parse("{not json", 2020).format, LogFormat::Plain);
}

#[test]
fn plain_lines() {
    let p = parse(
        "2026-11-28 10:00:01,123 WARN auth: login failed for user mallory from 10.9.8.7",
        2020,
    );
    assert_eq!((p.format, p.time), (LogFormat::Plain, Some(T)));
    assert_eq!(entity(&p), "ip 10.9.8.7");
    assert!(matches!(p.event, Event::FailedLogin { .. }));
    let p = parse("something happened for user dave", 2020);
    assert_eq!((p.time, entity(&p)), (None, "user dave".into()));
    assert_eq!(
        parse("17/06/09 20:10:40 INFO spark.SecurityManager: hi", 2020).entity,
        None
    );
}

#[test]
fn garbage_never_panics() {
    let long_digits = "9".repeat(5000);
    let inputs = [
        "",
        " ",
        "\u{feff}",
        "\0\0\0",
        "Event[",
        "Event[0]:",
        "TimeCreated : \nId : ",
        "<999999999>1 x",
        "<34>1 9999-99-99T99:99:99Z h a p m [unterminated \"quote",
        "<34>1 - - - - - [",
        "Nov 99 99:99:99 h x",
        "Ñov 28 10:00:01 h x",
        "1.2.3.4 - - [99/Zzz/99999:00:00:00 +9999] \"\" 999 99999999999999999999999",
        "{\"ts\": 99999999999999999999999999, \"ip\": 5}",
        "{\"timestamp\": \"2026-02-30T25:61:61+99:99\"}",
        "from 999.999.999.999 rhost= user= for user",
        "🙂🙂🙂 from ::ffff: user=é\u{301}",
        "2026-11-28T10:00:01+01:00",
        "2026-11-28T10:00:01+01:00 ",
        "  Date: 9999999999-1-1",
        "Failed password for",
        "(to ) on ",
        &long_digits,
    ];
    for s in inputs {
        let _ = parse(s, 2026);
        let _ = parse(s, i32::MAX);
        let _ = parse(s, i32::MIN);
    }
    assert_eq!(parse("Nov 28 10:00:01 h x", i32::MAX).time, None);
}
