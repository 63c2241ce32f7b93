//! HTTP parameter payloads (HttpParamsDataset) placed in access-log windows: varied formats,
//! paths, parameter names, encodings, statuses and agents drawn the same way for attacks and
//! ordinary traffic, so that the label can only come from the payload itself.

use std::collections::HashSet;
use std::path::Path;

use super::{
    clf_time, join_lines, labels, lan_ip, payload_gen, public_ip, random_time, render_inputs,
    BuildConfig, BuildError, Rng, Sample,
};

/// The data set's classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// Ordinary parameter values.
    Norm,
    /// SQL injection.
    Sqli,
    /// Cross-site scripting.
    Xss,
    /// Path traversal.
    PathTraversal,
    /// OS command injection.
    Cmdi,
}

impl Class {
    /// Every class, benign first.
    pub const ALL: [Class; 5] = [
        Class::Norm,
        Class::Sqli,
        Class::Xss,
        Class::PathTraversal,
        Class::Cmdi,
    ];

    fn from_name(s: &str) -> Option<Class> {
        Some(match s {
            "norm" => Class::Norm,
            "sqli" => Class::Sqli,
            "xss" => Class::Xss,
            "path-traversal" => Class::PathTraversal,
            "cmdi" => Class::Cmdi,
            _ => return None,
        })
    }

    /// The threat-type label of a payload of this class.
    pub fn label(self, payload: &str) -> &'static str {
        match self {
            Class::Norm => labels::BENIGN,
            Class::Sqli => labels::sqli_label(payload),
            Class::Xss => "Cross-Site Scripting (XSS) Attempt",
            Class::PathTraversal => "Path Traversal / Directory Traversal Attack",
            Class::Cmdi => "OS Command Injection Attempt",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Payloads of one side of the split, per class.
#[derive(Debug, Clone, Default)]
pub struct Pool {
    /// `by_class[class.index()]`: the distinct payloads, in file order.
    pub by_class: [Vec<String>; 5],
}

impl Pool {
    /// The payloads of `class`.
    pub fn of(&self, class: Class) -> &[String] {
        &self.by_class[class.index()]
    }

    /// Adds payloads of `class`, skipping any already there.
    pub fn extend(&mut self, class: Class, more: impl IntoIterator<Item = String>) {
        let v = &mut self.by_class[class.index()];
        let mut seen: HashSet<String> = v.iter().cloned().collect();
        v.extend(more.into_iter().filter(|p| seen.insert(p.clone())));
    }
}

/// The data set split by payload hash.
#[derive(Debug, Clone)]
pub struct Payloads {
    /// Payloads whose hash falls outside the held-out bucket.
    pub train: Pool,
    /// The held-out bucket (a fifth).
    pub heldout: Pool,
}

/// Whether a payload string belongs to the held-out fifth: a hash of the string alone, so the
/// split is the same for every seed and scale.
pub fn is_heldout(payload: &str) -> bool {
    super::fnv1a(payload.as_bytes()).is_multiple_of(5)
}

impl Payloads {
    /// Reads `payload_train.csv` (payload,length,attack_type,label), skipping exact duplicates.
    pub fn load(path: &Path) -> Result<Payloads, BuildError> {
        let text = std::fs::read_to_string(path).map_err(|source| BuildError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let rows = opensoc_logs::csv::records(&text);
        let bad = |message: String| BuildError::Format {
            path: path.to_path_buf(),
            message,
        };
        let header = rows.first().ok_or_else(|| bad("empty file".into()))?;
        let col = |name: &str| {
            header
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| bad(format!("no `{name}` column")))
        };
        let (pc, ac) = (col("payload")?, col("attack_type")?);
        let mut seen = HashSet::new();
        let mut train = Pool::default();
        let mut heldout = Pool::default();
        for (i, row) in rows.iter().enumerate().skip(1) {
            let (Some(payload), Some(kind)) = (row.get(pc), row.get(ac)) else {
                return Err(bad(format!("row {} has {} fields", i + 1, row.len())));
            };
            let class =
                Class::from_name(kind).ok_or_else(|| bad(format!("unknown class {kind:?}")))?;
            if payload.is_empty() || !seen.insert(payload.clone()) {
                continue;
            }
            let pool = if is_heldout(payload) {
                &mut heldout
            } else {
                &mut train
            };
            pool.by_class[class.index()].push(payload.clone());
        }
        Ok(Payloads { train, heldout })
    }
}

/// Browsers as they appear in access logs.
pub const BROWSERS: [&str; 8] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36 Edg/123.0.2420.81",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:124.0) Gecko/20100101 Firefox/124.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
];

/// Command-line clients and libraries, used by scripts and people alike.
pub const TOOLS: [&str; 6] = [
    "curl/8.5.0",
    "python-requests/2.31.0",
    "Wget/1.21.4",
    "Go-http-client/1.1",
    "okhttp/4.12.0",
    "curl/7.81.0",
];

/// Whether an agent is a browser's (the seed's tell-tale: `Mozilla/5.0 (`).
pub fn is_browser(agent: &str) -> bool {
    agent.starts_with("Mozilla/5.0 (")
}

/// An agent: a browser four times in five, else a tool; the same draw for every class.
pub fn agent(rng: &mut Rng) -> &'static str {
    if rng.chance(0.8) {
        BROWSERS[rng.below(BROWSERS.len())]
    } else {
        TOOLS[rng.below(TOOLS.len())]
    }
}

