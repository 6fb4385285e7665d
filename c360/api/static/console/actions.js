// Actions beside the profile: log the contact made (recordContact), and for roles that see
// identity history, the merges and match suggestions, with merge / not-the-same-person for
// roles that may merge (admins; the API refuses anyone else).

import { gql, may, refusedFields, resultError, session } from "./api.js";
import { empty, h, notify, problem, replace, section, uid } from "./dom.js";
import { keepDraft } from "./drafts.js";
import { channel, date, dateTime, words } from "./format.js";
import { IDENTITY, PROFILE_SUMMARY, RECORD_CONTACT, RESOLVE_SUGGESTION } from "./queries.js";

const CHANNELS = ["PHONE", "EMAIL", "SMS", "WHATSAPP", "POSTAL", "PUSH"];
const OUTCOMES = [
  ["ANSWERED", "Answered"],
  ["NO_ANSWER", "No answer"],
  ["SENT", "Sent"],
  ["DELIVERED", "Delivered"],
  ["FAILED", "Failed"],
];

export function actionsRail(profileId, profile, onChanged) {
  const log = logContactForm(profileId, profile, onChanged);
  const parts = [log.element];
  if (may("identityHistory")) parts.push(identityPanel(profileId, onChanged));
  const element = h("aside", { class: "rail", "aria-label": "Actions" }, section("actions", "Actions", parts));
  return { element, restoreDrafts: () => log.restoreDraft() };
}

function options(values, chosen) {
  return values.map(([value, label]) => h("option", { value, selected: value === chosen }, label));
}

function logContactForm(profileId, profile, onChanged) {
  const ids = { channel: uid("lc"), purpose: uid("lp"), outcome: uid("lo") };
  const channelSelect = h(
    "select",
    { id: ids.channel },
    options(
      CHANNELS.map((c) => [c, channel(c)]),
      "PHONE",
    ),
  );
  const purposeSelect = h(
    "select",
    { id: ids.purpose },
    options(
      session.purposes.map((p) => [p, words(p)]),
      "service",
    ),
  );
  const outcomeSelect = h("select", { id: ids.outcome }, options(OUTCOMES, "ANSWERED"));
  const status = h("div", { class: "result", role: "status" });
  const submit = h("button", { type: "submit" }, "Log contact");
  const form = h(
    "form",
    {
      class: "panel",
      "aria-label": "Log the contact made",
      onsubmit: async (event) => {
        event.preventDefault();
        submit.disabled = true;
        replace(status, h("p", { class: "muted" }, "Logging…"));
        const input = {
          profileId,
          channel: channelSelect.value,
          purpose: purposeSelect.value,
          outcome: outcomeSelect.value,
        };
        try {
          const { data } = await gql(RECORD_CONTACT, { input });
          const result = data.recordContact;
          const error = resultError(result);
          if (error) {
            replace(status, h("p", { class: "notice error" }, `Not logged: ${error}`));
            return;
          }
          draft.clear();
          const logged = result.contact;
          replace(
            status,
            h(
              "p",
              {},
              `Logged: ${channel(logged.contactChannel)} for ${logged.purpose}, ` +
                `${words(logged.outcome).toLowerCase()}, ${dateTime(logged.occurredAt)}.`,
            ),
            result.decision.allowed
              ? null
              : h(
                  "p",
                  { class: "warning" },
                  "The contact policy would not have allowed it: " +
                    result.decision.reasons.map((r) => r.message).join(" "),
                ),
          );
          onChanged();
        } catch (error) {
          replace(status, h("p", { class: "notice error" }, `Not logged: ${error.message}`));
        } finally {
          submit.disabled = false;
        }
      },
    },
    h("h3", {}, "Log the contact made"),
    h("div", { class: "row" }, h("label", { for: ids.channel }, "Channel"), channelSelect),
    h("div", { class: "row" }, h("label", { for: ids.purpose }, "Purpose"), purposeSelect),
    h("div", { class: "row" }, h("label", { for: ids.outcome }, "Outcome"), outcomeSelect),
    submit,
    status,
  );
  const draft = keepDraft(form, profileId, "log-contact");
  return { element: form, restoreDraft: () => draft.restore() };
}

