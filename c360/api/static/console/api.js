// The console's one way to the data: the GraphQL schema, at /console/graphql, as the signed-in
// key. Role rules are the API's own: a field the role may not read comes back null with a
// Forbidden error, and the page says so where the value would be.

const ENDPOINT = "/console/graphql";

function meta(name) {
  const element = document.querySelector(`meta[name="${name}"]`);
  return element ? element.getAttribute("content") : "";
}

export const session = {
  csrf: meta("c360-csrf"),
  role: meta("c360-role"),
  key: meta("c360-key"),
  keyId: meta("c360-key-id"),
  permissions: new Set(meta("c360-permissions").split(" ").filter(Boolean)),
  purposes: meta("c360-purposes").split(" ").filter(Boolean),
  signingOut: false, // set as the agent signs out: a request then refused is no lost session
};

/** Whether the signed-in key's role holds a permission (to offer an action; the API decides). */
export function may(permission) {
  return session.permissions.has(permission);
}

export class ApiError extends Error {}

/** Runs a document; returns {data, errors} (field errors beside the data), or throws an
 * ApiError with a message a person can act on when nothing ran. */
export async function gql(query, variables = {}) {
  let response;
  try {
    response = await fetch(ENDPOINT, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/graphql-response+json, application/json",
        "X-CSRF-Token": session.csrf,
      },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError("The server cannot be reached. Check the connection and try again.");
  }
  if (response.status === 401) {
    const next = encodeURIComponent(location.pathname + location.search);
    if (!session.signingOut) location.assign(`/console/sign-in?next=${next}&ended=1`);
    throw new ApiError("Your session ended. Sign in again to go on.");
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const errors = (body && Array.isArray(body.errors) && body.errors) || [];
  if (!body || body.data === undefined || body.data === null) {
    const first = errors[0];
    let message = first ? sentence(first.message) : `The server answered ${response.status}.`;
    const retry = first && first.extensions && first.extensions.retryAfter;
    if (response.status === 429 && retry) message += ` Try again in ${retry} s.`;
    if (response.status === 503) message = "The data store is not answering. Try again shortly.";
    throw new ApiError(message);
  }
  return { data: body.data, errors };
}

/** A message of the API's as the page says it: the API's words, from a capital letter
 * ("acknowledged at …" reads "Acknowledged at …"). */
export function sentence(message) {
  const text = message === null || message === undefined ? "" : String(message);
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The field names the API refused to this role (null, with a Forbidden error). */
export function refusedFields(errors) {
  const refused = new Set();
  for (const error of errors) {
    if (error.extensions && error.extensions.code === "Forbidden" && error.path) {
      const last = [...error.path].reverse().find((part) => typeof part === "string");
      if (last) refused.add(last);
    }
  }
  return refused;
}

/** Field errors other than refusals: worth telling the person. */
export function otherErrors(errors) {
  return errors.filter((e) => !(e.extensions && e.extensions.code === "Forbidden"));
}

/** The first expected error of a mutation's typed result, or null. */
export function resultError(result) {
  if (!result) return "No answer.";
  if (typeof result.__typename === "string" && result.__typename.endsWith("Error")) {
    return sentence(result.message || result.__typename);
  }
  return null;
}
