// What happened: past problems, recent orders and returns with their items, survey answers
// with comments, then the whole timeline, filtered by kind, loaded page by page as it scrolls
// into view (the API's cursor), with a button for the same.

import { gql, refusedFields, sentence } from "./api.js";
import { chip, empty, h, problem, replace, section, uid } from "./dom.js";
import { feedbackAction, feedbackOf, followUpSupport } from "./followups.js";
import { KIND_NAMES, KINDS, channel, clock, date, dateTime, money, personName, words } from "./format.js";
import { timelineDocument } from "./queries.js";

const HIDDEN = "hidden for your role";

export function historySection(profileId, onAnswered = () => {}) {
  const problems = h("div");
  const purchases = h("div");
  const surveys = h("div");
  const timeline = timelineList(profileId);
  const element = section(
    "history",
    "What happened",
    h("h3", {}, "Past problems"),
    problems,
    h("h3", {}, "Recent orders and returns"),
    purchases,
    h("h3", {}, "Survey answers"),
    surveys,
    h("h3", {}, "Everything, newest first"),
    timeline.element,
  );
  return {
    element,
    fill(profile, refused) {
      replace(problems, pastProblems(profile.pastProblems, refused));
      const bought = profile.purchases.edges.map((e) => e.node);
      replace(
        purchases,
        bought.length
          ? h("ul", { class: "items" }, bought.map((n) => h("li", {}, describe(n, refused))))
          : empty("No orders or returns."),
      );
      const answers = profile.surveys.edges.map((e) => e.node);
      const known = answers.length ? feedbackOf(profileId) : Promise.resolve(null);
      replace(
        surveys,
        answers.length
          ? h(
              "ul",
              { class: "items" },
              answers.map((n) => h("li", {}, describe(n, refused), feedbackAction(profileId, n, known, onAnswered))),
            )
          : empty("No survey answers."),
      );
      if (!timeline.started) timeline.start();
    },
    reload() {
      timeline.restart();
    },
  };
}

function pastProblems(cases, refused) {
  if (!cases.length) return empty("No problems solved before.");
  return h(
    "ul",
    { class: "items" },
    cases.map((c) =>
      h(
        "li",
        {},
        h("p", { class: "item-title" }, c.subject || (refused.has("subject") ? `Subject ${HIDDEN}` : "No subject")),
        h(
          "p",
          { class: "muted" },
          `${channel(c.caseChannel)}, opened ${date(c.occurredAt)}`,
          c.solvedAt ? `, solved ${date(c.solvedAt)} (${solvedIn(c.occurredAt, c.solvedAt)})` : "",
          c.satisfaction ? `; rated ${c.satisfaction}` : "",
        ),
      ),
    ),
  );
}

function solvedIn(opened, solved) {
  const hours = (new Date(solved) - new Date(opened)) / 3600000;
  return hours < 48 ? `in ${Math.max(1, Math.round(hours))} h` : `in ${Math.round(hours / 24)} days`;
}

