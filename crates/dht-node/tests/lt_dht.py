"""A python3-libtorrent session whose DHT bootstraps from one loopback
node (argv[1], "127.0.0.1:PORT"), for the DHT interop test; argv[2] is a
scratch directory.

Prints "READY <dht port>" once its DHT is up, then obeys stdin lines:
  announce HEX        -> "ANNOUNCED PORT": adds a metadata-less torrent
                         for HEX, which libtorrent then announces on the
                         DHT itself (the Python binding's dht_announce
                         cannot be called: its flags type is not exposed)
  get_peers HEX       -> "PEERS ip:port ..." (empty after 15 s of nothing)
  quit / EOF          -> exits
"""
import sys
import time

import libtorrent as lt

settings = {
    "listen_interfaces": "127.0.0.1:0",
    "enable_dht": True,
    "dht_bootstrap_nodes": sys.argv[1],
    "enable_lsd": False,
    "enable_upnp": False,
    "enable_natpmp": False,
    # Every node of the test network shares 127.0.0.1.
    "dht_restrict_routing_ips": False,
    "dht_restrict_search_ips": False,
    "dht_ignore_dark_internet": False,
    "dht_prefer_verified_node_ids": False,
    "allow_multiple_connections_per_ip": True,
    "alert_mask": int(lt.alert.category_t.dht_notification)
    | int(lt.alert.category_t.dht_operation_notification)
    | int(lt.alert.category_t.status_notification),
}
ses = lt.session(settings)


def alerts(wait=0.2):
    ses.wait_for_alert(int(wait * 1000))
    return ses.pop_alerts()


deadline = time.time() + 20
ready = False
while time.time() < deadline and not ready:
    for a in alerts():
        if isinstance(a, lt.dht_bootstrap_alert):
            ready = True
if not ready:
    print("FAILED no dht_bootstrap_alert", flush=True)
    sys.exit(1)
print("READY %d" % ses.listen_port(), flush=True)

for line in sys.stdin:
    words = line.split()
    if not words or words[0] == "quit":
        break
    ih = lt.sha1_hash(bytes.fromhex(words[1]))
    if words[0] == "announce":
        params = lt.add_torrent_params()
        params.info_hashes = lt.info_hash_t(ih)
        params.save_path = sys.argv[2]
        ses.add_torrent(params)
        print("ANNOUNCED %d" % ses.listen_port(), flush=True)
    elif words[0] == "get_peers":
        found = set()
        deadline = time.time() + 15
        while time.time() < deadline and not found:
            ses.dht_get_peers(ih)
            end = time.time() + 2
            while time.time() < end:
                for a in alerts():
                    if isinstance(a, lt.dht_get_peers_reply_alert):
                        for ip, port in a.peers():
                            found.add("%s:%d" % (ip, port))
        print("PEERS " + " ".join(sorted(found)), flush=True)
