//! Browser cookie databases for `--load-cookies`: Firefox's
//! `cookies.sqlite` (`moz_cookies`) and Chromium's `Cookies` (`cookies`),
//! as aria2 reads them.
//!
//! The rows come out as a Netscape `cookies.txt`, the one format the HTTP
//! crate's cookie jar loads, so the jar keeps a single import path with its
//! own validation. A running browser holds a lock on its database: it is
//! opened read-only with SQLite's `immutable=1`, which reads without taking
//! or honouring locks (the browser's in-flight writes may be missed, which
//! is what aria2 gets too).
//!
//! Chromium's encrypted `encrypted_value` column is not decrypted (that
//! needs the OS keyring); only plain `value`s are used, as in aria2.
#![deny(unsafe_op_in_unsafe_fn)]

use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

/// The 16-byte header every SQLite 3 database starts with.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// Seconds from 1601-01-01 (Chromium's epoch) to 1970-01-01.
const WINDOWS_TO_UNIX_SECS: i64 = 11_644_473_600;

/// Why a cookie database could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot read cookie database {path}: {source}")]
    Sqlite {
        path: String,
        source: rusqlite::Error,
    },
    #[error("{0} has neither a moz_cookies nor a cookies table")]
    UnknownSchema(String),
}

/// The SQLite library's version (`3.50.4`), for `-v`'s "Libraries:"
/// line (aria2 lists `sqlite3/…` there).
pub fn sqlite_version() -> &'static str {
    rusqlite::version()
}

/// Whether `path` is an SQLite database (checked by its header, as aria2
/// does, so the file name does not matter).
pub fn is_sqlite(path: &Path) -> bool {
    let mut head = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head == SQLITE_MAGIC
}

/// The browser a database came from, by its schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Browser {
    Firefox,
    Chromium,
}

/// Reads every cookie of a Firefox or Chromium database and renders them
/// as Netscape `cookies.txt` lines.
pub fn to_netscape(path: &Path) -> Result<(Browser, String), Error> {
    let name = path.display().to_string();
    let sql = |source| Error::Sqlite {
        path: name.clone(),
        source,
    };
    let conn = Connection::open_with_flags(
        immutable_uri(path),
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(sql)?;
    let has_table = |t: &str| -> Result<bool, Error> {
        conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [t],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .map_err(sql)
    };
    let (browser, query) = if has_table("moz_cookies")? {
        (
            Browser::Firefox,
            "SELECT host, path, isSecure, expiry, name, value, isHttpOnly FROM moz_cookies"
                .to_owned(),
        )
    } else if has_table("cookies")? {
        // Chromium renamed `secure`/`httponly` to `is_secure`/`is_httponly`.
        let cols = column_names(&conn, "cookies").map_err(sql)?;
        let pick = |new: &'static str, old: &'static str| {
            if cols.iter().any(|c| c == new) {
                new
            } else if cols.iter().any(|c| c == old) {
                old
            } else {
                "0"
            }
        };
        (
            Browser::Chromium,
            format!(
                "SELECT host_key, path, {}, expires_utc, name, value, {} FROM cookies",
                pick("is_secure", "secure"),
                pick("is_httponly", "httponly")
            ),
        )
    } else {
        return Err(Error::UnknownSchema(name));
    };
    let mut stmt = conn.prepare(&query).map_err(sql)?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Row {
                host: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                path: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                secure: r.get::<_, Option<i64>>(2)?.unwrap_or(0) != 0,
                expiry: r.get::<_, Option<i64>>(3)?.unwrap_or(0),
                name: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                value: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                http_only: r.get::<_, Option<i64>>(6)?.unwrap_or(0) != 0,
            })
        })
        .map_err(sql)?;
    let mut out = String::from("# Netscape HTTP Cookie File\n");
    for row in rows {
        // One undecodable row (a BLOB where text was expected) is skipped,
        // like a malformed cookies.txt line.
        let Ok(row) = row else { continue };
        row.render(browser, &mut out);
    }
    Ok((browser, out))
}

struct Row {
    host: String,
    path: String,
    secure: bool,
    expiry: i64,
    name: String,
    value: String,
    http_only: bool,
}