/** One record as a line or two a person reads. */
export function describe(node, refused = new Set()) {
  const when = h("time", { datetime: node.occurredAt }, dateTime(node.occurredAt));
  const kind = chip(KIND_NAMES[node.kind] || words(node.kind), `kind kind-${node.kind.toLowerCase()}`);
  const head = (...text) => h("p", { class: "item-title" }, kind, " ", ...text);
  const foot = (...text) => h("p", { class: "muted" }, when, ` · ${node.source}`, ...text);
  switch (node.__typename) {
    case "OrderRecord":
      return [
        head(
          `${node.orderNumber || node.externalId}, ${money(node.total)}`,
          node.cancelledAt ? " " : "",
          node.cancelledAt ? chip("cancelled", "bad") : null,
        ),
        h(
          "ul",
          { class: "lines" },
          node.lineItems.map((li) =>
            h("li", {}, `${li.quantity} × ${li.title || li.sku || "item"} (${money(li.unitPrice)})`),
          ),
        ),
        foot(` · ${channel(node.orderChannel)}`, node.storeId ? ` (store ${node.storeId})` : ""),
      ];
    case "ReturnRecord":
      return [
        // The order as the customer knows it (its number), when c360 holds it; else the
        // source's id, all the return names.
        head(
          `of order ${(node.order && node.order.orderNumber) || node.orderExternalId}, ${money(node.amount)}`,
          node.reason ? `: ${node.reason}` : "",
        ),
        h("ul", { class: "lines" }, node.items.map((i) => h("li", {}, `${i.quantity} × ${i.sku || "item"}`))),
        foot(),
      ];
    case "ServiceCaseRecord":
      return [
        head(node.subject || (refused.has("subject") ? `Subject ${HIDDEN}` : "No subject")),
        foot(
          ` · ${channel(node.caseChannel)} · ${words(node.caseStatus)} · ${words(node.priority)}`,
          node.satisfaction ? ` · rated ${node.satisfaction}` : "",
          node.complaint ? " · complaint" : "",
        ),
      ];
    case "SurveyResponseRecord":
      return [
        head(`${node.surveyType} ${node.score}`, node.touchpoint ? ` after ${node.touchpoint}` : ""),
        node.comment
          ? h("blockquote", {}, node.comment)
          : refused.has("comment")
            ? h("p", { class: "muted" }, `Comment ${HIDDEN}`)
            : null,
        foot(),
      ];
    case "ConsentChangeRecord":
      return [
        head(
          `${channel(node.consentChannel)} ${node.purpose === "all" ? "(all purposes)" : node.purpose}: ${words(node.consentStatus)}`,
          node.contactPoint ? ` for ${node.contactPoint}` : "",
        ),
        node.evidence ? h("p", {}, `“${node.evidence}”`) : null,
        foot(` · ${words(node.origin)}`, node.actor ? ` · by ${node.actor}` : ""),
      ];
    case "PreferenceChangeRecord": {
      const changes = [
        ...node.preferredChannels.map(
          (p) => `${p.purpose}: ${p.channel ? channel(p.channel) : "no preference"}`,
        ),
        node.language ? `language ${node.language}` : null,
        node.timeZone ? `time zone ${node.timeZone}` : null,
        node.quietHours ? `quiet hours ${clock(node.quietHours.start)}–${clock(node.quietHours.end)}` : null,
        node.doNotContact
          ? node.doNotContact.active
            ? `do not contact${node.doNotContact.reason ? `: ${node.doNotContact.reason}` : ""}`
            : "contact allowed again"
          : null,
      ].filter(Boolean);
      return [
        head(`Preferences: ${changes.join("; ") || "changed"}`),
        node.evidence ? h("p", {}, `“${node.evidence}”`) : null,
        foot(` · ${words(node.origin)}`, node.actor ? ` · by ${node.actor}` : ""),
      ];
    }
    case "ContactPointStatusRecord":
      return [
        head(`${channel(node.pointChannel)} ${node.point}: ${words(node.pointStatus)}`, node.reason ? ` (${node.reason})` : ""),
        foot(` · ${words(node.origin)}`),
      ];
    case "OutboundContactRecord":
      return [
        head(
          `${channel(node.contactChannel)} to the customer for ${node.purpose}: ${words(node.outcome)}`,
          node.campaign ? ` (${node.campaign})` : "",
        ),
        foot(node.contactPoint ? ` · ${node.contactPoint}` : "", node.actor ? ` · by ${node.actor}` : ""),
      ];
    case "SiteEventRecord":
      return [head(`${words(node.eventType)}${node.name ? `: ${node.name}` : ""}`), foot(` · ${node.siteChannel}`, node.url ? ` · ${node.url}` : "")];
    case "PersonRecord":
      return [
        head(
          [node.fullName || personName(node.givenName, node.familyName) || "Person record"]
            .concat([node.language, node.country].filter(Boolean))
            .join(", "),
        ),
        foot(),
      ];
    case "FollowUpEventItem": {
      const event = node.event;
      const what = [
        event.outcome ? `outcome ${words(event.outcome).toLowerCase()}` : null,
        event.rootCause ? `root cause ${event.rootCause}` : null,
        event.owner ? `owner ${event.owner}` : null,
        event.team ? `team ${event.team}` : null,
      ].filter(Boolean);
      return [
        head(`${node.rule.name}: ${words(event.type).toLowerCase()}`, what.length ? ` (${what.join(", ")})` : ""),
        event.note ? h("p", {}, `“${event.note}”`) : null,
        foot(` · ${words(event.status)}`, ` · by ${event.actor}`),
      ];
    }
    default:
      return [head(node.externalId), foot()];
  }
}

