/**
 * Contractions as a GEMM: C[m, n] = sum_k A[m, k] B[k, n] (with batch loops around it),
 * emitted as WebAssembly functions inside a kernel's module. A serious GEMM's structure,
 * generated at run time with every size and stride a compile-time constant:
 *
 *  - a register micro-kernel of MR rows x NV f32x4 columns: per step of k, NV vector loads of
 *    B's row, one broadcast (`v128.load32_splat`) of A per row, MR x NV independent
 *    accumulators (mul then add: Node 20 has no fused multiply-add; `relaxed_madd` where the
 *    engine validates it). A's rows are constant offsets of one pointer (the memarg's
 *    offset), so a step costs two pointer increments and a counter;
 *  - edge micro-kernels for the rows and columns a tile does not cover (fewer rows, one f32x4
 *    column, one scalar column), so no size needs to be a multiple of the tile;
 *  - cache blocking: k in blocks of KC (partial sums go through C between blocks, in float32
 *    as the accumulators hold them) and n in blocks of NC, the rows of A streaming past one
 *    block of B that stays in cache;
 *  - the loop a thread pool splits (any of batch, m, n) runs over the kernel's two range
 *    parameters, so a split GEMM computes the same bits as a whole one.
 *
 * What to recognize (matchContraction in compile.ts) and the fused epilogue (a second pass of
 * the loop compiler over the kernel's own output) live in compile.ts; this file only emits.
 */
import { operandsOf, type KernelIR, type Operand, type Stmt, type Value } from '../../fusion/kernel.js';
import { Code, ModuleBuilder, Op, Simd, type ValType } from './encoder.js';
import { KERNEL_SCRATCH_BYTES } from './memory.js';

/** A batch loop around the GEMM: its extent and its strides (elements) in A, B and C. */
export interface GemmBatchLoop {
  readonly index: string;
  readonly extent: number;
  readonly a: number;
  readonly b: number;
  readonly c: number;
}

/**
 * C[m, n] (+)= sum_k A[m, k] B[k, n], every stride in elements. B is contiguous along n
 * (bn = 1): its rows are f32x4 loads; C may have any positive strides (a strided C is stored
 * lane by lane).
 */
export interface GemmLayout {
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly aOffset: number;
  readonly bOffset: number;
  readonly cOffset: number;
  readonly M: number;
  readonly N: number;
  readonly K: number;
  readonly am: number;
  readonly ak: number;
  readonly bk: number;
  readonly cm: number;
  readonly cn: number;
  /** Outer loops, outermost first. */
  readonly batch: readonly GemmBatchLoop[];
  /**
   * More loops of columns, which B and C depend on and A does not (stride 0 in A): run inside
   * the loop over rows, so a strip of A's rows stays in cache for all of them (the hoisted
   * Hessian's S[n, h] P[h, c, r]: r is n, c is an inner loop).
   */
  readonly inner: readonly GemmBatchLoop[];
  /** C's output fact, where the kernel has one (BufferSpec.symmetric): two axes, extent and C strides, of a symmetric C. */
  readonly symmetric?: { readonly extent: number; readonly strides: readonly [number, number] };
  /** The IR's names of the m and n loops (one of them, or a batch loop, may be split by threads). */
  readonly mIndex: string;
  readonly nIndex: string;
}

/** Register tile and cache blocks (the defaults measured best on the 2-core EPYC, Node 20). */
export interface GemmTuning {
  /** Rows of a micro-kernel. */
  readonly mr: number;
  /** f32x4 columns of a micro-kernel. */
  readonly nv: number;
  /** Block of the reduction (partial sums through C between blocks). */
  readonly kc: number;
  /** Block of columns (a block of B, kc x nc, stays in cache while A's rows stream past). */
  readonly nc: number;
  /** Steps of k per iteration of a micro-kernel's loop. */
  readonly ku: number;
  /** Jammed tiles where they apply (false: strided stores instead, for comparison). */
  readonly jam: boolean;
  /** Pack B's tiles into the scratch where B is larger than this many bytes (Infinity: never). */
  readonly packAbove: number;
  /** Rows of a jammed micro-kernel (four vectors of four iterations of an inner loop). */
  readonly mrJam: number;
  /** Tiles of mrJam rows a jammed strip runs per tile of columns (a block of A's rows in L1). */
  readonly mcJam: number;
  /** Use a symmetric output's fact (compute blocks I <= J, write their mirrors); false: compute all, for comparison. */
  readonly mirror: boolean;
  /** Mirrored: diagonal blocks as three vectors (rows 0, 1 and the upper triangle of rows 2-3) against packed lines of B; false: four, as any block. */
  readonly packDiagonal: boolean;
}

/**
 * B's packing where it runs once per call before the split (prepacked): a module of its own
 * whose `kernel(buffers..., first, end)` packs units [first, end) of `units` (tiles of columns,
 * groups of a jammed loop, or diagonal blocks), `bytesPerUnit` bytes copied each.
 */
export interface GemmPacking {
  readonly bytes: Uint8Array<ArrayBuffer>;
  readonly units: number;
  readonly bytesPerUnit: number;
}

/** i32.ge_u (encoder.ts's table lacks it). */
const I32_GE_U = 0x4f;

/** B smaller than this stays where it is (it stays in L1 anyway: the D=8 Hessian's P is 8 KB). */
const PACK_MIN_BYTES = 16 * 1024;

/** Bytes of a block of B the blocking assumes stay in the first-level cache (32 KiB per core here). */
const L1_BYTES = 32 * 1024;

/**
 * 5x2: ten accumulators, two B vectors, a broadcast and the product's temporary fill 14 of
 * V8's 15 allocatable xmm registers (xmm15 is its scratch) without a spill in the k loop
 * (read in --print-wasm-code); 80 flops per step against 4x2's 64 for the same ~9 loop and
 * address instructions: 8-10% faster at 512 and 1024 in the fast end of interleaved calls.
 * 6x2 and 4x3 need a 16th register (spills in the loop, 30% slower), and unrolling k makes
 * TurboFan load every step's operands first (spills). Broadcasting A in a packed copy (plain
 * loads in the loop) measured 3-4% slower: the copy takes L1 room B's stream needs.
 */
export const DEFAULT_GEMM_TUNING: GemmTuning = { mr: 5, nv: 2, kc: 256, nc: 64, ku: 1, packAbove: PACK_MIN_BYTES, jam: true, mrJam: 2, mcJam: 8, mirror: true, packDiagonal: true };

/** Emits `i = from; while (i < to) { body; i += step }` with `to` pushed by `end`. */
function forLoop(c: Code, i: number, from: () => void, end: () => void, step: number, body: () => void): void {
  from();
  c.set(i);
  c.open(Op.block).open(Op.loop);
  c.get(i);
  end();
  c.op(Op.i32_ge_s).op(Op.br_if).u32(1);
  body();
  c.get(i).i32Const(step).op(Op.i32_add).set(i);
  c.op(Op.br).u32(0);
  c.op(Op.end).op(Op.end);
}

/** Function-local allocator: parameters first, then locals by type. */
class Locals {
  readonly types: ValType[] = [];
  constructor(private readonly params: number) {}
  add(type: ValType): number {
    this.types.push(type);
    return this.params + this.types.length - 1;
  }
}

/**
 * Declares the GEMM's functions in `builder` and returns the index of its entry, which takes
 * the kernel's parameters (the buffers' byte addresses, then, where `parallel` names one of
 * the layout's loops, that loop's first and end iteration).
 */
