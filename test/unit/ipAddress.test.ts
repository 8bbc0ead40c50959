import { isIPv4 } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalIpBytes, parseIPv4, parseIPv6 } from "../../src/transform/ipAddress.ts";

const hex = (b: Buffer | null) => (b === null ? null : b.toString("hex"));

/** The 16 bytes of an address in the WHATWG URL parser's serialisation ("[1:0:…::2]"), or null. */
function urlBytes(address: string): string | null {
  let host: string;
  try {
    host = new URL(`http://[${address}]`).hostname;
  } catch {
    return null;
  }
  const inner = host.slice(1, -1);
  const gap = inner.indexOf("::");
  const side = (s: string) => (s === "" ? [] : s.split(":"));
  const left = side(gap === -1 ? inner : inner.slice(0, gap));
  const right = gap === -1 ? [] : side(inner.slice(gap + 2));
  const zeros = gap === -1 ? 0 : 8 - left.length - right.length;
  const groups = [...left, ...new Array<string>(zeros).fill("0"), ...right];
  return groups.map((g) => g.padStart(4, "0")).join("");
}

/** Renders 8 groups in a random RFC 4291 §2.2 text form: leading zeros, case, "::", embedded IPv4. */
const ipv6Text = fc
  .record({
    groups: fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), {
      minLength: 8,
      maxLength: 8,
    }),
    pad: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 8, maxLength: 8 }),
    upper: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
    gap: fc.option(fc.tuple(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 1, max: 8 }))),
    v4: fc.boolean(),
  })
  .map(({ groups, pad, upper, gap, v4 }) => {
    const g = [...groups];
    let from = -1;
    let to = -1;
    if (gap) {
      from = Math.min(gap[0], 7);
      to = Math.min(8, from + gap[1]);
      if (v4 && to > 6) to = 6;
      if (to <= from) from = to = -1;
      for (let i = from; i < to; i++) g[i] = 0;
    }
    const bytes = Buffer.alloc(16);
    g.forEach((x, i) => {
      bytes.writeUInt16BE(x, i * 2);
    });
    const piece = (i: number) => {
      const s = (g[i] as number).toString(16).padStart((pad[i] as number) + 1, "0");
      return upper[i] ? s.toUpperCase() : s;
    };
    const count = v4 ? 6 : 8;
    const parts: string[] = [];
    for (let i = 0; i < count; i++) {
      if (i === from) parts.push("");
      if (i >= from && i < to) continue;
      parts.push(piece(i));
    }
    if (v4) parts.push(`${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`);
    let text = parts.join(":");
    if (from === 0) text = `:${text}`;
    if (to === count && !v4) text = `${text}:`;
    return { text, bytes };
  });

/** Near-addresses: soups of the tokens that make up IPv6 text, valid and not. */
const ipv6Soup = fc
  .array(
    fc.constantFrom(
      "0",
      "1",
      "a",
      "F",
      "ffff",
      "12345",
      "::",
      ":",
      ".",
      "1.2.3.4",
      "255",
      "256",
      "01",
      "0000",
      "ab:cd",
    ),
    { maxLength: 20 },
  )
  .map((t) => t.join(""));

