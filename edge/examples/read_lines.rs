//! Line-reader throughput: reads one file through the agent's `LineReader` (no parsing, no
//! model) and prints lines, bytes and MB/s, the median of five passes.
//!
//! `cargo run --release -p opensoc-edge --example read_lines -- FILE`

use std::path::PathBuf;
use std::time::Instant;

use opensoc_edge::tail::discover::LogFile;
use opensoc_edge::tail::line_reader::LineReader;

fn main() -> anyhow::Result<()> {
    let path = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or_else(|| anyhow::anyhow!("usage: read_lines FILE"))?,
    );
    let file = LogFile {
        group: path.display().to_string(),
        path,
        compressed: false,
        live: false,
    };
    let mut rates = Vec::new();
    let (mut lines, mut bytes) = (0u64, 0u64);
    for _ in 0..5 {
        let t = Instant::now();
        let mut reader = LineReader::open(&file, 0)?;
        (lines, bytes) = (0, 0);
        while let Some(line) = reader.next_line(true)? {
            lines += 1;
            bytes = line.end;
        }
        rates.push(bytes as f64 / 1e6 / t.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    println!("{lines} lines, {bytes} bytes, median {:.0} MB/s", rates[2]);
    Ok(())
}
