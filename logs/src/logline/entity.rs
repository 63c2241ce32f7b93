//! What a record is about and what happened, read by general rules rather than one grammar
//! per daemon: the peer address by the most specific key, the user, and the coarse event from
//! the phrase lists of `opensoc::signals::words`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use opensoc::signals::words;
use opensoc::signals::words::Attempt;
use regex::Regex;

use super::parsed::{Entity, EntityKind, Event};

/// An IP address from a token, ignoring brackets, a trailing port or punctuation.
pub(super) fn ip_of(token: &str) -> Option<String> {
    let t =
        token.trim_matches(|c: char| matches!(c, '"' | '\'' | ',' | ';' | '(' | ')' | '<' | '>'));
    let t = t.trim_end_matches('.');
    // A closing bracket without an opening one ends a structured-data element.
    let t = if t.contains('[') {
        t
    } else {
        t.trim_end_matches(']')
    };
    let t = t
        .strip_prefix('[')
        .map_or(t, |rest| rest.split(']').next().unwrap_or(rest));
    let ip: IpAddr = match t.parse() {
        Ok(ip) => ip,
        Err(_) => {
            // `1.2.3.4:22`: a v4 address with a port (v6 ones come bracketed).
            let (host, port) = t.rsplit_once(':')?;
            if !port.bytes().all(|b| b.is_ascii_digit()) || host.contains(':') {
                return None;
            }
            host.parse().ok()?
        }
    };
    let ip = match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    Some(ip.to_string())
}

/// A plausible account name: not empty, not a placeholder, no odd characters.
pub(super) fn user_of(token: &str) -> Option<String> {
    let t = token.trim_matches(|c: char| {
        matches!(
            c,
            '"' | '\'' | ',' | ';' | '(' | ')' | '[' | ']' | '<' | '>'
        )
    });
    // `check pass; user unknown` means no such user, not a user named "unknown".
    let placeholder = matches!(
        t,
        "" | "-"
            | "unknown"
            | "N/A"
            | "(unknown)"
            | "NULL"
            | "null"
            | "name"
            | "is"
            | "not"
            | "the"
            | "from"
            | "by"
    );
    if placeholder || t.len() > 128 || t.chars().any(|c| c.is_control() || c == '=') {
        return None;
    }
    Some(t.to_string())
}

/// An address token as services write it: what `ip_of` takes, and also a v4 address with its
/// port after a dot (`1.2.3.4.50550`), with leading zeros (`192.030.0.6`, kept as written) or
/// an unbracketed v6 address with a port (`2001:db8::1:58430`, `::ffff:1.2.3.4:60495`). The
/// unspecified addresses (`0.0.0.0`, `::`) are nobody.
fn address_token(token: &str) -> Option<String> {
    let t = token.trim_end_matches(['.', ':']);
    // `UDP:1.2.3.4:5`: a lone colon before the address belongs to the label.
    let t = match t.strip_prefix(':') {
        Some(rest) if !rest.starts_with(':') => rest,
        _ => t,
    };
    if t.len() < 3 {
        return None;
    }
    let ip = ip_of(t).or_else(|| {
        if !t.contains(':') {
            let parts: Vec<&str> = t.split('.').collect();
            let digits =
                |p: &&str| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
            if (parts.len() == 4 || parts.len() == 5) && parts.iter().all(digits) {
                let quad = &parts[..4];
                if quad
                    .iter()
                    .all(|p| p.len() <= 3 && p.parse::<u16>().is_ok_and(|n| n <= 255))
                {
                    let s = quad.join(".");
                    return Some(s.parse::<Ipv4Addr>().map_or(s, |a| a.to_string()));
                }
            }
            return None;
        }
        let (host, port) = t.rsplit_once(':')?;
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let v6: Ipv6Addr = host.parse().ok()?;
        Some(
            v6.to_ipv4_mapped()
                .map_or(v6.to_string(), |v4| v4.to_string()),
        )
    })?;
    (!matches!(ip.as_str(), "0.0.0.0" | "::")).then_some(ip)
}

