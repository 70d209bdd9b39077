"""Writes a small payload and a v1 .torrent for it with python3-libtorrent
(argv[1]: directory). Prints "<info-hash hex> <piece count>"."""
import os
import sys

import libtorrent as lt

work = sys.argv[1]
data_dir = os.path.join(work, "seed")
os.makedirs(data_dir, exist_ok=True)
with open(os.path.join(data_dir, "payload.bin"), "wb") as f:
    f.write(bytes((i * 13 + 5) % 251 for i in range(200_000)))
fs = lt.file_storage()
lt.add_files(fs, os.path.join(data_dir, "payload.bin"))
ct = lt.create_torrent(fs, 16384, flags=lt.create_torrent.v1_only)
lt.set_piece_hashes(ct, data_dir)
raw = lt.bencode(ct.generate())
with open(os.path.join(work, "payload.torrent"), "wb") as f:
    f.write(raw)
info = lt.torrent_info(raw)
print("%s %d" % (str(info.info_hash()), info.num_pieces()), flush=True)