export function declareGemm(builder: ModuleBuilder, layout: GemmLayout, bufferCount: number, parallel: string | null, options: { fma: boolean; tuning?: GemmTuning; sharedMemory?: boolean }): { entry: number; jammed: boolean; mirrored: boolean; diagonalPacked: boolean; fusedMultiplyAdds: number; scratchBytes: number; rowGrain: number; packing: GemmPacking | null } {
  const tuning = options.tuning ?? DEFAULT_GEMM_TUNING;
  const { nv } = tuning;
  const { am, ak, bk, cm, cn } = layout;
  const microType = { params: ['i32', 'i32', 'i32', 'i32', 'i32'] as ValType[], results: [] as ValType[] };
  let fusedMultiplyAdds = 0;
  // Jammed columns: where C is strided along n (lanes) but contiguous along the innermost
  // inner loop (the Hessian's [n, r, c] from P [h, c, r]), a tile's four vectors are four
  // iterations of that loop, transposed in registers on the way out: C is stored a row of
  // four at a time instead of lane by lane.
  const jamLoop = layout.inner[layout.inner.length - 1];
  const jam = tuning.jam && jamLoop !== undefined && cn !== 1 && jamLoop.c === 1 && jamLoop.extent % 4 === 0 && layout.N % 4 === 0 && parallel !== layout.nIndex && parallel !== jamLoop.index;
  const mr = jam ? tuning.mrJam : tuning.mr;
  // Mirrored: C proved symmetric in the two axes a jammed tile spans (n, its lanes, and the
  // jammed loop, its vectors), each N x N: only the tiles of 4x4 blocks I <= J are computed,
  // and an off-diagonal one stores its accumulators twice, as they are at (J, I) (lanes along
  // the jammed loop's stride 1) and transposed at (I, J) — the hand-written kernel's way.
  const sym = layout.symmetric;
  const mirrored = jam && tuning.mirror && sym !== undefined && layout.inner.length === 1 && layout.N === sym.extent && jamLoop.extent === sym.extent
    && [...sym.strides].sort((x, y) => x - y).join() === [jamLoop.c, cn].sort((x, y) => x - y).join();
  // Packing: B's tiles copied once per call into the scratch at the top of the memory, each
  // tile's rows one after another (a jammed tile's four vectors: one 64-byte line per step of
  // k), so a micro-kernel walks B contiguously instead of one row stride (often a multiple of
  // 4 KiB: every row in the same L1 set, each on its own page) per step. Every thread running
  // a chunk packs the same values into the same place before it reads them.
  const tileCols = 4 * nv;
  const fullCols = Math.floor(layout.N / tileCols) * tileCols;
  // The packing scratch is one for all threads: packed once before the split it is shared
  // read-only, but a B that changes with a batch loop would be packed by each chunk while
  // another thread reads its own batch's copy there (wrong values on two threads, found by the
  // split test with FUNCTS_SEED=1041655473). Such a B is read where it is when threads may split.
  const scratchShared = parallel === null || layout.batch.every((l) => l.b === 0);
  const packTiles = scratchShared && !jam && layout.inner.length === 0 && parallel !== layout.nIndex && tuning.nc % tileCols === 0 && fullCols > 0
    && layout.K * fullCols * 4 <= KERNEL_SCRATCH_BYTES && layout.K * layout.N * 4 > tuning.packAbove;
  const packJam = scratchShared && jam && layout.inner.length === 1 && layout.K * layout.N * jamLoop.extent * 4 <= KERNEL_SCRATCH_BYTES && layout.K * layout.N * jamLoop.extent * 4 > tuning.packAbove;
  // Diagonal blocks of a mirrored C are symmetric themselves: their rows 2 and 3 repeat
  // rows 0 and 1 in lanes 0-1, so such a tile accumulates rows 0, 1 and one vector of its
  // upper triangle, (2,2) (2,3) (3,3), against B's lines packed the same way (three per step
  // of k instead of four: a quarter less of the diagonal tiles' work, which are two of the
  // three tiles at D=8), and rebuilds rows 2 and 3 by shuffles (the hand-written kernel's way).
  // One block of k only: the packed tile keeps no partial sums in C.
  const packDiag = mirrored && scratchShared && !packJam && !packTiles && layout.K <= tuning.kc && tuning.packDiagonal;
  const diagBytes = packDiag ? (layout.N / 4) * layout.K * 48 : 0;
  const packedBytes = packTiles ? layout.K * fullCols * 4 : packJam ? layout.K * layout.N * jamLoop.extent * 4 : diagBytes;
  // Packed once per call, before the split: where threads split rows (or batch loops B does not
  // depend on), every chunk reads the same packed B. Packing it in every chunk instead cost a
  // whole copy of B per chunk (a dozen per 512 x 512 call), and two threads writing the same
  // scratch lines while the other reads them (1.39x on two threads measured).
  const prepacked = (packTiles || packJam || packDiag) && parallel !== null; // B then depends on no batch loop (scratchShared)
  const scratchBytes = Math.ceil(packedBytes / 64) * 64;
  const strips: number[] = [];
  if (jam) {
    const micros: number[] = [];
    const mirrors: number[] = [];
    const diagonals: number[] = [];
    for (let rows = 1; rows <= mr && packDiag; rows++) {
      const fn = builder.declare(microType);
      diagonals[rows] = fn.index;
      const code = diagonalMicro(rows, am, ak, cm, cn, options.fma);
      fn.define(code.locals, code.code);
      if (options.fma) fusedMultiplyAdds += rows * 3;
    }
    for (let rows = 1; rows <= mr; rows++) {
      for (const mirror of mirrored ? [false, true] : [false]) {
        const fn = builder.declare(mirror ? { params: [...microType.params, 'i32'], results: [] } : microType);
        (mirror ? mirrors : micros)[rows] = fn.index;
        const code = packJam ? jammedMicro(rows, am, ak, 16, cm, cn, 4, options.fma, mirror) : jammedMicro(rows, am, ak, bk, cm, cn, jamLoop.b, options.fma, mirror);
        fn.define(code.locals, code.code);
        if (options.fma) fusedMultiplyAdds += rows * 4;
      }
    }
    // strip(a, b, c, ncount, klen, first, groups, packed, nb): groups of four of the jammed
    // loop (outer: a group's lines of B serve every n), four columns n at a time, then
    // `groups` tiles of rows (their block of A and the tile's lines of B stay in L1 for all
    // of them). Mirrored, the columns stop at the diagonal block (nb + n <= j: nb, the first
    // column of the block of columns, is the last parameter), and the tiles below it call the
    // mirroring micro-kernel with the address of their mirror.
    for (let rows = 1; rows <= mr; rows++) {
      const fn = builder.declare({ params: ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32'], results: [] });
      strips[rows] = fn.index;
      const c = new Code();
      const locals = new Locals(9);
      const [n, j, g, nEnd] = [locals.add('i32'), locals.add('i32'), locals.add('i32'), locals.add('i32')];
      const NB = 8;
      forLoop(c, j, () => c.i32Const(0), () => c.i32Const(jamLoop.extent), 4, () => {
        // nEnd = min(ncount, j - nb + 1): the blocks I <= J (all of them unmirrored).
        if (mirrored) c.get(j).get(NB).op(Op.i32_sub).i32Const(1).op(Op.i32_add).get(3).get(j).get(NB).op(Op.i32_sub).i32Const(1).op(Op.i32_add).get(3).op(Op.i32_lt_s).op(Op.select).set(nEnd);
        else c.get(3).set(nEnd);
        forLoop(c, n, () => c.i32Const(0), () => c.get(nEnd), 4, () => {
          const tile = (micro: number, mirror: boolean, diagonal = false) => forLoop(c, g, () => c.i32Const(0), () => c.get(6), 1, () => {
            c.get(0).get(g).i32Const(rows * am * 4).op(Op.i32_mul).op(Op.i32_add);
            // The diagonal block j/4's packed lines: K steps of three vectors each.
            if (diagonal) c.get(7).get(j).i32Const(layout.K * 12).op(Op.i32_mul).op(Op.i32_add);
            else if (packJam) c.get(7).get(n).i32Const(layout.K * 16).op(Op.i32_mul).op(Op.i32_add).get(j).i32Const(layout.N * layout.K * 4).op(Op.i32_mul).op(Op.i32_add);
            else c.get(1).get(n).i32Const(2).op(Op.i32_shl).op(Op.i32_add).get(j).i32Const(jamLoop.b * 4).op(Op.i32_mul).op(Op.i32_add);
            c.get(2).get(n).i32Const(cn * 4).op(Op.i32_mul).op(Op.i32_add).get(j).i32Const(2).op(Op.i32_shl).op(Op.i32_add).get(g).i32Const(rows * cm * 4).op(Op.i32_mul).op(Op.i32_add);
            c.get(4).get(5);
            // The mirror of tile (I = nb + n, J = j): c - nb*cn + j*cn + (nb + n), in bytes.
            if (mirror) c.get(2).get(j).get(NB).op(Op.i32_sub).i32Const(cn * 4).op(Op.i32_mul).op(Op.i32_add).get(NB).get(n).op(Op.i32_add).i32Const(2).op(Op.i32_shl).op(Op.i32_add).get(g).i32Const(rows * cm * 4).op(Op.i32_mul).op(Op.i32_add);
            c.call(micro);
          });
          if (mirrored) {
            // The diagonal block is its own mirror: stored once.
            c.get(NB).get(n).op(Op.i32_add).get(j).op(Op.i32_eq).open(Op.if);
            if (packDiag) tile(diagonals[rows], false, true);
            else tile(micros[rows], false);
            c.op(Op.else);
            tile(mirrors[rows], true);
            c.op(Op.end);
          } else {
            tile(micros[rows], false);
          }
        });
      });
      fn.define(locals.types, c);
    }
  } else {
    // Micro-kernels by rows (1..mr) and columns: nv vectors, one vector, one scalar column.
    type Width = 'tile' | 'vector' | 'scalar';
    const micro = new Map<string, number>();
    const widths: Width[] = nv > 1 ? ['tile', 'vector', 'scalar'] : ['tile', 'scalar'];
    for (let rows = 1; rows <= mr; rows++) {
      for (const w of widths) {
        const fn = builder.declare(microType);
        micro.set(`${rows}${w}`, fn.index);
        const vectors = w === 'tile' ? nv : 1;
        const code = w === 'scalar' ? scalarMicro(rows, am, ak, bk, cm, tuning.ku) : vectorMicro(rows, vectors, am, ak, w === 'tile' && packTiles ? 4 * nv : bk, cm, cn, options.fma, tuning.ku);
        fn.define(code.locals, code.code);
        if (options.fma && w !== 'scalar') fusedMultiplyAdds += rows * vectors;
      }
    }
    const microOf = (rows: number, w: Width) => micro.get(`${rows}${nv > 1 ? w : w === 'vector' ? 'tile' : w}`)!;

    // strip(a, b, c, ncount, klen, first): `rows` rows of A times ncount columns of B.
    for (let rows = 1; rows <= mr; rows++) {
      const fn = builder.declare({ params: ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32'], results: [] });
      strips[rows] = fn.index;
      const c = new Code();
      const locals = new Locals(7);
      const n = locals.add('i32');
      const call = (fnIndex: number, packed = false) => {
        c.get(0);
        if (packed) c.get(6).get(n).i32Const(layout.K * 4).op(Op.i32_mul).op(Op.i32_add);
        else c.get(1).get(n).i32Const(2).op(Op.i32_shl).op(Op.i32_add);
        c.get(2).get(n).i32Const(cn * 4).op(Op.i32_mul).op(Op.i32_add);
        c.get(4).get(5).call(fnIndex);
      };
      c.i32Const(0).set(n);
      const stepLoop = (width: number, fnIndex: number, packed = false) => {
        c.open(Op.block).open(Op.loop);
        c.get(n).i32Const(width).op(Op.i32_add).get(3).op(Op.i32_gt_s).op(Op.br_if).u32(1);
        call(fnIndex, packed);
        c.get(n).i32Const(width).op(Op.i32_add).set(n);
        c.op(Op.br).u32(0);
        c.op(Op.end).op(Op.end);
      };
      stepLoop(4 * nv, microOf(rows, 'tile'), packTiles);
      if (nv > 1) stepLoop(4, microOf(rows, 'vector'));
      stepLoop(1, microOf(rows, 'scalar'));
      fn.define(locals.types, c);
    }
  }
  const inner = jam ? layout.inner.slice(0, -1) : layout.inner;

  // The entry: batch loops, then blocks of k and n around strips of rows.
  const params = bufferCount + (parallel ? 2 : 0);
  const entry = builder.declare({ params: Array.from({ length: params }, () => 'i32' as const), results: [] });
  const c = new Code();
  const locals = new Locals(params);
  const base = { a: locals.add('i32'), b: locals.add('i32'), c: locals.add('i32') };
  c.get(layout.a).i32Const(layout.aOffset * 4).op(Op.i32_add).set(base.a);
  c.get(layout.b).i32Const(layout.bOffset * 4).op(Op.i32_add).set(base.b);
  c.get(layout.c).i32Const(layout.cOffset * 4).op(Op.i32_add).set(base.c);
  const scratch = locals.add('i32');
  const scratchAddress = (c: Code, into: number) => c.op(Op.memory_size).byte(0).i32Const(16).op(Op.i32_shl).i32Const(scratchBytes).op(Op.i32_sub).set(into);
  if (packTiles || packJam || packDiag) {
    // The top scratchBytes of the memory (WasmArena.needScratch keeps them free of buffers;
    // the shift wraps to 0 for a full 4 GiB memory, and the subtraction then wraps back).
    scratchAddress(c, scratch);
  }
  const rangeStart = (index: string) => () => (index === parallel ? c.get(bufferCount) : c.i32Const(0));
  const rangeEnd = (index: string, extent: number) => () => (index === parallel ? c.get(bufferCount + 1) : c.i32Const(extent));

  /** Units of the packing's outer loop (tiles of columns, groups of four of the jammed loop, or diagonal blocks): what threads split. */
  const packUnits = packTiles ? fullCols / tileCols : packJam ? jamLoop.extent / 4 : packDiag ? layout.N / 4 : 0;
  /**
   * Copies B's tiles (from address local `b`) into the scratch (local `scratch`), in the order
   * the micro-kernels read them; `range`: locals holding the first and end unit (all of them without).
   */
  const pack = (c: Code, locals: Locals, scratch: number, b: number, range?: readonly [number, number]) => {
    const [dst, t, k, src] = [locals.add('i32'), locals.add('i32'), locals.add('i32'), locals.add('i32')];
    const unitStart = (step: number) => () => (range ? c.get(range[0]).i32Const(step).op(Op.i32_mul) : c.i32Const(0));
    const unitEnd = (step: number, all: number) => () => (range ? c.get(range[1]).i32Const(step).op(Op.i32_mul) : c.i32Const(all));
    // Where a unit's packed copy starts: units are packed one after another, each the same size.
    c.get(scratch);
    if (range) c.get(range[0]).i32Const(packedBytes / packUnits).op(Op.i32_mul).op(Op.i32_add);
    c.set(dst);
    const copy = (vectors: number, strideBytes: number) => {
      for (let v = 0; v < vectors; v++) c.get(dst).get(src).simdMem(Simd.v128_load, 2, v * strideBytes).simdMem(Simd.v128_store, 2, v * 16);
      c.get(dst).i32Const(vectors * 16).op(Op.i32_add).set(dst);
    };
    if (packDiag) {
      // Per diagonal block (jam group t = column block t), per step k: its rows 0 and 1, then
      // (2,2) (2,3) (3,3) and a lane nobody reads.
      forLoop(c, t, unitStart(4), unitEnd(4, layout.N), 4, () => {
        forLoop(c, k, () => c.i32Const(0), () => c.i32Const(layout.K), 1, () => {
          c.get(b).get(k).i32Const(bk * 4).op(Op.i32_mul).op(Op.i32_add).get(t).i32Const((jamLoop.b + 1) * 4).op(Op.i32_mul).op(Op.i32_add).set(src);
          for (let v = 0; v < 2; v++) c.get(dst).get(src).simdMem(Simd.v128_load, 2, v * jamLoop.b * 4).simdMem(Simd.v128_store, 2, v * 16);
          c.get(dst).get(src).simdMem(Simd.v128_load, 2, 2 * jamLoop.b * 4).get(src).simdMem(Simd.v128_load, 2, 3 * jamLoop.b * 4);
          shuffleLanes(c, [2, 3, 7, 7]);
          c.simdMem(Simd.v128_store, 2, 32);
          c.get(dst).i32Const(48).op(Op.i32_add).set(dst);
        });
      });
    } else if (packTiles) {
      forLoop(c, t, unitStart(tileCols), unitEnd(tileCols, fullCols), tileCols, () => {
        forLoop(c, k, () => c.i32Const(0), () => c.i32Const(layout.K), 1, () => {
          c.get(b).get(k).i32Const(bk * 4).op(Op.i32_mul).op(Op.i32_add).get(t).i32Const(2).op(Op.i32_shl).op(Op.i32_add).set(src);
          copy(nv, 16);
        });
      });
    } else {
      const g = locals.add('i32');
      forLoop(c, g, unitStart(4), unitEnd(4, jamLoop.extent), 4, () => {
        forLoop(c, t, () => c.i32Const(0), () => c.i32Const(layout.N), 4, () => {
          forLoop(c, k, () => c.i32Const(0), () => c.i32Const(layout.K), 1, () => {
            c.get(b).get(k).i32Const(bk * 4).op(Op.i32_mul).op(Op.i32_add).get(t).i32Const(2).op(Op.i32_shl).op(Op.i32_add).get(g).i32Const(jamLoop.b * 4).op(Op.i32_mul).op(Op.i32_add).set(src);
            copy(4, jamLoop.b * 4);
          });
        });
      });
    }
  };

  const core = (a: number, b: number, cc: number) => {
    if ((packTiles || packJam || packDiag) && !prepacked) pack(c, locals, scratch, b);
    const nb = locals.add('i32');
    const nEnd = locals.add('i32');
    const m = locals.add('i32');
    const rem = locals.add('i32');
    const innerIndex = inner.map(() => locals.add('i32'));
    // Inner column loops go around the rows where the block of B they span with n would not
    // stay in L1 (D=32's P is 256 KB: one column's 8 KB then serves every row), else inside
    // (a strip of A's rows serves all of them).
    const innerExtent = inner.reduce((n, l) => n * l.extent, 1);
    const innerOutside = innerExtent > 1 && Math.min(tuning.kc, layout.K) * Math.min(tuning.nc, layout.N) * innerExtent * 4 > L1_BYTES;
    for (let k0 = 0; k0 < layout.K; k0 += tuning.kc) {
      const klen = Math.min(tuning.kc, layout.K - k0);
      const first = k0 === 0 ? 1 : 0;
      forLoop(c, nb, rangeStart(layout.nIndex), rangeEnd(layout.nIndex, layout.N), tuning.nc, () => {
        // nEnd = min(nb + nc, end of n)
        c.get(nb).i32Const(tuning.nc).op(Op.i32_add);
        rangeEnd(layout.nIndex, layout.N)();
        c.get(nb).i32Const(tuning.nc).op(Op.i32_add);
        rangeEnd(layout.nIndex, layout.N)();
        c.op(Op.i32_lt_s).op(Op.select).set(nEnd);
        const call = (rows: number, bInner: () => void, cInner: () => void, groups = 1) => {
          c.get(a).get(m).i32Const(am * 4).op(Op.i32_mul).op(Op.i32_add).i32Const(k0 * ak * 4).op(Op.i32_add);
          c.get(b).get(nb).i32Const(2).op(Op.i32_shl).op(Op.i32_add).i32Const(k0 * bk * 4).op(Op.i32_add);
          bInner();
          c.get(cc).get(m).i32Const(cm * 4).op(Op.i32_mul).op(Op.i32_add).get(nb).i32Const(cn * 4).op(Op.i32_mul).op(Op.i32_add);
          cInner();
          c.get(nEnd).get(nb).op(Op.i32_sub).i32Const(klen).i32Const(first);
          if (jam) c.i32Const(groups);
          // The packed tiles of this block of columns, from step k0.
          if (packDiag) c.get(scratch); // the diagonal blocks' lines, found by the strip from j
          else c.get(scratch).get(nb).i32Const(layout.K * (jam ? 16 : 4)).op(Op.i32_mul).op(Op.i32_add).i32Const(k0 * (jam ? 64 : nv * 16)).op(Op.i32_add);
          if (jam) c.get(nb);
          c.call(strips[rows]);
        };
        /** The inner column loops around `then`, which gets their offsets into B and C. */
        const innerNest = (depth: number, bInner: () => void, cInner: () => void, then: (bInner: () => void, cInner: () => void) => void): void => {
          if (depth === inner.length) return then(bInner, cInner);
          const loop = inner[depth];
          const i = innerIndex[depth];
          forLoop(c, i, rangeStart(loop.index), rangeEnd(loop.index, loop.extent), 1, () =>
            innerNest(depth + 1,
              () => (bInner(), c.get(i).i32Const(loop.b * 4).op(Op.i32_mul).op(Op.i32_add)),
              () => (cInner(), c.get(i).i32Const(loop.c * 4).op(Op.i32_mul).op(Op.i32_add)),
              then));
        };
        const none = () => {};
        const strip = (rows: number, bInner: () => void, cInner: () => void, groups = 1) => {
          if (innerOutside) call(rows, bInner, cInner, groups);
          else innerNest(0, none, none, (bi, ci) => call(rows, bi, ci, groups));
        };
        const rowsLoop = (bInner: () => void, cInner: () => void) => {
          rangeStart(layout.mIndex)();
          c.set(m);
          for (const groups of jam && tuning.mcJam > 1 ? [tuning.mcJam, 1] : [1]) {
            c.open(Op.block).open(Op.loop);
            c.get(m).i32Const(mr * groups).op(Op.i32_add);
            rangeEnd(layout.mIndex, layout.M)();
            c.op(Op.i32_gt_s).op(Op.br_if).u32(1);
            strip(mr, bInner, cInner, groups);
            c.get(m).i32Const(mr * groups).op(Op.i32_add).set(m);
            c.op(Op.br).u32(0);
            c.op(Op.end).op(Op.end);
          }
          rangeEnd(layout.mIndex, layout.M)();
          c.get(m).op(Op.i32_sub).set(rem);
          for (let rows = 1; rows < mr; rows++) {
            c.get(rem).i32Const(rows).op(Op.i32_eq).open(Op.if);
            strip(rows, bInner, cInner);
            c.op(Op.end);
          }
        };
        if (innerOutside) innerNest(0, none, none, rowsLoop);
        else rowsLoop(none, none);
      });
    }
  };

  const nest = (depth: number, a: number, b: number, cc: number) => {
    if (depth === layout.batch.length) return core(a, b, cc);
    const loop = layout.batch[depth];
    const i = locals.add('i32');
    const [na, nb, nc] = [locals.add('i32'), locals.add('i32'), locals.add('i32')];
    forLoop(c, i, rangeStart(loop.index), rangeEnd(loop.index, loop.extent), 1, () => {
      c.get(a).get(i).i32Const(loop.a * 4).op(Op.i32_mul).op(Op.i32_add).set(na);
      c.get(b).get(i).i32Const(loop.b * 4).op(Op.i32_mul).op(Op.i32_add).set(nb);
      c.get(cc).get(i).i32Const(loop.c * 4).op(Op.i32_mul).op(Op.i32_add).set(nc);
      nest(depth + 1, na, nb, nc);
    });
  };
  nest(0, base.a, base.b, base.c);
  entry.define(locals.types, c);
  let packing: GemmPacking | null = null;
  if (prepacked) {
    // The packing alone, a module of its own for the caller to run once before the chunks,
    // split over threads in its turn: kernel(buffers..., first unit, end unit), as any split
    // kernel. Packed by the main thread alone, a 512 matmul's 1 MB B took 0.16-0.2 ms per call
    // while the other thread waited: 4-5% of the call on two threads.
    const packBuilder = new ModuleBuilder({ module: 'env', name: 'memory', shared: options.sharedMemory ?? false });
    const packKernel = packBuilder.declare({ params: Array.from({ length: bufferCount + 2 }, () => 'i32' as const), results: [] }, 'kernel');
    const pc = new Code();
    const pl = new Locals(bufferCount + 2);
    const [b, s] = [pl.add('i32'), pl.add('i32')];
    pc.get(layout.b).i32Const(layout.bOffset * 4).op(Op.i32_add).set(b);
    scratchAddress(pc, s);
    pack(pc, pl, s, b, [bufferCount, bufferCount + 1]);
    packKernel.define(pl.types, pc);
    packing = { bytes: packBuilder.encode(), units: packUnits, bytesPerUnit: packedBytes / packUnits };
  }
  // Chunks of rows in multiples of mr where threads split m: in chunks of 8, a 5-row tile
  // leaves 1-4 rows to a narrower strip in most chunks (27 of 512 rows at 512, the 1-row
  // strip at a third of the tile's rate).
  const rowGrain = !jam && parallel === layout.mIndex ? mr : 1;
  return { entry: entry.index, jammed: jam, mirrored, diagonalPacked: packDiag, fusedMultiplyAdds, scratchBytes, rowGrain, packing };
}

/**
 * micro(a, b, c, klen, first): `rows` x `vectors` f32x4 accumulators (from zero where
 * `first`, else C's partial sums), klen steps of k, stored into C.
 */
function vectorMicro(rows: number, vectors: number, am: number, ak: number, bk: number, cm: number, cn: number, fma: boolean, unroll: number): { code: Code; locals: ValType[] } {
  const c = new Code();
  const locals = new Locals(5);
  const [A, B, C, KLEN, FIRST] = [0, 1, 2, 3, 4];
  const acc: number[][] = [];
  for (let r = 0; r < rows; r++) acc.push(Array.from({ length: vectors }, () => locals.add('v128')));
  const bv = Array.from({ length: vectors }, () => locals.add('v128'));
  const s = locals.add('v128');
  const cOffset = (r: number, lane: number) => (r * cm + lane * cn) * 4;
  // Start: zeros, or the partial sums of the previous block of k.
  c.get(FIRST).open(Op.if);
  for (let r = 0; r < rows; r++) for (let j = 0; j < vectors; j++) c.simd(Simd.v128_const).bytes(new Uint8Array(16)).set(acc[r][j]);
  c.op(Op.else);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < vectors; j++) {
      if (cn === 1) {
        c.get(C).simdMem(Simd.v128_load, 2, cOffset(r, 4 * j)).set(acc[r][j]);
      } else {
        c.simd(Simd.v128_const).bytes(new Uint8Array(16));
        for (let l = 0; l < 4; l++) c.get(C).mem(Op.f32_load, 2, cOffset(r, 4 * j + l)).simd(Simd.f32x4_replace_lane).byte(l);
        c.set(acc[r][j]);
      }
    }
  }
  c.op(Op.end);
  const step = (u: number) => {
    for (let j = 0; j < vectors; j++) c.get(B).simdMem(Simd.v128_load, 2, 16 * j + u * bk * 4).set(bv[j]);
    for (let r = 0; r < rows; r++) {
      c.get(A).simdMem(Simd.v128_load32_splat, 2, r * am * 4 + u * ak * 4).set(s);
      for (let j = 0; j < vectors; j++) {
        if (fma) c.get(s).get(bv[j]).get(acc[r][j]).simd(Simd.f32x4_relaxed_madd).set(acc[r][j]);
        else c.get(acc[r][j]).get(s).get(bv[j]).simd(Simd.f32x4_mul).simd(Simd.f32x4_add).set(acc[r][j]);
      }
    }
  };
  kLoops(c, KLEN, A, B, ak, bk, unroll, step);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < vectors; j++) {
      if (cn === 1) c.get(C).get(acc[r][j]).simdMem(Simd.v128_store, 2, cOffset(r, 4 * j));
      else for (let l = 0; l < 4; l++) c.get(C).get(acc[r][j]).simd(Simd.f32x4_extract_lane).byte(l).mem(Op.f32_store, 2, cOffset(r, 4 * j + l));
    }
  }
  return { code: c, locals: locals.types };
}

