//! The loss curve as a self-contained SVG picture.

use std::fmt::Write;

use crate::train::LossRecord;

/// A line chart of loss per step, with axis ticks and the first and last values labelled.
pub fn loss_svg(records: &[LossRecord]) -> String {
    let (w, h, left, bottom, top, right) = (720.0, 360.0, 60.0, 40.0, 20.0, 20.0);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
    );
    s.push_str(r#"<rect width="100%" height="100%" fill="white"/>"#);
    if records.is_empty() {
        s.push_str(r#"<text x="20" y="30">no steps logged</text></svg>"#);
        return s;
    }
    let max_step = records.iter().map(|r| r.step).max().unwrap_or(1).max(1) as f64;
    let max_loss = records
        .iter()
        .map(|r| r.loss as f64)
        .filter(|l| l.is_finite())
        .fold(0.0, f64::max)
        .max(1e-6);
    let x = |step: usize| left + (w - left - right) * step as f64 / max_step;
    let y = |loss: f64| top + (h - top - bottom) * (1.0 - loss / max_loss);
    // Axes and ticks.
    let _ = write!(
        s,
        r#"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="black"/><line x1="{left}" y1="{top}" x2="{left}" y2="{}" stroke="black"/>"#,
        h - bottom,
        w - right,
        h - bottom,
        h - bottom
    );
    for i in 0..=4 {
        let v = max_loss * i as f64 / 4.0;
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" text-anchor="end">{v:.2}</text><line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="#ddd"/>"##,
            left - 6.0,
            y(v) + 4.0,
            y(v),
            w - right,
            y(v)
        );
    }
    for i in 0..=4 {
        let st = (max_step * i as f64 / 4.0).round() as usize;
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{st}</text>"#,
            x(st),
            h - bottom + 16.0
        );
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">optimiser step</text><text x="14" y="{}" transform="rotate(-90 14 {})" text-anchor="middle">loss</text>"#,
        (left + w - right) / 2.0,
        h - 6.0,
        h / 2.0,
        h / 2.0
    );
    let points: Vec<String> = records
        .iter()
        .filter(|r| r.loss.is_finite())
        .map(|r| format!("{:.1},{:.1}", x(r.step), y(r.loss as f64)))
        .collect();
    let _ = write!(
        s,
        r##"<polyline fill="none" stroke="#1f5fa8" stroke-width="2" points="{}"/>"##,
        points.join(" ")
    );
    if let (Some(first), Some(last)) = (records.first(), records.last()) {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}">{:.4}</text><text x="{}" y="{}" text-anchor="end">{:.4}</text>"#,
            x(first.step) + 4.0,
            y(first.loss as f64) - 6.0,
            first.loss,
            x(last.step) - 4.0,
            y(last.loss as f64) - 6.0,
            last.loss
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plots_every_step_and_labels_the_ends() {
        let recs: Vec<LossRecord> = (1..=5)
            .map(|i| LossRecord {
                step: i,
                epoch: 1,
                loss: 2.0 / i as f32,
                lr: 1e-4,
                grad_norm: 1.0,
                tokens: 100,
                elapsed_s: i as f64,
            })
            .collect();
        let svg = loss_svg(&recs);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        let poly = svg.split("points=\"").nth(1).unwrap();
        assert_eq!(poly.split('"').next().unwrap().split(' ').count(), 5);
        assert!(svg.contains("2.0000") && svg.contains("0.4000"));
        assert!(loss_svg(&[]).contains("no steps"));
    }
}
