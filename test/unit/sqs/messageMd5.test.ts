// The MD5OfBody check of received messages (used on plain HTTP only).
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { BodyChecksumError, verifyBodyMd5 } from "../../../src/sqs/messageMd5.ts";

const md5 = (s: string) => createHash("md5").update(s, "utf8").digest("hex");

describe("checking received bodies against MD5OfBody", () => {
  it("accepts bodies whose UTF-8 bytes hash to MD5OfBody", () => {
    const bodies = ['{"user_id":"a"}', "héllo 😀", ""];
    expect(() =>
      verifyBodyMd5(bodies.map((Body, i) => ({ MessageId: String(i), Body, MD5OfBody: md5(Body) }))),
    ).not.toThrow();
  });

  it("matches the MD5 SQS itself reported for a non-ASCII body (recorded from fauxqs)", () => {
    expect(() =>
      verifyBodyMd5([{ Body: "héllo", MD5OfBody: "be50e8478cf24ff3595bc7307fb91b50" }]),
    ).not.toThrow();
  });

  it("refuses a body changed on the way, naming only the message id", () => {
    const run = () =>
      verifyBodyMd5([
        { MessageId: "m-1", Body: '{"ip":"203.0.113.9"}', MD5OfBody: md5('{"ip":"203.0.113.8"}') },
      ]);
    expect(run).toThrow(BodyChecksumError);
    expect(run).toThrow(/m-1/);
    expect(run).not.toThrow(/203\.0\.113/);
  });

  it("skips messages that carry no MD5OfBody", () => {
    expect(() => verifyBodyMd5([{ MessageId: "x", Body: "b" }])).not.toThrow();
  });
});