/**
 * The reduction loop of a micro-kernel: `unroll` steps per iteration (their offsets in the
 * memargs), then single steps for the rest. Unrolled, `klen` counts down; not unrolled, it
 * becomes the end of the pointer that moves (B's, else A's) and the loop runs until that
 * pointer reaches it: one integer op less per step, of the ~35 a 5x2 step issues (V8 keeps
 * the pointers' increments, a zero-extension per pointer and its loop stack check).
 */
function kLoops(c: Code, klen: number, a: number, b: number, ak: number, bk: number, unroll: number, step: (u: number) => void): void {
  if (unroll === 1 && (ak > 0 || bk > 0)) {
    const [p, stride] = bk > 0 ? [b, bk] : [a, ak];
    c.get(p).get(klen).i32Const(stride * 4).op(Op.i32_mul).op(Op.i32_add).set(klen);
    c.open(Op.block).open(Op.loop);
    c.get(p).get(klen).op(I32_GE_U).op(Op.br_if).u32(1);
    step(0);
    c.get(a).i32Const(ak * 4).op(Op.i32_add).set(a);
    c.get(b).i32Const(bk * 4).op(Op.i32_add).set(b);
    c.op(Op.br).u32(0);
    c.op(Op.end).op(Op.end);
    return;
  }
  for (const per of unroll > 1 ? [unroll, 1] : [1]) {
    c.open(Op.block).open(Op.loop);
    c.get(klen).i32Const(per).op(Op.i32_lt_s).op(Op.br_if).u32(1);
    for (let u = 0; u < per; u++) step(u);
    c.get(a).i32Const(per * ak * 4).op(Op.i32_add).set(a);
    c.get(b).i32Const(per * bk * 4).op(Op.i32_add).set(b);
    c.get(klen).i32Const(per).op(Op.i32_sub).set(klen);
    c.op(Op.br).u32(0);
    c.op(Op.end).op(Op.end);
  }
}

