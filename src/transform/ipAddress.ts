// Strict IP parsing for the §2 `ip` rule and the §3 canonical bytes. Node's
// net.isIP accepts zone ids ("fe80::1%eth0") and gives no bytes, so the two
// grammars are written out here and checked against the WHATWG URL parser in
// the unit tests.

const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;
const IPV6_CHARS = /^[0-9A-Fa-f:.]+$/;

const ZERO = 48;
const NINE = 57;
const DOT = 46;

/**
 * A dotted quad without leading zeros, as 4 bytes; null when `text` is not one.
 * Scanned by character code: this runs for every message, and splitting plus a
 * regular expression per part cost more than the rest of the ip rule.
 */
export function parseIPv4(text: string): number[] | null {
  const bytes: number[] = [];
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : DOT;
    if (c >= ZERO && c <= NINE) {
      // "0" alone is a part; "01" is not (no octal, no leading zeros).
      if (digits === 1 && value === 0) return null;
      value = value * 10 + (c - ZERO);
      if (++digits > 3 || value > 255) return null;
    } else if (c === DOT) {
      if (digits === 0 || bytes.length === 4) return null;
      bytes.push(value);
      value = 0;
      digits = 0;
    } else {
      return null;
    }
  }
  return bytes.length === 4 ? bytes : null;
}

function groupsOf(pieces: string[], lastMayBeIPv4: boolean): number[] | null {
  const groups: number[] = [];
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i] as string;
    if (lastMayBeIPv4 && i === pieces.length - 1 && piece.includes(".")) {
      const v4 = parseIPv4(piece);
      if (!v4) return null;
      groups.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number));
    } else {
      if (!HEX_GROUP.test(piece)) return null;
      groups.push(Number.parseInt(piece, 16));
    }
  }
  return groups;
}

/** Any RFC 4291 §2.2 text form (no zone, no prefix length) as 16 bytes; null otherwise. */
export function parseIPv6(text: string): Buffer | null {
  if (!IPV6_CHARS.test(text)) return null;
  const gap = text.indexOf("::");
  if (gap !== -1 && text.indexOf("::", gap + 1) !== -1) return null;
  const split = (s: string) => (s === "" ? [] : s.split(":"));
  const head = gap === -1 ? split(text) : split(text.slice(0, gap));
  const tail = gap === -1 ? [] : split(text.slice(gap + 2));
  // An embedded IPv4 may only end the address, so it belongs to the tail when there is one.
  const headGroups = groupsOf(head, gap === -1);
  const tailGroups = groupsOf(tail, true);
  if (!headGroups || !tailGroups) return null;
  const explicit = headGroups.length + tailGroups.length;
  let groups: number[];
  if (gap === -1) {
    if (explicit !== 8) return null;
    groups = headGroups;
  } else {
    // "::" stands for at least one group of zeros.
    if (explicit > 7) return null;
    groups = [...headGroups, ...new Array<number>(8 - explicit).fill(0), ...tailGroups];
  }
  const bytes = Buffer.alloc(16);
  groups.forEach((g, i) => {
    bytes.writeUInt16BE(g, i * 2);
  });
  return bytes;
}

/**
 * The 16 canonical bytes of an address (§3): IPv4 `a.b.c.d` and the IPv4-mapped
 * `::ffff:a.b.c.d` both become `::ffff:a.b.c.d`. Surrounding white space is
 * ignored. Null when `value` holds no single valid address.
 */
export function canonicalIpBytes(value: string): Buffer | null {
  const text = value.trim();
  const v4 = parseIPv4(text);
  if (v4) return Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4]);
  return parseIPv6(text);
}
