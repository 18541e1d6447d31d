// The door scanner (console/door.py). A pupil's personal code (checkin/codes.py) is
// "P.<KID>.<base32(payload ‖ signature)>", the 15-byte payload being version (1) ‖ student id
// (4, big-endian) ‖ expiry, unix seconds (4) ‖ nonce (6), signed with Ed25519. The page
// verifies it here, against the published keys and the revocation list, and shows a verdict
// at once (colour, text and a sound). Then:
// - online, the scan goes to the API's staff scan and the server's answer (masked name,
//   result, reason) replaces the local verdict;
// - offline (or when the request cannot reach the server), the scan is kept in IndexedDB
//   with its nonce and time and uploaded as an offline batch when the network returns; each
//   item's result is listed. Offline the page knows no name: it shows the student number the
//   code carries ("学生编号 N"), which the server's answer replaces once online.
// A code that fails the signature check is refused here and never sent; a signed code is
// sent (an expired or revoked one too: the server keeps the refusal for the venue), unless
// this page accepted that pupil already (shown as "已签到过", nothing sent again).
import { verifyAsync } from "/console/vendor/ed25519.js";
import { call } from "/console/static/console.js";

const API = "/console/api/v1";
const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const PAYLOAD = 15;
const SIGNATURE = 64;
const SAME_READ_MS = 20000; // the camera sees one code many times a second: read it once
const RETRY_MS = 15000;
const BATCH = 500; // items per offline upload (the API takes up to 1,000)
const SCAN_TIMEOUT_MS = 8000; // then the scan is queued (its nonce makes a resend harmless)
const REFUSED_HERE = {
  invalid: "无效的个人码",
  expired: "个人码已过期，请学生刷新后再扫",
  revoked: "这张个人码卡片已挂失停用，请联系学校",
};

// --- time: the server's clock, learnt when online (a tablet's own clock may be off) -------
let clockOffset = 0;
const now = () => Date.now() + clockOffset;

// --- IndexedDB: the queue of offline scans and what the page learnt ----------------------
let dbPromise;
function db() {
  dbPromise ??= new Promise((resolve, reject) => {
    const open = indexedDB.open("scipass-door", 1);
    open.onupgradeneeded = () => {
      open.result.createObjectStore("queue", { keyPath: "nonce" });
      open.result.createObjectStore("meta");
    };
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  return dbPromise;
}

async function store(name, mode, work) {
  const tx = (await db()).transaction(name, mode);
  const request = work(tx.objectStore(name));
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve(request?.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}
const queued = () => store("queue", "readonly", (s) => s.getAll());
const enqueue = (item) => store("queue", "readwrite", (s) => s.put(item));
const dequeue = (nonces) => store("queue", "readwrite", (s) => { nonces.forEach((n) => s.delete(n)); });
const readMeta = (key) => store("meta", "readonly", (s) => s.get(key));
const writeMeta = (key, value) => store("meta", "readwrite", (s) => s.put(value, key));

// --- codes --------------------------------------------------------------------------------
function unb32(text) {
  const out = [];
  let bits = 0;
  let value = 0;
  for (const ch of text) {
    const digit = B32.indexOf(ch);
    if (digit < 0) return null;
    value = (value << 5) | digit;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >> bits) & 0xff);
    }
  }
  return new Uint8Array(out);
}

function unb64url(text) {
  const plain = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4));
  return Uint8Array.from(plain, (c) => c.charCodeAt(0));
}

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

let keys = new Map(); // key id → raw public key
let revoked = new Set(); // nonces (hex) of revoked cards

// What a code says, if it is a personal code signed by one of the published keys.
async function verify(text) {
  const parts = text.trim().toUpperCase().split("/").pop().split(".");
  if (parts.length !== 3 || parts[0] !== "P") return null;
  const key = keys.get(parts[1]);
  const blob = key && unb32(parts[2]);
  if (!blob || blob.length !== PAYLOAD + SIGNATURE) return null;
  const body = blob.subarray(0, PAYLOAD);
  try {
    if (!(await verifyAsync(blob.subarray(PAYLOAD), body, key))) return null;
  } catch {
    return null;
  }
  const view = new DataView(body.buffer, body.byteOffset, PAYLOAD);
  if (view.getUint8(0) !== 1) return null;
  return {
    studentId: view.getUint32(1),
    expiresAt: view.getUint32(5) * 1000,
    nonce: hex(body.subarray(9)),
  };
}

