// Open follow-ups with their SLA clocks and actions, and acknowledging feedback, in "What
// needs attention". The page asks the schema once (introspection) whether it has follow-ups
// (a FollowUp type, Profile.followUps) and which of their actions and of feedback's it offers:
// a server without them gets a plain sentence, never anything made up, and the slot lights up
// as soon as the API it reads serves them.

import { gql, may, refusedFields, resultError, sentence } from "./api.js";
import { announce, chip, closeForm, closeOnEscape, empty, h, problem, replace, uid } from "./dom.js";
import { channel, dateTime, relative, words } from "./format.js";

const FEATURES = `
query ConsoleFeatures {
  followUp: __type(name: "FollowUp") { name }
  profile: __type(name: "Profile") { fields { name } }
  outcomes: __type(name: "FollowUpOutcome") { enumValues { name description } }
  kinds: __type(name: "RecordKind") { enumValues { name } }
  eventItem: __type(name: "FollowUpEventItem") { name }
  filter: __type(name: "FollowUpFilter") { inputFields { name } }
  query: __schema { queryType { fields { name } } mutationType { fields { name } } }
}`;

const FOLLOW_UP = `
  id status priority team owner heldOut reason openedAt firstResponseAt resolvedAt outcome rootCause
  rule { id name version }
  sla { target due state doneAt }
  events { n type at actor status note owner team outcome rootCause }`;

const FOLLOW_UPS = `
query ConsoleFollowUps($id: ID!) {
  profile(id: $id) { __typename ... on Profile { followUps { ${FOLLOW_UP} } } }
}`;

const RESULT = `__typename ... on FollowUp { id status } ... on Error { code message }`;
const MUTATIONS = {
  acknowledgeFollowUp: `mutation ConsoleAcknowledgeFollowUp($id: ID!, $note: String) {
    result: acknowledgeFollowUp(id: $id, note: $note) { ${RESULT} } }`,
  startFollowUp: `mutation ConsoleStartFollowUp($id: ID!, $note: String) {
    result: startFollowUp(id: $id, note: $note) { ${RESULT} } }`,
  resolveFollowUp: `mutation ConsoleResolveFollowUp(
    $id: ID!, $outcome: FollowUpOutcome!, $rootCause: String!, $note: String) {
    result: resolveFollowUp(id: $id, outcome: $outcome, rootCause: $rootCause, note: $note) {
      ${RESULT} } }`,
  assignFollowUp: `mutation ConsoleAssignFollowUp($id: ID!, $owner: String, $team: String, $note: String) {
    result: assignFollowUp(id: $id, owner: $owner, team: $team, note: $note) { ${RESULT} } }`,
  reopenFollowUp: `mutation ConsoleReopenFollowUp($id: ID!, $note: String) {
    result: reopenFollowUp(id: $id, note: $note) { ${RESULT} } }`,
  addFollowUpNote: `mutation ConsoleAddFollowUpNote($id: ID!, $note: String!) {
    result: addFollowUpNote(id: $id, note: $note) { ${RESULT} } }`,
};
const ACKNOWLEDGE_FEEDBACK = `
mutation ConsoleAcknowledgeFeedback($profileId: ID!, $recordId: ID!, $channel: ContactChannel, $note: String) {
  result: acknowledgeFeedback(profileId: $profileId, recordId: $recordId, channel: $channel, note: $note) {
    __typename ... on Feedback { acknowledgement { at channel } } ... on Error { code message }
  }
}`;

