// The web inbox: pickers, search, the paged list and the message view, kept current by the
// server's event stream (GET /events). State lives in the URL (?namespace, user, mailbox, q,
// page, open) so that a reload or a shared link shows the same thing.

import * as api from "./api.js";
import { askToken, confirmAction, toast } from "./dialogs.js";
import { $, formatCount, h } from "./dom.js";
import * as list from "./list.js";
import * as live from "./live.js";
import { initRelease } from "./release.js";
import * as view from "./view.js";

const PAGE_SIZE = 50;

const state = {
  user: "",
  mailbox: "",
  q: "",
  offset: 0,
  items: [],
  total: 0,
  users: [],
  boxes: [],
  namespaces: [], // the names GET /namespaces gave; none: the picker is hidden
  open: null, // {user, mailbox, uid} of the message in the view
  fresh: 0, // messages delivered since this page (not the first) was loaded
  freshUnknown: false, // delivered while searching: whether they match is unknown
};

const sameUser = (a, b) => a.toLowerCase() === b.toLowerCase();
const showError = (error) => toast(error.message || String(error), "error");

// --- the URL --------------------------------------------------------------------------------

function readUrl() {
  const params = new URLSearchParams(location.search);
  api.setNamespace(params.get("namespace") || "");
  state.user = params.get("user") || "";
  state.mailbox = params.get("mailbox") || "";
  state.q = params.get("q") || "";
  const page = Number.parseInt(params.get("page") || "1", 10);
  state.offset = Number.isFinite(page) && page > 1 ? (page - 1) * PAGE_SIZE : 0;
  return parseOpen(params.get("open"));
}

// "open" is "UID:user:mailbox": a user name has no colon; a mailbox name may.
function parseOpen(value) {
  const match = /^(\d+):([^:]+):(.+)$/.exec(value || "");
  return match ? { uid: Number(match[1]), user: match[2], mailbox: match[3] } : null;
}

function writeUrl(push = false) {
  const params = new URLSearchParams();
  if (api.currentNamespace()) params.set("namespace", api.currentNamespace());
  if (state.user) params.set("user", state.user);
  if (state.mailbox) params.set("mailbox", state.mailbox);
  if (state.q) params.set("q", state.q);
  if (state.offset) params.set("page", String(state.offset / PAGE_SIZE + 1));
  if (state.open) params.set("open", `${state.open.uid}:${state.open.user}:${state.open.mailbox}`);
  const query = params.toString();
  const target = `${location.pathname}${query ? `?${query}` : ""}`;
  if (target === `${location.pathname}${location.search}`) return;
  if (push) history.pushState({ pushed: true }, "", target);
  else history.replaceState(history.state, "", target);
}

// A token given as /?token=...: kept like a typed one, and taken out of the address bar.
function takeTokenFromUrl() {
  const params = new URLSearchParams(location.search);
  const given = params.get("token");
  if (given === null) return;
  if (given) api.setToken(given);
  params.delete("token");
  const query = params.toString();
  history.replaceState(null, "", `${location.pathname}${query ? `?${query}` : ""}`);
}

// --- the pickers ----------------------------------------------------------------------------

function boxLabel(name, messages, unseen) {
  const counts = unseen
    ? `${formatCount(messages)}, ${formatCount(unseen)} unread`
    : formatCount(messages);
  return `${name} (${counts})`;
}

function fillSelect(select, options, value) {
  const nodes = options.map(([optionValue, label]) => h("option", { value: optionValue }, label));
  select.replaceChildren(...nodes);
  select.value = value;
  // The chosen option's whole text, should the select be too narrow for it.
  select.title = select.selectedOptions[0]?.textContent ?? "";
}

