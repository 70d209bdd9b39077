//! Which downloads a download's result queued (`followedBy`) and the
//! reverse link (`following`), as aria2 shows them in `tellStatus`: the
//! files of a followed metalink (and, the same way, a followed torrent)
//! name the download that fetched the document, so a client can track
//! downloads it did not add itself.

use std::collections::HashMap;

use crate::control::DownloadStatus;
use crate::gid::Gid;

#[derive(Default)]
pub(super) struct Lineage {
    following: HashMap<Gid, Gid>,
    followed_by: HashMap<Gid, Vec<Gid>>,
}

impl Lineage {
    /// `parent`'s result queued `children`.
    pub fn record(&mut self, parent: Gid, children: &[Gid]) {
        if children.is_empty() {
            return;
        }
        for c in children {
            self.following.insert(*c, parent);
        }
        self.followed_by
            .entry(parent)
            .or_default()
            .extend_from_slice(children);
    }

    /// Adds the links of `st.gid` to its status.
    pub fn fill(&self, st: &mut DownloadStatus) {
        st.following = self.following.get(&st.gid).copied();
        st.followed_by = self.followed_by.get(&st.gid).cloned().unwrap_or_default();
    }

    /// Drops every link not kept by `keep` (downloads gone from RPC's
    /// view: removed results, purged ones).
    pub fn retain(&mut self, keep: impl Fn(Gid) -> bool) {
        self.following.retain(|c, p| keep(*c) || keep(*p));
        self.followed_by.retain(|p, _| keep(*p));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_go_both_ways_and_are_dropped_with_the_downloads() {
        let mut l = Lineage::default();
        l.record(Gid(1), &[Gid(2), Gid(3)]);
        assert_eq!(l.following.get(&Gid(3)), Some(&Gid(1)));
        assert_eq!(l.followed_by[&Gid(1)], vec![Gid(2), Gid(3)]);
        l.retain(|g| g != Gid(1) && g != Gid(2) && g != Gid(3));
        assert!(l.following.is_empty() && l.followed_by.is_empty());
    }
}
