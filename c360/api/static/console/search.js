// Finding the customer: the search box's results, and the screen pop a telephony or help-desk
// system links to (/console/lookup?phone=…|email=…|order=…|ticket=…).

import { gql, refusedFields, sentence } from "./api.js";
import { chip, empty, h, problem, replace } from "./dom.js";
import { date, money, relative, words } from "./format.js";
import { dueSoonSlot } from "./followups.js";
import { BY_IDENTIFIER, SEARCH } from "./queries.js";

const FOUND_BY = {
  NAME: "name",
  EMAIL: "e-mail",
  PHONE: "phone",
  ORDER: "order",
  TICKET: "ticket",
};

export function homeView(main) {
  replace(
    main,
    h("h1", { tabindex: "-1" }, "Find a customer"),
    h(
      "p",
      { class: "lead" },
      "Type what the customer gives you in the box above: a phone number written any way, an " +
        "e-mail address, a name, an order number (#1042) or a ticket id.",
    ),
    h(
      "p",
      {},
      "Telephony and help-desk systems open a customer directly with ",
      h("code", {}, "/console/lookup?phone=…"),
      " (or ",
      h("code", {}, "email="),
      ", ",
      h("code", {}, "order="),
      ", ",
      h("code", {}, "ticket="),
      ").",
    ),
    dueSoonSlot(),
  );
}

export async function searchView(main, text, navigate) {
  replace(main, h("h1", { tabindex: "-1" }, `Customers matching “${text}”`), loading());
  let result;
  try {
    result = await gql(SEARCH, { text });
  } catch (error) {
    replace(main, h("h1", { tabindex: "-1" }, `Customers matching “${text}”`), problem(error.message));
    return;
  }
  if (!main.isConnected) return; // another page opened since: its view is shown
  const errors = result.errors.filter((e) => !e.path || e.path.length === 1);
  const found = result.data.findProfiles;
  replace(main, h("h1", { tabindex: "-1" }, `Customers matching “${text}”`));
  if (!found) {
    main.append(problem(errors.length ? sentence(errors[0].message) : "The search could not run."));
    return;
  }
  main.append(matchList(found, result.errors, navigate));
}

function loading(what = "Searching…") {
  return h("p", { class: "loading", role: "status" }, what);
}

export function matchList(found, errors, navigate, intro = null) {
  const refused = refusedFields(errors);
  const wrapper = h("div", { class: "matches-wrapper" });
  const count = found.matches.length;
  if (!count) {
    wrapper.append(
      empty(
        "No customer matches. Check the spelling, try the whole e-mail address or phone " +
          "number, or another thing the customer gave you.",
      ),
    );
    return wrapper;
  }
  wrapper.append(
    h(
      "p",
      { role: "status" },
      intro || `${count} ${count === 1 ? "customer" : "customers"} found${found.hasMore ? " (more match: be more precise)" : ""}.`,
    ),
  );
  const list = h("ol", { class: "matches" });
  for (const match of found.matches) list.append(matchItem(match, refused, navigate));
  wrapper.append(list);
  return wrapper;
}

function matchItem(match, refused, navigate) {
  const profile = match.profile;
  const href = `/console/profile/${encodeURIComponent(profile.id)}`;
  const name = profile.displayName || "Unnamed customer";
  const places = [
    ...new Set(
      (profile.addresses || []).map((a) =>
        [a.address.city, a.address.country].filter(Boolean).join(", "),
      ),
    ),
  ].filter(Boolean);
  const details = h(
    "ul",
    { class: "inline" },
    (profile.emails || []).map((e) => h("li", {}, e)),
    (profile.phones || []).map((p) => h("li", {}, p)),
    places.map((p) => h("li", {}, p)),
  );
  const metrics = profile.metrics || {};
  const facts = [
    profile.customerSince ? `Customer since ${date(profile.customerSince)}` : null,
    `${metrics.orderCount || 0} ${metrics.orderCount === 1 ? "order" : "orders"}`,
    metrics.lastOrderAt ? `last ${relative(metrics.lastOrderAt)}` : null,
    metrics.openCases ? `${metrics.openCases} open ${metrics.openCases === 1 ? "case" : "cases"}` : null,
    profile.lastSeenAt ? `seen ${relative(profile.lastSeenAt)}` : null,
  ].filter(Boolean);
  return h(
    "li",
    { class: "match" },
    h(
      "a",
      {
        href,
        class: "match-name",
        onclick: (event) => {
          if (event.ctrlKey || event.metaKey || event.shiftKey) return;
          event.preventDefault();
          navigate(href);
        },
      },
      name,
    ),
    " ",
    chip(`found by ${FOUND_BY[match.matchedBy] || words(match.matchedBy)}`, "found-by"),
    profile.lifecycleStage ? chip(words(profile.lifecycleStage.stage), "stage") : null,
    match.record ? recordLine(match.record, refused) : null,
    details,
    h("p", { class: "muted" }, facts.join(" · ")),
  );
}