// --- keys, revocations, the server's time ---------------------------------------------------
async function getJson(path) {
  const response = await fetch(API + path, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  // The service worker marks the copy it answered with while offline.
  return { body: await response.json(), fresh: !response.headers.has("x-scipass-offline-copy") };
}

async function loadKeys() {
  const started = Date.now();
  const [found, list] = await Promise.all([getJson("/personal-code-keys"), getJson("/personal-code-revocations")]);
  keys = new Map(found.body.keys.map((k) => [k.key_id.toUpperCase(), unb64url(k.public_key)]));
  revoked = new Set(list.body.nonces);
  if (list.fresh) {
    clockOffset = Date.parse(list.body.generated_at) - (started + Date.now()) / 2;
    await writeMeta("clockOffset", clockOffset);
  } else {
    clockOffset = (await readMeta("clockOffset")) ?? 0;
  }
  // The first verification compiles the curve's code: take that time now, not at the door.
  const [first] = keys.values();
  if (first) await verifyAsync(new Uint8Array(SIGNATURE), new Uint8Array(PAYLOAD), first).catch(() => false);
}

// --- the page -------------------------------------------------------------------------------
const root = document.getElementById("door");
const $ = (id) => document.getElementById(id);
let audio;
let scans = 0;
let lastRead = { text: "", at: 0 };
const seen = new Set(); // activity|direction|student accepted on this page
let uploading = false;

function sound(ok) {
  try {
    audio ??= new AudioContext();
    if (audio.state === "suspended") audio.resume();
    const tones = ok ? [[1046, 0, 0.12]] : [[196, 0, 0.16], [196, 0.22, 0.16]];
    for (const [frequency, at, length] of tones) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = ok ? "sine" : "square";
      osc.frequency.value = frequency;
      gain.gain.value = 0.25;
      osc.connect(gain).connect(audio.destination);
      osc.start(audio.currentTime + at);
      osc.stop(audio.currentTime + at + length);
    }
  } catch {
    // no sound on this device; the colour and the text still say it
  }
}

const RESULT_TEXT = { accepted: "✓ 通过", duplicate: "✓ 已签到过", refused: "✗ 拒绝" };

function showVerdict(scan) {
  const box = $("door-verdict");
  if (Number(box.dataset.scan) > scan.number) return; // a later scan is shown
  box.dataset.scan = String(scan.number);
  box.dataset.state = scan.result === "refused" ? "refused" : "accepted";
  box.dataset.source = scan.source;
  box.dataset.localResult = scan.localResult;
  box.querySelector("[data-verdict-result]").textContent =
    scan.result === "accepted" && scan.direction === "exit" ? "✓ 签退" : RESULT_TEXT[scan.result];
  box.querySelector("[data-verdict-name]").textContent = scan.name;
  box.querySelector("[data-verdict-detail]").textContent = scan.detail;
}

function showRecent(scan) {
  let item = document.querySelector(`#door-recent [data-nonce="${scan.nonce}"]`);
  if (!item) {
    item = document.createElement("li");
    item.dataset.nonce = scan.nonce;
    $("door-recent").prepend(item);
    while ($("door-recent").children.length > 12) $("door-recent").lastElementChild.remove();
  }
  item.dataset.state = scan.result;
  item.textContent = `${clock(scan.at)} ${scan.name} ${RESULT_TEXT[scan.result]}${scan.detail ? "：" + scan.detail : ""}（${SOURCE_TEXT[scan.source]}）`;
}

const SOURCE_TEXT = { local: "本机核验", queued: "待上传", server: "服务器确认" };
const clock = (at) => new Date(at).toLocaleTimeString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" });

function direction() {
  return document.querySelector('input[name="direction"]:checked')?.value ?? "entry";
}

function newNonce() {
  return hex(crypto.getRandomValues(new Uint8Array(12)));
}

// One read, from the camera or typed in.
async function read(text, from) {
  text = text.trim();
  if (!text) return;
  if (from === "camera" && text === lastRead.text && Date.now() - lastRead.at < SAME_READ_MS) return;
  lastRead = { text, at: Date.now() };
  performance.mark("door-decoded");
  const number = ++scans;
  const at = now();
  const code = await verify(text);
  const scan = {
    number, at, code: text, direction: direction(), nonce: newNonce(), source: "local",
    activityId: Number(root.dataset.activityId),
  };
  if (code === null) {
    Object.assign(scan, { result: "refused", name: "", detail: REFUSED_HERE.invalid });
  } else {
    scan.name = `学生编号 ${code.studentId}`;
    const key = `${scan.activityId}|${scan.direction}|${code.studentId}`;
    if (code.expiresAt < at) Object.assign(scan, { result: "refused", detail: REFUSED_HERE.expired });
    else if (revoked.has(code.nonce)) Object.assign(scan, { result: "refused", detail: REFUSED_HERE.revoked });
    else if (seen.has(key)) Object.assign(scan, { result: "duplicate", detail: "本机此前已扫过" });
    else Object.assign(scan, { result: "accepted", detail: "本机核验通过" });
    if (scan.result === "accepted") seen.add(key);
    scan.seenKey = key;
  }
  scan.localResult = scan.result;
  showVerdict(scan);
  sound(scan.result !== "refused");
  // Measured to the frame that shows it (the figure: under 250 ms).
  requestAnimationFrame(() => setTimeout(() => {
    performance.mark("door-verdict");
    performance.measure("door-verdict", "door-decoded", "door-verdict");
  }));
  showRecent(scan);
  if (code !== null && scan.result !== "duplicate") await send(scan);
}

