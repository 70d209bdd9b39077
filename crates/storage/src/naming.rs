use std::path::{Path, PathBuf};

/// Makes a name from the network (URL path, Content-Disposition) safe to
/// use as a single file name inside the download directory.
pub fn sanitize_file_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|c| *c != '\0' && !c.is_control())
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        None
    } else {
        Some(cleaned.to_string())
    }
}

/// aria2's `--auto-file-renaming`: `file.bin` → `file.1.bin`, `file.2.bin`…
/// up to 9999; the first name for which neither the file nor its control
/// file exists.
pub fn auto_rename(path: &Path) -> Option<PathBuf> {
    let dir = path.parent().unwrap_or(Path::new(""));
    let name = path.file_name()?.to_string_lossy().into_owned();
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name.as_str(), ""),
    };
    let free = (1..=9999).find_map(|n| {
        let p = dir.join(format!("{stem}.{n}{ext}"));
        let taken = p.exists() || crate::control_path(&p).exists();
        (!taken).then_some(p)
    });
    match &free {
        Some(p) => tracing::info!("{} exists; renaming to {}.", path.display(), p.display()),
        None => tracing::warn!("{} exists and no free name is left.", path.display()),
    }
    free
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes() {
        assert_eq!(
            sanitize_file_name("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(sanitize_file_name("a\\b.txt").as_deref(), Some("b.txt"));
        assert_eq!(sanitize_file_name(".."), None);
        assert_eq!(sanitize_file_name("x\0y").as_deref(), Some("xy"));
        assert_eq!(sanitize_file_name("dir/"), None);
    }

    #[test]
    fn renames_like_aria2() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("file.bin");
        std::fs::write(&p, b"x").unwrap();
        assert_eq!(auto_rename(&p).unwrap(), d.path().join("file.1.bin"));
        std::fs::write(d.path().join("file.1.bin"), b"x").unwrap();
        assert_eq!(auto_rename(&p).unwrap(), d.path().join("file.2.bin"));
        let q = d.path().join("noext");
        assert_eq!(auto_rename(&q).unwrap(), d.path().join("noext.1"));
    }
}
