#!/usr/bin/env python3
"""Writes the sample logs in data/samples/ (deterministic: a fixed seed).

Ordinary traffic with a few attacks mixed in, in the formats the edge agent reads:
  access.log             Apache/nginx combined log of a small shop's web server
  auth.log               syslog (RFC 3164) of the same server: cron, sudo, sshd, and a
                         password-guessing burst that ends in a successful login
  windows-security.txt   a `wevtutil qe Security /f:text` export of a domain controller

Run from the repository root: python3 scripts/make-samples.py
"""

import datetime as dt
import random
from pathlib import Path

OUT = Path("data/samples")
RNG = random.Random(7)
START = dt.datetime(2026, 11, 27, 9, 0, 0, tzinfo=dt.timezone.utc)

BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
]
PAGES = [
    ("GET", "/", 200, 5120),
    ("GET", "/products?category=shoes&page=2", 200, 11876),
    ("GET", "/products/1842", 200, 9312),
    ("GET", "/blog/2026/11/winter-sale", 200, 14021),
    ("POST", "/api/cart", 201, 312),
    ("GET", "/checkout", 200, 8123),
    ("GET", "/contact", 200, 4410),
    ("GET", "/products/9999", 404, 512),
    ("GET", "/account/login", 200, 3870),
    ("POST", "/account/login", 302, 0),
]
ASSETS = [
    ("GET", "/css/site.css", 200, 18342),
    ("GET", "/js/app.js", 200, 40211),
    ("GET", "/images/logo.png", 200, 7311),
    ("GET", "/favicon.ico", 200, 1150),
]
CUSTOMERS = ["10.0.0.21", "10.0.0.34", "192.168.1.15", "81.2.69.160", "92.40.12.7", "172.16.4.9", "88.198.20.14"]


def access_line(t, ip, method, path, status, size, agent, referer="-"):
    stamp = t.strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'{ip} - - [{stamp}] "{method} {path} HTTP/1.1" {status} {size} "{referer}" "{agent}"'


def access_log():
    events = []
    t = START
    # Visits: a page and the assets it pulls in within a second or two, then the next page.
    for _ in range(110):
        t += dt.timedelta(seconds=RNG.randint(5, 45))
        ip = RNG.choice(CUSTOMERS)
        agent = BROWSERS[CUSTOMERS.index(ip) % len(BROWSERS)]
        method, path, status, size = RNG.choice(PAGES)
        events.append((t, access_line(t, ip, method, path, status, size + RNG.randint(0, 40), agent, "https://shop.example.com/")))
        if method == "GET" and status == 200:
            for k, (m, p, st, sz) in enumerate(RNG.sample(ASSETS, RNG.randint(1, 3))):
                ta = t + dt.timedelta(milliseconds=300 * (k + 1))
                events.append((ta, access_line(ta, ip, m, p, st, sz, agent, "https://shop.example.com" + path)))
    # A scanner probing for forgotten files, 2 requests a second.
    t = START + dt.timedelta(minutes=23)
    for i, path in enumerate(["/.env", "/.git/config", "/wp-admin/", "/phpmyadmin/", "/backup.zip", "/db.sql",
                              "/server-status", "/admin/", "/config.php.bak", "/.aws/credentials", "/wp-login.php",
                              "/actuator/env", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", "/.DS_Store",
                              "/api/v1/debug", "/cgi-bin/test.cgi", "/xmlrpc.php", "/solr/admin/", "/.svn/entries",
                              "/owa/auth/logon.aspx"]):
        tt = t + dt.timedelta(milliseconds=500 * i)
        events.append((tt, access_line(tt, "203.0.113.45", "GET", path, 404, 196, "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)")))
    # UNION-based SQL injection against the product page.
    t = START + dt.timedelta(minutes=41)
    for i, q in enumerate(["1842%27", "1842%27%20ORDER%20BY%205--", "1842%27%20UNION%20SELECT%20NULL,NULL,NULL--",
                           "-1%27%20UNION%20SELECT%20username,password,email%20FROM%20users--"]):
        tt = t + dt.timedelta(seconds=7 * i)
        events.append((tt, access_line(tt, "198.51.100.23", "GET", f"/products?id={q}", 500 if i < 3 else 200, 734 + 90 * i, BROWSERS[2])))
    # Path traversal on the download handler.
    t = START + dt.timedelta(minutes=58)
    for i, f in enumerate(["../../../../etc/passwd", "..%2f..%2f..%2f..%2fetc%2fshadow", "....//....//....//etc/hosts"]):
        tt = t + dt.timedelta(seconds=3 * i)
        events.append((tt, access_line(tt, "192.0.2.77", "GET", f"/download?file={f}", 200 if i == 0 else 403, 2210 if i == 0 else 199, "curl/8.5.0")))
    # Reflected XSS probe in the search box.
    t = START + dt.timedelta(minutes=72)
    events.append((t, access_line(t, "203.0.113.9", "GET", "/search?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E", 200, 4388, BROWSERS[0])))
    tt = t + dt.timedelta(seconds=5)
    events.append((tt, access_line(tt, "203.0.113.9", "GET", "/search?q=%22%3E%3Cimg%20src=x%20onerror=alert(1)%3E", 200, 4391, BROWSERS[0])))
    # Password guessing against the shop's login form.
    t = START + dt.timedelta(minutes=90)
    for i in range(30):
        tt = t + dt.timedelta(seconds=i)
        events.append((tt, access_line(tt, "198.51.100.80", "POST", "/account/login", 401, 87, "python-requests/2.32.3")))
    events.sort(key=lambda e: e[0])
    return [line for _, line in events]