describe("parseIPv4", () => {
  it.each([
    ["0.0.0.0", [0, 0, 0, 0]],
    ["255.255.255.255", [255, 255, 255, 255]],
    ["199.172.111.135", [199, 172, 111, 135]],
    ["10.0.100.9", [10, 0, 100, 9]],
  ])("accepts the dotted quad %s", (text, bytes) => {
    expect(parseIPv4(text)).toEqual(bytes);
  });

  it.each([
    ["a leading zero", "01.2.3.4"],
    ["a leading zero in the last part", "1.2.3.04"],
    ["a double zero", "1.2.00.4"],
    ["a part of 256", "1.2.3.256"],
    ["a part of 1000", "1000.2.3.4"],
    ["three parts", "1.2.3"],
    ["five parts", "1.2.3.4.5"],
    ["a trailing dot", "1.2.3.4."],
    ["an empty part", "1..3.4"],
    ["a port", "1.2.3.4:80"],
    ["a space inside", "1.2. 3.4"],
    ["surrounding white space (trimming is canonicalIpBytes' job)", " 1.2.3.4"],
    ["a sign", "+1.2.3.4"],
    ["hexadecimal", "0x7f.0.0.1"],
    ["a single number", "2130706433"],
    ["a prefix length", "10.0.0.0/8"],
    ["non-ASCII digits", "١.2.3.4"],
    ["the empty string", ""],
  ])("rejects %s (%s)", (_why, text) => {
    expect(parseIPv4(text)).toBeNull();
  });

  it("agrees with node:net isIPv4 and the WHATWG URL parser on generated dotted quads", () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV4Extended()), (text) => {
        const bytes = parseIPv4(text);
        expect(bytes !== null).toBe(isIPv4(text));
        if (bytes) expect(bytes.join(".")).toBe(new URL(`http://${text}`).hostname);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("parseIPv6", () => {
  it.each([
    ["the full form", "2001:0db8:0000:0000:0008:0800:200c:417a", "20010db80000000000080800200c417a"],
    [
      "the full form without leading zeros",
      "2001:db8:0:0:8:800:200c:417a",
      "20010db80000000000080800200c417a",
    ],
    ["the compressed form", "2001:db8::8:800:200c:417a", "20010db80000000000080800200c417a"],
    ["the unspecified address ::", "::", "00000000000000000000000000000000"],
    ["the loopback ::1", "::1", "00000000000000000000000000000001"],
    ["a trailing gap 1::", "1::", "00010000000000000000000000000000"],
    ["a gap standing for one group 1:2:3:4:5:6:7::", "1:2:3:4:5:6:7::", "00010002000300040005000600070000"],
    ["a leading gap standing for one group", "::1:2:3:4:5:6:7", "00000001000200030004000500060007"],
    ["an IPv4-mapped address", "::ffff:1.2.3.4", "00000000000000000000ffff01020304"],
    ["an IPv4-compatible address", "::1.2.3.4", "00000000000000000000000001020304"],
    ["an embedded IPv4 after six groups", "1:2:3:4:5:6:1.2.3.4", "00010002000300040005000601020304"],
    ["an embedded IPv4 after a gap in the middle", "1::6:1.2.3.4", "00010000000000000000000601020304"],
    ["upper-case hex", "2001:DB8::AbCd", "20010db800000000000000000000abcd"],
    ["upper-case IPv4-mapped", "::FFFF:199.172.111.135", "00000000000000000000ffffc7ac6f87"],
  ])("parses %s (%s)", (_form, text, bytes) => {
    expect(hex(parseIPv6(text))).toBe(bytes);
  });

  it.each([
    ["a zone id", "fe80::1%eth0"],
    ["a numeric zone id", "fe80::1%1"],
    ["a prefix length", "2001:db8::/64"],
    ["two gaps", "1::2::3"],
    ["a triple colon", "1:::2"],
    ["a 5-hex-digit group", "12345::1"],
    ["9 groups", "1:2:3:4:5:6:7:8:9"],
    ["7 groups without a gap", "1:2:3:4:5:6:7"],
    ["8 groups and a gap", "1:2:3:4:5:6:7:8::"],
    ["8 groups and a leading gap", "::1:2:3:4:5:6:7:8"],
    ["brackets", "[::1]"],
    ["brackets and a port", "[::1]:443"],
    ["a single leading colon", ":1:2:3:4:5:6:7"],
    ["a single trailing colon", "1:2:3:4:5:6:7:"],
    ["a leading colon before a gap", ":1::2"],
    ["an embedded IPv4 that is not last", "::1.2.3.4:1"],
    ["an embedded IPv4 before the gap", "1.2.3.4::"],
    ["an embedded IPv4 with a leading zero", "::ffff:01.2.3.4"],
    ["an embedded IPv4 with a part of 256", "::ffff:1.2.3.256"],
    ["an embedded IPv4 of three parts", "::ffff:1.2.3"],
    ["too many groups with an embedded IPv4", "1:2:3:4:5:6:7:1.2.3.4"],
    ["a bare IPv4", "1.2.3.4"],
    ["a non-hex letter", "2001:db8::g"],
    ["a space inside", "2001:db8:: 1"],
    ["surrounding white space (trimming is canonicalIpBytes' job)", " ::1"],
    ["a single colon", ":"],
    ["the empty string", ""],
    ["a dotted quad with a port inside the address", "::ffff:1.2.3.4:80"],
  ])("rejects %s (%s)", (_why, text) => {
    expect(parseIPv6(text)).toBeNull();
  });

  it("reads every generated RFC 4291 text form as its 16 bytes, as the WHATWG URL parser does", () => {
    fc.assert(
      fc.property(ipv6Text, ({ text, bytes }) => {
        expect(hex(parseIPv6(text)), text).toBe(bytes.toString("hex"));
        expect(urlBytes(text), text).toBe(bytes.toString("hex"));
      }),
      { numRuns: 3000 },
    );
  });

  it("agrees with the WHATWG URL parser on fast-check's IPv6 addresses", () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const url = urlBytes(text);
        expect(url, text).not.toBeNull();
        expect(hex(parseIPv6(text)), text).toBe(url);
      }),
      { numRuns: 2000 },
    );
  });

  it("accepts exactly what the WHATWG URL parser accepts on near-addresses, with the same bytes", () => {
    fc.assert(
      fc.property(ipv6Soup, (text) => {
        expect(hex(parseIPv6(text)), text).toBe(urlBytes(text));
      }),
      { numRuns: 5000 },
    );
  });
});

