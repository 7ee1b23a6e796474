// A real Better Auth server (email + password, JWT plugin, bearer plugin) on PostgreSQL,
// started by the Rust test suite (tests/api/external/better_auth.rs) as the external
// issuer. It listens on a free loopback port first, so that its baseURL (the iss and
// aud of its JWTs) names that port, creates its tables, and then prints one line:
//   READY http://127.0.0.1:<port>
// Environment: BETTER_AUTH_DATABASE_URL (its own database: its table names collide with
// ours), BETTER_AUTH_SECRET, BETTER_AUTH_JWT_EXPIRATION (default 15m).
import http from "node:http";
import pg from "pg";
import { betterAuth } from "better-auth";
import { bearer, jwt } from "better-auth/plugins";
import { toNodeHandler } from "better-auth/node";
import { getMigrations } from "better-auth/db/migration";

const connectionString = process.env.BETTER_AUTH_DATABASE_URL;
if (!connectionString) {
  console.error("BETTER_AUTH_DATABASE_URL is not set");
  process.exit(2);
}
const server = http.createServer();
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const baseURL = `http://127.0.0.1:${server.address().port}`;

const auth = betterAuth({
  database: new pg.Pool({ connectionString }),
  secret: process.env.BETTER_AUTH_SECRET,
  baseURL,
  emailAndPassword: { enabled: true },
  telemetry: { enabled: false },
  plugins: [
    jwt({
      jwt: { expirationTime: process.env.BETTER_AUTH_JWT_EXPIRATION || "15m" },
      // Keys expire after an hour (the tests expire one by hand to rotate it) and stay
      // published for the default grace period.
      jwks: { rotationInterval: 3600 },
    }),
    bearer(),
  ],
});
const { runMigrations } = await getMigrations(auth.options);
await runMigrations();

server.on("request", toNodeHandler(auth));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
console.log(`READY ${baseURL}`);
