/**
 * A small WebAssembly binary emitter: LEB128 integers, IEEE constants, opcodes, and a module
 * builder with the sections a kernel needs (types, imports, functions, exports, code). No
 * text format and no compiler at run time: the bytes go straight to `new WebAssembly.Module`.
 */

export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128';

const VALTYPE: Record<ValType, number> = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b };

/** The opcodes the kernels use (single-byte MVP opcodes, and SIMD ones under the 0xfd prefix). */
export const Op = {
  unreachable: 0x00, nop: 0x01, block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b,
  br: 0x0c, br_if: 0x0d, return: 0x0f, call: 0x10, drop: 0x1a, select: 0x1b,
  local_get: 0x20, local_set: 0x21, local_tee: 0x22,
  i32_load: 0x28, i64_load: 0x29, f32_load: 0x2a, f64_load: 0x2b, i32_load8_u: 0x2d,
  i32_store: 0x36, i64_store: 0x37, f32_store: 0x38, f64_store: 0x39, i32_store8: 0x3a,
  memory_size: 0x3f, memory_grow: 0x40,
  i32_const: 0x41, i64_const: 0x42, f32_const: 0x43, f64_const: 0x44,
  i32_eqz: 0x45, i32_eq: 0x46, i32_ne: 0x47, i32_lt_s: 0x48, i32_lt_u: 0x49, i32_gt_s: 0x4a, i32_le_s: 0x4c, i32_ge_s: 0x4e,
  i64_eqz: 0x50,
  f32_eq: 0x5b, f32_ne: 0x5c, f32_lt: 0x5d, f32_gt: 0x5e, f32_le: 0x5f, f32_ge: 0x60,
  f64_eq: 0x61, f64_ne: 0x62, f64_lt: 0x63, f64_gt: 0x64, f64_le: 0x65, f64_ge: 0x66,
  i32_add: 0x6a, i32_sub: 0x6b, i32_mul: 0x6c, i32_div_s: 0x6d, i32_rem_s: 0x6f, i32_and: 0x71, i32_or: 0x72, i32_xor: 0x73, i32_shl: 0x74, i32_shr_s: 0x75, i32_shr_u: 0x76,
  i64_add: 0x7c, i64_sub: 0x7d, i64_and: 0x83, i64_or: 0x84, i64_shl: 0x86, i64_shr_s: 0x87, i64_shr_u: 0x88,
  f32_abs: 0x8b, f32_neg: 0x8c, f32_ceil: 0x8d, f32_floor: 0x8e, f32_trunc: 0x8f, f32_nearest: 0x90, f32_sqrt: 0x91,
  f32_add: 0x92, f32_sub: 0x93, f32_mul: 0x94, f32_div: 0x95, f32_min: 0x96, f32_max: 0x97,
  f64_abs: 0x99, f64_neg: 0x9a, f64_ceil: 0x9b, f64_floor: 0x9c, f64_trunc: 0x9d, f64_nearest: 0x9e, f64_sqrt: 0x9f,
  f64_add: 0xa0, f64_sub: 0xa1, f64_mul: 0xa2, f64_div: 0xa3, f64_min: 0xa4, f64_max: 0xa5, f64_copysign: 0xa6,
  i32_wrap_i64: 0xa7, i32_trunc_f64_s: 0xaa, i64_extend_i32_s: 0xac, i64_trunc_f64_s: 0xb0,
  f32_convert_i32_s: 0xb2, f32_demote_f64: 0xb6,
  f64_convert_i32_s: 0xb7, f64_convert_i32_u: 0xb8, f64_convert_i64_s: 0xb9, f64_promote_f32: 0xbb,
  i32_reinterpret_f32: 0xbc, i64_reinterpret_f64: 0xbd, f32_reinterpret_i32: 0xbe, f64_reinterpret_i64: 0xbf,
} as const;

/** SIMD opcodes (each written as 0xfd then the LEB128 of the number). */
export const Simd = {
  v128_load: 0, v128_load32_splat: 9, v128_store: 11, v128_const: 12, i8x16_shuffle: 13,
  /** One 32-bit lane from or to memory (memarg, then the lane's index byte): a gather's and a scatter's element in one instruction. */
  v128_load32_lane: 86, v128_store32_lane: 90,
  i32x4_splat: 17, f32x4_splat: 19,
  f32x4_extract_lane: 31, f32x4_replace_lane: 32, f64x2_extract_lane: 33, f64x2_promote_low_f32x4: 95,
  f32x4_eq: 65, f32x4_ne: 66, f32x4_lt: 67, f32x4_gt: 68, f32x4_le: 69, f32x4_ge: 70,
  v128_not: 77, v128_and: 78, v128_andnot: 79, v128_or: 80, v128_xor: 81, v128_bitselect: 82,
  f32x4_ceil: 103, f32x4_floor: 104, f32x4_trunc: 105, f32x4_nearest: 106,
  i32x4_shl: 171, i32x4_shr_s: 172, i32x4_add: 174, i32x4_sub: 177,
  f32x4_abs: 224, f32x4_neg: 225, f32x4_sqrt: 227,
  f32x4_add: 228, f32x4_sub: 229, f32x4_mul: 230, f32x4_div: 231, f32x4_min: 232, f32x4_max: 233,
  /** b < a ? b : a, and a < b ? b : a: one minps/maxps each (NaN in a passes through). */
  f32x4_pmin: 234, f32x4_pmax: 235,
  f64x2_add: 240, i32x4_trunc_sat_f32x4_s: 248, f32x4_convert_i32x4_s: 250,
  /** Relaxed SIMD (Node 22 by default; Node 20 behind --experimental-wasm-relaxed-simd): a*b + c, fused or not. */
  f32x4_relaxed_madd: 261,
} as const;

