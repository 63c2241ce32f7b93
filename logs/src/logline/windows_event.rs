//! A Windows event read from an event log file (`.evtx`), written in the compact layout the
//! model reads (`EventID:`, `Timestamp:`, `Source IP:`, `User:`, `Description:` …).
//!
//! An `.evtx` record holds the event's System fields and its named data, not the message text
//! Event Viewer shows (that comes from the provider's DLL on a Windows machine). The
//! description is therefore the event's documented title, and the data fields that say what
//! happened (who, from where, which process, service or task) follow under plain names. Every
//! value is attacker-influenced (user names, command lines, task XML): it is kept on one line,
//! stripped of control characters and cut to [`MAX_VALUE`] characters, so that no value can
//! pass for a line of the layout.

use super::time::parse_iso;
use super::windows::seed_time;

/// Most characters kept of one value (a command line, a script block, a task definition).
pub const MAX_VALUE: usize = 400;

/// One Windows event: its System fields and its data (`EventData` or `UserData`), by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowsEvent {
    /// The event id (`4625`).
    pub id: u32,
    /// `TimeCreated/@SystemTime`, ISO 8601 in UTC as the file stores it.
    pub time: Option<String>,
    /// The log (`Security`, `System`, `Microsoft-Windows-Sysmon/Operational`).
    pub channel: String,
    /// The provider (`Microsoft-Windows-Security-Auditing`).
    pub provider: String,
    /// The computer that logged it.
    pub computer: String,
    /// `Security/@UserID`: the SID the event was logged under, when given.
    pub user_sid: Option<String>,
    /// Named data fields in record order; unnamed ones are `Data1`, `Data2` ….
    pub data: Vec<(String, String)>,
}

impl WindowsEvent {
    /// The first non-empty, non-placeholder value among `names`.
    fn get(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|n| {
            self.data
                .iter()
                .find(|(k, v)| k.eq_ignore_ascii_case(n) && !is_placeholder(v))
                .map(|(_, v)| v.as_str())
        })
    }

    fn provider_has(&self, part: &str) -> bool {
        self.provider.contains(part)
    }
}

/// Values Windows writes for "none".
fn is_placeholder(v: &str) -> bool {
    matches!(
        v.trim(),
        "" | "-" | "%%1793" | "%%1794" | "0x0" | "NULL" | "::1" | "127.0.0.1"
    )
}

