//! Per-server download speeds remembered across runs (`--server-stat-if`,
//! `--server-stat-of`), in aria2's file format so the two programs can
//! share a file: one line per server,
//! `host=H, protocol=P, dl_speed=N, sc_avg_speed=N, mc_avg_speed=N,
//! last_updated=UNIX_SECS, counter=N, status=ok|error`.
//!
//! The table is keyed by host name and protocol, not port, as aria2 keys
//! it. `--uri-selector=feedback|adaptive` ranks mirrors by it until this
//! run has measured them itself.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What is known of one server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerStat {
    pub host: String,
    pub protocol: String,
    /// The last measured speed, bytes/s.
    pub dl_speed: u64,
    /// Running average of speeds measured with one connection.
    pub sc_avg_speed: u64,
    /// Running average of speeds measured with several connections.
    pub mc_avg_speed: u64,
    /// Unix seconds of the last update.
    pub last_updated: u64,
    /// How many measurements the averages hold.
    pub counter: u64,
    /// `false` once the server failed (`status=error`): ranked last.
    pub ok: bool,
}

impl ServerStat {
    /// The speed a selector ranks by: the last measurement, or the
    /// averages when the last one is missing.
    pub fn speed(&self) -> u64 {
        if self.dl_speed > 0 {
            self.dl_speed
        } else {
            self.sc_avg_speed.max(self.mc_avg_speed)
        }
    }

    fn render(&self) -> String {
        format!(
            "host={}, protocol={}, dl_speed={}, sc_avg_speed={}, mc_avg_speed={}, \
             last_updated={}, counter={}, status={}",
            self.host,
            self.protocol,
            self.dl_speed,
            self.sc_avg_speed,
            self.mc_avg_speed,
            self.last_updated,
            self.counter,
            if self.ok { "ok" } else { "error" }
        )
    }

    /// One line of the file; `None` for a line missing host or protocol
    /// (aria2 skips those too).
    fn parse(line: &str) -> Option<ServerStat> {
        let mut s = ServerStat {
            host: String::new(),
            protocol: String::new(),
            dl_speed: 0,
            sc_avg_speed: 0,
            mc_avg_speed: 0,
            last_updated: 0,
            counter: 0,
            ok: true,
        };
        for field in line.split(',') {
            let Some((k, v)) = field.split_once('=') else {
                continue;
            };
            let v = v.trim();
            let num = || v.parse::<u64>().unwrap_or(0);
            match k.trim() {
                "host" => s.host = v.to_owned(),
                "protocol" => s.protocol = v.to_owned(),
                "dl_speed" => s.dl_speed = num(),
                "sc_avg_speed" => s.sc_avg_speed = num(),
                "mc_avg_speed" => s.mc_avg_speed = num(),
                "last_updated" => s.last_updated = num(),
                "counter" => s.counter = num(),
                "status" => s.ok = v != "error",
                _ => {}
            }
        }
        (!s.host.is_empty() && !s.protocol.is_empty()).then_some(s)
    }

    /// aria2's running average: exact mean for the first five samples,
    /// then an exponential one weighting the newest by 1/5.
    fn average(old: u64, counter: u64, sample: u64) -> u64 {
        if counter <= 1 {
            return sample;
        }
        let n = counter.min(5) as f64;
        ((n - 1.0) / n * old as f64 + sample as f64 / n) as u64
    }
}