// One scratch cell per width for IEEE encodings: a fresh typed array per constant made
// emitting a kernel with inline f32x4 approximations mostly garbage collection.
const SCRATCH_F32 = new Float32Array(1);
const SCRATCH_F32_BYTES = new Uint8Array(SCRATCH_F32.buffer);
const SCRATCH_F64 = new Float64Array(1);
const SCRATCH_F64_BYTES = new Uint8Array(SCRATCH_F64.buffer);

/** A growable byte buffer with the encodings WebAssembly uses. */
export class Bytes {
  private data = new Uint8Array(256);
  length = 0;

  byte(b: number): this {
    if (this.length === this.data.length) this.reserve(1);
    this.data[this.length++] = b & 0xff;
    return this;
  }

  /** Room for `more` bytes past the end (doubling, so appends stay amortized constant). */
  private reserve(more: number): void {
    let size = this.data.length;
    while (size < this.length + more) size *= 2;
    if (size === this.data.length) return;
    const bigger = new Uint8Array(size);
    bigger.set(this.data.subarray(0, this.length));
    this.data = bigger;
  }

  bytes(bs: ArrayLike<number>): this {
    // Function bodies and sections are copied whole, more than once on the way to a module:
    // one copy, not a call per byte (a first call runs this code cold, in the interpreter).
    if (bs instanceof Uint8Array) {
      this.reserve(bs.length);
      this.data.set(bs, this.length);
      this.length += bs.length;
      return this;
    }
    for (let i = 0; i < bs.length; i++) this.byte(bs[i]);
    return this;
  }

  /** Unsigned LEB128 (sizes, indices). */
  u32(v: number): this {
    let x = v >>> 0;
    do {
      let b = x & 0x7f;
      x >>>= 7;
      if (x !== 0) b |= 0x80;
      this.byte(b);
    } while (x !== 0);
    return this;
  }

  /** Signed LEB128 of a 32-bit integer. */
  s32(v: number): this {
    let x = v | 0;
    for (;;) {
      const b = x & 0x7f;
      x >>= 7;
      if ((x === 0 && (b & 0x40) === 0) || (x === -1 && (b & 0x40) !== 0)) return this.byte(b);
      this.byte(b | 0x80);
    }
  }

  /** Signed LEB128 of a 64-bit integer. */
  s64(v: bigint): this {
    let x = BigInt.asIntN(64, v);
    for (;;) {
      const b = Number(x & 0x7fn);
      x >>= 7n;
      if ((x === 0n && (b & 0x40) === 0) || (x === -1n && (b & 0x40) !== 0)) return this.byte(b);
      this.byte(b | 0x80);
    }
  }

  f32(v: number): this {
    SCRATCH_F32[0] = v;
    return this.bytes(SCRATCH_F32_BYTES);
  }

  f64(v: number): this {
    SCRATCH_F64[0] = v;
    return this.bytes(SCRATCH_F64_BYTES);
  }

  name(s: string): this {
    const utf8 = new TextEncoder().encode(s);
    return this.u32(utf8.length).bytes(utf8);
  }

  /** A length-prefixed copy of another buffer (a section or a function body). */
  sized(inner: Bytes): this {
    return this.u32(inner.length).bytes(inner.view());
  }

  view(): Uint8Array {
    return this.data.subarray(0, this.length);
  }
}

/** Instructions of one function body, with helpers for the common immediates. */
export class Code extends Bytes {
  op(code: number): this {
    return this.byte(code);
  }
  simd(code: number): this {
    return this.byte(0xfd).u32(code);
  }
  i32Const(v: number): this {
    return this.byte(Op.i32_const).s32(v);
  }
  i64Const(v: bigint): this {
    return this.byte(Op.i64_const).s64(v);
  }
  f32Const(v: number): this {
    return this.byte(Op.f32_const).f32(v);
  }
  f64Const(v: number): this {
    return this.byte(Op.f64_const).f64(v);
  }
  get(local: number): this {
    return this.byte(Op.local_get).u32(local);
  }
  set(local: number): this {
    return this.byte(Op.local_set).u32(local);
  }
  tee(local: number): this {
    return this.byte(Op.local_tee).u32(local);
  }
  call(fn: number): this {
    return this.byte(Op.call).u32(fn);
  }
  /** A load or store with its memarg: alignment (log2 bytes) and a constant offset. */
  mem(code: number, alignLog2: number, offset = 0): this {
    return this.byte(code).u32(alignLog2).u32(offset);
  }
  simdMem(code: number, alignLog2: number, offset = 0): this {
    return this.simd(code).u32(alignLog2).u32(offset);
  }
  /** `block`/`loop`/`if` with an empty result type. */
  open(code: number): this {
    return this.byte(code).byte(0x40);
  }
  /** `if` producing one value. */
  openTyped(code: number, result: ValType): this {
    return this.byte(code).byte(VALTYPE[result]);
  }
}

