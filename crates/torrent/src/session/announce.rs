//! The tracker schedule: `started` first, `completed` once the download
//! finishes, then every interval the tracker asks for (or
//! `--bt-tracker-interval`), a minute after a failure, and `stopped` at
//! the end. [`AnnounceSchedule`] decides when, without I/O; [`Tracker`]
//! adds the tiers and the session sends.

use std::time::{Duration, Instant};

use arietta_metainfo::{AnnounceEvent, Metainfo};

use super::Session;
use crate::config::TorrentConfig;
use crate::messages::ToTorrent;
use crate::tracker::{announce_tiers, with_timeout, AnnounceParams, AnnounceReply};

/// What a tracker's interval starts as before it says otherwise.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(120);
/// Trackers asking for less are not obeyed.
const MIN_INTERVAL: Duration = Duration::from_secs(10);
/// aria2 retries a failed tracker after a minute.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(60);

/// When the next announce is due and with which event.
#[derive(Debug)]
pub(super) struct AnnounceSchedule {
    started_sent: bool,
    completed_owed: bool,
    next: Option<Instant>,
    in_flight: bool,
    /// What the tracker asked for (at least [`MIN_INTERVAL`]).
    interval: Duration,
    /// `--bt-tracker-interval`, which overrides the tracker's.
    forced_interval: Option<Duration>,
}

impl AnnounceSchedule {
    pub(super) fn new(now: Instant, forced_interval: Option<Duration>) -> Self {
        AnnounceSchedule {
            started_sent: false,
            completed_owed: false,
            next: Some(now),
            in_flight: false,
            interval: DEFAULT_INTERVAL,
            forced_interval,
        }
    }

    /// The announce to send at `now`, if one is due (`Some(event)`, the
    /// event `None` for a regular one); it is then in flight until
    /// [`Self::succeeded`] or [`Self::failed`].
    pub(super) fn due(&mut self, now: Instant) -> Option<Option<AnnounceEvent>> {
        if self.in_flight {
            return None;
        }
        let event = if !self.started_sent {
            Some(AnnounceEvent::Started)
        } else if self.completed_owed {
            Some(AnnounceEvent::Completed)
        } else if self.next.is_some_and(|t| now >= t) {
            None
        } else {
            return None;
        };
        if event == Some(AnnounceEvent::Completed) {
            self.completed_owed = false;
        }
        self.started_sent = true;
        self.in_flight = true;
        Some(event)
    }

    /// The download completed: the next announce says so.
    pub(super) fn completed(&mut self) {
        self.completed_owed = true;
    }

    /// Whether `started` went out, so trackers expect a `stopped`.
    pub(super) fn started_sent(&self) -> bool {
        self.started_sent
    }

    pub(super) fn succeeded(&mut self, now: Instant, tracker_interval: Option<Duration>) {
        self.in_flight = false;
        if let Some(i) = tracker_interval {
            self.interval = i.max(MIN_INTERVAL);
        }
        self.next = Some(now + self.forced_interval.unwrap_or(self.interval));
    }

    pub(super) fn failed(&mut self, now: Instant) {
        self.in_flight = false;
        self.next = Some(now + RETRY_AFTER_FAILURE);
    }
}

/// The torrent's trackers: tiers after `--bt-exclude-tracker` and
/// `--bt-tracker`, the schedule, and the `key` they know us by.
pub(super) struct Tracker {
    tiers: Vec<Vec<String>>,
    schedule: AnnounceSchedule,
    key: u32,
}

/// The announce tiers of `meta`, less excluded trackers, plus the extra
/// ones as a last tier.
fn tiers(meta: &Metainfo, cfg: &TorrentConfig) -> Vec<Vec<String>> {
    let mut tiers: Vec<Vec<String>> = meta
        .announce_list
        .iter()
        .map(|t| {
            t.iter()
                // An empty entry (listed by `-S` and RPC, as aria2 keeps
                // it) names no tracker.
                .filter(|u| !u.is_empty())
                .filter(|u| !cfg.exclude_trackers.iter().any(|x| x == "*" || x == *u))
                .cloned()
                .collect::<Vec<_>>()
        })
        .filter(|t| !t.is_empty())
        .collect();
    if !cfg.extra_trackers.is_empty() {
        tiers.push(cfg.extra_trackers.clone());
    }
    tiers
}

impl Tracker {
    pub(super) fn new(meta: &Metainfo, cfg: &TorrentConfig, now: Instant) -> Tracker {
        Tracker {
            tiers: tiers(meta, cfg),
            schedule: AnnounceSchedule::new(now, cfg.tracker_interval),
            key: rand::random(),
        }
    }
}

