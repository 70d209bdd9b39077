//! `--load-cookies` with browser databases: a Firefox `cookies.sqlite`
//! and a Chromium `Cookies` file, created here with the real schemas'
//! columns, and their cookies sent to the test server.

use arietta_testserver::{pattern, Route, TestServer};
use rusqlite::Connection;

use crate::support::{assert_file_eq, exit, run, s, tempdir};

/// 2100-01-01 in Unix seconds.
const FAR_FUTURE: i64 = 4_102_444_800;

fn fetch_with_cookies(db: &std::path::Path, want: &str) {
    let srv = TestServer::start();
    let body = pattern(5_000, 80);
    srv.add_route("/c.bin", Route::new(body.clone()).require_cookie(want));
    let dir = db.parent().unwrap();
    run(
        dir,
        &[
            "--max-tries=1",
            &format!("--load-cookies={}", s(db)),
            "-d",
            "out",
            &srv.url("/c.bin"),
        ],
    )
    .expect_code(exit::OK);
    assert_file_eq(&dir.join("out/c.bin"), &body);
    let cookie = srv.requests("/c.bin")[0]
        .header("cookie")
        .map(str::to_owned)
        .unwrap_or_default();
    assert!(!cookie.contains("expired"), "expired cookie sent: {cookie}");
    assert!(
        !cookie.contains("elsewhere"),
        "other host's cookie sent: {cookie}"
    );
}

#[test]
fn firefox_cookies_sqlite_is_loaded() {
    let tmp = tempdir();
    let db = tmp.path().join("cookies.sqlite");
    let c = Connection::open(&db).unwrap();
    c.execute_batch(&format!(
        "CREATE TABLE moz_cookies (id INTEGER PRIMARY KEY, originAttributes TEXT NOT NULL DEFAULT '',
           name TEXT, value TEXT, host TEXT, path TEXT, expiry INTEGER, lastAccessed INTEGER,
           creationTime INTEGER, isSecure INTEGER, isHttpOnly INTEGER, inBrowserElement INTEGER DEFAULT 0,
           sameSite INTEGER DEFAULT 0, rawSameSite INTEGER DEFAULT 0, schemeMap INTEGER DEFAULT 0);
         INSERT INTO moz_cookies (name, value, host, path, expiry, isSecure, isHttpOnly)
           VALUES ('session', 'ff42', '127.0.0.1', '/', {FAR_FUTURE}, 0, 1),
                  ('expired', 'x', '127.0.0.1', '/', 1000, 0, 0),
                  ('elsewhere', 'y', '.example.org', '/', {FAR_FUTURE}, 0, 0);"
    ))
    .unwrap();
    // A browser keeps its database open (and locked) while it runs.
    c.execute_batch("BEGIN EXCLUSIVE;").unwrap();
    fetch_with_cookies(&db, "session=ff42");
    drop(c);
}

#[test]
fn chromium_cookies_db_is_loaded() {
    let tmp = tempdir();
    let db = tmp.path().join("Cookies");
    let c = Connection::open(&db).unwrap();
    // Chromium's expiry: microseconds since 1601-01-01.
    let expires = (FAR_FUTURE + 11_644_473_600) * 1_000_000;
    c.execute_batch(&format!(
        "CREATE TABLE cookies (creation_utc INTEGER NOT NULL, host_key TEXT NOT NULL,
           top_frame_site_key TEXT NOT NULL DEFAULT '', name TEXT NOT NULL, value TEXT NOT NULL,
           encrypted_value BLOB NOT NULL DEFAULT x'', path TEXT NOT NULL, expires_utc INTEGER NOT NULL,
           is_secure INTEGER NOT NULL, is_httponly INTEGER NOT NULL, last_access_utc INTEGER NOT NULL DEFAULT 0);
         INSERT INTO cookies (creation_utc, host_key, name, value, path, expires_utc, is_secure, is_httponly)
           VALUES (1, '127.0.0.1', 'sid', 'chr7', '/', {expires}, 0, 0),
                  (2, '127.0.0.1', 'expired', 'x', '/', 13000000000000000, 0, 0),
                  (3, '.example.org', 'elsewhere', 'y', '/', {expires}, 0, 0);"
    ))
    .unwrap();
    drop(c);
    fetch_with_cookies(&db, "sid=chr7");
}

#[test]
fn unreadable_cookie_database_is_an_error() {
    let tmp = tempdir();
    let db = tmp.path().join("bad.sqlite");
    Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE unrelated (x INTEGER);")
        .unwrap();
    let out = run(
        tmp.path(),
        &[
            &format!("--load-cookies={}", s(&db)),
            "http://127.0.0.1:1/x",
        ],
    );
    assert_eq!(out.expect_failure(), 1, "{}", out.output());
    assert!(out.stderr.contains("cookies"), "{}", out.stderr);
}
