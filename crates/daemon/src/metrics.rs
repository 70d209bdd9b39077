//! `GET /metrics` (with `--enable-metrics`): the engine's numbers in the
//! Prometheus text format, for seedbox and mirror monitoring. Beyond aria2.

use std::fmt::Write;

use arietta_core::control::{Control, ControlHandle};

/// The exposition text, or `None` when the engine is gone.
pub async fn render(handle: &ControlHandle) -> Option<String> {
    let st = handle
        .ask(|reply| Control::GlobalStat { reply })
        .await
        .ok()?;
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    metric(
        "arietta_download_speed_bytes",
        "gauge",
        "Download speed of all downloads, bytes per second.",
        st.download_speed,
    );
    metric(
        "arietta_upload_speed_bytes",
        "gauge",
        "Upload speed, bytes per second.",
        0,
    );
    metric(
        "arietta_downloads_active",
        "gauge",
        "Downloads running now.",
        st.num_active as u64,
    );
    metric(
        "arietta_downloads_waiting",
        "gauge",
        "Downloads queued or paused.",
        st.num_waiting as u64,
    );
    metric(
        "arietta_downloads_stopped",
        "gauge",
        "Stopped downloads still listed.",
        st.num_stopped as u64,
    );
    metric(
        "arietta_downloads_stopped_total",
        "counter",
        "Downloads stopped since start.",
        st.num_stopped_total as u64,
    );
    metric(
        "arietta_connections",
        "gauge",
        "Open download connections.",
        st.connections as u64,
    );
    metric("arietta_peers", "gauge", "Connected BitTorrent peers.", 0);
    let _ = writeln!(
        out,
        "# HELP arietta_completed_bytes Bytes written by listed downloads, by protocol.\n\
         # TYPE arietta_completed_bytes gauge\narietta_completed_bytes{{protocol=\"http\"}} {}",
        st.completed_bytes
    );
    Some(out)
}
