// Open follow-ups with their SLA clocks and actions, and acknowledging feedback: shown when
// the server's schema has them. The schema is asked once per page (introspection) what a
// FollowUp holds and which actions exist with which arguments; the selections and the forms
// are built from that answer, so the console works with the API as it is served, and says so
// plainly when it has no follow-ups, rather than showing anything made up.

import { gql } from "./api.js";
import { chip, empty, h, problem, replace, uid } from "./dom.js";
import { dateTime, relative, words } from "./format.js";

const TYPE_REF = "fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }";
const FEATURES = `
query ConsoleFeatures {
  followUp: __type(name: "FollowUp") { name }
  profile: __type(name: "Profile") { fields { name args { name defaultValue type { ...T } } type { ...T } } }
  __schema { mutationType { fields { name args { name defaultValue type { ...T } } type { ...T } } } }
}
${TYPE_REF}`;
const ACTIONS = {
  acknowledgeFollowUp: "Acknowledge",
  startFollowUp: "Start",
  resolveFollowUp: "Resolve",
  assignFollowUp: "Reassign",
  reopenFollowUp: "Reopen",
};
const LEAF = new Set(["SCALAR", "ENUM"]);

let support = null;

/** What the schema offers (once per page), or null when it has no follow-ups. */
function detect() {
  if (!support) support = introspect();
  return support;
}

function named(ref) {
  let type = ref;
  while (type && type.ofType) type = type.ofType;
  return type;
}

function required(ref) {
  return ref && ref.kind === "NON_NULL";
}

function typeString(ref) {
  if (ref.kind === "NON_NULL") return `${typeString(ref.ofType)}!`;
  if (ref.kind === "LIST") return `[${typeString(ref.ofType)}]`;
  return ref.name;
}

async function describeTypes(names) {
  const wanted = [...new Set(names)].filter(Boolean);
  if (!wanted.length) return {};
  const fields = wanted.map(
    (name, i) => `t${i}: __type(name: ${JSON.stringify(name)}) {
      kind name enumValues { name } possibleTypes { name }
      fields { name args { name type { ...T } } type { ...T } }
      inputFields { name defaultValue type { ...T } }
    }`,
  );
  const { data } = await gql(`query ConsoleTypes {\n${fields.join("\n")}\n}\n${TYPE_REF}`);
  const types = {};
  wanted.forEach((name, i) => {
    if (data[`t${i}`]) types[name] = data[`t${i}`];
  });
  return types;
}

async function introspect() {
  const { data } = await gql(FEATURES);
  if (!data.followUp || !data.profile) return null;
  const field = data.profile.fields.find((f) => f.name === "followUps");
  if (!field || field.args.some((a) => required(a.type) && a.defaultValue === null)) return null;
  const mutations = {};
  for (const m of (data.__schema.mutationType && data.__schema.mutationType.fields) || []) {
    if (m.name in ACTIONS || m.name === "acknowledgeFeedback") mutations[m.name] = m;
  }
  const referenced = [named(field.type).name, "FollowUp"];
  for (const m of Object.values(mutations)) {
    referenced.push(named(m.type).name, ...m.args.map((a) => named(a.type).name));
  }
  const types = await describeTypes(referenced);
  const followUp = types.FollowUp;
  if (!followUp) return null;
  // One level below FollowUp: the rule, the SLA targets, the events.
  const nested = (followUp.fields || [])
    .map((f) => named(f.type))
    .filter((t) => !LEAF.has(t.kind))
    .map((t) => t.name);
  const inputs = Object.values(types)
    .flatMap((t) => t.inputFields || [])
    .map((f) => named(f.type).name);
  Object.assign(types, await describeTypes([...nested, ...inputs].filter((n) => !types[n])));
  return { field, types, mutations, selection: selectionOf(types, "FollowUp", 0) };
}

function selectionOf(types, typeName, depth) {
  const type = types[typeName];
  if (!type || !type.fields) return "__typename";
  const parts = ["__typename"];
  for (const f of type.fields) {
    if (f.args.some((a) => required(a.type))) continue;
    const inner = named(f.type);
    if (LEAF.has(inner.kind)) parts.push(f.name);
    else if (inner.kind === "OBJECT" && depth < 1 && types[inner.name]) {
      parts.push(`${f.name} { ${selectionOf(types, inner.name, depth + 1)} }`);
    }
  }
  return parts.join(" ");
}