function renderPickers() {
  const totals = new Map(); // user (lower case) -> [messages, unseen]
  for (const box of state.boxes) {
    const key = box.user.toLowerCase();
    const [messages, unseen] = totals.get(key) || [0, 0];
    totals.set(key, [messages + box.messages, unseen + box.unseen]);
  }
  const allMessages = state.boxes.reduce((sum, b) => sum + b.messages, 0);
  const allUnseen = state.boxes.reduce((sum, b) => sum + b.unseen, 0);
  const users = state.users.map((name) => {
    const [messages, unseen] = totals.get(name.toLowerCase()) || [0, 0];
    return [name, boxLabel(name, messages, unseen)];
  });
  if (state.user && !users.some(([name]) => sameUser(name, state.user))) {
    users.push([state.user, state.user]);
  }
  const everyone = ["", boxLabel("All users", allMessages, allUnseen)];
  fillSelect($("user"), [everyone, ...users], state.user);

  const byName = new Map(); // mailbox -> [messages, unseen], over the chosen user(s)
  for (const box of state.boxes) {
    if (state.user && !sameUser(box.user, state.user)) continue;
    const [messages, unseen] = byName.get(box.mailbox) || [0, 0];
    byName.set(box.mailbox, [messages + box.messages, unseen + box.unseen]);
  }
  const names = [...byName.keys()].sort((a, b) =>
    a === "INBOX" ? -1 : b === "INBOX" ? 1 : a.localeCompare(b),
  );
  const boxes = names.map((name) => [name, boxLabel(name, ...byName.get(name))]);
  if (state.mailbox && !byName.has(state.mailbox)) boxes.push([state.mailbox, state.mailbox]);
  fillSelect($("mailbox"), [["", "All mailboxes"], ...boxes], state.mailbox);

  const unread = state.user ? (totals.get(state.user.toLowerCase()) || [0, 0])[1] : allUnseen;
  const name = api.currentNamespace() ? `${api.currentNamespace()} · elektromail` : "elektromail";
  document.title = unread ? `(${formatCount(unread)}) ${name}` : name;
}

async function loadPickers() {
  const [users, boxes] = await Promise.all([api.get("users"), api.get("mailboxes")]);
  state.users = users.map((u) => u.user);
  state.boxes = boxes;
  renderPickers();
}

// --- the namespace picker -------------------------------------------------------------------

// Shown while the server has namespaces (GET /namespaces lists some); the one in the URL is an
// option even when the list does not name it (a link to one since deleted, say).
function renderNamespaces() {
  const names = state.namespaces || [];
  const current = api.currentNamespace();
  $("namespace-picker").hidden = !names.length;
  if (!names.length) return;
  const options = names.map((name) => [name, name]);
  if (current && !names.includes(current)) options.push([current, current]);
  fillSelect($("namespace"), [["", "Default"], ...options], current);
  $("namespace").title = `Namespace: ${current || "the default one"}`;
}

let askNamespaces = true; // false once the server said it has none (a 404): asked once

async function loadNamespaces() {
  if (!askNamespaces) return;
  try {
    const items = await api.namespaces();
    if (items === null) askNamespaces = false;
    state.namespaces = (items || []).map((n) => n?.name).filter((n) => n && typeof n === "string");
  } catch {
    state.namespaces = []; // refused or down: hidden until the next try
  }
  renderNamespaces();
}

// Everything the page shows comes from the namespace: start over in the new one.
function switchNamespace(name) {
  if (name === api.currentNamespace()) return;
  // Closed in place: going back in history (to where it was opened) would undo the switch.
  if (state.open) closeMessage({ fromHistory: true, focusRow: false });
  api.setNamespace(name);
  state.user = "";
  state.mailbox = "";
  state.offset = 0;
  state.fresh = 0;
  state.freshUnknown = false;
  state.users = [];
  state.boxes = [];
  renderNamespaces();
  renderPickers();
  writeUrl();
  live.reconnect();
  refreshAll();
}

// --- the list -------------------------------------------------------------------------------

let listSeq = 0;

function renderPager() {
  const count = state.items.length;
  const range = $("range");
  if (!state.total) range.textContent = "No messages";
  else if (!count) range.textContent = `0 of ${formatCount(state.total)}`;
  else {
    const first = formatCount(state.offset + 1);
    const last = formatCount(state.offset + count);
    range.textContent = `${first}–${last} of ${formatCount(state.total)}`;
  }
  $("prev").disabled = state.offset === 0;
  $("next").disabled = state.offset + count >= state.total;
  const fresh = $("new-mail");
  fresh.hidden = !(state.offset > 0 && (state.fresh || state.freshUnknown));
  fresh.textContent = state.fresh ? `${formatCount(state.fresh)} new` : "New mail";
  fresh.title = "Show the newest messages";
}

