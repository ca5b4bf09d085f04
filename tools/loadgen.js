// POST /v1/permissions load for `make bench-permissions`: autocannon (Node, one process) so the
// load costs the 2-core machine far less CPU than a Python client. Every request carries a fresh
// random query hash. Prints one JSON line with the counts and latency percentiles (ms).
//   node tools/loadgen.js URL TOKEN LICENSE_ID SECONDS CONNECTIONS
'use strict';
const autocannon = require('autocannon');
const { randomBytes } = require('node:crypto');

const [url, token, licenseId, seconds, connections] = process.argv.slice(2);
if (!connections) {
  console.error('usage: node tools/loadgen.js URL TOKEN LICENSE_ID SECONDS CONNECTIONS');
  process.exit(2);
}
const body = () => `{"license_id":${Number(licenseId)},"query_hash":"0x${randomBytes(32).toString('hex')}"}`;

autocannon({
  url: `${url}/v1/permissions`,
  method: 'POST',
  connections: Number(connections),
  duration: Number(seconds),
  headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
  requests: [{ setupRequest: (request) => ({ ...request, body: body() }) }],
}, (error, result) => {
  if (error) {
    console.error(String(error));
    process.exit(1);
  }
  const l = result.latency;
  console.log(JSON.stringify({
    ok: result['2xx'], non2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts,
    seconds: result.duration, p50_ms: l.p50, p99_ms: l.p99, max_ms: l.max, mean_ms: l.average,
  }));
});
