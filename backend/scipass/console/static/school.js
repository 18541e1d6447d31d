// School staff's pages: the bulk review's per-record results, the roster import's row errors,
// exports that say how many records were left out, and export jobs followed until done.
// Every page works without this script (the forms post and the server answers).
import { call, download, showProblem } from "/console/static/console.js";

const parse = (text) => { try { return JSON.parse(text ?? "{}"); } catch { return {}; } };

// --- records: select all, and what the bulk review did to each record -----------------------

document.addEventListener("change", (event) => {
  const all = event.target.closest("[data-select-all]");
  if (!all) return;
  all.form.querySelectorAll('input[name="record_ids"]:not(:disabled)').forEach((box) => {
    box.checked = all.checked;
  });
});

document.addEventListener("console:done", (event) => {
  const form = event.target.closest("form[data-bulk-review]");
  if (!form) return;
  const statuses = parse(form.dataset.statusLabels);
  const problems = parse(form.dataset.itemProblems);
  const result = event.detail.result ?? { items: [], succeeded: 0, failed: 0 };
  for (const item of result.items) {
    const row = form.querySelector(`tr[data-record="${item.record_id}"]`);
    if (!row) continue;
    const cell = row.querySelector("[data-result]");
    const mark = document.createElement("span");
    if (item.ok) {
      mark.className = "ok";
      mark.textContent = "已处理";
      row.querySelector("[data-status]").textContent = statuses[item.status] ?? item.status;
      const box = row.querySelector('input[name="record_ids"]');
      box.checked = false;
      box.disabled = true;
    } else {
      mark.className = "bad";
      mark.textContent = problems[item.code] ?? `未处理（${item.code}）`;
    }
    cell.replaceChildren(mark);
  }
  const summary = form.querySelector("[data-bulk-summary]");
  summary.textContent = `已处理 ${result.succeeded} 条` + (result.failed ? `，${result.failed} 条未处理（原因见“结果”列）` : "");
  summary.hidden = false;
});

// --- roster import: every bad row against its line --------------------------------------------

function rowErrors(form, errors) {
  const box = form.querySelector("[data-roster-errors]");
  const body = box.querySelector("tbody");
  body.replaceChildren();
  for (const error of errors) {
    const row = document.createElement("tr");
    for (const text of [`第 ${error.line} 行`, error.column ?? "", error.reason ?? error.message ?? ""]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    body.append(row);
  }
  box.querySelector("h3").textContent = `共 ${errors.length} 处错误，请改正后重新上传`;
  box.hidden = errors.length === 0;
}

document.addEventListener("submit", async (event) => {
  const form = event.target.closest("form[data-roster-import]");
  if (!form) return;
  event.preventDefault();
  const done = form.querySelector("[data-import-result]");
  const button = form.querySelector('button[type="submit"]');
  done.hidden = true;
  rowErrors(form, []);
  const box = form.querySelector("[data-problem]");
  box.hidden = true;
  button.disabled = true;
  form.setAttribute("aria-busy", "true");
  try {
    const response = await call(form.action, { method: "POST", body: new FormData(form) });
    const answer = await response.json();
    if (!response.ok) {
      showProblem(form, { title: answer.title, detail: answer.detail });
      if (Array.isArray(answer.errors) && answer.errors.every((e) => "line" in e)) rowErrors(form, answer.errors);
      return;
    }
    const r = answer.result;
    const again = document.createElement("a");
    again.href = window.location.pathname;
    again.textContent = "查看更新后的名单";
    done.replaceChildren(`名单已导入：新增 ${r.created} 人，更新 ${r.updated} 人，未变化 ${r.unchanged} 人。`, again);
    done.hidden = false;
  } catch {
    showProblem(form, { title: "网络连接失败", detail: "请检查网络后重试" });
  } finally {
    button.disabled = false;
    form.removeAttribute("aria-busy");
  }
});

// --- exports: the file, and how many records it left out --------------------------------------

document.addEventListener("submit", async (event) => {
  const form = event.target.closest("form[data-export]");
  if (!form) return;
  event.preventDefault();
  const status = document.querySelector("[data-export-result]");
  const box = form.querySelector("[data-problem]");
  box.hidden = true;
  status.hidden = true;
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const response = await call(form.action, { method: "POST", body: new FormData(form) });
    if (!response.ok) {
      const problem = await response.json().catch(() => ({ title: `导出失败（${response.status}）` }));
      showProblem(form, problem);
      return;
    }
    const rows = response.headers.get("x-row-count") ?? "0";
    const withheld = Number(response.headers.get("x-withheld-count") ?? "0");
    const pupils = response.headers.get("x-withheld-students") ?? "0";
    download(await response.blob(), response);
    status.textContent = `已导出 ${rows} 行。` + (withheld
      ? `未获“评价导出”同意而略去 ${withheld} 条记录（${pupils} 名学生），名单见下方。`
      : "没有略去的记录。");
    status.hidden = false;
  } catch {
    showProblem(form, { title: "网络连接失败", detail: "请检查网络后重试" });
  } finally {
    button.disabled = false;
  }
});