/// Warns at a torrent's start, when Local Peer Discovery is on beside a
/// SOCKS5 proxy, that LPD goes out directly: it is multicast on the local
/// network (BEP 14), which no proxy can carry. UDP trackers and the DHT
/// go through the proxy's UDP relay. Once per process: a seedbox starts
/// thousands of torrents.
pub(super) fn warn_proxy_bypass(discovery: &crate::Discovery) {
    static WARNED: std::sync::Once = std::sync::Once::new();
    if discovery.lpd {
        WARNED.call_once(|| {
            tracing::warn!(
                "Local Peer Discovery does not go through the SOCKS5 proxy \
                 (local multicast cannot be proxied); --bt-enable-lpd=false keeps it off"
            )
        });
    }
}

impl Session {
    fn announce_params(&self, event: Option<AnnounceEvent>) -> AnnounceParams {
        AnnounceParams {
            info_hash: self.dl.info_hash,
            peer_id: self.peer_id,
            port: self.port,
            uploaded: self.uploaded,
            downloaded: self.downloaded,
            left: self.left(),
            event,
            key: self.tracker.key,
            ip: self.dl.cfg.external_ip.clone(),
            connect_timeout: self.dl.cfg.tracker_connect_timeout,
            http: self.dl.cfg.http.clone(),
            timeout: self.dl.cfg.tracker_timeout,
            udp_proxy: self.dl.cfg.peer_proxy.clone(),
        }
    }

    pub(super) fn maybe_announce(&mut self) {
        if self.tracker.tiers.is_empty() {
            return;
        }
        let Some(event) = self.tracker.schedule.due(Instant::now()) else {
            return;
        };
        tracing::debug!(?event, "Announcing to the trackers");
        let p = self.announce_params(event);
        let mut tiers = self.tracker.tiers.clone();
        let me = self.me.clone();
        glommio::spawn_local(async move {
            let r = announce_tiers(&mut tiers, &p).await;
            let _ = me.send(ToTorrent::Announced(Box::new(r)));
        })
        .detach();
    }

    pub(super) fn announce_completed(&mut self) {
        self.tracker.schedule.completed();
    }

    pub(super) fn on_announced(&mut self, r: Result<AnnounceReply, String>) {
        match r {
            Ok(reply) => {
                tracing::debug!("Tracker returned {} peers", reply.peers.len());
                self.tracker
                    .schedule
                    .succeeded(Instant::now(), reply.interval);
                self.add_candidates(reply.peers);
            }
            Err(e) => {
                tracing::info!("Tracker announce failed: {e}");
                self.tracker.schedule.failed(Instant::now());
            }
        }
    }

    /// Tells the trackers we leave (quickly: the process may be ending).
    pub(super) async fn announce_stopped(&self) {
        if !self.tracker.schedule.started_sent() || self.tracker.tiers.is_empty() {
            return;
        }
        let mut p = self.announce_params(Some(AnnounceEvent::Stopped));
        p.timeout = p.timeout.min(Duration::from_secs(3));
        p.connect_timeout = p.connect_timeout.min(Duration::from_secs(3));
        let mut tiers = self.tracker.tiers.clone();
        let _ = with_timeout(Duration::from_secs(5), announce_tiers(&mut tiers, &p)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn started_first_then_at_the_trackers_interval() {
        let t0 = Instant::now();
        let mut s = AnnounceSchedule::new(t0, None);
        assert_eq!(s.due(t0), Some(Some(AnnounceEvent::Started)));
        assert_eq!(s.due(t0 + 500 * S), None, "one announce at a time");
        s.succeeded(t0, Some(300 * S));
        assert_eq!(s.due(t0 + 299 * S), None);
        assert_eq!(s.due(t0 + 300 * S), Some(None));
        assert!(s.started_sent());
    }

    #[test]
    fn completed_goes_out_at_once_but_not_beside_one_in_flight() {
        let t0 = Instant::now();
        let mut s = AnnounceSchedule::new(t0, None);
        assert_eq!(s.due(t0), Some(Some(AnnounceEvent::Started)));
        s.completed();
        assert_eq!(s.due(t0), None);
        s.succeeded(t0, None);
        assert_eq!(s.due(t0), Some(Some(AnnounceEvent::Completed)));
        s.succeeded(t0, None);
        assert_eq!(s.due(t0 + S), None, "completed is sent once");
        assert_eq!(s.due(t0 + DEFAULT_INTERVAL), Some(None));
    }

    #[test]
    fn failures_retry_after_a_minute_and_short_intervals_are_floored() {
        let t0 = Instant::now();
        let mut s = AnnounceSchedule::new(t0, None);
        s.due(t0);
        s.failed(t0);
        assert_eq!(s.due(t0 + 59 * S), None);
        assert_eq!(s.due(t0 + 60 * S), Some(None));
        s.succeeded(t0, Some(S));
        assert_eq!(s.due(t0 + 9 * S), None);
        assert_eq!(s.due(t0 + MIN_INTERVAL), Some(None));
    }

    #[test]
    fn the_option_overrides_the_trackers_interval() {
        let t0 = Instant::now();
        let mut s = AnnounceSchedule::new(t0, Some(30 * S));
        s.due(t0);
        s.succeeded(t0, Some(1800 * S));
        assert_eq!(s.due(t0 + 30 * S), Some(None));
    }
}