/// How an access log writes its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Apache combined with a zone offset; `"` and `\` escaped with a backslash.
    Apache,
    /// Apache combined without the zone (as the seed writes it).
    ApacheNoZone,
    /// nginx combined; unsafe bytes written as `\xHH`.
    Nginx,
}

impl Style {
    /// A random style.
    pub fn random(rng: &mut Rng) -> Style {
        *rng.pick(&[Style::Apache, Style::ApacheNoZone, Style::Nginx])
    }
}

/// One logged request.
#[derive(Debug, Clone)]
pub struct Request {
    /// Unix seconds.
    pub time: i64,
    /// `GET`, `POST`, ...
    pub method: &'static str,
    /// Path with query, already encoded as the client sent it.
    pub target: String,
    /// Response status.
    pub status: u16,
    /// Response size in bytes (0 is written `-` by Apache now and then).
    pub bytes: u64,
    /// Referer or `-`.
    pub referer: String,
    /// User agent.
    pub agent: String,
}

/// A client of one window: address, log style, zone and an authenticated user name maybe.
#[derive(Debug, Clone)]
pub struct Client {
    /// The client's address.
    pub ip: String,
    /// The log's layout.
    pub style: Style,
    /// Zone offset in minutes.
    pub zone: i64,
}

impl Client {
    /// A client from the internet or the LAN, with a random log layout.
    pub fn random(rng: &mut Rng) -> Client {
        let ip = if rng.chance(0.75) {
            public_ip(rng)
        } else {
            lan_ip(rng)
        };
        let zone = *rng.pick(&[0, 0, 0, 60, 120, -300, -240, 330, 540]);
        Client {
            ip,
            style: Style::random(rng),
            zone,
        }
    }

    /// The log line of `req`.
    pub fn line(&self, req: &Request) -> String {
        let stamp = match self.style {
            Style::ApacheNoZone => clf_time(req.time, None),
            _ => clf_time(req.time, Some(self.zone)),
        };
        let escape = |s: &str| escape_for_log(s, self.style);
        let bytes = if req.bytes == 0 && self.style != Style::Nginx {
            "-".to_string()
        } else {
            req.bytes.to_string()
        };
        format!(
            "{} - - [{stamp}] \"{} {} HTTP/1.1\" {} {bytes} \"{}\" \"{}\"",
            self.ip,
            req.method,
            escape(&req.target),
            req.status,
            escape(&req.referer),
            escape(&req.agent)
        )
    }
}

/// A request target as the server logs it: quotes, backslashes, controls and non-ASCII bytes
/// escaped the way each server does.
pub fn escape_for_log(s: &str, style: Style) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match (b, style) {
            (b'"', Style::Nginx) | (b'\\', Style::Nginx) => out.push_str(&format!("\\x{b:02X}")),
            (b'"', _) => out.push_str("\\\""),
            (b'\\', _) => out.push_str("\\\\"),
            (0x20..=0x7e, _) => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// How a payload travels in the query string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// As typed (tools and hand-made requests send it so).
    Raw,
    /// Every byte outside the unreserved set as `%HH`.
    Percent,
    /// Form encoding: spaces as `+`, the rest as `%HH`.
    Plus,
}

