"""Drives an arietta daemon with the unmodified aioaria2 client library.

Usage: aioaria2_session.py TRANSPORT PORT SECRET URL DIR ROUNDS
  TRANSPORT  http | ws

Each round adds URL (a throttled file), pauses it as soon as its first bytes
land, unpauses it, waits for it to complete and removes its result: the
sequence that once left a download "active" at 0 B/s. A final download is
removed while active. Over WebSocket every round's notifications must
arrive too. Exits 0 when every step behaved as aria2 would.
"""
import asyncio
import sys
import time

import aioaria2

transport, port, secret, url, out_dir, rounds = sys.argv[1:7]
rounds = int(rounds)
LIMIT = 20.0


def fail(why):
    raise SystemExit(f"aioaria2/{transport}: {why}")


async def wait_for(pred, what):
    end = time.monotonic() + LIMIT
    last = None
    while time.monotonic() < end:
        last = await pred()
        if last is True:
            return
        await asyncio.sleep(0.015)
    fail(f"timed out waiting for {what} (last: {last})")


async def main():
    seen = []
    if transport == "ws":
        c = await aioaria2.Aria2WebsocketClient.new(
            f"ws://127.0.0.1:{port}/jsonrpc", token=secret
        )

        def recorder(name):
            async def record(_client, data):
                seen.append((name, data["params"][0]["gid"]))

            return record

        for name in ("onDownloadStart", "onDownloadPause", "onDownloadComplete", "onDownloadStop"):
            getattr(c, name)(recorder(name))
    else:
        c = aioaria2.Aria2HttpClient(f"http://127.0.0.1:{port}/jsonrpc", token=secret)

    version = await c.getVersion()
    if not version.get("version") or not isinstance(version.get("enabledFeatures"), list):
        fail(f"getVersion: {version}")

    for i in range(rounds):
        gid = await c.addUri([url], {"dir": out_dir, "out": f"aioaria2-{transport}-{i}.bin"})
        if len(gid) != 16:
            fail(f"addUri answered {gid!r}")

        async def first_bytes():
            st = await c.tellStatus(gid, ["status", "completedLength"])
            return int(st["completedLength"]) > 0 or st["status"] == "complete" or st

        await wait_for(first_bytes, f"round {i}: first bytes")
        try:
            paused = await c.pause(gid)
        except aioaria2.Aria2rpcException as e:
            paused = str(e)
        if paused != gid:
            st = await c.tellStatus(gid, ["status"])
            if st["status"] != "complete":
                fail(f"round {i}: pause answered {paused}")
        else:
            async def is_paused():
                st = await c.tellStatus(gid, ["status"])
                return st["status"] == "paused" or st

            await wait_for(is_paused, f"round {i}: paused")
            if await c.unpause(gid) != gid:
                fail(f"round {i}: unpause did not answer the gid")

        async def complete():
            st = await c.tellStatus(
                gid, ["status", "completedLength", "totalLength", "downloadSpeed", "connections"]
            )
            if st["status"] in ("error", "removed"):
                fail(f"round {i}: {st}")
            return (st["status"] == "complete" and st["completedLength"] == st["totalLength"]) or st

        await wait_for(complete, f"round {i}: complete after unpause")
        if await c.removeDownloadResult(gid) != "OK":
            fail(f"round {i}: removeDownloadResult")
        try:
            await c.tellStatus(gid, ["status"])
            fail(f"round {i}: the result outlived removeDownloadResult")
        except aioaria2.Aria2rpcException as e:
            if "is not found" not in str(e):
                fail(f"round {i}: {e}")

    last = await c.addUri([url], {"dir": out_dir, "out": f"aioaria2-{transport}-removed.bin"})

    async def active():
        return (await c.tellStatus(last, ["status"]))["status"] == "active"

    await wait_for(active, "the last download to start")
    if await c.remove(last) != last:
        fail("remove did not answer the gid")

    async def removed():
        st = await c.tellStatus(last, ["status", "errorCode"])
        return (st["status"] == "removed" and st["errorCode"] == "31") or st

    await wait_for(removed, "removal")

    if transport == "ws":
        await asyncio.sleep(0.2)
        starts = sum(1 for m, _ in seen if m == "onDownloadStart")
        completes = sum(1 for m, _ in seen if m == "onDownloadComplete")
        stops = sum(1 for m, _ in seen if m == "onDownloadStop")
        if completes != rounds or stops != 1 or starts < rounds + 1:
            fail(f"notifications: {starts} starts, {completes} completes, {stops} stops: {seen}")
    await c.close()
    print(f"aioaria2/{transport}: {rounds} rounds ok")


asyncio.run(main())