/// The address that starts at `at` in `s` (after quotes, brackets or a `proto/` label such as
/// `[AF_INET]` or `IPV4/UDP/`).
fn address_at(s: &str, at: usize) -> Option<String> {
    let mut rest = s.get(at..)?.trim_start_matches(' ');
    // One quote or bracket at most: exim's `for ([1.2.3.4])` is the HELO name, not the peer.
    if let Some(r) = rest.strip_prefix(['"', '\'', '[', '(', '<']) {
        rest = r;
    }
    for _ in 0..3 {
        if let Some(r) = rest
            .strip_prefix("AF_INET6]")
            .or_else(|| rest.strip_prefix("AF_INET]"))
        {
            rest = r;
            continue;
        }
        // `IPV4/UDP/1.2.3.4/5060`: labels before a slash.
        let label = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .filter(|&i| i > 0 && rest[i..].starts_with('/'));
        match label {
            Some(i) if !rest[..i].bytes().all(|b| b.is_ascii_digit()) => rest = &rest[i + 1..],
            _ => break,
        }
    }
    let end = rest
        .find(|c: char| !(c.is_ascii_hexdigit() || c == ':' || c == '.'))
        .unwrap_or(rest.len());
    address_token(&rest[..end])
}

/// Where lines name the remote peer, from the most to the least specific:
/// keys that name the client (`client:`, `[client …]`, `rhost=`, `rip=`, `src=`, `remote_addr=`,
/// `peer`, `attacker`, `relay=`, `addr=`, `Viewer Address:`); address keys (`ip=`, `IP:`,
/// `IP address`, `address`, `host`, `hostname=`, exim's `H=`); prepositions (`from`, `by`, `with`,
/// `for`, MySQL's `'user'@'1.2.3.4'`); `name[1.2.3.4]`, `name [1.2.3.4]` or `(1.2.3.4)` as mail and
/// FTP daemons write it; and last any address that no key marks as a destination (`DST=`, `to`,
/// `lip=`, `server:`).
struct PeerPatterns {
    client: Regex,
    address: Regex,
    preposition: Regex,
    bracketed: Regex,
    bare: Regex,
    destination: Regex,
    user_field: Regex,
    port_after: Regex,
}

static PEER: LazyLock<PeerPatterns> = LazyLock::new(|| {
    let re = |s: &str| Regex::new(s).expect("static regex");
    PeerPatterns {
        client: re(
            r"(?i)(?:\b(?:client|remote|peer|src|source|viewer|attacker|connecting)(?:[ _-]?(?:ip|addr(?:ess)?|host|network address))?|\b(?:rhost|rip|raddr|saddr|relay|addr))\s*(?:[:=#]\s*|\s+)",
        ),
        address: re(
            r"(?i)(?:\b(?:ip(?:v[46])?(?:[ _-]?addr(?:ess)?)?|address|host(?:name)?)\s*(?:[:=]\s*|\s+)|\bH=)",
        ),
        preposition: re(
            r"(?i)(?:\b(?:from|by|with|for)(?:\s*[=:]\s*|\s+)(?:(?:ip|host|address)\s+)?|'@')",
        ),
        bracketed: re(r"[\[(]([0-9A-Fa-f:.]{3,})[\])]"),
        bare: re(r"[0-9A-Fa-f:.]{3,}"),
        // Keys after which an address is this side's or the destination's, never the peer's.
        destination: re(
            r#"(?i)(?:\b(?:dst|dest(?:ination)?|to|lip|local|laddr|daddr|server|target|on|via|listening|bound|interface|helo|ehlo|upstream|backend|proxy)(?:[ _-](?:ip|addr(?:ess)?|host))?\b\s*[:=]?\s*["'\[(<]*|\bI=\[?|->\s*|[(<]\[?)$"#,
        ),
        // Where an account name starts: an attacker-chosen value, in which injected
        // `rhost=1.2.3.4` or `client: 1.2.3.4` text must not be taken for the peer.
        user_field: re(
            r#"(?i)\b(?:r?user(?:[ _]?name)?|account(?:[ _]?name)?|uname|acct)(?:=|:\s?|\s)["'<\[]?[^\s"'<>\[\],;=]"#,
        ),
        port_after: re(r"^\]?:?\s+port\s+\d"),
    }
});

/// The `n` bytes of `s` before `end`, cut at a character boundary.
fn tail_before(s: &str, end: usize, n: usize) -> &str {
    let mut start = end.saturating_sub(n);
    while !s.is_char_boundary(start) {
        start -= 1;
    }
    &s[start..end]
}