def syslog(t, host, prog, pid, msg):
    return f"{t.strftime('%b')} {t.day:2d} {t.strftime('%H:%M:%S')} {host} {prog}[{pid}]: {msg}"


def auth_log():
    events = []
    host = "shop-web1"
    t = START
    pid = 4100
    for i in range(12):
        t = START + dt.timedelta(minutes=10 * i, seconds=1)
        pid += 7
        events.append((t, syslog(t, host, "CRON", pid, "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)")))
        events.append((t + dt.timedelta(seconds=1), syslog(t + dt.timedelta(seconds=1), host, "CRON", pid, "pam_unix(cron:session): session closed for user root")))
    for i, minute in enumerate([5, 37, 64]):
        t = START + dt.timedelta(minutes=minute, seconds=12)
        pid += 31
        events.append((t, syslog(t, host, "sshd", pid, f"Accepted publickey for deploy from 10.0.0.5 port {50122 + i} ssh2: ED25519 SHA256:q9Xk2mE4b0ZlN1rT7yVwU3hC8sD5fG6jK0aP4oL2iMc")))
        events.append((t, syslog(t, host, "sshd", pid, "pam_unix(sshd:session): session opened for user deploy(uid=1001) by (uid=0)")))
        t2 = t + dt.timedelta(seconds=40)
        events.append((t2, syslog(t2, host, "sudo", pid + 3, "  deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/systemctl restart shop")))
        t3 = t + dt.timedelta(minutes=3)
        events.append((t3, syslog(t3, host, "sshd", pid, "pam_unix(sshd:session): session closed for user deploy")))
    # Password guessing from one address over many account names, then a hit.
    t = START + dt.timedelta(minutes=47)
    users = ["root", "admin", "ubuntu", "test", "oracle", "postgres", "git", "user", "admin", "root"]
    for i in range(36):
        tt = t + dt.timedelta(seconds=2 * i)
        pid += 1
        user = users[i % len(users)]
        port = 40000 + RNG.randint(0, 20000)
        if user in ("root", "admin"):
            msg = f"Failed password for {user} from 185.220.101.33 port {port} ssh2"
        else:
            events.append((tt, syslog(tt, host, "sshd", pid, f"Invalid user {user} from 185.220.101.33 port {port}")))
            msg = f"Failed password for invalid user {user} from 185.220.101.33 port {port} ssh2"
        events.append((tt, syslog(tt, host, "sshd", pid, msg)))
    tt = t + dt.timedelta(seconds=75)
    events.append((tt, syslog(tt, host, "sshd", pid + 1, f"Accepted password for admin from 185.220.101.33 port 51515 ssh2")))
    events.append((tt, syslog(tt, host, "sshd", pid + 1, "pam_unix(sshd:session): session opened for user admin(uid=1002) by (uid=0)")))
    events.sort(key=lambda e: e[0])
    return [line for _, line in events]


