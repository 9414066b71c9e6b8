// The graphql-http audit (GraphQL-over-HTTP spec conformance) against a real entitle serve.
//
//   node audit.mjs <graphql url, e.g. http://127.0.0.1:8000/graphql> <api key>
//
// Prints one JSON line {ok, counts, problems}: problems are every audit that did not pass, with its
// id, name, status (error/warn) and reason. Exits 1 when there is any error or warning.
import { auditServer } from "graphql-http";

const [url, apiKey] = process.argv.slice(2);
if (!url || !apiKey) {
  console.error("usage: node audit.mjs GRAPHQL_URL API_KEY");
  process.exit(2);
}
const authorized = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${apiKey}`);
  return fetch(input, { ...init, headers });
};
const results = await auditServer({ url, fetchFn: authorized });
const counts = { ok: 0, warn: 0, error: 0 };
const problems = [];
for (const result of results) {
  counts[result.status] += 1;
  if (result.status !== "ok") {
    problems.push({ id: result.id, name: result.name, status: result.status, reason: result.reason });
  }
}
console.log(JSON.stringify({ ok: counts.warn === 0 && counts.error === 0, counts, problems }));
process.exit(counts.warn === 0 && counts.error === 0 ? 0 : 1);