/** micro(a, b, c, klen, first) for one column: `rows` float32 accumulators. */
function scalarMicro(rows: number, am: number, ak: number, bk: number, cm: number, unroll: number): { code: Code; locals: ValType[] } {
  const c = new Code();
  const locals = new Locals(5);
  const [A, B, C, KLEN, FIRST] = [0, 1, 2, 3, 4];
  const acc = Array.from({ length: rows }, () => locals.add('f32'));
  const bs = locals.add('f32');
  c.get(FIRST).open(Op.if);
  for (let r = 0; r < rows; r++) c.f32Const(0).set(acc[r]);
  c.op(Op.else);
  for (let r = 0; r < rows; r++) c.get(C).mem(Op.f32_load, 2, r * cm * 4).set(acc[r]);
  c.op(Op.end);
  kLoops(c, KLEN, A, B, ak, bk, unroll, (u) => {
    c.get(B).mem(Op.f32_load, 2, u * bk * 4).set(bs);
    for (let r = 0; r < rows; r++) c.get(acc[r]).get(A).mem(Op.f32_load, 2, r * am * 4 + u * ak * 4).get(bs).op(Op.f32_mul).op(Op.f32_add).set(acc[r]);
  });
  for (let r = 0; r < rows; r++) c.get(C).get(acc[r]).mem(Op.f32_store, 2, r * cm * 4);
  return { code: c, locals: locals.types };
}

