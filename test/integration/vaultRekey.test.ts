// `login-etl rekey` (§3b): after a rotation of the masking key, old rows and
// vault entries move to the primary kid through the vault, resumably (a
// SIGKILL mid-way, then a second run), keeping the grouping of rows exactly.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../helpers/app.ts";
import { lastJsonLine, runCli, STACK_TRACE, startCli, startRun } from "../helpers/cli.ts";
import { loginEvent, type TestStack, testStack } from "../helpers/stack.ts";
import { keyringOf, type RecoveryFiles, recoveryKeyFiles } from "../helpers/vault.ts";

let stack: TestStack;
let recovery: RecoveryFiles;

beforeAll(async () => {
  stack = await testStack("rekey");
  recovery = recoveryKeyFiles("rk1");
});
afterAll(async () => {
  await stack.close();
});

const OLD = keyringOf("k1", "k1");
const ROTATED = keyringOf("k2", "k1", "k2");

/** The partition of message_ids (except `leaveOut`) by `column`, as a comparable set of groups. */
async function partition(
  column: "masked_ip" | "masked_device_id",
  leaveOut: string[] = [],
): Promise<string[]> {
  const rows = await stack.query<{ g: string }>(
    `SELECT string_agg(message_id, ',' ORDER BY message_id) AS g FROM user_logins
      WHERE NOT (message_id = ANY($1::text[])) GROUP BY ${column}`,
    [leaveOut],
  );
  return rows.map((r) => r.g).sort();
}

async function drain(keyring: string) {
  const res = await runCli(
    ["drain", "--json"],
    stack.env({ PII_KEYRING: keyring, PII_VAULT_PUBLIC_KEY: recovery.publicJson }),
  );
  expect(res.code, res.stderr).toBe(0);
}

describe("rekey", () => {
  it("moves every row with a vaulted value to the primary kid, resumably, keeping both partitions", async () => {
    await stack.freshQueues();
    // Under k1: 80 events over 40 addresses and 25 devices; one address will be forgotten.
    await stack.send(
      Array.from({ length: 80 }, (_, i) =>
        loginEvent({ ip: `10.1.${i % 40}.${i % 7}`, device_id: `dev-${i % 25}` }),
      ),
    );
    await drain(OLD);
    // Rotation: new rows go in under k2 (new values, so the partition is unchanged by rekey).
    await stack.send(
      Array.from({ length: 10 }, (_, i) => loginEvent({ ip: `192.0.2.${i}`, device_id: `new-dev-${i}` })),
    );
    await drain(ROTATED);
    const forgottenIp = "10.1.3.3";
    const forgotten = await runCli(
      ["forget", "--field", "ip", forgottenIp],
      stack.env({ PII_KEYRING: ROTATED }),
    );
    expect(forgotten.code).toBe(0);
    const forgottenRows = Number(/^(\d+) row/m.exec(forgotten.stdout)?.[1]);
    expect(forgottenRows).toBeGreaterThan(0);

    const before = { ip: await partition("masked_ip"), device: await partition("masked_device_id") };
    const officer = stack.env({ PII_KEYRING: ROTATED, PII_VAULT_PRIVATE_KEY_FILE: recovery.privateFile });

    // A first run killed once it has committed some batches.
    const first = startCli(["rekey", "--batch-size", "1"], officer);
    await eventually(
      () =>
        stack.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM user_logins WHERE masked_ip LIKE 'h1.k2.%'",
        ),
      (rows) => (rows[0]?.n ?? 0) > 10,
    );
    first.child.kill("SIGKILL");
    await first.done;

    // A loader runs beside the second rekey, under the new primary: new values, and one old value
    // whose new pseudonym the loader and rekey both vault.
    const loader = await startRun(
      stack.env({
        PII_KEYRING: ROTATED,
        PII_VAULT_PUBLIC_KEY: recovery.publicJson,
        LOGIN_ETL_WAIT_TIME_SECONDS: "1",
      }),
    );
    const second = startCli(["rekey", "--json", "--batch-size", "7"], officer);
    const during = await stack.send([
      ...Array.from({ length: 10 }, (_, i) =>
        loginEvent({ ip: `198.51.100.${i}`, device_id: `beside-${i}` }),
      ),
      loginEvent({ ip: "10.1.5.5", device_id: "beside-old" }),
    ]);
    const res = await second.done;
    expect(res.stderr).not.toMatch(STACK_TRACE);
    expect(res.code, res.stderr).toBe(0);
    await eventually(
      () =>
        stack.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM user_logins WHERE message_id = ANY($1::text[])",
          [during],
        ),
      (rows) => rows[0]?.n === during.length,
    );
    loader.child.kill("SIGTERM");
    expect((await loader.done).code).toBe(0);
    // Counted once the loader has settled.
    const again0 = await runCli(["rekey", "--json"], officer);
    expect(again0.code, again0.stderr).toBe(0);
    expect(lastJsonLine(res.stdout)).toMatchObject({
      primary: "k2",
      rows_left_device_id: 0,
    });

    const notPrimary = await stack.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM user_logins WHERE masked_ip NOT LIKE 'h1.k2.%' OR masked_device_id NOT LIKE 'h1.k2.%'",
    );
    expect(notPrimary[0]?.n).toBe(forgottenRows);
    expect(lastJsonLine(again0.stdout)).toMatchObject({
      rows_left_ip: forgottenRows,
      rows_left_device_id: 0,
    });
    expect(await partition("masked_ip", during)).toEqual(before.ip);
    expect(await partition("masked_device_id", during)).toEqual(before.device);
    // The loader's row of an old value joined that value's rekeyed rows.
    const sameGroup = await stack.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM user_logins WHERE masked_ip = (SELECT masked_ip FROM user_logins WHERE message_id = $1)",
      [during[10]],
    );
    expect(sameGroup[0]?.n).toBeGreaterThan(1);
    const oldEntries = await stack.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM login_etl_vault_entries WHERE pseudonym NOT LIKE 'h1.k2.%'",
    );
    expect(oldEntries[0]?.n).toBe(0);

    // The moved entries open under their new pseudonyms.
    const pseudonym = (
      await runCli(["mask", "--field", "ip", "10.1.5.5"], stack.env({ PII_KEYRING: ROTATED }))
    ).stdout.trim();
    expect(pseudonym).toMatch(/^h1\.k2\./);
    const unmask = await runCli(["unmask", "--field", "ip", "--reason", "check rekey", pseudonym], officer);
    expect(unmask.stdout).toBe("10.1.5.5\n");

    // Nothing left to do: a third run moves nothing.
    const again = await runCli(["rekey", "--json"], officer);
    expect(lastJsonLine(again.stdout)).toMatchObject({ entries_moved: 0, rows_moved: 0 });
  });
});