/// `payload` in `encoding`.
pub fn encode(payload: &str, encoding: Encoding) -> String {
    if encoding == Encoding::Raw {
        // A raw newline or tab would break the log line; clients cannot send them either.
        return payload
            .chars()
            .map(|c| {
                if c.is_ascii_control() {
                    format!("%{:02X}", c as u32)
                } else {
                    c.to_string()
                }
            })
            .collect();
    }
    let mut out = String::with_capacity(payload.len() * 2);
    for b in payload.bytes() {
        let keep = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        if encoding == Encoding::Plus && b == b' ' {
            out.push('+');
        } else if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A random encoding: mostly what browsers send, raw now and then.
pub fn random_encoding(rng: &mut Rng) -> Encoding {
    match rng.below(10) {
        0..=2 => Encoding::Raw,
        3..=7 => Encoding::Percent,
        _ => Encoding::Plus,
    }
}

/// Endpoints with a parameter; any payload may land in any of them.
const ENDPOINTS: [(&str, &str); 20] = [
    ("/search", "q"),
    ("/products", "id"),
    ("/index.php", "page"),
    ("/login", "username"),
    ("/api/v1/items", "filter"),
    ("/download", "file"),
    ("/view", "doc"),
    ("/account/profile", "name"),
    ("/cart/add", "sku"),
    ("/comments", "text"),
    ("/catalog", "category"),
    ("/report", "from"),
    ("/tools/ping", "host"),
    ("/api/users", "sort"),
    ("/news/article", "slug"),
    ("/contact", "message"),
    ("/shop/list", "order"),
    ("/app/settings", "lang"),
    ("/api/v2/search", "query"),
    ("/forum/thread", "t"),
];

/// Extra parameters an ordinary query carries beside the interesting one.
const EXTRA_PARAMS: [&str; 8] = [
    "page=2",
    "lang=en",
    "sort=asc",
    "limit=20",
    "ref=home",
    "v=3",
    "utm_source=newsletter",
    "session=ok",
];

/// Plain pages and assets of a site.
pub const PAGES: [&str; 16] = [
    "/",
    "/index.html",
    "/about",
    "/products",
    "/cart",
    "/blog/",
    "/contact",
    "/css/site.css",
    "/js/app.js",
    "/images/logo.png",
    "/favicon.ico",
    "/static/fonts/inter.woff2",
    "/api/v1/status",
    "/account",
    "/help/faq",
    "/robots.txt",
];

/// Site names for referers.
pub const SITES: [&str; 6] = [
    "https://shop.example.com",
    "https://www.example.org",
    "https://portal.example.net",
    "https://app.example.com",
    "https://intranet.example.local",
    "https://blog.example.io",
];

/// A status for a request carrying a parameter, drawn the same way for every class.
fn param_status(rng: &mut Rng) -> u16 {
    match rng.below(100) {
        0..=54 => 200,
        55..=62 => 302,
        63..=70 => 400,
        71..=80 => 403,
        81..=87 => 404,
        _ => 500,
    }
}

fn referer(rng: &mut Rng, site: &str) -> String {
    match rng.below(3) {
        0 => "-".into(),
        1 => format!("{site}/"),
        _ => format!("{site}{}", rng.pick(&PAGES)),
    }
}

/// A request with `payload` as a parameter value.
pub fn payload_request(
    rng: &mut Rng,
    payload: &str,
    time: i64,
    site: &str,
    agent: &str,
) -> Request {
    let (path, name) = *rng.pick(&ENDPOINTS);
    let value = encode(payload, random_encoding(rng));
    let mut query = format!("{name}={value}");
    if rng.chance(0.3) {
        let extra = rng.pick(&EXTRA_PARAMS);
        query = if rng.chance(0.5) {
            format!("{extra}&{query}")
        } else {
            format!("{query}&{extra}")
        };
    }
    Request {
        time,
        method: if rng.chance(0.7) { "GET" } else { "POST" },
        target: format!("{path}?{query}"),
        status: param_status(rng),
        bytes: rng.range(0, 40_000),
        referer: referer(rng, site),
        agent: agent.to_string(),
    }
}

/// An ordinary request for a page or an asset.
pub fn page_request(rng: &mut Rng, time: i64, site: &str, agent: &str) -> Request {
    let status = match rng.below(20) {
        0 => 304,
        1 => 404,
        2 => 302,
        _ => 200,
    };
    Request {
        time,
        method: "GET",
        target: rng.pick(&PAGES).to_string(),
        status,
        bytes: if status == 304 {
            0
        } else {
            rng.range(150, 60_000)
        },
        referer: referer(rng, site),
        agent: agent.to_string(),
    }
}

/// A short window from one client: `payloads` (each of `class`) among `ordinary` other
/// requests (page views, or ordinary parameter values from `norm`).
fn window(
    rng: &mut Rng,
    payloads: &[String],
    ordinary: usize,
    norm: &[String],
) -> (String, Vec<String>) {
    let client = Client::random(rng);
    let site = *rng.pick(&SITES);
    let agent = agent(rng);
    let mut t = random_time(rng);
    let mut used: Vec<String> = payloads.to_vec();
    enum Slot<'a> {
        Payload(&'a str),
        Ordinary,
    }
    let mut slots: Vec<Slot> = payloads.iter().map(|p| Slot::Payload(p)).collect();
    slots.extend((0..ordinary).map(|_| Slot::Ordinary));
    rng.shuffle(&mut slots);
    let mut lines = Vec::new();
    for slot in slots {
        t += rng.range(0, 40) as i64;
        let req = match slot {
            Slot::Payload(p) => payload_request(rng, p, t, site, agent),
            Slot::Ordinary if !norm.is_empty() && rng.chance(0.5) => {
                let p = rng.pick(norm);
                used.push(p.clone());
                payload_request(rng, p, t, site, agent)
            }
            Slot::Ordinary => page_request(rng, t, site, agent),
        };
        lines.push(client.line(&req));
    }
    (join_lines(&lines), used)
}

/// Renders a generated window; None when the windower split it (never for these sizes).
fn one_window(text: &str) -> Option<String> {
    let mut inputs = render_inputs("access.log", text);
    (inputs.len() == 1).then(|| inputs.remove(0))
}

/// Attack payloads of `class` grouped by label (SQL injection subtypes apart).
fn by_label(pool: &Pool, class: Class) -> Vec<(&'static str, Vec<String>)> {
    let mut groups: Vec<(&'static str, Vec<String>)> = Vec::new();
    for p in pool.of(class) {
        let label = class.label(p);
        match groups.iter_mut().find(|(l, _)| *l == label) {
            Some((_, v)) => v.push(p.clone()),
            None => groups.push((label, vec![p.clone()])),
        }
    }
    groups
}

/// Ordinary requests beside the payloads: windows stay short (training reads ~470 tokens/s).
fn ordinary_count(rng: &mut Rng) -> usize {
    match rng.below(10) {
        0..=5 => 0,
        6..=8 => 1,
        _ => 2,
    }
}

/// An attack window of `class` drawn from `pool`, or a benign one for `Class::Norm`.
fn sample_of(rng: &mut Rng, pool: &Pool, class: Class, source: &str) -> Option<Sample> {
    let norm = pool.of(Class::Norm);
    let (label, payloads) = if class == Class::Norm {
        let n = if rng.chance(0.7) { 1 } else { 2 };
        let payloads: Vec<String> = (0..n).map(|_| rng.pick(norm).clone()).collect();
        (labels::BENIGN, payloads)
    } else {
        let groups = by_label(pool, class);
        if groups.is_empty() {
            return None;
        }
        let (label, group) = &groups[rng.below(groups.len())];
        let k = if rng.chance(0.7) { 1 } else { 2 };
        let payloads: Vec<String> = (0..k).map(|_| rng.pick(group).clone()).collect();
        (*label, payloads)
    };
    sample_with(rng, label, &payloads, norm, source)
}

/// A window of `payloads`, labelled `label`, among a few ordinary requests.
fn sample_with(
    rng: &mut Rng,
    label: &str,
    payloads: &[String],
    norm: &[String],
    source: &str,
) -> Option<Sample> {
    let ordinary = ordinary_count(rng);
    let (text, used) = window(rng, payloads, ordinary, norm);
    let input = one_window(&text)?;
    Some(Sample {
        payloads: used,
        ..Sample::new(input, label, source)
    })
}

/// The taxonomy's label for local file inclusion.
const LFI: &str = "Local File Inclusion (LFI) Attack";
/// Base count (scale 1.0) of generated local-file-inclusion windows.
const LFI_COUNT: usize = 100;

/// Base counts (scale 1.0) of training windows per class, from the real payloads only.
const TRAIN_COUNTS: [(Class, usize); 5] = [
    (Class::Norm, 700),
    (Class::Sqli, 560),
    (Class::Xss, 200),
    (Class::PathTraversal, 180),
    (Class::Cmdi, 130),
];

/// What `class` adds to its [`TRAIN_COUNTS`] row with the generated payloads
/// (`Recipe::generated_payloads`).
fn generated_extra(class: Class) -> usize {
    match class {
        // Benign windows grow with the generated attacks, so that the benign share of the
        // whole set stays where it was (41%): adding attacks alone made the adapter flag more
        // ordinary traffic.
        Class::Norm => 400,
        // Seven subtypes, two of them generated (see `payload_gen`), about a hundred each.
        Class::Sqli => 160,
        Class::Xss => 0,
        // The real set's 59 command injections are nearly all `id` behind a separator, and
        // 164 of its 193 traversals end in a literal `{file}`: the generated ones widen both.
        Class::PathTraversal | Class::Cmdi => 150,
    }
}

/// The training windows: benign browsing and payload attacks from the training payloads.
pub fn train_windows(cfg: &BuildConfig, pool: &Pool) -> Vec<Sample> {
    let mut rng = Rng::fork(cfg.seed, "web");
    let mut out = Vec::new();
    for (class, base) in TRAIN_COUNTS {
        let base = if cfg.recipe.generated_payloads() {
            base + generated_extra(class)
        } else {
            base
        };
        for _ in 0..cfg.count(base) {
            out.extend(sample_of(&mut rng, pool, class, "web"));
        }
    }
    if !cfg.recipe.generated_payloads() {
        return out;
    }
    // Local file inclusion, which the real set lacks; its own generator, so the draws above
    // stay as they were.
    let mut rng = Rng::fork(cfg.seed, "web-lfi");
    for _ in 0..cfg.count(LFI_COUNT) {
        let k = if rng.chance(0.7) { 1 } else { 2 };
        let payloads: Vec<String> = (0..k)
            .map(|_| payload_gen::file_inclusion(&mut rng))
            .collect();
        out.extend(sample_with(
            &mut rng,
            LFI,
            &payloads,
            pool.of(Class::Norm),
            "web-generated",
        ));
    }
    out
}

/// Held-out windows (about 60 per class, fewer where a class has fewer held-out payloads):
/// each attack payload is used once.
pub fn heldout_windows(cfg: &BuildConfig, pool: &Pool) -> Vec<Sample> {
    let mut rng = Rng::fork(cfg.seed, "web-heldout");
    let mut out = Vec::new();
    let per_class = cfg.count(60);
    for class in Class::ALL {
        if class == Class::Norm {
            for _ in 0..per_class {
                out.extend(sample_of(&mut rng, pool, class, "web"));
            }
            continue;
        }
        let mut groups = by_label(pool, class);
        for (_, g) in &mut groups {
            rng.shuffle(g);
        }
        // Round-robin over subtypes so rare SQL injection kinds are held out too.
        let mut made = 0;
        let mut round = 0;
        while made < per_class && groups.iter().any(|(_, g)| round < g.len()) {
            for (label, g) in &groups {
                if made >= per_class {
                    break;
                }
                let Some(p) = g.get(round) else { continue };
                let ordinary = ordinary_count(&mut rng);
                let (text, used) = window(
                    &mut rng,
                    std::slice::from_ref(p),
                    ordinary,
                    pool.of(Class::Norm),
                );
                if let Some(input) = one_window(&text) {
                    out.push(Sample {
                        payloads: used,
                        ..Sample::new(input, label, "web")
                    });
                    made += 1;
                }
            }
            round += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_and_log_escapes() {
        assert_eq!(encode("a b'<", Encoding::Percent), "a%20b%27%3C");
        assert_eq!(encode("a b'<", Encoding::Plus), "a+b%27%3C");
        assert_eq!(encode("a b\n", Encoding::Raw), "a b%0A");
        assert_eq!(encode("año", Encoding::Raw), "año");
        assert_eq!(escape_for_log("x\"y\\", Style::Apache), "x\\\"y\\\\");
        assert_eq!(escape_for_log("x\"ñ", Style::Nginx), "x\\x22\\xc3\\xb1");
    }

    #[test]
    fn agents_do_not_depend_on_the_class() {
        let mut pool = Pool::default();
        pool.by_class[Class::Norm.index()] = vec!["alice".into(), "42".into()];
        pool.by_class[Class::Xss.index()] = vec!["<script>alert(1)</script>".into()];
        let mut rng = Rng::new(7);
        let mut share = |class| {
            let mut browser = 0;
            for _ in 0..400 {
                let s = sample_of(&mut rng, &pool, class, "web").expect("one window");
                browser += usize::from(s.input.contains("\"Mozilla/5.0 ("));
            }
            browser as f64 / 400.0
        };
        let (benign, attack) = (share(Class::Norm), share(Class::Xss));
        assert!((benign - attack).abs() < 0.08, "{benign} vs {attack}");
        assert!(attack > 0.6, "{attack}");
    }
}
