// The documents the console sends. Named operations: each has its own latency series in
// /metrics, and the access audit names it.

export const TIMELINE_ITEM = `
fragment TimelineNode on TimelineItem {
  __typename id kind occurredAt source externalId
  ... on PersonRecord { givenName familyName fullName language country timeZone }
  ... on SiteEventRecord { eventType name url siteChannel: channel }
  ... on OrderRecord {
    orderNumber orderChannel: channel storeId cancelledAt total { amount currency }
    lineItems { title sku category quantity unitPrice { amount currency } }
  }
  ... on ReturnRecord {
    orderExternalId order { orderNumber } reason amount { amount currency }
    items { sku quantity amount { amount currency } }
  }
  ... on ServiceCaseRecord {
    caseChannel: channel caseStatus: status priority subject complaint solvedAt satisfaction tags
  }
  ... on SurveyResponseRecord { surveyType score comment touchpoint }
  ... on ConsentChangeRecord {
    consentChannel: channel purpose consentStatus: status contactPoint origin actor evidence
  }
  ... on PreferenceChangeRecord {
    preferredChannels { purpose channel } language timeZone quietHours { start end }
    doNotContact { active reason } origin actor evidence
  }
  ... on ContactPointStatusRecord {
    pointChannel: channel point: contactPoint pointStatus: status reason origin actor
  }
  ... on OutboundContactRecord {
    contactChannel: channel purpose contactPoint campaign outcome actor
  }
}`;

const MATCH_PROFILE = `
  id displayName emails phones customerSince lastSeenAt
  addresses { address { city country } }
  lifecycleStage { stage }
  metrics { orderCount lastOrderAt openCases }`;

export const SEARCH = `
query ConsoleSearch($text: String!, $by: [FindBy!]) {
  findProfiles(text: $text, by: $by, first: 20) {
    hasMore
    matches {
      matchedBy
      record {
        __typename id occurredAt source externalId
        ... on OrderRecord { orderNumber total { amount currency } }
        ... on ServiceCaseRecord { subject caseStatus: status }
      }
      profile { ${MATCH_PROFILE} }
    }
  }
}`;

export const BY_IDENTIFIER = `
query ConsoleScreenPop($type: IdentifierType!, $value: String!) {
  profileByIdentifier(type: $type, value: $value) {
    __typename
    ... on Profile { id }
    ... on Error { code message }
  }
}`;

export const PROFILE = `
query ConsoleProfile($id: ID!) {
  profile(id: $id) {
    __typename
    ... on Error { code message }
    ... on Profile {
      id displayName emails phones customerSince firstSeenAt lastSeenAt
      identifiers { type value source }
      addresses { address { line1 line2 city region postalCode country } sources lastSeenAt }
      preferredChannel {
        channel basis reason allowedNow nextAllowedAt contactPoint reasons { code message }
      }
      contactPreferences {
        doNotContact { active reason set { since origin actor } }
        preferredChannels { purpose channel set { since origin actor source } }
        language timeZone
        quietHours { start end } effectiveQuietHours { start end }
        contactPoints { channel value status statusSince statusReason }
      }
      lifecycleStage { stage reason }
      valueTier { tier reason }
      churnRisk { score reasons }
      metrics {
        lifetimeValue { amount currency } lifetimeValueReporting { amount currency }
        orderCount cancelledOrderCount returnCount returnRate firstOrderAt lastOrderAt
        averageCsat lastNps lastNpsAt npsTrend openCases complaints openComplaints
        recentCases recentCaseDays topCategories { name quantity }
      }
      openCases {
        id externalId source occurredAt caseChannel: channel caseStatus: status priority
        subject description complaint tags firstResponseAt
      }
      pastProblems {
        id externalId occurredAt caseChannel: channel caseStatus: status subject solvedAt
        satisfaction
      }
      consents {
        channel contactPoint purpose status since source origin actor recordId evidence pendingSince
      }
      purchases: timeline(first: 5, kinds: [ORDER, RETURN]) { edges { node { ...TimelineNode } } }
      surveys: timeline(first: 5, kinds: [SURVEY_RESPONSE]) { edges { node { ...TimelineNode } } }
    }
  }
  call: contactDecision(profileId: $id, channel: PHONE, purpose: "service") {
    __typename
    ... on ContactDecision {
      channel purpose allowed nextAllowedAt timeZones timeZoneBasis country
      reasons { code message }
    }
    ... on Error { code message }
  }
}
${TIMELINE_ITEM}`;

