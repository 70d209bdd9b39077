//! `--select-file` / `--index-out` index lists.

use crate::error::Error;

/// Parses a 1-based index list like `1-5,8,9` into a mask of `count` files.
/// Out-of-range, zero and reversed ranges are errors rather than silently
/// ignored: a typo should not download (or skip) the wrong files.
pub fn select_files(spec: &str, count: usize) -> Result<Vec<bool>, Error> {
    let bad = |reason: &str| Error::Selection {
        spec: spec.to_owned(),
        reason: reason.to_owned(),
    };
    let parse = |s: &str| -> Result<usize, Error> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("not a number"));
        }
        let n: usize = s.parse().map_err(|_| bad("number too large"))?;
        if n == 0 || n > count {
            return Err(bad(&format!("index {n} out of range 1-{count}")));
        }
        Ok(n)
    };
    let mut mask = vec![false; count];
    if spec.trim().is_empty() {
        return Err(bad("empty"));
    }
    for part in spec.split(',') {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (parse(a)?, parse(b)?),
            None => {
                let n = parse(part)?;
                (n, n)
            }
        };
        if lo > hi {
            return Err(bad("reversed range"));
        }
        for m in mask.iter_mut().take(hi).skip(lo - 1) {
            *m = true;
        }
    }
    Ok(mask)
}

/// Parses one `--index-out=INDEX=PATH` value. The path comes from the user,
/// not the torrent, so it is trusted as written (aria2 does the same) and
/// only required to be non-empty; it is relative to `--dir`.
pub fn parse_index_out(value: &str) -> Result<(usize, std::path::PathBuf), Error> {
    let bad = |reason: &str| Error::Selection {
        spec: value.to_owned(),
        reason: reason.to_owned(),
    };
    let (index, path) = value
        .split_once('=')
        .ok_or_else(|| bad("expected INDEX=PATH"))?;
    let index: usize = index
        .trim()
        .parse()
        .ok()
        .filter(|&i| i > 0)
        .ok_or_else(|| bad("index must be a positive number"))?;
    if path.is_empty() {
        return Err(bad("empty path"));
    }
    Ok((index, std::path::PathBuf::from(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_singles() {
        assert_eq!(
            select_files("1-3,5", 6).unwrap(),
            vec![true, true, true, false, true, false]
        );
        assert_eq!(select_files(" 2 ", 2).unwrap(), vec![false, true]);
        assert_eq!(select_files("2,1-2", 2).unwrap(), vec![true, true]);
    }

    #[test]
    fn index_out() {
        assert_eq!(
            parse_index_out("2=dir/x.bin").unwrap(),
            (2, std::path::PathBuf::from("dir/x.bin"))
        );
        for bad in ["2", "0=x", "a=x", "3=", "-1=x"] {
            assert!(parse_index_out(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rejects_bad_specs() {
        for s in [
            "",
            "0",
            "7",
            "1-7",
            "3-1",
            "a",
            "1,,2",
            "-1",
            "1-",
            "+1",
            "99999999999999999999999",
        ] {
            assert!(select_files(s, 6).is_err(), "{s:?}");
        }
    }
}
