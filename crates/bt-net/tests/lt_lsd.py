"""A python3-libtorrent session with Local Service Discovery on, listening
on 127.0.0.1, holding one metadata-less torrent (argv[1]: info-hash hex;
argv[2]: scratch directory). libtorrent then multicasts BT-SEARCH for it
and connects to peers it learns of through LSD. Prints "READY <port>";
exits on stdin EOF or "quit"."""
import sys

import libtorrent as lt

ses = lt.session(
    {
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": True,
        "enable_upnp": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": 0,
    }
)
params = lt.add_torrent_params()
params.info_hashes = lt.info_hash_t(lt.sha1_hash(bytes.fromhex(sys.argv[1])))
params.save_path = sys.argv[2]
ses.add_torrent(params)
print("READY %d" % ses.listen_port(), flush=True)
for line in sys.stdin:
    if line.strip() == "quit":
        break
