// PII never leaks (non-negotiable 4): canary values sent through every path —
// valid rows, every rejection, and a database failure mid-run — must not show
// up in logs (at the most verbose level), metrics, dead-letter attributes, or
// any table — the PII vault's too (sealed values, data keys, audit rows of an
// unmask and a forget), checked as text and as raw bytes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalBytes } from "../../src/transform/mask.ts";
import { eventually } from "../helpers/app.ts";
import { runCli, startRun } from "../helpers/cli.ts";
import { loginEvent, type TestStack, testStack } from "../helpers/stack.ts";
import { type RecoveryFiles, recoveryKeyFiles } from "../helpers/vault.ts";

const CANARY_IP = "198.51.100.203";
const CANARY_IP6 = "2001:db8:cafe::beef";
const CANARY_DEVICE = "canary-dev-31337";
const CANARIES = [CANARY_IP, CANARY_IP6, "2001:db8:cafe", CANARY_DEVICE, "31337"];

let stack: TestStack;
let recovery: RecoveryFiles;

/** Buffers (bytea) as their hex and latin1 text, so that raw canonical bytes would show. */
const asText = (_: string, v: unknown) =>
  v && typeof v === "object" && (v as { type?: string }).type === "Buffer"
    ? (() => {
        const b = Buffer.from((v as { data: number[] }).data);
        return `${b.toString("hex")} ${b.toString("latin1")}`;
      })()
    : v;

beforeAll(async () => {
  stack = await testStack("noplain");
  recovery = recoveryKeyFiles("rk1");
  await stack.freshQueues();
});
afterAll(async () => {
  await stack.close();
});

describe("canary PII", () => {
  it("appears in no log line, metric, dead-letter attribute or table, even across a database failure", async () => {
    await runCli(["migrate"], stack.env());
    const { child, done, base } = await startRun(
      stack.env({
        LOGIN_ETL_LOG_LEVEL: "trace",
        LOGIN_ETL_WAIT_TIME_SECONDS: "1",
        PII_VAULT_PUBLIC_KEY: recovery.publicJson,
      }),
    );
    // The table goes away: the valid canaries fail to write and are retried, with warnings logged.
    await stack.query("ALTER TABLE user_logins RENAME TO user_logins_away");
    const valid = [
      loginEvent({ ip: CANARY_IP, device_id: CANARY_DEVICE }),
      loginEvent({ ip: ` ::ffff:${CANARY_IP} `, device_id: ` ${CANARY_DEVICE} ` }),
      loginEvent({ ip: CANARY_IP6, device_id: CANARY_DEVICE }),
    ];
    const invalid = [
      `${CANARY_IP} ${CANARY_DEVICE} not json`,
      JSON.stringify([CANARY_IP, CANARY_DEVICE]),
      JSON.stringify({ ip: CANARY_IP, device_id: CANARY_DEVICE }),
      loginEvent({ ip: `${CANARY_IP}:8080`, device_id: CANARY_DEVICE }),
      loginEvent({ ip: CANARY_IP, device_id: `${CANARY_DEVICE}\u0007` }),
      loginEvent({ ip: CANARY_IP, device_id: CANARY_DEVICE, user_id: CANARY_DEVICE.repeat(20) }),
      loginEvent({ ip: CANARY_IP, device_id: CANARY_DEVICE, locale: CANARY_DEVICE.repeat(3) }),
      loginEvent({ ip: CANARY_IP, device_id: CANARY_DEVICE, app_version: CANARY_IP }),
      `{"ip": "${CANARY_IP}", "device_id": "${CANARY_DEVICE}", "pad": "${"x".repeat(17_000)}"}`,
    ];
    await stack.send([...valid, ...invalid]);
    await eventually(
      () => fetch(`${base}/metrics`).then((r) => r.text()),
      (text) => /login_etl_errors_total\{stage="writing"[^}]*\} [2-9]/.test(text),
    );
    await stack.query("ALTER TABLE user_logins_away RENAME TO user_logins");
    await eventually(
      () => stack.query("SELECT count(*)::int AS n FROM user_logins"),
      (rows) => (rows[0] as { n: number }).n === valid.length,
    );
    const metrics = await fetch(`${base}/metrics`).then((r) => r.text());
    child.kill("SIGTERM");
    const res = await done;
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(/batch write failed/);
    // Each failed batch write has its warning and its count in errors_total, under the same stage and code.
    const retries = res.stderr
      .split("\n")
      .filter((line) => line.startsWith("{") && line.includes('"batch write failed; retrying"'))
      .map((line) => JSON.parse(line) as { code: string; stage: string });
    expect(retries.length).toBeGreaterThanOrEqual(2);
    const logged: Record<string, number> = {};
    for (const { code, stage } of retries) logged[`${stage}/${code}`] = (logged[`${stage}/${code}`] ?? 0) + 1;
    const counted: Record<string, number> = {};
    for (const [, labels, value] of metrics.matchAll(/^login_etl_errors_total\{([^}]*)\} (\d+)$/gm)) {
      const stage = /stage="([^"]*)"/.exec(labels ?? "")?.[1];
      const code = /code="([^"]*)"/.exec(labels ?? "")?.[1];
      if (stage === "writing") counted[`${stage}/${code}`] = Number(value);
    }
    expect(counted).toEqual(logged);
    // The privacy officer's trail: an unmask (its output is the value, by design) and a forget.
    const officer = stack.env({
      LOGIN_ETL_LOG_LEVEL: "trace",
      PII_VAULT_PRIVATE_KEY_FILE: recovery.privateFile,
    });
    const pseudonym = (
      await runCli(["mask", "--field", "device_id", CANARY_DEVICE], stack.env())
    ).stdout.trim();
    const unmask = await runCli(
      ["unmask", "--field", "device_id", "--reason", "canary check", pseudonym],
      officer,
    );
    expect(unmask.stdout).toBe(`${CANARY_DEVICE}\n`);
    const forget = await runCli(["forget", "--field", "ip", CANARY_IP6], officer);
    expect(forget.code).toBe(0);
    expect((await stack.query("SELECT 1 FROM login_etl_vault_audit")).length).toBe(2);
    // ip (v4, v6: one forgotten) and device_id: the sealed entries are there to be checked.
    expect((await stack.query("SELECT 1 FROM login_etl_vault_entries")).length).toBe(2);
    const dead = await stack.receiveAll(stack.dlqUrl);
    expect(dead).toHaveLength(invalid.length);
    const tables = await stack.query<{ name: string }>(
      "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()",
    );
    const rows: unknown[] = [];
    for (const { name } of tables) rows.push(...(await stack.query(`SELECT * FROM "${name}"`)));
    const places: Record<string, string> = {
      stdout: res.stdout,
      stderr: res.stderr,
      metrics,
      "dead-letter attributes": JSON.stringify(dead.map((m) => m.MessageAttributes)),
      tables: JSON.stringify(rows, asText),
      "unmask and forget stderr": unmask.stderr + forget.stderr,
      "forget stdout": forget.stdout,
    };
    // The canonical bytes (§3) the vault seals, as hex: they must not show unsealed either.
    const canonical = [
      canonicalBytes("ip", CANARY_IP),
      canonicalBytes("ip", CANARY_IP6),
      canonicalBytes("device_id", CANARY_DEVICE),
    ].map((b) => (b as Buffer).toString("hex"));
    for (const [place, text] of Object.entries(places)) {
      for (const canary of [...CANARIES, ...canonical])
        expect(text.includes(canary), `${canary} in ${place}`).toBe(false);
    }
  });
});
