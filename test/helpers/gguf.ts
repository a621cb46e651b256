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

/** A float32 tensor of a GGUF file: its dimensions as GGUF writes them (ne[0] first) and its values. */
export interface GgufTensor {
  readonly name: string;
  readonly dims: readonly number[];
  readonly data: Float32Array;
}

/**
 * A LoRA adapter GGUF (v3) as llama.cpp's llama_adapter_lora_init reads it: general.type
 * "adapter", general.architecture the model's, adapter.type "lora", adapter.lora.alpha, and for
 * each adapted weight W (dims [n0, n1]) the pair `<W>.lora_a` (dims [n0, r]) and `<W>.lora_b`
 * (dims [r, n1]), float32. llama.cpp adds scale * alpha / r * B(A x) to W x.
 */
export function writeLoraGguf(target: string, architecture: string, alpha: number, tensors: readonly GgufTensor[]): void {
  const ALIGN = 32;
  const parts: Buffer[] = [];
  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    parts.push(b);
  };
  const u64 = (v: number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    parts.push(b);
  };
  const str = (s: string) => {
    const b = Buffer.from(s, "utf8");
    u64(b.length);
    parts.push(b);
  };
  parts.push(Buffer.from("GGUF", "latin1"));
  u32(3);
  u64(tensors.length);
  u64(4);
  str("general.type");
  u32(STRING);
  str("adapter");
  str("general.architecture");
  u32(STRING);
  str(architecture);
  str("adapter.type");
  u32(STRING);
  str("lora");
  str("adapter.lora.alpha");
  u32(6);
  const f = Buffer.alloc(4);
  f.writeFloatLE(alpha);
  parts.push(f);
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    if (t.data.length !== t.dims.reduce((a, b) => a * b, 1)) throw new Error(`tensor ${t.name}: ${t.data.length} values for dims ${t.dims.join("x")}`);
    str(t.name);
    u32(t.dims.length);
    for (const d of t.dims) u64(d);
    u32(0); // GGML_TYPE_F32
    u64(offset);
    offsets.push(offset);
    offset += Math.ceil((t.data.length * 4) / ALIGN) * ALIGN;
  }
  let head = Buffer.concat(parts);
  head = Buffer.concat([head, Buffer.alloc((ALIGN - (head.length % ALIGN)) % ALIGN)]);
  const data = Buffer.alloc(offset);
  tensors.forEach((t, i) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).copy(data, offsets[i]!));
  writeFileSync(target, Buffer.concat([head, data]));
}