def win_event(n, t, event_id, task, keyword, computer, description):
    stamp = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}"
    return "\n".join([
        f"Event[{n}]:",
        "  Log Name: Security",
        "  Source: Microsoft-Windows-Security-Auditing",
        f"  Date: {stamp}",
        f"  Event ID: {event_id}",
        f"  Task: {task}",
        "  Level: Information",
        "  Opcode: Info",
        f"  Keyword: {keyword}",
        "  User: N/A",
        "  User Name: N/A",
        f"  Computer: {computer}",
        "  Description: ",
        description,
        "",
    ])


def logon(account, ip, logon_type=3):
    return "\n".join([
        "An account was successfully logged on.",
        "",
        "Logon Information:",
        f"\tLogon Type:\t\t{logon_type}",
        "",
        "New Logon:",
        "\tSecurity ID:\t\tCORP\\" + account,
        f"\tAccount Name:\t\t{account}",
        "\tAccount Domain:\t\tCORP",
        "",
        "Network Information:",
        "\tWorkstation Name:\tWS-" + account.upper()[:6],
        f"\tSource Network Address:\t{ip}",
        "\tSource Port:\t\t0",
    ])


def failed_logon(account, ip):
    return "\n".join([
        "An account failed to log on.",
        "",
        "Account For Which Logon Failed:",
        "\tSecurity ID:\t\tS-1-0-0",
        f"\tAccount Name:\t\t{account}",
        "\tAccount Domain:\t\tCORP",
        "",
        "Failure Information:",
        "\tFailure Reason:\t\tUnknown user name or bad password.",
        "\tStatus:\t\t\t0xC000006D",
        "\tSub Status:\t\t0xC000006A",
        "",
        "Network Information:",
        "\tWorkstation Name:\t-",
        f"\tSource Network Address:\t{ip}",
        "\tSource Port:\t\t0",
    ])


def windows_log():
    events = []
    dc = "DC01.corp.example.com"
    staff = [("alice", "10.0.1.21"), ("bob", "10.0.1.22"), ("carol", "10.0.1.23"), ("dave", "10.0.1.24")]
    for i in range(16):
        account, ip = staff[i % len(staff)]
        t = START + dt.timedelta(minutes=6 * i, seconds=RNG.randint(0, 50))
        events.append((t, 4624, "Logon", "Audit Success", logon(account, ip)))
    t = START + dt.timedelta(minutes=52)
    for i in range(18):
        tt = t + dt.timedelta(seconds=3 * i)
        events.append((tt, 4625, "Logon", "Audit Failure", failed_logon("Administrator", "45.155.205.12")))
    t = START + dt.timedelta(minutes=77)
    events.append((t, 4720, "User Account Management", "Audit Success", "\n".join([
        "A user account was created.",
        "",
        "Subject:",
        "\tAccount Name:\t\tadm-temp",
        "\tAccount Domain:\t\tCORP",
        "",
        "New Account:",
        "\tAccount Name:\t\tsvc-backup2",
        "\tAccount Domain:\t\tCORP",
    ])))
    events.append((t + dt.timedelta(seconds=30), 4698, "Other Object Access Events", "Audit Success", "\n".join([
        "A scheduled task was created.",
        "",
        "Subject:",
        "\tAccount Name:\t\tadm-temp",
        "\tAccount Domain:\t\tCORP",
        "",
        "Task Information:",
        "\tTask Name:\t\t\\Microsoft\\Windows\\UpdateCheck",
        "\tTask Content:\t\t<Exec><Command>powershell.exe</Command><Arguments>-nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAKQA=</Arguments></Exec>",
    ])))
    events.sort(key=lambda e: e[0])
    return [win_event(n, t, eid, task, kw, dc, desc) for n, (t, eid, task, kw, desc) in enumerate(events)]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "access.log").write_text("\n".join(access_log()) + "\n")
    (OUT / "auth.log").write_text("\n".join(auth_log()) + "\n")
    (OUT / "windows-security.txt").write_text("\n".join(windows_log()))


if __name__ == "__main__":
    main()
