// A real OpenID Connect provider for the console's single sign-on tests: the certified
// `oidc-provider` package from npm (installed into target/oidc-provider/<version> by
// ./scripts/test or by the tests themselves; the module path comes in OIDC_PROVIDER_MODULE),
// on a free loopback port, with its own development login and consent pages.
//
// Protocol with the test (one JSON line each way, so the issuer can be known before Klaxon
// starts and Klaxon's callback URL before the client is registered):
//   1. prints {"issuer": "http://127.0.0.1:PORT"}
//   2. reads {"client_id", "client_secret", "redirect_uri"} from standard input
//   3. prints {"ready": true} and serves until standard input closes.
//
// Any login name is accepted with any password (the development login page); the account's
// email is the login name, verified unless the name contains "+unverified".

import http from 'node:http';
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';

const modulePath = process.env.OIDC_PROVIDER_MODULE;
if (!modulePath) {
  console.error('OIDC_PROVIDER_MODULE is not set');
  process.exit(2);
}
const { default: Provider } = await import(pathToFileURL(modulePath).href);

let handler = (_req, res) => {
  res.statusCode = 503;
  res.end('not ready');
};
const server = http.createServer((req, res) => handler(req, res));
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;
process.stdout.write(`${JSON.stringify({ issuer })}\n`);

const lines = readline.createInterface({ input: process.stdin });
lines.on('close', () => process.exit(0));
const first = await new Promise((resolve) => lines.once('line', resolve));
const client = JSON.parse(first);

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: client.client_id,
      client_secret: client.client_secret,
      redirect_uris: [client.redirect_uri],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  pkce: { required: () => true },
  cookies: { keys: ['klaxon-tests-only-cookie-key'] },
  features: { devInteractions: { enabled: true } },
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: id, email_verified: !id.includes('+unverified') };
      },
    };
  },
});
handler = provider.callback();
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