function renderStatus(error = null) {
  const status = $("list-status");
  if (error) {
    const retry = h("button", { type: "button", class: "button small" }, "Try again");
    retry.addEventListener("click", () => refreshAll());
    const parts = [h("p", {}, `Could not load the messages: ${error.message}`), retry];
    if (error.status === 401) {
      const ask = h("button", { type: "button", class: "button small primary" }, "Enter token");
      ask.addEventListener("click", async () => {
        if (await api.requestToken()) refreshAll();
      });
      parts.push(ask);
    }
    status.replaceChildren(h("div", { class: "notice error" }, parts));
  } else if (!state.items.length) {
    const text = state.q
      ? `No messages match “${state.q}”.`
      : state.total
        ? "Nothing on this page."
        : "No messages yet. Mail sent to the SMTP port shows up here as it arrives.";
    status.replaceChildren(h("div", { class: "notice" }, h("p", {}, text)));
  } else {
    status.replaceChildren();
  }
  $("panes").dataset.listState = error ? "error" : state.items.length ? "ready" : "empty";
}

async function loadList() {
  const seq = ++listSeq;
  const params = {
    user: state.user,
    mailbox: state.mailbox,
    q: state.q,
    limit: PAGE_SIZE,
    offset: state.offset,
    order: "newest",
  };
  $("panes").setAttribute("aria-busy", "true");
  try {
    const page = await api.get("messages", params);
    if (seq !== listSeq) return;
    state.total = page.total ?? page.count;
    if (state.offset && state.offset >= state.total) {
      // The page emptied (a purge, a delete): go to the last one that has messages.
      state.offset = Math.max(0, Math.ceil(state.total / PAGE_SIZE) - 1) * PAGE_SIZE;
      writeUrl();
      return loadList();
    }
    state.items = page.messages;
    if (state.offset === 0) {
      state.fresh = 0;
      state.freshUnknown = false;
    }
    list.renderList(state.items, listOptions());
    renderStatus();
    renderPager();
  } catch (error) {
    if (seq !== listSeq) return;
    state.items = [];
    list.renderList([], {});
    renderStatus(error);
    renderPager();
  } finally {
    if (seq === listSeq) $("panes").removeAttribute("aria-busy");
  }
}