/** An index as constant + sum of coef x loop index (null where it is not affine in loop indices). */
interface Linear {
  readonly constant: number;
  readonly terms: ReadonlyMap<string, number>;
}

type Loop = Extract<Stmt, { kind: 'loop' }>;

/** A contraction kernel the GEMM takes, and what remains of the kernel after it (its epilogue). */
export interface ContractionMatch {
  readonly layout: GemmLayout;
  /**
   * The kernel with its reduction replaced by a load of the GEMM's result from the output
   * (the fused elementwise ops, compiled by the loop compiler over the same loops); null
   * where the kernel stores the sum itself.
   */
  readonly epilogue: KernelIR | null;
}

/** Ops whose result jumps, so their operands must carry the reference's exact bits (compile.ts). */
function isDiscontinuous(op: string, dtype: string): boolean {
  return ['lt', 'eq', 'floor', 'ceil', 'round', 'sign'].includes(op) || (op === 'cast' && (dtype === 'int32' || dtype === 'bool'));
}

/**
 * Recognizes a contraction in a kernel's IR: output loops nested one in another (lets
 * between them), the innermost holding one float32 sum over one loop of k whose summand is
 * the float32 product of two float32 input loads, affine in the loop indices; the sum's
 * rounding then elementwise lets (the epilogue) and one store into a float32 output. Of the
 * output loops, exactly one (m) indexes only A and one (n) only B; the rest are batch loops.
 * B must be contiguous along n, or A along m (then the roles swap and C is stored strided).
 * The sum must not reach a comparison or rounding (those need the reference's bits, which
 * float32 partial sums do not promise). Anything else: null (the loop compiler takes it).
 */