function recordLine(record, refused) {
  if (record.__typename === "OrderRecord") {
    const number = record.orderNumber || record.externalId;
    return h(
      "p",
      { class: "found-record" },
      `Order ${number} from ${record.source}, ${date(record.occurredAt)}, ${money(record.total)}`,
    );
  }
  if (record.__typename === "ServiceCaseRecord") {
    const subject =
      record.subject || (refused.has("subject") ? "(subject hidden for your role)" : "");
    return h(
      "p",
      { class: "found-record" },
      `Ticket ${record.externalId} from ${record.source}, ${date(record.occurredAt)}, ` +
        `${words(record.caseStatus)}${subject ? `: ${subject}` : ""}`,
    );
  }
  return null;
}

const POP_KINDS = {
  phone: { label: "phone number", type: "PHONE" },
  email: { label: "e-mail address", type: "EMAIL" },
  order: { label: "order", by: "ORDER" },
  ticket: { label: "ticket", by: "TICKET" },
};

/** Resolves a screen pop to a profile (opened in place) or to a list or a message. */
export async function lookupView(main, params, openProfile, navigate) {
  const kind = Object.keys(POP_KINDS).find((k) => params.get(k));
  if (!kind) {
    replace(
      main,
      h("h1", { tabindex: "-1" }, "Screen pop"),
      problem(
        "A screen pop names what it knows: /console/lookup?phone=…, ?email=…, ?order=… or ?ticket=…",
      ),
    );
    return;
  }
  let value = params.get(kind).trim();
  if (kind === "phone" && /^\d/.test(value) && /^ /.test(params.get(kind))) {
    value = `+${value}`; // an unencoded "+" arrives as a space
  }
  const pop = POP_KINDS[kind];
  const title = `Screen pop: ${pop.label} ${value}`;
  replace(main, h("h1", { tabindex: "-1" }, title), loading("Looking up…"));
  try {
    if (pop.type) {
      const { data } = await gql(BY_IDENTIFIER, { type: pop.type, value });
      if (!main.isConnected) return; // another page opened since: no profile opened over it
      const found = data.profileByIdentifier;
      if (found.__typename === "Profile") {
        openProfile(found.id, `${pop.label} ${value}`);
        return;
      }
      replace(main, h("h1", { tabindex: "-1" }, title), notFound(sentence(found.message), value));
      return;
    }
    const result = await gql(SEARCH, { text: value, by: [pop.by] });
    if (!main.isConnected) return;
    const found = result.data.findProfiles;
    if (!found) {
      const error = result.errors[0];
      replace(main, h("h1", { tabindex: "-1" }, title), notFound(error ? sentence(error.message) : "", value));
      return;
    }
    if (found.matches.length === 1) {
      openProfile(found.matches[0].profile.id, `${pop.label} ${value}`);
      return;
    }
    replace(
      main,
      h("h1", { tabindex: "-1" }, title),
      found.matches.length
        ? matchList(found, result.errors, navigate, `Several customers have this ${pop.label}: choose one.`)
        : notFound(`No customer has ${pop.label} ${value}.`, value),
    );
  } catch (error) {
    replace(main, h("h1", { tabindex: "-1" }, title), problem(error.message));
  }
}

function notFound(message, value) {
  const box = document.getElementById("q");
  if (box) box.value = value;
  return h(
    "div",
    {},
    problem(message || "No customer found."),
    h("p", {}, "Search with the box above: by name, e-mail, another number, an order or a ticket."),
  );
}