/// The servers known to this run.
#[derive(Clone, Debug, Default)]
pub struct ServerStatTable {
    stats: BTreeMap<(String, String), ServerStat>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl ServerStatTable {
    /// Parses a file's text; entries older than `timeout` (as of `now`,
    /// Unix seconds) are forgotten, as `--server-stat-timeout` asks.
    pub fn parse(text: &str, now: u64, timeout: Duration) -> ServerStatTable {
        let mut t = ServerStatTable::default();
        for s in text.lines().filter_map(ServerStat::parse) {
            if now.saturating_sub(s.last_updated) > timeout.as_secs() {
                continue;
            }
            t.stats.insert((s.host.clone(), s.protocol.clone()), s);
        }
        t
    }

    /// Reads `path`; a missing file is an empty table (the first run).
    pub fn load(path: &Path, timeout: Duration) -> std::io::Result<ServerStatTable> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Self::parse(&text, now_secs(), timeout)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e),
        }
    }

    /// The file's text, one line per server, sorted by host and protocol.
    pub fn render(&self) -> String {
        self.stats
            .values()
            .map(|s| s.render() + "\n")
            .collect::<String>()
    }

    /// Writes the file through a temporary and a rename.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        std::fs::write(&tmp, self.render())?;
        std::fs::rename(&tmp, path)
    }

    pub fn get(&self, host: &str, protocol: &str) -> Option<&ServerStat> {
        self.stats.get(&(host.to_owned(), protocol.to_owned()))
    }

    fn entry(&mut self, host: &str, protocol: &str) -> &mut ServerStat {
        self.stats
            .entry((host.to_owned(), protocol.to_owned()))
            .or_insert_with(|| ServerStat {
                host: host.to_owned(),
                protocol: protocol.to_owned(),
                dl_speed: 0,
                sc_avg_speed: 0,
                mc_avg_speed: 0,
                last_updated: 0,
                counter: 0,
                ok: true,
            })
    }

    /// Records one measured speed: `multi` when the server ran more than
    /// one connection for it (the averages are kept apart).
    pub fn record_speed(&mut self, host: &str, protocol: &str, speed: u64, multi: bool) {
        let s = self.entry(host, protocol);
        s.counter += 1;
        s.dl_speed = speed;
        if multi {
            s.mc_avg_speed = ServerStat::average(s.mc_avg_speed, s.counter, speed);
        } else {
            s.sc_avg_speed = ServerStat::average(s.sc_avg_speed, s.counter, speed);
        }
        s.ok = true;
        s.last_updated = now_secs();
    }

    /// The server failed (dropped as a mirror): `status=error`.
    pub fn record_error(&mut self, host: &str, protocol: &str) {
        let s = self.entry(host, protocol);
        s.ok = false;
        s.last_updated = now_secs();
    }
}

/// `(host, protocol)` of a URI, the table's key.
pub fn key_of(uri: &str) -> Option<(String, String)> {
    let u = url::Url::parse(uri).ok()?;
    let host = u.host_str()?.trim_matches(['[', ']']).to_owned();
    Some((host, u.scheme().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = "host=localhost, protocol=http, dl_speed=1024, sc_avg_speed=512, \
                        mc_avg_speed=2048, last_updated=1000, counter=3, status=ok";

    #[test]
    fn aria2_lines_round_trip() {
        let t = ServerStatTable::parse(LINE, 1000, Duration::from_secs(10));
        let s = t.get("localhost", "http").expect("parsed");
        assert_eq!(
            (s.dl_speed, s.sc_avg_speed, s.mc_avg_speed, s.counter),
            (1024, 512, 2048, 3)
        );
        assert_eq!(t.render(), format!("{LINE}\n"));
    }

    #[test]
    fn expired_and_malformed_lines_are_dropped() {
        let text = format!("{LINE}\nprotocol=ftp, dl_speed=5\ngarbage\n");
        assert!(
            ServerStatTable::parse(&text, 1000 + 11, Duration::from_secs(10))
                .get("localhost", "http")
                .is_none()
        );
        let t = ServerStatTable::parse(&text, 1005, Duration::from_secs(10));
        assert_eq!(t.render().lines().count(), 1);
    }

    #[test]
    fn error_status_and_updates() {
        let mut t = ServerStatTable::default();
        t.record_speed("a", "ftp", 100, false);
        t.record_speed("a", "ftp", 300, false);
        let s = t.get("a", "ftp").unwrap();
        assert_eq!((s.dl_speed, s.sc_avg_speed, s.counter), (300, 200, 2));
        t.record_error("a", "ftp");
        assert!(t.render().contains("status=error"));
        let back = ServerStatTable::parse(&t.render(), now_secs(), Duration::from_secs(60));
        assert!(!back.get("a", "ftp").unwrap().ok);
    }

    #[test]
    fn keys_ignore_port_and_user() {
        assert_eq!(
            key_of("sftp://u:p@[::1]:2222/x"),
            Some(("::1".into(), "sftp".into()))
        );
        assert_eq!(
            key_of("http://Example.org:8080/a"),
            Some(("example.org".into(), "http".into()))
        );
    }
}