// What an agent may do from each status (the API decides; a refusal is shown as it says).
const ACTIVE = new Set(["OPEN", "ACKNOWLEDGED", "IN_PROGRESS"]);
const CLOSED = new Set(["RESOLVED", "CLOSED_NO_ACTION"]);
const LABELS = {
  acknowledgeFollowUp: "Acknowledge",
  startFollowUp: "Start",
  resolveFollowUp: "Resolve…",
  assignFollowUp: "Reassign…",
  reopenFollowUp: "Reopen",
  addFollowUpNote: "Add a note…",
};
const FROM = {
  acknowledgeFollowUp: new Set(["OPEN"]),
  startFollowUp: new Set(["OPEN", "ACKNOWLEDGED"]),
  resolveFollowUp: ACTIVE,
  assignFollowUp: ACTIVE,
  reopenFollowUp: CLOSED,
  addFollowUpNote: new Set([...ACTIVE, ...CLOSED]),
};
const DONE = {
  acknowledgeFollowUp: "Acknowledged",
  startFollowUp: "Started",
  resolveFollowUp: "Resolved",
  assignFollowUp: "Reassigned",
  reopenFollowUp: "Reopened",
  addFollowUpNote: "Note added",
};
const ACKNOWLEDGE_WITHOUT_CONTACT = `
mutation ConsoleAcknowledgeFeedbackWithoutContact($profileId: ID!, $recordId: ID!, $note: String) {
  result: acknowledgeFeedbackWithoutContact(profileId: $profileId, recordId: $recordId, note: $note) {
    __typename ... on Feedback { acknowledgement { at channel } } ... on Error { code message }
  }
}`;

// The channel the contact policy offers is the only one an answer may go by: the console
// offers that one, never a channel the customer refused.
const FEEDBACK = `
query ConsoleFeedback($id: ID!) {
  profile(id: $id) { __typename ... on Profile {
    feedback { why record { id } acknowledgement { at channel } channelOffered { channel } } } }
}`;

const DUE_SOON = `
query ConsoleDueSoon {
  followUps(filter: { dueSoon: true }, first: 20) {
    totalCount
    edges { node { id profileId status team owner reason rule { name } sla { target due state } } }
  }
}`;

/** Who each of these profiles is, in one request: a FollowUp names its profile by id only. */
function whoQuery(ids) {
  const variables = ids.map((_, i) => `$p${i}: ID!`).join(", ");
  const fields = ids
    .map((_, i) => `p${i}: profile(id: $p${i}) { ... on Profile { displayName emails phones } }`)
    .join("\n  ");
  return `query ConsoleDueSoonWho(${variables}) {\n  ${fields}\n}`;
}

/** The customers of these follow-ups by profile id: a name, else an address or number. */
async function customersOf(items) {
  const ids = [...new Set(items.map((item) => item.profileId))];
  if (!ids.length) return new Map();
  const variables = Object.fromEntries(ids.map((id, i) => [`p${i}`, id]));
  const { data } = await gql(whoQuery(ids), variables);
  return new Map(
    ids.map((id, i) => {
      const p = data && data[`p${i}`];
      const label = p && (p.displayName || (p.emails || [])[0] || (p.phones || [])[0]);
      return [id, label || "Unnamed customer"];
    }),
  );
}

let support = null;

/** What the schema offers (asked once per page), or null when it has no follow-ups. */
export function followUpSupport() {
  if (!support) support = introspect();
  return support;
}

async function introspect() {
  const { data } = await gql(FEATURES);
  const profileFields = new Set(((data.profile && data.profile.fields) || []).map((f) => f.name));
  const mutationType = data.query.mutationType;
  const mutations = new Set(((mutationType && mutationType.fields) || []).map((f) => f.name));
  const queries = (data.query.queryType.fields || []).map((f) => f.name);
  return {
    followUps: Boolean(data.followUp) && profileFields.has("followUps"),
    mutations,
    outcomes: (data.outcomes && data.outcomes.enumValues) || [],
    // The timeline's follow-up events: a kind to filter by and a type to describe.
    timelineEvents:
      Boolean(data.eventItem) && ((data.kinds && data.kinds.enumValues) || []).some((v) => v.name === "FOLLOW_UP"),
    // A list of the configured root causes, when the API offers one.
    rootCauses: queries.find((name) => /rootCauses$/i.test(name)) || null,
    // The teams a follow-up may be moved to.
    teams: queries.includes("teams"),
    // Which survey answers need an answer to the customer, and which have had one.
    feedback: profileFields.has("feedback"),
    // The queue of follow-ups at risk: an SLA target due soon.
    dueSoon:
      queries.includes("followUps") &&
      ((data.filter && data.filter.inputFields) || []).some((f) => f.name === "dueSoon"),
  };
}