async function send(scan) {
  if (!navigator.onLine) return queue(scan);
  let response;
  try {
    response = await Promise.race([
      call(`${API}/activities/${scan.activityId}/staff-scans`, {
        method: "POST",
        json: { code: scan.code, direction: scan.direction, nonce: scan.nonce },
      }),
      new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), SCAN_TIMEOUT_MS)),
    ]);
  } catch {
    return queue(scan);
  }
  const body = await response.json().catch(() => ({}));
  if (response.status >= 500 || response.status === 401 || body.code === "csrf_failed") {
    await queue(scan);
    if (response.status < 500) setNetwork("offline", "登录已过期：扫码先保存在本机，请重新登录后上传");
    return;
  }
  scan.source = "server";
  if (response.ok) {
    scan.result = body.duplicate ? "duplicate" : "accepted";
    scan.name = body.student_name || scan.name;
    scan.detail = body.class_label || "";
  } else {
    scan.result = "refused";
    seen.delete(scan.seenKey); // may be scanned again once the reason is dealt with
    scan.detail = [body.title, body.detail].filter(Boolean).join("：") || `签到失败（${response.status}）`;
  }
  showVerdict(scan);
  showRecent(scan);
  if ((await queued()).length) upload();
}

async function queue(scan) {
  scan.source = "queued";
  await enqueue({
    nonce: scan.nonce, code: scan.code, direction: scan.direction, activity_id: scan.activityId,
    scan_time: new Date(scan.at).toISOString(), name: scan.name,
  });
  showVerdict(scan);
  showRecent(scan);
  await showQueue();
}

async function showQueue() {
  const items = await queued();
  $("door-queue-count").textContent = String(items.length);
  return items;
}

function showResult(item, result) {
  $("door-results-wrap").hidden = false;
  const row = document.createElement("tr");
  row.dataset.state = result.result;
  const outcome = result.result === "refused"
    ? `拒绝：${result.message ?? result.code ?? ""}`
    : result.result === "duplicate" ? "已签到过" : item.direction === "exit" ? "已签退" : "已签到";
  for (const text of [clock(Date.parse(item.scan_time)), item.name, outcome]) {
    const cell = document.createElement("td");
    cell.textContent = text;
    row.append(cell);
  }
  $("door-results").tBodies[0].prepend(row);
}

// The queue, uploaded as offline batches (one per activity, BATCH items at a time).
async function upload() {
  if (uploading || !navigator.onLine) return;
  uploading = true;
  const status = $("door-upload-status");
  try {
    const items = await showQueue();
    const byActivity = new Map();
    for (const item of items) byActivity.set(item.activity_id, [...(byActivity.get(item.activity_id) ?? []), item]);
    for (const [activityId, all] of byActivity) {
      for (let start = 0; start < all.length; start += BATCH) {
        const part = all.slice(start, start + BATCH);
        status.textContent = `正在上传 ${part.length} 条离线扫码…`;
        const response = await call(`${API}/activities/${activityId}/offline-scans`, {
          method: "POST",
          json: {
            device: "console",
            items: part.map(({ nonce, code, scan_time, direction }) => ({ nonce, code, scan_time, direction })),
          },
        });
        const body = await response.json().catch(() => ({}));
        if (!response.ok) {
          status.textContent = `上传失败：${body.title ?? response.status}${body.detail ? "：" + body.detail : ""}`;
          return;
        }
        const sent = new Map(part.map((item) => [item.nonce, item]));
        for (const result of body.items) showResult(sent.get(result.key), result);
        await dequeue(body.items.map((result) => result.key));
        status.textContent = `已上传：通过 ${body.accepted} 条，已签到过 ${body.duplicate} 条，拒绝 ${body.refused} 条`;
      }
    }
  } catch {
    status.textContent = "网络不通，稍后自动重试";
  } finally {
    uploading = false;
    await showQueue();
  }
}

