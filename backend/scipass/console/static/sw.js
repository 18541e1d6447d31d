// The console's service worker. It keeps the pages that must work offline (the door scanner)
// and their scripts: each is fetched from the network first and kept; when the network is
// gone, the kept copy answers. Nothing else is cached, and no request that changes something.
const CACHE = "scipass-console-v1";
const OFFLINE = [/^\/console\/door(\/|$)/, /^\/console\/static\//, /^\/console\/vendor\//,
  /^\/console\/api\/v1\/personal-code-keys$/, /^\/console\/api\/v1\/personal-code-revocations$/];

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (!OFFLINE.some((pattern) => pattern.test(url.pathname))) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const response = await fetch(event.request);
      if (response.ok) await cache.put(event.request, response.clone());
      return response;
    } catch (error) {
      const kept = await cache.match(event.request, { ignoreSearch: false });
      if (kept) {
        // Marked, so that a page can tell a kept copy (e.g. an old revocation list) from news.
        const headers = new Headers(kept.headers);
        headers.set("X-SciPass-Offline-Copy", "1");
        return new Response(kept.body, { status: kept.status, statusText: kept.statusText, headers });
      }
      throw error;
    }
  })());
});
