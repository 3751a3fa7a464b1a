// The message list: one focusable row (a button) per message, newest first, and moving
// through it with the keyboard (ArrowUp/ArrowDown or k/j, Home, End), also before any row has
// the focus.

import { $, formatShortDate, formatSize, h, hiddenText, icon } from "./dom.js";

export const SEEN = "\\Seen";
export const FLAGGED = "\\Flagged";
const ANSWERED = "\\Answered";
const DELETED = "\\Deleted";
const DRAFT = "\\Draft";

// A message is named by its user, mailbox and UID (the UID is unique in a mailbox only).
export const keyOf = (m) => JSON.stringify([m.user, m.mailbox, m.uid]);
export const sameMessage = (a, b) =>
  Boolean(a && b) &&
  a.uid === b.uid &&
  a.mailbox === b.mailbox &&
  a.user.toLowerCase() === b.user.toLowerCase();

// "Ann Example <ann@example.com>" -> "Ann Example"; anything else as it is.
export function displayName(addresses) {
  if (!addresses) return "";
  const match = /^\s*"?([^"<>,]+?)"?\s*<[^<>]+>\s*$/.exec(addresses);
  return match ? match[1] : addresses;
}

// The list item's `attachment_count` (a plain number `attachments` in early versions).
export function attachmentCount(message) {
  if (typeof message.attachment_count === "number") return message.attachment_count;
  return typeof message.attachments === "number" ? message.attachments : 0;
}

function marks(message) {
  const flags = new Set(message.flags);
  const out = [];
  const mark = (className, title) => {
    out.push(h("span", { class: className, title }), hiddenText(`${title}.`));
  };
  if (!flags.has(SEEN)) mark("unseen-dot", "Unread");
  if (flags.has(FLAGGED)) mark("icon icon-star-filled flag-mark", "Flagged");
  if (flags.has(ANSWERED)) mark("icon icon-reply", "Answered");
  return out;
}

function tags(message, showPlace) {
  const out = [];
  if (showPlace) {
    out.push(h("span", { class: "tag place" }, `${message.user} · ${message.mailbox}`));
  }
  const flags = new Set(message.flags);
  if (flags.has(DRAFT)) out.push(h("span", { class: "tag" }, "Draft"));
  if (flags.has(DELETED)) out.push(h("span", { class: "tag warn" }, "Deleted"));
  for (const flag of message.flags) {
    if (!flag.startsWith("\\")) out.push(h("span", { class: "tag keyword" }, flag));
  }
  return out;
}

function row(message, { current, showUser, showMailbox }) {
  const flags = new Set(message.flags);
  const attachments = attachmentCount(message);
  const classes = ["row"];
  if (!flags.has(SEEN)) classes.push("unseen");
  if (flags.has(FLAGGED)) classes.push("flagged");
  if (flags.has(DELETED)) classes.push("deleted");
  const from = displayName(message.from);
  const subject = message.subject || "";
  const when = new Date(message.internal_date);
  const attachmentTag = attachments
    ? h(
        "span",
        { class: "tag attach", title: `${attachments} attachment${attachments === 1 ? "" : "s"}` },
        icon("clip"),
        hiddenText("Attachments: "),
        String(attachments),
      )
    : null;
  // Flat: every part is a cell of the row's grid, which the stylesheet arranges in two lines
  // (wide) or three (narrow).
  return h(
    "button",
    {
      type: "button",
      class: classes.join(" "),
      "data-key": keyOf(message),
      "aria-current": current ? "true" : null,
      tabindex: "-1",
    },
    h("span", { class: "marks" }, marks(message)),
    h("span", { class: "from", title: message.from || null }, from || "(no sender)"),
    h(
      "span",
      { class: "to", title: message.to || null },
      h("span", { class: "to-label" }, "To "),
      message.to || "(no recipient)",
    ),
    h("span", { class: subject ? "subject" : "subject none" }, subject || "(no subject)"),
    h("span", { class: "tags" }, tags(message, showUser || showMailbox), attachmentTag),
    h(
      "time",
      { datetime: message.internal_date, title: when.toLocaleString() },
      formatShortDate(message.internal_date),
    ),
    h("span", { class: "size" }, formatSize(message.size)),
  );
}