export function matchContraction(ir: KernelIR): ContractionMatch | null {
  if (ir.kind !== 'map') return null;
  const linear = new Map<string, Linear>();
  const values = new Map<string, Value>();
  const loopExtent = new Map<string, number>();
  const linearOf = (o: Operand): Linear | null => (typeof o === 'string' ? linear.get(o) ?? null : { constant: o.literal, terms: new Map() });
  const defineAll = (list: readonly Stmt[]): void => {
    for (const st of list) {
      if (st.kind === 'loop') {
        loopExtent.set(st.index, st.extent);
        linear.set(st.index, { constant: 0, terms: new Map([[st.index, 1]]) });
        defineAll(st.body);
      } else if (st.kind === 'let') {
        values.set(st.name, st.value);
        if (st.value.kind === 'affine') {
          const base = linearOf(st.value.base);
          if (!base) continue;
          let constant = base.constant;
          const terms = new Map(base.terms);
          let ok = true;
          for (const t of st.value.terms) {
            const l = linearOf(t.value);
            if (!l) {
              ok = false;
              break;
            }
            constant += l.constant * t.coef;
            for (const [k, v] of l.terms) terms.set(k, (terms.get(k) ?? 0) + v * t.coef);
          }
          if (ok) linear.set(st.name, { constant, terms });
        }
      }
    }
  };
  defineAll(ir.body);

  // The chain of output loops.
  const outputLoops: Loop[] = [];
  let list = ir.body;
  for (;;) {
    const loops = list.filter((st): st is Loop => st.kind === 'loop');
    if (loops.length !== 1 || list.some((st) => st.kind !== 'loop' && st.kind !== 'let')) break;
    outputLoops.push(loops[0]);
    list = loops[0].body;
  }
  if (outputLoops.length < 2) return null;
  // `list` is the innermost output loop's body: lets, the accumulator, the k loop, lets, the store.
  const accumulators = list.filter((st) => st.kind === 'accumulator');
  const kLoops = list.filter((st): st is Loop => st.kind === 'loop');
  const stores = list.filter((st) => st.kind === 'store');
  if (accumulators.length !== 1 || kLoops.length !== 1 || stores.length !== 1 || list.some((st) => st.kind === 'accumulate' || st.kind === 'scatterAdd')) return null;
  const acc = accumulators[0];
  const kLoop = kLoops[0];
  const store = stores[0];
  if (acc.kind !== 'accumulator' || acc.op !== 'sum' || store.kind !== 'store') return null;
  const inK = kLoop.body;
  const accumulates = inK.filter((st) => st.kind === 'accumulate');
  if (accumulates.length !== 1 || inK.some((st) => st.kind !== 'let' && st.kind !== 'accumulate')) return null;
  const accumulate = accumulates[0];
  if (accumulate.kind !== 'accumulate' || accumulate.name !== acc.name || accumulate.op !== 'sum' || accumulate.wrapsInt32 || typeof accumulate.value !== 'string') return null;
  // summand = convert.float32(mul.float32(load A, load B))
  const rounded = values.get(accumulate.value);
  const productName = rounded?.kind === 'convert' && rounded.dtype === 'float32' && typeof rounded.arg === 'string' ? rounded.arg : accumulate.value;
  const product = values.get(productName);
  if (product?.kind !== 'prim' || product.op !== 'mul' || product.dtype !== 'float32' || product.args.length !== 2) return null;
  const loads = product.args.map((o) => (typeof o === 'string' ? values.get(o) : undefined));
  const inKNames = new Set(inK.flatMap((st) => (st.kind === 'let' ? [st.name] : [])));
  for (const st of inK) {
    if (st.kind !== 'let') continue;
    const v = st.value;
    const expected = v.kind === 'affine' || st.name === productName || st.name === accumulate.value || product.args.includes(st.name);
    if (!expected) return null;
  }
  if (!product.args.every((o) => typeof o === 'string' && inKNames.has(o))) return null;
  const [la, lb] = loads;
  if (la?.kind !== 'load' || lb?.kind !== 'load') return null;
  for (const l of [la, lb]) if (ir.buffers[l.buffer].role !== 'input' || ir.buffers[l.buffer].dtype !== 'float32') return null;
  const cSpec = ir.buffers[store.buffer];
  if (cSpec.role !== 'output' || cSpec.dtype !== 'float32') return null;
  // No load reads an output (the epilogue pass reads the GEMM's result from it).
  const readsOutput = (l: readonly Stmt[]): boolean => l.some((st) => (st.kind === 'loop' ? readsOutput(st.body) : st.kind === 'let' && st.value.kind === 'load' && ir.buffers[st.value.buffer].role === 'output'));
  if (readsOutput(ir.body)) return null;

  // The sum must not feed a discontinuous op (compile.ts's roundedAtOnce).
  const definitions = new Map<string, Operand[]>();
  const pending: string[] = [];
  const visit = (l: readonly Stmt[]): void => {
    for (const st of l) {
      if (st.kind === 'loop') visit(st.body);
      else if (st.kind === 'let') {
        definitions.set(st.name, operandsOf(st.value));
        if (st.value.kind === 'prim' && isDiscontinuous(st.value.op, st.value.dtype)) st.value.args.forEach((o) => typeof o === 'string' && pending.push(o));
      } else if (st.kind === 'accumulate') definitions.set(st.name, [...(definitions.get(st.name) ?? []), st.value]);
    }
  };
  visit(ir.body);
  const exact = new Set<string>();
  while (pending.length) {
    const name = pending.pop()!;
    if (exact.has(name)) continue;
    exact.add(name);
    for (const o of definitions.get(name) ?? []) if (typeof o === 'string') pending.push(o);
  }
  if (exact.has(acc.name)) return null;

  // A product's factors come in either order (hash-consing orders a commutative op's operands
  // by which node was made first, so a second trace of the same function may swap them):
  // the loads are tried as (A, B), then as (B, A).
  type Load = Extract<Value, { kind: 'load' }>;
  const layoutOf = (la: Load, lb: Load): GemmLayout | null => {
    const ia = linearOf(la.index);
    const ib = linearOf(lb.index);
    const ic = linearOf(store.index);
    if (!ia || !ib || !ic) return null;
    const names = new Set([...outputLoops.map((l) => l.index), kLoop.index]);
    for (const l of [ia, ib, ic]) for (const [k, v] of l.terms) if (!names.has(k) || v < 0) return null;
    if (ic.terms.has(kLoop.index) || ia.constant < 0 || ib.constant < 0 || ic.constant < 0) return null;
    const coef = (l: Linear, index: string) => l.terms.get(index) ?? 0;
    const mLoops = outputLoops.filter((l) => coef(ia, l.index) !== 0 && coef(ib, l.index) === 0);
    const nLoops = outputLoops.filter((l) => coef(ib, l.index) !== 0 && coef(ia, l.index) === 0);
    if (mLoops.length !== 1 || nLoops.length < 1) return null;
    let m = mLoops[0];
    let n = nLoops.find((l) => coef(ib, l.index) === 1);
    let inner = nLoops.filter((l) => l !== n);
    let [A, B, linA, linB] = [la, lb, ia, ib];
    if (!n) {
      if (coef(ia, m.index) !== 1 || nLoops.length !== 1) return null;
      [m, n, inner, A, B, linA, linB] = [nLoops[0], m, [], lb, la, ib, ia];
    }
    const k = kLoop.index;
    // Every output element is written once: C's strides must separate the output loops.
    const outputs = outputLoops.map((l) => ({ extent: l.extent, stride: coef(ic, l.index) })).sort((x, y) => x.stride - y.stride);
    let span = 1;
    for (const o of outputs) {
      if (o.stride < span && o.extent > 1) return null;
      span = o.stride * (o.extent - 1) + span;
    }
    const layout: GemmLayout = {
      a: A.buffer, b: B.buffer, c: store.buffer,
      aOffset: linA.constant, bOffset: linB.constant, cOffset: ic.constant,
      M: m.extent, N: n.extent, K: kLoop.extent,
      am: coef(linA, m.index), ak: coef(linA, k), bk: coef(linB, k), cm: coef(ic, m.index), cn: coef(ic, n.index),
      batch: outputLoops.filter((l) => l !== m && l !== n && !inner.includes(l)).map((l) => ({ index: l.index, extent: l.extent, a: coef(linA, l.index), b: coef(linB, l.index), c: coef(ic, l.index) })),
      inner: inner.map((l) => ({ index: l.index, extent: l.extent, a: 0, b: coef(linB, l.index), c: coef(ic, l.index) })),
      mIndex: m.index, nIndex: n.index,
      ...(cSpec.symmetric ? { symmetric: cSpec.symmetric } : {}),
    };
    if (layout.cm <= 0 || layout.cn <= 0 || layout.K < 1) return null;
    return layout;
  };
  const layout = layoutOf(la, lb) ?? layoutOf(lb, la);
  if (!layout) return null;

  // The epilogue: the reduction replaced by a load of its result from C.
  const resultAt = list.findIndex((st) => st.kind === 'let' && st.value.kind === 'convert' && st.value.arg === acc.name);
  if (resultAt < 0) return null;
  const result = list[resultAt] as Extract<Stmt, { kind: 'let' }>;
  if (result.value.kind !== 'convert' || result.value.dtype !== 'float32') return null;
  const usesAcc = (l: readonly Stmt[]): number => l.reduce((n, st) => n + (st.kind === 'loop' ? usesAcc(st.body) : st.kind === 'let' ? operandsOf(st.value).filter((o) => o === acc.name).length : 0), 0);
  if (usesAcc(list) !== 1) return null;
  if (store.value === result.name) return { layout, epilogue: null };
  // The store's index must be known where the result is loaded.
  if (typeof store.index === 'string') {
    const indexAt = list.findIndex((st) => st.kind === 'let' && st.name === store.index);
    if (indexAt > resultAt) return null;
  }
  const innermost = list.flatMap((st, i): Stmt[] => {
    if (st === acc || st === kLoop) return [];
    if (i === resultAt) return [{ kind: 'let', name: result.name, value: { kind: 'load', buffer: store.buffer, index: store.index } }];
    return [st];
  });
  const rebuild = (depth: number, l: readonly Stmt[]): Stmt[] =>
    depth === outputLoops.length ? innermost : l.map((st) => (st === outputLoops[depth] ? { ...st, body: rebuild(depth + 1, outputLoops[depth].body) } : st));
  const body = rebuild(0, ir.body);
  return { layout, epilogue: { ...ir, body, text: `${ir.text}\n// epilogue after the GEMM` } };
}

