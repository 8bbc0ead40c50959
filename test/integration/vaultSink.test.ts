// The sink with the vault on (§3b): a batch's sealed entries are committed in
// the same transaction as its rows, on the COPY path and on the INSERT … ON
// CONFLICT path alike: both or neither.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/ops/logger.ts";
import { migrate } from "../../src/postgres/migrations.ts";
import { createPool } from "../../src/postgres/postgresPool.ts";
import { createPostgresSink } from "../../src/postgres/postgresSink.ts";
import { parseKeyring } from "../../src/transform/keyring.ts";
import { createMasker } from "../../src/transform/mask.ts";
import { type LoginRow, toRow } from "../../src/transform/toRow.ts";
import { parsePublicKey } from "../../src/vault/keys.ts";
import { createSealer } from "../../src/vault/sealer.ts";
import { createVaultWriter } from "../../src/vault/vaultWriter.ts";
import { TEST_KEYRING, type TestStack, testStack } from "../helpers/stack.ts";
import { recoveryKeyFiles } from "../helpers/vault.ts";
import { validated } from "../unit/fixtures.ts";

let stack: TestStack;
let pool: ReturnType<typeof createPool>;

beforeAll(async () => {
  stack = await testStack("vsink");
  pool = createPool(
    { databaseUrl: stack.databaseUrl, schema: stack.schema, poolSize: 2 },
    createLogger("silent"),
  );
  await migrate(pool, stack.schema);
});
afterAll(async () => {
  await pool.end();
  await stack.close();
});

function rows(ids: string[], ip: (i: number) => string): LoginRow[] {
  const parsed = parseKeyring(TEST_KEYRING);
  if (!("keyring" in parsed)) throw new Error("test keyring");
  const masker = createMasker(parsed.keyring);
  const event = { user_id: "u", device_type: "ios", locale: null, app_version: "1.0" };
  return ids.map((id, i) =>
    toRow(validated({ ...event, ip: ip(i), device_id: `sink-dev-${i % 2}` }), id, Date.now(), masker, true),
  );
}

function vaultSink() {
  const pub = parsePublicKey(recoveryKeyFiles().publicJson);
  if (!("key" in pub)) throw new Error("test public key");
  return createPostgresSink(pool, createVaultWriter(createSealer(pub.key)));
}

const count = async (table: string) =>
  (await stack.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`))[0]?.n;

describe("the sink with the vault on", () => {
  it("commits neither rows nor entries when the vault insert fails, and both once it works", async () => {
    const sink = vaultSink();
    const batch = rows(["a1", "a2", "a3"], (i) => `172.16.0.${i}`);
    await stack.query("ALTER TABLE login_etl_vault_entries RENAME TO entries_away");
    try {
      await expect(sink.write(batch)).rejects.toThrow();
      expect(await count("user_logins")).toBe(0);
      expect(await count("entries_away")).toBe(0);
    } finally {
      await stack.query("ALTER TABLE entries_away RENAME TO login_etl_vault_entries");
    }
    expect(await sink.write(batch)).toEqual({ inserted: 3, duplicates: 0 });
    expect(await count("user_logins")).toBe(3);
    expect(await count("login_etl_vault_entries")).toBe(5);
  });

  it("vaults new pseudonyms on the ON CONFLICT path too, without a second entry for known ones", async () => {
    // A new process (empty cache): a redelivered row plus a new one.
    const sink = vaultSink();
    const batch = [...rows(["a1"], () => "172.16.0.0"), ...rows(["b1"], () => "172.16.9.9")];
    expect(await sink.write(batch)).toEqual({ inserted: 1, duplicates: 1 });
    expect(await count("login_etl_vault_entries WHERE field = 'ip'")).toBe(4);
    expect(await count("login_etl_vault_entries WHERE field = 'device_id'")).toBe(2);
  });
});
