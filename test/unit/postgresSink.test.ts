import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { copyPayload } from "../../src/postgres/postgresSink.ts";
import type { LoginRow } from "../../src/transform/toRow.ts";
import { VALID_ROW } from "./fixtures.ts";

const ROW: LoginRow = { ...VALID_ROW, message_id: "m-1", user_id: "u-1" };

const COLUMNS = Object.keys(ROW) as Array<Exclude<keyof LoginRow, symbol>>;

/** PostgreSQL's reading of COPY text format (the escapes copyPayload may produce). */
function readCopyText(payload: string): Array<Array<string | null>> {
  expect(payload.endsWith("\n") || payload === "").toBe(true);
  return payload
    .split("\n")
    .slice(0, -1)
    .map((line) =>
      line
        .split("\t")
        .map((field) =>
          field === "\\N"
            ? null
            : field.replace(/\\(.)/g, (_, c: string) => ({ t: "\t", n: "\n", r: "\r", "\\": "\\" })[c] ?? c),
        ),
    );
}

describe("copyPayload", () => {
  it("writes one tab-separated line per row, columns in the order of the COPY statement", () => {
    expect(copyPayload([ROW])).toBe(
      "m-1\tu-1\tandroid\th1.k1.nXTkOBR7Ozxh45c45aeQBj6hAHm3OgR9H2-KfzLX1kw\t" +
        "h1.k1.Hc274JsXYMkmiwoGMheEjnFyLzBvfGxqmXcCudCCgbI\tRU\t20300\t2.3.0\t2024-05-17\n",
    );
  });

  it("writes nothing for no rows", () => {
    expect(copyPayload([])).toBe("");
  });

  it("writes \\N for a null locale and a null app_version", () => {
    const line = copyPayload([{ ...ROW, locale: null, app_version: null }]);
    expect(line.split("\t")[5]).toBe("\\N");
    expect(line.split("\t")[6]).toBe("\\N");
  });

  it("escapes backslash, tab, newline and carriage return", () => {
    const line = copyPayload([{ ...ROW, user_id: "a\\b\tc\nd\re", device_type: "\\N", locale: "" }]);
    const fields = line.slice(0, -1).split("\t");
    expect(fields).toHaveLength(9);
    expect(fields[1]).toBe("a\\\\b\\tc\\nd\\re");
    expect(fields[2]).toBe("\\\\N");
    expect(fields[5]).toBe("");
  });

  it("cannot be ended early by an end-of-data marker in a value", () => {
    const payload = copyPayload([{ ...ROW, user_id: "\n\\.\n" }, ROW]);
    expect(payload.split("\n")).not.toContain("\\.");
    expect(readCopyText(payload)).toHaveLength(2);
  });

  it("round-trips arbitrary text through PostgreSQL's reading of the COPY text format", () => {
    const text = fc.string({ unit: "grapheme", maxLength: 40 }).map((s) => s.replaceAll("\u0000", ""));
    const tricky = fc
      .array(fc.constantFrom("\\", "\t", "\n", "\r", "\\N", "N", "\\.", "."), { maxLength: 8 })
      .map((a) => a.join(""));
    const row = fc.record({
      message_id: fc.string({ minLength: 1, maxLength: 20 }).map((s) => s.replaceAll("\u0000", "")),
      user_id: fc.oneof(text, tricky),
      device_type: fc.oneof(text, tricky),
      masked_ip: fc.constant(ROW.masked_ip),
      masked_device_id: fc.constant(ROW.masked_device_id),
      locale: fc.option(fc.oneof(text, tricky)),
      app_version: fc.option(fc.integer({ min: 0, max: 999999 })),
      app_version_text: fc.constantFrom("2.3.0", "0.96", "7"),
      create_date: fc.constant("2024-05-17"),
    });
    fc.assert(
      fc.property(fc.array(row, { maxLength: 5 }), (rows) => {
        const read = readCopyText(copyPayload(rows));
        expect(read).toEqual(rows.map((r) => COLUMNS.map((c) => (r[c] === null ? null : String(r[c])))));
      }),
      { numRuns: 500 },
    );
  });
});
