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
  if (auth.token) init.headers.Authorization = `Bearer ${auth.token}`;
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const res = await fetch(BASE + path, init);
  if (res.status === 401 && auth.token) {
    logout();
    expiredListeners.forEach((fn) => fn());
  }
  if (!res.ok) throw new ApiError(res.status, await problemOf(res));
  if (res.status === 204) return null;
  return res.json();
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
