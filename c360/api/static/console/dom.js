// Building the page from data without ever parsing it as HTML: every value becomes a text
// node, so nothing a source sent (a name, a subject, a comment) can become markup or script.

/**
 * h("p", {class: "x", onclick: fn, "aria-label": "…"}, "text", child, [more children])
 * Attributes: `class`, `for`, `on<event>` handlers, `hidden`/`disabled`/`checked`/`required`
 * as booleans, anything else set as an attribute (null or false leaves it out).
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "value" && "value" in element) {
      element.value = value;
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

export function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function replace(element, ...children) {
  element.replaceChildren();
  return append(element, children);
}

/**
 * Says `message` in a status region and moves the keyboard focus to it: for an action whose
 * button or form goes away with it (the list it was in is drawn again), so that focus does not
 * fall back to the page's start and the next Tab goes on from here.
 */
export function announce(status, message) {
  const said = h("p", { tabindex: "-1", class: "announced" }, message);
  replace(status, said);
  said.focus();
  return said;
}

/** Removes `form` and gives the focus back to `opener` (what opened it), when still there. */
export function closeForm(form, opener) {
  const hadFocus = form.contains(document.activeElement);
  form.remove();
  if (hadFocus && opener && opener.isConnected) opener.focus();
}

/** A form opened in place by a button: Escape closes it as Cancel does (the focus back on the
 * button that opened it). */
export function closeOnEscape(form, opener) {
  form.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || event.defaultPrevented) return;
    event.preventDefault();
    closeForm(form, opener);
  });
  return form;
}

/**
 * An error about one field (or a group of them): said in `status`, tied to the field (its
 * description, and invalid where the field can be) until the field changes, and the focus put
 * on `focus` (the field, or the group's first control), so a screen reader reads the message
 * with the field it is about.
 */
export function fieldError(status, field, message, focus = field) {
  const id = uid("error");
  replace(status, h("p", { class: "notice error", id }, message));
  if (!("describedBy" in field.dataset)) field.dataset.describedBy = field.getAttribute("aria-describedby") || "";
  const own = field.dataset.describedBy;
  field.setAttribute("aria-describedby", `${own} ${id}`.trim());
  const invalid = field.matches("input, select, textarea");
  if (invalid) field.setAttribute("aria-invalid", "true");
  const clear = () => {
    if (own) field.setAttribute("aria-describedby", own);
    else field.removeAttribute("aria-describedby");
    if (invalid) field.removeAttribute("aria-invalid");
    field.removeEventListener("input", clear);
    field.removeEventListener("change", clear);
  };
  field.addEventListener("input", clear);
  field.addEventListener("change", clear);
  focus.focus();
}

let counter = 0;
/** A unique id for label/aria wiring. */
export function uid(prefix = "c") {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** A section of the profile page: a landmark with a heading screen readers list. */
export function section(id, title, ...children) {
  const heading = uid("h");
  return h(
    "section",
    { class: `card section-${id}`, id, "aria-labelledby": heading },
    h("h2", { id: heading }, title),
    ...children,
  );
}

/** A term/description list from [term, description] pairs (empty descriptions left out). */
export function facts(pairs, className = "facts") {
  const list = h("dl", { class: className });
  for (const [term, description] of pairs) {
    if (description === null || description === undefined || description === "") continue;
    list.append(h("div", {}, h("dt", {}, term), h("dd", {}, description)));
  }
  return list;
}

export function chip(text, kind = "") {
  return h("span", { class: `chip ${kind}`.trim() }, text);
}

/** A message in the page's live region (read out), which the person can dismiss. */
export function notify(message, kind = "info") {
  const notices = document.getElementById("notices");
  if (!notices) return;
  const item = h(
    "div",
    { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" },
    h("span", {}, message),
    h("button", { type: "button", class: "link", onclick: () => item.remove() }, "Dismiss"),
  );
  notices.append(item);
}

/** A message in place of content that could not be shown: never a blank area. */
export function problem(message) {
  return h("p", { class: "notice error", role: "alert" }, message);
}

export function empty(message) {
  return h("p", { class: "empty" }, message);
}
