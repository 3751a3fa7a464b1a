// The server's event stream (GET /events) as the page keeps it: the live indicator, resuming
// after an interruption (with a resync, since events were missed), subscribing again after a
// refusal once the API answers (it asks for a token if that was missing), and no stream held by
// a page in the back/forward cache.

import * as api from "./api.js";
import { $ } from "./dom.js";

const FIRST_RETRY = 2000; // ms; doubled after each failed attempt, up to MAX_RETRY
const MAX_RETRY = 30_000;

let source = null;
let retryDelay = FIRST_RETRY;
let missed = false; // the stream broke: events may have been lost
let handlers = null; // {delivered, flags, expunged, resync}

function setLive(mode, text) {
  const live = $("live");
  live.dataset.state = mode;
  $("live-text").textContent = text;
  live.title =
    mode === "live" ? "New mail appears as it arrives" : "Not connected to the event stream";
}

function handle(fn) {
  return (event) => {
    let record;
    try {
      record = JSON.parse(event.data);
    } catch {
      console.warn("elektromail: an event that is not JSON", event.data);
      return;
    }
    fn(record);
  };
}

function retryLater(stream) {
  setLive("offline", "Offline");
  setTimeout(async () => {
    if (stream !== source) return;
    try {
      await api.get("users");
    } catch {
      // Still refused or down: the next attempt waits longer.
    }
    retryDelay = Math.min(retryDelay * 2, MAX_RETRY);
    if (stream === source) connect();
  }, retryDelay);
}

// Subscribes (again); `given`: the record handlers, on the first call.
export function connect(given = null) {
  if (given) handlers = given;
  source?.close();
  setLive("connecting", "Connecting");
  const stream = new EventSource(api.eventsUrl());
  source = stream;
  stream.addEventListener("open", () => {
    retryDelay = FIRST_RETRY;
    setLive("live", "Live");
    if (missed) {
      missed = false;
      handlers.resync();
    }
  });
  stream.addEventListener("delivered", handle((r) => handlers.delivered(r)));
  stream.addEventListener("flags", handle((r) => handlers.flags(r)));
  stream.addEventListener("expunged", handle((r) => handlers.expunged(r)));
  stream.addEventListener("error", () => {
    if (stream !== source) return;
    missed = true;
    // CONNECTING: the browser tries again by itself. CLOSED: it was refused (a 401) or the
    // server answered something else; only a new EventSource tries again.
    if (stream.readyState === EventSource.CLOSED) retryLater(stream);
    else setLive("connecting", "Reconnecting");
  });
}

// With a new token: subscribe again at once (when subscribed at all).
export function reconnect() {
  if (source) connect();
}

export function initLifecycle() {
  // Browsers open six connections to a server at most, and a page kept in the back/forward
  // cache with its stream open would hold one for good.
  window.addEventListener("pagehide", () => {
    source?.close();
    source = null;
  });
  window.addEventListener("pageshow", (event) => {
    if (!event.persisted || !handlers) return;
    missed = true;
    connect();
  });
}