// --- export jobs: polled until done ------------------------------------------------------------

const jobs = document.querySelector("[data-jobs]");
if (jobs) {
  const labels = parse(jobs.dataset.jobStatuses);
  const waiting = () => [...jobs.querySelectorAll("tr[data-job]")].filter((row) =>
    ["queued", "running"].includes(row.dataset.jobStatus));
  const poll = async () => {
    for (const row of waiting()) {
      const response = await call(`/console/api/v1/jobs/${row.dataset.job}`);
      if (!response.ok) continue;
      const job = await response.json();
      row.dataset.jobStatus = job.status;
      let text = labels[job.status] ?? job.status;
      if (job.progress_total) text += `（${job.progress_done}/${job.progress_total}）`;
      if (job.withheld_count) text += `；未获同意略去 ${job.withheld_count} 条`;
      if (job.error_code) text += `（${job.error_code}）`;
      row.querySelector("[data-job-progress]").textContent = text;
      if (job.download_url) {
        const link = document.createElement("a");
        link.href = `/console${job.download_url}`;
        link.download = "";
        link.textContent = "下载文件";
        row.querySelector("[data-job-link]").replaceChildren(link);
      }
    }
    if (waiting().length) setTimeout(poll, 2000);
  };
  if (waiting().length) setTimeout(poll, 1000);
}

// --- group visits: tick a whole class, and a class checked in at the door ---------------------

// (crypto.randomUUID needs a secure context; getRandomValues does not)
const nonce = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");

document.addEventListener("change", (event) => {
  const all = event.target.closest("[data-tick-all]");
  if (all) {
    all.form.querySelectorAll(`input[name="${all.dataset.tickAll}"]:not(:disabled)`).forEach((box) => {
      box.checked = all.checked;
    });
  }
  const form = event.target.closest("form[data-group-checkin]");
  // another choice is another submission: a new nonce (a second submit of the same keeps it)
  if (form) form.querySelector("[data-nonce]").value = nonce();
});

document.addEventListener("console:done", (event) => {
  const form = event.target.closest("form[data-group-checkin]");
  if (!form) return;
  const results = parse(form.dataset.results);
  const refusals = parse(form.dataset.refusals);
  const result = event.detail.result ?? { items: [], accepted: 0, duplicate: 0, refused: 0 };
  for (const item of result.items) {
    const cell = form.querySelector(`tr[data-student="${item.key}"] [data-result]`);
    if (!cell) continue;
    const mark = document.createElement("span");
    mark.className = item.result === "refused" ? "bad" : "ok";
    mark.textContent = item.result === "refused"
      ? `${results.refused}：${item.message ?? refusals[item.code] ?? item.code}`
      : results[item.result] ?? item.result;
    cell.replaceChildren(mark);
  }
  const summary = form.querySelector("[data-checkin-summary]");
  summary.textContent = `签到 ${result.accepted} 人，此前已签到 ${result.duplicate} 人，未签到 ${result.refused} 人`;
  summary.hidden = false;
});
