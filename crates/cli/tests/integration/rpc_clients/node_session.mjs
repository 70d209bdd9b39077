// Drives an arietta daemon with an unmodified Node aria2 client library:
// `aria2` (aria2.js) or `maria2`, over HTTP or WebSocket.
//
// Usage: node node_session.mjs CLIENT TRANSPORT PORT SECRET URL DIR ROUNDS
//   CLIENT    aria2 | maria2
//   TRANSPORT http | ws
//
// Each round adds URL (a throttled file), pauses it as soon as its first
// bytes land, unpauses it, waits for it to complete and removes its result:
// the sequence that once left a download "active" at 0 B/s about once in 30
// runs. A final download is removed while active. Over WebSocket the
// notifications of every round must arrive too. Exits 0 when every step
// behaved as aria2 would; prints what failed otherwise.

import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const [client, transport, port, secret, url, dir, roundsArg] = process.argv.slice(2);
const rounds = Number(roundsArg);
const LIMIT_MS = 20000;

function fail(why) {
  console.error(`${client}/${transport}: ${why}`);
  process.exit(1);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(pred, what) {
  const end = Date.now() + LIMIT_MS;
  let last;
  while (Date.now() < end) {
    last = await pred();
    if (last === true) return;
    await sleep(15);
  }
  fail(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

// One `call(method, ...params)` over either library, and the notifications
// seen (method, gid) when the transport carries them.
const seen = [];
let call;
let close;

if (client === "aria2") {
  const Aria2 = require("aria2");
  const a = new Aria2({ host: "127.0.0.1", port: Number(port), secret, path: "/jsonrpc" });
  if (transport === "ws") {
    await a.open();
    for (const ev of ["onDownloadStart", "onDownloadPause", "onDownloadComplete", "onDownloadStop"]) {
      a.on(ev, ([e]) => seen.push([ev, e.gid]));
    }
  }
  call = (method, ...params) => a.call(method, ...params);
  close = async () => {
    if (transport === "ws") await a.close();
  };
} else if (client === "maria2") {
  const { open, aria2, close: closeConn } = await import("maria2");
  const { createHTTP, createWebSocket } = await import("maria2/transport");
  const sock =
    transport === "ws"
      ? createWebSocket(`ws://127.0.0.1:${port}/jsonrpc`)
      : createHTTP(`http://127.0.0.1:${port}/jsonrpc`);
  const conn = await open(sock, { secret, timeout: LIMIT_MS });
  if (transport === "ws") {
    for (const ev of ["onDownloadStart", "onDownloadPause", "onDownloadComplete", "onDownloadStop"]) {
      aria2[ev](conn, (e) => seen.push([ev, e.gid]));
    }
  }
  call = (method, ...params) => aria2[method](conn, ...params);
  close = async () => closeConn(conn);
} else {
  fail(`unknown client ${client}`);
}

const version = await call("getVersion");
if (!version.version || !Array.isArray(version.enabledFeatures)) fail(`getVersion: ${JSON.stringify(version)}`);

for (let i = 0; i < rounds; i++) {
  const out = `${client}-${transport}-${i}.bin`;
  const gid = await call("addUri", [url], { dir, out });
  if (!/^[0-9a-f]{16}$/.test(gid)) fail(`addUri answered ${JSON.stringify(gid)}`);
  // Pause just after the first bytes: the moment that used to stall.
  await waitFor(async () => {
    const st = await call("tellStatus", gid, ["status", "completedLength"]);
    return Number(st.completedLength) > 0 || st.status === "complete" || st;
  }, `round ${i}: first bytes`);
  const paused = await call("pause", gid).catch((e) => e);
  if (paused !== gid) {
    // Only a download that finished in between may refuse the pause.
    const st = await call("tellStatus", gid, ["status"]);
    if (st.status !== "complete") fail(`round ${i}: pause answered ${paused}`);
  } else {
    await waitFor(async () => {
      const st = await call("tellStatus", gid, ["status"]);
      return st.status === "paused" || st;
    }, `round ${i}: paused`);
    const unpaused = await call("unpause", gid);
    if (unpaused !== gid) fail(`round ${i}: unpause answered ${unpaused}`);
  }
  await waitFor(async () => {
    const st = await call("tellStatus", gid, ["status", "completedLength", "totalLength", "downloadSpeed", "connections"]);
    if (st.status === "error" || st.status === "removed") fail(`round ${i}: ${JSON.stringify(st)}`);
    return (st.status === "complete" && st.completedLength === st.totalLength) || st;
  }, `round ${i}: complete after unpause`);
  const removed = await call("removeDownloadResult", gid);
  if (removed !== "OK") fail(`round ${i}: removeDownloadResult answered ${removed}`);
  const gone = await call("tellStatus", gid, ["status"]).then(
    (st) => st,
    (e) => e,
  );
  if (!String(gone.message ?? gone).includes("is not found")) {
    fail(`round ${i}: the result outlived removeDownloadResult: ${JSON.stringify(gone)}`);
  }
}

// Remove an active download: it ends as "removed", errorCode 31 as aria2.
const last = await call("addUri", [url], { dir, out: `${client}-${transport}-removed.bin` });
await waitFor(async () => (await call("tellStatus", last, ["status"])).status === "active", "the last download to start");
if ((await call("remove", last)) !== last) fail("remove did not answer the gid");
await waitFor(async () => {
  const st = await call("tellStatus", last, ["status", "errorCode"]);
  return (st.status === "removed" && st.errorCode === "31") || st;
}, "removal");

if (transport === "ws") {
  // Every round's notifications, each download's in order.
  await sleep(200);
  const starts = seen.filter(([m]) => m === "onDownloadStart").length;
  const completes = seen.filter(([m]) => m === "onDownloadComplete").length;
  const stops = seen.filter(([m]) => m === "onDownloadStop").length;
  if (completes !== rounds || stops !== 1 || starts < rounds + 1) {
    fail(`notifications: ${starts} starts, ${completes} completes, ${stops} stops: ${JSON.stringify(seen)}`);
  }
}

await close();
console.log(`${client}/${transport}: ${rounds} rounds ok`);
process.exit(0);
