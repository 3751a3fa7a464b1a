// The JSON API as the page uses it: URLs relative to the server's root (so a proxy may add a
// path prefix), the bearer token kept in session storage, the namespace every call is made in,
// and one token prompt for every request that was refused.

const TOKEN_KEY = "elektromail.token";

// This module lives at <root>/assets/api.js.
export const root = new URL("../", import.meta.url);

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let prompt = async () => null; // (wrongToken: boolean) => token or null; set by the page
let pending = null; // the prompt on screen, shared by every refused request
let declined = false; // the user cancelled the prompt: fail fast until they ask again
const tokenListeners = [];
let memory = null; // the token when session storage is disabled
const currentToken = () => token() ?? memory;

export function setTokenPrompt(fn) {
  prompt = fn;
}

export function onTokenChange(listener) {
  tokenListeners.push(listener);
}

export function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null; // storage disabled: the prompt comes back on every load
  }
}

export function setToken(value) {
  try {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage disabled: the token lives in `memory` below for this page only.
  }
  memory = value || null;
  declined = false;
  for (const listener of tokenListeners) listener();
}

// The namespace (an isolated set of users and mail on the server) every call is made in, as
// ?namespace=; "" is the default namespace, which takes no parameter.
let namespace = "";

export const currentNamespace = () => namespace;

export function setNamespace(name) {
  namespace = name || "";
}

// The URL of `path` with `params` (empty ones left out) and the namespace, unless `params`
// names one itself (null: none).
export function url(path, params = {}) {
  const target = new URL(path, root);
  const all = "namespace" in params ? params : { ...params, namespace };
  for (const [name, value] of Object.entries(all)) {
    if (value !== null && value !== undefined && value !== "") {
      target.searchParams.set(name, String(value));
    }
  }
  return target.href;
}

export function messagePath(ref, suffix = "") {
  return `messages/${encodeURIComponent(ref.uid)}${suffix}`;
}

export function messageParams(ref) {
  return { user: ref.user, mailbox: ref.mailbox };
}

// The URL of the event stream: EventSource cannot send headers, so the token goes as ?token=.
export function eventsUrl() {
  return url("events", { token: currentToken() });
}

async function askForToken(wrong) {
  if (!pending) {
    pending = Promise.resolve(prompt(wrong)).then((given) => {
      pending = null;
      if (given) setToken(given);
      else declined = true;
      return given;
    });
  }
  return pending;
}

// Ask again after the user cancelled: the next refused request shows the prompt.
export async function requestToken() {
  declined = false;
  return askForToken(false);
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && typeof body.error === "string") return body.error;
  } catch {
    // Not JSON: fall back on the status line.
  }
  return `${response.status} ${response.statusText}`.trim();
}

// fetch() with the token; on 401 asks for the token (once for all callers) and tries again.
export async function send(method, path, { params = {}, body } = {}) {
  for (;;) {
    const sent = currentToken();
    const headers = { Accept: "application/json" };
    if (sent) headers.Authorization = `Bearer ${sent}`;
    const init = { method, headers, cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url(path, params), init);
    if (response.status !== 401) {
      if (!response.ok) throw new ApiError(response.status, await errorMessage(response));
      return response;
    }
    if (declined) throw new ApiError(401, "the server wants a token");
    // Another request may have been given a new token meanwhile: try that one first.
    if (currentToken() !== sent && currentToken()) continue;
    const given = await askForToken(Boolean(sent));
    if (!given) throw new ApiError(401, "the server wants a token");
  }
}

export async function json(method, path, options) {
  const response = await send(method, path, options);
  return response.json();
}

export const get = (path, params) => json("GET", path, { params });

// The server's namespaces (objects with at least a `name`), or null when it has none to offer
// (a 404: a server without namespaces).
export async function namespaces() {
  try {
    const answer = await json("GET", "namespaces", { params: { namespace: null } });
    const items = Array.isArray(answer) ? answer : answer?.namespaces;
    return Array.isArray(items) ? items : [];
  } catch (error) {
    if (error.status === 404) return null;
    throw error;
  }
}

// Saves what `path` answers as a file: fetched with the token, handed over as a Blob URL.
export async function download(path, params, filename) {
  const response = await send("GET", path, { params });
  const blob = await response.blob();
  const href = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = href;
  link.download = filename || "download";
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
}

// The bytes behind `path` as a data: URL (inline images of a mail's HTML).
export async function dataUrl(path, params) {
  const response = await send("GET", path, { params });
  const blob = await response.blob();
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

export const hasToken = () => Boolean(currentToken());
