// Building DOM nodes without HTML strings (mail text only ever becomes text nodes), and formatting
// sizes and dates for people.

export const $ = (id) => document.getElementById(id);

// h("span", {class: "tag", title: "x"}, "text", child, [more]): strings become text nodes.
export function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function icon(name) {
  return h("span", { class: `icon icon-${name}`, "aria-hidden": "true" });
}

export function hiddenText(text) {
  return h("span", { class: "visually-hidden" }, text);
}

const numbers = new Intl.NumberFormat();
export const formatCount = (n) => numbers.format(n);

export function formatSize(bytes) {
  if (bytes < 1000) return `${bytes} B`;
  const units = ["kB", "MB", "GB"];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

const time = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const dayMonth = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
const fullDate = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

// Today: "14:32"; this year: "5 Mar"; before: "5 Mar 2023".
export function formatShortDate(iso, now = new Date()) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "";
  if (when.toDateString() === now.toDateString()) return time.format(when);
  if (when.getFullYear() === now.getFullYear()) return dayMonth.format(when);
  return fullDate.format(when);
}

export function formatLongDate(iso) {
  const when = new Date(iso);
  return Number.isNaN(when.getTime()) ? "" : full.format(when);
}