function listSelection(support) {
  const type = named(support.field.type);
  if (type.name === "FollowUp") return support.selection;
  const container = support.types[type.name];
  const has = (name) => container && container.fields && container.fields.some((f) => f.name === name);
  if (has("edges")) return `edges { node { ${support.selection} } }`;
  if (has("nodes")) return `nodes { ${support.selection} }`;
  return null;
}

function itemsOf(value) {
  if (Array.isArray(value)) return value;
  if (value && Array.isArray(value.edges)) return value.edges.map((e) => e.node);
  if (value && Array.isArray(value.nodes)) return value.nodes;
  return [];
}

// --- The slot in "What needs attention" -----------------------------------------------------

export function followUpsSlot(profileId, onChanged) {
  const body = h("div", { "data-slot": "follow-ups" }, h("p", { class: "muted" }, "Loading follow-ups…"));
  const element = h("div", { class: "follow-ups" }, h("h3", {}, "Follow-ups"), body);
  let timer = null;

  async function load() {
    let found;
    try {
      found = await detect();
    } catch (error) {
      replace(body, problem(`Follow-ups could not be read: ${error.message}`));
      return;
    }
    if (!found) {
      replace(
        body,
        empty(
          "This server does not track follow-ups: open follow-ups with their SLA clocks " +
            "appear here once its API has them.",
        ),
      );
      body.dataset.state = "unavailable";
      return;
    }
    const selection = listSelection(found);
    if (!selection) {
      replace(body, problem("This server's follow-ups come in a shape the console does not know."));
      return;
    }
    try {
      const { data } = await gql(
        `query ConsoleFollowUps($id: ID!) { profile(id: $id) { ... on Profile { followUps { ${selection} } } } }`,
        { id: profileId },
      );
      const items = itemsOf(data.profile && data.profile.followUps);
      body.dataset.state = "loaded";
      replace(
        body,
        items.length
          ? h("ul", { class: "items follow-up-list" }, items.map((f) => followUpItem(found, f, reload)))
          : empty("No follow-ups."),
      );
      tick();
    } catch (error) {
      replace(body, problem(`Follow-ups could not be read: ${error.message}`));
    }
  }

  function tick() {
    clearInterval(timer);
    timer = setInterval(() => {
      if (!element.isConnected) {
        clearInterval(timer);
        return;
      }
      for (const clock of element.querySelectorAll("[data-due]")) {
        clock.textContent = dueText(clock.dataset.due);
      }
    }, 30000);
  }

  function reload() {
    if (onChanged) onChanged(); // the page reads everything again, follow-ups included
    else load();
  }

  load();
  return { element, reload: load };
}

function dueText(due) {
  const overdue = new Date(due).getTime() < Date.now();
  return `${overdue ? "overdue, was due" : "due"} ${relative(due)} (${dateTime(due)})`;
}

function leaves(value) {
  if (value === null || value === undefined) return "";
  if (typeof value !== "object") return String(value);
  return Object.entries(value)
    .filter(([k, v]) => k !== "__typename" && v !== null && typeof v !== "object")
    .map(([k, v]) => `${words(k)}: ${v}`)
    .join(", ");
}

