//! Numbers the way aria2 prints them.

/// `400.0KiB`, `33.2MiB`, `512B`.
pub fn abbrev_size(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut v = n as f64 / 1024.0;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    format!("{:.1}{}", v, UNITS[u])
}

/// `4m51s`, `1h2m3s`, `12s`.
pub fn eta(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_aria2() {
        assert_eq!(abbrev_size(0), "0B");
        assert_eq!(abbrev_size(409_600), "400.0KiB");
        assert_eq!(abbrev_size(34_812_723), "33.2MiB");
        assert_eq!(eta(291), "4m51s");
        assert_eq!(eta(3723), "1h2m3s");
        assert_eq!(eta(5), "5s");
    }
}