/** Lane indices (0-3 of the first vector, 4-7 of the second) as an i8x16.shuffle's 16 bytes. */
function shuffleLanes(c: Code, lanes: readonly number[]): void {
  c.simd(Simd.i8x16_shuffle);
  for (const l of lanes) for (let b = 0; b < 4; b++) c.byte(4 * l + b);
}

/** Transposes four f32x4 locals in place (8 shuffles), through four temporaries. */
function transpose4(c: Code, v: readonly number[], t: readonly number[]): void {
  c.get(v[0]).get(v[1]);
  shuffleLanes(c, [0, 4, 1, 5]);
  c.set(t[0]);
  c.get(v[0]).get(v[1]);
  shuffleLanes(c, [2, 6, 3, 7]);
  c.set(t[1]);
  c.get(v[2]).get(v[3]);
  shuffleLanes(c, [0, 4, 1, 5]);
  c.set(t[2]);
  c.get(v[2]).get(v[3]);
  shuffleLanes(c, [2, 6, 3, 7]);
  c.set(t[3]);
  c.get(t[0]).get(t[2]);
  shuffleLanes(c, [0, 1, 4, 5]);
  c.set(v[0]);
  c.get(t[0]).get(t[2]);
  shuffleLanes(c, [2, 3, 6, 7]);
  c.set(v[1]);
  c.get(t[1]).get(t[3]);
  shuffleLanes(c, [0, 1, 4, 5]);
  c.set(v[2]);
  c.get(t[1]).get(t[3]);
  shuffleLanes(c, [2, 3, 6, 7]);
  c.set(v[3]);
}

