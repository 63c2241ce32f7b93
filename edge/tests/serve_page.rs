//! `opensoc serve`'s page in a real headless Chromium, driven through chromedriver
//! (WebDriver): the real binary, model and store, as an admin clicks through it.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). With
//! `OPENSOC_SCREENSHOTS=DIR` the tests also save the screenshots the README shows.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "common/cli.rs"]
mod cli;
#[path = "common/serve.rs"]
mod serve;
use cli::{opensoc, scan_ok, stored, text};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use serve::Server;

/// A headless Chromium under its own chromedriver, gone when dropped.
struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn program(name: &str) -> PathBuf {
    let path = Path::new("/usr/bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: install Debian's chromium and chromium-driver (.ci/run does)",
        path.display()
    );
    path
}

/// Starts chromedriver on a free port and a headless Chromium session `width` pixels wide.
async fn browser(width: u32) -> Browser {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = Command::new(program("chromedriver"))
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "chromedriver did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": program("chromium"),
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                format!("--user-data-dir={}", profile.path().display()),
                format!("--window-size={width},1000"),
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session");
    Browser {
        client,
        driver,
        _profile: profile,
    }
}

/// Waits until `script` (a function body returning a value) returns something truthy.
async fn until(c: &Client, what: &str, secs: u64, script: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = c.execute(script, vec![]).await.expect("run a script");
        let truthy =
            !matches!(&v, Value::Null | Value::Bool(false)) && v != json!(0) && v != json!("");
        if truthy {
            return v;
        }
        assert!(Instant::now() < deadline, "waited {secs} s for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Clicks the element with this id.
async fn click(c: &Client, id: &str) {
    c.find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking #{id}: {e}"));
}

/// Types `keys` into the element with this id (a file input takes a path).
async fn type_into(c: &Client, id: &str, keys: &str) {
    c.find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"))
        .send_keys(keys)
        .await
        .unwrap_or_else(|e| panic!("typing into #{id}: {e}"));
}

/// Waits until the verdict card of the single tab is filled.
async fn card_done(c: &Client) {
    until(
        c,
        "the verdict card",
        120,
        "return document.getElementById('verdict-card').dataset.state === 'done';",
    )
    .await;
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

async fn screenshot(c: &Client, name: &str) {
    if let Some(dir) = std::env::var_os("OPENSOC_SCREENSHOTS") {
        let png = c.screenshot().await.expect("a screenshot");
        std::fs::write(Path::new(&dir).join(name), png).expect("write the screenshot");
    }
}

/// Whether the page is wider than the window (a horizontal scroll bar).
async fn scrolls_sideways(c: &Client) -> bool {
    c.execute(
        "return document.documentElement.scrollWidth > document.documentElement.clientWidth + 1;",
        vec![],
    )
    .await
    .unwrap()
        == json!(true)
}

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/samples")
}

const SQLI: &str = "198.51.100.23 - - [27/Nov/2026:09:41:00 +0000] \"GET /products.php?id=1 \
                    UNION SELECT username,password FROM users-- HTTP/1.1\" 200 5120 \"-\" \
                    \"sqlmap/1.7\"";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pasted_entry_gets_its_card_and_an_uploaded_file_reaches_100_percent() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("v.db"), &[]);
    let b = browser(1200).await;
    let c = &b.client;
    c.goto(&format!("{}/", server.url)).await.unwrap();

    // Single tab: paste, analyse, read the card.
    type_into(c, "log-input", SQLI).await;
    click(c, "analyze").await;
    card_done(c).await;
    let threat = text_of(c, "#verdict-card [data-field=threat_type]").await;
    assert!(threat.starts_with("SQL Injection"), "{threat}");
    let severity = text_of(c, "#verdict-card [data-field=severity]").await;
    assert!(severity == "CRITICAL" || severity == "HIGH", "{severity}");
    assert_eq!(text_of(c, "#count-total").await, "1");
    assert_eq!(text_of(c, "#count-critical-high").await, "1");
    assert_eq!(
        c.find_all(Locator::Css("#history li")).await.unwrap().len(),
        1
    );
    screenshot(c, "serve-analyze.png").await;

    // Batch tab: upload the sample auth.log and follow it to the end.
    click(c, "tab-batch").await;
    let log = samples().join("auth.log").canonicalize().unwrap();
    type_into(c, "batch-file", log.to_str().unwrap()).await;
    click(c, "batch-start").await;
    until(
        c,
        "the upload to finish",
        300,
        "return document.getElementById('batch-status').textContent === 'done';",
    )
    .await;
    assert_eq!(text_of(c, "#batch-percent").await, "100%");
    let progress = c
        .execute(
            "return document.getElementById('batch-progress').value;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(progress.as_f64(), Some(100.0));
    let rows = c
        .find_all(Locator::Css("#batch-results tbody tr"))
        .await
        .unwrap()
        .len();
    assert!(rows >= 10, "one row per source and window, {rows} shown");
    let table = text_of(c, "#batch-results").await;
    assert!(table.contains("185.220.101.33"), "{table}");
    assert_eq!(text_of(c, "#count-total").await, (rows + 1).to_string());
    screenshot(c, "serve-batch.png").await;

    // A phone's width: nothing scrolls sideways, the card included.
    c.set_window_size(375, 900).await.unwrap();
    click(c, "tab-single").await;
    assert!(
        !scrolls_sideways(c).await,
        "the single tab scrolls sideways at 375 px"
    );
    click(c, "tab-batch").await;
    assert!(
        !scrolls_sideways(c).await,
        "the batch tab scrolls sideways at 375 px"
    );
    screenshot(c, "serve-phone.png").await;
}

/// Log lines whose text is markup that would run if the page ever parsed it.
const HOSTILE: &str = "203.0.113.66 - - [27/Nov/2026:11:00:00 +0000] \"GET \
    /search?q=<script>window.__xss=1</script> HTTP/1.1\" 200 512 \"javascript:window.__xss=3\" \
    \"<img src=x onerror=window.__xss=2>\"\n\
    203.0.113.66 - - [27/Nov/2026:11:00:01 +0000] \"GET /a?b=<svg/onload=window.__xss=4> \
    HTTP/1.1\" 404 0 \"-\" \"Mozilla/5.0\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_view_filters_exports_what_the_cli_exports_and_shows_log_text_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v.db");
    let hostile = dir.path().join("hostile.log");
    std::fs::write(&hostile, HOSTILE).unwrap();
    scan_ok(&db, &hostile);
    scan_ok(&db, &samples().join("windows-security.txt"));
    let server = Server::start(&db, &[]);
    let b = browser(1200).await;
    let c = &b.client;
    c.goto(&format!("{}/", server.url)).await.unwrap();
    let title = c.title().await.unwrap();
    click(c, "tab-store").await;

    let cli_rows = |args: &[&str]| -> String {
        let out = opensoc()
            .args(["verdicts", "--format", "csv", "--db"])
            .arg(&db)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let every = cli_rows(&[]).lines().count() - 1;
    until(
        c,
        "the store table",
        60,
        &format!("return document.querySelectorAll('#store-table tbody tr').length === {every};"),
    )
    .await;
    until(
        c,
        "the charts",
        30,
        "return document.querySelectorAll('#chart-severity rect').length > 0;",
    )
    .await;
    screenshot(c, "serve-store.png").await;

    // Filtered to HIGH and above: the page's rows and its CSV are the command's.
    c.execute(
        "const s = document.getElementById('f-min-severity'); s.value = 'HIGH'; \
         s.dispatchEvent(new Event('change'));",
        vec![],
    )
    .await
    .unwrap();
    click(c, "f-apply").await;
    let want = cli_rows(&["--min-severity", "HIGH"]);
    let high = want.lines().count() - 1;
    assert!(high >= 1, "the samples hold findings: {want}");
    assert!(high < every, "the filter leaves rows out");
    until(
        c,
        "the filtered table",
        60,
        &format!("return document.querySelectorAll('#store-table tbody tr').length === {high};"),
    )
    .await;
    let csv = c
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             fetch(document.getElementById('store-csv').href).then(r => r.text()).then(done);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(csv.as_str(), Some(want.as_str()));

    // The hostile window in full: its markup shows as text and nothing of it ran.
    c.execute(
        "const s = document.getElementById('f-min-severity'); s.value = ''; \
         s.dispatchEvent(new Event('change')); \
         document.getElementById('f-source').value = 'hostile';",
        vec![],
    )
    .await
    .unwrap();
    click(c, "f-apply").await;
    let row = until(
        c,
        "the hostile rows",
        60,
        "const r = document.querySelectorAll('#store-table tbody tr'); \
         return r.length > 0 && Array.from(r).every(t => t.textContent.includes('203.0.113.66')) \
         ? r[0].dataset.id : null;",
    )
    .await;
    let row = row.as_str().unwrap().to_string();
    c.find(Locator::Css(&format!(
        "#store-table tbody tr[data-id='{row}']"
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    let lines = until(
        c,
        "the finding's lines",
        30,
        "return document.getElementById('detail-lines').textContent;",
    )
    .await;
    let lines = lines.as_str().unwrap();
    assert!(
        lines.contains("<script>window.__xss=1</script>")
            && lines.contains("<img src=x onerror=window.__xss=2>"),
        "{lines}"
    );
    // Pasted into the single tab too.
    click(c, "tab-single").await;
    type_into(c, "log-input", HOSTILE).await;
    click(c, "analyze").await;
    card_done(c).await;
    let ran = c
        .execute(
            "return [typeof window.__xss, document.querySelectorAll('main img, main script, \
             main svg:not([id^=chart]) , main [onerror], main [onload]').length, \
             Array.from(document.querySelectorAll('a')).filter(a => \
             a.href.startsWith('javascript:')).length];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(ran, json!(["undefined", 0, 0]), "a payload became markup");
    assert_eq!(c.title().await.unwrap(), title);

    // Verdicts stored while the page is open appear without a reload, those the filters
    // leave out excepted.
    click(c, "tab-store").await;
    c.execute(
        "document.getElementById('f-source').value = 'auth.log';",
        vec![],
    )
    .await
    .unwrap();
    click(c, "f-apply").await;
    until(
        c,
        "the table filtered to a log not scanned yet",
        60,
        "return document.querySelectorAll('#store-table tbody tr').length === 0 \
         && document.getElementById('live-status').textContent === 'live';",
    )
    .await;
    let other = dir.path().join("other.log");
    std::fs::write(&other, HOSTILE).unwrap();
    scan_ok(&db, &other);
    scan_ok(&db, &samples().join("auth.log"));
    let auth = stored(&db)
        .iter()
        .filter(|v| v["source"].as_str().unwrap().contains("auth.log"))
        .count();
    let check = format!(
        "const r = document.querySelectorAll('#store-table tbody tr.new'); \
         return r.length === {auth} ? Array.from(r).map(t => t.textContent) : null;"
    );
    until(c, "the live rows", 120, &check).await;
    // The other log's verdicts came first: had the filter let them in, they would be here.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rows = until(c, "the live rows still", 5, &check).await;
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r.as_str().unwrap().contains("auth.log")),
        "a row of another log came in live: {rows:?}"
    );
    assert_eq!(text_of(c, "#live-status").await, "live");
}