/** The most 64 KiB pages a 32-bit memory can have (4 GiB): a shared memory's declared maximum. */
export const MAX_MEMORY_PAGES = 65536;

export interface FuncType {
  readonly params: readonly ValType[];
  readonly results: readonly ValType[];
}

interface Func {
  readonly type: number;
  readonly locals: readonly ValType[];
  readonly code: Code;
  readonly exportName?: string;
}

/**
 * A module: imported functions first (they take the low function indices), then defined
 * functions; one imported memory.
 */
export class ModuleBuilder {
  private readonly types: FuncType[] = [];
  private readonly typeKeys = new Map<string, number>();
  private readonly imports: { module: string; name: string; type: number }[] = [];
  private readonly funcs: Func[] = [];
  private sealedImports = false;

  /** `memory.shared`: the import is a shared memory (threads), whose limits must state a maximum. */
  constructor(private readonly memory: { module: string; name: string; shared?: boolean } | null = { module: 'env', name: 'memory' }) {}

  type(t: FuncType): number {
    const key = `${t.params.join(',')}->${t.results.join(',')}`;
    const known = this.typeKeys.get(key);
    if (known !== undefined) return known;
    this.types.push(t);
    this.typeKeys.set(key, this.types.length - 1);
    return this.types.length - 1;
  }

  /** Declares an imported function; all imports come before the first defined function. */
  importFunction(module: string, name: string, t: FuncType): number {
    if (this.sealedImports) throw new Error('functs internal error: wasm imports must be declared before functions');
    this.imports.push({ module, name, type: this.type(t) });
    return this.imports.length - 1;
  }

  /** Reserves the index of a function whose body is given later with `define`. */
  declare(t: FuncType, exportName?: string): { index: number; define: (locals: readonly ValType[], code: Code) => void } {
    this.sealedImports = true;
    const slot = this.funcs.length;
    const type = this.type(t);
    this.funcs.push({ type, locals: [], code: new Code(), exportName });
    return {
      index: this.imports.length + slot,
      define: (locals, code) => {
        this.funcs[slot] = { type, locals, code, exportName };
      },
    };
  }

  encode(): Uint8Array<ArrayBuffer> {
    const out = new Bytes().bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    const section = (id: number, body: Bytes): void => {
      out.byte(id).sized(body);
    };
    const types = new Bytes().u32(this.types.length);
    for (const t of this.types) {
      types.byte(0x60).u32(t.params.length);
      t.params.forEach((p) => types.byte(VALTYPE[p]));
      types.u32(t.results.length);
      t.results.forEach((r) => types.byte(VALTYPE[r]));
    }
    section(1, types);
    const imports = new Bytes().u32(this.imports.length + (this.memory ? 1 : 0));
    if (this.memory) {
      imports.name(this.memory.module).name(this.memory.name).byte(0x02);
      if (this.memory.shared) imports.byte(0x03).u32(1).u32(MAX_MEMORY_PAGES);
      else imports.byte(0x00).u32(1);
    }
    for (const imp of this.imports) imports.name(imp.module).name(imp.name).byte(0x00).u32(imp.type);
    section(2, imports);
    const funcs = new Bytes().u32(this.funcs.length);
    this.funcs.forEach((f) => funcs.u32(f.type));
    section(3, funcs);
    const exported = this.funcs.map((f, i) => ({ f, i })).filter(({ f }) => f.exportName !== undefined);
    const exports = new Bytes().u32(exported.length);
    for (const { f, i } of exported) exports.name(f.exportName!).byte(0x00).u32(this.imports.length + i);
    section(7, exports);
    const code = new Bytes().u32(this.funcs.length);
    for (const f of this.funcs) {
      const body = new Bytes();
      // Locals are declared as runs of one type.
      const runs: { type: ValType; count: number }[] = [];
      for (const l of f.locals) {
        const last = runs[runs.length - 1];
        if (last && last.type === l) last.count++;
        else runs.push({ type: l, count: 1 });
      }
      body.u32(runs.length);
      for (const r of runs) body.u32(r.count).byte(VALTYPE[r.type]);
      body.bytes(f.code.view()).byte(Op.end);
      code.sized(body);
    }
    section(10, code);
    return out.view().slice();
  }
}
