// The Transcript tab: the SMTP exchange a message came in with (GET
// /messages/{uid}/transcript), fetched when the tab is first opened. Client lines, server
// lines and the server's notes (the message data's size, a redacted secret, a cut) are told
// apart by colour and by a C:/S: marker, in monospace.

import * as api from "./api.js";
import { h } from "./dom.js";

const MARKS = { client: "C:", server: "S:", note: "··" };

function facts(t) {
  const rows = [["Client", `${t.client.address ?? "?"}${t.client.port ? `:${t.client.port}` : ""}`]];
  if (t.helo) rows.push([t.esmtp ? "EHLO" : "HELO", t.helo]);
  rows.push(["TLS", t.tls ? `${t.tls.version} ${t.tls.cipher}` : "none"]);
  rows.push(["AUTH", t.auth ? `${t.auth.mechanism} as ${t.auth.user}` : "none"]);
  if (t.started) rows.push(["Connected", t.started]);
  return h(
    "dl",
    { class: "transcript-facts" },
    ...rows.flatMap(([name, value]) => [h("dt", {}, name), h("dd", {}, value)]),
  );
}

function line(entry) {
  return h(
    "li",
    { class: `transcript-line ${entry.direction}`, "data-direction": entry.direction },
    h("span", { class: "ms" }, `${entry.ms.toFixed(1)} ms`),
    h("span", { class: "mark", "aria-label": entry.direction }, MARKS[entry.direction] ?? ""),
    h("span", { class: "text" }, entry.text),
  );
}

export function transcriptNodes(t) {
  return [facts(t), h("ol", { class: "transcript-lines", id: "transcript-lines" }, ...t.lines.map(line))];
}

// Fills `target` with the transcript of the message `ref` ({uid, user, mailbox}); a message
// without one shows the server's reason. Returns false when `isCurrent()` turned false
// meanwhile (another message was opened).
export async function showTranscript(target, ref, isCurrent) {
  target.replaceChildren(h("span", { class: "none" }, "Loading the SMTP transcript…"));
  let nodes;
  try {
    const t = await api.get(api.messagePath(ref, "/transcript"), api.messageParams(ref));
    nodes = transcriptNodes(t);
  } catch (error) {
    const text = error instanceof api.ApiError ? error.message : String(error);
    nodes = [h("p", { class: "none transcript-missing" }, text)];
  }
  if (!isCurrent()) return false;
  target.replaceChildren(...nodes);
  return true;
}
