//! Reads log lines on stdin and prints those that the detector of text addressed to the
//! analyzer (`opensoc::signals::addressed`) flags, then the count on stderr
//! (`scripts/addressed-sets.sh` runs it over the phrasing sets).

use std::io::BufRead;
fn main() {
    let stdin = std::io::stdin();
    let mut n = 0usize;
    let mut hits = 0usize;
    for line in stdin.lock().lines().map_while(Result::ok) {
        n += 1;
        if opensoc::signals::addressed::addressed_to_analyzer(&line) {
            hits += 1;
            println!("{line}");
        }
    }
    eprintln!("{hits} of {n}");
}
