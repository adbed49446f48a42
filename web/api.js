// The REST client: bearer token from /auth/token, JSON in and out, problem+json errors as ApiError.

const BASE = "/api/v1";
const TOKEN = "lc.token";

/** A refused request: the problem document's code, title, detail and the rule's numbers. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || "ERROR";
    this.problem = problem;
  }
}

const expiredListeners = new Set();

export const auth = {
  token: sessionStorage.getItem(TOKEN),
  user: null,
  onExpired(fn) { expiredListeners.add(fn); },
};

export async function login(username, password) {
  const form = new URLSearchParams({ username, password });
  const res = await fetch(`${BASE}/auth/token`, { method: "POST", body: form });
  if (!res.ok) throw new ApiError(res.status, await problemOf(res));
  auth.token = (await res.json()).access_token;
  sessionStorage.setItem(TOKEN, auth.token);
  auth.user = await api("/auth/me");
  return auth.user;
}

export function logout() {
  auth.token = null;
  auth.user = null;
  sessionStorage.removeItem(TOKEN);
}

/** Restore the session of an earlier page load, if its token still works. */
export async function resume() {
  if (!auth.token) return null;
  try {
    auth.user = await api("/auth/me");
    return auth.user;
  } catch {
    logout();
    return null;
  }
}

/** GET (or `method`) a path under /api/v1; returns parsed JSON (null for 204), throws ApiError. */
export async function api(path, { method = "GET", body, headers = {} } = {}) {
  const init = { method, headers: { Accept: "application/json, application/geo+json", ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const res = await request(path, init);
  if (res.status === 204) return null;
  return res.json();
}

/** POST a form (files and fields, as multipart) to a path under /api/v1; returns parsed JSON. */
export async function sendForm(path, form) {
  const res = await request(path, { method: "POST", body: form, headers: { Accept: "application/json" } });
  return res.json();
}

/** GET a file under /api/v1 and hand it to the browser as a download, named as the server names it;
 * returns that name. */
export async function download(path, fallbackName) {
  const res = await request(path, { headers: {} });
  const disposition = res.headers.get("Content-Disposition") || "";
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] || fallbackName;
  const url = URL.createObjectURL(await res.blob());
  const link = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return name;
}

/** fetch with the session's token; a 401 ends the session, any other refusal throws ApiError. */
async function request(path, init) {
  if (auth.token) init.headers.Authorization = `Bearer ${auth.token}`;
  const res = await fetch(BASE + path, init);
  if (res.status === 401 && auth.token) {
    logout();
    expiredListeners.forEach((fn) => fn());
  }
  if (!res.ok) throw new ApiError(res.status, await problemOf(res));
  return res;
}

/** A query string from an object, leaving out empty values. */
export function qs(params) {
  const entries = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "");
  return entries.length ? `?${new URLSearchParams(entries)}` : "";
}

async function problemOf(res) {
  try {
    return await res.json();
  } catch {
    return { title: res.statusText, status: res.status };
  }
}
