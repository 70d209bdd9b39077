"""A python3-libtorrent peer for arietta's BitTorrent tests, set up for
loopback: plain TCP only (no uTP, no encryption), no DHT/LSD/UPnP/NAT-PMP,
local peers and several connections per IP allowed.

    lt_peer.py seed  TORRENT SAVE_DIR PORT            prints READY when seeding
    lt_peer.py leech TORRENT SAVE_DIR PORT PEER_PORT  connects to 127.0.0.1:PEER_PORT,
                                                     prints DONE and exits 0 when complete
    lt_peer.py dhtseed TORRENT SAVE_DIR PORT ENTRY_PORT
                                                     a DHT-only seeder (no tracker): a second
                                                     session here is a bare DHT node on
                                                     ENTRY_PORT, the seeder bootstraps from it and
                                                     announces the torrent; prints READY once the
                                                     entry node has stored that announce
    lt_peer.py leechmany SAVE_DIR PORT PEER_PORT TORRENT...
                                                     one session leeching every TORRENT from
                                                     127.0.0.1:PEER_PORT, prints DONE and exits 0
                                                     when all are complete (120 s cap)
    lt_peer.py mkv2 TORRENT CONTENT PIECE_LEN TRACKER_URL
                                                     writes a BEP 52 v2-only torrent of CONTENT
                                                     (a directory) and prints its v2 info-hash
                                                     cut to 20 bytes, in hex
Runs until killed (seed, dhtseed) or until done / 60 s (leech, exit 1 on timeout).
With LT_ENCRYPTION=rc4 in the environment, only RC4-encrypted (MSE)
connections are made and accepted.
"""
import os
import sys
import time

import libtorrent as lt


def session(port, dht=False, bootstrap="", alerts=0):
    pe = getattr(lt.enc_policy, "disabled", None)
    if pe is None:
        pe = lt.enc_policy.pe_disabled
    settings = {
        "listen_interfaces": "127.0.0.1:%d" % port,
        "enable_dht": dht,
        "dht_bootstrap_nodes": bootstrap,
        # Loopback DHT: every node shares 127.0.0.1.
        "dht_restrict_routing_ips": False,
        "dht_restrict_search_ips": False,
        "dht_ignore_dark_internet": False,
        "dht_prefer_verified_node_ids": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "enable_incoming_tcp": True,
        "enable_outgoing_tcp": True,
        "allow_multiple_connections_per_ip": True,
        "out_enc_policy": int(pe),
        "in_enc_policy": int(pe),
        "announce_to_all_trackers": True,
        "alert_mask": alerts,
    }
    if os.environ.get("LT_ENCRYPTION") == "rc4":
        forced = getattr(lt.enc_policy, "forced", None)
        if forced is None:
            forced = lt.enc_policy.pe_forced
        rc4 = getattr(lt.enc_level, "rc4", None)
        if rc4 is None:
            rc4 = lt.enc_level.pe_rc4
        settings["out_enc_policy"] = int(forced)
        settings["in_enc_policy"] = int(forced)
        settings["allowed_enc_level"] = int(rc4)
        settings["prefer_rc4"] = True
    return lt.session(settings)


def dht_seed(torrent, save, port, entry_port):
    entry = session(entry_port, dht=True, alerts=int(lt.alert.category_t.dht_notification))
    ses = session(port, dht=True, bootstrap="127.0.0.1:%d" % entry_port)
    info = lt.torrent_info(torrent)
    h = ses.add_torrent({"ti": info, "save_path": save})
    h.force_recheck()
    want = str(info.info_hash())
    deadline = time.time() + 60
    while not h.status().is_seeding:
        if time.time() > deadline:
            print("TIMEOUT seeding", flush=True)
            return 1
        time.sleep(0.05)
    last = 0
    while True:
        if time.time() > deadline:
            print("TIMEOUT announcing", flush=True)
            return 1
        if time.time() - last > 1:
            h.force_dht_announce()
            last = time.time()
        for a in entry.pop_alerts():
            if isinstance(a, lt.dht_announce_alert) and str(a.info_hash) == want:
                print("READY", flush=True)
                while True:
                    time.sleep(1)
        time.sleep(0.05)


def make_v2(torrent, content, piece_len, tracker):
    fs = lt.file_storage()
    lt.add_files(fs, content)
    t = lt.create_torrent(fs, piece_len, flags=lt.create_torrent.v2_only)
    t.add_tracker(tracker)
    lt.set_piece_hashes(t, os.path.dirname(os.path.abspath(content)))
    with open(torrent, "wb") as f:
        f.write(lt.bencode(t.generate()))
    print(str(lt.torrent_info(torrent).info_hashes().v2)[:40], flush=True)
    return 0


def leech_many(save, port, peer_port, torrents):
    ses = session(port)
    handles = [ses.add_torrent({"ti": lt.torrent_info(t), "save_path": save}) for t in torrents]
    deadline = time.time() + 120
    last_connect = 0
    while True:
        pending = [h for h in handles if not h.status().is_seeding]
        if not pending:
            break
        if time.time() > deadline:
            print("TIMEOUT %d of %d unfinished" % (len(pending), len(handles)), flush=True)
            return 1
        if time.time() - last_connect > 1:
            for h in pending:
                if h.status().num_peers == 0:
                    h.connect_peer(("127.0.0.1", peer_port), 0)
            last_connect = time.time()
        time.sleep(0.05)
    print("DONE", flush=True)
    return 0


def main():
    if sys.argv[1] == "leechmany":
        return leech_many(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:])
    if sys.argv[1] == "mkv2":
        return make_v2(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    mode, torrent, save, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    if mode == "dhtseed":
        return dht_seed(torrent, save, port, int(sys.argv[5]))
    ses = session(port)
    info = lt.torrent_info(torrent)
    params = {"ti": info, "save_path": save}
    h = ses.add_torrent(params)
    if mode == "seed":
        h.force_recheck()
        deadline = time.time() + 60
        while not h.status().is_seeding:
            if time.time() > deadline:
                print("TIMEOUT", flush=True)
                return 1
            time.sleep(0.05)
        print("READY", flush=True)
        while True:
            time.sleep(1)
    peer_port = int(sys.argv[5])
    deadline = time.time() + 60
    last_connect = 0
    while not h.status().is_seeding:
        if time.time() > deadline:
            st = h.status()
            print("TIMEOUT progress=%s peers=%s state=%s error=%s" % (st.progress, st.num_peers, st.state, st.errc.message() if st.errc.value() else ""), flush=True)
            return 1
        if time.time() - last_connect > 1 and h.status().num_peers == 0:
            h.connect_peer(("127.0.0.1", peer_port), 0)
            last_connect = time.time()
        time.sleep(0.05)
    print("DONE", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