describe("canonicalIpBytes", () => {
  it("maps an IPv4 address to the 16 bytes of ::ffff:a.b.c.d", () => {
    expect(hex(canonicalIpBytes("199.172.111.135"))).toBe("00000000000000000000ffffc7ac6f87");
  });

  it("gives a.b.c.d, ::ffff:a.b.c.d and ' a.b.c.d \\n' the same bytes", () => {
    fc.assert(
      fc.property(fc.ipV4(), (v4) => {
        const plain = hex(canonicalIpBytes(v4));
        expect(plain).not.toBeNull();
        expect(hex(canonicalIpBytes(`::ffff:${v4}`))).toBe(plain);
        expect(hex(canonicalIpBytes(`::FFFF:${v4}`))).toBe(plain);
        expect(hex(canonicalIpBytes(`0:0:0:0:0:ffff:${v4}`))).toBe(plain);
        expect(hex(canonicalIpBytes(` ${v4} \n`))).toBe(plain);
      }),
      { numRuns: 1000 },
    );
  });

  it("gives the hex spelling of an IPv4-mapped address the same bytes as its dotted spelling", () => {
    expect(hex(canonicalIpBytes("::ffff:c7ac:6f87"))).toBe(hex(canonicalIpBytes("199.172.111.135")));
  });

  it("keeps an IPv4-compatible ::a.b.c.d distinct from the IPv4 address a.b.c.d", () => {
    expect(hex(canonicalIpBytes("::1.2.3.4"))).not.toBe(hex(canonicalIpBytes("1.2.3.4")));
  });

  it("ignores surrounding Unicode white space around an IPv6 address", () => {
    expect(hex(canonicalIpBytes("\t\u00a0 2001:db8::1\r\n\u2003"))).toBe(
      hex(canonicalIpBytes("2001:db8::1")),
    );
  });

  it("returns IPv6 bytes unchanged for any other address", () => {
    fc.assert(
      fc.property(ipv6Text, ({ text, bytes }) => {
        expect(hex(canonicalIpBytes(text))).toBe(bytes.toString("hex"));
      }),
      { numRuns: 500 },
    );
  });

  it.each([
    ["white space only", " \n "],
    ["two addresses", "1.2.3.4 5.6.7.8"],
    ["two addresses separated by a comma", "1.2.3.4,5.6.7.8"],
    ["a port", "1.2.3.4:8080"],
    ["a zone", "fe80::1%eth0"],
    ["a prefix length", "2001:db8::/64"],
    ["brackets", "[2001:db8::1]"],
  ])("returns null for %s", (_why, text) => {
    expect(canonicalIpBytes(text)).toBeNull();
  });
});
