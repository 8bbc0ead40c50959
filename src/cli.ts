// The command line: parses argv with commander and dispatches to commands/.
// Flags override the environment; every flag has the environment variable
// named in its help.
import { Command, CommanderError, Option } from "commander";
import { checkCommand } from "./commands/check.ts";
import type { CommandContext } from "./commands/context.ts";
import { demoCommand } from "./commands/demo.ts";
import { drainCommand } from "./commands/drain.ts";
import { forgetCommand } from "./commands/forget.ts";
import { keygenCommand } from "./commands/keygen.ts";
import { maskCommand } from "./commands/mask.ts";
import { migrateCommand } from "./commands/migrate.ts";
import { produceCommand } from "./commands/produce.ts";
import { rekeyCommand } from "./commands/rekey.ts";
import { runCommand } from "./commands/run.ts";
import { unmaskCommand } from "./commands/unmask.ts";
import { vaultGrantsCommand } from "./commands/vaultGrants.ts";
import { vaultKeygenCommand } from "./commands/vaultKeygen.ts";
import { COMMAND_SETTINGS, SETTINGS, type SettingName } from "./config.ts";
import { EtlError } from "./errors.ts";

function withSettings(command: Command, names: readonly SettingName[]): Command {
  for (const name of names) {
    const s = SETTINGS[name];
    const flag = `--${s.flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} <value>`;
    command.addOption(new Option(flag, `${s.expected} [env ${s.env}]`));
  }
  return command;
}

const keyringOption = () =>
  new Option("--keyring-file <path>", "masking keyring file [env PII_KEYRING_FILE; or PII_KEYRING]");

const vaultKeyOption = () =>
  new Option(
    "--vault-public-key-file <path>",
    "recovery public key: seal each value in the PII vault [env PII_VAULT_PUBLIC_KEY_FILE; or PII_VAULT_PUBLIC_KEY]",
  );

export async function runCli(argv: string[], ctx: CommandContext): Promise<number> {
  let exitCode = 0;
  const program = new Command("login-etl")
    .description(
      "Loads user-login events from SQS into PostgreSQL, with ip and device_id masked by keyed pseudonyms.",
    )
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
    })
    .showHelpAfterError("(run `login-etl --help` for usage)");

  const action =
    (fn: (...args: never[]) => Promise<number>) =>
    async (...args: unknown[]) => {
      exitCode = await (fn as (...a: unknown[]) => Promise<number>)(...args);
    };

  withSettings(
    program.command("run").description("consume until SIGTERM/SIGINT; serves /livez, /readyz, /metrics"),
    COMMAND_SETTINGS.run,
  )
    .addOption(keyringOption())
    .addOption(vaultKeyOption())
    .action(action((opts: Record<string, unknown>) => runCommand(ctx, opts)));

  withSettings(
    program.command("drain").description("consume until the queue is empty, print a summary, exit 0"),
    COMMAND_SETTINGS.drain,
  )
    .addOption(keyringOption())
    .addOption(vaultKeyOption())
    .option("--json", "print the summary as one JSON object on the last stdout line")
    .option("--no-progress", "no progress bar or progress lines")
    .action(action((opts: Record<string, unknown>) => drainCommand(ctx, opts)));

  program
    .command("demo")
    .description(
      "the whole pipeline on an embedded PostgreSQL and SQS endpoint, with sample data (what `npm start` runs)",
    )
    .option("--keep", "keep the embedded stack running afterwards, and print how to connect")
    .action(action((opts: Record<string, unknown>) => demoCommand(ctx, opts)));

  withSettings(
    program.command("migrate").description("apply the database migrations"),
    COMMAND_SETTINGS.migrate,
  ).action(action((opts: Record<string, unknown>) => migrateCommand(ctx, opts)));

  withSettings(
    program
      .command("check")
      .description("validate configuration, reach SQS and PostgreSQL, inspect queue and table"),
    COMMAND_SETTINGS.check,
  )
    .addOption(keyringOption())
    .addOption(vaultKeyOption())
    .action(action((opts: Record<string, unknown>) => checkCommand(ctx, opts)));

  withSettings(
    program.command("produce").description("send synthetic login events to the queue"),
    COMMAND_SETTINGS.produce,
  )
    .requiredOption("--count <n>", "how many messages")
    .option("--duplicate-ratio <r>", "share of events reusing an earlier ip and device_id (0..1)", "0.1")
    .option("--malformed-ratio <r>", "share of malformed bodies (0..1)", "0")
    .option("--seed <n>", "random seed, to repeat a run exactly")
    .option("--concurrency <n>", "SendMessageBatch calls in flight", "8")
    .action(action((opts: Record<string, unknown>) => produceCommand(ctx, opts)));

  program
    .command("mask")
    .description("print the pseudonym of one value, to find its rows")
    .requiredOption("--field <field>", "ip or device_id")
    .addOption(keyringOption())
    .argument("<value>", "the raw value")
    .action(
      action((value: string, opts: Record<string, unknown>) =>
        maskCommand(ctx, String(opts.field), value, opts),
      ),
    );

  program
    .command("keygen")
    .description(
      "print a new keyring with one random key (store it as a secret; point PII_KEYRING_FILE at it)",
    )
    .option("--kid <kid>", "key id, [a-z0-9-]{1,16}", "k1")
    .option("--out <file>", "write it to this new file, mode 600, instead of stdout")
    .action(action((opts: { kid: string; out?: string }) => keygenCommand(ctx, opts.kid, opts.out)));

  registerVaultCommands(program, action, ctx);

  try {
    await program.parseAsync(argv, { from: "user" });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has already printed its message; help and version exit 0.
      if (err.exitCode === 0) return 0;
      throw new EtlError("USAGE_INVALID", "", { context: { printed: true } });
    }
    throw err;
  }
}