function setNetwork(state, text) {
  const note = $("door-network");
  note.dataset.state = state;
  note.textContent = text;
}

function onNetwork() {
  if (navigator.onLine) {
    setNetwork("online", "在线：扫码即时提交");
    loadKeys().catch(() => {});
    upload();
  } else {
    setNetwork("offline", "离线：扫码在本机核验并保存，联网后自动上传");
  }
}

// --- the camera -------------------------------------------------------------------------
let stream = null;

async function startCamera() {
  const button = $("door-camera");
  const status = $("door-camera-status");
  if (stream) {
    stream.getTracks().forEach((t) => t.stop());
    stream = null;
    $("door-video").hidden = true;
    button.textContent = "打开摄像头";
    status.textContent = "摄像头已关闭";
    return;
  }
  sound(true); // a tap starts the page's sound on tablets
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: "environment", width: { ideal: 1280 }, height: { ideal: 720 } },
      audio: false,
    });
  } catch (error) {
    status.textContent = `无法打开摄像头（${error.name}）：请允许使用摄像头，或手动输入个人码`;
    return;
  }
  const video = $("door-video");
  video.srcObject = stream;
  video.hidden = false;
  await video.play();
  button.textContent = "关闭摄像头";
  status.textContent = "摄像头已打开：将学生的个人码对准画面";
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const tick = () => {
    if (!stream) return;
    if (video.readyState >= 2 && video.videoWidth) {
      const scale = Math.min(1, 800 / Math.max(video.videoWidth, video.videoHeight));
      canvas.width = Math.round(video.videoWidth * scale);
      canvas.height = Math.round(video.videoHeight * scale);
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      const image = context.getImageData(0, 0, canvas.width, canvas.height);
      performance.mark("door-frame");
      const found = window.jsQR?.(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
      if (found?.data) {
        performance.measure("door-decode", "door-frame");
        read(found.data, "camera");
      }
    }
    setTimeout(tick, 50);
  };
  tick();
}

// --- offline use: the service worker keeps this page and what it loaded ---------------------
function within(ms, promise) {
  return Promise.race([promise, new Promise((_, reject) =>
    setTimeout(() => reject(new Error(`not done within ${ms} ms`)), ms))]);
}

async function keepOffline() {
  const marker = $("door-offline");
  if (!("serviceWorker" in navigator)) return;
  await navigator.serviceWorker.register("/console/sw.js", { scope: "/console/" });
  await within(20000, (async () => {  // an install that failed never becomes ready
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise((resolve) => navigator.serviceWorker.addEventListener("controllerchange", resolve, { once: true }));
    }
  })());
  if (navigator.onLine) {
    // Loaded before the worker took control: fetched again through it, which keeps them.
    const files = performance.getEntriesByType("resource").map((e) => new URL(e.name))
      .filter((u) => u.origin === location.origin && /^\/console\/(static|vendor)\//.test(u.pathname))
      .map((u) => u.pathname);
    const wanted = [location.pathname + location.search, ...new Set(files),
      `${API}/personal-code-keys`, `${API}/personal-code-revocations`];
    await Promise.all(wanted.map((url) => fetch(url, { credentials: "same-origin",
      headers: url.startsWith(API) ? { Accept: "application/json" } : {},
      signal: AbortSignal.timeout(15000) })));
  }
  marker.dataset.offlineReady = "true";
}

// A tablet under load or on a weak network can fail to install the worker or to fetch a file
// through it: try again a few times rather than stay, silently, unable to work offline.
async function keepOfflineWithRetries(tries = 4) {
  for (let attempt = 1; attempt <= tries; attempt += 1) {
    try {
      await keepOffline();
      return;
    } catch (error) {
      $("door-offline").dataset.offlineError = String(error);
      await new Promise((resolve) => setTimeout(resolve, 2000 * attempt));
    }
  }
}

async function start() {
  keepOfflineWithRetries();
  if (!root) return;
  window.addEventListener("online", onNetwork);
  window.addEventListener("offline", onNetwork);
  onNetwork();
  try {
    await loadKeys();
  } catch {
    setNetwork("offline", "无法取得验证公钥：请联网后刷新此页");
    return;
  }
  root.dataset.ready = "true";
  $("door-camera").disabled = false;
  $("door-manual").querySelector("button").disabled = false;
  $("door-camera").addEventListener("click", startCamera);
  $("door-manual").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("door-code");
    read(input.value, "manual");
    input.value = "";
    input.focus();
  });
  $("door-upload").addEventListener("click", upload);
  setInterval(() => { if (navigator.onLine) upload(); }, RETRY_MS);
  await showQueue();
}

start();
