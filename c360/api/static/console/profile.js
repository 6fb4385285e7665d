// The profile page, top to bottom in the order an agent needs it: how to reach them, what
// needs attention, who they are, what happened, consent; actions beside them.

import { actionsRail } from "./actions.js";
import { gql, otherErrors, refusedFields, sentence } from "./api.js";
import { consentSection } from "./consent.js";
import { chip, empty, facts, h, notify, problem, replace, section } from "./dom.js";
import { followUpsSlot } from "./followups.js";
import {
  BASIS,
  channel,
  clock,
  date,
  dateTime,
  duration,
  inZone,
  language,
  localTime,
  money,
  moneyList,
  percent,
  relative,
  words,
} from "./format.js";
import { historySection } from "./history.js";
import { PROFILE, SERVICE_REFUSALS } from "./queries.js";

const HIDDEN = "hidden for your role";

/** Opens a profile in ``main`` (the page's view); ``via`` names the screen pop that led
 * here. A view no longer shown when the answer comes (another page opened since) is left. */
export async function profileView(main, id, via = null) {
  replace(main, h("p", { class: "loading", role: "status" }, "Opening the customer…"));
  let result;
  try {
    result = await gql(PROFILE, { id });
  } catch (error) {
    replace(main, h("h1", { tabindex: "-1" }, "Customer"), problem(error.message));
    return;
  }
  if (!main.isConnected) return;
  const profile = result.data.profile;
  if (!profile || profile.__typename !== "Profile") {
    const message = profile ? sentence(profile.message) : "This customer could not be read.";
    replace(main, h("h1", { tabindex: "-1" }, "Customer not found"), problem(message));
    document.title = "Customer not found — c360 console";
    return;
  }
  const page = new ProfilePage(main, profile.id, via);
  page.render(result);
  // The tab says whose profile it is (an agent with several open tells them apart by it).
  document.title = `${profile.displayName || "Unnamed customer"} — c360 console`;
  performance.mark("c360:profile-rendered");
  main.closest("main").dataset.rendered = "profile";
}

class ProfilePage {
  constructor(main, id, via) {
    this.main = main;
    this.id = id;
    this.via = via;
    this.parts = {};
  }

  /** Reads the profile again and redraws what it shows (after a change made here). */
  async refresh() {
    try {
      const result = await gql(PROFILE, { id: this.id });
      if (result.data.profile && result.data.profile.__typename === "Profile") {
        this.fill(result);
      }
    } catch (error) {
      notify(`The page could not be brought up to date: ${error.message}`, "error");
    }
    this.history.reload();
    this.followUps.reload();
  }

  render(result) {
    const profile = result.data.profile;
    this.head = h("header", { class: "profile-head" });
    this.parts.reach = h("div");
    this.parts.attention = h("div");
    this.parts.who = h("div");
    this.followUps = followUpsSlot(this.id, () => this.refresh());
    // An answer to feedback may acknowledge its follow-ups, and is logged as a contact.
    this.history = historySection(this.id, () => {
      this.followUps.reload();
      this.history.reload();
    });
    this.consent = consentSection(this.id, () => this.refresh());
    this.actions = actionsRail(this.id, profile, () => this.refresh());
    const attention = section(
      "attention",
      "What needs attention",
      this.followUps.element,
      this.parts.attention,
    );
    const layout = h(
      "div",
      { class: "layout" },
      h(
        "div",
        { class: "sections" },
        section("reach", "How to reach them", this.parts.reach),
        attention,
        section("who", "Who they are", this.parts.who),
        this.history.element,
        this.consent.element,
      ),
      this.actions.element,
    );
    replace(this.main, this.head, layout);
    this.fill(result);
    // What was filled in and not sent before the session ended comes back, said so.
    this.consent.restoreDrafts();
    this.actions.restoreDrafts();
    const heading = this.head.querySelector("h1");
    if (heading) heading.focus();
  }

  fill(result) {
    const profile = result.data.profile;
    const refused = refusedFields(result.errors);
    const call = result.data.call && result.data.call.__typename === "ContactDecision" ? result.data.call : null;
    replace(this.head, ...headParts(profile, this.via));
    replace(this.parts.reach, ...reachParts(profile, call, refused));
    replace(this.parts.attention, ...attentionParts(profile, refused));
    replace(this.parts.who, ...whoParts(profile));
    this.history.fill(profile, refused);
    this.consent.fill(profile);
    if (!profile.preferredChannel) this.explainNoChannel(profile, refused);
    const others = otherErrors(result.errors);
    if (others.length) notify(`Part of the page could not be read: ${sentence(others[0].message)}`, "error");
  }

