// Consent: per channel, address and purpose, with the change that decided it; and what the
// customer states on the call, recorded with the signed-in key as actor and the agent's note
// as evidence (recordConsent, setContactPreference: the API's own rules apply).

import { gql, resultError, session } from "./api.js";
import { chip, empty, fieldError, h, replace, section, uid } from "./dom.js";
import { keepDraft } from "./drafts.js";
import { channel, date, masked, words } from "./format.js";
import { SET_PREFERENCE, recordConsents } from "./queries.js";

const CHANNELS = ["EMAIL", "SMS", "PHONE", "WHATSAPP", "POSTAL", "PUSH"];
const WHOLE = "__all";

export function consentSection(profileId, onChanged) {
  const table = h("div");
  let points = [];
  const consentForm = consentChangeForm(profileId, () => points, onChanged);
  const preferenceForm = preferenceChangeForm(profileId, onChanged);
  const element = section(
    "consent",
    "Consent",
    table,
    h("h3", {}, "What the customer asks for"),
    h(
      "p",
      { class: "help" },
      "Record what the customer tells you now. Your note is kept as the evidence, with your " +
        "key as the one who recorded it.",
    ),
    h("div", { class: "forms" }, consentForm.element, preferenceForm.element),
  );
  return {
    element,
    /** Puts back what was filled in and not sent (after the first fill: the addresses). */
    restoreDrafts() {
      consentForm.restoreDraft();
      preferenceForm.restoreDraft();
    },
    fill(profile) {
      points = profile.contactPreferences.contactPoints;
      consentForm.pointsChanged();
      replace(table, consentTable(profile.consents));
    },
  };
}

function consentTable(consents) {
  if (!consents.length) {
    return empty(
      "No consent recorded: service and transactional contact are allowed until an opt-out; " +
        "marketing and surveys need an opt-in where the law asks for one.",
    );
  }
  const rows = [...consents].sort(
    (a, b) => a.channel.localeCompare(b.channel) || a.purpose.localeCompare(b.purpose),
  );
  return h(
    "div",
    // On a narrow screen the table scrolls sideways: by keyboard too, once focused.
    { class: "table-scroll", tabindex: "0", role: "region", "aria-label": "Consent per channel, address and purpose" },
    h(
      "table",
      { class: "consents" },
      h("caption", { class: "visually-hidden" }, "Consent per channel, address and purpose"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Channel", "Address", "Purpose", "Status", "Since", "Decided by"].map((t) =>
            h("th", { scope: "col" }, t),
          ),
        ),
      ),
      h(
        "tbody",
        {},
        rows.map((c) =>
          h(
            "tr",
            {},
            h("td", {}, channel(c.channel)),
            h("td", {}, c.contactPoint || "every address"),
            h("td", {}, c.purpose === "all" ? "all purposes" : c.purpose),
            h(
              "td",
              {},
              chip(
                c.pendingSince ? "pending confirmation" : words(c.status),
                c.status === "OPTED_IN" ? "good" : c.status === "OPTED_OUT" ? "bad" : "",
              ),
            ),
            h("td", {}, date(c.since)),
            h("td", {}, `${decidedBy(c)}${c.evidence ? `: “${c.evidence}”` : ""}`),
          ),
        ),
      ),
    ),
  );
}

/** Who recorded the change that decided it and how, as the timeline says it: "Agent, by
 * key:… (Ana)"; a source's own change without a named actor, by its source. */
function decidedBy(consent) {
  const how = words(consent.origin);
  return consent.actor ? `${how}, by ${consent.actor}` : `${how}, from ${consent.source}`;
}

function select(id, options, value = null) {
  return h(
    "select",
    { id, name: id },
    options.map(([optionValue, label]) =>
      h("option", { value: optionValue, selected: optionValue === value }, label),
    ),
  );
}

