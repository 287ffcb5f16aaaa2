/**
 * The streaming half of the matcher: feeds a body chunk by chunk, holds back
 * at most `names.keep` bytes (a name, its scheme and port may straddle a
 * chunk boundary), and gives out exactly what a one-piece scan would.
 * Not a stream itself, so the plain and the compressed body paths share it.
 */
import { applyEditsToBytes, LEFT_CONTEXT, type CompiledNames, type Edit, type Replacer } from './matcher.js';

const EMPTY = Buffer.alloc(0);

/**
 * A body that starts with a UTF-16/32 byte-order mark or has a NUL among its
 * first four bytes (`<\0?\0`, an XML declaration in UTF-16 without BOM) is
 * not ASCII-compatible, whatever its headers say: it is left alone.
 */
export function looksWide(head: Buffer): boolean {
  if (head.length >= 2 && ((head[0] === 0xfe && head[1] === 0xff) || (head[0] === 0xff && head[1] === 0xfe))) return true;
  return head.subarray(0, 4).includes(0);
}

export class ChunkScanner {
  readonly #names: CompiledNames;
  readonly #replacer: Replacer;
  /** Input not yet emitted: a possible name cut by a chunk boundary. */
  #pending: Buffer = EMPTY;
  /** The last emitted input bytes, for the matcher's look-behind. */
  #context: Buffer = EMPTY;
  #sniffed = false;
  #passthrough = false;

  constructor(names: CompiledNames, replacer: Replacer) {
    this.#names = names;
    this.#replacer = replacer;
  }

  /** Takes the next chunk; returns the bytes to emit now (none: undefined). */
  write(chunk: Buffer): Buffer | undefined {
    if (this.#passthrough) return chunk;
    if (!this.#sniffed) {
      const head = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
      this.#pending = EMPTY;
      if (head.length < 4) {
        this.#pending = head; // too short to tell the charset yet
        return undefined;
      }
      this.#sniffed = true;
      if (looksWide(head)) {
        this.#passthrough = true;
        return head;
      }
      chunk = head;
    }
    return this.#process(chunk, false);
  }

  /** Ends the body; returns what was held back, rewritten. */
  end(): Buffer | undefined {
    if (!this.#sniffed && looksWide(this.#pending)) this.#passthrough = true;
    const pending = this.#pending;
    this.#pending = EMPTY;
    if (this.#passthrough) return pending.length > 0 ? pending : undefined;
    this.#pending = pending;
    return this.#process(EMPTY, true);
  }

  #process(chunk: Buffer, atEnd: boolean): Buffer | undefined {
    const context = this.#context;
    const from = context.length;
    const data = from + this.#pending.length === 0 ? chunk : Buffer.concat([context, this.#pending, chunk]);
    const edits: Edit[] = [];
    const s = data.toString('latin1');
    const cut = this.#names.scan(s, from, atEnd, this.#replacer, edits);
    // Copies: both are small, and a view would pin the whole chunk.
    this.#pending = cut < data.length ? Buffer.from(data.subarray(cut)) : EMPTY;
    this.#context = Buffer.from(data.subarray(Math.max(0, cut - LEFT_CONTEXT), cut));
    return cut > from ? applyEditsToBytes(data, s, from, cut, edits) : undefined;
  }
}