// Why no channel may be used for service: each channel the policy refuses, with its rules.
export const SERVICE_REFUSALS = `
query ConsoleServiceRefusals($id: ID!) {
  bestChannels(profileId: $id, purpose: "service") {
    __typename
    ... on ChannelRanking { refused { channel purpose reasons { code message } } }
    ... on Error { code message }
  }
}`;

// A follow-up's events in the timeline, where the schema has them.
const FOLLOW_UP_EVENT = `
  ... on FollowUpEventItem {
    followUpId rule { name } event { type status actor note outcome rootCause owner team }
  }`;

/** The timeline's pages, with the follow-up events' fields when the schema has them. */
export function timelineDocument(withFollowUps) {
  return `
query ConsoleTimeline($id: ID!, $after: String, $kinds: [RecordKind!]) {
  profile(id: $id) {
    __typename
    ... on Profile {
      timeline(first: 20, after: $after, kinds: $kinds) {
        edges { cursor node { ...TimelineNode ${withFollowUps ? FOLLOW_UP_EVENT : ""} } }
        pageInfo { hasNextPage endCursor }
      }
    }
    ... on Error { code message }
  }
}
${TIMELINE_ITEM}`;
}


export const CONSENT_HISTORY = `
query ConsoleConsentHistory($id: ID!) {
  profile(id: $id) {
    ... on Profile {
      consentHistory(first: 10) { edges { node { ...TimelineNode } } }
    }
  }
}
${TIMELINE_ITEM}`;

export const IDENTITY = `
query ConsoleIdentity($id: ID!) {
  profile(id: $id) {
    ... on Profile {
      merges { id survivorId absorbedId rule actor reason status mergedAt undoneAt movedIdentifiers }
      matchSuggestions { id profileIds reasons status }
    }
  }
}`;

export const PROFILE_SUMMARY = `
query ConsoleProfileSummary($id: ID!) {
  profile(id: $id) {
    __typename
    ... on Profile { ${MATCH_PROFILE} }
    ... on Error { code message }
  }
}`;

export const RESOLVE_SUGGESTION = `
mutation ConsoleResolveSuggestion($id: ID!, $accept: Boolean!) {
  resolveMatchSuggestion(id: $id, accept: $accept) {
    __typename
    ... on MatchSuggestion { id status }
    ... on Error { code message }
  }
}`;

export const RECORD_CONTACT = `
mutation ConsoleRecordContact($input: RecordContactInput!) {
  recordContact(input: $input) {
    __typename
    ... on ContactRecorded {
      contact { id occurredAt contactChannel: channel purpose outcome }
      decision { allowed reasons { code message } }
    }
    ... on Error { code message }
  }
}`;

export const SET_PREFERENCE = `
mutation ConsoleSetPreference($input: ContactPreferenceInput!) {
  setContactPreference(input: $input) {
    __typename
    ... on PreferencesChanged { profile { id } }
    ... on Error { code message }
  }
}`;

/** One recordConsent per change, in one request (mutations run in order). */
export function recordConsents(count) {
  const variables = Array.from({ length: count }, (_, i) => `$c${i}: RecordConsentInput!`);
  const fields = Array.from(
    { length: count },
    (_, i) => `c${i}: recordConsent(input: $c${i}) {
      __typename
      ... on ConsentRecorded { recordId status confirmationUrl confirmationExpiresAt }
      ... on Error { code message }
    }`,
  );
  return `mutation ConsoleRecordConsent(${variables.join(", ")}) {\n${fields.join("\n")}\n}`;
}
