// The message view: a summary of the envelope and tabs for the HTML body (in a sandboxed frame
// that runs no script and loads no remote image until asked), the text body, the headers, the
// raw source and the attachments.

import * as api from "./api.js";
import { initChecks, loadChecks, resetChecks } from "./checks.js";
import { toast } from "./dialogs.js";
import { $, formatLongDate, formatSize, h, icon } from "./dom.js";
import { FLAGGED, SEEN } from "./list.js";
import { showTranscript } from "./transcript.js";

const TABS = ["html", "text", "headers", "raw", "attachments", "transcript", "checks"];

// The frame inherits the page's policy too; this one, first in its document, blocks remote
// images (and every other fetch) until the reader asks for them.
const FRAME_POLICY = {
  blocked: "default-src 'none'; img-src data: cid:; style-src 'unsafe-inline'; font-src data:",
  remote:
    "default-src 'none'; img-src data: cid: http: https:; style-src 'unsafe-inline'; " +
    "font-src data:",
};

// An attribute or a CSS url() that names a remote (http:, https: or protocol-relative) URL.
const REMOTE_RE = new RegExp(
  String.raw`(?:\b(?:src|background|srcset|poster)\s*=\s*["']?\s*(?:https?:)?//)` +
    String.raw`|(?:url\(\s*["']?\s*(?:https?:)?//)`,
  "i",
);
const CID_RE = /cid:([^"'\s)<>]+)/gi;
const URL_RE = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;
const MAX_INLINE_IMAGE = 2_000_000;

let shown = null; // {detail, remote, cids: Map}
let loadSeq = 0;

export const current = () => shown?.detail ?? null;

// --- tabs (WAI-ARIA tablist: arrows, Home and End move and select) ---------------------------

const tab = (name) => $(`tab-${name}`);
const panel = (name) => $(`panel-${name}`);
const visibleTabs = () => TABS.filter((name) => !tab(name).hidden);

export function selectTab(name, focus = false) {
  for (const other of TABS) {
    const selected = other === name;
    tab(other).setAttribute("aria-selected", String(selected));
    tab(other).tabIndex = selected ? 0 : -1;
    panel(other).hidden = !selected;
  }
  if (focus) tab(name).focus();
  if (name === "checks") loadChecks(current()); // on demand: the checks run when asked
  if (name === "transcript") loadTranscript();
}

// The transcript is fetched when its tab is first opened for a message.
function loadTranscript() {
  if (!shown || shown.transcript) return;
  const { detail } = shown;
  shown.transcript = true;
  const seq = loadSeq;
  showTranscript($("transcript-body"), detail, () => seq === loadSeq);
}

export function initTabs() {
  initChecks(current);
  const list = $("tabs");
  list.addEventListener("click", (event) => {
    const button = event.target.closest('[role="tab"]');
    if (button) selectTab(button.id.slice(4));
  });
  list.addEventListener("keydown", (event) => {
    const names = visibleTabs();
    const at = names.indexOf(event.target.id?.slice(4));
    if (at < 0) return;
    const moves = {
      ArrowRight: (at + 1) % names.length,
      ArrowLeft: (at - 1 + names.length) % names.length,
      Home: 0,
      End: names.length - 1,
    };
    if (!(event.key in moves)) return;
    event.preventDefault();
    selectTab(names[moves[event.key]], true);
  });
  $("load-remote").addEventListener("click", () => {
    if (!shown) return;
    shown.remote = true;
    renderHtml();
    $("html-frame").focus();
  });
}

// --- the parts ------------------------------------------------------------------------------

function summary(detail) {
  const rows = [
    ["From", detail.from],
    ["To", detail.to],
    ["Cc", detail.cc],
    ["Date", detail.date],
    ["Received", formatLongDate(detail.internal_date)],
    ["Mailbox", [detail.user, detail.mailbox, `UID ${detail.uid}`, formatSize(detail.size)]],
  ];
  return rows
    .filter(([, value]) => value)
    .map(([name, value]) => {
      const text = Array.isArray(value) ? value.join(" · ") : value;
      return h("div", { class: "summary-row" }, h("dt", {}, name), h("dd", {}, text));
    });
}

function frameDocument(html, remote, cids) {
  const policy = remote ? "remote" : "blocked";
  const body = html.replace(CID_RE, (whole, id) => cids.get(normalCid(id)) ?? whole);
  return (
    "<!DOCTYPE html>" +
    `<meta http-equiv="Content-Security-Policy" content="${FRAME_POLICY[policy]}">` +
    '<meta name="referrer" content="no-referrer">' +
    '<meta name="color-scheme" content="light">' +
    '<base target="_blank">' +
    body
  );
}

// A new frame (a copy of the page's, sandbox and all) for each document: navigating the old one
// would add an entry to the tab's history, and Back would then step through mail bodies.
function replaceFrame(srcdoc) {
  const old = $("html-frame");
  const fresh = old.cloneNode(false);
  if (srcdoc) fresh.srcdoc = srcdoc;
  else fresh.removeAttribute("srcdoc");
  old.replaceWith(fresh);
  return fresh;
}

function renderHtml() {
  const { detail, remote, cids } = shown;
  replaceFrame(detail.html ? frameDocument(detail.html, remote, cids) : "");
  $("remote-bar").hidden = remote || !REMOTE_RE.test(detail.html || "");
}

function normalCid(id) {
  let value = id;
  try {
    value = decodeURIComponent(id);
  } catch {
    // A lone % in the reference: compare it as written.
  }
  return value.replace(/^<|>$/g, "").toLowerCase();
}

// Inline images (cid: references) as data: URLs: they are part of the message, not remote.
async function inlineImages(detail) {
  const found = new Map();
  if (!detail.html || !/cid:/i.test(detail.html)) return found;
  const wanted = (detail.attachments || []).filter(
    (a) => a.content_id && a.content_type?.startsWith("image/") && a.size <= MAX_INLINE_IMAGE,
  );
  await Promise.all(
    wanted.slice(0, 30).map(async (a) => {
      try {
        const path = api.messagePath(detail, `/attachments/${a.index}`);
        const data = await api.dataUrl(path, api.messageParams(detail));
        found.set(normalCid(a.content_id), data);
      } catch {
        // Left as cid:, which the frame cannot load: a broken image, like in any client.
      }
    }),
  );
  return found;
}

function linkified(text) {
  const out = [];
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    out.push(text.slice(last, match.index));
    out.push(h("a", { href: match[0], target: "_blank", rel: "noopener noreferrer" }, match[0]));
    last = match.index + match[0].length;
  }
  out.push(text.slice(last));
  return out;
}

function headerRows(headers) {
  const out = [];
  for (const [name, values] of Object.entries(headers || {})) {
    for (const value of values) {
      out.push(h("tr", {}, h("th", { scope: "row" }, name), h("td", {}, value)));
    }
  }
  return out;
}

const downloadFailed = (error) => toast(`Download failed: ${error.message}`, "error");

// A link that saves the file; with a token it is fetched with the Authorization header.
export function downloadLink(path, params, filename, content) {
  const href = api.url(path, params);
  const link = h("a", { class: "button small", href, download: filename }, content);
  link.addEventListener("click", (event) => {
    if (!api.hasToken()) return; // a plain link works without a token
    event.preventDefault();
    api.download(path, params, filename).catch(downloadFailed);
  });
  return link;
}

function attachmentItems(detail) {
  const items = detail.attachments || [];
  if (!items.length) return [h("li", { class: "none" }, "This message has no attachments.")];
  return items.map((a) => {
    const name = a.filename || `attachment-${a.index + 1}`;
    const details = [a.content_type, formatSize(a.size)];
    if (a.content_id) details.push("inline");
    return h(
      "li",
      { class: "attachment" },
      icon("file"),
      h(
        "span",
        { class: "attachment-name" },
        h("span", { class: "filename" }, name),
        h("span", { class: "meta" }, details.join(" · ")),
      ),
      downloadLink(
        api.messagePath(detail, `/attachments/${a.index}`),
        api.messageParams(detail),
        name,
        [icon("download"), "Download"],
      ),
    );
  });
}

function fileName(detail) {
  const subject = detail.subject || `message-${detail.uid}`;
  const base = subject.replace(/[\\/:*?"<>|\x00-\x1f]+/g, "_").slice(0, 80);
  return `${base.trim() || `message-${detail.uid}`}.eml`;
}

// --- the view -------------------------------------------------------------------------------

export function setFlags(flags) {
  if (!shown) return;
  shown.detail.flags = flags;
  const set = new Set(flags);
  const seen = set.has(SEEN);
  const seenButton = $("toggle-seen");
  const label = h("span", { class: "label" }, seen ? "Mark unread" : "Mark read");
  seenButton.replaceChildren(icon(seen ? "unread" : "read"), label);
  seenButton.dataset.seen = String(seen);
  const flagButton = $("toggle-flag");
  flagButton.setAttribute("aria-pressed", String(set.has(FLAGGED)));
  flagButton.querySelector(".label").textContent = set.has(FLAGGED) ? "Flagged" : "Flag";
}

// Shows `detail` (the API's full message). Resolves once the HTML frame has its document.
export async function showMessage(detail) {
  const seq = ++loadSeq;
  const cids = await inlineImages(detail);
  if (seq !== loadSeq) return;
  shown = { detail, remote: false, cids, transcript: false };
  resetChecks();
  $("transcript-body").replaceChildren();
  $("view-subject").textContent = detail.subject || "(no subject)";
  $("view-subject").classList.toggle("none", !detail.subject);
  $("summary").replaceChildren(...summary(detail));
  setFlags(detail.flags);

  const rawParams = api.messageParams(detail);
  const rawLink = $("raw-link");
  rawLink.href = api.url(api.messagePath(detail, "/raw"), rawParams);
  rawLink.download = fileName(detail);

  tab("html").hidden = !detail.html;
  renderHtml();
  $("text-body").replaceChildren(
    ...(detail.text === null || detail.text === undefined
      ? [h("span", { class: "none" }, "This message has no plain-text part.")]
      : linkified(detail.text)),
  );
  $("headers-body").replaceChildren(...headerRows(detail.headers));
  const raw = $("raw-body");
  raw.textContent = detail.raw ?? "";
  raw.classList.toggle("lossy", Boolean(detail.raw_base64));
  raw.title = detail.raw_base64
    ? "Not UTF-8: shown with replacement characters; the .eml download has the exact bytes."
    : "";
  const count = (detail.attachments || []).length;
  tab("attachments").textContent = `Attachments (${count})`;
  $("attachment-list").replaceChildren(...attachmentItems(detail));
  selectTab(detail.html ? "html" : "text");
  $("view-scroll").scrollTop = 0;
}

export function clearMessage() {
  loadSeq += 1;
  shown = null;
  replaceFrame("");
}

export function initRawLink() {
  $("raw-link").addEventListener("click", (event) => {
    if (!shown || !api.hasToken()) return;
    event.preventDefault();
    const { detail } = shown;
    api
      .download(api.messagePath(detail, "/raw"), api.messageParams(detail), fileName(detail))
      .catch(downloadFailed);
  });
}
