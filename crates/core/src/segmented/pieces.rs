//! Bytes reaching the disk, and the metalink piece hashes checked as
//! pieces complete (a bad piece is fetched again and the mirrors that wrote
//! it are dropped).

use std::time::Instant;

use super::{Action, Ctx, PieceCheck, SegmentedDownload};
use crate::download::LogLevel;
use crate::error::FetchError;
use crate::messages::ConnId;
use crate::segment_map::SegmentMap;

impl SegmentedDownload {
    /// Bytes `[start, end)` are on disk, written by `conn`: record them,
    /// hash any piece they completed, finalize when the file is whole.
    pub fn on_written(
        &mut self,
        conn: ConnId,
        start: u64,
        end: u64,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        self.mirror_written(conn, end.saturating_sub(start), now);
        let Some(m) = self.map.as_mut() else { return };
        m.written(start, end);
        self.dirty = true;
        let jobs = match self.pieces.as_mut() {
            Some(p) => p.written(start, end, self.conns.get(&conn).copied(), m.done()),
            None => Vec::new(),
        };
        let complete = m.is_complete() && self.file.as_ref().is_some_and(|f| f.total.is_some());
        for job in jobs {
            let expected = self.pieces.as_ref().and_then(|p| p.expected(job.index));
            let check = match (self.path.clone(), expected) {
                (Some(path), Some((algo, digest))) => Some(PieceCheck {
                    path,
                    job,
                    algo,
                    digest,
                }),
                // Cannot be checked: counted good rather than waited for
                // forever.
                _ => None,
            };
            out.push(Action::CheckPiece {
                index: job.index,
                check,
            });
        }
        if complete {
            self.finalize(out);
        }
    }

    /// A piece hash came back. A bad piece leaves the done ranges (and so
    /// the control file), goes to the front of the free list, and the
    /// mirrors that wrote it are dropped while another mirror is left; a
    /// lone mirror is charged a try instead, so `--max-tries` ends a
    /// download whose only source keeps serving bad bytes.
    pub fn on_piece_checked(&mut self, index: usize, ok: bool, ctx: &Ctx, out: &mut Vec<Action>) {
        let Some(p) = self.pieces.as_mut() else {
            return;
        };
        let algo = p.algo_name();
        let Some((job, sources)) = p.checked(index, ok) else {
            if self.map.as_ref().is_some_and(SegmentMap::is_complete) {
                self.finalize(out);
            }
            return;
        };
        if let Some(m) = self.map.as_mut() {
            m.invalidate(job.start, job.end);
        }
        self.dirty = true;
        self.last_error = Some(FetchError::PieceHash {
            index,
            algo: algo.to_owned(),
        });
        let others_live = self
            .uris
            .iter()
            .enumerate()
            .any(|(i, u)| !u.dead && !sources.contains(&i));
        let mut dropped = Vec::new();
        for &u in &sources {
            let st = &mut self.uris[u];
            if others_live {
                st.dead = true;
            } else {
                st.tries += 1;
                let max = self.cfg.max_tries;
                st.dead = max != 0 && st.tries >= max;
            }
            if st.dead {
                dropped.push(st.url.clone());
            }
        }
        let mut line = format!(
            "Piece #{index} (bytes {}-{}) failed its {algo} chunk checksum; fetching it again",
            job.start,
            job.end - 1
        );
        if !dropped.is_empty() {
            line.push_str(&format!(", dropping mirror {}", dropped.join(", ")));
        }
        out.push(Action::Notice(LogLevel::Warn, line));
        if !others_live && !dropped.is_empty() {
            // The last mirror keeps serving bad bytes: give up now rather
            // than let its running connections fetch more of them.
            out.push(Action::StopConnections);
            out.push(Action::Fail);
            return;
        }
        out.push(Action::SaveControl);
        self.add_connections(ctx, out);
        self.check_stalled(ctx, out);
    }
}
