//! Which peer sources beyond trackers a torrent may use. BEP 27: a private
//! torrent's peers come from its trackers only, so PEX, LPD and DHT are off
//! for it whatever the options say.

use crate::config::TorrentConfig;

/// The extra peer sources a torrent runs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Discovery {
    /// Send and accept `ut_pex` (BEP 11).
    pub pex: bool,
    /// Announce on and listen to the LAN multicast group (BEP 14).
    pub lpd: bool,
    /// Look the torrent up in and announce it to the DHT (BEP 5).
    pub dht: bool,
}

impl Discovery {
    /// The decision for a torrent whose info dictionary says `private`.
    pub fn decide(private: bool, cfg: &TorrentConfig) -> Discovery {
        Discovery {
            pex: cfg.enable_pex && !private,
            lpd: cfg.enable_lpd && !private,
            dht: cfg.enable_dht && !private,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arietta_options::OptionSet;

    fn cfg(args: &[(&str, &str)]) -> TorrentConfig {
        let o = OptionSet::from_pairs(args.iter().copied()).unwrap();
        TorrentConfig::from_options(&o).unwrap()
    }

    #[test]
    fn private_torrents_use_trackers_only() {
        let all = cfg(&[
            ("enable-peer-exchange", "true"),
            ("bt-enable-lpd", "true"),
            ("enable-dht", "true"),
        ]);
        let d = Discovery::decide(true, &all);
        assert_eq!(
            d,
            Discovery {
                pex: false,
                lpd: false,
                dht: false
            }
        );
        let d = Discovery::decide(false, &all);
        assert!(d.pex && d.lpd && d.dht);
    }

    #[test]
    fn public_torrents_follow_the_options() {
        let d = Discovery::decide(false, &cfg(&[]));
        // aria2's defaults: PEX and DHT on, LPD off.
        assert!(d.pex && !d.lpd && d.dht);
        let off = cfg(&[("enable-peer-exchange", "false"), ("enable-dht", "false")]);
        let d = Discovery::decide(false, &off);
        assert!(!d.pex && !d.lpd && !d.dht);
    }
}
