//! The process-wide socket options, read once at start as aria2's
//! `Context` does: `--interface` (or `--multiple-interface`),
//! `--socket-recv-buffer-size` and `--dscp`; and the DNS servers of
//! `--async-dns-server`.

use arietta_net::{FamilyPref, NetError, SocketOptions};
use arietta_options::OptionSet;

/// Resolves the interfaces and installs the options for every core's
/// sockets. An interface with no address here fails the run (aria2 exits
/// 1 with the same words).
pub fn install(global: &OptionSet) -> Result<(), NetError> {
    let family = if global.get_bool("disable-ipv6") {
        FamilyPref::V4Only
    } else {
        FamilyPref::Any
    };
    let mut bind_sets = Vec::new();
    // `--interface` wins over `--multiple-interface`, as in aria2.
    if let Some(iface) = global.get_opt_str("interface").filter(|s| !s.is_empty()) {
        bind_sets.push(arietta_net::require_interface(iface, family)?);
    } else if let Some(list) = global
        .get_opt_str("multiple-interface")
        .filter(|s| !s.is_empty())
    {
        for iface in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            bind_sets.push(arietta_net::require_interface(iface, family)?);
        }
    }
    for set in &bind_sets {
        for ip in set {
            tracing::debug!("Sockets will bind to {ip}");
        }
    }
    install_dns(global);
    arietta_net::set_socket_options(SocketOptions {
        bind_sets,
        recv_buffer: global
            .get_size("socket-recv-buffer-size")
            .min(u64::from(u32::MAX)) as u32,
        dscp: global.get_u64("dscp").min(u64::from(u32::MAX)) as u32,
    });
    Ok(())
}

/// `--async-dns-server` (only with `--async-dns`, the default, as aria2
/// uses its c-ares resolver then): names are asked of these servers
/// instead of the system resolver. aria2 skips entries that are not IP
/// addresses; so does arietta, with a warning. `IP:PORT` is accepted too.
fn install_dns(global: &OptionSet) {
    if !global.get_bool("async-dns") {
        return;
    }
    let Some(list) = global
        .get_opt_str("async-dns-server")
        .filter(|s| !s.trim().is_empty())
    else {
        return;
    };
    let mut servers = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match arietta_net::parse_dns_servers(entry) {
            Ok(mut s) => servers.append(&mut s),
            Err(e) => tracing::warn!("--async-dns-server: {e}; ignored"),
        }
    }
    for s in &servers {
        tracing::debug!("Using DNS server {s}");
    }
    arietta_net::set_dns_servers(arietta_net::DnsServers {
        servers,
        ipv6: !global.get_bool("disable-ipv6"),
    });
}
