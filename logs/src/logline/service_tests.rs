//! Entities and events of the services a small business runs, beyond sshd.

use super::time::unix_time;

use super::*;

fn entity(p: &ParsedLine) -> String {
    p.entity.as_ref().map(|e| e.to_string()).unwrap_or_default()
}

fn failed(user: Option<&str>) -> Event {
    Event::FailedLogin {
        user: user.map(str::to_string),
    }
}

/// Parses `line` and checks its entity and event.
fn check(line: &str, want_entity: &str, want_event: Event) -> ParsedLine {
    let p = parse(line, 2026);
    assert_eq!(entity(&p), want_entity, "entity of {line}");
    assert_eq!(p.event, want_event, "event of {line}");
    p
}

#[test]
fn nginx_error_log() {
    let p = check(
        r#"2012/04/09 11:53:29 [error] 2865#0: *66647 user "xyz" was not found in "/var/www/.htpasswd", client: 192.0.43.10, server: www.myhost.com, request: "GET / HTTP/1.1", host: "www.myhost.com""#,
        "ip 192.0.43.10",
        failed(Some("xyz")),
    );
    assert_eq!(p.time, unix_time(2012, 4, 9, 11, 53, 29));
    // A user name that carries a forged `client:`: the real client is the last one.
    check(
        r#"2014/04/03 22:20:40 [error] 30708#0: *3 user "test": password mismatch, client: 127.0.0.1, server: test, request: "GET / HTTP/1.1", host: "localhost:8443"": was not found in "/etc/nginx/.htpasswd", client: 192.0.2.2, server: , request: "GET / HTTP/1.1", host: "localhost:8443""#,
        "ip 192.0.2.2",
        failed(Some("test")),
    );
    check(
        r#"2015/10/29 20:01:02 [error] 256554#0: *99927 limiting requests, excess: 1.852 by zone "one", client: 1.2.3.4, server: example.com, request: "POST /index.htm HTTP/1.0", host: "192.0.2.80""#,
        "ip 1.2.3.4",
        Event::Denied,
    );
}

#[test]
fn apache_error_log() {
    let p = check(
        "[Tue Oct 11 14:32:52.123456 2016] [auth_basic:error] [pid 1] [client 192.0.2.5:4321] AH01618: user alice not found: /admin",
        "ip 192.0.2.5",
        failed(Some("alice")),
    );
    assert_eq!(p.time, unix_time(2016, 10, 11, 14, 32, 52));
    check(
        "[Sat Jul 20 21:34:49.453232 2013] [access_compat:error] [pid 17512:tid 140123104306944] [client 192.0.2.6:51380] AH01797: client denied by server configuration: /var/www/html/private",
        "ip 192.0.2.6",
        Event::Denied,
    );
    check(
        "[Thu Jul 11 01:21:44 2013] [error] [client 2001:db8::80da:af6b:8b2c] user test-ipv6 not found: /",
        "ip 2001:db8::80da:af6b:8b2c",
        failed(Some("test-ipv6")),
    );
}

#[test]
fn mail_servers() {
    check(
        "Nov 28 10:00:01 mail postfix/smtpd[1]: warning: unknown[198.51.100.4]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
        "ip 198.51.100.4",
        failed(None),
    );
    // The peer, not the address the client gave as its HELO name.
    check(
        "Nov 28 10:00:01 mail postfix/smtpd[8738]: NOQUEUE: reject: RCPT from 1-2-3-4-example.com[1.2.3.4]: 554 5.7.1 <smtp@example.com>: Relay access denied; from=<john@example.com> to=<smtp@example.org> proto=SMTP helo=<[198.51.100.17]>",
        "ip 1.2.3.4",
        Event::Denied,
    );
    check(
        "Nov 28 10:00:01 mail postfix/smtpd[1]: connect from mail.example.com[192.0.2.20]",
        "ip 192.0.2.20",
        Event::Other,
    );
    check(
        "Nov 28 10:00:01 mail dovecot: imap-login: Disconnected (auth failed, 3 attempts in 12 secs): user=<bob>, method=PLAIN, rip=198.51.100.7, lip=192.0.2.1, TLS",
        "ip 198.51.100.7",
        failed(Some("bob")),
    );
    // exim names the HELO in parentheses and the peer after it.
    let p = parse(
        "2013-01-04 17:03:46 login authenticator failed for rrcs-24-106-174-74.se.biz.rr.com ([192.168.2.33]) [24.106.174.74]: 535 Incorrect authentication data (set_id=brian)",
        2026,
    );
    assert_eq!(entity(&p), "ip 24.106.174.74");
    assert!(matches!(p.event, Event::FailedLogin { .. }));
    assert_eq!(p.time, unix_time(2013, 1, 4, 17, 3, 46));
    check(
        r#"2017-11-28 14:14:32 SMTP protocol error in "aUtH lOgIn" H=(test) [8.8.8.8]" H=(roxzgj) [192.0.2.6] AUTH command used when not advertised"#,
        "ip 192.0.2.6",
        Event::Denied,
    );
    check(
        "Nov 28 10:00:01 mail sm-mta[5133]: s1GNXHYB005133: ruleset=check_rcpt, arg1=<a@b.ru>, relay=128-68-136-133.broadband.corbina.ru [128.68.136.133], reject=550 5.7.1 <a@b.ru>... Relaying denied. Proper authentication required.",
        "ip 128.68.136.133",
        Event::Denied,
    );
}