function followUpItem(found, item, reload) {
  const rule = item.rule;
  const title = rule && rule.name ? `${rule.name}${rule.version ? ` (rule v${rule.version})` : ""}` : "Follow-up";
  const status = String(item.status || "");
  const slas = Array.isArray(item.sla) ? item.sla : item.sla ? [item.sla] : [];
  const clocks = slas.map((s) =>
    h(
      "li",
      {},
      `${words(s.target || s.name || "SLA")}: `,
      s.due ? h("span", { "data-due": s.due, class: "clock" }, dueText(s.due)) : "no due time",
      s.state ? [" ", chip(words(s.state), /BREACH|LATE|OVERDUE/i.test(s.state) ? "bad" : "")] : null,
    ),
  );
  const events = Array.isArray(item.events) ? item.events : [];
  return h(
    "li",
    { class: "follow-up", "data-follow-up": item.id },
    h("p", { class: "item-title" }, title),
    h(
      "p",
      { class: "chips" },
      status ? chip(words(status), "status") : null,
      item.priority ? chip(`${words(item.priority)} priority`) : null,
      item.heldOut ? chip("held out (control group)") : null,
    ),
    h(
      "p",
      { class: "muted" },
      [item.team ? `Team ${leaves(item.team)}` : null, item.owner ? `owner ${leaves(item.owner)}` : null, item.trigger ? `trigger: ${leaves(item.trigger)}` : null]
        .filter(Boolean)
        .join(" · "),
    ),
    clocks.length ? h("ul", { class: "plain sla", "aria-label": "SLA clocks" }, clocks) : null,
    events.length
      ? h(
          "details",
          {},
          h("summary", {}, `History (${events.length})`),
          h("ul", { class: "plain" }, events.map((e) => h("li", {}, leaves(e)))),
        )
      : null,
    actionsFor(found, item, status, reload),
  );
}

function actionsFor(found, item, status, reload) {
  const closed = /RESOLV|CLOS|DONE|CANCEL/i.test(status);
  const wanted = closed
    ? ["reopenFollowUp"]
    : [
        /OPEN|NEW|PENDING|BREACH/i.test(status) ? "acknowledgeFollowUp" : null,
        /PROGRESS|STARTED/i.test(status) ? null : "startFollowUp",
        "resolveFollowUp",
        "assignFollowUp",
      ].filter(Boolean);
  const available = wanted.filter((name) => found.mutations[name]);
  if (!available.length) return null;
  const area = h("div", { class: "follow-up-actions" });
  const status_ = h("div", { role: "status" });
  const buttons = h(
    "p",
    { class: "buttons" },
    available.map((name) =>
      h(
        "button",
        {
          type: "button",
          class: name === "resolveFollowUp" ? "" : "secondary",
          onclick: () => openAction(found, found.mutations[name], { followUp: item.id }, area, status_, reload),
        },
        `${ACTIONS[name]}${extraArguments(found, found.mutations[name], { followUp: item.id }).some((a) => a.required) ? "…" : ""}`,
      ),
    ),
  );
  return h("div", {}, buttons, area, status_);
}

// --- Acknowledging feedback (a survey answer) ----------------------------------------------

/** A button to acknowledge a survey answer, when the schema has acknowledgeFeedback. */
export function feedbackAction(profileId, survey) {
  const holder = h("div", { class: "feedback-action" });
  detect()
    .then((found) => {
      const mutation = found && found.mutations.acknowledgeFeedback;
      if (!mutation) return;
      const area = h("div");
      const status = h("div", { role: "status" });
      const context = { profile: profileId, record: survey.id };
      replace(
        holder,
        h(
          "button",
          {
            type: "button",
            class: "secondary",
            onclick: () => openAction(found, mutation, context, area, status, () => {}),
          },
          "Acknowledge feedback",
        ),
        area,
        status,
      );
    })
    .catch(() => {});
  return holder;
}

// --- Forms from a mutation's arguments ------------------------------------------------------

/** The value an argument takes from what the console knows (the follow-up, the record). */
function known(arg, context) {
  const name = arg.name.toLowerCase();
  const type = named(arg.type).name;
  if (context.followUp && (name === "id" || name === "followupid")) return context.followUp;
  if (context.profile && name === "profileid") return context.profile;
  if (context.record && type === "ID" && /record|response|feedback|survey|^id$/.test(name)) {
    return context.record;
  }
  return undefined;
}

/** The arguments a person fills in: [{path, name, type, required}], input objects flattened. */
function extraArguments(found, mutation, context) {
  const fields = [];
  for (const arg of mutation.args) {
    if (known(arg, context) !== undefined) continue;
    const inner = found.types[named(arg.type).name];
    if (inner && inner.kind === "INPUT_OBJECT") {
      for (const field of inner.inputFields || []) {
        if (known(field, context) !== undefined) continue;
        fields.push({
          path: [arg.name, field.name],
          name: field.name,
          type: field.type,
          required: required(field.type) && field.defaultValue === null,
        });
      }
    } else {
      fields.push({ path: [arg.name], name: arg.name, type: arg.type, required: required(arg.type) && arg.defaultValue === null });
    }
  }
  return fields;
}

