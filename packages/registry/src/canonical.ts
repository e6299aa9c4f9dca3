// RFC 8785 canonical JSON out, strict I-JSON (RFC 7493) in.
import canonicalizeModule from 'canonicalize';

// The package is CommonJS whose typings claim an ESM default export; under NodeNext the default
// import is the function itself at runtime.
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string | undefined;

/** Thrown by parseStrictJson; `message` names the rule and the byte offset. */
export class StrictJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StrictJsonError';
  }
}

/**
 * RFC 8785 (JCS) canonical text of a JSON value.
 * @example canonicalJson({ b: 1, a: 2 }) // '{"a":2,"b":1}'
 */
export function canonicalJson(value: unknown): string {
  const out = canonicalize(value);
  if (out === undefined) throw new TypeError('value has no JSON representation');
  return out;
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const NUMBER_RE = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * Parses JSON text, rejecting what I-JSON forbids: duplicate object keys, numbers that are not
 * exactly representable (integers beyond ±2^53-1, overflow to Infinity), lone surrogates.
 * @example parseStrictJson('{"a":1,"a":2}') // throws StrictJsonError
 */
export function parseStrictJson(text: string): unknown {
  const p = new Parser(text);
  p.ws();
  const v = p.value(0);
  p.ws();
  if (p.pos !== text.length) p.fail('unexpected trailing data');
  return v;
}

class Parser {
  pos = 0;
  readonly #s: string;
  constructor(s: string) {
    this.#s = s;
  }

  fail(rule: string): never {
    throw new StrictJsonError(`invalid JSON at offset ${this.pos}: ${rule}`);
  }

  ws(): void {
    const s = this.#s;
    while (this.pos < s.length && WS.has(s.charCodeAt(this.pos))) this.pos++;
  }

  value(depth: number): unknown {
    if (depth > 64) this.fail('nesting deeper than 64');
    const c = this.#s[this.pos];
    switch (c) {
      case '{':
        return this.object(depth);
      case '[':
        return this.array(depth);
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        return this.number();
    }
  }

  literal<T>(word: string, v: T): T {
    if (!this.#s.startsWith(word, this.pos)) this.fail('unexpected token');
    this.pos += word.length;
    return v;
  }

  number(): number {
    NUMBER_RE.lastIndex = this.pos;
    const m = NUMBER_RE.exec(this.#s);
    if (m === null || m[0].length === 0) this.fail('unexpected token');
    const raw = m[0];
    const n = Number(raw);
    if (!Number.isFinite(n)) this.fail(`number ${raw} is out of range`);
    if (/^-?\d+$/.test(raw) && !Number.isSafeInteger(n))
      this.fail(`integer ${raw} is not exactly representable`);
    this.pos += raw.length;
    return n;
  }

  string(): string {
    const s = this.#s;
    const start = ++this.pos;
    // Fast path: no escapes.
    let i = start;
    for (;;) {
      if (i >= s.length) this.fail('unterminated string');
      const ch = s.charCodeAt(i);
      if (ch === 0x22) {
        const out = s.slice(start, i);
        this.pos = i + 1;
        return this.#checkSurrogates(out);
      }
      if (ch === 0x5c) break;
      if (ch < 0x20) {
        this.pos = i;
        this.fail('control character in string');
      }
      i++;
    }
    let out = s.slice(start, i);
    this.pos = i;
    for (;;) {
      if (this.pos >= s.length) this.fail('unterminated string');
      const ch = s.charCodeAt(this.pos);
      if (ch === 0x22) {
        this.pos++;
        return this.#checkSurrogates(out);
      }
      if (ch < 0x20) this.fail('control character in string');
      if (ch !== 0x5c) {
        out += s[this.pos++];
        continue;
      }
      const e = s[this.pos + 1];
      this.pos += 2;
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const hex = s.slice(this.pos, this.pos + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('bad \\u escape');
          out += String.fromCharCode(parseInt(hex, 16));
          this.pos += 4;
          break;
        }
        default:
          this.fail('bad escape');
      }
    }
  }

  #checkSurrogates(str: string): string {
    if (LONE_SURROGATE.test(str)) this.fail('lone surrogate in string');
    return str;
  }

  array(depth: number): unknown[] {
    this.pos++;
    const out: unknown[] = [];
    this.ws();
    if (this.#s[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.ws();
      out.push(this.value(depth + 1));
      this.ws();
      const c = this.#s[this.pos++];
      if (c === ']') return out;
      if (c !== ',') {
        this.pos--;
        this.fail("expected ',' or ']'");
      }
    }
  }

  object(depth: number): Record<string, unknown> {
    this.pos++;
    const out: Record<string, unknown> = {};
    const seen = new Set<string>();
    this.ws();
    if (this.#s[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.#s[this.pos] !== '"') this.fail('expected a string key');
      const key = this.string();
      if (seen.has(key)) this.fail(`duplicate key ${JSON.stringify(key)}`);
      seen.add(key);
      this.ws();
      if (this.#s[this.pos] !== ':') this.fail("expected ':'");
      this.pos++;
      this.ws();
      const v = this.value(depth + 1);
      // "__proto__" stays an own data property, never a prototype switch.
      if (key === '__proto__')
        Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      else out[key] = v;
      this.ws();
      const c = this.#s[this.pos++];
      if (c === '}') return out;
      if (c !== ',') {
        this.pos--;
        this.fail("expected ',' or '}'");
      }
    }
  }
}