#[test]
fn ftp_servers() {
    let p = check(
        r#"Fri Jan 19 12:20:33 2007 [pid 27202] [anna] FAIL LOGIN: Client "64.106.46.98""#,
        "ip 64.106.46.98",
        failed(Some("anna")),
    );
    assert_eq!(p.time, unix_time(2007, 1, 19, 12, 20, 33));
    check(
        "Jun 09 07:30:58 platypus proftpd[11864] platypus.example.com (mail.example.net[::ffff:67.227.224.66]): USER username (Login failed): Incorrect password.",
        "ip 67.227.224.66",
        failed(Some("username")),
    );
    check(
        "Nov 28 10:00:01 ftp pure-ftpd: (?@24.79.92.194) [WARNING] Authentication failed for user [Administrator]",
        "ip 24.79.92.194",
        failed(Some("Administrator")),
    );
}

#[test]
fn vpns() {
    check(
        "Apr 25 11:19:22 ovpn-server[13821]: 192.0.2.254:64480 TLS Auth Error: Auth Username/Password verification failed for peer",
        "ip 192.0.2.254",
        failed(None),
    );
    check(
        "Apr 25 10:57:36 vpn ovpn-server[901]: 83.97.20.30:10107 SIGUSR1[soft,connection-reset] received, client-instance restarting",
        "ip 83.97.20.30",
        Event::Other,
    );
    check(
        "Nov 28 10:00:01 vpn charon: 09[IKE] EAP-MS-CHAPv2 authentication of 'bob' failed",
        "host vpn",
        failed(None),
    );
    check(
        "Nov 28 10:00:02 vpn charon: 05[NET] received packet: from 203.0.113.9[500] to 192.0.2.1[500] (464 bytes)",
        "ip 203.0.113.9",
        Event::Other,
    );
    check(
        "Nov 28 10:00:02 vpn charon: 14[IKE] 203.0.113.9 is initiating a Main Mode IKE_SA",
        "ip 203.0.113.9",
        Event::Other,
    );
}

#[test]
fn databases() {
    check(
        "2026-11-28T10:00:01.123456Z 8 [Warning] Access denied for user 'root'@'203.0.113.9' (using password: YES)",
        "ip 203.0.113.9",
        failed(Some("root")),
    );
    check(
        "130324 17:56:14 [Warning] Access denied for user 'root'@'61.160.223.112' (using password: YES)",
        "ip 61.160.223.112",
        failed(Some("root")),
    );
    check(
        "2020-02-24 16:05:21.00 Logon       Login failed for user 'Backend'. Reason: Could not find a login matching the name provided. [CLIENT: 192.0.2.1]",
        "ip 192.0.2.1",
        failed(Some("Backend")),
    );
}

#[test]
fn firewalls() {
    // The source, never the destination that comes after it (or before it).
    check(
        "Nov 28 10:00:01 fw kernel: [12345.678901] [UFW BLOCK] IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 SRC=203.0.113.9 DST=192.0.2.1 LEN=44 TOS=0x00 PREC=0x00 TTL=243 ID=54321 PROTO=TCP SPT=40000 DPT=3389 WINDOW=1024 RES=0x00 SYN URGP=0",
        "ip 203.0.113.9",
        Event::Connection { port: 3389 },
    );
    check(
        "Nov 28 10:00:01 gw firewall: DROP dst=192.0.2.1 src=203.0.113.9 dport=22 proto=tcp",
        "ip 203.0.113.9",
        Event::Connection { port: 22 },
    );
    check(
        "1403884279 - 06/27/2014 17:51:19 Host: 192.168.56.1/192.168.56.1 Port: 23 TCP Blocked",
        "ip 192.168.56.1",
        Event::Connection { port: 23 },
    );
    check(
        "Mar  5 21:44:43 srv scanlogd: 192.0.2.123 to 192.0.2.1 ports 80, 81, 83, 88, 99, 443, 1080, 3128, ..., f????uxy, TOS 00, TTL 49 @20:44:43",
        "ip 192.0.2.123",
        Event::Connection { port: 80 },
    );
}