const rows = () => [...$("messages").querySelectorAll(".row")];

export function focusedKey() {
  const active = document.activeElement;
  return active?.classList?.contains("row") ? active.dataset.key : null;
}

// Draws `items`; keeps the keyboard focus on the row that had it. One row is in the tab order:
// the focused one, else the open one, else the first.
export function renderList(items, { openKey, showUser, showMailbox }) {
  const list = $("messages");
  const keep = focusedKey();
  const nodes = items.map((m) => {
    const key = keyOf(m);
    return h("li", {}, row(m, { current: key === openKey, showUser, showMailbox }));
  });
  list.replaceChildren(...nodes);
  const all = rows();
  const target =
    all.find((r) => r.dataset.key === keep) ||
    all.find((r) => r.dataset.key === openKey) ||
    all[0];
  if (target) target.tabIndex = 0;
  if (keep && target && target.dataset.key === keep) target.focus({ preventScroll: true });
}

// Draws one message's row again (its flags changed), keeping its focus and tab stop.
export function updateRow(message, { openKey, showUser, showMailbox }) {
  const key = keyOf(message);
  const old = rowFor(key);
  if (!old) return;
  const fresh = row(message, { current: key === openKey, showUser, showMailbox });
  fresh.tabIndex = old.tabIndex;
  const hadFocus = document.activeElement === old;
  old.replaceWith(fresh);
  if (hadFocus) fresh.focus({ preventScroll: true });
}

export function markCurrent(openKey) {
  for (const r of rows()) {
    if (r.dataset.key === openKey) r.setAttribute("aria-current", "true");
    else r.removeAttribute("aria-current");
  }
}

export function focusRow(target, scroll = true) {
  if (!target) return;
  for (const r of rows()) r.tabIndex = r === target ? 0 : -1;
  target.focus({ preventScroll: !scroll });
  if (scroll) target.scrollIntoView({ block: "nearest" });
}

export function rowFor(key) {
  return rows().find((r) => r.dataset.key === key) || null;
}

// The row `step` rows away from `from` (a row or key; null: the roving one), or null.
export function neighbour(from, step) {
  const all = rows();
  if (!all.length) return null;
  const key = typeof from === "string" ? from : from?.dataset?.key;
  let index = all.findIndex((r) => r.dataset.key === key);
  if (index < 0) index = all.findIndex((r) => r.tabIndex === 0);
  if (index < 0) return all[0];
  const next = index + step;
  return next >= 0 && next < all.length ? all[next] : null;
}

export function handleListKeys(event) {
  const current = event.target.closest?.(".row");
  if (!current) return false;
  const all = rows();
  let target = null;
  switch (event.key) {
    case "ArrowDown":
    case "j":
      target = neighbour(current, 1);
      break;
    case "ArrowUp":
    case "k":
      target = neighbour(current, -1);
      break;
    case "Home":
      target = all[0];
      break;
    case "End":
      target = all[all.length - 1];
      break;
    default:
      return false;
  }
  event.preventDefault();
  focusRow(target);
  return true;
}

// A list key pressed while no row has the focus (the page just loaded, or the focus is
// elsewhere): j/ArrowDown and k/ArrowUp take the list up at its roving row (the first on a fresh
// page, else the one last focused), Home and End at either end. Whether the key was taken.
export function enterList(event) {
  const all = rows();
  if (!all.length) return false;
  let target = null;
  switch (event.key) {
    case "ArrowDown":
    case "ArrowUp":
    case "j":
    case "k":
      target = all.find((r) => r.tabIndex === 0) || all[0];
      break;
    case "Home":
      target = all[0];
      break;
    case "End":
      target = all[all.length - 1];
      break;
    default:
      return false;
  }
  event.preventDefault();
  focusRow(target);
  return true;
}
