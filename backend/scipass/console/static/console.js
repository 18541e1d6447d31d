// The console's progressive enhancement: every page works without this script; with it,
// a form posts without leaving the page and shows the answer beside the field it concerns.
const DONE_KEY = "scipass-console-done";

function showDone(message) {
  const notice = document.querySelector("[data-done-notice]");
  if (!notice) return;
  notice.textContent = message;
  notice.hidden = false;
}

const pending = sessionStorage.getItem(DONE_KEY);
if (pending !== null) {
  sessionStorage.removeItem(DONE_KEY);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => showDone(pending));
  } else {
    showDone(pending);
  }
}

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

export async function call(url, { method = "GET", body, json } = {}) {
  const headers = { Accept: "application/json", "X-CSRF-Token": csrf() };
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  return fetch(url, { method, body, headers, credentials: "same-origin" });
}

function clearProblems(form) {
  form.querySelectorAll("[data-error-for]").forEach((el) => { el.hidden = true; el.textContent = ""; });
  form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
  const box = form.querySelector("[data-problem]");
  if (box) { box.hidden = true; box.textContent = ""; }
}

export function showProblem(form, problem) {
  const box = form.querySelector("[data-problem]");
  let first = null;
  for (const error of problem.errors ?? []) {
    const full = (error.field ?? "").replace(/^(body|query|path)\./, "");
    const exact = form.querySelector(`[data-error-for="${CSS.escape(full)}"]`);
    const name = exact ? full : full.split(".")[0]; // items.0.minutes, else the top field
    const slot = exact ?? form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
    if (!slot) continue;
    slot.textContent = slot.textContent ? `${slot.textContent}；${error.message}` : error.message;
    slot.hidden = false;
    const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (input) { input.setAttribute("aria-invalid", "true"); first ??= input; }
  }
  if (box) {
    box.replaceChildren();
    const title = document.createElement("strong");
    title.textContent = problem.title ?? "操作失败";
    box.append(title);
    if (problem.detail) {
      const detail = document.createElement("span");
      detail.textContent = problem.detail;
      box.append(detail);
    }
    box.hidden = false;
  }
  (first ?? box)?.focus?.();
}

export function download(blob, response) {
  const disposition = response.headers.get("content-disposition") ?? "";
  const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition);
  const plain = /filename="?([^";]+)"?/i.exec(disposition);
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = star ? decodeURIComponent(star[1]) : plain ? plain[1] : "download";
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

async function submit(event) {
  const form = event.target.closest("form[data-enhance]");
  if (!form) return;
  event.preventDefault();
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
  clearProblems(form);
  const buttons = form.querySelectorAll("button");
  buttons.forEach((b) => { b.disabled = true; });
  form.setAttribute("aria-busy", "true");
  try {
    const response = await call(form.action, { method: "POST", body: new FormData(form) });
    const type = response.headers.get("content-type") ?? "";
    if (!response.ok) {
      const problem = type.includes("json") ? await response.json() : { title: `操作失败（${response.status}）` };
      showProblem(form, problem);
      return;
    }
    if (!type.includes("application/json")) { download(await response.blob(), response); return; }
    const answer = await response.json();
    form.dispatchEvent(new CustomEvent("console:done", { detail: answer, bubbles: true }));
    const done = form.querySelector('input[name="_done"]')?.value ?? "已完成";
    if (answer.next || form.dataset.done !== "stay") {
      // the page that opens next says it, as a page posted without this script does
      sessionStorage.setItem(DONE_KEY, done);
      if (answer.next) window.location.assign(answer.next);
      else window.location.reload();
    } else {
      showDone(done);
    }
  } catch {
    showProblem(form, { title: "网络连接失败", detail: "请检查网络后重试" });
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
    form.removeAttribute("aria-busy");
  }
}

document.addEventListener("submit", submit);

// Forms that only ask for confirmation (no enhancement), e.g. sign-out elsewhere.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
});

// Signing out forgets the pages the service worker kept for offline use (the door scanner's,
// which name the staff member and the venue's activities); scans still queued on the device
// stay (IndexedDB), to be sent by whoever signs in next at this venue.
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || form.getAttribute("action") !== "/console/logout") return;
  if (form.dataset.cleared || !("caches" in window)) return;
  event.preventDefault();
  try {
    for (const name of await caches.keys()) {
      const cache = await caches.open(name);
      for (const request of await cache.keys()) {
        if (new URL(request.url).pathname.startsWith("/console/door")) await cache.delete(request);
      }
    }
  } finally {
    form.dataset.cleared = "1";
    form.submit();
  }
});
