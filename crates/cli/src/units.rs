//! Numbers the way aria2 prints them.

pub use arietta_metainfo::abbrev_size;

/// aria2's console size formatter: `--human-readable` (the default)
/// abbreviates (`1.2Mi`), `--human-readable=false` prints plain bytes.
/// The caller appends `B`, as aria2 does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SizeFormat {
    pub human: bool,
}

impl SizeFormat {
    pub fn fmt(self, n: u64) -> String {
        if self.human {
            abbrev_size(n)
        } else {
            n.to_string()
        }
    }
}

/// aria2's `secfmt`: `4m51s`, `1h2m3s`, `1h5s`, `1h`, `0s`.
pub fn eta(secs: u64) -> String {
    let mut s = String::new();
    let mut rest = secs;
    if rest >= 3600 {
        s.push_str(&format!("{}h", rest / 3600));
        rest %= 3600;
    }
    if rest >= 60 {
        s.push_str(&format!("{}m", rest / 60));
        rest %= 60;
    }
    if rest > 0 || secs == 0 {
        s.push_str(&format!("{rest}s"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_aria2() {
        let human = SizeFormat { human: true };
        assert_eq!(human.fmt(0), "0");
        assert_eq!(human.fmt(409_600), "400Ki");
        assert_eq!(human.fmt(34_812_723), "33Mi");
        assert_eq!(human.fmt(9_961_472), "9.5Mi");
        assert_eq!(SizeFormat { human: false }.fmt(34_812_723), "34812723");
        assert_eq!(eta(291), "4m51s");
        assert_eq!(eta(3723), "1h2m3s");
        assert_eq!(eta(3605), "1h5s");
        assert_eq!(eta(3600), "1h");
        assert_eq!(eta(0), "0s");
        assert_eq!(eta(5), "5s");
    }
}