function consentChangeForm(profileId, currentPoints, onChanged) {
  const channelId = uid("channel");
  const pointId = uid("point");
  const noteId = uid("note");
  const channelSelect = select(
    channelId,
    CHANNELS.map((c) => [c, channel(c)]),
  );
  const pointSelect = h("select", { id: pointId });
  const purposes = [WHOLE, ...session.purposes];
  const rows = purposes.map((purpose) => {
    const name = uid("wish");
    const label = purpose === WHOLE ? "All purposes (the whole channel)" : words(purpose);
    const choice = (value, text, checked = false) => {
      const id = uid("opt");
      return h(
        "span",
        { class: "choice" },
        h("input", { type: "radio", id, name, value, checked }),
        h("label", { for: id }, text),
      );
    };
    return h(
      "fieldset",
      { class: "wish", "data-purpose": purpose },
      h("legend", {}, label),
      choice("", "No change", true),
      choice("OPTED_IN", "Wants it"),
      choice("OPTED_OUT", "Does not want it"),
    );
  });
  const wishes = h("div", { class: "wishes", role: "group", "aria-label": "What the customer wants" }, rows);
  const note = h("textarea", { id: noteId, required: true, rows: 2, maxlength: 500 });
  const status = h("div", { class: "result", role: "status" });
  const submit = h("button", { type: "submit" }, "Record consent");

  function pointsChanged() {
    const chosen = channelSelect.value;
    const previous = pointSelect.value;
    const usable = currentPoints().filter((p) => p.channel === chosen && !masked(p.value));
    replace(
      pointSelect,
      h("option", { value: "" }, "Every address on this channel"),
      usable.map((p) => h("option", { value: p.value }, p.value)),
    );
    if (usable.some((p) => p.value === previous)) pointSelect.value = previous;
  }
  channelSelect.addEventListener("change", pointsChanged);

  const form = h(
    "form",
    {
      class: "panel",
      "aria-label": "Record a consent change",
      onsubmit: async (event) => {
        event.preventDefault();
        const changes = rows
          .map((row) => [row.dataset.purpose, row.querySelector("input:checked").value])
          .filter(([, status]) => status);
        if (!changes.length) {
          const first = wishes.querySelector("input");
          fieldError(status, wishes, "Choose what the customer wants for at least one purpose.", first);
          return;
        }
        if (!note.value.trim()) {
          fieldError(status, note, "Write a note: it is kept as the evidence.");
          return;
        }
        const variables = {};
        changes.forEach(([purpose, wish], i) => {
          variables[`c${i}`] = {
            profileId,
            channel: channelSelect.value,
            purpose: purpose === WHOLE ? null : purpose,
            status: wish,
            contactPoint: pointSelect.value || null,
            origin: "AGENT",
            evidence: note.value.trim(),
          };
        });
        submit.disabled = true;
        replace(status, h("p", { class: "muted" }, "Recording…"));
        try {
          const { data } = await gql(recordConsents(changes.length), variables);
          const lines = changes.map(([purpose], i) => {
            const result = data[`c${i}`];
            const what = `${channel(channelSelect.value)}, ${purpose === WHOLE ? "all purposes" : purpose}`;
            const error = resultError(result);
            if (error) return h("li", { class: "bad" }, `${what}: not recorded. ${error}`);
            if (result.status === "PENDING") {
              return h(
                "li",
                {},
                `${what}: pending until the customer confirms with this link (send it to them): `,
                h("a", { href: result.confirmationUrl, class: "break" }, result.confirmationUrl),
              );
            }
            return h("li", {}, `${what}: ${words(result.status).toLowerCase()}, recorded.`);
          });
          replace(status, h("ul", { class: "plain" }, lines));
          rows.forEach((row) => {
            row.querySelector('input[value=""]').checked = true;
          });
          note.value = "";
          draft.clear();
          onChanged();
        } catch (error) {
          replace(status, h("p", { class: "notice error" }, `Nothing was recorded: ${error.message}`));
        } finally {
          submit.disabled = false;
        }
      },
    },
    h("h4", {}, "Consent"),
    h("div", { class: "row" }, h("label", { for: channelId }, "Channel"), channelSelect),
    h("div", { class: "row" }, h("label", { for: pointId }, "Address or number"), pointSelect),
    wishes,
    h("div", { class: "row" }, h("label", { for: noteId }, "Note (required, kept as evidence)"), note),
    submit,
    status,
  );
  const draft = keepDraft(form, profileId, "consent");
  return { element: form, pointsChanged, restoreDraft: () => draft.restore() };
}

function preferenceChangeForm(profileId, onChanged) {
  const purposeId = uid("purpose");
  const channelId = uid("pchannel");
  const noteId = uid("pnote");
  const purposeSelect = select(
    purposeId,
    session.purposes.map((p) => [p, words(p)]),
  );
  const channelSelect = select(channelId, [
    ...CHANNELS.map((c) => [c, channel(c)]),
    ["", "No preference (remove it)"],
  ]);
  const note = h("textarea", { id: noteId, required: true, rows: 2, maxlength: 500 });
  const status = h("div", { class: "result", role: "status" });
  const submit = h("button", { type: "submit" }, "Record preference");
  const form = h(
    "form",
    {
      class: "panel",
      "aria-label": "Record a preferred channel",
      onsubmit: async (event) => {
        event.preventDefault();
        if (!note.value.trim()) {
          fieldError(status, note, "Write a note: it is kept as the evidence.");
          return;
        }
        submit.disabled = true;
        replace(status, h("p", { class: "muted" }, "Recording…"));
        const input = {
          profileId,
          preferredChannels: [{ purpose: purposeSelect.value, channel: channelSelect.value || null }],
          origin: "AGENT",
          evidence: note.value.trim(),
        };
        try {
          const { data } = await gql(SET_PREFERENCE, { input });
          const error = resultError(data.setContactPreference);
          if (error) {
            replace(status, h("p", { class: "notice error" }, `Not recorded: ${error}`));
          } else {
            const chosen = channelSelect.value ? channel(channelSelect.value) : "no preference";
            replace(status, h("p", {}, `Recorded: ${words(purposeSelect.value)} by ${chosen}.`));
            note.value = "";
            draft.clear();
            onChanged();
          }
        } catch (error) {
          replace(status, h("p", { class: "notice error" }, `Nothing was recorded: ${error.message}`));
        } finally {
          submit.disabled = false;
        }
      },
    },
    h("h4", {}, "Preferred channel"),
    h("div", { class: "row" }, h("label", { for: purposeId }, "For"), purposeSelect),
    h("div", { class: "row" }, h("label", { for: channelId }, "Contact by"), channelSelect),
    h("div", { class: "row" }, h("label", { for: noteId }, "Note (required, kept as evidence)"), note),
    submit,
    status,
  );
  const draft = keepDraft(form, profileId, "preference");
  return { element: form, restoreDraft: () => draft.restore() };
}
