"""Drives an arietta daemon with the unmodified aria2p client library.

Usage: aria2p_session.py PORT SECRET URL_DONE URL_SLOW DIR
Exits 0 when every step behaved as aria2 would; prints what failed otherwise.
"""
import sys
import time

import aria2p

port, secret, url_done, url_slow, out_dir = sys.argv[1:6]
api = aria2p.API(aria2p.Client(host="http://127.0.0.1", port=int(port), secret=secret))


def wait_for(pred, what, limit=20.0):
    end = time.time() + limit
    while time.time() < end:
        if pred():
            return
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


# A download that completes.
done = api.add_uris([url_done], options={"dir": out_dir, "out": "done.bin"})
wait_for(lambda: api.get_download(done.gid).is_complete, "the first download to complete")
d = api.get_download(done.gid)
assert d.total_length == d.completed_length > 0, (d.total_length, d.completed_length)
assert d.status == "complete", d.status

# A slow one: pause, check, resume, remove.
slow = api.add_uris([url_slow], options={"dir": out_dir, "out": "slow.bin"})
wait_for(lambda: api.get_download(slow.gid).status == "active", "the slow download to start")
assert api.pause([api.get_download(slow.gid)])[0] is True
wait_for(lambda: api.get_download(slow.gid).status == "paused", "pause")
assert api.resume([api.get_download(slow.gid)])[0] is True
wait_for(lambda: api.get_download(slow.gid).status in ("active", "waiting"), "resume")

# Options, global options and stats.
opts = api.get_global_options()
assert opts.get("max-concurrent-downloads"), opts
assert api.get_download(slow.gid).options.get("out") == "slow.bin"
stats = api.get_stats()
assert stats.num_active + stats.num_waiting >= 1, stats
assert api.client.get_version()["version"]
assert any(x.gid == done.gid for x in api.get_downloads())

# A wrong secret is refused.
bad = aria2p.Client(host="http://127.0.0.1", port=int(port), secret="wrong")
try:
    bad.get_version()
    raise SystemExit("a wrong secret was accepted")
except aria2p.ClientException:
    pass

# aria2p removes the download, then its result: afterwards the GID is in
# no list, or (if the result outlived the call) listed as removed.
assert api.remove([api.get_download(slow.gid)], clean=False)[0] is True
wait_for(
    lambda: all(x.gid != slow.gid or x.status == "removed" for x in api.get_downloads()),
    "removal",
)

api.client.shutdown()
print("aria2p session ok")
