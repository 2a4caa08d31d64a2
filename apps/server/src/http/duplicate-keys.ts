/**
 * Finds a member name that appears twice in one JSON object. `JSON.parse` keeps the last
 * one silently, while another reader (a proxy, a log, the person's own browser) may keep
 * the first: two parties would then act on different values of one signed body. We refuse
 * such a body instead (MALFORMED_JSON).
 *
 * Runs over text that `JSON.parse` already accepted, so the scanner only has to tell
 * strings, object and array boundaries and member names apart. Linear in the text.
 */
export function duplicateKey(text: string): string | undefined {
  /** One entry per open container: the names seen in an object, or null for an array. */
  const stack: (Set<string> | null)[] = [];
  /** Whether the next string in the current object is a member name. */
  let expectName = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      // The closing quote is the next one not escaped (an odd run of backslashes before it
      // escapes it). indexOf skips a long string (a sealed payment request) at native speed,
      // where a loop over its characters cost a few per cent of a signed request.
      for (;;) {
        i = text.indexOf('"', i + 1);
        if (i < 0) return undefined;
        let backslashes = 0;
        while (text.charCodeAt(i - 1 - backslashes) === 0x5c) backslashes++;
        if (backslashes % 2 === 0) break;
      }
      const top = stack.at(-1);
      if (expectName && top) {
        // Escapes make the same name in different spellings ("a" and "\u0061"): compare decoded names.
        const raw = text.slice(start, i + 1);
        const name = raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        if (top.has(name)) return name;
        top.add(name);
        expectName = false;
      }
    } else if (c === 0x7b /* { */) {
      stack.push(new Set());
      expectName = true;
    } else if (c === 0x5b /* [ */) {
      stack.push(null);
      expectName = false;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectName = false;
    } else if (c === 0x2c /* , */) {
      expectName = stack.at(-1) instanceof Set;
    }
  }
  return undefined;
}