/// The event's documented title, by provider and id.
fn title(e: &WindowsEvent) -> Option<String> {
    if e.provider_has("Sysmon") {
        let t = match e.id {
            1 => "Process creation",
            2 => "A process changed a file creation time",
            3 => "Network connection detected",
            4 => "Sysmon service state changed",
            5 => "Process terminated",
            6 => "Driver loaded",
            7 => "Image loaded",
            8 => "CreateRemoteThread detected",
            9 => "RawAccessRead detected",
            10 => "Process accessed",
            11 => "File created",
            12 => "Registry object added or deleted",
            13 => "Registry value set",
            14 => "Registry object renamed",
            15 => "File stream created",
            16 => "Sysmon configuration changed",
            17 => "Pipe created",
            18 => "Pipe connected",
            19..=21 => "WMI event subscription activity",
            22 => "DNS query",
            23 => "File delete archived",
            24 => "Clipboard changed",
            25 => "Process tampering",
            26 => "File delete logged",
            _ => return None,
        };
        return Some(t.to_string());
    }
    if e.provider_has("Windows Defender") {
        let t = match e.id {
            1006 | 1116 => {
                "The antimalware engine found malware or other potentially unwanted software"
            }
            1007 | 1117 => {
                "The antimalware platform performed an action to protect the system from malware"
            }
            5001 => "Real-time protection is disabled",
            5007 => "The antimalware platform configuration changed",
            5010 | 5012 => {
                "Scanning for malware and other potentially unwanted software is disabled"
            }
            _ => return None,
        };
        return Some(t.to_string());
    }
    if e.provider_has("PowerShell") {
        let t = match e.id {
            400 => "PowerShell engine started",
            403 => "PowerShell engine stopped",
            600 => "PowerShell provider started",
            800 => "PowerShell pipeline executed",
            4103 => "PowerShell module logging: command invoked",
            4104 => "PowerShell script block logged",
            _ => return None,
        };
        return Some(t.to_string());
    }
    let t = match e.id {
        104 => return Some(format!("The {} log file was cleared", e.channel)),
        1102 => "The audit log was cleared",
        4624 => "An account was successfully logged on",
        4625 => "An account failed to log on",
        4634 => "An account was logged off",
        4647 => "User initiated logoff",
        4648 => "A logon was attempted using explicit credentials",
        4656 => "A handle to an object was requested",
        4663 => "An attempt was made to access an object",
        4670 => "Permissions on an object were changed",
        4672 => "Special privileges assigned to new logon",
        4688 => "A new process has been created",
        4697 | 7045 => "A service was installed in the system",
        4698 => "A scheduled task was created",
        4699 => "A scheduled task was deleted",
        4700 => "A scheduled task was enabled",
        4701 => "A scheduled task was disabled",
        4702 => "A scheduled task was updated",
        4719 => "System audit policy was changed",
        4720 => "A user account was created",
        4722 => "A user account was enabled",
        4723 => "An attempt was made to change an account's password",
        4724 => "An attempt was made to reset an account's password",
        4725 => "A user account was disabled",
        4726 => "A user account was deleted",
        4728 => "A member was added to a security-enabled global group",
        4732 => "A member was added to a security-enabled local group",
        4738 => "A user account was changed",
        4740 => "A user account was locked out",
        4741 => "A computer account was created",
        4742 => "A computer account was changed",
        4756 => "A member was added to a security-enabled universal group",
        4768 => "A Kerberos authentication ticket (TGT) was requested",
        4769 => "A Kerberos service ticket was requested",
        4771 => "Kerberos pre-authentication failed",
        4776 => "The computer attempted to validate the credentials for an account",
        4778 => "A session was reconnected to a Window Station",
        4779 => "A session was disconnected from a Window Station",
        5140 => "A network share object was accessed",
        5145 => {
            "A network share object was checked to see whether client can be granted desired access"
        }
        7036 => {
            let (name, state) = (e.get(&["param1", "Data1"])?, e.get(&["param2", "Data2"])?);
            return Some(format!(
                "The {} service entered the {} state",
                clean(name),
                clean(state)
            ));
        }
        7040 => "The start type of a service was changed",
        _ => return None,
    };
    Some(t.to_string())
}

/// A value on one line: control characters (newlines, tabs, escapes) become spaces, runs of
/// spaces one, and the whole is cut to [`MAX_VALUE`] characters.
pub fn clean(v: &str) -> String {
    let mut out = String::with_capacity(v.len().min(MAX_VALUE + 4));
    let mut chars = 0;
    let mut space = false;
    for c in v.trim().chars() {
        // Bidirectional overrides reorder what a reader sees; they are control text too.
        let c = if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        {
            ' '
        } else {
            c
        };
        if c == ' ' {
            if space {
                continue;
            }
            space = true;
        } else {
            space = false;
        }
        if chars == MAX_VALUE {
            out.push('…');
            break;
        }
        out.push(c);
        chars += 1;
    }
    out.trim_end().to_string()
}

/// An address without the IPv4-mapped prefix Windows writes (`::ffff:10.0.0.5`).
fn address(v: &str) -> &str {
    v.strip_prefix("::ffff:").unwrap_or(v)
}

/// The `<Command>` and `<Arguments>` of a scheduled task's XML, in order, or the XML itself
/// when it names none.
fn task_commands(xml: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let Some((tag, after)) = rest.split_once('>') else {
            break;
        };
        if tag == "Command" || tag == "Arguments" {
            if let Some((value, _)) = after.split_once('<') {
                out.push(value.trim());
            }
        }
        rest = after;
    }
    if out.is_empty() {
        xml.to_string()
    } else {
        out.join(" ")
    }
}

