//! Line-reader throughput: reads files through the agent's `LineReader` (no parsing, no
//! model) and prints lines (records, for a Windows event log), lines/s and MB/s of content,
//! the median of five passes over all the files.
//!
//! `cargo run --release -p opensoc-edge --example read_lines -- FILE...`

use std::path::PathBuf;
use std::time::Instant;

use opensoc_edge::tail::discover::discover;
use opensoc_edge::tail::line_reader::LineReader;

fn main() -> anyhow::Result<()> {
    let paths: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    anyhow::ensure!(!paths.is_empty(), "usage: read_lines FILE...");
    // Discovery decides each file's compression from its magic bytes, as a scan does.
    let found = discover(&paths);
    if let Some((path, why)) = found.problems.first() {
        anyhow::bail!("{}: {why}", path.display());
    }
    let sizes: u64 = paths
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()))
        .sum::<std::io::Result<u64>>()?;
    let mut secs = Vec::new();
    let mut lines = 0u64;
    for _ in 0..5 {
        let t = Instant::now();
        lines = 0;
        for file in &found.files {
            let mut reader = LineReader::open(file, 0)?;
            while reader.next_line(true)?.is_some() {
                lines += 1;
            }
        }
        secs.push(t.elapsed().as_secs_f64());
    }
    secs.sort_by(f64::total_cmp);
    let median = secs[2];
    println!(
        "{} files, {lines} lines, {sizes} bytes on disk: median {:.3} s, {:.0} lines/s, {:.0} MB/s",
        found.files.len(),
        median,
        lines as f64 / median,
        sizes as f64 / 1e6 / median
    );
    Ok(())
}
