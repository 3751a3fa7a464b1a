// The Release dialog: send the open message, its stored bytes unchanged, to the real SMTP
// server the elektromail was started with (--relay-host), for the recipients typed (at first
// the ones it came for), and show what that server answered.

import * as api from "./api.js";
import { toast } from "./dialogs.js";
import { $ } from "./dom.js";

let shownFor = null; // the message the dialog is open for
let sending = false;

// Addresses typed one a line or separated by commas, semicolons or spaces.
export function parseRecipients(text) {
  return text
    .split(/[\s,;]+/)
    .map((part) => part.trim())
    .filter(Boolean);
}

function setResult(text, kind) {
  const node = $("release-result");
  node.textContent = text;
  node.dataset.kind = kind || "";
  node.hidden = !text;
}

function replyText(reply) {
  return `${reply.code} ${reply.message}`.trim();
}

async function open(detail) {
  if (!detail) return;
  shownFor = detail;
  const dialog = $("release-dialog");
  const input = $("release-to");
  input.value = "";
  $("release-text").textContent = "Looking up the relay…";
  $("release-ok").disabled = true;
  $("release-cancel").textContent = "Cancel";
  setResult("", "");
  dialog.showModal();
  try {
    const plan = await api.get(api.messagePath(detail, "/release"), api.messageParams(detail));
    if (shownFor !== detail) return;
    if (!plan.relay) {
      $("release-text").textContent =
        "No relay is set: start the server with --relay-host (ELEKTROMAIL_RELAY_HOST) to " +
        "release mail to a real server.";
      return;
    }
    $("release-text").textContent =
      `“${detail.subject || "(no subject)"}” goes to ${plan.relay} exactly as it was ` +
      `received, from ${plan.from ? `<${plan.from}>` : "the null sender <>"}.`;
    input.value = plan.to.join("\n");
    $("release-ok").disabled = false;
    requestAnimationFrame(() => input.focus());
  } catch (error) {
    $("release-text").textContent = "";
    setResult(error.message || String(error), "error");
  }
}

async function send() {
  const detail = shownFor;
  if (!detail || sending) return;
  const to = parseRecipients($("release-to").value);
  if (!to.length) {
    setResult("Name at least one recipient.", "error");
    return;
  }
  sending = true;
  $("release-ok").disabled = true;
  setResult("Sending…", "");
  try {
    const answer = await api.json("POST", api.messagePath(detail, "/release"), {
      params: api.messageParams(detail),
      body: { to },
    });
    if (shownFor !== detail) return;
    const refused = answer.recipients.filter((r) => !r.accepted);
    const lines = [`Accepted by ${answer.relay}: ${replyText(answer.reply)}`];
    for (const r of refused) lines.push(`Refused ${r.address}: ${r.code} ${r.message}`);
    setResult(lines.join("\n"), refused.length ? "partial" : "ok");
    $("release-cancel").textContent = "Close";
    toast("Message released");
  } catch (error) {
    if (shownFor !== detail) return;
    setResult(error.message || String(error), "error");
  } finally {
    sending = false;
    $("release-ok").disabled = false;
  }
}

export function initRelease(current) {
  const dialog = $("release-dialog");
  let returnFocus = null;
  $("release").addEventListener("click", () => {
    returnFocus = document.activeElement;
    open(current());
  });
  $("release-form").addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  $("release-cancel").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    shownFor = null;
    if (returnFocus instanceof HTMLElement && returnFocus.isConnected) returnFocus.focus();
  });
}