function openAction(found, mutation, context, area, status, reload) {
  const extra = extraArguments(found, mutation, context);
  if (!extra.some((f) => f.required)) {
    // Nothing to ask: do it at once.
    run(found, mutation, context, new Map(), status, reload);
    return;
  }
  const inputs = new Map();
  const rows = extra.map((field) => {
    const id = uid("arg");
    const type = found.types[named(field.type).name];
    let input;
    if (type && type.kind === "ENUM") {
      input = h(
        "select",
        { id, required: field.required },
        field.required ? null : h("option", { value: "" }, "—"),
        type.enumValues.map((v) => h("option", { value: v.name }, words(v.name))),
      );
    } else if (named(field.type).name === "Boolean") {
      input = h("input", { id, type: "checkbox" });
    } else if (/note|cause|comment|reason/i.test(field.name)) {
      input = h("textarea", { id, rows: 2, required: field.required });
    } else {
      input = h("input", { id, type: named(field.type).name === "Int" ? "number" : "text", required: field.required });
    }
    inputs.set(field, input);
    return h(
      "div",
      { class: "row" },
      h("label", { for: id }, `${words(field.name)}${field.required ? "" : " (optional)"}`),
      input,
    );
  });
  const form = h(
    "form",
    {
      class: "panel inline-form",
      "aria-label": words(mutation.name),
      onsubmit: (event) => {
        event.preventDefault();
        run(found, mutation, context, inputs, status, () => {
          form.remove();
          reload();
        });
      },
    },
    rows,
    h(
      "p",
      { class: "buttons" },
      h("button", { type: "submit" }, ACTIONS[mutation.name] || words(mutation.name)),
      h("button", { type: "button", class: "secondary", onclick: () => form.remove() }, "Cancel"),
    ),
  );
  replace(area, form);
  const first = form.querySelector("input, select, textarea");
  if (first) first.focus();
}

async function run(found, mutation, context, inputs, status, done) {
  const variables = {};
  for (const arg of mutation.args) {
    const value = known(arg, context);
    if (value !== undefined) variables[arg.name] = value;
  }
  for (const [field, input] of inputs) {
    let value = input.type === "checkbox" ? input.checked : input.value.trim();
    if (value === "") value = null;
    else if (input.type === "number") value = Number(value);
    if (value === null && !field.required) continue;
    if (field.path.length === 1) variables[field.path[0]] = value;
    else {
      variables[field.path[0]] = variables[field.path[0]] || {};
      variables[field.path[0]][field.path[1]] = value;
    }
  }
  const used = mutation.args.filter((a) => a.name in variables);
  const result = named(mutation.type);
  const resultType = found.types[result.name];
  const errorPart = resultType && (resultType.kind === "UNION" || resultType.kind === "INTERFACE")
    ? "... on Error { code message }"
    : "";
  const idPart = resultType && resultType.fields && resultType.fields.some((f) => f.name === "id") ? "id" : "";
  const selection = LEAF.has(result.kind) ? "" : `{ __typename ${idPart} ${errorPart} }`;
  const definitions = used.map((a) => `$${a.name}: ${typeString(a.type)}`).join(", ");
  const document = `mutation ConsoleFollowUpAction${definitions ? `(${definitions})` : ""} {
    result: ${mutation.name}${used.length ? `(${used.map((a) => `${a.name}: $${a.name}`).join(", ")})` : ""} ${selection}
  }`;
  replace(status, h("p", { class: "muted" }, "Saving…"));
  try {
    const { data, errors } = await gql(document, variables);
    const answer = data.result;
    if (answer && typeof answer === "object" && String(answer.__typename).endsWith("Error")) {
      replace(status, h("p", { class: "notice error" }, answer.message || answer.__typename));
      return;
    }
    if (errors.length && (answer === null || answer === undefined)) {
      replace(status, h("p", { class: "notice error" }, errors[0].message));
      return;
    }
    replace(status, h("p", {}, `${ACTIONS[mutation.name] || words(mutation.name)}: done.`));
    done();
  } catch (error) {
    replace(status, h("p", { class: "notice error" }, error.message));
  }
}
