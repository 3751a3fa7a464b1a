// The Checks tab: runs GET /messages/{uid}/checks when the tab is opened (the checks are on
// demand, not part of loading a message) and shows each check's findings; "Check links" asks
// again with ?links=1, which probes the message's web links on the server.

import * as api from "./api.js";
import { $, h } from "./dom.js";

const TITLES = {
  headers: "Headers",
  dkim: "DKIM",
  "list-unsubscribe": "List-Unsubscribe",
  html: "HTML compatibility",
  links: "Links",
};

let forMessage = null; // the detail the panel shows (or is loading) checks for
let seq = 0;

export function resetChecks() {
  seq += 1;
  forMessage = null;
  $("checks-body").replaceChildren();
  $("checks-summary").textContent = "";
}

// Run the checks of `detail` unless the panel shows them already (`links`: probe links too).
export async function loadChecks(detail, links = false) {
  if (!detail || (forMessage === detail && !links)) return;
  forMessage = detail;
  const mine = ++seq;
  const summary = $("checks-summary");
  summary.textContent = links ? "Checking links…" : "Checking…";
  $("check-links").disabled = true;
  try {
    const params = { ...api.messageParams(detail), links: links ? "1" : "" };
    const answer = await api.get(api.messagePath(detail, "/checks"), params);
    if (mine !== seq) return;
    const { errors, warnings } = answer.summary;
    summary.textContent = `${errors} error${errors === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"}`;
    summary.dataset.errors = String(errors);
    $("checks-body").replaceChildren(...answer.checks.map(section));
  } catch (error) {
    if (mine !== seq) return;
    forMessage = null;
    summary.textContent = `The checks failed: ${error.message}`;
  } finally {
    if (mine === seq) $("check-links").disabled = false;
  }
}

function section(check) {
  const items = check.findings.map((finding) =>
    h(
      "li",
      { class: `finding ${finding.severity}`, "data-id": finding.id },
      h("span", { class: "severity" }, finding.severity),
      " ",
      h("span", { class: "finding-message" }, finding.message),
      where(finding.where),
    ),
  );
  return h(
    "section",
    { class: "check", "data-check": check.check },
    h("h3", {}, TITLES[check.check] ?? check.check),
    items.length ? h("ul", { class: "findings" }, items) : h("p", { class: "none" }, "Nothing found."),
  );
}

function where(place) {
  const bits = [];
  if (place.header) bits.push(place.header);
  if (place.line) bits.push(`line ${place.line}`);
  if (place.part) bits.push(`part ${place.part}`);
  if (place.signature !== undefined) bits.push(`signature ${place.signature + 1}`);
  return bits.length ? h("span", { class: "where" }, ` (${bits.join(", ")})`) : null;
}

export function initChecks(current) {
  $("check-links").addEventListener("click", () => loadChecks(current(), true));
}
