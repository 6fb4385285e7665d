// The GraphQL-over-HTTP server audit of graphql-http against a live c360:
//   node graphql-http-audit.mjs URL   (the API key in C360_AUDIT_KEY)
// Every request carries the key, since /graphql answers 401 without one. Prints one JSON
// object per audit: {"id", "name", "status": "ok" | "notice" | "warn" | "error", "reason"}.
import { auditServer } from "graphql-http";

const [url] = process.argv.slice(2);
const key = process.env.C360_AUDIT_KEY;
if (!url || !key) {
  console.error("usage: C360_AUDIT_KEY=c360_… node graphql-http-audit.mjs http://host:port/graphql");
  process.exit(2);
}

function keyed(input, init = {}) {
  const headers = new Headers(init.headers ?? {});
  headers.set("authorization", `Bearer ${key}`);
  return fetch(input, { ...init, headers });
}

const results = await auditServer({ url, fetchFn: keyed });
for (const result of results) {
  const { id, name, status } = result;
  const reason = result.reason ?? null;
  console.log(JSON.stringify({ id, name, status, reason }));
}