function debounced(fn, ms) {
  let timer = 0;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

const reloadSoon = debounced(() => loadList(), 120);
const pickersSoon = debounced(() => loadPickers().catch(() => {}), 400);

async function refreshAll() {
  await Promise.all([loadPickers().catch(showError), loadList()]);
}

function goTo(offset) {
  state.offset = Math.max(0, offset);
  writeUrl();
  loadList().then(() => {
    document.querySelector(".list-scroll").scrollTop = 0;
  });
}

// --- the message view -----------------------------------------------------------------------

let openSeq = 0;

function setReading(on) {
  $("view").hidden = !on;
  document.body.classList.toggle("reading", on);
}

async function openMessage(ref, { push = true, focus = true } = {}) {
  const seq = ++openSeq;
  state.open = { user: ref.user, mailbox: ref.mailbox, uid: ref.uid };
  list.markCurrent(list.keyOf(state.open));
  writeUrl(push && !history.state?.pushed);
  try {
    const detail = await api.get(api.messagePath(ref), api.messageParams(ref));
    if (seq !== openSeq) return;
    setReading(true);
    await view.showMessage(detail);
    if (seq !== openSeq) return;
    if (focus) $("view-subject").focus({ preventScroll: true });
    if (!detail.flags.includes(list.SEEN)) await setFlag(detail, "seen", true, { quiet: true });
  } catch (error) {
    if (seq !== openSeq) return;
    showError(error);
    if (error.status === 404) closeMessage();
  }
}

function closeMessage({ fromHistory = false, focusRow = true } = {}) {
  const was = state.open;
  if (!was) return; // closed already (an expunge event may beat the answer to our DELETE)
  openSeq += 1;
  state.open = null;
  view.clearMessage();
  setReading(false);
  list.markCurrent(null);
  if (!fromHistory) {
    if (history.state?.pushed) history.back();
    else writeUrl();
  }
  if (focusRow) {
    const row = was && list.rowFor(list.keyOf(was));
    if (row) list.focusRow(row);
    else $("messages").focus();
  }
}

// Opens the message `step` rows away from the open one (j/k while reading).
function openNeighbour(step) {
  const from = state.open ? list.keyOf(state.open) : null;
  const row = list.neighbour(from, step);
  if (!row) return;
  const item = state.items.find((m) => list.keyOf(m) === row.dataset.key);
  if (!item) return;
  list.focusRow(row, true);
  openMessage(item, { push: false, focus: false });
}

function listOptions() {
  return {
    openKey: state.open && list.keyOf(state.open),
    showUser: !state.user,
    showMailbox: !state.mailbox,
  };
}

function applyFlags(ref, flags) {
  for (const item of state.items) {
    if (list.sameMessage(item, ref)) {
      item.flags = flags;
      list.updateRow(item, listOptions());
    }
  }
  if (list.sameMessage(view.current(), ref)) view.setFlags(flags);
}

async function setFlag(ref, name, value, { quiet = false } = {}) {
  try {
    const item = await api.json("PATCH", api.messagePath(ref), {
      params: api.messageParams(ref),
      body: { [name]: value },
    });
    applyFlags(ref, item.flags);
    pickersSoon();
    if (quiet) return;
    if (name === "seen") toast(value ? "Marked read" : "Marked unread");
    else toast(value ? "Flagged" : "Flag removed");
  } catch (error) {
    showError(error);
  }
}

let deleting = null; // the key of the message this page is deleting

async function deleteOpen() {
  const detail = view.current();
  if (!detail) return;
  const ok = await confirmAction({
    title: "Delete this message?",
    text:
      `“${detail.subject || "(no subject)"}” is removed from ` +
      `${detail.user} · ${detail.mailbox} for good.`,
    action: "Delete",
  });
  if (!ok) return;
  deleting = list.keyOf(detail);
  try {
    await api.json("DELETE", api.messagePath(detail), { params: api.messageParams(detail) });
    toast("Message deleted");
    const next = list.neighbour(list.keyOf(detail), 1) || list.neighbour(list.keyOf(detail), -1);
    closeMessage({ focusRow: false });
    await loadList();
    const row = next && list.rowFor(next.dataset.key);
    if (row) list.focusRow(row);
    else $("messages").focus();
    pickersSoon();
  } catch (error) {
    showError(error);
  } finally {
    deleting = null;
  }
}

// --- server-wide actions --------------------------------------------------------------------

// " in namespace x" while one is chosen, for the confirmations.
const inNamespace = () => (api.currentNamespace() ? ` in namespace ${api.currentNamespace()}` : "");

async function purgeAll() {
  const ok = await confirmAction({
    title: "Purge all messages?",
    text: `Every message of every user${inNamespace()} is deleted. Users and mailboxes stay.`,
    action: "Purge all",
  });
  if (!ok) return;
  try {
    const answer = await api.json("POST", "purge");
    const n = answer.deleted ?? 0;
    toast(`Purged ${formatCount(n)} message${n === 1 ? "" : "s"}`);
    if (state.open) closeMessage({ focusRow: false });
    state.offset = 0;
    writeUrl();
    await refreshAll();
  } catch (error) {
    showError(error);
  }
}

async function resetServer() {
  const ok = await confirmAction({
    title: api.currentNamespace()
      ? `Reset namespace ${api.currentNamespace()}?`
      : "Reset the server?",
    text:
      "Back to the start state: the configured users, the preloaded fixtures and the " +
      "delivery rules. All other mail, mailboxes and users are deleted.",
    action: "Reset",
  });
  if (!ok) return;
  try {
    await api.json("POST", "reset");
    toast("The server was reset");
    if (state.open) closeMessage({ focusRow: false });
    state.offset = 0;
    await loadPickers().catch(showError);
    if (state.user && !state.users.some((name) => sameUser(name, state.user))) state.user = "";
    renderPickers();
    writeUrl();
    await loadList();
  } catch (error) {
    showError(error);
  }
}

// --- live updates ---------------------------------------------------------------------------

function inView(record) {
  return (
    (!state.user || sameUser(record.user, state.user)) &&
    (!state.mailbox || record.mailbox === state.mailbox)
  );
}

function onDelivered(record) {
  pickersSoon();
  if (!inView(record)) return;
  if (state.offset === 0) reloadSoon();
  else {
    if (state.q) state.freshUnknown = true;
    else state.fresh += 1;
    renderPager();
  }
}

function onFlags(record) {
  pickersSoon();
  applyFlags(record, record.flags || []);
}

function onExpunged(record) {
  pickersSoon();
  if (list.sameMessage(view.current(), record) && list.keyOf(record) !== deleting) {
    toast("The open message was deleted");
    closeMessage({ focusRow: false });
  }
  if (inView(record)) reloadSoon();
}

// --- keyboard -------------------------------------------------------------------------------

function typing(target) {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
}

// The focus is on the page itself (nothing focused) or on the list around the rows: where the
// arrows, Home and End would move nothing else.
function onPage(target) {
  return (
    target === document.body ||
    target === document.documentElement ||
    target === $("messages") ||
    target === document.querySelector(".list-scroll")
  );
}

function onKey(event) {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  if (document.querySelector("dialog[open]")) return;
  if (list.handleListKeys(event)) return;
  if (typing(event.target)) return;
  if (!state.open && (event.key === "j" || event.key === "k" || onPage(event.target))) {
    // No row has the focus yet: j/k (from anywhere but an input) and the arrows take it there.
    if (list.enterList(event)) return;
  }
  if (event.key === "/") {
    event.preventDefault();
    $("search").focus();
    $("search").select();
  } else if (event.key === "Escape" && state.open) {
    event.preventDefault();
    closeMessage();
  } else if ((event.key === "j" || event.key === "k") && state.open) {
    event.preventDefault();
    openNeighbour(event.key === "j" ? 1 : -1);
  } else if (event.key === "Delete" && state.open) {
    event.preventDefault();
    deleteOpen();
  }
}

// --- wiring ---------------------------------------------------------------------------------

function wire() {
  $("messages").addEventListener("click", (event) => {
    const row = event.target.closest(".row");
    if (!row) return;
    const item = state.items.find((m) => list.keyOf(m) === row.dataset.key);
    if (!item) return;
    list.focusRow(row, false);
    openMessage(item);
  });
  const search = $("search");
  search.value = state.q;
  const runSearch = () => {
    if (search.value.trim() === state.q) return;
    state.q = search.value.trim();
    state.offset = 0;
    writeUrl();
    loadList();
  };
  search.addEventListener("input", debounced(runSearch, 250));
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    runSearch();
  });
  $("namespace").addEventListener("change", (event) => switchNamespace(event.target.value));
  $("user").addEventListener("change", (event) => {
    state.user = event.target.value;
    const boxes = state.boxes.filter((b) => !state.user || sameUser(b.user, state.user));
    if (state.mailbox && !boxes.some((b) => b.mailbox === state.mailbox)) state.mailbox = "";
    state.offset = 0;
    renderPickers();
    writeUrl();
    loadList();
  });
  $("mailbox").addEventListener("change", (event) => {
    state.mailbox = event.target.value;
    state.offset = 0;
    renderPickers();
    writeUrl();
    loadList();
  });
  $("prev").addEventListener("click", () => goTo(state.offset - PAGE_SIZE));
  $("next").addEventListener("click", () => goTo(state.offset + PAGE_SIZE));
  $("new-mail").addEventListener("click", () => goTo(0));
  $("back").addEventListener("click", () => closeMessage());
  $("toggle-seen").addEventListener("click", () => {
    const detail = view.current();
    if (detail) setFlag(detail, "seen", !detail.flags.includes(list.SEEN));
  });
  $("toggle-flag").addEventListener("click", () => {
    const detail = view.current();
    if (detail) setFlag(detail, "flagged", !detail.flags.includes(list.FLAGGED));
  });
  $("delete").addEventListener("click", deleteOpen);
  $("purge").addEventListener("click", purgeAll);
  $("reset").addEventListener("click", resetServer);
  document.addEventListener("keydown", onKey);
  window.addEventListener("popstate", () => {
    const namespace = api.currentNamespace();
    const wanted = readUrl();
    $("search").value = state.q;
    if (api.currentNamespace() !== namespace) {
      renderNamespaces();
      live.reconnect();
      loadPickers().catch(showError);
    }
    renderPickers();
    loadList();
    if (wanted && !list.sameMessage(wanted, state.open)) openMessage(wanted, { push: false });
    else if (!wanted && state.open) closeMessage({ fromHistory: true });
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") loadNamespaces(); // new ones since
  });
  live.initLifecycle();
  view.initTabs();
  view.initRawLink();
  initRelease(view.current);
  api.setTokenPrompt(askToken);
  api.onTokenChange(live.reconnect);
}

async function start() {
  takeTokenFromUrl();
  const wanted = readUrl();
  wire();
  renderPager();
  document.documentElement.dataset.ready = "true"; // wired: keys and clicks work from here
  await Promise.all([loadNamespaces(), loadPickers().catch(showError), loadList()]);
  live.connect({
    delivered: onDelivered,
    flags: onFlags,
    expunged: onExpunged,
    resync: () => {
      reloadSoon();
      pickersSoon();
    },
  });
  if (wanted) openMessage(wanted, { push: false, focus: false });
}

start();