/**
 * micro(a, b, c, klen, first) of a diagonal block of a mirrored C (first is always 1: one
 * block of k): `rows` rows x three vectors against B's packed lines (rows 0 and 1 of the
 * block, then (2,2) (2,3) (3,3)); the block equals its transpose, so rows are stored as they
 * are, rows 2 and 3 rebuilt from lanes 2-3 of rows 0-1 and the upper triangle.
 */
function diagonalMicro(rows: number, am: number, ak: number, cm: number, cn: number, fma: boolean): { code: Code; locals: ValType[] } {
  const c = new Code();
  const locals = new Locals(5);
  const [A, B, C, KLEN] = [0, 1, 2, 3];
  const acc: number[][] = [];
  for (let r = 0; r < rows; r++) acc.push(Array.from({ length: 3 }, () => locals.add('v128')));
  const splats = Array.from({ length: rows }, () => locals.add('v128'));
  const bv = locals.add('v128');
  const t = locals.add('v128');
  for (let r = 0; r < rows; r++) for (let j = 0; j < 3; j++) c.simd(Simd.v128_const).bytes(new Uint8Array(16)).set(acc[r][j]);
  kLoops(c, KLEN, A, B, ak, 12, 1, () => {
    for (let r = 0; r < rows; r++) c.get(A).simdMem(Simd.v128_load32_splat, 2, r * am * 4).set(splats[r]);
    for (let j = 0; j < 3; j++) {
      c.get(B).simdMem(Simd.v128_load, 2, j * 16).set(bv);
      for (let r = 0; r < rows; r++) {
        if (fma) c.get(splats[r]).get(bv).get(acc[r][j]).simd(Simd.f32x4_relaxed_madd).set(acc[r][j]);
        else c.get(acc[r][j]).get(splats[r]).get(bv).simd(Simd.f32x4_mul).simd(Simd.f32x4_add).set(acc[r][j]);
      }
    }
  });
  for (let r = 0; r < rows; r++) {
    const [r0, r1, upper] = acc[r];
    const at = (l: number) => (r * cm + l * cn) * 4;
    c.get(C).get(r0).simdMem(Simd.v128_store, 2, at(0));
    c.get(C).get(r1).simdMem(Simd.v128_store, 2, at(1));
    // t = (r0[2], r1[2], r0[3], r1[3]); row 2 = (t0, t1, u0, u1), row 3 = (t2, t3, u1, u2).
    c.get(r0).get(r1);
    shuffleLanes(c, [2, 6, 3, 7]);
    c.set(t);
    c.get(C).get(t).get(upper);
    shuffleLanes(c, [0, 1, 4, 5]);
    c.simdMem(Simd.v128_store, 2, at(2));
    c.get(C).get(t).get(upper);
    shuffleLanes(c, [2, 3, 5, 6]);
    c.simdMem(Simd.v128_store, 2, at(3));
  }
  return { code: c, locals: locals.types };
}

/**
 * micro(a, b, c, klen, first) of a jammed tile: `rows` rows x four vectors, vector j being
 * iteration j of the jammed loop (B at j x jb) with four columns n in its lanes; each row's
 * four accumulators are transposed so that C gets four contiguous floats per column n.
 * `mirror`: micro(a, b, c, klen, first, mirror), which also stores the untransposed
 * accumulators at `mirror` (the tile's mirror block in a symmetric C).
 */
function jammedMicro(rows: number, am: number, ak: number, bk: number, cm: number, cn: number, jb: number, fma: boolean, mirror = false): { code: Code; locals: ValType[] } {
  const c = new Code();
  const locals = new Locals(mirror ? 6 : 5);
  const [A, B, C, KLEN, FIRST, MIRROR] = [0, 1, 2, 3, 4, 5];
  const acc: number[][] = [];
  for (let r = 0; r < rows; r++) acc.push(Array.from({ length: 4 }, () => locals.add('v128')));
  const splats = Array.from({ length: rows }, () => locals.add('v128'));
  const bv = locals.add('v128');
  const t = Array.from({ length: 4 }, () => locals.add('v128'));
  c.get(FIRST).open(Op.if);
  for (let r = 0; r < rows; r++) for (let j = 0; j < 4; j++) c.simd(Simd.v128_const).bytes(new Uint8Array(16)).set(acc[r][j]);
  c.op(Op.else);
  for (let r = 0; r < rows; r++) {
    for (let l = 0; l < 4; l++) c.get(C).simdMem(Simd.v128_load, 2, (r * cm + l * cn) * 4).set(acc[r][l]);
    transpose4(c, acc[r], t);
  }
  c.op(Op.end);
  kLoops(c, KLEN, A, B, ak, bk, 1, () => {
    for (let r = 0; r < rows; r++) c.get(A).simdMem(Simd.v128_load32_splat, 2, r * am * 4).set(splats[r]);
    for (let j = 0; j < 4; j++) {
      c.get(B).simdMem(Simd.v128_load, 2, j * jb * 4).set(bv);
      for (let r = 0; r < rows; r++) {
        if (fma) c.get(splats[r]).get(bv).get(acc[r][j]).simd(Simd.f32x4_relaxed_madd).set(acc[r][j]);
        else c.get(acc[r][j]).get(splats[r]).get(bv).simd(Simd.f32x4_mul).simd(Simd.f32x4_add).set(acc[r][j]);
      }
    }
  });
  for (let r = 0; r < rows; r++) {
    // The mirror block (J, I) takes the accumulators as they are: vector l, iteration l of
    // the jammed loop, is row l of it, its lanes the four columns n.
    if (mirror) for (let l = 0; l < 4; l++) c.get(MIRROR).get(acc[r][l]).simdMem(Simd.v128_store, 2, (r * cm + l * cn) * 4);
    transpose4(c, acc[r], t);
    for (let l = 0; l < 4; l++) c.get(C).get(acc[r][l]).simdMem(Simd.v128_store, 2, (r * cm + l * cn) * 4);
  }
  return { code: c, locals: locals.types };
}