#[test]
fn web_applications() {
    let p = check(
        r#"{"time":"2026-11-28T10:00:01Z","level":"warn","msg":"login failed","user":"alice","remote_ip":"203.0.113.9"}"#,
        "ip 203.0.113.9",
        failed(Some("alice")),
    );
    assert_eq!(p.time, Some(1_795_860_001));
    let p = check(
        r#"t=2020-10-19T17:44:33+0200 lvl=eror msg="Invalid username or password" logger=context userId=0 orgId=0 uname= error="Invalid Username or Password" remote_addr=182.56.23.12"#,
        "ip 182.56.23.12",
        failed(None),
    );
    assert_eq!(p.time, unix_time(2020, 10, 19, 15, 44, 33));
    check(
        r#"logger=authn.service t=2024-01-01T10:00:01Z level=info msg="Failed to authenticate request" client=auth.client.form error="invalid username or password" remote_addr=198.51.100.7"#,
        "ip 198.51.100.7",
        failed(None),
    );
    check(
        "[2024-08-31 02:11:28.562][vaultwarden::api::identity][ERROR] Username or password is incorrect. Try again. IP: 80.187.85.94. Username: test@example.com.",
        "ip 80.187.85.94",
        failed(Some("test@example.com")),
    );
}

#[test]
fn sshd_probes_and_preauth_disconnects() {
    // A client that fails the banner or key exchange never reached a password, but a
    // burst of them is a scanner or an exploit probe: they count as failed attempts.
    check(
        "Nov 28 10:00:01 web sshd[1]: Disconnected from authenticating user root 1.2.3.4 port 22 [preauth]",
        "ip 1.2.3.4",
        failed(Some("root")),
    );
    check(
        "Nov 28 10:00:01 web sshd[1]: Unable to negotiate with 1.2.3.4 port 5: no matching key exchange method found. Their offer: diffie-hellman-group1-sha1 [preauth]",
        "ip 1.2.3.4",
        failed(None),
    );
    check(
        "Nov 28 10:00:01 web sshd[1]: banner exchange: Connection from 1.2.3.4 port 5: invalid format",
        "ip 1.2.3.4",
        failed(None),
    );
    check(
        "Nov 28 10:00:01 web sshd[1]: Connection from 115.249.163.77 port 51353 on 127.0.0.1 port 22",
        "ip 115.249.163.77",
        Event::Other,
    );
}

#[test]
fn forged_values_in_account_names() {
    // Injected into `ruser`, before the real `rhost`: the last one is the peer.
    check(
        "Jul 19 18:11:50 srv2 daemon: pam_unix(auth): authentication failure; logname= uid=0 euid=0 tty=xxx ruser=test rhost=192.0.2.151 rhost=192.0.2.1",
        "ip 192.0.2.1",
        failed(Some("test")),
    );
    // Injected into `user`, after the real `rhost`: the one before the account wins.
    check(
        "Jul 19 18:11:52 srv2 daemon: pam_unix(auth): authentication failure; logname= uid=0 euid=0 tty=xxx ruser= rhost=192.0.2.2 user=test rhost=192.0.2.152",
        "ip 192.0.2.2",
        failed(Some("test")),
    );
    check(
        r"[20220407-12:22:02] [INFO ] AUTHFAIL: user=loginjector ip=192.168.0.4 time=123456789\n[20220407-12:16:59] [INFO ] AUTHFAIL: user=endinjection ip=::ffff:10.171.161.151 time=1649352122",
        "ip 10.171.161.151",
        failed(Some("loginjector")),
    );
}

#[test]
fn stamps_of_many_services() {
    let t = |line: &str| parse(line, 2013).time;
    let want = unix_time(2013, 6, 11, 2, 9, 40);
    assert_eq!(t("[2013-06-11 02:09:40] NOTICE[1638] chan_sip.c: x"), want);
    assert_eq!(t("[11/Jun/2013 02:09:40] SMTP Spam attack detected"), want);
    assert_eq!(t("[11-Jun-2013 02:09:40 +0000]: FAILED login"), want);
    assert_eq!(t("11-06-2013 02:09:40 +0000 PROXY.3128 00004"), want);
    assert_eq!(t("06/11/2013 02:09:40 [LOGIN_ERROR] x"), want);
    assert_eq!(t("2013.06.11 02:09:40 LOG3[28228]: x"), want);
    assert_eq!(t("[20130611-02:09:40] [INFO ] AUTHFAIL"), want);
    assert_eq!(t("130611  2:09:40 [Warning] x"), want);
    assert_eq!(t("Jun 11 2013 02:09:40 host app[1]: x"), want);
    assert_eq!(t("Tue Jun 11 02:09:40 2013 - [72926] x"), want);
    assert_eq!(t("1370916580.000      4 1.2.3.4 TCP_DENIED/403"), want);
    assert_eq!(t("@400000005c1f0a2a00000000 x"), Some(0x5c1f_0a2a));
    assert_eq!(t("type=USER_AUTH msg=audit(1370916580.000:9): pid=1"), want);
    assert_eq!(t("something 2013/06/11 02:09:40"), None);
}