function identityPanel(profileId, onChanged) {
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const panel = h("div", { class: "panel identity" }, h("h3", {}, "Identity"), body);
  const load = async () => {
    try {
      const result = await gql(IDENTITY, { id: profileId });
      const profile = result.data.profile;
      if (!profile || refusedFields(result.errors).has("merges")) {
        replace(body, empty("Your role does not see merges."));
        return;
      }
      replace(body, ...(await identityParts(profile, profileId, load, onChanged)));
    } catch (error) {
      replace(body, problem(`Merges could not be read: ${error.message}`));
    }
  };
  load();
  return panel;
}

async function identityParts(profile, profileId, reload, onChanged) {
  const parts = [h("h4", {}, "Merges")];
  const merges = profile.merges || [];
  parts.push(
    merges.length
      ? h(
          "ul",
          { class: "items" },
          merges.map((m) =>
            h(
              "li",
              {},
              h(
                "p",
                {},
                m.absorbedId === profileId ? "Merged into " : "Absorbed ",
                h("code", {}, m.absorbedId === profileId ? m.survivorId : m.absorbedId),
                ` by ${words(m.rule).toLowerCase()}`,
              ),
              h(
                "p",
                { class: "muted" },
                `${m.status}${m.mergedAt ? `, ${date(m.mergedAt)}` : ""} · ${m.actor}`,
                m.movedIdentifiers.length ? ` · moved ${m.movedIdentifiers.join(", ")}` : "",
              ),
            ),
          ),
        )
      : empty("Never merged."),
  );
  parts.push(h("h4", {}, "Possibly the same person"));
  const suggestions = profile.matchSuggestions || [];
  if (!suggestions.length) {
    parts.push(empty("No open suggestions."));
    return parts;
  }
  const list = h("ul", { class: "items" });
  for (const suggestion of suggestions) {
    const other = suggestion.profileIds.find((p) => p !== profileId) || suggestion.profileIds[0];
    const summary = await otherProfile(other);
    const status = h("div", { role: "status" });
    const resolve = async (accept, pressed) => {
      // Both answers wait for this one's: a merge and a refusal must not both be sent.
      const buttons = [...pressed.parentElement.querySelectorAll("button")];
      const hold = (held) => buttons.forEach((b) => (b.disabled = held));
      hold(true);
      try {
        const { data } = await gql(RESOLVE_SUGGESTION, { id: suggestion.id, accept });
        const error = resultError(data.resolveMatchSuggestion);
        if (error) {
          replace(status, h("p", { class: "notice error" }, error));
          hold(false);
          return;
        }
        // Said in the page's live region: the list is drawn again without this suggestion.
        notify(accept ? `Merged with ${summary}.` : `Marked as not the same person as ${summary}.`);
        await reload();
        onChanged();
      } catch (error) {
        replace(status, h("p", { class: "notice error" }, error.message));
        hold(false);
      }
    };
    const actions = may("merge")
      ? h(
          "p",
          { class: "buttons" },
          h("button", { type: "button", onclick: (e) => resolve(true, e.currentTarget) }, "Merge"),
          h(
            "button",
            { type: "button", class: "secondary", onclick: (e) => resolve(false, e.currentTarget) },
            "Not the same person",
          ),
        )
      : h("p", { class: "muted" }, "An admin decides whether to merge.");
    list.append(
      h(
        "li",
        {},
        h("p", {}, h("a", { href: `/console/profile/${encodeURIComponent(other)}`, class: "own-line" }, summary)),
        h("p", { class: "muted" }, suggestion.reasons.join("; ")),
        actions,
        status,
      ),
    );
  }
  parts.push(list);
  return parts;
}

async function otherProfile(id) {
  try {
    const { data } = await gql(PROFILE_SUMMARY, { id });
    const p = data.profile;
    if (p.__typename !== "Profile") return id;
    const facts = [p.emails[0], p.phones[0], p.customerSince ? `since ${date(p.customerSince)}` : null]
      .filter(Boolean)
      .join(", ");
    return `${p.displayName || "Unnamed customer"}${facts ? ` (${facts})` : ""}`;
  } catch {
    return id;
  }
}
