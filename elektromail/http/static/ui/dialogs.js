// Modal <dialog>s (a confirmation before anything destructive, the token prompt) and the
// short-lived status toast. Escape cancels a dialog; focus returns where it was.

import { $ } from "./dom.js";

function modal(dialog, { onOpen, onSubmit, cancelButton }) {
  return new Promise((resolve) => {
    const returnFocus = document.activeElement;
    const form = dialog.querySelector("form");
    const close = (value) => {
      form.removeEventListener("submit", submit);
      cancelButton.removeEventListener("click", cancel);
      dialog.removeEventListener("cancel", cancel);
      dialog.close();
      if (returnFocus instanceof HTMLElement && returnFocus.isConnected) returnFocus.focus();
      resolve(value);
    };
    const submit = (event) => {
      event.preventDefault();
      close(onSubmit());
    };
    const cancel = (event) => {
      event.preventDefault();
      close(null);
    };
    form.addEventListener("submit", submit);
    cancelButton.addEventListener("click", cancel);
    dialog.addEventListener("cancel", cancel);
    onOpen();
    dialog.showModal();
  });
}

// Resolves true when the user confirms `action` (the danger button's label).
export async function confirmAction({ title, text, action }) {
  const dialog = $("confirm-dialog");
  const answer = await modal(dialog, {
    cancelButton: $("confirm-cancel"),
    onOpen: () => {
      $("confirm-title").textContent = title;
      $("confirm-text").textContent = text;
      $("confirm-ok").textContent = action;
      // The safe choice has the focus: Enter alone deletes nothing.
      requestAnimationFrame(() => $("confirm-cancel").focus());
    },
    onSubmit: () => true,
  });
  return answer === true;
}

// Resolves to the token typed, or null when cancelled. `wrong`: the last one was refused.
export function askToken(wrong) {
  const input = $("token-input");
  return modal($("token-dialog"), {
    cancelButton: $("token-cancel"),
    onOpen: () => {
      input.value = "";
      const error = $("token-error");
      error.hidden = !wrong;
      error.textContent = wrong ? "The server refused that token. Try again." : "";
      requestAnimationFrame(() => input.focus());
    },
    onSubmit: () => input.value.trim() || null,
  });
}

let toastTimer = 0;

export function toast(text, kind = "info") {
  const node = $("toast");
  node.textContent = text;
  node.dataset.kind = kind;
  node.classList.add("shown");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => node.classList.remove("shown"), kind === "error" ? 8000 : 3500);
}