/// An address a line offers as the peer's.
struct Candidate {
    /// Where its key (or the address itself) starts.
    at: usize,
    ip: String,
    /// sshd's layout, `1.2.3.4 port 22`.
    port_follows: bool,
    /// `name[1.2.3.4]`, as mail daemons name a connected host (not `, [1.2.3.4]`).
    glued: bool,
}

/// The remote peer's address in a free-text message: the address named by the most specific
/// kind of key (see [`PEER`]). Among several of one kind: where some precede an account name
/// and some follow it, the ones that follow are dropped (`rhost=A user=x rhost=B`: an account
/// name is the attacker's to choose); then, for keys, the last one (a forged value in an
/// earlier field cannot displace it), except that after a preposition the first followed by
/// `port N` wins (sshd writes its peer so, and what follows `ssh2:` is not its own); for
/// brackets, the last glued to a name (`unknown[1.2.3.4]`); for bare addresses the last followed
/// by `port N`, else the first. `weak` allows brackets and bare addresses.
pub(super) fn peer_address(msg: &str, weak: bool) -> Option<String> {
    let p = &*PEER;
    let port_follows = |end: usize| p.port_after.is_match(&msg[end..]);
    let mut found: Vec<Candidate> = Vec::new();
    let mut preposition = false;
    for (i, re) in [&p.client, &p.address, &p.preposition]
        .into_iter()
        .enumerate()
    {
        for m in re.find_iter(msg) {
            // `X-Real-IP:`, `X-Forwarded-For`: headers any client can write.
            if msg[..m.start()].ends_with('-') {
                continue;
            }
            let Some(ip) = address_at(msg, m.end()) else {
                continue;
            };
            let end = msg[m.end()..]
                .find(ip.as_str())
                .map_or(m.end(), |j| m.end() + j + ip.len());
            found.push(Candidate {
                at: m.start(),
                port_follows: port_follows(end),
                ip,
                glued: false,
            });
        }
        if !found.is_empty() {
            preposition = i == 2;
            break;
        }
    }
    let destination = |at: usize| p.destination.is_match(tail_before(msg, at, 40));
    let mut bracketed = false;
    if found.is_empty() && weak {
        for c in p.bracketed.captures_iter(msg) {
            let (Some(all), Some(inner)) = (c.get(0), c.get(1)) else {
                continue;
            };
            if destination(all.start()) {
                continue;
            }
            let before = msg[..all.start()].chars().next_back();
            if let Some(ip) = address_token(inner.as_str()) {
                found.push(Candidate {
                    at: all.start(),
                    ip,
                    port_follows: false,
                    glued: all.as_str().starts_with('[')
                        && before.is_some_and(|c| c.is_alphanumeric() || c == '.' || c == '-'),
                });
            }
        }
        bracketed = true;
    }
    let mut bare = false;
    if found.is_empty() && weak {
        // Glued to a word, a path or a range, an address is a version, a URL or a network.
        let glued = |c: Option<char>, next: Option<char>| {
            c.is_some_and(|c| {
                c.is_alphanumeric() || matches!(c, '/' | '_' | '%') || c == '-' && next != Some('>')
            })
        };
        for m in p.bare.find_iter(msg) {
            // `Error:192.0.2.1`: a single colon before the address ends the label.
            let lead_colon = m.as_str().starts_with(':') && !m.as_str().starts_with("::");
            let before = if lead_colon {
                Some(':')
            } else {
                msg[..m.start()].chars().next_back()
            };
            let mut rest = msg[m.end()..].chars();
            let (after, next) = (rest.next(), rest.next());
            if glued(before, None) || glued(after, next) || destination(m.start()) {
                continue;
            }
            if let Some(ip) = address_token(m.as_str()) {
                found.push(Candidate {
                    at: m.start(),
                    ip,
                    port_follows: port_follows(m.end()),
                    glued: false,
                });
            }
        }
        bare = true;
    }
    if let Some(user_at) = p.user_field.find(msg).map(|m| m.start()) {
        if found.iter().any(|c| c.at < user_at) {
            found.retain(|c| c.at < user_at);
        }
    }
    let chosen = if bare {
        found
            .iter()
            .rev()
            .find(|c| c.port_follows)
            .or_else(|| found.first())
    } else if preposition {
        found
            .iter()
            .find(|c| c.port_follows)
            .or_else(|| found.last())
    } else if bracketed {
        found
            .iter()
            .rev()
            .find(|c| c.glued)
            .or_else(|| found.last())
    } else {
        found.last()
    };
    chosen.map(|c| c.ip.clone())
}

