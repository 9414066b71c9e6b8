// Shared by the tests (not a test file itself): the server under test and management calls on it.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";

export const url = process.env.ENTITLE_URL;
export const token = process.env.ENTITLE_TOKEN;
assert.ok(url && token, "ENTITLE_URL and ENTITLE_TOKEN must be set");

export async function admin(query, variables = {}) {
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

export async function newTenant() {
  const key = `js-${randomUUID().slice(0, 12)}`;
  await admin("mutation($k: String!) { upsertTenants(input: [{key: $k}]) { errors { index } } }", { k: key });
  return key;
}

export async function grant(tenantKey, featureKey, value = null) {
  await admin("mutation($i: CreateEntitlementInput!) { createEntitlement(input: $i) { id } }", {
    i: { tenantKey, featureKey, value, startDate: "2020-01-01T00:00:00Z" },
  });
}

export function timeout(ms, message) {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(message)), ms).unref());
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
