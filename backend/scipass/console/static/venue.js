// The venue staff's pages: live arrivals refreshed every few seconds, and export jobs polled
// until their file is ready. Both read the API through /console/api/v1 (console.js's call).
import { call } from "/console/static/console.js";

const clock = new Intl.DateTimeFormat("zh-CN", {
  timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});

function cell(text, header = false) {
  const td = document.createElement(header ? "th" : "td");
  if (header) td.scope = "row";
  td.textContent = String(text);
  return td;
}

function fill(body, rows, empty, columns) {
  if (!body) return;
  const trs = rows.map((row) => {
    const tr = document.createElement("tr");
    row.forEach((value, i) => tr.append(cell(value, i === 0 && columns.header)));
    return tr;
  });
  if (!trs.length) {
    const tr = document.createElement("tr");
    const td = cell(empty);
    td.colSpan = columns.count;
    tr.append(td);
    trs.push(tr);
  }
  body.replaceChildren(...trs);
}

function showArrivals(root, data, labels) {
  for (const el of root.querySelectorAll("[data-total]")) el.textContent = String(data[el.dataset.total]);
  fill(root.querySelector('[data-rows="hours"]'),
    data.hours.map((h) => [`${String(h.hour).padStart(2, "0")}:00`, h.arrivals, h.departures, h.refused]),
    "还没有人签到。", { count: 4, header: true });
  fill(root.querySelector('[data-rows="reasons"]'), data.reasons.map((r) => [r.title, r.count]),
    "没有被拒绝的扫码。", { count: 2 });
  fill(root.querySelector('[data-rows="recent"]'),
    data.recent_refused.map((e) => [
      clock.format(new Date(e.server_time)),
      `${labels.source?.[e.source] ?? e.source} · ${labels.direction?.[e.direction] ?? e.direction}`,
      e.distance_m ? `${e.title}（距现场 ${e.distance_m} 米）` : e.title,
    ]),
    "没有被拒绝的扫码。", { count: 3 });
  const updated = root.querySelector("[data-updated]");
  if (updated) updated.textContent = `${data.day} 的情况，更新于 ${clock.format(new Date())}`;
}

function watchArrivals(root) {
  const labels = JSON.parse(root.dataset.labels || "{}");
  const interval = Number(root.dataset.interval) || 5000;
  const refresh = async () => {
    try {
      const response = await call(root.dataset.src);
      if (response.ok) {
        showArrivals(root, await response.json(), labels);
        root.removeAttribute("data-stale");
      } else {
        root.setAttribute("data-stale", "");
      }
    } catch {
      root.setAttribute("data-stale", "");
    }
    setTimeout(refresh, interval);
  };
  setTimeout(refresh, interval);
}

const JOB_STATUS = { queued: "排队中", running: "进行中", done: "已完成", failed: "失败", expired: "已过期" };

function showJob(box, job) {
  const status = box.querySelector("[data-job-status]");
  const progress = box.querySelector("progress");
  const link = box.querySelector("[data-job-download]");
  if (status) {
    const total = job.progress_total ? ` ${job.progress_done} / ${job.progress_total}` : "";
    status.textContent = `${JOB_STATUS[job.status] ?? job.status}${total}${job.error_code ? `（${job.error_code}）` : ""}`;
  }
  if (progress && job.progress_total) { progress.max = job.progress_total; progress.value = job.progress_done; }
  if (link && job.status === "done") { link.href = `/console/api/v1/jobs/${job.id}/result`; link.hidden = false; }
}

async function pollJob(box) {
  const id = box.dataset.job;
  if (!id) return;
  try {
    const response = await call(`/console/api/v1/jobs/${encodeURIComponent(id)}`);
    if (response.ok) {
      const job = await response.json();
      showJob(box, job);
      if (job.status === "queued" || job.status === "running") setTimeout(() => pollJob(box), 2000);
      return;
    }
  } catch { /* the network: try again */ }
  setTimeout(() => pollJob(box), 5000);
}

// A job queued by a form of this page (its box names the form): shown, then polled, and the
// page stays where it is.
document.addEventListener("console:done", (event) => {
  const form = event.target;
  const job = event.detail?.result;
  const box = form?.id && document.querySelector(`[data-job-for="${CSS.escape(form.id)}"]`);
  if (!box || !job?.id) return;
  box.dataset.job = job.id;
  box.hidden = false;
  showJob(box, job);
  pollJob(box);
});

document.querySelectorAll("[data-arrivals]").forEach(watchArrivals);
document.querySelectorAll("[data-job-for]").forEach((box) => {
  const form = document.getElementById(box.dataset.jobFor);
  if (form) form.dataset.done = "stay";
  if (box.dataset.job) pollJob(box);
});