/** The whole timeline: kind filters, and pages appended as the end comes into view. */
function timelineList(profileId) {
  const list = h("ol", { class: "timeline", "aria-label": "Timeline, newest first" });
  const status = h("p", { class: "muted", role: "status" });
  const more = h("button", { type: "button", class: "secondary", onclick: () => load() }, "Load more");
  const sentinel = h("div", { class: "sentinel", "aria-hidden": "true" });
  const boxes = Object.entries(KINDS).map(([kind, label]) => {
    const id = uid("kind");
    const box = h("input", { type: "checkbox", id, value: kind, onchange: () => restart() });
    return h("span", { class: "check" }, box, h("label", { for: id }, label));
  });
  const filters = h(
    "fieldset",
    { class: "filters" },
    h("legend", {}, "Show only (none ticked: everything)"),
    boxes,
  );
  const element = h("div", { class: "timeline-wrapper" }, filters, list, status, more, sentinel);
  // Follow-up events are in the timeline where the schema has them: a kind of their own.
  const served = followUpSupport()
    .then((found) => {
      if (!found.timelineEvents) return false;
      const id = uid("kind");
      const box = h("input", { type: "checkbox", id, value: "FOLLOW_UP", onchange: () => restart() });
      filters.append(h("span", { class: "check" }, box, h("label", { for: id }, KIND_NAMES.FOLLOW_UP)));
      return true;
    })
    .catch(() => false);
  let after = null;
  let hasNext = true;
  let loading = false;
  let generation = 0;
  let count = 0;
  let observer = null;
  let failed = false;

  function kinds() {
    const ticked = [...filters.querySelectorAll("input:checked")].map((b) => b.value);
    return ticked.length ? ticked : null;
  }

  async function load() {
    if (loading || !hasNext) return;
    failed = false;
    loading = true;
    const mine = generation;
    list.setAttribute("aria-busy", "true");
    more.disabled = true;
    status.textContent = "Loading…";
    try {
      const result = await gql(timelineDocument(await served), { id: profileId, after, kinds: kinds() });
      if (mine !== generation) return; // the filters changed meanwhile
      const profile = result.data.profile;
      if (!profile || profile.__typename !== "Profile") {
        throw new Error(profile ? sentence(profile.message) : "The timeline could not be read.");
      }
      const refused = refusedFields(result.errors);
      const page = profile.timeline;
      for (const edge of page.edges) list.append(h("li", {}, describe(edge.node, refused)));
      count += page.edges.length;
      after = page.pageInfo.endCursor;
      hasNext = page.pageInfo.hasNextPage;
      status.textContent = hasNext
        ? `${count} records shown; more load as you scroll.`
        : count
          ? `That is everything: ${count} records.`
          : "No records of these kinds.";
    } catch (error) {
      if (mine === generation) {
        failed = true; // not again by itself: the button tries again
        status.replaceChildren(problem(`The timeline could not be loaded: ${error.message}`));
      }
    } finally {
      if (mine === generation) {
        loading = false;
        list.removeAttribute("aria-busy");
        more.disabled = false;
        more.hidden = !hasNext;
      }
    }
    // Still in view after a page (a tall screen, a short page): the observer will not fire
    // again by itself, so the next page is asked for now.
    if (mine === generation && hasNext && !failed && observer && nearView()) load();
  }

  function nearView() {
    return sentinel.isConnected && sentinel.getBoundingClientRect().top < window.innerHeight + 400;
  }

  function restart() {
    generation += 1;
    after = null;
    hasNext = true;
    loading = false;
    count = 0;
    list.replaceChildren();
    load();
  }

  return {
    element,
    started: false,
    start() {
      this.started = true;
      if ("IntersectionObserver" in window) {
        observer = new IntersectionObserver(
          (entries) => {
            if (!failed && entries.some((e) => e.isIntersecting)) load();
          },
          { rootMargin: "400px" },
        );
        observer.observe(sentinel);
      }
      load();
    },
    restart,
  };
}
