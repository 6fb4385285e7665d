// Drafts of the profile's forms, kept in this tab's sessionStorage per customer and form while
// they are not sent: when the session ends mid-form (the page goes to sign-in and back), what
// the agent had filled in comes back, said to be unsent. Only the form's own fields are kept
// (never a password or a hidden field; the console has no key in a form); a draft goes once
// the form is sent or the agent discards it. A draft is the signed-in key's: another key signed
// in on the tab (a marketing one, which sees contact points masked) never gets it back, and
// signing out forgets every draft (only a session that ended keeps them, for its key).

import { session } from "./api.js";
import { h } from "./dom.js";

const PREFIX = "c360.console.draft";

function fields(form) {
  return [...form.elements].filter(
    (e) => e.tagName !== "BUTTON" && e.tagName !== "FIELDSET" && e.type !== "password" && e.type !== "hidden",
  );
}

function snapshot(form) {
  return fields(form).map((e) => (e.type === "radio" || e.type === "checkbox" ? e.checked : e.value));
}

function storage() {
  try {
    return window.sessionStorage;
  } catch {
    return null; // storage refused: no drafts, the form works as before
  }
}

/**
 * Keeps ``form``'s draft under (profileId, name) as it is filled in. Returns
 * {restore(), clear()}: restore() puts a kept draft back (after the form has its choices) with
 * a note that it was not sent; clear() forgets it (call it once the form is sent).
 */
export function keepDraft(form, profileId, name) {
  const key = `${PREFIX}:${session.keyId}:${profileId}:${name}`;
  const store = storage();
  let pristine = null;
  let note = null;

  function save() {
    if (!store) return;
    const now = snapshot(form);
    if (pristine && JSON.stringify(now) === JSON.stringify(pristine)) store.removeItem(key);
    else store.setItem(key, JSON.stringify({ fields: now }));
  }

  function clear() {
    if (store) store.removeItem(key);
    if (note) note.remove();
    note = null;
  }

  function restore() {
    pristine = snapshot(form);
    if (!store) return false;
    let kept = null;
    try {
      kept = JSON.parse(store.getItem(key) || "null");
    } catch {
      kept = null;
    }
    const values = kept && Array.isArray(kept.fields) ? kept.fields : null;
    if (!values || JSON.stringify(values) === JSON.stringify(pristine)) return false;
    // In order, each select's change announced: a later choice (an address) depends on it.
    fields(form).forEach((element, i) => {
      if (i >= values.length) return;
      const value = values[i];
      if (element.type === "radio" || element.type === "checkbox") element.checked = value === true;
      else if (typeof value === "string") element.value = value;
      if (element.tagName === "SELECT") element.dispatchEvent(new Event("change"));
    });
    note = h(
      "div",
      { class: "notice warning draft-restored", role: "note" },
      h("p", {}, "Restored what you had filled in here. It was NOT sent: check it, then send it or discard it."),
      h(
        "button",
        {
          type: "button",
          class: "link",
          onclick: () => {
            form.reset();
            for (const select of form.querySelectorAll("select")) select.dispatchEvent(new Event("change"));
            clear();
          },
        },
        "Discard it",
      ),
    );
    const heading = form.querySelector("h3, h4");
    if (heading) heading.after(note);
    else form.prepend(note);
    return true;
  }

  form.addEventListener("input", save);
  form.addEventListener("change", save);
  return { restore, clear, save };
}

/** Forgets every draft of this tab (signing out). */
export function forgetDrafts() {
  const store = storage();
  if (!store) return;
  const keys = [];
  for (let i = 0; i < store.length; i += 1) keys.push(store.key(i));
  for (const key of keys) if (key && key.startsWith(`${PREFIX}:`)) store.removeItem(key);
}
