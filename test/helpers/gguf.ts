/**
 * A copy of a real GGUF file with one string added to its metadata (GGUF v2/v3 layout: header,
 * key-value pairs, tensor infos, padding to the alignment, tensor data). Used to give stories260K
 * the Jinja chat template an instruct model's GGUF carries (`tokenizer.chat_template`), so that the
 * `auto` path runs on a real model and real weights without downloading an instruct model.
 */
import { readFileSync, writeFileSync } from "node:fs";

const SIZES: Readonly<Record<number, number>> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const STRING = 8;
const ARRAY = 9;

export function ggufWithString(source: string, target: string, key: string, value: string): void {
  const buf = readFileSync(source);
  if (buf.toString("latin1", 0, 4) !== "GGUF") throw new Error(`${source} is not a GGUF file`);
  let at = 8;
  const u32 = () => {
    const v = buf.readUInt32LE(at);
    at += 4;
    return v;
  };
  const u64 = () => {
    const v = Number(buf.readBigUInt64LE(at));
    at += 8;
    return v;
  };
  const str = () => {
    const n = u64();
    const s = buf.toString("utf8", at, at + n);
    at += n;
    return s;
  };
  const skipValue = (type: number): void => {
    if (type === STRING) str();
    else if (type === ARRAY) {
      const inner = u32();
      const count = u64();
      if (inner === STRING) for (let i = 0; i < count; i++) str();
      else at += count * SIZES[inner]!;
    } else at += SIZES[type]!;
  };
  const tensors = u64();
  const kvs = u64();
  const kvStart = at;
  let alignment = 32;
  for (let i = 0; i < kvs; i++) {
    const k = str();
    const type = u32();
    if (k === "general.alignment" && type === 4) alignment = buf.readUInt32LE(at);
    skipValue(type);
  }
  const kvEnd = at;
  for (let i = 0; i < tensors; i++) {
    str();
    const dims = u32();
    at += dims * 8 + 4 + 8;
  }
  const infosEnd = at;
  const dataStart = Math.ceil(infosEnd / alignment) * alignment;

  const keyBytes = Buffer.from(key, "utf8");
  const valueBytes = Buffer.from(value, "utf8");
  const kv = Buffer.alloc(8 + keyBytes.length + 4 + 8 + valueBytes.length);
  let o = 0;
  kv.writeBigUInt64LE(BigInt(keyBytes.length), o);
  o += 8;
  keyBytes.copy(kv, o);
  o += keyBytes.length;
  kv.writeUInt32LE(STRING, o);
  o += 4;
  kv.writeBigUInt64LE(BigInt(valueBytes.length), o);
  o += 8;
  valueBytes.copy(kv, o);

  const header = Buffer.from(buf.subarray(0, kvStart));
  header.writeBigUInt64LE(BigInt(kvs + 1), 16);
  const head = Buffer.concat([header, buf.subarray(kvStart, kvEnd), kv, buf.subarray(kvEnd, infosEnd)]);
  const pad = Buffer.alloc((alignment - (head.length % alignment)) % alignment);
  writeFileSync(target, Buffer.concat([head, pad, buf.subarray(dataStart)]));
}
