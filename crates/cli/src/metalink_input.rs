//! Metalink documents named on the command line: `-M FILE` (`-` for
//! standard input) and `.meta4`/`.metalink` files given in place of URIs,
//! as aria2 accepts them; and `-S` listings of their files.

use std::io::Read;
use std::path::Path;

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

/// aria2's `-S` listing of files (`util::toStream`): names as the
/// document gives them, and declared sizes (0 when none).
pub fn show_files(files: &[(String, Option<u64>)]) -> String {
    let mut s = String::from("Files:\nidx|path/length\n===+");
    s.push_str(&"=".repeat(75));
    s.push('\n');
    for (i, (name, size)) in files.iter().enumerate() {
        let size = size.unwrap_or(0);
        s.push_str(&format!(
            "{:>3}|{name}\n   |{}B ({})\n---+{}\n",
            i + 1,
            crate::units::abbrev_size(size),
            arietta_metainfo::group_thousands(size),
            "-".repeat(75),
        ));
    }
    s
}
