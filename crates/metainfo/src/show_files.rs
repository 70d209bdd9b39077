//! The `-S` / `--show-files` listing, formatted like aria2c's so scripts
//! that scrape aria2's output keep working.

use std::fmt::Write;

use crate::torrent::Metainfo;

/// Formats `n` with thousands separators: `100006` → `100,006`.
pub fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// aria2's `abbrevSize`: `100006` → `97Ki`, `1536` → `1.5Ki`; 922 and up
/// roll over to the next unit as `0.9`.
pub fn abbrev_size(size: u64) -> String {
    const UNITS: [&str; 4] = ["", "Ki", "Mi", "Gi"];
    let (mut t, mut r, mut u) = (size, 0u64, 0usize);
    while t >= 1024 && u + 1 < UNITS.len() {
        r = t % 1024;
        t /= 1024;
        u += 1;
    }
    if u + 1 < UNITS.len() && t >= 922 {
        u += 1;
        r = t;
        t = 0;
    }
    let mut s = group_thousands(t);
    if t < 10 && u > 0 {
        let _ = write!(s, ".{}", r * 10 / 1024);
    }
    s.push_str(UNITS[u]);
    s
}

/// An RFC 1123 date (`Thu, 26 Nov 2026 07:00:58 GMT`) from Unix seconds.
pub fn http_date(secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        day,
        MONTHS[(month - 1).clamp(0, 11) as usize],
        year,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl Metainfo {
    /// The text `aria2c -S file.torrent` prints (after its "Printing…" line).
    pub fn show_files(&self) -> String {
        let mut o = String::from("*** BitTorrent File Information ***\n");
        if let Some(c) = &self.comment {
            let _ = writeln!(o, "Comment: {c}");
        }
        // aria2 prints no date for 0, as for none.
        if let Some(d) = self.creation_date.filter(|d| *d != 0) {
            let _ = writeln!(o, "Creation Date: {}", http_date(d));
        }
        if let Some(c) = &self.created_by {
            let _ = writeln!(o, "Created By: {c}");
        }
        let _ = writeln!(
            o,
            "Mode: {}",
            if self.multi_file { "multi" } else { "single" }
        );
        o.push_str("Announce:\n");
        for tier in &self.announce_list {
            for url in tier {
                let _ = write!(o, " {url}");
            }
            o.push('\n');
        }
        if let Some(h) = self.info_hash_v1 {
            let _ = writeln!(o, "Info Hash: {}", hex::encode(h));
        }
        if let Some(h) = self.info_hash_v2 {
            let _ = writeln!(o, "Info Hash v2: {}", hex::encode(h));
        }
        let _ = writeln!(o, "Piece Length: {}B", abbrev_size(self.piece_length));
        let _ = writeln!(o, "The Number of Pieces: {}", self.piece_count);
        let _ = writeln!(
            o,
            "Total Length: {}B ({})",
            abbrev_size(self.total_length),
            group_thousands(self.total_length)
        );
        if !self.url_list.is_empty() {
            o.push_str("URL List:\n");
            for u in &self.url_list {
                let _ = writeln!(o, " {u}");
            }
        }
        if !self.nodes.is_empty() {
            o.push_str("Nodes:\n");
            for (host, port) in &self.nodes {
                let _ = writeln!(o, " {host}:{port}");
            }
        }
        let _ = writeln!(o, "Name: {}", self.raw_name);
        let _ = writeln!(o, "Magnet URI: {}", self.magnet_uri());
        o.push_str("Files:\nidx|path/length\n");
        let _ = writeln!(o, "===+{}", "=".repeat(75));
        for (i, f) in self.files.iter().enumerate() {
            let _ = writeln!(o, "{:>3}|./{}", i + 1, f.components.join("/"));
            let _ = writeln!(
                o,
                "   |{}B ({})",
                abbrev_size(f.length),
                group_thousands(f.length)
            );
            let _ = writeln!(o, "---+{}", "-".repeat(75));
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_aria2() {
        assert_eq!(abbrev_size(6), "6");
        assert_eq!(abbrev_size(100_006), "97Ki");
        assert_eq!(abbrev_size(262_144), "256Ki");
        assert_eq!(abbrev_size(1536), "1.5Ki");
        assert_eq!(abbrev_size(1000 * 1024), "0.9Mi");
        assert_eq!(abbrev_size(5 << 40), "5,120Gi");
        assert_eq!(group_thousands(1_234_567), "1,234,567");
        assert_eq!(group_thousands(0), "0");
    }

    #[test]
    fn dates() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(http_date(-1), "Wed, 31 Dec 1969 23:59:59 GMT");
    }
}