struct MsgPatterns {
    failed_for: Regex,
    invalid_user: Regex,
    accepted: Regex,
    user_kv: Regex,
    user_quoted: Regex,
    user_named: Regex,
    user_word: Regex,
    for_user: Regex,
    sudo: Regex,
    su_to: Regex,
    session_opened: Regex,
    failed_generic: Regex,
    rhost: Regex,
    service_port: Regex,
}

static MSG: LazyLock<MsgPatterns> = LazyLock::new(|| {
    let re = |s: &str| Regex::new(s).expect("static regex");
    MsgPatterns {
        failed_for: re(
            r"(?i)Failed (?:password|publickey|keyboard-interactive(?:/pam)?|none) for (invalid user )?(\S+)",
        ),
        invalid_user: re(r"(?i)\binvalid user (\S+)"),
        accepted: re(
            r"Accepted (?:password|publickey|keyboard-interactive(?:/pam)?|gssapi-with-mic|hostbased) for (\S+)",
        ),
        user_kv: re(r"(?i)\b(?:user|username|ruser|account)=(\S+)"),
        // `user "xyz"`, `user 'root'@'host'`, `for user: "x"`, `Account 'test'`, `user [x]`.
        user_quoted: re(
            r#"(?i)\b(?:user(?:[ _]?name)?|login|account)\s*[:=]?\s*(?:"([^"\r\n]{1,64})"|'([^'\r\n]{1,64})'|\[([^\]\s]{1,64})\])"#,
        ),
        // `User Name: x`, `Username: x`, `login as x`, `[anna] FAIL LOGIN`, `[x] failed to login`.
        user_named: re(
            r"(?i)\buser[ _]?name\s*[:=]\s*([^\s,;]+)|\blogin as (\S+)|\[([^\]\s]{1,64})\]\s+fail",
        ),
        user_word: re(r"(?i)\b(?:for user|user|login:|account) (\S+)"),
        for_user: re(r"\bfor (\S+)"),
        sudo: re(r"^\s*(\S+) : .*\bUSER=(\S+)"),
        su_to: re(r"\(to (\S+)\) (\S+) on "),
        session_opened: re(
            r"session opened for user (\S+?)(?:\(uid=\d+\))?(?: by (\S*?)(?:\(uid=\d+\))?)?\s*$",
        ),
        failed_generic: re(
            r"(?i)authentication failure|authentication failed|failed login|fail login|login failed|login incorrect|couldn't authenticate|maximum authentication attempts|incorrect password|invalid password|bad password",
        ),
        rhost: re(r"\brhost=(\S+)"),
        // Port scan detectors: `Port: 23 TCP Blocked`, `1.2.3.4 to 5.6.7.8 ports 80, 81, …`.
        service_port: re(r"(?i)\bport:\s*(\d{1,5})\s+(?:tcp|udp)\b|\bto \S+ ports? (\d{1,5})\b"),
    }
});

/// The account a message names, by the first of its layouts that holds a plausible name.
fn user_in(msg: &str) -> Option<String> {
    let p = &*MSG;
    let first_group = |c: regex::Captures<'_>| {
        c.iter()
            .skip(1)
            .flatten()
            .next()
            .and_then(|m| user_of(m.as_str().trim_end_matches('.')))
    };
    p.user_kv
        .captures(msg)
        .and_then(|c| user_of(&c[1]))
        .or_else(|| p.user_quoted.captures(msg).and_then(first_group))
        .or_else(|| p.user_named.captures(msg).and_then(first_group))
        .or_else(|| p.user_word.captures(msg).and_then(|c| user_of(&c[1])))
}

/// Programs whose "session opened" means someone logged in or switched user (not cron).
fn is_login_program(tag: &str) -> bool {
    let t = tag.to_ascii_lowercase();
    [
        "su", "sudo", "sshd", "login", "gdm", "lightdm", "ftp", "telnet", "rlogin", "klogin",
        "xrdp", "dovecot",
    ]
    .iter()
    .any(|p| t.starts_with(p) || t.contains(&format!("({p}")) || t.contains(&format!("-{p}")))
}

