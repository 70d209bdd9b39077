"""A python3-libtorrent seeder with encryption forced, for the MSE interop
test. Prints "READY <port> <info-hash hex> <piece count>" once seeding,
then obeys stdin lines: "connect PORT" makes libtorrent dial
127.0.0.1:PORT (so our receiver side meets libtorrent's initiator),
"quit" (or EOF) ends it."""
import os
import sys
import time

import libtorrent as lt

work = sys.argv[1]
data_dir = os.path.join(work, "seed")
os.makedirs(data_dir, exist_ok=True)
payload = bytes((i * 7 + 3) % 251 for i in range(300_000))
with open(os.path.join(data_dir, "payload.bin"), "wb") as f:
    f.write(payload)

fs = lt.file_storage()
lt.add_files(fs, os.path.join(data_dir, "payload.bin"))
# v1 only: for a hybrid torrent libtorrent 2 may key MSE with the
# truncated v2 info-hash.
ct = lt.create_torrent(fs, 16384, flags=lt.create_torrent.v1_only)
lt.set_piece_hashes(ct, data_dir)
info = lt.torrent_info(lt.bencode(ct.generate()))

settings = {
    "listen_interfaces": "127.0.0.1:0",
    "enable_dht": False,
    "enable_lsd": False,
    "enable_upnp": False,
    "enable_natpmp": False,
    "allow_multiple_connections_per_ip": True,
    "out_enc_policy": int(lt.enc_policy.forced),
    "in_enc_policy": int(lt.enc_policy.forced),
    "allowed_enc_level": int(lt.enc_level.rc4),
    "prefer_rc4": True,
    "alert_mask": 0,
}
ses = lt.session(settings)
h = ses.add_torrent({"ti": info, "save_path": data_dir})
deadline = time.time() + 20
while not h.status().is_seeding:
    if time.time() > deadline:
        print("FAILED not seeding", flush=True)
        sys.exit(1)
    time.sleep(0.05)
print(
    "READY %d %s %d" % (ses.listen_port(), str(info.info_hash()), info.num_pieces()),
    flush=True,
)
for line in sys.stdin:
    words = line.split()
    if not words or words[0] == "quit":
        break
    if words[0] == "connect":
        h.connect_peer(("127.0.0.1", int(words[1])))
        print("OK", flush=True)
