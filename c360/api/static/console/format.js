// How values read on screen: dates and times in the agent's locale, money in its currency's
// minor units, the customer's local time, and words for the API's codes.

const locale = undefined; // the browser's own

export function date(value) {
  if (!value) return "";
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium" }).format(new Date(value));
}

export function dateTime(value) {
  if (!value) return "";
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" }).format(
    new Date(value),
  );
}

/** "3 days ago", "in 2 hours": whole units, never more than has passed (two and a half years
 * ago is "2 years ago"). */
export function relative(value, now = Date.now()) {
  if (!value) return "";
  const seconds = (new Date(value).getTime() - now) / 1000;
  const units = [
    ["year", 31536000],
    ["month", 2592000],
    ["week", 604800],
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
  ];
  const format = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return format.format(Math.trunc(seconds / size), unit);
  }
  return format.format(Math.trunc(seconds), "second");
}

/** "1 year, 2 months" since a date. */
export function duration(from, now = Date.now()) {
  const days = Math.floor((now - new Date(from).getTime()) / 86400000);
  if (days < 1) return "today";
  const years = Math.floor(days / 365);
  const months = Math.floor((days % 365) / 30);
  const parts = [];
  if (years) parts.push(`${years} year${years === 1 ? "" : "s"}`);
  if (months) parts.push(`${months} month${months === 1 ? "" : "s"}`);
  if (!parts.length) parts.push(`${days} day${days === 1 ? "" : "s"}`);
  return parts.join(", ");
}

const EAST_ASIAN = /^[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\s]+$/u;

/** A person's given and family names as they are written: 王小明 (family name first, no space)
 * for names in Chinese characters, kana or hangul, else "Ana García"; as c360's displayName. */
export function personName(given, family) {
  if (given && family && EAST_ASIAN.test(given) && EAST_ASIAN.test(family)) return family + given;
  return [given, family].filter(Boolean).join(" ");
}

export function money(value) {
  if (!value) return "";
  const currency = value.currency;
  try {
    const format = new Intl.NumberFormat(locale, { style: "currency", currency });
    const digits = format.resolvedOptions().maximumFractionDigits;
    return format.format(value.amount / 10 ** digits);
  } catch {
    return `${(value.amount / 100).toFixed(2)} ${currency}`;
  }
}

export function moneyList(values) {
  return (values || []).map(money).join(" + ");
}

export function percent(value) {
  if (value === null || value === undefined) return "";
  return new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 0 }).format(value);
}

/** The time now in a zone: "Tue 14:32". */
export function localTime(zone, now = new Date()) {
  try {
    return new Intl.DateTimeFormat(locale, {
      timeZone: zone,
      weekday: "short",
      hour: "2-digit",
      minute: "2-digit",
    }).format(now);
  } catch {
    return "";
  }
}

/** An instant as the customer reads it in their zone: "Wed 09:00". */
export function inZone(value, zone) {
  if (!value) return "";
  try {
    return new Intl.DateTimeFormat(locale, {
      timeZone: zone,
      weekday: "short",
      day: "numeric",
      month: "short",
      hour: "2-digit",
      minute: "2-digit",
    }).format(new Date(value));
  } catch {
    return dateTime(value);
  }
}

export function clock(value) {
  return value ? value.slice(0, 5) : "";
}

export function language(code) {
  if (!code) return "";
  try {
    const name = new Intl.DisplayNames([navigator.language || "en"], { type: "language" }).of(code);
    return name && name !== code ? `${name} (${code})` : code;
  } catch {
    return code;
  }
}

const CHANNELS = {
  EMAIL: "E-mail",
  SMS: "SMS",
  PHONE: "Phone",
  WHATSAPP: "WhatsApp",
  POSTAL: "Post",
  PUSH: "Push",
  CHAT: "Chat",
  WEB: "Web form",
  SOCIAL: "Social media",
  IN_PERSON: "In person",
  OTHER: "Other",
  ONLINE: "Online",
  IN_STORE: "In store",
};

export function channel(code) {
  return CHANNELS[code] || words(code);
}

/** ENUM_VALUE → "Enum value"; camelCase → "Camel case". */
export function words(code) {
  if (!code) return "";
  const spaced = String(code)
    .replace(/([a-z])([A-Z])/g, "$1 $2")
    .replace(/_/g, " ")
    .toLowerCase();
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

export const BASIS = {
  EXPLICIT: "asked for by the customer",
  INFERRED: "from their recent conversations",
  DEFAULT: "the default order",
};

export const KINDS = {
  PERSON: "Person",
  SITE_EVENT: "Site or app",
  ORDER: "Order",
  RETURN: "Return",
  SERVICE_CASE: "Service case",
  SURVEY_RESPONSE: "Survey",
  CONSENT_CHANGE: "Consent",
  PREFERENCE_CHANGE: "Preference",
  CONTACT_POINT_STATUS: "Address status",
  OUTBOUND_CONTACT: "Contact made",
};

/** Every kind's name, with those the timeline has only where the schema serves them. */
export const KIND_NAMES = { ...KINDS, FOLLOW_UP: "Follow-up" };

export const MASK = "•";

/** Whether a contact point came masked (the role reads it so). */
export function masked(value) {
  return typeof value === "string" && value.includes(MASK);
}
