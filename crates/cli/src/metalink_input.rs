//! Metalink documents named on the command line: `-M FILE` (`-` for
//! standard input) and `.meta4`/`.metalink` files given in place of URIs,
//! as aria2 accepts them; and `-S` listings of their files.

use std::io::Read;
use std::path::Path;

use arietta_core::MetalinkPlan;

/// Whether a command-line argument is a local metalink document rather
/// than a URI: an existing file with a metalink name, or one whose start
/// reads like a metalink.
pub fn is_local_metalink(arg: &str) -> bool {
    if arg.contains("://") {
        return false;
    }
    let p = Path::new(arg);
    if !p.is_file() {
        return false;
    }
    if arietta_core::looks_like_metalink(arg, None) {
        return true;
    }
    let mut head = [0u8; 1024];
    let n = std::fs::File::open(p)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    let text = String::from_utf8_lossy(&head[..n]);
    text.trim_start().starts_with("<?xml") && text.contains("<metalink")
}

/// Reads a metalink source: a path, or `-` for standard input. The size is
/// capped just above the parser's limit so a huge file is refused without
/// being read whole.
pub fn read_source(source: &str) -> std::io::Result<Vec<u8>> {
    let cap = arietta_core::METALINK_MAX_BYTES as u64 + 1;
    let mut out = Vec::new();
    if source == "-" {
        std::io::stdin().take(cap).read_to_end(&mut out)?;
    } else {
        std::fs::File::open(source)?
            .take(cap)
            .read_to_end(&mut out)?;
    }
    Ok(out)
}

/// aria2's `-S` listing of a metalink's files.
pub fn show_files(plan: &MetalinkPlan, dir: &str) -> String {
    let rule = "-".repeat(75);
    let mut s = String::from("Files:\nidx|path/length\n===+");
    s.push_str(&"=".repeat(75));
    s.push('\n');
    for (i, r) in plan.requests.iter().enumerate() {
        let (name, size) = r
            .metalink
            .as_ref()
            .map(|m| (m.name.as_str(), m.size.unwrap_or(0)))
            .unwrap_or(("", 0));
        s.push_str(&format!(
            "{:>3}|{}/{}\n   |{} ({})\n---+{rule}\n",
            i + 1,
            dir.trim_end_matches('/'),
            name,
            crate::units::abbrev_size(size),
            group_thousands(size),
        ));
    }
    s
}

/// `1048576` → `1,048,576`.
fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