  /** Why no channel may be used for service: each channel the policy refuses, in the
   * policy's order, said as the call-back line says it. Asked only then (a second question
   * of the API), so the page of a customer one may reach costs nothing more. */
  async explainNoChannel(profile, refused) {
    const slot = this.parts.reach.querySelector(".no-channel");
    if (!slot) return;
    let answer;
    try {
      answer = (await gql(SERVICE_REFUSALS, { id: profile.id })).data.bestChannels;
    } catch {
      return; // the warning stands as it is; the page's own errors are said elsewhere
    }
    if (!answer || answer.__typename !== "ChannelRanking" || !answer.refused.length) return;
    if (!slot.isConnected) return; // another customer was opened meanwhile
    // Channels refused for one reason are named together ("E-mail, SMS: do not contact").
    const prefs = profile.contactPreferences;
    const channels = new Map();
    for (const decision of answer.refused) {
      const why = whyNot(decision, prefs, refused);
      channels.set(why, [...(channels.get(why) || []), channel(decision.channel)]);
    }
    slot.append(
      h(
        "ul",
        { class: "refusals", "aria-label": "Why no channel may be used" },
        [...channels].map(([why, names]) => h("li", {}, `${names.join(", ")}: ${why}`)),
      ),
    );
  }
}

function headParts(profile, via) {
  const name = profile.displayName || "Unnamed customer";
  return [
    via ? h("p", { class: "via", role: "status" }, `Opened by screen pop: ${via}`) : null,
    h("h1", { tabindex: "-1" }, name),
    h(
      "p",
      { class: "chips" },
      chip(words(profile.lifecycleStage.stage), "stage"),
      // NONE is no tier: a customer without net purchases, not one of "none value".
      chip(
        profile.valueTier.tier === "NONE" ? "no net purchases" : `${words(profile.valueTier.tier)} value`,
        "tier",
      ),
      profile.customerSince
        ? chip(`customer for ${duration(profile.customerSince)}`, "since")
        : null,
    ),
    h(
      "nav",
      { class: "jump", "aria-label": "Sections of this customer" },
      h(
        "ul",
        {},
        [
          ["#reach", "Reach"],
          ["#attention", "Attention"],
          ["#who", "Who"],
          ["#history", "What happened"],
          ["#consent", "Consent"],
          ["#actions", "Actions"],
        ].map(([href, label]) => h("li", {}, h("a", { href }, label))),
      ),
    ),
  ];
}

// --- 1. How to reach them ------------------------------------------------------------------

function reachParts(profile, call, refused) {
  const prefs = profile.contactPreferences;
  const preferred = profile.preferredChannel;
  const parts = [];
  const warnings = [];
  if (prefs.doNotContact && prefs.doNotContact.active) {
    const reason =
      prefs.doNotContact.reason || (refused.has("reason") ? `reason ${HIDDEN}` : "no reason given");
    warnings.push(
      h(
        "li",
        { class: "warning" },
        h("strong", {}, "Do not contact"),
        ` since ${date(prefs.doNotContact.set.since)}: ${reason}`,
      ),
    );
  }
  for (const point of prefs.contactPoints) {
    if (point.status === "BOUNCED" || point.status === "INVALID") {
      warnings.push(
        h(
          "li",
          { class: "warning" },
          h("strong", {}, `${channel(point.channel)} ${point.value}`),
          ` ${point.status === "BOUNCED" ? "bounced" : "is invalid"}`,
          point.statusSince ? ` (${date(point.statusSince)})` : "",
          point.statusReason ? `: ${point.statusReason}` : "",
          ". Do not use it.",
        ),
      );
    }
  }
  if (warnings.length) {
    parts.push(h("ul", { class: "warnings", "aria-label": "Warnings" }, warnings));
  }
  if (preferred) {
    const allowed = preferred.allowedNow;
    parts.push(
      h(
        "div",
        { class: "preferred" },
        h(
          "p",
          { class: "preferred-channel" },
          "Preferred for service: ",
          h("strong", { "data-channel": preferred.channel }, channel(preferred.channel)),
          " ",
          chip(BASIS[preferred.basis] || words(preferred.basis), "basis"),
          preferred.contactPoint ? h("span", { class: "point" }, ` ${preferred.contactPoint}`) : null,
        ),
        h("p", { class: "reason" }, preferred.reason),
        h(
          "p",
          { class: allowed ? "allowed yes" : "allowed no" },
          allowed
            ? "Allowed now."
            : [
                "Not now",
                preferred.nextAllowedAt
                  ? `: next allowed ${inZone(preferred.nextAllowedAt, zoneOf(call))} their time (${relative(preferred.nextAllowedAt)})`
                  : "",
                ". ",
                preferred.reasons.map((r) => r.message).join(" "),
              ],
        ),
      ),
    );
  } else {
    parts.push(
      h(
        "div",
        { class: "warning no-channel" },
        h("p", {}, "No channel may be used for service now."),
      ),
    );
  }
  const zone = zoneOf(call);
  const quiet = prefs.effectiveQuietHours;
  parts.push(
    facts([
      [
        "Local time",
        zone
          ? `${localTime(zone)} (${call.timeZones.join(" or ")}${call.timeZoneBasis ? `, ${call.timeZoneBasis}` : ""})`
          : "",
      ],
      [
        "Quiet hours",
        quiet ? `${clock(quiet.start)}–${clock(quiet.end)}${prefs.quietHours ? " (their own)" : " (the default)"}` : "none",
      ],
      [
        "Call back",
        call
          ? call.allowed
            ? "a call is allowed now"
            : call.nextAllowedAt
              ? `not now, ${whyNot(call, prefs, refused)}; from ${inZone(call.nextAllowedAt, zone)} their time`
              : `not allowed: ${whyNot(call, prefs, refused)}`
          : "",
      ],
      ["Language", language(prefs.language)],
      [
        "Other preferences",
        prefs.preferredChannels
          .filter((p) => p.purpose !== "service")
          .map((p) => `${words(p.purpose)}: ${channel(p.channel)}`)
          .join("; "),
      ],
    ]),
  );
  return parts;
}

