//! A picture of a violation: a self-contained HTML page with an SVG
//! timeline of the offending key's operations around the one that could
//! not be placed, one lane per client, in the manner of porcupine's
//! visualisation. Green bars are in the longest order the checker could
//! justify (numbered in that order), the red bar is the operation it could
//! not place after them, grey bars are the rest; an operation without a
//! reply runs dashed to the right edge.

use crate::check::Violation;
use crate::history::{Kind, Op, Outcome};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

/// At most this many operations are drawn, the nearest to the culprit.
const SHOWN: usize = 24;
const LANE: f64 = 34.0;
const WIDTH: f64 = 1400.0;
const LEFT: f64 = 90.0;

/// Renders the page for one violation: a heading, the reason, a legend
/// and [`svg`].
pub fn render(history: &[Op], violation: &Violation, title: &str) -> String {
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body style=\"font-family:sans-serif\"><h2>{t}</h2><p>{r}</p>\
         <p>Green: the longest order the checker could justify, numbered. Red: the operation \
         it could not place after them. Grey: not placed. Dashed: no reply (may take effect \
         at any time after its call, or never). Hover a bar for its details.</p>\n{svg}</body></html>\n",
        t = escape(title),
        r = escape(&violation.reason),
        svg = svg(history, violation),
    )
}

/// The timeline alone, as a standalone SVG picture.
pub fn svg(history: &[Op], violation: &Violation) -> String {
    let shown = nearest(history, violation);
    let position: HashMap<usize, usize> = violation
        .order
        .iter()
        .enumerate()
        .map(|(n, &i)| (i, n + 1))
        .collect();
    let start = shown.iter().map(|&i| history[i].call).min().unwrap_or(0);
    let end = shown
        .iter()
        .map(|&i| history[i].ret.unwrap_or(history[i].call))
        .chain(shown.iter().map(|&i| history[i].call))
        .max()
        .unwrap_or(start)
        .max(start + 1);
    let x = |t: u64| {
        LEFT + (t.saturating_sub(start) as f64 / (end - start) as f64) * (WIDTH - LEFT - 20.0)
    };
    let lanes: BTreeMap<u32, usize> = shown
        .iter()
        .map(|&i| history[i].client)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .enumerate()
        .map(|(lane, client)| (client, lane))
        .collect();
    let height = lanes.len() as f64 * LANE + 40.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="monospace" font-size="11"><rect width="100%" height="100%" fill="white"/>"#
    );
    for (client, lane) in &lanes {
        let y = *lane as f64 * LANE + 20.0;
        let _ = writeln!(
            svg,
            r##"<text x="4" y="{}">client {client}</text><line x1="{LEFT}" x2="{WIDTH}" y1="{}" y2="{}" stroke="#eee"/>"##,
            y + 16.0,
            y + LANE - 4.0,
            y + LANE - 4.0
        );
    }
    // Where each lane's last label ends (about 7 px a character): a label
    // that would overlap it is left to its bar's tooltip.
    let mut free = vec![0.0f64; lanes.len()];
    for &i in &shown {
        let op = &history[i];
        let lane = lanes[&op.client];
        let y = lane as f64 * LANE + 22.0;
        let x0 = x(op.call);
        let x1 = op.ret.map_or(WIDTH - 10.0, x).max(x0 + 3.0);
        let (fill, label) = if violation.culprits.contains(&i) {
            ("#e05252", format!("{} ✗", short(op)))
        } else if let Some(n) = position.get(&i) {
            ("#6cc070", format!("{n}. {}", short(op)))
        } else {
            ("#c8c8c8", short(op))
        };
        let dash = if op.outcome == Outcome::Ok {
            ""
        } else {
            r#" stroke-dasharray="4 3""#
        };
        let _ = writeln!(
            svg,
            r##"<g><title>{}</title><rect x="{x0:.1}" y="{y}" width="{:.1}" height="24" rx="3" fill="{fill}" fill-opacity="0.8" stroke="#555"{dash}/><text x="{:.1}" y="{}">{}</text></g>"##,
            escape(&details(op, start)),
            x1 - x0,
            x0 + 3.0,
            y + 16.0,
            if x0 >= free[lane] || violation.culprits.contains(&i) {
                free[lane] = x0 + 4.0 + label.chars().count() as f64 * 7.0;
                escape(&label)
            } else {
                String::new()
            }
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="{}">{:.3} s</text><text x="{}" y="{}" text-anchor="end">{:.3} s</text></svg>"#,
        height - 4.0,
        start as f64 / 1e9,
        WIDTH - 10.0,
        height - 4.0,
        end as f64 / 1e9
    );
    svg
}

/// The operations to draw: the violation's, nearest in time to the first
/// culprit.
fn nearest(history: &[Op], violation: &Violation) -> Vec<usize> {
    let focus = violation.culprits.first().map_or(0, |&i| history[i].call);
    let mut ops = violation.ops.clone();
    ops.sort_by_key(|&i| history[i].call.abs_diff(focus));
    ops.truncate(SHOWN);
    // The culprits, and the writes of the values they read, however far.
    let read: Vec<&str> = violation
        .culprits
        .iter()
        .filter_map(|&c| match &history[c].kind {
            Kind::Read { value: Some(v) } => Some(v.as_str()),
            _ => None,
        })
        .collect();
    let wanted: Vec<usize> = violation
        .ops
        .iter()
        .copied()
        .filter(|&i| {
            violation.culprits.contains(&i)
                || matches!(&history[i].kind, Kind::Write { value } if read.contains(&value.as_str()))
        })
        .filter(|i| !ops.contains(i))
        .collect();
    ops.extend(wanted);
    ops.sort_by_key(|&i| history[i].call);
    ops
}

fn short(op: &Op) -> String {
    match &op.kind {
        Kind::Write { value } => format!("w {value}"),
        Kind::Read { value: Some(v) } => format!("r {v}"),
        Kind::Read { value: None } => "r nil".into(),
        Kind::Incr { value: Some(v) } => format!("+1 → {v}"),
        Kind::Incr { value: None } => "+1 → ?".into(),
    }
}

fn details(op: &Op, start: u64) -> String {
    let ret = op.ret.map_or("no reply".into(), |r| {
        format!("{:.6} s", (r - start) as f64 / 1e9)
    });
    format!(
        "{} key={:?} client={} node={} outcome={:?} call={:.6} s return={ret}{}",
        short(op),
        op.key,
        op.client,
        op.node,
        op.outcome,
        (op.call - start) as f64 / 1e9,
        op.error
            .as_ref()
            .map_or(String::new(), |e| format!(" error={e}"))
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