impl Row {
    fn render(&self, browser: Browser, out: &mut String) {
        if self.host.is_empty() || self.name.is_empty() {
            return;
        }
        let unix_expiry = match browser {
            // Firefox stored seconds, and milliseconds since version 125.
            Browser::Firefox if self.expiry > 100_000_000_000 => self.expiry / 1000,
            Browser::Firefox => self.expiry,
            // Microseconds since 1601; 0 marks a session cookie.
            Browser::Chromium if self.expiry <= 0 => 0,
            Browser::Chromium => (self.expiry / 1_000_000 - WINDOWS_TO_UNIX_SECS).max(1),
        };
        let subdomains = self.host.starts_with('.');
        let _ = writeln!(
            out,
            "{}{}\t{}\t{}\t{}\t{}\t{}\t{}",
            if self.http_only { "#HttpOnly_" } else { "" },
            self.host,
            if subdomains { "TRUE" } else { "FALSE" },
            if self.path.is_empty() {
                "/"
            } else {
                &self.path
            },
            if self.secure { "TRUE" } else { "FALSE" },
            unix_expiry,
            self.name,
            self.value
        );
    }
}

fn column_names(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!("PRAGMA table_info({table})"))?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(1))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(names)
}

/// `file:PATH?immutable=1` with the characters URI syntax reserves escaped.
fn immutable_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for b in path.as_os_str().as_encoded_bytes() {
        match b {
            b'?' | b'#' | b'%' | b' ' => {
                let _ = write!(uri, "%{b:02X}");
            }
            _ => uri.push(*b as char),
        }
    }
    // Non-ASCII bytes were pushed as Latin-1 chars above; re-encode them.
    let mut fixed = String::with_capacity(uri.len());
    for c in uri.chars() {
        if c.is_ascii() {
            fixed.push(c);
        } else {
            let _ = write!(fixed, "%{:02X}", c as u32);
        }
    }
    fixed.push_str("?immutable=1");
    fixed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firefox_and_chromium_rows_become_netscape_lines() {
        let dir = tempfile::tempdir().unwrap();
        let ff = dir.path().join("cookies #1.sqlite");
        let c = Connection::open(&ff).unwrap();
        c.execute_batch(
            "CREATE TABLE moz_cookies (id INTEGER PRIMARY KEY, name TEXT, value TEXT, host TEXT,
               path TEXT, expiry INTEGER, isSecure INTEGER, isHttpOnly INTEGER);
             INSERT INTO moz_cookies (name, value, host, path, expiry, isSecure, isHttpOnly)
               VALUES ('a', '1', '.example.org', '/', 4102444800, 0, 1),
                      ('b', '2', 'host.example', '/p', 4102444800000, 1, 0);",
        )
        .unwrap();
        drop(c);
        assert!(is_sqlite(&ff));
        let (b, text) = to_netscape(&ff).unwrap();
        assert_eq!(b, Browser::Firefox);
        assert!(text.contains("#HttpOnly_.example.org\tTRUE\t/\tFALSE\t4102444800\ta\t1\n"));
        assert!(text.contains("host.example\tFALSE\t/p\tTRUE\t4102444800\tb\t2\n"));

        let cr = dir.path().join("Cookies");
        let c = Connection::open(&cr).unwrap();
        c.execute_batch(
            "CREATE TABLE cookies (host_key TEXT, name TEXT, value TEXT, path TEXT,
               expires_utc INTEGER, is_secure INTEGER, is_httponly INTEGER, encrypted_value BLOB);
             INSERT INTO cookies VALUES ('.example.org', 'c', '3', '/', 13000000000000000, 0, 0, x'');
             INSERT INTO cookies VALUES ('example.org', 'd', '4', '/', 0, 0, 0, x'');",
        )
        .unwrap();
        drop(c);
        let (b, text) = to_netscape(&cr).unwrap();
        assert_eq!(b, Browser::Chromium);
        let expiry = 13_000_000_000 - WINDOWS_TO_UNIX_SECS;
        assert!(text.contains(&format!(".example.org\tTRUE\t/\tFALSE\t{expiry}\tc\t3\n")));
        assert!(text.contains("example.org\tFALSE\t/\tFALSE\t0\td\t4\n"));
    }

    #[test]
    fn text_files_and_other_schemas() {
        let dir = tempfile::tempdir().unwrap();
        let txt = dir.path().join("cookies.txt");
        std::fs::write(&txt, "# Netscape HTTP Cookie File\n").unwrap();
        assert!(!is_sqlite(&txt));
        let other = dir.path().join("other.db");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t (x INTEGER);")
            .unwrap();
        assert!(matches!(to_netscape(&other), Err(Error::UnknownSchema(_))));
    }
}