// What a channel's address is called, for "no phone number".
const POINT_NAMES = {
  EMAIL: "e-mail address",
  SMS: "mobile number",
  PHONE: "phone number",
  WHATSAPP: "WhatsApp number",
  POSTAL: "postal address",
  PUSH: "device for push messages",
};

/** The first reason a decision refuses, in a few plain words: "no phone number", "opted
 * out", "quiet hours until 08:00 their time". A do-not-contact reason is case text: said as
 * the profile's own field reads for this role (hidden where the role may not read it). */
export function whyNot(decision, prefs, refused = new Set()) {
  const first = decision.reasons && decision.reasons[0];
  if (!first) return "no reason given";
  const point = POINT_NAMES[decision.channel] || "contact point";
  const by = channel(decision.channel).toLowerCase();
  switch (first.code) {
    case "DO_NOT_CONTACT": {
      const stop = prefs.doNotContact;
      if (stop && stop.reason) return `do not contact: ${stop.reason}`;
      return refused.has("reason") ? `do not contact (reason ${HIDDEN})` : "do not contact";
    }
    case "NO_CONTACT_POINT":
      return `no ${point}`;
    case "CHANNEL_OPTED_OUT":
      return `opted out of all contact by ${by}`;
    case "PURPOSE_OPTED_OUT":
      return `opted out of ${decision.purpose || "this purpose"} by ${by}`;
    case "CONSENT_REQUIRED":
      return "no opt-in given";
    case "CONSENT_PENDING":
      return "their opt-in is not confirmed yet";
    case "CONTACT_POINT_BOUNCED":
      return `the ${point} bounced`;
    case "CONTACT_POINT_INVALID":
      return `the ${point} is invalid`;
    case "CONTACT_POINT_UNSUITABLE":
      return "not a mobile number";
    case "QUIET_HOURS": {
      const quiet = prefs.effectiveQuietHours;
      return quiet ? `quiet hours until ${clock(quiet.end)} their time` : "quiet hours";
    }
    case "OUTSIDE_CONTACT_WINDOW":
      return "outside the times they asked to be contacted";
    case "FREQUENCY_CAP":
      return "contacted as often as allowed lately";
    default:
      return first.message;
  }
}

function zoneOf(call) {
  return call && call.timeZones && call.timeZones.length ? call.timeZones[0] : null;
}

// --- 2. What needs attention ---------------------------------------------------------------