// --- The slot in "What needs attention" -----------------------------------------------------

export function followUpsSlot(profileId, onChanged) {
  const body = h("div", { "data-slot": "follow-ups" }, h("p", { class: "muted" }, "Loading follow-ups…"));
  const status = h("div", { role: "status", class: "follow-up-status" });
  const element = h("div", { class: "follow-ups" }, h("h3", {}, "Follow-ups"), status, body);
  let timer = null;

  async function load() {
    let found;
    try {
      found = await followUpSupport();
    } catch (error) {
      replace(body, problem(`Follow-ups could not be read: ${error.message}`));
      body.dataset.state = "failed";
      return;
    }
    if (!found.followUps) {
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
    try {
      const result = await gql(FOLLOW_UPS, { id: profileId });
      const profile = result.data.profile;
      if (refusedFields(result.errors).has("followUps")) {
        replace(body, empty("Your role does not see follow-ups."));
        body.dataset.state = "refused";
        return;
      }
      const items = (profile && profile.followUps) || [];
      const open = items.filter((f) => !CLOSED.has(f.status) && f.status !== "HELD_OUT");
      const closed = items.filter((f) => CLOSED.has(f.status));
      const draw = (f) => followUpItem(found, f, done);
      replace(
        body,
        open.length ? h("ul", { class: "items follow-up-list" }, open.map(draw)) : empty("No open follow-ups."),
        closed.length
          ? h(
              "details",
              { class: "closed-follow-ups" },
              h("summary", {}, `Closed (${closed.length})`),
              h("ul", { class: "items follow-up-list" }, closed.map(draw)),
            )
          : null,
      );
      body.dataset.state = "loaded";
      tick();
    } catch (error) {
      replace(body, problem(`Follow-ups could not be read: ${error.message}`));
      body.dataset.state = "failed";
    }
  }

  function done(message) {
    announce(status, message); // the button pressed goes with the list drawn again
    if (onChanged) onChanged(); // the page reads everything again, follow-ups included
    else load();
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

  load();
  return { element, reload: load };
}

function dueText(due) {
  const overdue = new Date(due).getTime() < Date.now();
  return `${overdue ? "overdue: was due" : "due"} ${relative(due)} (${dateTime(due)})`;
}

function slaLine(clock) {
  const state = clock.state;
  return h(
    "li",
    {},
    `${words(clock.target)}: `,
    clock.doneAt
      ? `done ${dateTime(clock.doneAt)}`
      : h("span", { class: "clock", "data-due": clock.due }, dueText(clock.due)),
    " ",
    chip(words(state), state === "OVERDUE" || state === "MISSED" ? "bad" : state === "DUE_SOON" ? "warn" : "good"),
  );
}

function eventLine(event) {
  const what = [
    `${words(event.type)} ${dateTime(event.at)} by ${event.actor}`,
    event.outcome ? `outcome ${words(event.outcome).toLowerCase()}` : null,
    event.rootCause ? `root cause ${event.rootCause}` : null,
    event.owner ? `owner ${event.owner}` : null,
    event.team ? `team ${event.team}` : null,
    event.note ? `“${event.note}”` : null,
  ];
  return h("li", {}, what.filter(Boolean).join(", "));
}

function followUpItem(found, item, done) {
  const title = h("p", { class: "item-title" }, `${item.rule.name} (rule ${item.rule.id} v${item.rule.version})`);
  const urgent = item.priority === "URGENT" || item.priority === "HIGH";
  return h(
    "li",
    { class: "follow-up", "data-follow-up": item.id, "data-status": item.status },
    title,
    h(
      "p",
      { class: "chips" },
      chip(words(item.status), "status"),
      chip(`${words(item.priority)} priority`, urgent ? "bad" : ""),
      item.heldOut ? chip("held out (control group)") : null,
      item.sla.some((c) => c.state === "DUE_SOON") ? chip("At risk: due soon", "warn") : null,
    ),
    h("p", {}, item.reason),
    h(
      "p",
      { class: "muted" },
      [
        `Team ${item.team}`,
        item.owner ? `owner ${item.owner}` : "no owner yet",
        `opened ${relative(item.openedAt)}`,
        item.outcome ? `outcome ${words(item.outcome).toLowerCase()}` : null,
        item.rootCause ? `root cause ${item.rootCause}` : null,
      ]
        .filter(Boolean)
        .join(" · "),
    ),
    item.sla.length ? h("ul", { class: "plain sla", "aria-label": "SLA clocks" }, item.sla.map(slaLine)) : null,
    item.events.length
      ? h(
          "details",
          {},
          h("summary", {}, `History (${item.events.length})`),
          h("ol", { class: "plain" }, item.events.map(eventLine)),
        )
      : null,
    actionsFor(found, item, done),
  );
}

function actionsFor(found, item, done) {
  const offered = Object.keys(MUTATIONS).filter(
    (name) => found.mutations.has(name) && FROM[name].has(item.status),
  );
  if (!offered.length) return null;
  const area = h("div", { class: "follow-up-form" });
  const status = h("div", { role: "status" });
  const label = `${item.rule.name}`;
  const buttons = h(
    "p",
    { class: "buttons", role: "group", "aria-label": `Work the follow-up ${label}` },
    offered.map((name) =>
      h(
        "button",
        {
          type: "button",
          class: name === "resolveFollowUp" ? "" : "secondary",
          onclick: async (event) => {
            if (name === "resolveFollowUp") resolveForm(found, item, area, status, done);
            else if (name === "assignFollowUp") assignForm(found, item, area, status, done);
            else if (name === "addFollowUpNote") noteForm(item, area, status, done);
            else {
              // One request per press: the buttons wait for its answer (a double click, or
              // Acknowledge then Start at once, would send a second change).
              const group = event.currentTarget.closest("[role=group]");
              const all = [...group.querySelectorAll("button")];
              all.forEach((b) => (b.disabled = true));
              const ok = await act(name, { id: item.id }, status, done, label);
              if (!ok) all.forEach((b) => (b.disabled = false));
            }
          },
        },
        LABELS[name],
      ),
    ),
  );
  return h("div", { class: "follow-up-actions" }, buttons, area, status);
}

async function act(name, variables, status, done, label) {
  replace(status, h("p", { class: "muted" }, "Saving…"));
  try {
    const { data, errors } = await gql(MUTATIONS[name], variables);
    const answer = data && data.result;
    const error = answer ? resultError(answer) : errors.length ? sentence(errors[0].message) : "No answer.";
    if (error) {
      replace(status, h("p", { class: "notice error" }, error));
      return false;
    }
    replace(status);
    done(`${DONE[name]}: ${label}.`);
    return true;
  } catch (error) {
    replace(status, h("p", { class: "notice error" }, error.message));
    return false;
  }
}

function row(label, input, help = null) {
  const id = uid("f");
  input.id = id;
  return h("div", { class: "row" }, h("label", { for: id }, label), input, help);
}

function inlineForm(name, title, rows, area, submit) {
  const opener = document.activeElement; // the button that opened it, focused again on Cancel
  const form = h(
    "form",
    {
      class: "panel inline-form",
      "aria-label": title,
      onsubmit: async (event) => {
        event.preventDefault();
        const button = form.querySelector("button[type=submit]");
        button.disabled = true;
        if (await submit()) form.remove();
        else button.disabled = false;
      },
    },
    rows,
    h(
      "p",
      { class: "buttons" },
      h("button", { type: "submit" }, LABELS[name].replace("…", "")),
      h("button", { type: "button", class: "secondary", onclick: () => closeForm(form, opener) }, "Cancel"),
    ),
  );
  replace(area, closeOnEscape(form, opener));
  const first = form.querySelector("input, select, textarea");
  if (first) first.focus();
}

async function resolveForm(found, item, area, status, done) {
  const outcome = h(
    "select",
    { required: true },
    h("option", { value: "" }, "Choose…"),
    found.outcomes.map((o) => h("option", { value: o.name }, words(o.name))),
  );
  // The configured root causes as choices; a text box only when the API does not list them.
  const causes = await rootCauses(found);
  const cause = causes.length
    ? h(
        "select",
        { required: true },
        h("option", { value: "" }, "Choose…"),
        causes.map((c) => h("option", { value: c }, c)),
      )
    : h("input", { type: "text", required: true, autocomplete: "off" });
  const note = h("textarea", { rows: 2 });
  inlineForm(
    "resolveFollowUp",
    `Resolve the follow-up ${item.rule.name}`,
    [row("Outcome", outcome), row("Root cause", cause), row("Note (optional)", note)],
    area,
    () =>
      act(
        "resolveFollowUp",
        { id: item.id, outcome: outcome.value, rootCause: cause.value.trim(), note: note.value.trim() || null },
        status,
        done,
        item.rule.name,
      ),
  );
}

function noteForm(item, area, status, done) {
  const note = h("textarea", { rows: 3, required: true, maxlength: 4000 });
  inlineForm(
    "addFollowUpNote",
    `A note on the follow-up ${item.rule.name}`,
    [row("Note", note)],
    area,
    () => act("addFollowUpNote", { id: item.id, note: note.value.trim() }, status, done, item.rule.name),
  );
}

async function rootCauses(found) {
  if (!found.rootCauses) return [];
  try {
    const { data } = await gql(`query ConsoleRootCauses { causes: ${found.rootCauses} }`);
    return Array.isArray(data.causes) ? data.causes.filter((c) => typeof c === "string") : [];
  } catch {
    return [];
  }
}

/** The teams a follow-up may go to (Query.teams), or [] when the API does not list them. */
async function teams(found) {
  if (!found.teams) return [];
  try {
    const { data } = await gql("query ConsoleTeams { teams { id members } }");
    return Array.isArray(data.teams) ? data.teams.filter((t) => t && typeof t.id === "string") : [];
  } catch {
    return [];
  }
}

async function assignForm(found, item, area, status, done) {
  const known = await teams(found);
  const owner = h("input", { type: "text", autocomplete: "off", value: item.owner || "" });
  let team;
  if (known.length) {
    const ids = known.map((t) => t.id);
    if (item.team && !ids.includes(item.team)) ids.unshift(item.team);
    team = h("select", {}, ids.map((id) => h("option", { value: id, selected: id === item.team }, id)));
  } else {
    team = h("input", { type: "text", autocomplete: "off", value: item.team || "" });
  }
  // The chosen team's members, offered for the owner (any name may still be typed).
  const members = h("datalist", { id: uid("members") });
  const offerMembers = () => {
    const chosen = known.find((t) => t.id === team.value);
    replace(members, ((chosen && chosen.members) || []).map((m) => h("option", { value: m })));
  };
  if (known.length) {
    owner.setAttribute("list", members.id);
    team.addEventListener("change", offerMembers);
    offerMembers();
  }
  const note = h("textarea", { rows: 2 });
  inlineForm(
    "assignFollowUp",
    `Reassign the follow-up ${item.rule.name}`,
    [row("Team", team), row("Owner", owner, known.length ? members : null), row("Note (optional)", note)],
    area,
    () =>
      act(
        "assignFollowUp",
        {
          id: item.id,
          owner: owner.value.trim() || null,
          team: team.value.trim() && team.value.trim() !== item.team ? team.value.trim() : null,
          note: note.value.trim() || null,
        },
        status,
        done,
        item.rule.name,
      ),
  );
}

// --- Acknowledging feedback (a survey answer) ----------------------------------------------

/** The customer's feedback that needs an answer, by record id, each with its acknowledgement
 * (null: the schema has no Profile.feedback, or it could not be read; the action is then
 * offered on every answer and the API says which need none). */
export function feedbackOf(profileId) {
  return followUpSupport()
    .then(async (found) => {
      if (!found.feedback) return null;
      const { data, errors } = await gql(FEEDBACK, { id: profileId });
      if (refusedFields(errors).has("feedback")) return new Map(); // not for this role
      const listed = data && data.profile && data.profile.feedback;
      return Array.isArray(listed) ? new Map(listed.map((f) => [f.record.id, f])) : null;
    })
    .catch(() => null);
}

/** A button to record that a survey answer was answered, when the schema has
 * acknowledgeFeedback and the answer needs one (``known``: feedbackOf's promise): on the channel
 * the contact policy offers, with a note. A customer the policy allows no channel is offered
 * to acknowledge it without contact instead (nothing is sent). One answered already says when
 * and how instead; one that needs no answer gets nothing. ``onAnswered`` runs after an
 * acknowledgement (it may have acknowledged the follow-ups the answer opened). */
export function feedbackAction(profileId, survey, known = Promise.resolve(null), onAnswered = () => {}) {
  const holder = h("div", { class: "feedback-action" });
  Promise.all([followUpSupport(), known])
    .then(([found, listed]) => {
      if (!found.mutations.has("acknowledgeFeedback")) return;
      const item = listed ? listed.get(survey.id) : undefined;
      if (listed && !item) return; // nothing the customer needs an answer to
      if (item && item.acknowledgement) {
        const ack = item.acknowledgement;
        const how = ack.channel ? `Answered by ${channel(ack.channel)}` : "Acknowledged without contact";
        replace(holder, h("p", { class: "muted feedback-answered" }, `${how}, ${dateTime(ack.at)}.`));
        return;
      }
      const refused = Boolean(item) && item.channelOffered === null;
      if (refused) {
        if (!found.mutations.has("acknowledgeFeedbackWithoutContact")) {
          replace(
            holder,
            h("p", { class: "muted" }, "The contact policy allows no channel for service: nothing can be sent."),
          );
          return;
        }
        replace(holder, ...acknowledgeForm(profileId, survey, null, onAnswered));
        return;
      }
      replace(holder, ...acknowledgeForm(profileId, survey, item ? item.channelOffered : undefined, onAnswered));
    })
    .catch(() => {});
  return holder;
}

/** The button and its form: ``offered`` is the channel the policy offers (undefined: not
 * known, the API answers on its own; null: none, acknowledged without contact). */
function acknowledgeForm(profileId, survey, offered, onAnswered) {
  const without = offered === null;
  const area = h("div");
  const status = h("div", { role: "status" });
  const open = (event) => {
    const opener = event.currentTarget;
    const via = without
      ? null
      : h(
          "select",
          {},
          offered
            ? h("option", { value: offered.channel }, channel(offered.channel))
            : h("option", { value: "" }, "The channel the contact policy offers"),
        );
    const note = h("textarea", { rows: 2 });
    const form = h(
      "form",
      {
        class: "panel inline-form",
        "aria-label": without ? "Acknowledge this feedback without contact" : "Acknowledge this feedback",
        onsubmit: async (event) => {
          event.preventDefault();
          const send = form.querySelector("button[type=submit]");
          send.disabled = true; // one acknowledgement per press
          replace(status, h("p", { class: "muted" }, "Saving…"));
          try {
            const variables = { profileId, recordId: survey.id, note: note.value.trim() || null };
            if (via) variables.channel = via.value || null;
            const { data, errors } = await gql(without ? ACKNOWLEDGE_WITHOUT_CONTACT : ACKNOWLEDGE_FEEDBACK, variables);
            const answer = data && data.result;
            const error = answer ? resultError(answer) : errors.length ? sentence(errors[0].message) : "No answer.";
            if (error) {
              replace(status, h("p", { class: "notice error" }, error));
              send.disabled = false;
              return;
            }
            const ack = answer.acknowledgement;
            form.remove();
            opener.disabled = true; // answered: once per feedback
            const how = without ? " without contact" : ack && ack.channel ? ` by ${channel(ack.channel)}` : "";
            announce(status, `Feedback acknowledged${how}.`);
            onAnswered();
          } catch (error) {
            replace(status, h("p", { class: "notice error" }, error.message));
            send.disabled = false;
          }
        },
      },
      without
        ? h(
            "p",
            { class: "muted" },
            "The contact policy allows no channel for service (the customer refused contact, " +
              "or cannot be reached): nothing is sent. The loop is closed here, with your name " +
              "and the time.",
          )
        : row("Answered by", via),
      row("Note (optional)", note),
      h(
        "p",
        { class: "buttons" },
        h("button", { type: "submit" }, without ? "Acknowledge without contact" : "Acknowledge"),
        h("button", { type: "button", class: "secondary", onclick: () => closeForm(form, opener) }, "Cancel"),
      ),
    );
    replace(area, closeOnEscape(form, opener));
    (via || note).focus();
  };
  return [
    h(
      "button",
      { type: "button", class: "secondary", onclick: open },
      without ? "Acknowledge without contact" : "Acknowledge feedback",
    ),
    area,
    status,
  ];
}

// --- Follow-ups due soon (the start page) ---------------------------------------------------

/** The follow-ups at risk — an SLA target due soon, not met nor overdue yet — for those who
 * work them; nothing for a server without the filter or a role that does not read them. */
export function dueSoonSlot() {
  const body = h("div", { "data-slot": "due-soon" });
  if (!may("followUps")) return body;
  followUpSupport()
    .then(async (found) => {
      if (!found.dueSoon) return;
      const { data, errors } = await gql(DUE_SOON);
      if (refusedFields(errors).has("followUps") || !data || !data.followUps) return;
      const items = data.followUps.edges.map((e) => e.node);
      const customers = await customersOf(items);
      replace(
        body,
        h("h2", {}, `Follow-ups due soon (${data.followUps.totalCount})`),
        items.length
          ? h(
              "ul",
              { class: "items due-soon", "aria-label": "Follow-ups due soon" },
              items.map((item) => dueSoonItem(item, customers.get(item.profileId))),
            )
          : empty("No follow-up is due soon."),
      );
      body.dataset.state = "loaded";
    })
    .catch((error) => replace(body, problem(`Follow-ups due soon could not be read: ${error.message}`)));
  return body;
}

function dueSoonItem(item, customer) {
  const clock = item.sla.find((c) => c.state === "DUE_SOON");
  return h(
    "li",
    { class: "follow-up", "data-follow-up": item.id },
    h("a", { href: `/console/profile/${encodeURIComponent(item.profileId)}` }, customer),
    ` — ${item.rule.name} `,
    chip("At risk: due soon", "warn"),
    item.reason ? h("p", {}, item.reason) : null,
    h(
      "p",
      { class: "muted" },
      [
        clock ? `${words(clock.target)} ${dueText(clock.due)}` : null,
        `team ${item.team}`,
        item.owner ? `owner ${item.owner}` : "no owner yet",
      ]
        .filter(Boolean)
        .join(" · "),
    ),
  );
}