/// The event in the compact layout the model reads.
pub fn compact_event(e: &WindowsEvent) -> String {
    let mut lines: Vec<(&str, String)> = vec![("EventID", e.id.to_string())];
    if let Some(t) = e.time.as_deref().and_then(parse_iso) {
        lines.push(("Timestamp", seed_time(t)));
    }
    let group_change = matches!(e.id, 4728 | 4732 | 4756) && !e.provider_has("Sysmon");
    if let Some(ip) = e.get(&[
        "IpAddress",
        "SourceAddress",
        "SourceIp",
        "ClientAddress",
        "Source Network Address",
    ]) {
        lines.push(("Source IP", address(ip).to_string()));
    }
    let user = if group_change {
        e.get(&["MemberName", "MemberSid"])
    } else {
        e.get(&["TargetUserName", "User", "SubjectUserName", "AccountName"])
    };
    if let Some(u) = user {
        lines.push(("User", u.to_string()));
    }
    if let Some(d) = title(e) {
        lines.push(("Description", d));
    }
    let mut field = |key: &'static str, names: &[&str]| {
        if let Some(v) = e.get(names) {
            lines.push((key, v.to_string()));
        }
    };
    if group_change {
        field("Group", &["TargetUserName"]);
    }
    field("Subject", &["SubjectUserName"]);
    field("Logon Type", &["LogonType"]);
    field("Workstation", &["WorkstationName", "Workstation"]);
    field("Error Code", &["Status", "FailureCode", "Error Code"]);
    field("Sub Status", &["SubStatus"]);
    field(
        "Process",
        &["NewProcessName", "Image", "ProcessName", "SourceImage"],
    );
    field("Parent", &["ParentProcessName", "ParentImage"]);
    field(
        "Command Line",
        &["CommandLine", "ScriptBlockText", "Payload"],
    );
    field("Service", &["ServiceName"]);
    field("Service File", &["ImagePath", "ServiceFileName"]);
    field("Task", &["TaskName"]);
    // The task's XML is mostly boilerplate; what runs is its actions' commands.
    let task = e.get(&["TaskContent", "TaskContentNew"]).map(task_commands);
    field("Destination", &["DestinationIp", "DestinationHostname"]);
    field("Destination Port", &["DestinationPort"]);
    field(
        "Target",
        &[
            "TargetFilename",
            "TargetObject",
            "TargetImage",
            "ImageLoaded",
            "QueryName",
            "ObjectName",
            "ShareName",
            "PipeName",
        ],
    );
    field(
        "Details",
        &[
            "Details",
            "GrantedAccess",
            "AccessMask",
            "Threat Name",
            "Path",
        ],
    );
    if let Some(t) = task {
        lines.push(("Task Command", t));
    }
    lines.push(("Channel", e.channel.clone()));
    lines.push(("Computer", e.computer.clone()));
    let mut out = String::new();
    let mut seen = std::collections::HashSet::new();
    for (key, value) in lines {
        let value = clean(&value);
        // The same line once (a field may answer two keys), never an empty value.
        if value.is_empty() || !seen.insert((key, value.clone())) {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(key);
        out.push_str(": ");
        out.push_str(&value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logline::{parse, EntityKind, Event, LogFormat};

    fn failed_logon() -> WindowsEvent {
        WindowsEvent {
            id: 4625,
            time: Some("2026-11-30T08:15:02.1234567Z".into()),
            channel: "Security".into(),
            provider: "Microsoft-Windows-Security-Auditing".into(),
            computer: "DC01.corp.example".into(),
            user_sid: None,
            data: vec![
                ("SubjectUserName".into(), "-".into()),
                ("TargetUserName".into(), "administrator".into()),
                ("LogonType".into(), "3".into()),
                ("Status".into(), "0xc000006d".into()),
                ("WorkstationName".into(), "KALI".into()),
                ("IpAddress".into(), "::ffff:203.0.113.9".into()),
            ],
        }
    }

    #[test]
    fn a_failed_logon_reads_as_the_seed_layout_and_parses_as_a_failed_login() {
        let text = compact_event(&failed_logon());
        assert_eq!(
            text,
            "EventID: 4625\nTimestamp: 30-Nov-2026:08:15:02\nSource IP: 203.0.113.9\nUser: administrator\n\
             Description: An account failed to log on\nLogon Type: 3\nWorkstation: KALI\n\
             Error Code: 0xc000006d\nChannel: Security\nComputer: DC01.corp.example"
        );
        let p = parse(&text, 2026);
        assert_eq!(p.format, LogFormat::WindowsEvent);
        assert_eq!(p.time, parse_iso("2026-11-30T08:15:02Z"));
        let entity = p.entity.expect("entity");
        assert_eq!(
            (entity.kind, entity.value.as_str()),
            (EntityKind::Ip, "203.0.113.9")
        );
        assert_eq!(
            p.event,
            Event::FailedLogin {
                user: Some("administrator".into())
            }
        );
        assert_eq!(p.host.as_deref(), Some("DC01.corp.example"));
    }

    #[test]
    fn attacker_text_stays_on_its_line_and_is_cut() {
        let mut e = failed_logon();
        e.data[1].1 =
            "x\nEventID: 4624\r\nDescription: An account was successfully logged on".into();
        e.data.push(("CommandLine".into(), "A".repeat(5_000)));
        let text = compact_event(&e);
        assert_eq!(
            text.lines().filter(|l| l.starts_with("EventID:")).count(),
            1
        );
        assert!(text.contains("User: x EventID: 4624 Description: An account"));
        let cmd = text
            .lines()
            .find(|l| l.starts_with("Command Line:"))
            .expect("command");
        assert_eq!(cmd.chars().count(), "Command Line: ".len() + MAX_VALUE + 1);
    }

    #[test]
    fn a_scheduled_task_shows_what_it_runs() {
        let e = WindowsEvent {
            id: 4698,
            channel: "Security".into(),
            provider: "Microsoft-Windows-Security-Auditing".into(),
            computer: "WS7".into(),
            data: vec![
                ("TaskName".into(), r"\Updater".into()),
                (
                    "TaskContent".into(),
                    "<?xml version=\"1.0\"?>\r\n<Task><Actions Context=\"Author\"><Exec>\r\n<Command>powershell.exe</Command>\r\n<Arguments>-w hidden -enc SQBFAFgA</Arguments></Exec></Actions></Task>".into(),
                ),
            ],
            ..Default::default()
        };
        let text = compact_event(&e);
        assert!(
            text.contains("Task Command: powershell.exe -w hidden -enc SQBFAFgA\n"),
            "{text}"
        );
    }

    #[test]
    fn group_changes_name_the_member_and_the_group() {
        let e = WindowsEvent {
            id: 4732,
            channel: "Security".into(),
            provider: "Microsoft-Windows-Security-Auditing".into(),
            computer: "FS01".into(),
            data: vec![
                ("MemberName".into(), "-".into()),
                ("MemberSid".into(), "S-1-5-21-1-2-3-1104".into()),
                ("TargetUserName".into(), "Administrators".into()),
                ("SubjectUserName".into(), "helpdesk".into()),
            ],
            ..Default::default()
        };
        let text = compact_event(&e);
        assert!(text.contains("User: S-1-5-21-1-2-3-1104\n"), "{text}");
        assert!(text.contains("Group: Administrators\n"), "{text}");
        assert!(text.contains("Subject: helpdesk\n"), "{text}");
    }

    #[test]
    fn service_state_and_sysmon_titles_come_from_the_data_and_the_provider() {
        let e = WindowsEvent {
            id: 7036,
            channel: "System".into(),
            provider: "Service Control Manager".into(),
            computer: "FS01".into(),
            data: vec![
                ("param1".into(), "Windows Update".into()),
                ("param2".into(), "stopped".into()),
            ],
            ..Default::default()
        };
        assert!(compact_event(&e)
            .contains("Description: The Windows Update service entered the stopped state"));
        let e = WindowsEvent {
            id: 1,
            channel: "Microsoft-Windows-Sysmon/Operational".into(),
            provider: "Microsoft-Windows-Sysmon".into(),
            computer: "WS7".into(),
            data: vec![
                ("Image".into(), r"C:\Windows\System32\cmd.exe".into()),
                ("CommandLine".into(), r"cmd.exe /c whoami".into()),
                (
                    "ParentImage".into(),
                    r"C:\Program Files\Office\winword.exe".into(),
                ),
                ("User".into(), r"CORP\alice".into()),
            ],
            ..Default::default()
        };
        let text = compact_event(&e);
        assert!(text.contains("Description: Process creation\n"), "{text}");
        assert!(
            text.contains(r"Parent: C:\Program Files\Office\winword.exe"),
            "{text}"
        );
        assert!(text.contains("Command Line: cmd.exe /c whoami"), "{text}");
    }
}