function attentionParts(profile, refused) {
  const parts = [];
  const cases = profile.openCases;
  parts.push(h("h3", {}, `Open cases (${cases.length})`));
  if (cases.length) {
    parts.push(
      h(
        "ul",
        { class: "items cases" },
        cases.map((c) =>
          h(
            "li",
            {},
            h(
              "p",
              { class: "item-title" },
              c.subject || (refused.has("subject") ? `Subject ${HIDDEN}` : "No subject"),
            ),
            h(
              "p",
              { class: "chips" },
              c.complaint ? chip("complaint", "bad") : null,
              chip(words(c.priority), c.priority === "URGENT" || c.priority === "HIGH" ? "bad" : ""),
              chip(words(c.caseStatus)),
              chip(channel(c.caseChannel)),
            ),
            h(
              "p",
              { class: "muted" },
              `Ticket ${c.externalId} (${c.source}), opened ${relative(c.occurredAt)}, ${dateTime(c.occurredAt)}`,
              c.firstResponseAt ? `; first answered ${dateTime(c.firstResponseAt)}` : "; not answered yet",
            ),
          ),
        ),
      ),
    );
  } else {
    parts.push(empty("No open cases."));
  }
  const metrics = profile.metrics;
  if (metrics.openComplaints) {
    parts.push(
      h("p", { class: "warning" }, `${metrics.openComplaints} open complaint${metrics.openComplaints === 1 ? "" : "s"}.`),
    );
  }
  const risk = profile.churnRisk;
  const level = risk.score >= 0.66 ? "high" : risk.score >= 0.33 ? "medium" : "low";
  parts.push(
    h("h3", {}, "Churn risk"),
    h(
      "p",
      {},
      chip(`${level} (${percent(risk.score)})`, level === "low" ? "good" : "bad"),
      " ",
      risk.reasons.length ? risk.reasons.join("; ") : "No warning signs.",
    ),
  );
  return parts;
}

// --- 3. Who they are ------------------------------------------------------------------------

function whoParts(profile) {
  const m = profile.metrics;
  const trend =
    m.npsTrend === null || m.npsTrend === undefined
      ? ""
      : m.npsTrend > 0
        ? ` (up ${m.npsTrend})`
        : m.npsTrend < 0
          ? ` (down ${-m.npsTrend})`
          : " (unchanged)";
  const addresses = profile.addresses.map((a) =>
    [a.address.line1, a.address.line2, a.address.postalCode, a.address.city, a.address.region, a.address.country]
      .filter(Boolean)
      .join(", "),
  );
  return [
    facts([
      ["Name", profile.displayName || "unknown"],
      [
        "Customer since",
        profile.customerSince ? `${date(profile.customerSince)} (${duration(profile.customerSince)})` : "not a buyer yet",
      ],
      ["Lifecycle stage", `${words(profile.lifecycleStage.stage)}: ${profile.lifecycleStage.reason}`],
      ["Value tier", `${words(profile.valueTier.tier)}: ${profile.valueTier.reason}`],
      [
        "Lifetime value",
        m.lifetimeValueReporting ? money(m.lifetimeValueReporting) : moneyList(m.lifetimeValue) || "none",
      ],
      [
        "Orders",
        `${m.orderCount}${m.cancelledOrderCount ? ` (and ${m.cancelledOrderCount} cancelled)` : ""}${m.lastOrderAt ? `, last ${date(m.lastOrderAt)}` : ""}`,
      ],
      ["Returns", `${m.returnCount}${m.returnRate !== null ? ` (${percent(m.returnRate)} of orders)` : ""}`],
      ["Average CSAT", m.averageCsat !== null ? `${m.averageCsat.toFixed(1)} of 5` : "no answers"],
      [
        "Last NPS",
        m.lastNps !== null ? `${m.lastNps} of 10, ${date(m.lastNpsAt)}${trend}` : "no answers",
      ],
      ["Cases", `${m.recentCases} in the last ${m.recentCaseDays} days, ${m.complaints} complaints in all`],
      ["Buys most", m.topCategories.map((c) => c.name).join(", ")],
      ["E-mail", profile.emails.join(", ")],
      ["Phone", profile.phones.join(", ")],
      ["Addresses", addresses.length ? h("ul", { class: "plain" }, addresses.map((a) => h("li", {}, a))) : ""],
      ["First seen", profile.firstSeenAt ? dateTime(profile.firstSeenAt) : ""],
      ["Last seen", profile.lastSeenAt ? `${dateTime(profile.lastSeenAt)} (${relative(profile.lastSeenAt)})` : ""],
    ]),
    h(
      "details",
      {},
      h("summary", {}, `Identifiers (${profile.identifiers.length})`),
      h(
        "ul",
        { class: "plain" },
        profile.identifiers.map((i) =>
          h("li", {}, `${words(i.type)}: ${i.value}${i.source ? ` (${i.source})` : ""}`),
        ),
      ),
    ),
  ];
}
