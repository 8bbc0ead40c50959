// `npm run package:lambda`: bundles src/lambda/handler.ts and its dependencies
// (pg, the AWS SDK's SQS client, pino, zod) into one ES module,
// dist/lambda/index.mjs, for the nodejs22.x runtime (handler `index.handler`).
// TypeScript is compiled by esbuild, so the function does not depend on the
// runtime's type stripping. deploy/lambda/template.yaml points its CodeUri here.
import { mkdirSync, rmSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("../../", import.meta.url));
export const OUT_DIR = `${root}dist/lambda`;

export async function packageLambda(outDir = OUT_DIR): Promise<string> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const outfile = `${outDir}/index.mjs`;
  await build({
    entryPoints: [`${root}src/lambda/handler.ts`],
    outfile,
    bundle: true,
    platform: "node",
    target: "node22",
    format: "esm",
    // CommonJS dependencies (pg, pino) call require() for Node built-ins.
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    // pg loads pg-native only when asked to; it is not installed.
    external: ["pg-native"],
    legalComments: "linked",
    logLevel: "warning",
  });
  return outfile;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const outfile = await packageLambda();
  process.stdout.write(
    `${outfile} (${Math.round(statSync(outfile).size / 1024)} KiB): deploy with \`sam deploy --template-file deploy/lambda/template.yaml\`, or zip dist/lambda for \`aws lambda update-function-code\`\n`,
  );
}