/// Entity and event from a free-text message (`tag` is the syslog program, may be empty).
pub(super) fn message_facts(tag: &str, msg: &str) -> (Option<Entity>, Event) {
    let p = &*MSG;
    let mut user: Option<String> = None;
    let mut actor: Option<String> = None;
    let mut event = Event::Other;

    if let Some(c) = p.failed_for.captures(msg) {
        user = user_of(&c[2]);
        event = Event::FailedLogin { user: user.clone() };
    } else if let Some(c) = p.accepted.captures(msg) {
        user = user_of(&c[1]);
        event = Event::AcceptedLogin { user: user.clone() };
    } else if let Some(c) = p.invalid_user.captures(msg) {
        user = user_of(&c[1]);
        event = Event::FailedLogin { user: user.clone() };
    } else if let Some(c) = p.sudo.captures(msg) {
        // sudo's command line: the invoking user is the actor, USER= the target.
        actor = user_of(&c[1]);
    } else if let Some(c) = p.su_to.captures(msg) {
        actor = user_of(&c[2]);
        let target = user_of(&c[1]);
        if !msg.contains("FAILED") {
            event = Event::AcceptedLogin { user: target };
        } else {
            event = Event::FailedLogin { user: target };
        }
    } else if let Some(c) = p.session_opened.captures(msg) {
        let target = user_of(&c[1]);
        actor = c.get(2).and_then(|m| user_of(m.as_str()));
        user = target.clone();
        if is_login_program(tag) {
            event = Event::AcceptedLogin { user: target };
        }
    }

    if user.is_none() && actor.is_none() {
        user = user_in(msg);
    }
    if matches!(event, Event::Other) && p.failed_generic.is_match(msg) {
        // `login failed for bob`: only next to a failure is a bare `for X` an account.
        if user.is_none() && actor.is_none() {
            user = p.for_user.captures(msg).and_then(|c| user_of(&c[1]));
        }
        event = Event::FailedLogin { user: user.clone() };
    }
    if matches!(event, Event::Other) {
        // Any service's words for a failed login, a refusal or a connection to a port.
        let attempt = words::attempt(msg);
        let port = || {
            words::destination_port(msg).or_else(|| {
                p.service_port.captures(msg).and_then(|c| {
                    c.iter()
                        .skip(1)
                        .flatten()
                        .next()
                        .and_then(|m| m.as_str().parse::<u16>().ok())
                        .filter(|&port| port > 0)
                })
            })
        };
        if attempt == Some(Attempt::AuthFailure) {
            if user.is_none() && actor.is_none() {
                // `… failed for peer`, `for client`: words, not accounts.
                user = p
                    .for_user
                    .captures(msg)
                    .and_then(|c| user_of(&c[1]))
                    .filter(|u| {
                        !["peer", "client", "host", "server", "ip", "address", "user"]
                            .iter()
                            .any(|w| u.eq_ignore_ascii_case(w))
                    });
            }
            event = Event::FailedLogin { user: user.clone() };
        } else if msg.contains("FTP LOGIN FROM") {
            event = Event::AcceptedLogin {
                user: msg
                    .rsplit('(')
                    .next()
                    .and_then(|s| user_of(s.trim_end().trim_end_matches(')'))),
            };
        } else if let Some(port) = port() {
            event = Event::Connection { port };
        } else if attempt == Some(Attempt::Denial) {
            event = Event::Denied;
        }
    }

    // sudo's and su's lines name the invoking user, whatever addresses the command holds.
    let ip = peer_address(msg, actor.is_none());
    let entity = if let Some(ip) = ip {
        Some(Entity::new(EntityKind::Ip, ip))
    } else if let Some(a) = actor.or(user) {
        Some(Entity::new(EntityKind::User, a))
    } else {
        // A remote host given by name is still the remote party, not the logging host.
        p.rhost
            .captures(msg)
            .map(|c| c[1].to_string())
            .filter(|h| !h.is_empty() && h.len() <= 253)
            .map(|h| Entity::new(EntityKind::Host, h))
    };
    (entity, event)
}