const privateKeyOption = () =>
  new Option(
    "--private-key-file <path>",
    "the recovery private key (vault-keygen --out) [env PII_VAULT_PRIVATE_KEY_FILE]",
  );

type Action = (fn: (...args: never[]) => Promise<number>) => (...args: unknown[]) => Promise<void>;

/** The PII vault's commands (§3b): the privacy officer's, never the loader's. */
function registerVaultCommands(program: Command, action: Action, ctx: CommandContext): void {
  program
    .command("vault-keygen")
    .description("make a recovery key pair: private key to --out (mode 0600), public key printed")
    .requiredOption("--out <file>", "where to write the private key (must not exist)")
    .option("--kid <kid>", "recovery key id, [a-z0-9-]{1,16}", "rk1")
    .action(action((opts: { out: string; kid: string }) => vaultKeygenCommand(ctx, opts.out, opts.kid)));

  program
    .command("vault-grants")
    .description(
      "print the SQL that grants the loader, analyst and privacy officer roles their share of the vault",
    )
    .requiredOption("--loader <role>", "the role of run and drain")
    .requiredOption("--analyst <role>", "the role that reads user_logins")
    .requiredOption("--officer <role>", "the privacy officer's role (unmask, forget, rekey)")
    .option("--db-schema <schema>", "schema of the tables [env LOGIN_ETL_DB_SCHEMA]")
    .action(action((opts: Record<string, unknown>) => vaultGrantsCommand(ctx, opts)));

  withSettings(
    program
      .command("unmask")
      .description("print the values behind pseudonyms from the vault; audited before anything is shown")
      .requiredOption("--field <field>", "ip or device_id")
      .requiredOption("--reason <text>", "why (recorded in the audit table)")
      .addOption(privateKeyOption())
      .option("--json", "print one JSON array of {field, pseudonym, value}")
      .argument("<pseudonym...>", "the pseudonyms, or - to read them from stdin, one a line"),
    COMMAND_SETTINGS.unmask,
  ).action(
    action((pseudonyms: string[], opts: Record<string, unknown>) => unmaskCommand(ctx, pseudonyms, opts)),
  );

  withSettings(
    program
      .command("forget")
      .description("delete the vault entry of a value (crypto-erasure) and audit it")
      .requiredOption("--field <field>", "ip or device_id")
      .option("--pseudonym <p>", "the pseudonym to forget, instead of VALUE")
      .option("--reason <text>", "why (recorded in the audit table)")
      .addOption(keyringOption())
      .option("--json", "print the result as one JSON object")
      .argument("[value]", "the raw value (needs the keyring to find its pseudonyms)"),
    COMMAND_SETTINGS.forget,
  ).action(
    action((value: string | undefined, opts: Record<string, unknown>) => forgetCommand(ctx, value, opts)),
  );

  withSettings(
    program
      .command("rekey")
      .description("move rows and vault entries under older kids to the keyring's primary, through the vault")
      .addOption(keyringOption())
      .addOption(privateKeyOption())
      .option("--batch-size <n>", "vault entries per transaction", "500")
      .option("--json", "print the summary as one JSON object"),
    COMMAND_SETTINGS.rekey,
  ).action(action((opts: Record<string, unknown>) => rekeyCommand(ctx, opts)));
}
